"""The Helmholtz equation with a point source, as in the paper's supplement: a complex field as
two outputs (real, imaginary), on [-1, 1]²:

```text
Δu + k² u = −f,   f a narrow Gaussian of unit mass at the origin (a point source)
```

The paper surrounds the domain with a perfectly matched layer; sirenkit's example uses the simpler
first-order absorbing (Sommerfeld) condition on the box's walls, `∂u/∂n − i k u = 0`, exact for
waves leaving along the normal and partly reflecting oblique ones. Constraints: the equation on
random points of the box plus a second set drawn near the source (so that it is resolved; both
share the residual), and the condition on the walls (its real and imaginary parts).

Two references: a classical solver of the same problem (second-order finite differences with the
same boundary condition, a sparse direct solve, SciPy), and the free-space solution the
condition approximates, `u = e^{−k²s²/2} (i/4) H₀⁽¹⁾(k r)` (the Gaussian's far field).
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

SUMMARY = "a point source radiating into an open box (complex field, absorbing walls), against a sparse FD solve"
STEPS = 3000
RUNTIME = "about 20 min on a 2-core CPU"
"""The default steps, and how long they took (a 2-core Intel Xeon; an H200 took 39 s for 300 steps,
finite-difference reference included; the tiny run takes seconds)."""

WAVENUMBER, SOURCE_WIDTH = 10.0, 0.04


def source(points: torch.Tensor | np.ndarray):
    """`f` at `(..., 2)` positions: a unit-mass Gaussian of standard deviation `SOURCE_WIDTH`."""
    squared = (points**2).sum(-1)
    exp = torch.exp if isinstance(points, torch.Tensor) else np.exp
    return exp(-squared / (2 * SOURCE_WIDTH**2)) / (2 * np.pi * SOURCE_WIDTH**2)


def helmholtz_problem(*, interior: int, near: int, walls: int) -> Problem:
    k = WAVENUMBER

    def equation(f):  # (Δu + k² u + f) / k², real and imaginary parts
        laplacian, value = f.laplacian, f.value
        real = laplacian[:, 0] + k**2 * value[:, 0] + source(f.points)
        imaginary = laplacian[:, 1] + k**2 * value[:, 1]
        return torch.stack([real, imaginary], dim=1) / k**2

    def absorbing(f):  # ∂u/∂n − i k u = 0
        normal_derivative = (f.jacobian * f.data["normal"][:, None, :]).sum(-1)  # (N, 2)
        return torch.stack([normal_derivative[:, 0] + k * f.value[:, 1],
                            normal_derivative[:, 1] - k * f.value[:, 0]], dim=1) / k

    def near_source(generator: torch.Generator, count: int) -> torch.Tensor:
        return (torch.randn(count, 2, generator=generator) * 3 * SOURCE_WIDTH).clamp(-1, 1)

    return Problem([
        Constraint("helmholtz", equation, Box([-1, -1], [1, 1], interior), needs=("laplacian",)),
        Constraint("helmholtz near the source", equation, Sampler(near_source, near), needs=("laplacian",)),
        Constraint("absorbing walls", absorbing, BoxBoundary([-1, -1], [1, 1], walls), needs=("jacobian",),
                   weight=10.0),
    ])


def finite_differences(cells: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """The classical reference: `(axis (n,), u (n, n) complex)`, five-point Laplacian, the
    absorbing condition by a ghost node on each wall (central difference), sparse LU."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    k = WAVENUMBER
    axis = np.linspace(-1, 1, cells + 1)
    h, n = axis[1] - axis[0], cells + 1
    index = np.arange(n * n).reshape(n, n)
    rows, cols, values = [index.ravel()], [index.ravel()], [np.full(n * n, -4 / h**2 + k**2, dtype=complex)]
    for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        ni, nj = i + di, j + dj
        inside = (ni >= 0) & (ni < n) & (nj >= 0) & (nj < n)
        rows.append(index[inside])
        cols.append(index[ni[inside], nj[inside]])
        values.append(np.full(inside.sum(), 1 / h**2, dtype=complex))
        # ghost = mirror + 2 h i k u_b: the mirror gets another 1/h², the node 2ik/h
        outside = ~inside
        rows.append(index[outside])
        cols.append(index[(i - di)[outside], (j - dj)[outside]])
        values.append(np.full(outside.sum(), 1 / h**2, dtype=complex))
        rows.append(index[outside])
        cols.append(index[outside])
        values.append(np.full(outside.sum(), 2j * k / h))
    matrix = coo_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n * n, n * n))
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    rhs = -source(np.stack([xs, ys], -1)).ravel().astype(complex)
    return axis, spsolve(matrix.tocsc(), rhs).reshape(n, n)


