"""Watching a fit grow: progress snapshots (`--snapshots 5,50,300`: `progress.png`) and a
TensorBoard log (`--log tensorboard`), both written into the run folder.

The training loop ([`sirenkit.fit`][sirenkit.fit]) calls each watcher after every step with the
step's loss, terms and learning rate, and with the logged row (metrics) on the steps it logs; the
time a watcher takes is not counted in the fit's time budget, as the logged evaluations are not.
What a snapshot shows comes from the signal kind ([`preview`][sirenkit.SignalKind.preview]): a
picture for images, the middle frame for video, the waveform for sound, a slice of the distance
field for shapes; its score is the kind's logged figure (PSNR, SNR, surface distance).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from sirenkit.engine.config import TrainConfig

logger = logging.getLogger("sirenkit")

PROGRESS_NAME = "progress.png"
TENSORBOARD_FOLDER = "tensorboard"


class Watcher:
    """What the training loop calls; a watcher picks the steps it acts on."""

    def after_step(self, step: int, model: nn.Module, scalars: dict[str, float],
                   row: dict[str, float] | None) -> None:
        """After step `step`: `scalars` (loss, terms, learning rate) always; `row` (the
        logged figures) on the steps the loop logs."""

    def close(self, out: Path | None) -> None:
        """The fit ended (`out`: its run folder, if any): write what is left."""


def _score(kind: Any, metrics: dict[str, float]) -> tuple[str, float] | None:
    """The figure a snapshot is titled with: the kind's target metric where it logs it, else PSNR,
    SNR or surface distance, whichever it logs."""
    for name in (kind.target_metric, "psnr", "snr", "surface_distance"):
        if name in metrics:
            return name, float(metrics[name])
    return None


@dataclass
class Snapshots(Watcher):
    """Previews of the fit at `steps` for `progress.png`."""

    kind: Any
    signal: Any
    truth: np.ndarray
    """The signal's own preview."""
    steps: tuple[int, ...]
    taken: list[tuple[int, np.ndarray, tuple[str, float] | None]] = field(default_factory=list)

    def after_step(self, step: int, model: nn.Module, scalars: dict[str, float],
                   row: dict[str, float] | None) -> None:
        if step in self.steps:
            with _evaluating(model):
                self.taken.append((step, self.kind.preview(model, self.signal),
                                   _score(self.kind, self.kind.progress(model, self.signal))))

    def close(self, out: Path | None) -> None:
        if out is None:
            return
        taken = {step for step, _, _ in self.taken}
        missing = [step for step in self.steps if step not in taken]
        if missing:
            logger.info("snapshots at steps %s not taken: the fit ended before them (or they were before a "
                        "resumed run's start)", ", ".join(map(str, missing)))
        if self.taken:
            progress_figure(self.kind, self.truth, self.taken, out / PROGRESS_NAME)


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """`model` in eval mode and without gradients, its mode restored after."""
    import torch

    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(training)


def progress_figure(kind: Any, truth: np.ndarray, taken: list[tuple[int, np.ndarray, tuple[str, float] | None]],
                    path: Path) -> None:
    """The ground truth beside the fit at each snapshot, each titled with its step and score."""
    from sirenkit.figures import new_figure, save_figure

    count = 1 + len(taken)
    wide = truth.ndim == 1  # a waveform: one above the other
    rows, columns = (count, 1) if wide else (1, count)
    figure, axes = new_figure(rows, columns, figsize=(8, 1.6 * count) if wide else (2.6 * count, 2.9),
                              squeeze=False)
    panels = list(axes.flat)
    kind.draw_preview(panels[0], truth, truth=True)
    panels[0].set_title(panels[0].get_title() or "ground truth", fontsize=9)
    for ax, (step, preview, score) in zip(panels[1:], taken):
        kind.draw_preview(ax, preview, truth=False)
        if score is None:
            label = ""
        elif score[0] == "surface_distance":  # mean |distance| at the input's points, per diagonal
            label = f": mean |Φ| {score[1]:.2g}"
        else:
            label = f": {score[1]:.2f} dB"
        ax.set_title(f"step {step:,}{label}", fontsize=9)
    figure.tight_layout()
    save_figure(figure, path)


@dataclass
class TensorBoardLog(Watcher):
    """A TensorBoard event file in `folder`: every step's scalars, every logged row's figures, a
    picture of the fit every `image_every` steps."""

    kind: Any
    signal: Any
    truth: np.ndarray
    """The signal's own preview."""
    folder: Path
    image_every: int
    resume: bool = False
    writer: Any = None

    def __post_init__(self) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ValueError("--log tensorboard needs the tensorboard package: pip install "
                             "'sirenkit[tensorboard]'") from None
        if not self.resume and self.folder.is_dir():  # a new run: the last run's curves would mix with its
            for old in self.folder.glob("events.out.tfevents.*"):
                old.unlink()
        self.writer = SummaryWriter(log_dir=str(self.folder), flush_secs=10)
        self._picture("ground truth", self.truth, 0, truth=True)

    def after_step(self, step: int, model: nn.Module, scalars: dict[str, float],
                   row: dict[str, float] | None) -> None:
        for name, value in scalars.items():
            self.writer.add_scalar(f"train/{name}", value, step)
        for name, value in (row or {}).items():
            if name not in ("step", "seconds", "lr", "loss", *scalars) and isinstance(value, (int, float)):
                self.writer.add_scalar(f"metrics/{name}", value, step)
        if row is not None:
            self.writer.add_scalar("train/seconds", row.get("seconds", 0.0), step)
        if step % self.image_every == 0 or step == 1:
            with _evaluating(model):
                self._picture("fit", self.kind.preview(model, self.signal), step, truth=False)

    def _picture(self, tag: str, preview: np.ndarray, step: int, *, truth: bool) -> None:
        if preview.ndim == 3:  # a picture: as it is
            self.writer.add_image(tag, np.clip(preview[..., :3], 0, 1), step, dataformats="HWC")
            return
        from sirenkit.figures import new_figure

        figure, ax = new_figure(figsize=(6, 2.4) if preview.ndim == 1 else (3.2, 3.2))
        self.kind.draw_preview(ax, preview, truth=truth)
        figure.tight_layout()
        self.writer.add_figure(tag, figure, step, close=False)

    def close(self, out: Path | None) -> None:
        self.writer.flush()
        self.writer.close()


def watchers(kind: Any, signal: Any, train: TrainConfig, out: Path | None, *, resume: bool = False) -> list[Watcher]:
    """The watchers `train` asks for on a fit of `signal`; a `ValueError` where the kind
    cannot show them, or a TensorBoard log has no run folder to go into."""
    chosen: list[Watcher] = []
    if not (train.snapshots or train.tensorboard):
        return chosen
    truth = kind.preview(None, signal) if signal is not None else None
    if truth is None:
        raise ValueError(f"--snapshots and --log tensorboard picture images, sounds, video and shapes; "
                         f"{kind.name} fits have no picture")
    if train.snapshots:
        chosen.append(Snapshots(kind, signal, truth, train.snapshots))
    if train.tensorboard:
        if out is None:
            raise ValueError("--log tensorboard writes into the run folder: give one (--out)")
        chosen.append(TensorBoardLog(kind, signal, truth, out / TENSORBOARD_FOLDER, train.image_every, resume))
    return chosen


__all__ = ["PROGRESS_NAME", "Snapshots", "TensorBoardLog", "Watcher", "progress_figure", "watchers"]
