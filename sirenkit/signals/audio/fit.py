"""Audio fitting from a sound file; the kind itself is :class:`sirenkit.signals.audio.kind.AudioKind`."""

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
"""The result of :func:`fit_audio` (the one result type of every fit)."""


def audio_network(signal: AudioSignal, model: str = "siren", **settings: Any) -> NetworkConfig:
    """The paper's audio network (1 → 256 × 4 → C) with ω0 from the clip's length, or a baseline."""
    return AudioKind.describe(signal).network(model, **settings)


def audio_train_config(signal: AudioSignal) -> TrainConfig:
    """sirenkit's default audio recipe for ``signal`` (:meth:`AudioKind.train_config`)."""
    return AudioKind.describe(signal).train_config()


def render_audio(fitted: Fitted, rate: int | None = None) -> np.ndarray:
    """``(M, C)`` samples in [-1, 1] of a fitted sound at ``rate`` (:meth:`AudioKind.render`)."""
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
    """The fit of :func:`fit_audio`, planned (:class:`~sirenkit.engine.runs.FitPlan`): the input read and
    checked, nothing trained or written yet; ``plan.run()`` is :func:`fit_audio`."""
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
    """Fit a network to a sound file (optionally its first ``seconds``) and, with ``out``, write
    the run folder: model, ``reconstruction.wav`` (original rate and level), ``audio.png``
    (waveforms and spectrograms of ground truth, fit and error), ``snr.png``, ``metrics.json``,
    ``history.json``, ``config.json``. ``frequency`` sets the network's frequency as for
    :func:`~sirenkit.fit_image`: left out, chosen from the sound for the SIREN sirenkit builds
    (around the first ω0's per-second rule); ``None`` keeps the rule's value."""
    return plan_audio(source, seconds=seconds, network=network, train=train, model=model, frequency=frequency, out=out,
                      resume=resume, overwrite=overwrite, progress=progress).run()
