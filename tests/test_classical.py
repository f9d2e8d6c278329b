"""The DCT Poisson solvers of sirenkit.studies.classical against the image derivatives of
sirenkit.signals.image.data."""

import numpy as np
import pytest
from scipy import ndimage

from sirenkit.signals.image.data import image_gradient, image_laplacian
from sirenkit.studies.classical import integrate_gradient, solve_poisson_neumann

HEIGHT, WIDTH = 40, 57
SPACING = 2.0 / (WIDTH - 1)


def smooth_image(seed: int, shape: tuple[int, int] = (HEIGHT, WIDTH)) -> np.ndarray:
    """``(H, W)`` float64 in [0, 1]: a few plane cosines plus a gaussian blob."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]] * SPACING
    x, y = cols - cols.mean(), rows - rows.mean()
    values = 1.5 * np.exp(-((x - rng.uniform(-0.5, 0.5)) ** 2 + (y - rng.uniform(-0.3, 0.3)) ** 2) / 0.08)
    for _ in range(4):
        kx, ky = rng.uniform(-3.0, 3.0, 2)
        values += rng.uniform(0.2, 1.0) * np.cos(kx * x + ky * y + rng.uniform(0.0, 2 * np.pi))
    return (values - values.min()) / (values.max() - values.min())


def colour_image() -> np.ndarray:
    """``(H, W, 3)``: a different pattern in each channel."""
    return np.stack([smooth_image(seed) for seed in (1, 2, 3)], axis=-1)


def laplacian_float64(pixels: np.ndarray, spacing: float) -> np.ndarray:
    """``image_laplacian`` of an ``(H, W)`` image without its final cast to float32."""
    return ndimage.laplace(pixels, mode="nearest") / spacing**2


def forward_gradient(pixels: np.ndarray, spacing: float, filler: float = 7.0) -> np.ndarray:
    """``(H, W, 2)`` forward differences; the unused last column / row hold ``filler``."""
    field = np.full(pixels.shape + (2,), filler)
    field[:, :-1, 0] = np.diff(pixels, axis=1) / spacing
    field[:-1, :, 1] = np.diff(pixels, axis=0) / spacing
    return field


def psnr(estimate: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB for values in [0, 1], after subtracting each one's mean."""
    error = (estimate - estimate.mean()) - (truth - truth.mean())
    return 10.0 * np.log10(1.0 / np.mean(error**2))


def test_round_trip_through_image_laplacian():
    pixels = smooth_image(0)
    exact_rhs = laplacian_float64(pixels, SPACING)
    np.testing.assert_allclose(image_laplacian(pixels, SPACING)[:, :, 0], exact_rhs, rtol=1e-6, atol=1e-3)
    solution = solve_poisson_neumann(exact_rhs, SPACING)
    assert solution.shape == pixels.shape and solution.dtype == np.float64
    assert np.abs(solution - (pixels - pixels.mean())).max() < 1e-9
    # image_laplacian's float32 output limits the round trip to float32 precision
    from_float32 = solve_poisson_neumann(image_laplacian(pixels, SPACING), SPACING)[:, :, 0]
    assert np.abs(from_float32 - (pixels - pixels.mean())).max() < 1e-6


@pytest.mark.parametrize("k, m", [(1, 0), (0, 1), (3, 5), (39, 56), (20, 28)])
def test_neumann_eigenfunctions_have_the_dct_eigenvalues(k, m):
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    mode = np.cos(np.pi * k * (rows + 0.5) / HEIGHT) * np.cos(np.pi * m * (cols + 0.5) / WIDTH)
    eigenvalue = -4.0 * (np.sin(np.pi * k / (2 * HEIGHT)) ** 2 + np.sin(np.pi * m / (2 * WIDTH)) ** 2) / SPACING**2
    np.testing.assert_allclose(laplacian_float64(mode, SPACING), eigenvalue * mode, rtol=0,
                               atol=1e-10 * abs(eigenvalue))
    np.testing.assert_allclose(solve_poisson_neumann(eigenvalue * mode, SPACING), mode, rtol=0, atol=1e-10)


def test_compatibility_condition_drops_the_mean_of_the_rhs():
    rhs = laplacian_float64(smooth_image(4), SPACING)
    np.testing.assert_allclose(solve_poisson_neumann(rhs + 3.0, SPACING), solve_poisson_neumann(rhs, SPACING),
                               atol=1e-12)


def test_forward_differences_are_integrated_exactly():
    pixels = smooth_image(5)
    solution = integrate_gradient(forward_gradient(pixels, SPACING), SPACING, differences="forward")
    assert np.abs(solution - (pixels - pixels.mean())).max() < 1e-10
    ignored = integrate_gradient(forward_gradient(pixels, SPACING, filler=-3.0), SPACING, differences="forward")
    np.testing.assert_allclose(ignored, solution, atol=1e-12)


