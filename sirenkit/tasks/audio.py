"""Audio fitting: one constraint ``Φ(t) − s(t) = 0`` on the samples (a random subset per step),
one output per channel, and rendering back at the original or any other sampling rate."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..audio import AudioSignal, audio_figure, audio_first_omega, load_audio, snr, time_coordinates, waveform_psnr, write_audio
from ..config import NetworkConfig, TrainConfig
from ..constraints import Constraint, PointSet, Problem
from ..figures import curve_figure
from ..io import LoadedModel, save_model, write_json
from ..render import evaluate_points
from ..training import FitResult
from .common import SignalFit, fit_summary, history_series, run_recipe

AUDIO_BATCH = 16384
"""Random samples per step of the default audio recipe."""

EVALUATION_CHUNK = 262_144
"""Samples evaluated at once when rendering (a one-minute 44.1 kHz clip is 2.6 million)."""


def audio_network(signal: AudioSignal, model: str = "siren", **settings: Any) -> NetworkConfig:
    """The paper's audio network (1 → 256 × 4 → C) with ω0 from :func:`audio_first_omega`,
    or a baseline of that size."""
    settings.setdefault("first_omega", audio_first_omega(signal.duration))
    return NetworkConfig(in_features=1, out_features=signal.channels, model=model,
                         pe_sidelength=len(signal.samples), **settings)


def audio_train_config(signal: AudioSignal | None = None) -> TrainConfig:
    """sirenkit's default audio recipe: random subsets of 16,384 samples per step (every sample
    of a shorter clip), 3,000 steps, Adam at 3e-4 with a cosine decay, bfloat16 where native.

    Chosen on 3 s of 44.1 kHz music (benchmarks/media.py), 1,000-step probes: SNR 27.0 / 28.2 /
    28.6 dB at 1e-4 / 3e-4 / 1e-3; but at 1e-3 a first layer of ω0 = 10,000 (a 10 s clip under
    :data:`~sirenkit.audio.OMEGA_PER_SECOND`) collapsed to silence, while 3e-4 reached 26.9 dB on
    10 s of the same music. With ω0 = 10,000 on the 3 s clip (a band three times wider than the
    rule's) the fit failed at 1e-3; ω0 = 1,000 gave 28.3 dB."""
    batch = None if signal is not None and len(signal.samples) <= AUDIO_BATCH else AUDIO_BATCH
    return TrainConfig(steps=3000, learning_rate=3e-4, batch_size=batch, precision="auto", log_every=100)


def signal_description(signal: AudioSignal) -> dict[str, Any]:
    """What ``model.json`` records to turn outputs back into a sound file."""
    return {"kind": "audio", "rate": signal.rate, "samples": len(signal.samples), "channels": signal.channels,
            "scale": signal.scale, "source": signal.name}


def render_audio(loaded: LoadedModel, rate: int | None = None) -> np.ndarray:
    """``(M, C)`` samples in [-1, 1] (network units, clipped) at ``rate`` (default: the original),
    over the same span of time: sample ``j`` is at ``j / rate`` seconds, as the original's sample
    ``i`` is at ``i / original rate``. Evaluated in chunks."""
    info = loaded.signal
    if info.get("kind") != "audio":
        raise ValueError(f"{loaded.path}: not an audio model (it holds a {info.get('kind')})")
    original, count = int(info["rate"]), int(info["samples"])
    rate = original if rate is None else int(rate)
    if rate < 1:
        raise ValueError(f"sample rate must be positive, got {rate}")
    if rate == original:
        coords = time_coordinates(count)
    else:
        seconds = torch.arange(int(round(count * rate / original)), dtype=torch.float64) / rate
        coords = (-1 + 2 * seconds * original / max(count - 1, 1)).float()[:, None]
    values = evaluate_points(loaded.model, coords, chunk_size=EVALUATION_CHUNK)
    return values.float().clamp(-1, 1).numpy()


def audio_problem(signal: AudioSignal, *, batch_size: int | None, device: torch.device) -> Problem:
    """Fit the samples; progress is logged as the SNR over every sample."""
    coords = time_coordinates(len(signal.samples), device=device)
    targets = torch.from_numpy(signal.samples).to(device)
    domain = PointSet(coords, {"target": targets}, batch_size=batch_size)
    energy = float(targets.double().square().sum())

    def evaluate(model: nn.Module) -> dict[str, float]:
        error = 0.0
        for start in range(0, len(coords), EVALUATION_CHUNK):
            piece = model(coords[start : start + EVALUATION_CHUNK]).float().clamp(-1, 1)
            error += float((piece - targets[start : start + EVALUATION_CHUNK]).double().square().sum())
        return {"snr": 10 * np.log10(energy / max(error, 1e-30))}

    return Problem([Constraint("audio", lambda f: f.value - f.data["target"], domain)], evaluate=evaluate)


class AudioFit(SignalFit):
    """The outcome of :func:`fit_audio`."""

    def description(self) -> dict[str, Any]:
        return signal_description(self.signal)


def fit_audio(
    source: str | Path | AudioSignal,
    *,
    seconds: float | None = None,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> AudioFit:
    """Fit a network to a sound file (optionally its first ``seconds``) and, with ``out``, write
    the run folder: model, ``reconstruction.wav`` (original rate and level), ``audio.png``
    (waveforms and spectrograms of ground truth, fit and error), ``snr.png``, ``metrics.json``,
    ``history.json``, ``config.json``."""
    signal = source if isinstance(source, AudioSignal) else load_audio(source, seconds=seconds)
    network = network or audio_network(signal, model)
    if network.in_features != 1 or network.out_features != signal.channels:
        raise ValueError(f"the network maps {network.in_features} → {network.out_features}, "
                         f"but {signal.name} needs 1 → {signal.channels}")
    train = train or audio_train_config(signal)
    run = run_recipe(network, train, lambda device: audio_problem(signal, batch_size=train.batch_size, device=device),
                     task="audio", settings={"source": signal.name, "seconds": seconds}, out=out, resume=resume,
                     progress=progress)
    fitting = AudioFit(run.model, network, signal, {}, run.result.history, run.out)
    reconstruction = render_audio(fitting.loaded())
    fitting.metrics = _metrics(fitting, run.result, reconstruction, wall=time.perf_counter() - run.started)
    if run.out is not None:
        write_audio_run(fitting, reconstruction, run.out)
    return fitting


def _metrics(fitting: AudioFit, result: FitResult, reconstruction: np.ndarray, *, wall: float) -> dict[str, Any]:
    signal = fitting.signal
    return {
        "snr": snr(reconstruction, signal.samples),
        "psnr": waveform_psnr(reconstruction, signal.samples),
        "rate": signal.rate,
        "duration_seconds": signal.duration,
        "first_omega": fitting.network.first_omega,
        **fit_summary(result, wall, fitting.network, [len(signal.samples)], signal.channels),
        "snr_convention": "10 log10(energy of the samples / energy of the error), all samples and channels",
        "psnr_convention": "dB on the waveform scaled to [-1, 1] (peak 1 = the largest magnitude), clipped",
    }


def write_audio_run(fitting: AudioFit, reconstruction: np.ndarray, out: Path) -> None:
    """Model, ``reconstruction.wav``, figures, metrics and history of an audio fit."""
    signal = fitting.signal
    save_model(out, fitting.model, fitting.network, signal_description(signal))
    write_audio(out / "reconstruction.wav", reconstruction * signal.scale, signal.rate)
    audio_figure(signal.samples, reconstruction, signal.rate, out / "audio.png",
                 title=f"{Path(signal.name).name}: {signal.duration:.2f} s at {signal.rate} Hz, "
                       f"{fitting.network.model}, SNR {fitting.metrics['snr']:.1f} dB, "
                       f"{fitting.metrics['steps']} steps, {fitting.metrics['seconds']:.0f} s")
    curve_figure({fitting.network.model: history_series(fitting.history, "snr")}, out / "snr.png",
                 xlabel="step", ylabel="SNR (dB)", title="SNR over every sample, per step")
    write_json(out / "history.json", fitting.history)
    write_json(out / "metrics.json", fitting.metrics)
