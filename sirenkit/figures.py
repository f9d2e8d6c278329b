"""Figures written into run folders, written atomically.

Figures are `matplotlib.figure.Figure` objects drawn by the Agg renderer when they are saved;
pyplot is never imported, so sirenkit neither switches matplotlib's backend nor keeps figures
open: a notebook's inline figures stay as they are. The texts a caller gives (titles, labels) are
drawn as written (`sirenkit.text.figure_text`), never as mathtext: a title that holds a file's name
is drawn whatever the name (bytes that are not UTF-8 and control characters escaped, `$` signs as
they are), instead of failing the figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from mpl_toolkits.axes_grid1 import make_axes_locatable

from sirenkit.io import atomic_write_path
from sirenkit.text import figure_text

PREVIEW_SIDE = 256
"""The longest side of a picture in a contact sheet or a progress figure, and half the points of a
waveform there: signals are shrunk to this as they are read, so such figures hold a few megabytes
whatever the signals' size."""


def thumbnail(picture: np.ndarray, side: int = PREVIEW_SIDE) -> np.ndarray:
    """`picture` (H, W, C) with its longest side at most `side`, anti-aliased, float32."""
    from skimage.transform import resize

    scale = side / max(picture.shape[:2])
    if scale >= 1:
        return picture.astype(np.float32)
    shape = (max(1, round(picture.shape[0] * scale)), max(1, round(picture.shape[1] * scale)), *picture.shape[2:])
    return resize(picture, shape, anti_aliasing=True, preserve_range=True).astype(np.float32)


def envelope(sound: np.ndarray, bins: int = PREVIEW_SIDE) -> np.ndarray:
    """A waveform of at most `2 bins` points that draws as `sound` does: each bin's lowest and
    highest sample, in turn (a plot of every sample of an hour of sound is 1.2 GB)."""
    if len(sound) <= 2 * bins:
        return sound.astype(np.float32)
    parts = np.array_split(sound, bins)
    return np.stack([[part.min(), part.max()] for part in parts]).reshape(-1).astype(np.float32)


def new_figure(rows: int = 1, columns: int = 1, *, figsize: tuple[float, float], **subplots: Any) -> tuple[Figure, Any]:
    """A figure outside pyplot and its axes (`Figure.subplots`: one axis, or an array of them)."""
    figure = Figure(figsize=figsize)
    return figure, figure.subplots(rows, columns, **subplots)


def save_figure(figure: Figure, path: str | Path, *, dpi: int = 110) -> None:
    """Save `figure` (rendered by Agg, whatever the session's backend) without ever leaving a
    half-written file."""
    atomic_write_path(path, lambda temporary: figure.savefig(temporary, dpi=dpi, bbox_inches="tight"))


def _show_image(axis: Axes, pixels: np.ndarray) -> None:
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim == 3 and pixels.shape[2] == 2:  # grey + alpha: show the grey
        pixels = pixels[:, :, 0]
    axis.imshow(np.clip(pixels, 0, 1), cmap="gray" if pixels.ndim == 2 else None, vmin=0, vmax=1)


def image_rows_figure(
    rows: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
    path: str | Path,
    *,
    title: str | None = None,
) -> None:
    """One row per entry `(label, image (H, W, C), gradient magnitude (H, W), Laplacian (H, W))`:
    columns image, |∇|, Δ. Derivative colour scales are shared by all rows and set by the first
    (the ground truth), so that rows compare directly; a colour bar beside the first row shows them."""
    gradient_scale = float(np.percentile(rows[0][2], 99.5)) or 1.0
    laplacian_scale = float(np.percentile(np.abs(rows[0][3]), 97.0)) or 1.0
    height, width = rows[0][1].shape[:2]
    panel = 3.2
    figure, axes = new_figure(len(rows), 3, figsize=(3 * panel, len(rows) * panel * height / width + 0.4),
                              squeeze=False)
    for row, (label, image, gradient, laplacian) in enumerate(rows):
        _show_image(axes[row, 0], image)
        shown = (axes[row, 1].imshow(gradient, cmap="gray", vmin=0, vmax=gradient_scale),
                 axes[row, 2].imshow(laplacian, cmap="RdBu_r", vmin=-laplacian_scale, vmax=laplacian_scale))
        # the shared scales beside the first row's derivative maps; as much room left empty beside the
        # other panels, so that every panel keeps one size
        for column, mappable in zip((0, 1, 2), (None, *shown)):
            bar = make_axes_locatable(axes[row, column]).append_axes("right", size="4%", pad=0.04)
            if row == 0 and mappable is not None:
                figure.colorbar(mappable, cax=bar).ax.tick_params(labelsize=7)
            else:
                bar.axis("off")
        axes[row, 0].set_ylabel(figure_text(label), fontsize=10)
        for column, heading in enumerate(("image", "gradient magnitude |∇f|", "Laplacian Δf")):
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
            if row == 0:
                axes[row, column].set_title(heading, fontsize=10)
    if title:
        figure.suptitle(figure_text(title), fontsize=11)
    # the title keeps its own 0.4 inch: tight_layout alone lets a tall figure's column headings run into it
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.4 / figure.get_figheight()) if title else None)
    save_figure(figure, path)


def curve_figure(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    log_y: bool = False,
) -> None:
    """Line plot of named `(x, y)` series (a PSNR-per-step curve, loss terms, ...)."""
    figure, axis = new_figure(figsize=(6, 3.6))
    for label, (xs, ys) in series.items():
        axis.plot(xs, ys, label=figure_text(label), marker="." if len(xs) < 40 else None)
    axis.set_xlabel(figure_text(xlabel))
    axis.set_ylabel(figure_text(ylabel))
    if log_y:
        axis.set_yscale("log")
    axis.grid(True, alpha=0.3)
    if len(series) > 1:
        axis.legend()
    if title:
        axis.set_title(figure_text(title), fontsize=11)
    figure.tight_layout()
    save_figure(figure, path)
