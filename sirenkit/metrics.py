"""Quality measures (DESIGN.md §5)."""

from __future__ import annotations

import math

import numpy as np


def psnr(estimate: np.ndarray, reference: np.ndarray, *, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over all entries; intensities in [0, ``peak``].

    The estimate is clipped to [0, peak] first, as an image viewer would show it.
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
    """Structural similarity of ``(H, W, C)`` images in [0, 1] (scikit-image, 7×7 window, or the
    largest odd window that fits); ``None`` for images smaller than 3×3."""
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


TEXTURE_SIGMA = 1.5
"""Width in pixels of the Gaussian whose residual is the "fine texture" of :func:`texture_correlation`."""


def texture_correlation(estimate: np.ndarray, reference: np.ndarray, *, sigma: float = TEXTURE_SIGMA) -> float | None:
    """How much of the reference's fine texture an ``(H, W, C)`` estimate has in place: the correlation
    (over all pixels and channels) of the two images' high-pass residuals ``I − G_σ * I``. 1 = every
    detail finer than about σ pixels where it belongs; 0 = none (a blurred estimate, or one whose
    detail is elsewhere). PSNR barely sees this; it is what tells a reconstruction from derivatives
    with its texture from a smooth one of the same PSNR. ``None`` when the reference has no texture."""
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
"""Points sampled on each surface for Chamfer distance and F-score (DESIGN.md §5: at least 100k)."""
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
    ``(N, 3)`` with unit normals (DESIGN.md §5); ``diagonal`` normalises the distances, and the
    F-score counts distances below ``threshold · diagonal``."""
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


def compare_meshes(estimate, reference, *, samples: int = METRIC_SAMPLES, threshold: float = FSCORE_THRESHOLD,
                   seed: int = 0) -> dict[str, float]:
    """:func:`surface_distances` between two ``trimesh.Trimesh`` from ``samples`` points drawn
    uniformly on each, normalised by the reference's bounding-box diagonal. Adds the IoU of the
    two volumes (voxelised, 128 cells along the longest side) where both meshes are watertight."""
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
    ``voxels`` cells along the reference's longest side (surface voxels, then filled inside)."""
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
