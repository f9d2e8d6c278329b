"""Poisson's equation on a square, against its exact solution

A problem of your own, stated as constraints: Δu = f inside the square [-1, 1]², u = 0 on its edges,
with f chosen so that the exact solution is u = sin(πx) sin(πy) + ½ sin(3πx) sin(2πy). The network
never sees u, only the equation and the boundary; the figure compares it with the exact solution
and shows each loss term as the fit goes.
"""

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

import sirenkit as sk

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path("runs/gallery") / Path(__file__).stem, help="output folder")
parser.add_argument("--tiny", action="store_true", help="tiny sizes and steps: a check that runs in seconds")
args = parser.parse_args()


def exact(x, y):
    return np.sin(math.pi * x) * np.sin(math.pi * y) + 0.5 * np.sin(3 * math.pi * x) * np.sin(2 * math.pi * y)


def source(x, y):  # f = Δu of the exact solution
    return (-2 * math.pi**2 * torch.sin(math.pi * x) * torch.sin(math.pi * y)
            - 6.5 * math.pi**2 * torch.sin(3 * math.pi * x) * torch.sin(2 * math.pi * y))


interior = sk.Box([-1.0, -1.0], [1.0, 1.0], batch_size=1024)  # fresh random points each step
edges = sk.BoxBoundary([-1.0, -1.0], [1.0, 1.0], batch_size=256)
problem = sk.Problem([
    sk.Constraint("equation", lambda f: f.laplacian[:, 0] - source(f.points[:, 0], f.points[:, 1]), interior,
                  needs=("laplacian",)),
    sk.Constraint("edges", lambda f: f.value[:, 0], edges, weight=100.0),
])
network = sk.NetworkConfig(in_features=2, out_features=1, hidden_features=64, hidden_layers=3, first_omega=10.0)
train = sk.TrainConfig(steps=5 if args.tiny else 4000, time_budget=None if args.tiny else 50.0, log_every=25)
solution = sk.solve(problem, network, train)

count = 32 if args.tiny else 201
x, y = np.meshgrid(np.linspace(-1, 1, count), np.linspace(1, -1, count))
points = torch.tensor(np.stack([x, y], axis=-1).reshape(-1, 2), dtype=torch.float32)
fitted = sk.evaluate_points(solution.model, points).numpy().reshape(count, count)
truth = exact(x, y)
error = fitted - truth

figure = Figure(figsize=(13, 3.6), layout="constrained")
axes = figure.subplots(1, 4)
for ax, values, title in [(axes[0], fitted, "the network's u"), (axes[1], truth, "the exact u")]:
    shown = ax.imshow(values, cmap="RdBu_r", vmin=-1.5, vmax=1.5, extent=(-1, 1, -1, 1))
    ax.set_title(title)
figure.colorbar(shown, ax=axes[1], shrink=0.8)
limit = np.abs(error).max()
shown = axes[2].imshow(error, cmap="PuOr", vmin=-limit, vmax=limit, extent=(-1, 1, -1, 1))
axes[2].set_title(f"error (largest {limit:.2g}, relative L2 {np.linalg.norm(error) / np.linalg.norm(truth):.2%})")
figure.colorbar(shown, ax=axes[2], shrink=0.8)
steps = [row["step"] for row in solution.history]
for name in ["equation", "edges"]:
    axes[3].semilogy(steps, [row[name] for row in solution.history], label=name)
axes[3].set(xlabel="step", ylabel="loss term", title="the fit")
axes[3].legend()
args.out.mkdir(parents=True, exist_ok=True)
figure.savefig(args.out / "figure.png", dpi=110)
print(f"{args.out / 'figure.png'}: relative L2 error {np.linalg.norm(error) / np.linalg.norm(truth):.3%}")
