"""Evaluating a fitted network on grids of any size, in chunks, under ``no_grad``.

Because the network is a continuous function, an image can be rendered at any resolution
(super-resolution); the derivative maps come exactly from the network (DESIGN.md §2), not from
finite differences of the rendering.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

from .derivatives import derivatives
from .image import coordinate_grid, luminance
from .io import LoadedModel

What = Literal["value", "gradient", "laplacian"]
WHATS = ("value", "gradient", "laplacian")


def evaluate_points(
    model: nn.Module,
    coords: torch.Tensor,
    what: What = "value",
    *,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Evaluate ``model`` at ``coords: (N, d)`` in chunks, without keeping graphs.

    Returns ``(N, m)`` values, ``(N, m, d)`` Jacobians or ``(N, m)`` Laplacians, on the CPU.
    """
    if what not in WHATS:
        raise ValueError(f"unknown quantity {what!r}; expected one of {', '.join(WHATS)}")
    if chunk_size is None:
        chunk_size = 65536 if what == "value" else 16384
    device = next(model.parameters()).device
    pieces = []
    with torch.no_grad():
        for start in range(0, coords.shape[0], chunk_size):
            chunk = coords[start : start + chunk_size].to(device)
            fields = derivatives(
                model, chunk, jacobian=what == "gradient", laplacian=what == "laplacian"
            )
            piece = {"value": fields.value, "gradient": fields.jacobian, "laplacian": fields.laplacian}[what]
            pieces.append(piece.detach().cpu())
    return torch.cat(pieces)


def image_output_to_intensity(values: np.ndarray, signal: dict) -> np.ndarray:
    """Map network outputs (or their derivatives, with ``derivative=True`` semantics: no offset)
    back to intensity units: ``I = (y - offset) / scale``."""
    return (values - signal["output_offset"]) / signal["output_scale"]


def render_image(
    loaded: LoadedModel,
    size: tuple[int, int] | None = None,
    what: What = "value",
    *,
    chunk_size: int | None = None,
) -> np.ndarray:
    """Render a fitted image at ``size = (width, height)`` (the original by default) over the
    area the original covered.

    ``value``: ``(H, W, C)`` intensities in [0, 1] (clipped). ``gradient``: ``(H, W, C, 2)``
    gradient in intensity per coordinate unit. ``laplacian``: ``(H, W, C)``.
    """
    signal = loaded.signal
    if signal.get("kind") != "image":
        raise ValueError(f"{loaded.path}: holds a {signal.get('kind', 'unknown')} model, not an image")
    height, width = signal["shape"] if size is None else (size[1], size[0])
    if width < 1 or height < 1:
        raise ValueError(f"render size must be positive, got {width}×{height}")
    coords = coordinate_grid((height, width), tuple(signal["extent"]))
    result = evaluate_points(loaded.model, coords, what, chunk_size=chunk_size).numpy()
    channels = signal["channels"]
    scale = signal["output_scale"]
    if what == "value":
        return np.clip(image_output_to_intensity(result, signal), 0.0, 1.0).reshape(height, width, channels)
    if what == "gradient":
        return (result / scale).reshape(height, width, channels, 2)
    return (result / scale).reshape(height, width, channels)


def gradient_magnitude_map(gradient: np.ndarray, mode: str) -> np.ndarray:
    """``(H, W)`` magnitude of the luminance gradient, from a per-channel ``(H, W, C, 2)``
    gradient (luminance is linear, so its gradient is the weighted sum of the channels')."""
    grey = luminance(np.moveaxis(gradient, -1, 0), mode)  # (2, H, W)
    return np.sqrt((grey**2).sum(axis=0))


def laplacian_map(laplacian: np.ndarray, mode: str) -> np.ndarray:
    """``(H, W)`` Laplacian of the luminance, from a per-channel ``(H, W, C)`` Laplacian."""
    return luminance(laplacian, mode)


def to_png_array(values: np.ndarray, what: What, scale: float | None = None) -> np.ndarray:
    """Turn a rendered quantity into 8-bit pixels: intensities as they are, gradient magnitude
    in grey from 0 to ``scale``, the Laplacian in a blue-white-red map from ``-scale`` to
    ``scale`` (``scale`` defaults to a high percentile of the data)."""
    if what == "value":
        pixels = values[..., 0] if values.shape[-1] == 1 else values
        return np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
    magnitude = np.abs(values)
    if scale is None:
        scale = float(np.percentile(magnitude, 99.5)) or float(magnitude.max()) or 1.0
    if what == "gradient":
        return np.round(np.clip(values / scale, 0.0, 1.0) * 255.0).astype(np.uint8)
    from matplotlib import colormaps

    normalised = np.clip(0.5 + 0.5 * values / scale, 0.0, 1.0)
    return np.round(colormaps["RdBu_r"](normalised)[..., :3] * 255.0).astype(np.uint8)
