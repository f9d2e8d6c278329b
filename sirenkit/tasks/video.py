"""Video fitting: one constraint ``Φ(t, y, x) − v(t, y, x) = 0`` on random voxels of the clip,
and rendering back at any frame rate or size (the network is continuous in time and space)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import NetworkConfig, TrainConfig
from ..constraints import Constraint, GridSamples, Problem
from ..figures import curve_figure
from ..io import LoadedModel, save_model, write_json
from ..render import evaluate_points
from ..training import FitResult
from ..video import (
    VideoSignal, frame_coordinates, frame_psnrs, frame_strip_figure, frame_times, load_video, write_video,
)
from .common import SignalFit, fit_summary, run_recipe

OUTPUT_SCALE, OUTPUT_OFFSET = 2.0, -1.0
"""Networks fit ``y = 2 v − 1``: intensities in [0, 1] become targets in [-1, 1], as in the paper."""

VIDEO_BATCH = 16384
"""Random voxels per step of the default video recipe."""


def video_network(signal: VideoSignal, model: str = "siren", **settings: Any) -> NetworkConfig:
    """3 → 256 × 4 → C with ω0 = 30 (the paper's clip used 1024 wide; see :func:`video_train_config`),
    or a baseline of that size."""
    return NetworkConfig(in_features=3, out_features=signal.channels, model=model,
                         pe_sidelength=max(signal.shape), **settings)


def video_train_config(signal: VideoSignal | None = None) -> TrainConfig:
    """sirenkit's default video recipe: random subsets of 16,384 voxels per step (every voxel of a
    smaller clip), 3,000 steps, Adam at 1e-3 with a cosine decay, bfloat16 where native.

    The paper fitted its clip with a 1024-wide network for 100,000 steps on a GPU; on a 24-frame
    80×64 colour clip (benchmarks/media.py) a 256-wide one reached 40 dB in 1,000 such steps (83 s
    on the 2-core CPU), a 512-wide one 54 dB in 207 s: ``--width 512`` for more, at 2.5× the time."""
    voxels = int(np.prod(signal.shape)) if signal is not None else None
    batch = None if voxels is not None and voxels <= VIDEO_BATCH else VIDEO_BATCH
    return TrainConfig(steps=3000, learning_rate=1e-3, batch_size=batch, precision="auto", log_every=100)


def signal_description(signal: VideoSignal) -> dict[str, Any]:
    """What ``model.json`` records to turn outputs back into frames."""
    return {"kind": "video", "shape": list(signal.shape), "channels": signal.channels, "fps": signal.fps,
            "output_scale": OUTPUT_SCALE, "output_offset": OUTPUT_OFFSET, "source": signal.name}


def render_video(loaded: LoadedModel, *, fps: float | None = None, size: tuple[int, int] | None = None,
                 frames: int | None = None) -> tuple[np.ndarray, float]:
    """``((T', H', W', C) frames in [0, 1], fps)``: the clip at ``fps`` frames per second over the
    same span of time (or ``frames`` frames evenly spanning it), at ``size = (W', H')``; one frame
    evaluated at a time."""
    info = loaded.signal
    if info.get("kind") != "video":
        raise ValueError(f"{loaded.path}: not a video model (it holds a {info.get('kind')})")
    count, height, width = info["shape"]
    original_fps = float(info["fps"])
    if fps is not None and fps <= 0:
        raise ValueError(f"frame rate must be positive, got {fps}")
    if frames is not None:
        times, fps = frame_times(frames), (fps or original_fps * (frames - 1) / max(count - 1, 1))
    elif fps is not None and fps != original_fps:
        times = frame_times(int(round((count - 1) * fps / original_fps)) + 1, fps=fps, original=(count, original_fps))
    else:
        times, fps = frame_times(count), original_fps
    shape = (height, width) if size is None else (size[1], size[0])
    out = []
    for moment in times.tolist():
        values = evaluate_points(loaded.model, frame_coordinates(moment, shape), chunk_size=65536)
        out.append(((values.float() - OUTPUT_OFFSET) / OUTPUT_SCALE).clamp(0, 1).reshape(*shape, -1).numpy())
    return np.stack(out), float(fps)


def video_problem(signal: VideoSignal, *, batch_size: int | None, device: torch.device) -> Problem:
    """Fit the voxels (a random subset per step); progress is logged as the mean frame PSNR of a
    few frames."""
    targets = torch.from_numpy(signal.frames.reshape(-1, signal.channels)).to(device) * OUTPUT_SCALE + OUTPUT_OFFSET
    domain = GridSamples(signal.shape, {"target": targets}, batch_size=batch_size)
    count, height, width = signal.shape
    probes = sorted({0, count // 2, count - 1})
    times = frame_times(count)

    def evaluate(model: nn.Module) -> dict[str, float]:
        psnrs = []
        for frame in probes:
            values = model(frame_coordinates(float(times[frame]), (height, width), device=device)).float()
            estimate = ((values - OUTPUT_OFFSET) / OUTPUT_SCALE).clamp(0, 1).reshape(height, width, -1)
            psnrs.append(float(frame_psnrs(estimate.cpu().numpy()[None], signal.frames[frame][None])[0]))
        return {"psnr": float(np.mean(psnrs))}

    return Problem([Constraint("video", lambda f: f.value - f.data["target"], domain)], evaluate=evaluate)


class VideoFit(SignalFit):
    """The outcome of :func:`fit_video`."""

    def description(self) -> dict[str, Any]:
        return signal_description(self.signal)


def fit_video(
    source: str | Path | VideoSignal | None = None,
    *,
    size: int | None = None,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> VideoFit:
    """Fit a network to a clip (the bundled one by default) and, with ``out``, write the run
    folder: model, ``reconstruction.mp4`` and ``.gif``, ``frames.png`` (ground truth over fit),
    ``psnr.png`` (PSNR per frame), ``metrics.json``, ``history.json``, ``config.json``."""
    signal = source if isinstance(source, VideoSignal) else load_video(source, size=size)
    network = network or video_network(signal, model)
    if network.in_features != 3 or network.out_features != signal.channels:
        raise ValueError(f"the network maps {network.in_features} → {network.out_features}, "
                         f"but {signal.name} needs 3 → {signal.channels}")
    train = train or video_train_config(signal)
    run = run_recipe(network, train, lambda device: video_problem(signal, batch_size=train.batch_size, device=device),
                     task="video", settings={"source": signal.name, "size": size}, out=out, resume=resume,
                     progress=progress)
    fitting = VideoFit(run.model, network, signal, {}, run.result.history, run.out)
    reconstruction, _ = render_video(fitting.loaded())
    fitting.metrics = _metrics(fitting, run.result, reconstruction, wall=time.perf_counter() - run.started)
    if run.out is not None:
        write_video_run(fitting, reconstruction, run.out)
    return fitting


def _metrics(fitting: VideoFit, result: FitResult, reconstruction: np.ndarray, *, wall: float) -> dict[str, Any]:
    psnrs = frame_psnrs(reconstruction, fitting.signal.frames)
    return {
        "psnr": float(np.mean(psnrs)),
        "psnr_per_frame": [round(float(v), 3) for v in psnrs],
        "fps": fitting.signal.fps,
        **fit_summary(result, wall, fitting.network, fitting.signal.shape, fitting.signal.channels),
        "psnr_convention": "mean over frames of each frame's PSNR in dB on intensities in [0, 1], clipped",
    }


def write_video_run(fitting: VideoFit, reconstruction: np.ndarray, out: Path) -> None:
    """Model, ``reconstruction.mp4``/``.gif``, figures, metrics and history of a video fit."""
    signal = fitting.signal
    save_model(out, fitting.model, fitting.network, signal_description(signal))
    write_video(out / "reconstruction.mp4", reconstruction, signal.fps)
    write_video(out / "reconstruction.gif", reconstruction, signal.fps)
    count, height, width = signal.shape
    frame_strip_figure(signal.frames, reconstruction, out / "frames.png",
                       title=f"{Path(signal.name).name}: {count} frames of {width}×{height}, {fitting.network.model}, "
                             f"mean PSNR {fitting.metrics['psnr']:.2f} dB, {fitting.metrics['steps']} steps, "
                             f"{fitting.metrics['seconds']:.0f} s")
    psnrs = fitting.metrics["psnr_per_frame"]
    curve_figure({fitting.network.model: (list(range(len(psnrs))), psnrs)}, out / "psnr.png",
                 xlabel="frame", ylabel="PSNR (dB)", title="PSNR per frame")
    write_json(out / "history.json", fitting.history)
    write_json(out / "metrics.json", fitting.metrics)
