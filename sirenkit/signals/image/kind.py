"""The image kind: a network `(x, y) → C` intensities (grey, grey + alpha, RGB, RGBA).

Coordinates follow `sirenkit.signals.image.data` (the longer side spans [-1, 1], equal spacing on both
axes); the network fits `2 I − 1`. Fitting the pixels is one constraint `Φ(x) − f(x) = 0` on
the pixel grid; reconstruction from derivatives and fusion (`sirenkit.studies.poisson`,
`sirenkit.studies.fusion`) are other problems on this kind, rendered, measured and written the
same way.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from sirenkit.engine.config import TrainConfig
from sirenkit.engine.kinds import PROMISED_SECONDS, Fitted, SignalKind, article, evaluation_interval, register_kind
from sirenkit.io import atomic_write_path
from sirenkit.metrics import Metric, psnr, ssim
from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.evaluate import WHATS, What, evaluate_points
from sirenkit.pictures import PngRows, gradient_magnitude_map, laplacian_map, map_scale, save_png, to_png_array
from sirenkit.problems.constraints import Constraint, Problem
from sirenkit.problems.domains import PointSet
from sirenkit.resources import check_memory
from sirenkit.signals.image.data import (
    MAX_PIXELS,
    ImageSignal,
    coordinate_grid,
    grid_spacing,
    image_extent,
    image_gradient,
    image_laplacian,
    load_image,
)

INTENSITY_SCALE, INTENSITY_OFFSET = 2.0, -1.0
"""Intensities in [0, 1] are fitted as `2 I − 1` in [-1, 1], as in the paper (images, video)."""


IMAGE_BATCH = 8192
"""Random pixels per step of the default image recipe where bfloat16 is native."""
IMAGE_BATCH_FLOAT32 = 4096
"""Random pixels per step of the default image recipe in float32: there a step costs about twice
as much, and twice the steps of half the pixels reach more in the same time (53 s of fitting,
float32 on the 2-core Xeon: camera 42.5 against 37.1 dB, astronaut 39.1 against 36.3, coffee 36.9
against 36.2)."""

IMAGE_BYTES_PER_POINT = 6 * 4 * 256 * 4
"""Activation memory of one pixel in a training step of the default network (256 wide, 4 layers):
about six float32 values per unit kept for the backward pass; the GPU recipe's batch follows it
(`sirenkit.engine.policy.gpu_points`)."""

IMAGE_PLATEAU_PATIENCE = 2
"""Evaluations without a gain of 0.5 dB after which a fit aiming at a PSNR (`--until`) halves its
rate (`TrainConfig.plateau_patience`). At ω0 = 90 (256², 25 steps between evaluations), 40 dB came
at step 325 on camera instead of 525 (a cosine over 400 steps, the best schedule tried: 250), 350
with a patience of 3; on astronaut 450 instead of 650 with a patience of 3."""

IMAGE_STALL_CHECK = 100
"""The step of the image recipe's stall check (`TrainConfig.stall_check`): by then a photo that
will fit at Adam 1e-3 stands 2.8 dB (brick) to 15 dB (the terrier) above the best constant, and a
texture-dominated one that will not stands 0 to 1.4 dB above it (grass, gravel; float32 and
bfloat16)."""

RENDER_BAND_PIXELS = 1 << 20
"""Pixels rendered at a time when an image is written to a file: memory holds one such band."""
SCALE_SAMPLES = 1 << 22
"""Values a derivative map's colour scale is taken from: every value up to this many, evenly
spaced ones beyond (the 99.5th percentile of 4 million values is as good as of all)."""
MAP_IN_MEMORY_BYTES = 1 << 28
"""A derivative map larger than this (float32) waits for its colour scale in a temporary file."""

MapRow = tuple[str, np.ndarray, np.ndarray, np.ndarray]
"""A figure row: label, image `(H, W, C)`, gradient magnitude `(H, W)`, Laplacian `(H, W)`."""


@register_kind
@dataclass(frozen=True, kw_only=True)
class ImageKind(SignalKind):
    """An image of `shape = (H, W)` pixels and `channels` channels (`mode` L, LA, RGB, RGBA): what a
    fitted image's `kind` is.
    """

    name: ClassVar[str] = "image"
    in_features: ClassVar[int] = 2
    suffixes: ClassVar[tuple[str, ...]] = (".png",)
    input_suffixes: ClassVar[tuple[str, ...]] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
    score_names: ClassVar[tuple[str, ...]] = ("psnr", "ssim")
    contact_rows: ClassVar[int] = 2
    contact_title: ClassVar[str] = "ground truth (top) and fit (below)"
    render_options: ClassVar[tuple[str, ...]] = ("size", "what")
    target_metric: ClassVar[str] = "psnr"
    metrics: ClassVar[tuple[Metric, ...]] = (
        Metric("psnr", higher_is_better=True, unit="dB"),
        Metric("ssim", higher_is_better=True),
    )

    shape: tuple[int, int]
    """`(H, W)` of the fitted image."""
    channels: int
    """Number of channels `C`."""
    mode: str
    """`L`, `LA`, `RGB` or `RGBA`: colour images show derivative maps of their luminance."""
    extent: tuple[float, float]
    """Half-widths `(x, y)` of the area the image covers (`sirenkit.signals.image.data.image_extent`)."""
    output_scale: float = INTENSITY_SCALE
    """With `output_offset`: the network fits `output_scale · I + output_offset`."""
    output_offset: float = INTENSITY_OFFSET
    """The network fits `output_scale · I + output_offset`."""
    bit_depth: int = 8
    """Bits per channel of the input, and of the PNG written (8 or 16)."""

    def __post_init__(self) -> None:
        """A description (a received `model.json`'s) of an image no reader could have made is refused."""
        height, width = self.shape
        if min(self.shape) < 1 or height * width > MAX_PIXELS:
            raise ValueError(f"an image of {width}×{height} pixels (between 1 and {MAX_PIXELS:,} pixels are read)")
        if self.mode not in ("L", "LA", "RGB", "RGBA") or self.channels != len(self.mode):
            raise ValueError(f"an image of mode {self.mode!r} with {self.channels} channels (L, LA, RGB or RGBA)")
        if self.bit_depth not in (8, 16):
            raise ValueError(f"an image of {self.bit_depth} bits per channel (8 or 16)")

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
        """sirenkit's default image recipe, chosen by the sweep in `benchmarks/sweep.py` over four
        different images (docs, "Benchmarks"): random subsets of 8,192 pixels per step (every pixel
        when the image has fewer), 1,500 steps, Adam at 1e-3 with a cosine decay, bfloat16 matrix
        products where the hardware has them. It reached 40 dB soonest on all four images. Where
        the steps run in float32 (`precision` and `device` resolved as the fit will), 4,096
        pixels per step (`IMAGE_BATCH_FLOAT32`). On a GPU, every pixel per step, or as many as half
        its free memory holds (`sirenkit.engine.policy.gpu_points`): a GPU steps through a whole
        photo in about the time of a few thousand of its pixels. The PSNR is logged every 25 steps,
        less often on large images (`evaluation_interval`). A fit aiming at a PSNR (`until`)
        halves its rate when the PSNR stops gaining (`IMAGE_PLATEAU_PATIENCE`).

        Against the paper's recipe (every pixel, Adam at 1e-4) it reaches 40 dB on camera 256² in a
        fraction of the time: many cheap, noisy steps make the early progress, and the decaying rate
        then averages the noise away. A peak rate of 2e-3 was faster on some images and broke the fit
        of others; 4,096 pixels per step ended higher on three images but reached 40 dB later.
        """
        from sirenkit.engine.policy import gpu_points, resolve_device, resolve_precision

        chosen = TrainConfig(steps=1500, learning_rate=1e-3, precision=precision, device=device,  # type: ignore[arg-type]
                             time_budget=PROMISED_SECONDS["image"], stall_check=IMAGE_STALL_CHECK,
                             plateau_patience=IMAGE_PLATEAU_PATIENCE)
        where = resolve_device(device)
        native = resolve_precision(chosen, where) == "bfloat16"
        batch = IMAGE_BATCH if native else IMAGE_BATCH_FLOAT32
        pixels = self.shape[0] * self.shape[1]
        if where.type == "cuda":  # whole images per step where they fit
            batch = gpu_points(pixels, IMAGE_BYTES_PER_POINT, where) or pixels
        return dataclasses.replace(chosen, batch_size=None if pixels <= batch else batch,
                                   log_every=evaluation_interval(pixels, min(pixels, batch), every=chosen.log_every))

    def to_network(self, intensities: torch.Tensor) -> torch.Tensor:
        """Convert intensities to network units.

        Args:
            intensities: Values in [0, 1].

        Returns:
            `output_scale · intensities + output_offset`.
        """
        return intensities * self.output_scale + self.output_offset

    def problem(self, signal: ImageSignal, *, batch_size: int | None, device: torch.device) -> Problem:
        """Fit the pixel values: one constraint on the whole grid (or a random subset per step)."""
        coords = coordinate_grid(self.shape, device=device)
        targets = self.to_network(torch.from_numpy(signal.pixels.reshape(-1, self.channels)).to(device))
        domain = PointSet(coords, {"target": targets}, batch_size=batch_size)
        best_constant = float(targets.var(dim=0, unbiased=False).mean())  # the loss of each channel's mean
        return Problem([Constraint("image", lambda fields: fields.value - fields.data["target"], domain)],
                       metadata={"baseline_loss": best_constant})

    def render(self, model: nn.Module, *, size: tuple[int, int] | None = None, what: What = "value",
               clip: bool = True, chunk_size: int | None = None) -> np.ndarray:
        """Render the image over the area the original covered, at any size.

        Args:
            model: The fitted network.
            size: `(width, height)`; `None` is the original size.
            what: `"value"`, `"gradient"` or `"laplacian"`.
            clip: Clip values to [0, 1].
            chunk_size: Points evaluated at a time; `None` chooses.

        Returns:
            `value`: `(H, W, C)` intensities; `gradient`: `(H, W, C, 2)` in intensity per coordinate
            unit; `laplacian`: `(H, W, C)`.

        Raises:
            ValueError: An unknown `what`, a size below one pixel, or a rendering that would not fit
                in memory (`sirenkit render` streams it to a file instead).
        """
        height, width = self._render_shape(size, what)
        check_memory(height * width * self._bytes_per_pixel(what), f"rendering the {what} at {width}×{height}",
                     "choose a smaller --size, or write it to a file with sirenkit render, which streams it")
        return self._rows(model, (height, width), what, (0, height), clip=clip, chunk_size=chunk_size)

    def _render_shape(self, size: tuple[int, int] | None, what: What) -> tuple[int, int]:
        """`(H, W)` of a rendering at `size = (W, H)` (the original's by default); a
        `ValueError` for an unknown quantity or a size below one pixel."""
        if what not in WHATS:
            raise ValueError(f"unknown quantity {what!r}; expected one of {', '.join(WHATS)}")
        height, width = self.shape if size is None else (size[1], size[0])
        if width < 1 or height < 1:
            raise ValueError(f"render size must be positive, got {width}×{height}")
        return height, width

    def _bytes_per_pixel(self, what: What) -> int:
        """Memory a rendered pixel takes: coordinates, the network's outputs and their float copies."""
        return 4 * (2 + 2 * self.channels * (2 if what == "gradient" else 1)) + 8

    def _rows(self, model: nn.Module, shape: tuple[int, int], what: What, rows: tuple[int, int], *,
              clip: bool = True, chunk_size: int | None = None) -> np.ndarray:
        """Rows `first:stop` of the rendering at `shape = (H, W)` (see [`render`][sirenkit.ImageKind.render])."""
        coords = coordinate_grid(shape, self.extent, rows=rows)
        values = evaluate_points(model, coords, what, chunk_size=chunk_size).numpy()
        height, width = rows[1] - rows[0], shape[1]
        if what == "value":
            intensity = ((values - self.output_offset) / self.output_scale).reshape(height, width, self.channels)
            return np.clip(intensity, 0.0, 1.0) if clip else intensity
        return (values / self.output_scale).reshape((height, width, self.channels) + ((2,) * (what == "gradient")))

    def render_file(self, model: nn.Module, path: Path, *, size: tuple[int, int] | None = None,
                    what: What = "value", **sampling: Any) -> str:
        """Render band by band straight into a PNG (`PngRows`): memory
        holds one band of about a million pixels whatever the size. A derivative map's colour
        scale needs every value first: the map is kept in float32 in memory where it is small and
        in a temporary file beside `path` where it is not, then coloured band by band."""
        height, width = self._render_shape(size, what)
        band = max(1, RENDER_BAND_PIXELS // width)
        bands = [(first, min(first + band, height)) for first in range(0, height, band)]
        check_memory(band * width * self._bytes_per_pixel(what), f"rendering the {what} in bands of {band} rows",
                     "choose a smaller --size")
        channels = {"value": 1 if self.channels == 1 else self.channels, "gradient": 1, "laplacian": 3}[what]
        if what != "value":
            path.parent.mkdir(parents=True, exist_ok=True)
            check_map_disk((height, width), path.parent)
        show = tqdm(total=height, unit="row", desc=f"rendering {path.name}", disable=len(bands) < 8, leave=False)

        def rows_of(first_stop: tuple[int, int]) -> np.ndarray:
            rendered = self._rows(model, (height, width), what, first_stop)
            show.update(first_stop[1] - first_stop[0])
            if what == "gradient":
                return gradient_magnitude_map(rendered, self.mode).astype(np.float32)
            return laplacian_map(rendered, self.mode).astype(np.float32) if what == "laplacian" else rendered

        def write(temporary: Path) -> None:
            with open(temporary, "wb") as stream:
                png = PngRows(stream, width, height, channels)
                if what == "value":
                    for rows in bands:
                        png.write(to_png_array(rows_of(rows), what))
                else:
                    with map_store((height, width), path.parent) as values:
                        stride = max(1, math.ceil(height * width / SCALE_SAMPLES))
                        samples = []
                        for first, stop in bands:
                            values[first:stop] = rows_of((first, stop))
                            offset = (-first * width) % stride  # every stride-th pixel of the whole map
                            samples.append(np.asarray(values[first:stop]).reshape(-1)[offset::stride])
                        scale = map_scale(np.concatenate(samples))
                        for first, stop in bands:
                            png.write(to_png_array(np.asarray(values[first:stop]), what, scale))
                png.close()

        try:
            atomic_write_path(path, write)
        finally:
            show.close()
        return f"{width}×{height} {what}"

    def preview(self, model: nn.Module | None, signal: ImageSignal) -> np.ndarray:
        from sirenkit.figures import thumbnail

        return thumbnail(signal.pixels if model is None else self.render(model))

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
        """The network's gradient-magnitude and Laplacian maps at the original size (of the luminance,
        exact).

        Args:
            model: The fitted network.

        Returns:
            `(gradient magnitude, Laplacian)`, each `(H, W)`.
        """
        return (gradient_magnitude_map(self.render(model, what="gradient"), self.mode),
                laplacian_map(self.render(model, what="laplacian"), self.mode))

    def write_run(self, fitted: Fitted, signal: ImageSignal, out: Path, *, reference_rows: Sequence[MapRow] = (),
                  label: str | None = None, title: str | None = None, curve: str = "PSNR (dB)",
                  curve_title: str = "PSNR of the whole image") -> None:
        """`reconstruction.png`, `figure.png` (the reference rows, ground truth by default,
        over the network's image and exact derivative maps), `psnr.png`, metrics and history."""
        from sirenkit.engine.history import history_series, logged_every
        from sirenkit.figures import curve_figure, image_rows_figure
        from sirenkit.io import write_json

        image = np.clip(fitted.products["reconstruction"], 0.0, 1.0)
        save_png(out / "reconstruction.png", np.round(image * 255.0).astype(np.uint8))
        metrics = fitted.metrics
        rows = list(reference_rows) or [("ground truth", *finite_difference_maps(signal.pixels, self.mode))]
        name = fitted.network.model
        rows.append((f"{name}\n{label}" if label else f"{name}: {metrics['psnr']:.2f} dB", image,
                     *self.maps(fitted.model)))
        default_title = f"{Path(self.source).name} {self.shape[1]}×{self.shape[0]}"
        budget = f"{metrics['steps']:,} steps, {metrics['seconds']:.0f} s"
        image_rows_figure(rows, out / "figure.png", title=f"{title or default_title}, {budget}")
        curve_figure({name: history_series(fitted.history, "psnr")}, out / "psnr.png", xlabel="step",
                     ylabel=curve, title=f"{title or default_title}: {curve_title}, "
                                         f"{logged_every(fitted.history, 'psnr')} ({budget})")
        write_json(out / "history.json", fitted.history)
        write_json(out / "metrics.json", metrics)

    @classmethod
    def contact_pictures(cls, run: Path, source: str) -> tuple[np.ndarray, np.ndarray]:
        """The photo at the size the run's `config.json` records and its `reconstruction.png`,
        each shrunk to a tile."""
        import imageio.v3 as iio

        from sirenkit.figures import thumbnail

        settings = json.loads((run / "config.json").read_text())[cls.name]
        truth = load_image(source, size=settings.get("size")).pixels
        saved = iio.imread(run / "reconstruction.png")
        fitted = np.asarray(saved, dtype=np.float32) / np.iinfo(saved.dtype).max
        return thumbnail(truth), thumbnail(fitted.reshape(truth.shape))

    @classmethod
    def draw_contact(cls, axes: Sequence[Any], row: dict[str, Any], truth: np.ndarray, fitted: np.ndarray) -> None:
        """The photo over its fit, the fit captioned with its PSNR."""
        grey = truth.shape[-1] == 1
        for ax, picture in zip(axes, (truth, fitted)):
            ax.imshow(picture[..., 0] if grey else np.clip(picture, 0, 1), cmap="gray" if grey else None,
                      vmin=0, vmax=1)
        axes[0].set_title(row["signal"], fontsize=8)
        axes[1].set_title(f"fit {row.get('psnr', float('nan')):.1f} dB", fontsize=8)

    def write_rendering(self, rendered: np.ndarray, path: Path, *, what: What = "value", **sampling: Any) -> str:
        if what == "gradient":
            rendered = gradient_magnitude_map(rendered, self.mode)
        elif what == "laplacian":
            rendered = laplacian_map(rendered, self.mode)
        save_png(path, to_png_array(rendered, what))
        return f"{rendered.shape[1]}×{rendered.shape[0]} {what}"


def check_map_disk(shape: tuple[int, int], folder: Path) -> bool:
    """Whether a float32 map of `shape` goes to a temporary file in `folder` (it is larger
    than `MAP_IN_MEMORY_BYTES`); a `ValueError` where the disk there cannot hold it."""
    size = shape[0] * shape[1] * 4
    if size <= MAP_IN_MEMORY_BYTES:
        return False
    free = shutil.disk_usage(folder).free
    if size > 0.9 * free:
        raise ValueError(f"{folder}: rendering a {shape[1]}×{shape[0]} derivative map needs ~{size / 1e9:.1f} GB of "
                         f"temporary disk space there, and {free / 1e9:.1f} GB are free; choose a smaller --size")
    return True


@contextmanager
def map_store(shape: tuple[int, int], folder: Path) -> Iterator[np.ndarray]:
    """A float32 array of `shape`: in memory when small, else a memory map on an unnamed
    temporary file in `folder` (the disk checked first), gone when the block ends."""
    if not check_map_disk(shape, folder):
        yield np.empty(shape, dtype=np.float32)
        return
    size = shape[0] * shape[1] * 4
    with tempfile.TemporaryFile(dir=folder, prefix=".sirenkit-map.") as handle:
        handle.truncate(size)
        values = np.memmap(handle, dtype=np.float32, mode="r+", shape=shape)
        try:
            yield values
        finally:
            del values


def finite_difference_maps(pixels: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(H, W, C)` pixels with their gradient-magnitude and Laplacian maps (luminance, in
    coordinate units) by finite differences."""
    spacing = grid_spacing(pixels.shape[:2])
    gradient = gradient_magnitude_map(image_gradient(pixels, spacing), mode)
    laplacian = laplacian_map(image_laplacian(pixels, spacing), mode)
    return pixels, gradient, laplacian


def render_image(fitted: Fitted, size: tuple[int, int] | None = None, what: What = "value", *,
                 chunk_size: int | None = None) -> np.ndarray:
    """Render a fitted image at any size.

    Args:
        fitted: A fitted or loaded image.
        size: `(width, height)`; `None` is the original size.
        what: `"value"`, `"gradient"` or `"laplacian"`.
        chunk_size: Points evaluated at a time; `None` chooses.

    Returns:
        `(H, W, C)` intensities in [0, 1], or the gradient `(H, W, C, 2)` or the Laplacian
        `(H, W, C)` ([`ImageKind.render`][sirenkit.ImageKind.render]).

    Raises:
        ValueError: A model that is not an image, or a size below one pixel.
    """
    if not isinstance(fitted.kind, ImageKind):
        raise ValueError(f"{fitted.out}: holds {article(fitted.kind.name)} {fitted.kind.name} model, not an image")
    return fitted.kind.render(fitted.model, size=size, what=what, chunk_size=chunk_size)


def quantisation_psnr(bits: int) -> float:
    """PSNR in dB of rounding intensities in [0, 1] to `bits` bits (an error uniform over one
    level: its mean square is a twelfth of the squared level spacing)."""
    return 10 * math.log10(12 * (2**bits - 1) ** 2)
