"""Quality measures (sirenkit/metrics.py) on cases with a known answer: PSNR of a known error,
SSIM's limits, and surface distances between concentric spheres, whose gap is known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

import sirenkit as sk
from sirenkit import metrics
from sirenkit.metrics import compare_meshes, psnr_from_mse, surface_distances, volume_iou


def test_psnr_of_a_known_mean_squared_error():
    reference = np.random.default_rng(0).uniform(0.2, 0.8, size=(16, 24, 3))
    assert sk.psnr(reference + 0.1, reference) == pytest.approx(20.0)  # MSE 0.01
    noisy = reference.copy()
    noisy[::2] += 0.05  # half the rows off by 0.05: MSE 0.00125
    assert sk.psnr(noisy, reference) == pytest.approx(10 * math.log10(1 / 0.00125))
    assert sk.psnr(reference + 0.1, reference, peak=2.0) == pytest.approx(20.0 + 20 * math.log10(2))
    assert psnr_from_mse(0.01) == pytest.approx(20.0) and psnr_from_mse(0.0) == math.inf


def test_psnr_is_infinite_for_equal_images_and_clips_the_estimate_first():
    reference = np.random.default_rng(1).uniform(0, 1, size=(8, 8, 1))
    assert sk.psnr(reference, reference) == math.inf
    white = np.ones((4, 4, 1))
    assert sk.psnr(white + 0.5, white) == math.inf  # shown as 1 by a viewer: no error
    assert sk.psnr(-0.2 * white, 0.1 * white) == pytest.approx(20.0)  # clipped to 0: error 0.1
    with pytest.raises(ValueError, match="shapes differ"):
        sk.psnr(np.zeros((4, 4, 1)), np.zeros((4, 4, 3)))


def test_ssim_is_none_below_three_pixels_and_falls_with_noise():
    rng = np.random.default_rng(2)
    assert sk.ssim(np.zeros((2, 2, 1)), np.zeros((2, 2, 1))) is None
    assert sk.ssim(np.zeros((2, 40, 3)), np.zeros((2, 40, 3))) is None  # one side too short
    assert sk.ssim(np.full((3, 3, 1), 0.5), np.full((3, 3, 1), 0.5)) == pytest.approx(1.0)
    image = np.clip(np.linspace(0, 1, 32)[None, :, None] * np.ones((32, 1, 3)), 0, 1)
    assert sk.ssim(image, image) == pytest.approx(1.0)
    slightly, badly = (np.clip(image + rng.normal(0, s, image.shape), 0, 1) for s in (0.02, 0.2))
    assert 1.0 > sk.ssim(slightly, image) > sk.ssim(badly, image)


def test_texture_correlation_sees_detail_that_psnr_barely_does():
    """The residual after a Gaussian blur, correlated: 1 for the image itself (and for any brightness
    offset, which the blur removes), near 0 for a blurred copy or one with its detail moved, ``None``
    for a reference with no detail; checked against the same correlation computed directly."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(3)
    image = np.clip(0.5 + 0.1 * rng.normal(size=(48, 40, 2)), 0.2, 0.8)  # detail at every scale
    assert sk.texture_correlation(image, image) == pytest.approx(1.0)
    assert sk.texture_correlation(np.clip(image + 0.1, 0, 1), image) == pytest.approx(1.0, abs=1e-6)
    blurred = gaussian_filter(image, (3, 3, 0), mode="nearest")
    shifted = np.roll(image, 5, axis=1)
    assert abs(sk.texture_correlation(blurred, image)) < 0.2
    assert abs(sk.texture_correlation(shifted, image)) < 0.2
    assert sk.texture_correlation(image, np.full_like(image, 0.3)) is None
    noisy = np.clip(image + rng.normal(0, 0.05, image.shape), 0, 1)
    high = [a - gaussian_filter(a, (1.5, 1.5, 0), mode="nearest") for a in (noisy, image)]
    direct = np.corrcoef(high[0].ravel(), high[1].ravel())[0, 1]  # the residuals have mean ≈ 0
    assert sk.texture_correlation(noisy, image) == pytest.approx(direct, abs=0.01)
    assert 0.2 < sk.texture_correlation(noisy, image) < 0.95


