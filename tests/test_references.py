"""Classical references (sirenkit/studies/references.py): Allen–Cahn against the exact heat solution, its own
refinement, its maximum principle and its residual; Laplace with holes against harmonic functions, its order of
convergence, its maximum principle and its symmetry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.fft import irfft, rfft

from sirenkit.studies.references import allen_cahn, laplace_with_holes

HOLES = ((0.3, 0.3, 0.1), (-0.3, 0.3, 0.1), (0.3, -0.3, 0.1), (-0.3, -0.3, 0.1))  # PINNacle's Poisson 2d-C


def relative_l2(estimate: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - reference) / np.linalg.norm(reference))


def test_without_reaction_allen_cahn_is_the_heat_equation_solved_exactly():
    diffusion = 0.05
    rng = np.random.default_rng(0)
    x, t = rng.uniform(-3, 3, 300), rng.uniform(0, 1, 300)  # off the grid, outside the period, times unsorted
    u = allen_cahn(x, t, diffusion=diffusion, reaction=0.0,
                   initial=lambda x: np.cos(math.pi * x) + 0.3 * np.sin(3 * math.pi * x))
    exact = (np.cos(math.pi * x) * np.exp(-diffusion * math.pi**2 * t)
             + 0.3 * np.sin(3 * math.pi * x) * np.exp(-9 * diffusion * math.pi**2 * t))
    assert np.abs(u - exact).max() < 1e-10
    # negative control: another diffusion is told apart
    other = allen_cahn(x, t, diffusion=0.055, reaction=0.0,
                       initial=lambda x: np.cos(math.pi * x) + 0.3 * np.sin(3 * math.pi * x))
    assert np.abs(other - exact).max() > 1e-3


def test_allen_cahn_is_converged_at_the_defaults():
    x = np.linspace(-1, 1, 2001)[:-1]
    default = allen_cahn(x, 1.0)
    refined = allen_cahn(x, 1.0, modes=2048, dt=5e-4)
    assert relative_l2(default, refined) < 1e-6  # measured 1.5e-10
    # negative control: 512 modes, too few for the fronts, is seen (measured 1.5e-6)
    assert relative_l2(allen_cahn(x, 1.0, modes=512), refined) > 1e-7


def test_allen_cahn_keeps_to_minus_one_and_one_and_forms_plateaus():
    x = np.linspace(-1, 1, 401)[:-1]
    t = np.linspace(0, 1, 21)
    u = allen_cahn(x[None, :], t[:, None])  # (times, points)
    assert np.abs(u).max() <= 1 + 1e-12
    assert np.allclose(u[0], x**2 * np.cos(math.pi * x), atol=1e-12, rtol=0)
    final = u[-1]
    assert abs(final.max() - 1) < 1e-2 and abs(final.min() + 1) < 1e-2  # measured 0.9927 and −0.999999
    # the known profile: −1 outside two fronts at x ≈ ±0.5, a plateau near +1 inside them, a dip at x = 0
    fronts = x[np.flatnonzero(np.diff(np.sign(final)))]
    assert fronts.size == 2 and np.abs(np.abs(fronts) - 0.5).max() < 0.01, fronts
    assert np.abs(final[np.abs(x) >= 0.6] + 1).max() < 1e-2  # measured 2e-3
    assert final[(np.abs(x) >= 0.25) & (np.abs(x) <= 0.4)].min() > 0.98  # measured 0.988
    assert 0 < final[x.size // 2] < 0.1  # u(0, 1), measured 0.03: the centre started flat at 0
    assert np.allclose(final, final[(-np.arange(x.size)) % x.size], atol=1e-10)  # even, like u(x, 0)


def test_allen_cahn_meets_its_equation():
    modes, t, k = 1024, 0.5, 1e-4
    x = -1 + 2 * np.arange(modes) / modes
    before, now, after = allen_cahn(x[None, :], np.array([t - k, t, t + k])[:, None])
    second = irfft(-(math.pi * np.arange(modes // 2 + 1)) ** 2 * rfft(now), n=modes)  # spectral u_xx
    u_t = (after - before) / (2 * k)
    residual = u_t - 1e-4 * second - 5 * (now - now**3)
    assert np.abs(residual).max() < 1e-6 * np.abs(u_t).max()  # measured 6e-8: the k² of the difference
    # negative control: the residual of another reaction rate is large
    assert np.abs(u_t - 1e-4 * second - 5.05 * (now - now**3)).max() > 1e-3 * np.abs(u_t).max()


def test_allen_cahn_broadcasts_and_answers_in_the_callers_order():
    x = np.linspace(-0.9, 0.9, 5)[:, None]
    t = np.array([0.3, 0.1, 0.3, 0.0])
    u = allen_cahn(x, t, modes=128, dt=1e-2)
    assert u.shape == (5, 4)
    assert np.array_equal(u[:, 0], u[:, 2])
    assert np.allclose(u[:, 3], x[:, 0] ** 2 * np.cos(math.pi * x[:, 0]))
    one_by_one = [allen_cahn(x[:, 0], time, modes=128, dt=1e-2) for time in t]
    assert np.allclose(u, np.stack(one_by_one, axis=1), atol=1e-12)
    assert np.allclose(allen_cahn(x + 2, t, modes=128, dt=1e-2), u, atol=1e-12)  # period 2


def test_allen_cahn_refuses_bad_arguments():
    with pytest.raises(ValueError, match=r"times must lie in \[0, 1.0\]"):
        allen_cahn(np.zeros(3), 1.5)
    with pytest.raises(ValueError, match=r"times must lie in \[0, 1.0\]"):
        allen_cahn(np.zeros(3), -0.1)
    with pytest.raises(ValueError, match="must be finite"):
        allen_cahn(np.array([0.0, np.nan]), 0.5)
    with pytest.raises(ValueError, match="must broadcast"):
        allen_cahn(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="modes must be an even integer"):
        allen_cahn(np.zeros(3), 0.5, modes=101)
    with pytest.raises(ValueError, match="dt must be positive"):
        allen_cahn(np.zeros(3), 0.5, dt=0.0)
    with pytest.raises(ValueError, match="diffusion must be 0 or more"):
        allen_cahn(np.zeros(3), 0.5, diffusion=-1.0)
    with pytest.raises(ValueError, match=r"initial condition must give one finite value per position \(64,\)"):
        allen_cahn(np.zeros(3), 0.5, modes=64, initial=lambda x: x[:-1])
    assert allen_cahn(np.zeros(3), 2.0, final_time=2.0, modes=64, dt=0.1).shape == (3,)


def domain_points(count: int, seed: int, square=((-0.5, 0.5), (-0.5, 0.5)), holes=HOLES) -> tuple[np.ndarray, ...]:
    """Uniform points of the rectangle outside the holes."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(*square[0], 3 * count)
    y = rng.uniform(*square[1], 3 * count)
    keep = np.ones(x.size, dtype=bool)
    for cx, cy, r in holes:
        keep &= np.hypot(x - cx, y - cy) >= r
    return x[keep][:count], y[keep][:count]


