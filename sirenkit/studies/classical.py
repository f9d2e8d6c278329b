"""Classical reference solvers for Poisson image reconstruction (Pérez et al. 2003), by the DCT.

The operator of [`sirenkit.image_laplacian`][sirenkit.image_laplacian] is the 5-point stencil with the border
pixel replicated (a homogeneous Neumann boundary), divided by `h**2`. Along an axis of `N`
pixels the DCT-II basis `cos(pi k (i + 1/2) / N)` is exactly its set of eigenvectors, with
eigenvalues `-4 sin²(pi k / 2N) / h²`; in 2-D the eigenvalues of the two axes add. So
`L u = f` is solved exactly by `u = idct(dct(f) / λ)` (`dctn`/`idctn`, `norm="ortho"`).
`λ = 0` only for `k = 0`: the solution is fixed up to a constant, and a solution exists only
when `f` sums to zero (the compatibility condition). The mean of `f` is therefore dropped
(this is the least-squares solution) and the mean of `u` is set by the caller.

Gradient fields are integrated in the least-squares sense: `min ||D u - g||²` whose normal
equations `Dᵀ D u = Dᵀ g` are again diagonal in the DCT for the two difference operators
`D` offered (see `integrate_gradient`). All functions are per channel: the DCT runs over
the two image axes only, so channels are never mixed.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from scipy.fft import dctn, idctn

GRADIENT_DIFFERENCES = ("central", "forward")
"""Difference schemes `integrate_gradient` understands."""


def _check_spacing(spacing: float) -> float:
    if isinstance(spacing, bool) or not isinstance(spacing, numbers.Real) or not np.isfinite(spacing) or spacing <= 0:
        raise ValueError(f"spacing must be a finite positive number, got {spacing!r}")
    return float(spacing)


def _check_field(array: np.ndarray, *, gradient: bool) -> np.ndarray:
    """`array` as float64 `(H, W, C)` (or `(H, W, C, 2)` if `gradient`), validated."""
    array = np.asarray(array)
    expected = "(H, W, 2) or (H, W, C, 2) gradient" if gradient else "(H, W) or (H, W, C) array"
    extra = 1 if gradient else 0
    if array.ndim not in (2 + extra, 3 + extra) or (gradient and array.shape[-1] != 2):
        raise ValueError(f"expected {expected}, got shape {array.shape}")
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"expected a real-valued {expected}, got dtype {array.dtype}")
    if array.shape[0] < 2 or array.shape[1] < 2 or 0 in array.shape:
        raise ValueError(f"expected {expected} of at least 2×2 pixels and one channel, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"expected {expected} of finite values, got NaN or infinite values")
    array = array.astype(np.float64)
    return array[:, :, None] if array.ndim == 2 + extra else array


def _channel_means(mean: float | Sequence[float] | None, channels: int) -> np.ndarray:
    values = np.zeros(channels) if mean is None else np.asarray(mean, dtype=np.float64)
    if values.ndim == 0:
        values = np.full(channels, float(values))
    if values.shape != (channels,) or not np.isfinite(values).all():
        raise ValueError(f"mean must be a finite scalar or one value per channel ({channels}), got {mean!r}")
    return values


def _axis_eigenvalues(size: int, spacing: float, central: bool) -> np.ndarray:
    """Eigenvalues on DCT-II mode `k` of the 1-D operator: `-4 sin²(pi k/2N)/h²` for the
    3-point Neumann Laplacian, `-sin²(pi k/N)/h²` for `-Dᵀ D`, `D` the central difference."""
    angle = np.pi * np.arange(size) / size
    symbol = np.sin(angle) ** 2 if central else 4.0 * np.sin(angle / 2) ** 2
    return -symbol / spacing**2


def _dct_solve(rhs: np.ndarray, spacing: float, means: np.ndarray, central: bool) -> np.ndarray:
    """Solve `(Ly + Lx) u = rhs` for `(H, W, C)` `rhs`, dropping its mean, with `u`'s
    channel means set to `means`."""
    height, width = rhs.shape[:2]
    eigenvalues = (_axis_eigenvalues(height, spacing, central)[:, None]
                   + _axis_eigenvalues(width, spacing, central)[None, :])
    eigenvalues[0, 0] = 1.0  # the zero mode is set below, not divided
    coefficients = dctn(rhs, axes=(0, 1), norm="ortho") / eigenvalues[:, :, None]
    coefficients[0, 0] = means * np.sqrt(height * width)  # ortho DC coefficient = mean·sqrt(HW)
    return idctn(coefficients, axes=(0, 1), norm="ortho")


def solve_poisson_neumann(rhs: np.ndarray, spacing: float, *,
                          mean: float | Sequence[float] | None = None) -> np.ndarray:
    """Solve `image_laplacian(u, spacing) = rhs` exactly, per channel, by the DCT-II.

    rhs: `(H, W)` or `(H, W, C)`, at least 2×2. spacing: the grid spacing `h` (> 0).
    mean: the mean of the result, a scalar or one value per channel; default 0.
    Returns `u` with the shape of `rhs`, float64.

    Compatibility condition: the Neumann Laplacian of any image sums to zero, so only a `rhs`
    with zero mean has a solution. The mean of `rhs` is dropped (the least-squares solution,
    `L u = rhs - mean(rhs)`), and `u`, fixed only up to a constant, gets the mean `mean`.
    """
    spacing = _check_spacing(spacing)
    values = _check_field(rhs, gradient=False)
    solution = _dct_solve(values, spacing, _channel_means(mean, values.shape[2]), central=False)
    return solution.reshape(np.shape(rhs))


def integrate_gradient(
    gradient: np.ndarray, spacing: float, *, mean: float | Sequence[float] | None = None,
    differences: str = "central",
) -> np.ndarray:
    """Least-squares integration of a gradient field, per channel, by the DCT.

    gradient: `(H, W, 2)` or `(H, W, C, 2)` in the layout of `image_gradient`:
    `[..., 0] = ∂/∂x` (along columns), `[..., 1] = ∂/∂y` (along rows). spacing: `h` (> 0).
    mean: the mean of the result, scalar or per channel; default 0 (a gradient fixes no constant).
    Returns `u` `(H, W)` or `(H, W, C)`, float64.

    `differences` names the operator `D` the field is fitted to, `min ||D u - g||²`:

    * `"central"` (default): `image_gradient` itself (`np.gradient`: central differences
      inside, one-sided at the border). Its one-sided border value `(u[1] - u[0]) / h` is twice
      the central difference of `u`'s half-sample even extension `u[-1] = u[0]`, which is the
      extension the DCT-II assumes; so with the border samples halved, `D` maps DCT-II mode
      `k` onto a DST-II mode times `sin(pi k / N) / h`, and `Dᵀ D` is diagonal in the DCT
      with eigenvalues zero only at `k = 0`. The result is the least-squares fit with border
      samples weighted 1/4, and it inverts `image_gradient` exactly up to a constant, for any
      image, smooth or not (measured: error ~1e-15 from float64 fields, PSNR ~170-190 dB from
      `image_gradient`'s float32 output). The common alternative, averaging the central values
      to the half-grid and solving the 5-point Poisson equation, damps frequency `θ` by
      `cos²(θ/2)` (measured 59-78 dB on smooth images, 33 dB on `camera` at 256²). Noise in
      the field costs a few dB more here than there: the central differences constrain the
      near-Nyquist modes as weakly as the slowest ones.
    * `"forward"`: `g[:, j, 0] = (u[:, j+1] - u[:, j]) / h` for `j < W - 1` and
      `g[i, :, 1] = (u[i+1] - u[i]) / h` for `i < H - 1`: fluxes between pixels; the last
      column of `∂/∂x` and the last row of `∂/∂y` are ignored. With no flux through the
      border, `Dᵀ D` is minus `h²` times the 5-point Neumann Laplacian, so the normal
      equations are `solve_poisson_neumann` of the divergence; exact for such fields.
    """
    spacing = _check_spacing(spacing)
    if differences not in GRADIENT_DIFFERENCES:
        raise ValueError(f"differences must be one of {GRADIENT_DIFFERENCES}, got {differences!r}")
    field = _check_field(gradient, gradient=True)
    d_dx, d_dy = field[..., 0], field[..., 1]
    if differences == "forward":  # backward difference of the fluxes, zero flux at the border
        flux_x = np.pad(d_dx[:, :-1], ((0, 0), (1, 1), (0, 0)))
        flux_y = np.pad(d_dy[:-1], ((1, 1), (0, 0), (0, 0)))
        divergence = (np.diff(flux_x, axis=1) + np.diff(flux_y, axis=0)) / spacing
    else:  # -Dᵀ g: central difference of the halved-border field, extended oddly about each border
        d_dx, d_dy = d_dx.copy(), d_dy.copy()
        d_dx[:, [0, -1]] *= 0.5
        d_dy[[0, -1]] *= 0.5
        padded_x = np.concatenate([-d_dx[:, :1], d_dx, -d_dx[:, -1:]], axis=1)
        padded_y = np.concatenate([-d_dy[:1], d_dy, -d_dy[-1:]], axis=0)
        divergence = (padded_x[:, 2:] - padded_x[:, :-2] + padded_y[2:] - padded_y[:-2]) / (2 * spacing)
    solution = _dct_solve(divergence, spacing, _channel_means(mean, field.shape[2]),
                          central=differences == "central")
    return solution.reshape(np.shape(gradient)[:-1])