def test_image_gradient_is_inverted_exactly():
    pixels = smooth_image(6)
    solution = integrate_gradient(image_gradient(pixels, SPACING), SPACING)[:, :, 0]
    assert psnr(solution, pixels) > 40.0
    assert np.abs(solution - (pixels - pixels.mean())).max() < 1e-6  # float32 input
    noise = np.random.default_rng(7).uniform(size=(HEIGHT, WIDTH))  # not smooth at all
    d_dy, d_dx = np.gradient(noise, SPACING, axis=(0, 1))  # image_gradient in float64
    solution = integrate_gradient(np.stack([d_dx, d_dy], axis=-1), SPACING)
    assert np.abs(solution - (noise - noise.mean())).max() < 1e-10


def test_colour_channels_are_solved_separately():
    pixels = colour_image()
    rhs = np.stack([laplacian_float64(pixels[:, :, c], SPACING) for c in range(3)], axis=-1)
    field = image_gradient(pixels, SPACING)
    solved, integrated = solve_poisson_neumann(rhs, SPACING), integrate_gradient(field, SPACING)
    assert solved.shape == integrated.shape == pixels.shape
    for c in range(3):
        np.testing.assert_allclose(solved[:, :, c], solve_poisson_neumann(rhs[:, :, c], SPACING), atol=1e-12)
        np.testing.assert_allclose(integrated[:, :, c], integrate_gradient(field[:, :, c], SPACING), atol=1e-12)
        assert np.abs(integrated[:, :, c] - (pixels[:, :, c] - pixels[:, :, c].mean())).max() < 1e-6
    rhs[:, :, 1] = 0.0  # changing one channel leaves the others untouched
    field[:, :, 1] = 0.0
    pairs = [(solve_poisson_neumann(rhs, SPACING), solved), (integrate_gradient(field, SPACING), integrated)]
    for changed, original in pairs:
        np.testing.assert_array_equal(changed[:, :, [0, 2]], original[:, :, [0, 2]])
        np.testing.assert_allclose(changed[:, :, 1], 0.0, atol=1e-12)


@pytest.mark.parametrize("mean", [0.25, [0.1, 0.5, 0.9]])
def test_mean_is_restored(mean):
    pixels = colour_image()
    rhs = np.stack([laplacian_float64(pixels[:, :, c], SPACING) for c in range(3)], axis=-1)
    expected = np.broadcast_to(mean, (3,))
    for solution in (solve_poisson_neumann(rhs, SPACING, mean=mean),
                     integrate_gradient(image_gradient(pixels, SPACING), SPACING, mean=mean)):
        np.testing.assert_allclose(solution.mean(axis=(0, 1)), expected, atol=1e-12)
    np.testing.assert_allclose(
        solve_poisson_neumann(rhs, SPACING, mean=mean), pixels - pixels.mean(axis=(0, 1)) + expected, atol=1e-9)
    grey = smooth_image(8)
    restored = integrate_gradient(forward_gradient(grey, SPACING), SPACING, mean=grey.mean(), differences="forward")
    np.testing.assert_allclose(restored, grey, atol=1e-10)


GOOD = np.zeros((4, 5))


@pytest.mark.parametrize("call, message", [
    (lambda: solve_poisson_neumann(np.zeros(5), 0.1), r"expected \(H, W\) or \(H, W, C\) array, got shape \(5,\)"),
    (lambda: solve_poisson_neumann(np.zeros((4, 5, 3, 2)), 0.1), "got shape"),
    (lambda: solve_poisson_neumann(np.zeros((1, 5)), 0.1), "at least 2×2"),
    (lambda: solve_poisson_neumann(np.zeros((4, 1, 3)), 0.1), "at least 2×2"),
    (lambda: solve_poisson_neumann(np.zeros((4, 5, 0)), 0.1), "one channel"),
    (lambda: solve_poisson_neumann(np.where(GOOD == 0, np.nan, GOOD), 0.1), "finite"),
    (lambda: solve_poisson_neumann(np.full((4, 5), np.inf), 0.1), "finite"),
    (lambda: solve_poisson_neumann(GOOD.astype(complex), 0.1), "real-valued"),
    (lambda: solve_poisson_neumann(GOOD, 0.0), "spacing"),
    (lambda: solve_poisson_neumann(GOOD, -0.1), "spacing"),
    (lambda: solve_poisson_neumann(GOOD, float("nan")), "spacing"),
    (lambda: solve_poisson_neumann(GOOD, "0.1"), "spacing"),
    (lambda: solve_poisson_neumann(np.zeros((4, 5, 3)), 0.1, mean=[0.0, 1.0]), "mean"),
    (lambda: integrate_gradient(np.zeros((4, 5, 3)), 0.1), r"expected \(H, W, 2\) or \(H, W, C, 2\) gradient"),
    (lambda: integrate_gradient(np.zeros((4, 5)), 0.1), "got shape"),
    (lambda: integrate_gradient(np.zeros((1, 5, 2)), 0.1), "at least 2×2"),
    (lambda: integrate_gradient(np.full((4, 5, 2), np.nan), 0.1), "finite"),
    (lambda: integrate_gradient(np.zeros((4, 5, 2)), -1.0), "spacing"),
    (lambda: integrate_gradient(np.zeros((4, 5, 2)), 0.1, differences="backward"), "differences"),
])
def test_bad_inputs_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