def sphere_points(count: int, radius: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    directions = np.random.default_rng(seed).normal(size=(count, 3))
    normals = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    return radius * normals, normals


def test_surface_distances_between_concentric_spheres_are_their_gap():
    """Samples along the same directions on spheres of radius 1 and 1.1: each point's nearest
    neighbour on the other sphere is its radial partner, 0.1 away (any other point is further), so
    the distances are known exactly; the F-score flips where the threshold passes the gap."""
    inner, normals = sphere_points(5000, 1.0)
    outer = inner * 1.1
    result = surface_distances(inner, normals, outer, normals, diagonal=2.0)
    assert result["chamfer_l1"] == pytest.approx(0.05)  # 0.1 over the diagonal
    assert result["chamfer_squared"] == pytest.approx(0.0025)
    assert result["normal_consistency"] == pytest.approx(1.0)
    assert result["fscore_threshold"] == 0.01 and result["fscore"] == 0.0  # 0.01 · 2 < 0.1
    below = surface_distances(inner, normals, outer, normals, diagonal=2.0, threshold=0.0499)
    above = surface_distances(inner, normals, outer, normals, diagonal=2.0, threshold=0.0501)
    assert below["fscore"] == 0.0 and above["fscore"] == 1.0
    assert above["fscore_precision"] == above["fscore_recall"] == 1.0


def test_f_score_is_the_harmonic_mean_of_precision_and_recall():
    """Half the reconstruction lies on the reference, half 0.5 away; the reference is all covered."""
    reference, normals = sphere_points(4000, 1.0)
    estimate = np.concatenate([reference, reference[:2000] * 1.5])
    result = surface_distances(estimate, np.concatenate([normals, normals[:2000]]), reference, normals,
                               diagonal=1.0, threshold=0.1)
    assert result["fscore_precision"] == pytest.approx(4000 / 6000)
    assert result["fscore_recall"] == 1.0
    assert result["fscore"] == pytest.approx(2 * (2 / 3) / (2 / 3 + 1))


def test_normal_consistency_ignores_orientation_and_sees_perpendicular_normals():
    points, normals = sphere_points(2000, 1.0)
    flipped = surface_distances(points, -normals, points, normals, diagonal=1.0)
    assert flipped["normal_consistency"] == pytest.approx(1.0)
    tangent = np.cross(normals, [0.0, 0.0, 1.0])
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    assert surface_distances(points, tangent, points, normals, diagonal=1.0)["normal_consistency"] < 1e-6
    with pytest.raises(ValueError, match="samples on both surfaces"):
        surface_distances(points[:0], normals[:0], points, normals, diagonal=1.0)


def test_compare_meshes_of_concentric_spheres(monkeypatch):
    """Icospheres of radius 1 and 1.1: Chamfer-L1 is the gap over the reference's diagonal (plus a
    little for the spacing of 20,000 samples), the F-score at 1 % is 0, and the IoU of the two
    watertight volumes is (1/1.1)³."""
    monkeypatch.setattr(metrics, "volume_iou", lambda a, b: volume_iou(a, b, voxels=32))  # 128 takes seconds
    small = trimesh.creation.icosphere(subdivisions=4, radius=1.0)
    large = trimesh.creation.icosphere(subdivisions=4, radius=1.1)
    result = compare_meshes(small, large, samples=20_000)
    diagonal = 2.2 * math.sqrt(3)
    assert result["diagonal"] == pytest.approx(diagonal, rel=1e-3) and result["samples"] == 20_000
    assert 0.995 * 0.1 / diagonal < result["chamfer_l1"] < 1.03 * 0.1 / diagonal  # measured 1.01×
    assert result["fscore"] == 0.0
    assert result["iou"] == pytest.approx(1 / 1.1**3, abs=0.02)
    loose = compare_meshes(small, large, samples=20_000, threshold=1.5 * 0.1 / diagonal)
    assert loose["fscore"] > 0.99
    opened = trimesh.Trimesh(large.vertices, large.faces[1:], process=False)  # one face missing
    assert "iou" not in compare_meshes(small, opened, samples=2000)


def test_ms_ssim_with_one_scale_is_gaussian_window_ssim():
    from skimage.metrics import structural_similarity

    from sirenkit.metrics import ms_ssim

    rng = np.random.default_rng(0)
    reference = rng.uniform(size=(16, 20, 3))  # too small for a second scale
    estimate = np.clip(reference + rng.normal(0, 0.1, reference.shape), 0, 1)
    expected = np.mean([structural_similarity(estimate[..., c], reference[..., c], data_range=1.0,
                                              gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
                        for c in range(3)])
    assert ms_ssim(estimate, reference) == pytest.approx(expected, abs=1e-9)


def test_ms_ssim_orders_distortions_and_is_one_for_equal_images():
    from skimage.data import astronaut

    from sirenkit.metrics import ms_ssim

    reference = astronaut()[:256, :256] / 255.0
    rng = np.random.default_rng(1)
    assert ms_ssim(reference, reference) == pytest.approx(1.0)
    light, heavy = (np.clip(reference + rng.normal(0, sigma, reference.shape), 0, 1) for sigma in (0.02, 0.1))
    assert 1.0 > ms_ssim(light, reference) > ms_ssim(heavy, reference) > 0
    with pytest.raises(ValueError, match="11×11"):
        ms_ssim(reference[:8, :8], reference[:8, :8])
