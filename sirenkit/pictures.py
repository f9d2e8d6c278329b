"""Pictures of values and derivative maps: colour maps, and PNG files written row by row."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import IO

import numpy as np

from sirenkit.io import atomic_write_path
from sirenkit.networks.evaluate import What


def gradient_magnitude_map(gradient: np.ndarray, mode: str) -> np.ndarray:
    """`(H, W)` magnitude of the luminance gradient, from a per-channel `(H, W, C, 2)`
    gradient (luminance is linear, so its gradient is the weighted sum of the channels')."""
    grey = luminance(np.moveaxis(gradient, -1, 0), mode)  # (2, H, W)
    return np.sqrt((grey**2).sum(axis=0))


def laplacian_map(laplacian: np.ndarray, mode: str) -> np.ndarray:
    """`(H, W)` Laplacian of the luminance, from a per-channel `(H, W, C)` Laplacian."""
    return luminance(laplacian, mode)


def to_png_array(values: np.ndarray, what: What, scale: float | None = None) -> np.ndarray:
    """Turn a rendered quantity into 8-bit pixels: intensities as they are, gradient magnitude
    in grey from 0 to `scale`, the Laplacian in a blue-white-red map from `-scale` to
    `scale` (`scale` defaults to a high percentile of the data)."""
    if what == "value":
        pixels = values[..., 0] if values.shape[-1] == 1 else values
        return np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
    if scale is None:
        scale = map_scale(values)
    if what == "gradient":
        return np.round(np.clip(values / scale, 0.0, 1.0) * 255.0).astype(np.uint8)
    from matplotlib import colormaps

    normalised = np.clip(0.5 + 0.5 * values / scale, 0.0, 1.0)
    return np.round(colormaps["RdBu_r"](normalised)[..., :3] * 255.0).astype(np.uint8)


def map_scale(values: np.ndarray) -> float:
    """The end of a derivative map's colour scale: the 99.5th percentile of `|values|` (a few
    extreme pixels would otherwise wash the map out), else the largest, else 1."""
    magnitude = np.abs(values)
    return float(np.percentile(magnitude, 99.5)) or float(magnitude.max()) or 1.0


class PngRows:
    """A PNG written band of rows by band of rows, so that an image larger than memory can be
    rendered: 8-bit grey, grey + alpha, RGB or RGBA, one zlib stream over the filtered rows.

    Pillow, which writes every other PNG here, needs the whole image in memory; no dependency of
    the project streams rows. Each row takes the filter (none, Sub or Up) with the smallest sum of
    absolute differences, the heuristic the PNG specification recommends.
    """

    COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}
    """Channels → PNG colour type."""

    def __init__(self, stream: IO[bytes], width: int, height: int, channels: int, *, level: int = 6) -> None:
        import zlib

        if channels not in self.COLOUR_TYPES:
            raise ValueError(f"a PNG has 1 to 4 channels, got {channels}")
        self.stream, self.width, self.height, self.channels = stream, width, height, channels
        self.rows_written = 0
        self.previous = np.zeros((1, width * channels), dtype=np.uint8)
        self.compressor = zlib.compressobj(level)
        stream.write(b"\x89PNG\r\n\x1a\n")
        self._chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, self.COLOUR_TYPES[channels], 0, 0, 0))

    def _chunk(self, kind: bytes, data: bytes) -> None:
        import zlib

        self.stream.write(struct.pack(">I", len(data)) + kind + data
                          + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF))

    def write(self, rows: np.ndarray) -> None:
        """Append `(h, W)` or `(h, W, C)` uint8 rows."""
        rows = np.ascontiguousarray(rows, dtype=np.uint8).reshape(len(rows), -1)
        if rows.shape[1] != self.width * self.channels:
            raise ValueError(f"rows of {rows.shape[1]} bytes for a PNG {self.width} wide with {self.channels} channels")
        if self.rows_written + len(rows) > self.height:
            raise ValueError(f"more than the {self.height} rows of the PNG")
        above = np.concatenate([self.previous, rows[:-1]])
        left = np.zeros_like(rows)
        left[:, self.channels :] = rows[:, : -self.channels]
        candidates = np.stack([rows, rows - left, rows - above])  # none, Sub, Up (mod 256)
        cost = np.abs(candidates.view(np.int8).astype(np.int32)).sum(axis=2)  # (3, h)
        choice = cost.argmin(axis=0)
        filtered = candidates[choice, np.arange(len(rows))]
        lines = np.concatenate([choice.astype(np.uint8)[:, None], filtered], axis=1)
        data = self.compressor.compress(lines.tobytes())
        if data:
            self._chunk(b"IDAT", data)
        self.previous = rows[-1:]
        self.rows_written += len(rows)

    def close(self) -> None:
        """Finish the stream; a `ValueError` where rows are missing."""
        if self.rows_written != self.height:
            raise ValueError(f"the PNG has {self.rows_written} of its {self.height} rows")
        self._chunk(b"IDAT", self.compressor.flush())
        self._chunk(b"IEND", b"")


def save_png(path: str | Path, pixels: np.ndarray) -> None:
    """Write 8-bit pixels `(H, W)` or `(H, W, C)` atomically as PNG."""
    from PIL import Image

    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    atomic_write_path(path, lambda temporary: Image.fromarray(pixels).save(temporary, format="PNG"))


LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""Rec. 601 luma weights: colour images show derivative maps of their luminance."""


def luminance(values: np.ndarray, mode: str) -> np.ndarray:
    """The grey level of `(..., C)` values: the channel itself for `L`/`LA`, Rec. 601
    luma for `RGB`/`RGBA`. Alpha is ignored. Linear, so it commutes with derivatives."""
    if mode in ("L", "LA"):
        return values[..., 0]
    weights = LUMA_WEIGHTS.astype(values.dtype)
    return np.tensordot(values[..., :3], weights, axes=([-1], [0]))
