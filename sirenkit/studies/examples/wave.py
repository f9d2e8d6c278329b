"""The 2D wave equation `∂²u/∂t² = c² (∂²u/∂x² + ∂²u/∂y²)` from an initial condition: a
time-dependent problem with a second time derivative.

Coordinates are `(t, x, y)`, `t` in [0, T], `(x, y)` in [-1, 1]². Four constraints: the
equation on random points of the space-time box (the Hessian's diagonal gives both sides), the
initial displacement (a Gaussian bump) and zero initial velocity on the plane `t = 0` (one
domain, one evaluation), and `u = 0` on the walls `|x| = 1`, `|y| = 1`. The reference is a
classical solver: second-order finite differences (leapfrog in time, five-point Laplacian) on a
fine grid, compared at several instants as a relative L2 error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from sirenkit.engine.config import TrainConfig
from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.evaluate import evaluate_points
from sirenkit.problems.constraints import Constraint, Problem
from sirenkit.problems.domains import Box, BoxBoundary, Sampler
from sirenkit.studies.examples.common import write_results
from sirenkit.studies.solve import solve

SUMMARY = "a Gaussian bump spreading as a ring under the 2D wave equation, against a finite-difference solver"
STEPS = 3000
RUNTIME = "about 11 min on a 2-core CPU"
"""The default steps, and how long they took (a 2-core Intel Xeon; the tiny run takes seconds)."""

SPEED, DURATION, WIDTH = 1.0, 0.8, 0.12
"""Wave speed `c`, time span `T` and the bump's standard deviation."""


def bump(xy: torch.Tensor | np.ndarray):
    """Initial displacement at `(..., 2)` positions."""
    squared = (xy**2).sum(-1)
    return (torch.exp if isinstance(xy, torch.Tensor) else np.exp)(-squared / (2 * WIDTH**2))


def finite_differences(times: list[float], cells: int = 320) -> tuple[np.ndarray, list[np.ndarray]]:
    """The classical reference: `(axis (n,), [u at each time (n, n)])` on a `(cells+1)²` grid,
    leapfrog with a time step of half the stability limit, `u = 0` on the walls."""
    axis = np.linspace(-1, 1, cells + 1)
    spacing = axis[1] - axis[0]
    dt = 0.5 * spacing / (SPEED * np.sqrt(2))
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    current = bump(np.stack([xs, ys], -1))
    current[[0, -1], :] = current[:, [0, -1]] = 0

    def laplacian(u):
        out = np.zeros_like(u)
        out[1:-1, 1:-1] = (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1]) / spacing**2
        return out

    previous = current - 0.5 * (SPEED * dt) ** 2 * laplacian(current)  # zero initial velocity
    time, snapshots = 0.0, []
    for target in sorted(times):
        while time + dt <= target + 1e-12:
            previous, current = current, 2 * current - previous + (SPEED * dt) ** 2 * laplacian(current)
            time += dt
        # the last partial step, by linear interpolation between two leapfrog states
        following = 2 * current - previous + (SPEED * dt) ** 2 * laplacian(current)
        fraction = (target - time) / dt
        snapshots.append((1 - fraction) * current + fraction * following)
    return axis, snapshots


def wave_problem(*, interior: int, initial: int, walls: int) -> Problem:
    def equation(f):
        return f.second_derivative(0) - SPEED**2 * (f.second_derivative(1) + f.second_derivative(2))

    def on_start_plane(generator: torch.Generator, count: int) -> torch.Tensor:
        xy = torch.rand(count, 2, generator=generator) * 2 - 1
        return torch.cat([torch.zeros(count, 1), xy], dim=1)

    start = Sampler(on_start_plane, initial)
    return Problem([
        Constraint("wave equation", equation, Box([0, -1, -1], [DURATION, 1, 1], interior), needs=("hessian",)),
        Constraint("initial displacement", lambda f: f.value[:, 0] - bump(f.points[:, 1:]), start, weight=100.0),
        Constraint("initial velocity", lambda f: f.derivative(0), start, needs=("jacobian",), weight=10.0),
        Constraint("walls", lambda f: f.value, BoxBoundary([0, -1, -1], [DURATION, 1, 1], walls, axes=(1, 2)),
                   weight=10.0),
    ])


def run(out: str | Path | None = None, *, tiny: bool = False, steps: int | None = None, device: str = "auto",
        progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    problem = wave_problem(interior=256 if tiny else 8192, initial=128 if tiny else 2048, walls=64 if tiny else 1024)
    network = NetworkConfig(in_features=3, out_features=1, hidden_features=32 if tiny else 128,
                            hidden_layers=2 if tiny else 3, first_omega=10.0)
    train = TrainConfig(steps=steps or (20 if tiny else STEPS), learning_rate=1e-3, device=device, precision="float32",
                        log_every=10 if tiny else 100)
    solution = solve(problem, network, train, name="wave", out=out, overwrite=overwrite, progress=progress,
                     settings={"speed": SPEED, "duration": DURATION, "bump_width": WIDTH})
    times = [0.0, DURATION / 3, 2 * DURATION / 3, DURATION]
    axis, reference = finite_differences(times, cells=64 if tiny else 320)
    fitted = []
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    for moment in times:
        coords = torch.from_numpy(np.stack([np.full(xs.size, moment), xs.ravel(), ys.ravel()], 1)).float()
        fitted.append(evaluate_points(solution.model, coords).float().numpy().reshape(xs.shape))
    errors = [float(np.linalg.norm(f - r) / np.linalg.norm(r)) for f, r in zip(fitted, reference)]
    metrics = {"times": times, "relative_l2_error": errors,
               "error_convention": "‖u_SIREN − u_FD‖₂ / ‖u_FD‖₂ on the finite-difference grid at each time",
               **solution.metrics}
    return write_results(out, metrics, lambda path: figure(path, times, reference, fitted, errors))


def figure(path: Path, times, reference, fitted, errors) -> None:
    from sirenkit.figures import new_figure, save_figure

    fig, axes = new_figure(3, len(times), figsize=(3.2 * len(times), 9.4), squeeze=False)
    for column, moment in enumerate(times):
        limit = float(np.abs(reference[column]).max()) or 1.0
        for row, (label, values) in enumerate((("finite differences", reference[column]), ("SIREN", fitted[column]),
                                               ("SIREN − FD", fitted[column] - reference[column]))):
            axes[row, column].imshow(values.T, origin="lower", extent=(-1, 1, -1, 1), cmap="RdBu_r",
                                     vmin=-limit, vmax=limit)
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
            if column == 0:
                axes[row, column].set_ylabel(label)
        axes[0, column].set_title(f"t = {moment:.2f}")
        axes[2, column].set_title(f"relative L2 error {errors[column]:.3f}", fontsize=9)
    fig.suptitle("2D wave equation, c = 1, from a Gaussian bump at rest "
                 "(each column's colours: ± the reference's largest |u|)")
    fig.tight_layout()
    save_figure(fig, path)