def harmonic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.exp(x) * np.cos(y)


def test_laplace_reproduces_a_harmonic_function_to_second_order():
    x, y = domain_points(20000, 0)
    exact = harmonic(x, y)
    errors = [relative_l2(laplace_with_holes(x, y, holes=HOLES, outer=harmonic, inner=harmonic, cells=cells), exact)
              for cells in (50, 100, 200)]
    for coarse, fine in zip(errors, errors[1:]):
        assert 3.5 < coarse / fine < 4.6, errors  # measured 4.02 and 4.03
    default = laplace_with_holes(x, y, holes=HOLES, outer=harmonic, inner=harmonic)
    assert relative_l2(default, exact) < 1e-6  # measured 3.3e-7
    assert np.abs(default - exact).max() < 3e-6  # measured 1.2e-6
    # negative control: other values on the circles are told apart
    shifted = laplace_with_holes(x, y, holes=HOLES, outer=harmonic, inner=lambda x, y: harmonic(x, y) + 1e-3,
                                 cells=100)
    assert relative_l2(shifted, exact) > 1e-4


def test_laplace_on_a_rectangle_with_one_hole_and_unequal_steps():
    square, holes = ((0.0, 2.0), (-0.5, 0.5)), ((1.2, 0.1, 0.25),)
    x, y = domain_points(5000, 1, square, holes)
    saddle = lambda x, y: x**2 - y**2
    errors = [relative_l2(laplace_with_holes(x, y, square=square, holes=holes, outer=saddle, inner=saddle,
                                             cells=cells), saddle(x, y)) for cells in (80, 160)]
    assert errors[1] < 2e-5 and 3.5 < errors[0] / errors[1] < 4.6, errors  # measured 1.3e-5, ratio 4.02


