"""The video kind: a network `(t, y, x) → C` intensities.

Coordinates follow `sirenkit.signals.video.data` (each axis from -1 to 1); the network fits `2 v − 1`.
Fitting is one constraint `Φ(t, y, x) − v(t, y, x) = 0` on random voxels of the clip; a
rendering can be at any frame rate and size, since the network is continuous in time and space.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from sirenkit.engine.config import TrainConfig
from sirenkit.engine.kinds import PROMISED_SECONDS, Fitted, SignalKind, register_kind
from sirenkit.metrics import Metric
from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.evaluate import evaluate_points
from sirenkit.problems.constraints import Constraint, Problem
from sirenkit.problems.domains import GridSamples
from sirenkit.resources import MAX_OUTPUT_PIXELS, check_memory
from sirenkit.signals.image.kind import INTENSITY_OFFSET, INTENSITY_SCALE
from sirenkit.signals.video.data import (
    VIDEO_OUT_FORMATS,
    VideoSignal,
    frame_coordinates,
    frame_psnrs,
    frame_strip_figure,
    frame_times,
    write_video,
)

VIDEO_BATCH = 16384
"""Random voxels per step of the default video recipe."""


@register_kind
@dataclass(frozen=True, kw_only=True)
class VideoKind(SignalKind):
    """A clip of `shape = (T, H, W)` with `channels` channels at `fps` frames per second: what a fitted
    clip's `kind` is.
    """

    name: ClassVar[str] = "video"
    in_features: ClassVar[int] = 3
    suffixes: ClassVar[tuple[str, ...]] = VIDEO_OUT_FORMATS
    render_options: ClassVar[tuple[str, ...]] = ("fps", "size", "frames")
    target_metric: ClassVar[str] = "psnr"
    metrics: ClassVar[tuple[Metric, ...]] = (Metric("psnr", higher_is_better=True, unit="dB"),)

    shape: tuple[int, int, int]
    """`(T, H, W)`: frames, height and width."""
    channels: int
    """Number of channels."""
    fps: float
    """Frames per second of the input."""
    output_scale: float = INTENSITY_SCALE
    """With `output_offset`: the network fits `output_scale · I + output_offset`."""
    output_offset: float = INTENSITY_OFFSET

    def __post_init__(self) -> None:
        """A description (a received `model.json`'s) of a clip no reader could have made is refused."""
        count, height, width = self.shape
        if min(self.shape) < 1 or height * width > MAX_OUTPUT_PIXELS or not 1 <= self.channels <= 4 or self.fps <= 0:
            raise ValueError(f"a clip of {count} frames of {width}×{height} with {self.channels} channels at "
                             f"{self.fps} frames per second (frames of at most {MAX_OUTPUT_PIXELS:,} pixels, "
                             "1 to 4 channels)")

    @classmethod
    def describe(cls, signal: VideoSignal) -> VideoKind:
        count, height, width = signal.shape
        return cls(source=signal.name, shape=(count, height, width), channels=signal.channels, fps=signal.fps)

    @property
    def out_features(self) -> int:
        return self.channels

    def network(self, model: str = "siren", **settings: Any) -> NetworkConfig:
        """3 → 256 × 4 → C with ω0 = 30 (the paper's clip used 1024 wide; see
        [`train_config`][sirenkit.VideoKind.train_config]), or a baseline of that size."""
        settings.setdefault("pe_sidelength", max(self.shape))
        return super().network(model, **settings)

    def train_config(self) -> TrainConfig:
        """sirenkit's default video recipe: random subsets of 16,384 voxels per step (every voxel of
        a smaller clip), 3,000 steps, Adam at 1e-3 with a cosine decay, bfloat16 where native.

        The paper fitted its clip with a 1024-wide network for 100,000 steps on a GPU; on a 24-frame
        80×64 colour clip (benchmarks/media.py) a 256-wide one reached 40 dB in 1,000 such steps (83 s
        on the 2-core CPU), a 512-wide one 54 dB in 207 s: `--width 512` for more, at 2.5× the time."""
        batch = None if int(np.prod(self.shape)) <= VIDEO_BATCH else VIDEO_BATCH
        return TrainConfig(steps=3000, learning_rate=1e-3, batch_size=batch, precision="auto", log_every=100,
                           time_budget=PROMISED_SECONDS["video"])

    def problem(self, signal: VideoSignal, *, batch_size: int | None, device: torch.device) -> Problem:
        """Fit the voxels (a random subset per step)."""
        targets = torch.from_numpy(signal.frames.reshape(-1, self.channels)).to(device)
        domain = GridSamples(self.shape, {"target": targets * self.output_scale + self.output_offset},
                             batch_size=batch_size)
        return Problem([Constraint("video", lambda f: f.value - f.data["target"], domain)])

    def render(self, model: nn.Module, *, fps: float | None = None, size: tuple[int, int] | None = None,
               frames: int | None = None) -> tuple[np.ndarray, float]:
        """Render the clip over the same span of time, one frame evaluated at a time.

        Args:
            model: The fitted network.
            fps: Frames per second; `None` is the original rate.
            size: `(W', H')`; `None` is the original size.
            frames: This many frames evenly spanning the clip (or, given a list of frame numbers, the
                original frames' times).

        Returns:
            `(frames, fps)`: `(T', H', W', C)` frames in [0, 1] and their rate.

        Raises:
            ValueError: A rate or size out of range, or a clip that would not fit in memory
                (`sirenkit render` streams an MP4 instead).
        """
        times, fps, shape = self._sampling(fps, size, frames, bytes_per_frame_pixel=9 * self.channels,
                                           advice="choose a lower --fps or a smaller --size, or write the clip "
                                                  "to an MP4 with sirenkit render, which streams it")
        return self._frames(model, times, shape), fps

    def _sampling(self, fps: float | None, size: tuple[int, int] | None, frames: int | None, *,
                  bytes_per_frame_pixel: int, advice: str) -> tuple[list[float], float, tuple[int, int]]:
        """`(times, fps, (H, W))` of a rendering (see [`render`][sirenkit.VideoKind.render]), its memory checked:
        `bytes_per_frame_pixel` per pixel of every frame held, each frame's time, and one frame
        being evaluated."""
        count, height, width = self.shape
        if fps is not None and fps <= 0:
            raise ValueError(f"frame rate must be positive, got {fps}")
        shape = (height, width) if size is None else (size[1], size[0])
        if frames is not None:
            total = len(frames) if isinstance(frames, (list, tuple)) else frames
        elif fps is not None and fps != self.fps:
            total = int(round((count - 1) * fps / self.fps)) + 1
        else:
            total = count
        check_memory(total * (shape[0] * shape[1] * bytes_per_frame_pixel + 64) + 16 * shape[0] * shape[1] * 3,
                     f"rendering {total:,} frames of {shape[1]}×{shape[0]}", advice)
        if frames is not None:
            times, fps = frame_times(frames), (fps or self.fps * (frames - 1) / max(count - 1, 1))
        elif fps is not None and fps != self.fps:
            times = frame_times(total, fps=fps, original=(count, self.fps))
        else:
            times, fps = frame_times(count), self.fps
        return times.tolist(), float(fps), shape

    def render_file(self, model: nn.Module, path: Path, *, fps: float | None = None,
                    size: tuple[int, int] | None = None, frames: int | None = None, **sampling: Any) -> str:
        """Render frame by frame into the file: an MP4 holds one frame in memory at a time, a GIF
        its 8-bit frames (`write_video`)."""
        held = 0 if path.suffix.lower() == ".mp4" else self.channels
        times, fps, shape = self._sampling(fps, size, frames, bytes_per_frame_pixel=held,
                                           advice="choose a lower --fps or a smaller --size"
                                                  + (", or write an MP4, which is streamed" if held else ""))
        show = tqdm(total=len(times), unit="frame", desc=f"rendering {path.name}", disable=len(times) < 50,
                    leave=False)

        def each_frame() -> Iterator[np.ndarray]:
            for moment in times:
                yield self._frames(model, [moment], shape)[0]
                show.update()

        try:
            write_video(path, each_frame(), fps)
        finally:
            show.close()
        return f"{len(times)} frames of {shape[1]}×{shape[0]} at {fps:g} frames/s"

    def _frames(self, model: nn.Module, times: list[float], shape: tuple[int, int]) -> np.ndarray:
        out = []
        for moment in times:
            values = evaluate_points(model, frame_coordinates(moment, shape))
            out.append(((values.float() - self.output_offset) / self.output_scale).clamp(0, 1)
                       .reshape(*shape, -1).numpy())
        return np.stack(out)

    def measure(self, rendered: tuple[np.ndarray, float], signal: VideoSignal, *, final: bool = True) -> dict[str, Any]:
        psnrs = frame_psnrs(rendered[0], signal.frames)
        metrics: dict[str, Any] = {"psnr": float(np.mean(psnrs))}
        if final:
            metrics["psnr_per_frame"] = [round(float(v), 3) for v in psnrs]
        return metrics

    def preview(self, model: nn.Module | None, signal: VideoSignal) -> np.ndarray:
        """The middle frame."""
        from sirenkit.figures import thumbnail

        middle = self.shape[0] // 2
        if model is None:
            return thumbnail(signal.frames[middle])
        return thumbnail(self._frames(model, frame_times(self.shape[0])[[middle]].tolist(), self.shape[1:])[0])

    def progress(self, model: nn.Module, signal: VideoSignal) -> dict[str, float]:
        """The mean PSNR of the first, middle and last frames (a whole clip is too long to render
        at every logged step)."""
        count = self.shape[0]
        probes = sorted({0, count // 2, count - 1})
        times = frame_times(count)[probes].tolist()
        rendered = self._frames(model, times, self.shape[1:])
        part = VideoSignal(signal.frames[probes], signal.fps, signal.name)
        return {"psnr": self.measure((rendered, self.fps), part, final=False)["psnr"]}

    def summary(self, signal: Any, history: list[dict[str, float]], network: NetworkConfig) -> dict[str, Any]:
        return {"fps": self.fps, "shape": list(self.shape), "channels": self.channels}

    def metric_ceiling(self, metric: str) -> float | None:
        """The PSNR of rounding to the written clip's 8-bit levels."""
        from sirenkit.signals.image.kind import quantisation_psnr

        return quantisation_psnr(8) if metric == "psnr" else None

    def conventions(self) -> dict[str, str]:
        return {"psnr_convention": "mean over frames of each frame's PSNR in dB on intensities in [0, 1], clipped"}

    def write_run(self, fitted: Fitted, signal: VideoSignal, out: Path) -> None:
        """`reconstruction.mp4`/`.gif`, `frames.png` (ground truth over fit),
        `psnr.png` (per frame), metrics and history."""
        from sirenkit.figures import curve_figure
        from sirenkit.io import write_json

        frames, metrics = fitted.products["reconstruction"][0], fitted.metrics
        write_video(out / "reconstruction.mp4", frames, self.fps)
        write_video(out / "reconstruction.gif", frames, self.fps)
        count, height, width = self.shape
        frame_strip_figure(signal.frames, frames, out / "frames.png",
                           title=f"{Path(self.source).name}: {count} frames of {width}×{height}, "
                                 f"{fitted.network.model}, mean PSNR {metrics['psnr']:.2f} dB, {metrics['steps']} "
                                 f"steps, {metrics['seconds']:.0f} s")
        psnrs = metrics["psnr_per_frame"]
        curve_figure({fitted.network.model: (list(range(len(psnrs))), psnrs)}, out / "psnr.png",
                     xlabel="frame", ylabel="PSNR (dB)", title="PSNR per frame")
        write_json(out / "history.json", fitted.history)
        write_json(out / "metrics.json", metrics)

    def write_rendering(self, rendered: tuple[np.ndarray, float], path: Path, **sampling: Any) -> str:
        frames, fps = rendered
        write_video(path, frames, fps)
        return f"{len(frames)} frames of {frames.shape[2]}×{frames.shape[1]} at {fps:g} frames/s"
