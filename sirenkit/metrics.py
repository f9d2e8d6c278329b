"""Quality measures: of images (PSNR, SSIM, MS-SSIM, texture correlation) and of meshes (Chamfer
distance, F-score, normal consistency, volume IoU)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import trimesh


@dataclass(frozen=True)
class Metric:
    """A figure a fit reports, and which way is better: what a target (`--until`,
    `TrainConfig.until`) and a folder's summary compare by.
    """

    name: str
    """The key the figure is logged under (`psnr`, `snr`, `chamfer_l1`, ...)."""
    higher_is_better: bool
    """True for a quality (PSNR, SSIM, F-score), False for an error (a distance, an RMSE)."""
    unit: str = ""
    """What the figure is counted in (`dB`), shown after it; empty for a ratio or a figure in the
    signal's own units."""

    def reached(self, value: float, target: float) -> bool:
        """Whether a value meets a target: at or above it for a quality, at or below it for an error.

        Args:
            value: The value reached.
            target: The target.

        Returns:
            Whether the target is met.
        """
        return value >= target if self.higher_is_better else value <= target


def psnr(estimate: np.ndarray, reference: np.ndarray, *, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over all entries.

    The estimate is clipped to [0, `peak`] first, as an image viewer would show it.

    Args:
        estimate: The reconstruction.
        reference: The ground truth, intensities in [0, `peak`], of the same shape.
        peak: The largest intensity.

    Returns:
        The PSNR in dB; infinite for identical arrays.

    Raises:
        ValueError: Arrays of different shapes.
    """
    estimate = np.clip(np.asarray(estimate, dtype=np.float64), 0.0, peak)
    reference = np.asarray(reference, dtype=np.float64)
    if estimate.shape != reference.shape:
        raise ValueError(f"shapes differ: {estimate.shape} and {reference.shape}")
    mse = float(np.mean((estimate - reference) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(peak**2 / mse)


def psnr_from_mse(mse: float, *, peak: float = 1.0) -> float:
    """PSNR in dB of a mean squared error on data with the given peak-to-peak range."""
    return math.inf if mse <= 0.0 else 10.0 * math.log10(peak**2 / mse)


def ssim(estimate: np.ndarray, reference: np.ndarray) -> float | None:
    """Structural similarity of two images (scikit-image, 7×7 window, or the largest odd window that
    fits).

    Args:
        estimate: `(H, W, C)` in [0, 1]; clipped to it.
        reference: `(H, W, C)` in [0, 1].

    Returns:
        The SSIM, or `None` for images smaller than 3×3.
    """
    from skimage.metrics import structural_similarity

    window = min(7, *reference.shape[:2])
    window -= 1 - window % 2  # odd
    if window < 3:
        return None
    return float(
        structural_similarity(
            np.clip(estimate, 0.0, 1.0), reference, data_range=1.0, channel_axis=-1, win_size=window
        )
    )


MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
"""Exponents of the five scales of [`ms_ssim`][sirenkit.ms_ssim] (Wang, Simoncelli & Bovik 2003)."""


def ms_ssim(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Multi-scale structural similarity (Wang, Simoncelli & Bovik 2003), as image codecs report it.

    An 11×11 Gaussian window (σ = 1.5), constants K1 = 0.01 and K2 = 0.03, five scales halved by
    2×2 averaging; contrast-structure at every scale and luminance at the coarsest, raised to
    `MS_SSIM_WEIGHTS` and multiplied, per channel, then averaged over the channels. An image too
    small for five scales (the coarsest must hold the window: 176 pixels on the shorter side) uses as
    many as it has, the weights renormalised. Negative terms count as 0. One scale is SSIM with the
    Gaussian window (scikit-image's `gaussian_weights`).

    Args:
        estimate: `(H, W, C)` in [0, 1]; clipped to it.
        reference: `(H, W, C)` in [0, 1], of the same shape.

    Returns:
        The MS-SSIM, in [0, 1].

    Raises:
        ValueError: Images of different shapes, not `(H, W, C)`, or smaller than 11×11.
    """
    from scipy.ndimage import gaussian_filter

    estimate = np.clip(np.asarray(estimate, dtype=np.float64), 0.0, 1.0)
    reference = np.asarray(reference, dtype=np.float64)
    if estimate.shape != reference.shape or estimate.ndim != 3:
        raise ValueError(f"expected two (H, W, C) images of one shape, got {estimate.shape} and {reference.shape}")
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and min(reference.shape[:2]) // 2**scales >= 11:
        scales += 1
    if min(reference.shape[:2]) < 11:
        raise ValueError(f"MS-SSIM needs at least 11×11 pixels, got {reference.shape[1]}×{reference.shape[0]}")
    weights = np.array(MS_SSIM_WEIGHTS[:scales]) / sum(MS_SSIM_WEIGHTS[:scales])
    c1, c2 = 0.01**2, 0.03**2

    def blur(image: np.ndarray) -> np.ndarray:  # (H, W, C): each channel alone; 3.5 σ: an 11-tap window
        return gaussian_filter(image, sigma=(1.5, 1.5, 0), truncate=3.5, mode="reflect")

    def halve(image: np.ndarray) -> np.ndarray:  # 2×2 means; an odd last row or column is dropped
        height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
        return image[:height, :width].reshape(height // 2, 2, width // 2, 2, -1).mean(axis=(1, 3))

    a, b = estimate, reference
    total = np.ones(reference.shape[2])
    for scale in range(scales):
        mean_a, mean_b = blur(a), blur(b)
        var_a = blur(a * a) - mean_a**2
        var_b = blur(b * b) - mean_b**2
        covariance = blur(a * b) - mean_a * mean_b
        contrast_structure = (2 * covariance + c2) / (var_a + var_b + c2)
        term = contrast_structure
        if scale == scales - 1:
            term = term * (2 * mean_a * mean_b + c1) / (mean_a**2 + mean_b**2 + c1)
        valid = term[5:-5, 5:-5].reshape(-1, reference.shape[2]).mean(axis=0)  # away from the padded border
        total *= np.maximum(valid, 0.0) ** weights[scale]
        a, b = halve(a), halve(b)
    return float(total.mean())


TEXTURE_SIGMA = 1.5
"""Width in pixels of the Gaussian whose residual is the "fine texture" of
[`texture_correlation`][sirenkit.texture_correlation]."""


def texture_correlation(estimate: np.ndarray, reference: np.ndarray, *, sigma: float = TEXTURE_SIGMA) -> float | None:
    """How much of the reference's fine texture an estimate has in place.

    The correlation (over all pixels and channels) of the two images' high-pass residuals
    `I − G_σ * I`: 1 = every detail finer than about σ pixels where it belongs; 0 = none (a blurred
    estimate, or one whose detail is elsewhere). PSNR barely sees this; it is what tells a
    reconstruction from derivatives with its texture from a smooth one of the same PSNR.

    Args:
        estimate: `(H, W, C)` in [0, 1].
        reference: `(H, W, C)` in [0, 1].
        sigma: Width in pixels of the Gaussian whose residual is the texture.

    Returns:
        The correlation, or `None` when the reference has no texture.
    """
    from scipy.ndimage import gaussian_filter

    def detail(image: np.ndarray) -> np.ndarray:
        image = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
        return image - gaussian_filter(image, sigma=(sigma, sigma, 0), mode="nearest")

    a, b = detail(estimate), detail(reference)
    energy = float((b * b).sum())
    if energy <= 1e-24 * b.size:  # rounding of a constant's blur, not detail
        return None
    norm = math.sqrt(float((a * a).sum()) * energy)
    return float((a * b).sum()) / norm if norm > 0 else 0.0


METRIC_SAMPLES = 200_000
"""Points sampled on each surface for Chamfer distance and F-score (at least 100k)."""
FSCORE_THRESHOLD = 0.01
"""F-score distance threshold, as a fraction of the reference's bounding-box diagonal."""

SURFACE_METRIC_CONVENTIONS = {
    "chamfer_l1": "mean Euclidean distance to the nearest point of the other surface, averaged over both "
                  "directions, divided by the reference's bounding-box diagonal",
    "chamfer_squared": "mean squared nearest-point distance, averaged over both directions, divided by the "
                       "squared bounding-box diagonal of the reference",
    "fscore": "harmonic mean of precision (reconstruction samples within the threshold of the reference) "
              "and recall (reference samples within the threshold of the reconstruction)",
    "normal_consistency": "mean |cos| between each sample's normal and its nearest neighbour's on the other "
                          "surface, averaged over both directions",
}


def surface_distances(
    points: np.ndarray, normals: np.ndarray, reference_points: np.ndarray, reference_normals: np.ndarray,
    *, diagonal: float, threshold: float = FSCORE_THRESHOLD,
) -> dict[str, float]:
    """Chamfer distances, F-score and normal consistency between two sets of surface samples
    `(N, 3)` with unit normals; `diagonal` normalises the distances, and the
    F-score counts distances below `threshold · diagonal`."""
    from scipy.spatial import cKDTree

    if len(points) == 0 or len(reference_points) == 0:
        raise ValueError("surface metrics need samples on both surfaces")
    to_reference, nearest_reference = cKDTree(reference_points).query(points, workers=-1)
    to_estimate, nearest_estimate = cKDTree(points).query(reference_points, workers=-1)
    to_reference, to_estimate = to_reference / diagonal, to_estimate / diagonal
    precision = float(np.mean(to_reference < threshold))
    recall = float(np.mean(to_estimate < threshold))
    fscore = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    cos_forward = np.abs(np.einsum("ij,ij->i", normals, reference_normals[nearest_reference]))
    cos_backward = np.abs(np.einsum("ij,ij->i", reference_normals, normals[nearest_estimate]))
    return {
        "chamfer_l1": float((to_reference.mean() + to_estimate.mean()) / 2),
        "chamfer_squared": float((np.square(to_reference).mean() + np.square(to_estimate).mean()) / 2),
        "fscore": fscore,
        "fscore_precision": precision,
        "fscore_recall": recall,
        "normal_consistency": float((cos_forward.mean() + cos_backward.mean()) / 2),
        "fscore_threshold": threshold,
    }


def compare_meshes(estimate: trimesh.Trimesh, reference: trimesh.Trimesh, *, samples: int = METRIC_SAMPLES,
                   threshold: float = FSCORE_THRESHOLD, seed: int = 0) -> dict[str, float]:
    """Compare a reconstructed mesh with a reference: Chamfer distances, F-score, normal consistency
    and, where both are watertight, the IoU of their volumes. This is `sirenkit eval-mesh`.

    Distances are measured between `samples` points drawn uniformly on each surface and divided by
    the reference's bounding-box diagonal; the IoU voxelises both volumes with 128 cells along the
    reference's longest side.

    Args:
        estimate: The reconstruction ([`load_mesh`][sirenkit.load_mesh] reads one).
        reference: The reference mesh.
        samples: Points drawn on each surface.
        threshold: The F-score's distance threshold, as a fraction of the diagonal.
        seed: Seed of the points drawn.

    Returns:
        `chamfer_l1`, `chamfer_squared`, `fscore` (with its precision, recall and threshold),
        `normal_consistency`, `diagonal`, `samples`, and `iou` where both meshes are watertight.
    """
    import trimesh

    diagonal = float(np.linalg.norm(reference.bounds[1] - reference.bounds[0]))
    points, faces = trimesh.sample.sample_surface(estimate, samples, seed=seed)
    reference_points, reference_faces = trimesh.sample.sample_surface(reference, samples, seed=seed + 1)
    result = surface_distances(points, estimate.face_normals[faces], reference_points,
                               reference.face_normals[reference_faces], diagonal=diagonal, threshold=threshold)
    result["diagonal"] = diagonal
    result["samples"] = samples
    if estimate.is_watertight and reference.is_watertight:
        result["iou"] = volume_iou(estimate, reference)
    return result


def volume_iou(estimate, reference, *, voxels: int = 128) -> float:
    """Intersection over union of two watertight meshes' volumes, on a common voxel grid of
    `voxels` cells along the reference's longest side (surface voxels, then filled inside)."""
    pitch = float((reference.bounds[1] - reference.bounds[0]).max()) / voxels
    origin = np.minimum(estimate.bounds[0], reference.bounds[0])

    def occupancy(mesh) -> np.ndarray:
        filled = mesh.voxelized(pitch).fill()
        index = np.round((filled.points - origin) / pitch).astype(np.int64)  # (V, 3) cell indices
        return index

    inside_a, inside_b = occupancy(estimate), occupancy(reference)
    shape = np.maximum(inside_a.max(axis=0), inside_b.max(axis=0)) + 1
    flat_a = np.unique(np.ravel_multi_index(inside_a.T, shape))
    flat_b = np.unique(np.ravel_multi_index(inside_b.T, shape))
    union = len(np.union1d(flat_a, flat_b))
    return len(np.intersect1d(flat_a, flat_b, assume_unique=True)) / union if union else 0.0
