"""Laplace's equation in a ring, from a geometry and its boundary conditions

The ring is a disk minus a smaller one (`Disk(...) - Disk(...)`), each named, so that a condition
can hold on one part of the boundary: u = 0 on the inner circle, u = 1 on the outer one, Δu = 0
between them. The exact solution is u = ln(r / r0) / ln(R / r0); the network never sees it, only the
equation and the two conditions. The figure shows the points one step draws, the network's u, its
error against the exact u, and each loss term as the fit goes.
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

INNER, OUTER = 0.25, 1.0
ring = sk.Disk([0.0, 0.0], OUTER, name="outer") - sk.Disk([0.0, 0.0], INNER, name="inner")
inside = sk.Interior(ring, 1024)
inner, outer = sk.Boundary(ring, 256, on="inner"), sk.Boundary(ring, 256, on="outer")
problem = sk.Problem([
    sk.Constraint("laplace", lambda f: f.laplacian, inside, needs=("laplacian",)),
    sk.dirichlet(inner, 0.0, name="inner circle", weight=10.0),
    sk.dirichlet(outer, 1.0, name="outer circle", weight=10.0),
])
network = sk.NetworkConfig(in_features=2, out_features=1, hidden_features=64, hidden_layers=3, first_omega=3.0)
train = sk.TrainConfig(steps=5 if args.tiny else 1500, log_every=25)
solution = sk.solve(problem, network, train)

count = 32 if args.tiny else 241
x, y = np.meshgrid(np.linspace(-1, 1, count), np.linspace(1, -1, count))
points = torch.tensor(np.stack([x, y], axis=-1).reshape(-1, 2), dtype=torch.float32)
in_ring = ring.contains(points).numpy().reshape(count, count)
fitted = np.where(in_ring, sk.evaluate_points(solution.model, points).numpy().reshape(count, count), np.nan)
truth = np.where(in_ring, np.log(np.maximum(np.hypot(x, y), INNER) / INNER) / math.log(OUTER / INNER), np.nan)
error = fitted - truth
relative = np.sqrt(np.nansum(error**2) / np.nansum(truth**2))

figure = Figure(figsize=(14, 3.6), layout="constrained")
axes = figure.subplots(1, 4)
for domain, colour in [(inside, "0.6"), (inner, "tab:blue"), (outer, "tab:red")]:
    drawn, data = domain.sample(torch.Generator().manual_seed(0))
    axes[0].scatter(drawn[:, 0], drawn[:, 1], s=2, color=colour)
    if "normal" in data:
        every = slice(None, None, 16)
        axes[0].quiver(*drawn[every].T, *data["normal"][every].T, color=colour, scale=12, width=0.005)
axes[0].set(title="one step's points, outward normals", aspect="equal")
shown = axes[1].imshow(fitted, cmap="viridis", vmin=0, vmax=1, extent=(-1, 1, -1, 1))
axes[1].set_title("the network's u")
figure.colorbar(shown, ax=axes[1], shrink=0.8)
limit = np.nanmax(np.abs(error))
shown = axes[2].imshow(error, cmap="PuOr", vmin=-limit, vmax=limit, extent=(-1, 1, -1, 1))
axes[2].set_title(f"error (largest {limit:.2g}, relative L2 {relative:.2%})")
figure.colorbar(shown, ax=axes[2], shrink=0.8)
steps = [row["step"] for row in solution.history]
for name in ["laplace", "inner circle", "outer circle"]:
    axes[3].semilogy(steps, [row[name] for row in solution.history], label=name)
axes[3].set(xlabel="step", ylabel="loss term", title="the fit")
axes[3].legend()
args.out.mkdir(parents=True, exist_ok=True)
figure.savefig(args.out / "figure.png", dpi=110)
print(f"{args.out / 'figure.png'}: relative L2 error {relative:.3%}")
