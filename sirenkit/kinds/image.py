"""The image kind: a network ``(x, y) → C`` intensities (grey, grey + alpha, RGB, RGBA).

Coordinates follow :mod:`sirenkit.image` (the longer side spans [-1, 1], equal spacing on both
axes); the network fits ``2 I − 1``. Fitting the pixels is one constraint ``Φ(x) − f(x) = 0`` on
the pixel grid; reconstruction from derivatives and fusion (:mod:`sirenkit.tasks.poisson`,
:mod:`sirenkit.tasks.fusion`) are other problems on this kind, rendered, measured and written the
same way.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..config import NetworkConfig, TrainConfig
from ..constraints import Constraint, PointSet, Problem
from ..image import ImageSignal, coordinate_grid, grid_spacing, image_extent, image_gradient, image_laplacian
from ..metrics import psnr, ssim
from ..render import WHATS, What, evaluate_points, gradient_magnitude_map, laplacian_map, save_png, to_png_array
from ..resources import check_memory
from . import INTENSITY_OFFSET, INTENSITY_SCALE, PROMISED_SECONDS, Fitted, SignalKind, article, register_kind

IMAGE_BATCH = 8192
"""Random pixels per step of the default image recipe where bfloat16 is native."""
IMAGE_BATCH_FLOAT32 = 4096
"""Random pixels per step of the default image recipe in float32: there a step costs about twice
as much, and twice the steps of half the pixels reach more in the same time (53 s of fitting,
float32 on the 2-core Xeon: camera 42.5 against 37.1 dB, astronaut 39.1 against 36.3, coffee 36.9
against 36.2)."""

MapRow = tuple[str, np.ndarray, np.ndarray, np.ndarray]
"""A figure row: label, image ``(H, W, C)``, gradient magnitude ``(H, W)``, Laplacian ``(H, W)``."""


@register_kind
@dataclass(frozen=True, kw_only=True)
class ImageKind(SignalKind):
    """An image of ``shape = (H, W)`` pixels and ``channels`` channels (``mode`` L, LA, RGB, RGBA)."""

    name: ClassVar[str] = "image"
    in_features: ClassVar[int] = 2
    suffixes: ClassVar[tuple[str, ...]] = (".png",)
    render_options: ClassVar[tuple[str, ...]] = ("size", "what")
    target_metric: ClassVar[str] = "psnr"

    shape: tuple[int, int]
    """``(H, W)`` of the fitted image."""
    channels: int
    mode: str
    """``L``, ``LA``, ``RGB`` or ``RGBA``: colour images show derivative maps of their luminance."""
    extent: tuple[float, float]
    """Half-widths ``(x, y)`` of the area the image covers (:func:`sirenkit.image.image_extent`)."""
    output_scale: float = INTENSITY_SCALE
    output_offset: float = INTENSITY_OFFSET
    """The network fits ``output_scale · I + output_offset``."""
    bit_depth: int = 8

    @classmethod
    def describe(cls, signal: ImageSignal) -> ImageKind:
        return cls(source=signal.name, shape=signal.shape, channels=signal.channels, mode=signal.mode,
                   extent=image_extent(signal.shape), bit_depth=signal.bit_depth)

    @property
    def out_features(self) -> int:
        return self.channels

    def network(self, model: str = "siren", **settings: Any) -> NetworkConfig:
        """The paper's image network (2 → 256 × 4 → C), or a baseline of that size."""
        settings.setdefault("pe_sidelength", max(self.shape))
        return super().network(model, **settings)

    def train_config(self, *, precision: str = "auto", device: str = "auto") -> TrainConfig:
        """sirenkit's default image recipe, chosen by the sweep in ``benchmarks/sweep.py`` over four
        different images (README, "Speed"): random subsets of 8,192 pixels per step (every pixel
        when the image has fewer), 1,500 steps, Adam at 1e-3 with a cosine decay, bfloat16 matrix
        products where the hardware has them. It reached 40 dB soonest on all four images. Where
        the steps run in float32 (``precision`` and ``device`` resolved as the fit will), 4,096
        pixels per step (:data:`IMAGE_BATCH_FLOAT32`).

        Against the paper's recipe (every pixel, Adam at 1e-4) it reaches 40 dB on camera 256² in a
        fraction of the time: many cheap, noisy steps make the early progress, and the decaying rate
        then averages the noise away. A peak rate of 2e-3 was faster on some images and broke the fit
        of others; 4,096 pixels per step ended higher on three images but reached 40 dB later.
        """
        from ..training import resolve_device, resolve_precision

        chosen = TrainConfig(steps=1500, learning_rate=1e-3, precision=precision, device=device,  # type: ignore[arg-type]
                             time_budget=PROMISED_SECONDS["image"])
        native = resolve_precision(chosen, resolve_device(device)) == "bfloat16"
        batch = IMAGE_BATCH if native else IMAGE_BATCH_FLOAT32
        return dataclasses.replace(chosen, batch_size=None if self.shape[0] * self.shape[1] <= batch else batch)

    def to_network(self, intensities: torch.Tensor) -> torch.Tensor:
        """Intensities in [0, 1] → network units."""
        return intensities * self.output_scale + self.output_offset

    def problem(self, signal: ImageSignal, *, batch_size: int | None, device: torch.device) -> Problem:
        """Fit the pixel values: one constraint on the whole grid (or a random subset per step)."""
        coords = coordinate_grid(self.shape, device=device)
        targets = self.to_network(torch.from_numpy(signal.pixels.reshape(-1, self.channels)).to(device))
        domain = PointSet(coords, {"target": targets}, batch_size=batch_size)
        return Problem([Constraint("image", lambda fields: fields.value - fields.data["target"], domain)])

    def render(self, model: nn.Module, *, size: tuple[int, int] | None = None, what: What = "value",
               clip: bool = True, chunk_size: int | None = None) -> np.ndarray:
        """The image at ``size = (width, height)`` (the original by default) over the area the
        original covered. ``value``: ``(H, W, C)`` intensities, clipped to [0, 1] unless ``clip`` is
        false; ``gradient``: ``(H, W, C, 2)`` in intensity per coordinate unit; ``laplacian``:
        ``(H, W, C)``."""
        if what not in WHATS:
            raise ValueError(f"unknown quantity {what!r}; expected one of {', '.join(WHATS)}")
        height, width = self.shape if size is None else (size[1], size[0])
        if width < 1 or height < 1:
            raise ValueError(f"render size must be positive, got {width}×{height}")
        outputs = self.channels * (2 if what == "gradient" else 1)
        check_memory(height * width * (4 * (2 + 2 * outputs) + 8), f"rendering the {what} at {width}×{height}",
                     "choose a smaller --size")
        coords = coordinate_grid((height, width), self.extent)
        values = evaluate_points(model, coords, what, chunk_size=chunk_size).numpy()
        if what == "value":
            intensity = ((values - self.output_offset) / self.output_scale).reshape(height, width, self.channels)
            return np.clip(intensity, 0.0, 1.0) if clip else intensity
        shape = (height, width, self.channels) + ((2,) if what == "gradient" else ())
        return (values / self.output_scale).reshape(shape)

    def measure(self, rendered: np.ndarray, signal: ImageSignal, *, final: bool = True) -> dict[str, Any]:
        metrics: dict[str, Any] = {"psnr": psnr(rendered, signal.pixels)}
        if final:
            metrics["ssim"] = ssim(rendered, signal.pixels)
        return metrics

    def summary(self, signal: Any, history: list[dict[str, float]], network: NetworkConfig) -> dict[str, Any]:
        return {"shape": list(self.shape), "channels": self.channels}

    def metric_ceiling(self, metric: str) -> float | None:
        """The PSNR of rounding to the written file's levels (8 bits: 58.9 dB; 16 bits for a
        16-bit input)."""
        return quantisation_psnr(16 if self.bit_depth == 16 else 8) if metric == "psnr" else None

    def conventions(self) -> dict[str, str]:
        return {"psnr_convention": "dB on intensities in [0, 1], clipped, over all pixels and channels"}

    def maps(self, model: nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """The network's gradient-magnitude and Laplacian maps ``(H, W)`` (luminance, exact)."""
        return (gradient_magnitude_map(self.render(model, what="gradient"), self.mode),
                laplacian_map(self.render(model, what="laplacian"), self.mode))

    def write_run(self, fitted: Fitted, signal: ImageSignal, out: Path, *, reference_rows: Sequence[MapRow] = (),
                  label: str | None = None, title: str | None = None, curve: str = "PSNR (dB)",
                  curve_title: str = "PSNR per step") -> None:
        """``reconstruction.png``, ``figure.png`` (the reference rows, ground truth by default,
        over the network's image and exact derivative maps), ``psnr.png``, metrics and history."""
        from ..figures import curve_figure, image_rows_figure
        from ..fitting import history_series
        from ..io import write_json

        image = np.clip(fitted.products["reconstruction"], 0.0, 1.0)
        save_png(out / "reconstruction.png", np.round(image * 255.0).astype(np.uint8))
        metrics = fitted.metrics
        rows = list(reference_rows) or [("ground truth", *finite_difference_maps(signal.pixels, self.mode))]
        name = fitted.network.model
        rows.append((f"{name}\n{label}" if label else f"{name}: {metrics['psnr']:.2f} dB", image,
                     *self.maps(fitted.model)))
        default_title = f"{Path(self.source).name} {self.shape[1]}×{self.shape[0]}"
        image_rows_figure(rows, out / "figure.png",
                          title=f"{title or default_title}, {metrics['steps']} steps, {metrics['seconds']:.0f} s")
        curve_figure({name: history_series(fitted.history, "psnr")}, out / "psnr.png", xlabel="step",
                     ylabel=curve, title=curve_title)
        write_json(out / "history.json", fitted.history)
        write_json(out / "metrics.json", metrics)

    def write_rendering(self, rendered: np.ndarray, path: Path, *, what: What = "value", **sampling: Any) -> str:
        if what == "gradient":
            rendered = gradient_magnitude_map(rendered, self.mode)
        elif what == "laplacian":
            rendered = laplacian_map(rendered, self.mode)
        save_png(path, to_png_array(rendered, what))
        return f"{rendered.shape[1]}×{rendered.shape[0]} {what}"


def finite_difference_maps(pixels: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(H, W, C)`` pixels with their gradient-magnitude and Laplacian maps (luminance, in
    coordinate units) by finite differences."""
    spacing = grid_spacing(pixels.shape[:2])
    gradient = gradient_magnitude_map(image_gradient(pixels, spacing), mode)
    laplacian = laplacian_map(image_laplacian(pixels, spacing), mode)
    return pixels, gradient, laplacian


def render_image(fitted: Fitted, size: tuple[int, int] | None = None, what: What = "value", *,
                 chunk_size: int | None = None) -> np.ndarray:
    """A fitted image at ``size = (width, height)`` (the original by default): ``(H, W, C)``
    intensities in [0, 1], or its ``gradient`` ``(H, W, C, 2)`` or ``laplacian`` ``(H, W, C)``
    (:meth:`ImageKind.render`)."""
    if not isinstance(fitted.kind, ImageKind):
        raise ValueError(f"{fitted.out}: holds {article(fitted.kind.name)} {fitted.kind.name} model, not an image")
    return fitted.kind.render(fitted.model, size=size, what=what, chunk_size=chunk_size)


def quantisation_psnr(bits: int) -> float:
    """PSNR in dB of rounding intensities in [0, 1] to ``bits`` bits (an error uniform over one
    level: its mean square is a twelfth of the squared level spacing)."""
    return 10 * math.log10(12 * (2**bits - 1) ** 2)
