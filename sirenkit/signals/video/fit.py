"""Video fitting from a clip or a folder of frames; the kind itself is
[`sirenkit.VideoKind`][sirenkit.VideoKind]."""

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
"""The result of [`fit_video`][sirenkit.fit_video] (the one result type of every fit)."""


def video_network(signal: VideoSignal, model: str = "siren", **settings: Any) -> NetworkConfig:
    """3 → 256 × 4 → C with ω0 = 30, or a baseline of that size."""
    return VideoKind.describe(signal).network(model, **settings)


def video_train_config(signal: VideoSignal) -> TrainConfig:
    """sirenkit's default video recipe for `signal`
    ([`VideoKind.train_config`][sirenkit.VideoKind.train_config])."""
    return VideoKind.describe(signal).train_config()


def render_video(fitted: Fitted, *, fps: float | None = None, size: tuple[int, int] | None = None,
                 frames: int | None = None) -> tuple[np.ndarray, float]:
    """`((T', H', W', C) frames in [0, 1], fps)` of a fitted clip
    ([`VideoKind.render`][sirenkit.VideoKind.render])."""
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
    """Fit a network to a clip and, with `out`, write the run folder.

    The run folder holds the model, `reconstruction.mp4` and `.gif`, `frames.png` (ground truth
    over fit), `psnr.png` (PSNR per frame), `metrics.json`, `history.json` and `config.json`. This
    is `sirenkit fit video`.

    Args:
        source: A GIF, an MP4 (or another format ffmpeg reads), a folder of numbered frames, or a
            clip already loaded; `None` is the bundled clip.
        size: Resample every frame so that its longer side has this many pixels; `None` keeps the
            frames' size.
        network: The network to fit; `None` builds the video default of `model` for this clip.
        train: The training recipe; `None` is sirenkit's video recipe.
        model: The network family, used when `network` is `None`.
        out: The run folder to write; `None` writes nothing.
        resume: Continue the run saved in `out` from its checkpoint.
        overwrite: Replace a run already in `out`.
        progress: Show a progress bar.

    Returns:
        The fitted network with its kind, metrics (`psnr`, ...) and history.

    Raises:
        ValueError: The clip cannot be read or would not fit in memory, an option is out of range,
            or `out` holds a run that neither `resume` nor `overwrite` was given for.
        TrainingDiverged: The loss became NaN or infinite.
        TrainingInterrupted: Ctrl-C or SIGTERM stopped the fit; with `out`, its checkpoint is there.
    """
    signal = source if isinstance(source, VideoSignal) else load_video(source, size=size)
    return fit_signal(VideoKind.describe(signal), signal, network=network, train=train, model=model,
                      settings={"source": signal.name, "size": size},
                      out=out, resume=resume, overwrite=overwrite, progress=progress)
