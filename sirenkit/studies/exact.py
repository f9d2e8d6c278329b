"""Exact solutions of benchmark equations, the references that solved problems are measured against.

**Viscous Burgers** `u_t + u u_x = ν u_xx` on `x ∈ [-1, 1]`, `u(x, 0) = −sin(πx)`, `u(±1, t) = 0`
(PINNacle's Burgers 1d-C at `ν = 0.01/π`, the problem of Raissi et al. 2019). The Cole–Hopf
transform `u = −2ν φ_x / φ` turns it into the heat equation `φ_t = ν φ_xx`; with the initial
condition extended to the whole line (odd and 2-periodic, which keeps `u(±1, t) = 0`), the heat
kernel gives (Basdevant et al. 1986)

    u(x, t) = − ∫ sin(π(x − η)) f(x − η) e^(−η²/4νt) dη / ∫ f(x − η) e^(−η²/4νt) dη,
    f(y) = exp(−cos(πy) / 2πν).

At small `ν` the exponent of `f` spans `1/πν` (about 100 at `ν = 0.01/π`), far past what floats
hold, so both integrals are taken over the same exponent shifted by its largest value (a
log-sum-exp), with `η = √(4νt) z` on a uniform grid of `z` in `[−8, 8]` (`e^(−64)` beyond it): the
ratio is exact to the quadrature's error, which the tests check against a finite-difference
solution and against the equation's own residual.
"""

from __future__ import annotations

import math

import numpy as np

QUADRATURE_POINTS = 8001
"""Points of the quadrature in `z = η / √(4νt)`: a spacing of 0.002, about 2·10⁻⁴ in `η` at
`ν = 0.01/π`, `t = 1`, fifteen points across the steepest front."""


def burgers(x: np.ndarray, t: np.ndarray, viscosity: float = 0.01 / math.pi, *,
            quadrature_points: int = QUADRATURE_POINTS) -> np.ndarray:
    """The exact solution of viscous Burgers with `u(x, 0) = −sin(πx)` and `u(±1, t) = 0`.

    Args:
        x: Positions in `[-1, 1]`, any shape.
        t: Times, `t ≥ 0`, broadcastable against `x`.
        viscosity: `ν > 0`.
        quadrature_points: Points of the quadrature (odd, so that `η = 0` is one of them).

    Returns:
        `u(x, t)`, float64, of the broadcast shape of `x` and `t`.

    Raises:
        ValueError: A viscosity that is not positive, or a negative time.
    """
    if not viscosity > 0:
        raise ValueError(f"the viscosity must be positive, got {viscosity}")
    x, t = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64))
    if np.any(t < 0):
        raise ValueError("times must be 0 or more")
    shape = x.shape
    x, t = x.reshape(-1), t.reshape(-1)
    u = -np.sin(math.pi * x)  # the initial condition, where t = 0
    later = t > 0
    z = np.linspace(-8.0, 8.0, quadrature_points)
    for rows in np.array_split(np.flatnonzero(later), max(1, int(later.sum()) // 256)):
        if rows.size == 0:
            continue
        shifted = x[rows, None] - np.sqrt(4 * viscosity * t[rows, None]) * z[None, :]  # (n, points): x − η
        exponent = -z[None, :] ** 2 - np.cos(math.pi * shifted) / (2 * math.pi * viscosity)
        weight = np.exp(exponent - exponent.max(axis=1, keepdims=True))
        u[rows] = -(np.sin(math.pi * shifted) * weight).sum(axis=1) / weight.sum(axis=1)
    return u.reshape(shape)
