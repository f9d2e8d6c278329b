"""Video fitting from a clip or a folder of frames; the kind itself is
:class:`sirenkit.signals.video.kind.VideoKind`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sirenkit.engine.config import TrainConfig
from sirenkit.engine.kinds import Fitted
from sirenkit.engine.runs import fit_signal
from sirenkit.networks.config import NetworkConfig
from sirenkit.signals.video.data import VideoSignal, load_video
from sirenkit.signals.video.kind import VideoKind

VideoFit = Fitted
"""The result of :func:`fit_video` (the one result type of every fit)."""


def video_network(signal: VideoSignal, model: str = "siren", **settings: Any) -> NetworkConfig:
    """3 → 256 × 4 → C with ω0 = 30, or a baseline of that size."""
    return VideoKind.describe(signal).network(model, **settings)


def video_train_config(signal: VideoSignal) -> TrainConfig:
    """sirenkit's default video recipe for ``signal`` (:meth:`VideoKind.train_config`)."""
    return VideoKind.describe(signal).train_config()


def render_video(fitted: Fitted, *, fps: float | None = None, size: tuple[int, int] | None = None,
                 frames: int | None = None) -> tuple[np.ndarray, float]:
    """``((T', H', W', C) frames in [0, 1], fps)`` of a fitted clip (:meth:`VideoKind.render`)."""
    if fitted.kind.name != "video":
        raise ValueError(f"{fitted.out}: not a video model (it holds a {fitted.kind.name})")
    return fitted.kind.render(fitted.model, fps=fps, size=size, frames=frames)


def fit_video(
    source: str | Path | VideoSignal | None = None,
    *,
    size: int | None = None,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Fitted:
    """Fit a network to a clip (the bundled one by default) and, with ``out``, write the run
    folder: model, ``reconstruction.mp4`` and ``.gif``, ``frames.png`` (ground truth over fit),
    ``psnr.png`` (PSNR per frame), ``metrics.json``, ``history.json``, ``config.json``."""
    signal = source if isinstance(source, VideoSignal) else load_video(source, size=size)
    return fit_signal(VideoKind.describe(signal), signal, network=network, train=train, model=model,
                      settings={"source": signal.name, "size": size},
                      out=out, resume=resume, overwrite=overwrite, progress=progress)
