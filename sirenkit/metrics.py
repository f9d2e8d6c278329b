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
