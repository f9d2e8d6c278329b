"""Exact solutions (sirenkit/studies/exact.py): Burgers by Cole–Hopf against a finite-difference
solution of the equation itself, against adaptive quadrature of the same integrals, and against
its own residual, conditions and symmetry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp

from sirenkit.studies.exact import burgers

NU = 0.01 / math.pi


def finite_differences(viscosity: float, times: list[float], points: int = 801) -> tuple[np.ndarray, np.ndarray]:
    """Burgers by the method of lines: the flux form `−(u²/2)_x + ν u_xx` by central differences on
    a uniform grid with `u(±1) = 0`, integrated by scipy's stiff solver: an independent reference."""
    x = np.linspace(-1, 1, points)
    h = x[1] - x[0]

    def rate(_, inner):
        u = np.concatenate([[0.0], inner, [0.0]])
        flux = u**2 / 2
        return -(flux[2:] - flux[:-2]) / (2 * h) + viscosity * (u[2:] - 2 * u[1:-1] + u[:-2]) / h**2

    solved = solve_ivp(rate, (0, max(times)), -np.sin(math.pi * x[1:-1]), method="BDF", t_eval=times,
                       rtol=1e-9, atol=1e-11)
    assert solved.success
    return x, np.vstack([np.zeros(len(times)), solved.y, np.zeros(len(times))]).T  # (times, points)


def test_a_smooth_case_matches_the_finite_difference_solution():
    times = [0.1, 0.5, 1.0]
    x, reference = finite_differences(0.05, times)
    for row, t in enumerate(times):
        exact = burgers(x, t, 0.05)
        assert np.abs(exact - reference[row]).max() < 2e-4, t
    # negative control: another viscosity is told apart
    assert np.abs(burgers(x, 1.0, 0.06) - reference[-1]).max() > 1e-2


def adaptive_quadrature(x: float, t: float) -> float:
    """The Cole–Hopf ratio at one point by scipy's adaptive quadrature over `η`, both integrals
    scaled by the largest value of their common exponent."""
    variance = 4 * NU * t

    def exponent(eta: float) -> float:
        return -eta**2 / variance - math.cos(math.pi * (x - eta)) / (2 * math.pi * NU)

    span = 8 * math.sqrt(variance)
    largest = max(exponent(eta) for eta in np.linspace(-span, span, 2001))

    def integral(f) -> float:
        return quad(lambda eta: f(eta) * math.exp(exponent(eta) - largest), -span, span, limit=1000,
                    epsabs=1e-13, epsrel=1e-12)[0]

    return -integral(lambda eta: math.sin(math.pi * (x - eta))) / integral(lambda eta: 1.0)


def test_the_steep_case_matches_adaptive_quadrature_of_the_same_integrals():
    """At ν = 0.01/π, near the front (x close to 0 after t = 1/π) and away from it."""
    for x, t in [(0.002, 0.5), (-0.01, 0.8), (0.3, 1.0), (-0.7, 0.2)]:
        assert burgers(np.array([x]), t)[0] == pytest.approx(adaptive_quadrature(x, t), abs=1e-5), (x, t)


def test_the_steep_case_meets_its_equation_conditions_and_symmetry():
    x = np.linspace(-0.9, 0.9, 37)
    x = x[np.abs(x) > 0.1]  # away from the front, where finite differences of the solution are accurate
    t, h, k = 0.6, 1e-4, 1e-5
    u = burgers(x, t)
    u_t = (burgers(x, t + k) - burgers(x, t - k)) / (2 * k)
    u_x = (burgers(x + h, t) - burgers(x - h, t)) / (2 * h)
    u_xx = (burgers(x + h, t) - 2 * u + burgers(x - h, t)) / h**2
    residual = u_t + u * u_x - NU * u_xx
    assert np.abs(residual).max() < 1e-4 * np.abs(u * u_x).max()
    assert np.abs(burgers(np.array([-1.0, 1.0]), np.array([0.3, 0.9]))).max() < 1e-12
    grid = np.linspace(-1, 1, 41)
    assert np.allclose(burgers(grid, 0.0), -np.sin(math.pi * grid))
    assert np.allclose(burgers(grid, 1e-6), -np.sin(math.pi * grid), atol=1e-5)
    assert np.allclose(burgers(grid, 0.7), -burgers(-grid, 0.7), atol=1e-12)  # odd in x
    front = burgers(np.array([-1e-5, 1e-5]), 1.6 / math.pi)
    assert (front[1] - front[0]) / 2e-5 < -150  # the front: a slope of about −152 at t ≈ 1.6/π


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="viscosity must be positive"):
        burgers(np.zeros(3), 0.5, 0.0)
    with pytest.raises(ValueError, match="times must be 0 or more"):
        burgers(np.zeros(3), -0.1)
    assert burgers(np.zeros((2, 3)), np.ones((1, 3))).shape == (2, 3)