def test_laplace_keeps_between_its_boundary_values_and_is_symmetric():
    x, y = domain_points(20000, 2)
    u = laplace_with_holes(x, y, holes=HOLES)
    assert u.min() >= 0 and u.max() <= 1
    from_circles = np.min([np.hypot(x - cx, y - cy) - r for cx, cy, r in HOLES], axis=0)
    from_sides = 0.5 - np.maximum(np.abs(x), np.abs(y))
    assert u[from_circles > 0.01].min() > 0 and u[from_sides > 0.01].max() < 1  # the strong maximum principle
    angle = np.linspace(0, 2 * math.pi, 101)
    circle = laplace_with_holes(0.3 + 0.1 * np.cos(angle), 0.3 + 0.1 * np.sin(angle), holes=HOLES)
    assert np.abs(circle).max() < 5e-4  # interpolated through the extension: measured 1.5e-4
    side = np.linspace(-0.5, 0.5, 11)
    assert np.array_equal(laplace_with_holes(side, 0.5, holes=HOLES), np.ones(11))
    # the square and its holes are symmetric under x → −x, y → −y and x ↔ y, and so is the solution
    for image in ((-x, y), (x, -y), (y, x)):
        assert np.allclose(laplace_with_holes(*image, holes=HOLES, cells=100),
                           laplace_with_holes(x, y, holes=HOLES, cells=100), atol=1e-8)  # rounding at tangents
    # the discrete maximum principle at the nodes, where no clipping applies to callables
    nodes = np.linspace(-0.5, 0.5, 101)
    node_x, node_y = np.meshgrid(nodes, nodes, indexing="ij")
    keep = np.all([np.hypot(node_x - cx, node_y - cy) >= r for cx, cy, r in HOLES], axis=0)
    at_nodes = laplace_with_holes(node_x[keep], node_y[keep], holes=HOLES, cells=100,
                                  outer=lambda x, y: np.ones_like(x), inner=lambda x, y: np.zeros_like(x))
    assert at_nodes.min() >= -1e-12 and at_nodes.max() <= 1 + 1e-12


def test_laplace_with_constants_converges_to_second_order():
    x, y = domain_points(5000, 3)
    u = {cells: laplace_with_holes(x, y, holes=HOLES, cells=cells) for cells in (100, 200, 400)}
    first, second = relative_l2(u[100], u[200]), relative_l2(u[200], u[400])
    assert 3.0 < first / second < 5.0 and second < 1e-4, (first, second)


def test_laplace_refuses_bad_arguments():
    with pytest.raises(ValueError, match="got 2 outside the square and 1 inside a hole"):
        laplace_with_holes(np.array([0.6, 0.0, 0.3, 0.0]), np.array([0.0, -0.7, 0.3, 0.0]), holes=HOLES, cells=50)
    with pytest.raises(ValueError, match="must be finite"):
        laplace_with_holes(np.array([np.nan]), np.array([0.0]), holes=HOLES, cells=50)
    with pytest.raises(ValueError, match="holes 0 and 1 must be apart"):
        laplace_with_holes(0.0, 0.0, holes=((0.1, 0.3, 0.1), (-0.05, 0.3, 0.1)), cells=50)
    with pytest.raises(ValueError, match="must lie inside the square"):
        laplace_with_holes(0.0, 0.0, holes=((0.45, 0.0, 0.1),), cells=50)
    with pytest.raises(ValueError, match="radius below two cells"):
        laplace_with_holes(0.0, 0.0, holes=((0.3, 0.3, 0.01),), cells=50)
    with pytest.raises(ValueError, match=r"holes must be finite \(cx, cy, r\) triples"):
        laplace_with_holes(0.0, 0.0, holes=((0.3, 0.3),), cells=50)
    with pytest.raises(ValueError, match="square must be"):
        laplace_with_holes(0.0, 0.0, square=((0.5, -0.5), (-0.5, 0.5)), holes=HOLES, cells=50)
    with pytest.raises(ValueError, match="cells must be an integer"):
        laplace_with_holes(0.0, 0.0, holes=HOLES, cells=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="inner must give finite values"):
        laplace_with_holes(0.0, 0.0, holes=HOLES, cells=50, inner=lambda x, y: np.full_like(x, np.nan))
    with pytest.raises(ValueError, match="outer must give one value per point"):
        laplace_with_holes(0.0, 0.0, holes=HOLES, cells=50, outer=lambda x, y: np.zeros(3))
    assert laplace_with_holes(np.zeros((2, 1)), np.zeros(3), holes=HOLES, cells=50).shape == (2, 3)
    assert laplace_with_holes(0.0, 0.5, holes=HOLES, cells=50).shape == ()