def free_space(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """`e^{−k²s²/2} (i/4) H₀⁽¹⁾(k r)`: the Gaussian source's field far from it, in open space."""
    from scipy.special import hankel1

    r = np.hypot(xs, ys)
    with np.errstate(all="ignore"):
        field = 0.25j * hankel1(0, WAVENUMBER * r) * np.exp(-(WAVENUMBER * SOURCE_WIDTH) ** 2 / 2)
    return np.where(r > 0, field, np.nan)


def run(out: str | Path | None = None, *, tiny: bool = False, steps: int | None = None, device: str = "auto",
        progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    problem = helmholtz_problem(interior=256 if tiny else 8192, near=64 if tiny else 2048, walls=64 if tiny else 1024)
    network = NetworkConfig(in_features=2, out_features=2, hidden_features=32 if tiny else 256,
                            hidden_layers=2 if tiny else 4, first_omega=20.0)
    train = TrainConfig(steps=steps or (20 if tiny else STEPS), learning_rate=1e-3 if tiny else 5e-4, device=device,
                        precision="float32", log_every=10 if tiny else 100)
    solution = solve(problem, network, train, name="helmholtz", out=out, overwrite=overwrite, progress=progress,
                     settings={"wavenumber": WAVENUMBER, "source_width": SOURCE_WIDTH})
    axis, reference = finite_differences(cells=60 if tiny else 400)
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    coords = torch.from_numpy(np.stack([xs.ravel(), ys.ravel()], 1)).float()
    values = evaluate_points(solution.model, coords).double().numpy()
    fitted = (values[:, 0] + 1j * values[:, 1]).reshape(xs.shape)
    away = np.hypot(xs, ys) > 0.2  # outside the source's core
    open_space = free_space(xs, ys)

    def relative(a, b):
        return float(np.linalg.norm((a - b)[away]) / np.linalg.norm(b[away]))

    metrics = {
        "relative_error_vs_finite_differences": relative(fitted, reference),
        "relative_error_finite_differences_vs_free_space": relative(reference, open_space),
        "relative_error_vs_free_space": relative(fitted, open_space),
        "error_convention": "‖a − b‖₂ / ‖b‖₂ of the complex field on the grid, points with r > 0.2 only",
        **solution.metrics,
    }
    return write_results(out, metrics, lambda path: figure(path, fitted, reference, open_space, metrics))


def figure(path: Path, fitted, reference, open_space, metrics) -> None:
    from sirenkit.figures import new_figure, save_figure

    limit = float(np.nanpercentile(np.abs(reference.real), 99))
    panels = [("SIREN", fitted), ("finite differences, same walls", reference), ("free space (Hankel)", open_space),
              ("SIREN − finite differences", fitted - reference)]
    fig, axes = new_figure(2, 4, figsize=(15, 7.6))
    for column, (title, field) in enumerate(panels):
        for row, (part, values) in enumerate((("Re", field.real), ("Im", field.imag))):
            axes[row, column].imshow(values.T, origin="lower", extent=(-1, 1, -1, 1), cmap="RdBu_r",
                                     vmin=-limit, vmax=limit)
            axes[row, column].set_title(f"{part} u: {title}", fontsize=10)
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
    fig.suptitle(f"Helmholtz, k = {WAVENUMBER:g}, point source, absorbing walls; error vs FD "
                 f"{metrics['relative_error_vs_finite_differences']:.3f} (r > 0.2)")
    fig.tight_layout()
    save_figure(fig, path)
