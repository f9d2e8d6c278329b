"""Audio fitting from a sound file; the kind itself is [`sirenkit.AudioKind`][sirenkit.AudioKind]."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sirenkit.engine.config import TrainConfig
from sirenkit.engine.frequency import Frequency, default_frequency, resolve_frequency
from sirenkit.engine.kinds import Fitted, register_plan
from sirenkit.engine.runs import FitPlan
from sirenkit.networks.config import NetworkConfig
from sirenkit.signals.audio.data import AudioSignal, load_audio, time_coordinates
from sirenkit.signals.audio.kind import AudioKind

AudioFit = Fitted
"""The result of [`fit_audio`][sirenkit.fit_audio] (the one result type of every fit)."""


def audio_network(signal: AudioSignal, model: str = "siren", **settings: Any) -> NetworkConfig:
    """The paper's audio network (1 → 256 × 4 → C) with ω0 from the clip's length, or a baseline."""
    return AudioKind.describe(signal).network(model, **settings)


def audio_train_config(signal: AudioSignal) -> TrainConfig:
    """sirenkit's default audio recipe for `signal`
    ([`AudioKind.train_config`][sirenkit.AudioKind.train_config])."""
    return AudioKind.describe(signal).train_config()


def render_audio(fitted: Fitted, rate: int | None = None) -> np.ndarray:
    """`(M, C)` samples in [-1, 1] of a fitted sound at `rate` ([`AudioKind.render`][sirenkit.AudioKind.render])."""
    if fitted.kind.name != "audio":
        raise ValueError(f"{fitted.out}: not an audio model (it holds a {fitted.kind.name})")
    return fitted.kind.render(fitted.model, rate=rate)


@register_plan("audio")
def plan_audio(
    source: str | Path | AudioSignal,
    *,
    seconds: float | None = None,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    frequency: Frequency = "default",
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> FitPlan:
    """The fit of [`fit_audio`][sirenkit.fit_audio], planned ([`FitPlan`][sirenkit.FitPlan]): the input read and
    checked, nothing trained or written yet; `plan.run()` is [`fit_audio`][sirenkit.fit_audio]."""
    signal = source if isinstance(source, AudioSignal) else load_audio(source, seconds=seconds)

    wanted = default_frequency(network.model if network is not None else model, frequency,
                               network_given=network is not None)

    def choose(network: NetworkConfig) -> tuple[NetworkConfig, dict[str, Any]]:
        return resolve_frequency(network, signal.samples, lambda: time_coordinates(len(signal.samples)), wanted,
                                 run=out, resume=resume)

    return FitPlan(kind=AudioKind.describe(signal), signal=signal, network=network, train=train, model=model,
                   settings={"source": signal.name, "seconds": seconds}, choose_network=choose, out=out, resume=resume,
                   overwrite=overwrite, progress=progress)


def fit_audio(
    source: str | Path | AudioSignal,
    *,
    seconds: float | None = None,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    frequency: Frequency = "default",
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Fitted:
    """Fit a network to a sound and, with `out`, write the run folder.

    The run folder holds the model, `reconstruction.wav` (original rate and level), `audio.png`
    (waveforms and spectrograms of ground truth, fit and error), `snr.png`, `metrics.json`,
    `history.json` and `config.json`. This is `sirenkit fit audio`.

    Args:
        source: A sound file (WAV, FLAC, OGG; any rate, any number of channels) or an audio
            signal already loaded.
        seconds: Fit only the first `seconds` of the sound; `None` fits all of it.
        network: The network to fit; `None` builds the audio default of `model` for this sound.
        train: The training recipe; `None` is sirenkit's audio recipe.
        model: The network family, used when `network` is `None`.
        frequency: The network's frequency, as for [`fit_image`][sirenkit.fit_image]: left out,
            chosen from the sound for the SIREN sirenkit builds (around the first ω0's per-second
            rule); `None` keeps the rule's value.
        out: The run folder to write; `None` writes nothing.
        resume: Continue the run saved in `out` from its checkpoint.
        overwrite: Replace a run already in `out`.
        progress: Show a progress bar.

    Returns:
        The fitted network with its kind, metrics (`snr`, ...) and history.

    Raises:
        ValueError: The sound cannot be read, an option is out of range, or `out` holds a run
            that neither `resume` nor `overwrite` was given for.
        TrainingDiverged: The loss became NaN or infinite.
        TrainingInterrupted: Ctrl-C or SIGTERM stopped the fit; with `out`, its checkpoint is there.
    """
    return plan_audio(source, seconds=seconds, network=network, train=train, model=model, frequency=frequency, out=out,
                      resume=resume, overwrite=overwrite, progress=progress).run()
