"""The audio kind: a network `t → C` channels of samples.

The time coordinate runs from -1 (first sample) to 1 (last); the network fits the samples divided
by their largest magnitude (`scale`, kept, so files come back at their own level). Fitting is
one constraint `Φ(t) − s(t) = 0` on the samples (a random subset per step); a rendering can be
at the original or any other rate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from sirenkit.engine.config import TrainConfig
from sirenkit.engine.kinds import PROMISED_SECONDS, Fitted, SignalKind, evaluation_interval, register_kind
from sirenkit.metrics import Metric
from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.evaluate import evaluate_points
from sirenkit.problems.constraints import Constraint, Problem
from sirenkit.problems.domains import PointSet
from sirenkit.resources import check_memory
from sirenkit.signals.audio.data import (
    AUDIO_FORMATS,
    AudioSignal,
    audio_figure,
    audio_first_omega,
    load_audio,
    snr,
    time_coordinates,
    waveform_psnr,
    write_audio,
)
from sirenkit.text import figure_text

AUDIO_BATCH = 16384
"""Random samples per step of the default audio recipe."""


@register_kind
@dataclass(frozen=True, kw_only=True)
class AudioKind(SignalKind):
    """A sound of `samples` samples per channel at `rate` samples per second: what a fitted sound's `kind` is."""

    name: ClassVar[str] = "audio"
    in_features: ClassVar[int] = 1
    suffixes: ClassVar[tuple[str, ...]] = tuple(AUDIO_FORMATS)
    input_suffixes: ClassVar[tuple[str, ...]] = (".wav", ".flac", ".ogg")
    score_names: ClassVar[tuple[str, ...]] = ("psnr", "snr")
    contact_title: ClassVar[str] = "sound (grey) and fit (red)"
    render_options: ClassVar[tuple[str, ...]] = ("rate",)
    target_metric: ClassVar[str] = "snr"
    metrics: ClassVar[tuple[Metric, ...]] = (
        Metric("snr", higher_is_better=True, unit="dB"),
        Metric("psnr", higher_is_better=True, unit="dB"),
    )

    rate: int
    """Samples per second of the input."""
    samples: int
    """Samples per channel."""
    channels: int
    """Number of channels."""
    scale: float
    """Largest magnitude of the file's samples: `file = network output · scale`."""

    def __post_init__(self) -> None:
        """A description (a received `model.json`'s) of a sound no reader could have made is refused."""
        if min(self.rate, self.samples, self.channels) < 1 or self.scale <= 0:
            raise ValueError(f"a sound of {self.samples} samples of {self.channels} channels at {self.rate} Hz, "
                             f"scale {self.scale} (each above 0)")

    @classmethod
    def describe(cls, signal: AudioSignal) -> AudioKind:
        return cls(source=signal.name, rate=signal.rate, samples=len(signal.samples), channels=signal.channels,
                   scale=signal.scale)

    @property
    def out_features(self) -> int:
        return self.channels

    @property
    def duration(self) -> float:
        return self.samples / self.rate

    def network(self, model: str = "siren", **settings: Any) -> NetworkConfig:
        """The paper's audio network (1 → 256 × 4 → C) with ω0 from
        `audio_first_omega` (times the family's
        [`audio_omega_factor`][sirenkit.NetworkFamily.audio_omega_factor]: FINER's is 1/30), or a
        baseline of that size. Gauss and WIRE keep their image settings: stretching their first
        layer as a SIREN's first ω0 is stretched
        ([`first_scale`][sirenkit.NetworkConfig.first_scale] = that ω0 / 30) was measured and made
        them worse or no better (3 s of music, 198k parameters: Gauss 1.5 dB, WIRE below 0 dB), and
        so were other frequencies (12.7k parameters: WIRE's ω0 60 and 200, Gauss's first-layer
        stretch 3 to 30 and s = 3 or 30; at best 5.4 dB)."""
        from sirenkit.networks.config import family_fields
        from sirenkit.networks.registry import get_family

        if "first_omega" in family_fields(model):
            settings.setdefault("first_omega", audio_first_omega(self.duration) * get_family(model).audio_omega_factor)
        settings.setdefault("pe_sidelength", self.samples)
        return super().network(model, **settings)

    def train_config(self) -> TrainConfig:
        """sirenkit's default audio recipe: random subsets of 16,384 samples per step (every sample
        of a shorter clip), 3,000 steps, Adam at 3e-4 with a cosine decay, bfloat16 where native.

        Chosen on 3 s of 44.1 kHz music (benchmarks/media.py), 1,000-step probes: SNR 27.0 / 28.2 /
        28.6 dB at 1e-4 / 3e-4 / 1e-3; but at 1e-3 a first layer of ω0 = 10,000 (a 10 s clip under
        `OMEGA_PER_SECOND`) collapsed to silence, while 3e-4 reached 26.9 dB on
        10 s of the same music. With ω0 = 10,000 on the 3 s clip (a band three times wider than the
        rule's) the fit failed at 1e-3; ω0 = 1,000 gave 28.3 dB. The SNR is logged every 100 steps,
        less often for clips long enough that rendering them would slow the fit
        (`evaluation_interval`: every 300 steps for a minute at 44.1 kHz)."""
        batch = None if self.samples <= AUDIO_BATCH else AUDIO_BATCH
        return TrainConfig(steps=3000, learning_rate=3e-4, batch_size=batch, precision="auto",
                           log_every=evaluation_interval(self.samples, batch or self.samples, every=100),
                           time_budget=PROMISED_SECONDS["audio"])

    def problem(self, signal: AudioSignal, *, batch_size: int | None, device: torch.device) -> Problem:
        """Fit the samples."""
        coords = time_coordinates(self.samples, device=device)
        domain = PointSet(coords, {"target": torch.from_numpy(signal.samples).to(device)}, batch_size=batch_size)
        return Problem([Constraint("audio", lambda f: f.value - f.data["target"], domain)])

    def render(self, model: nn.Module, *, rate: int | None = None) -> np.ndarray:
        """Render the sound at any sample rate, over the same span of time: sample `j` is at `j / rate`
        seconds, as the original's sample `i` is at `i / original rate`. Evaluated in chunks.

        Args:
            model: The fitted network.
            rate: Samples per second; `None` is the original rate.

        Returns:
            `(M, C)` samples in [-1, 1] (network units, clipped).

        Raises:
            ValueError: A rate below 1.
        """
        rate = self.rate if rate is None else int(rate)
        if rate < 1:
            raise ValueError(f"sample rate must be positive, got {rate}")
        count = round(self.samples * rate / self.rate)
        check_memory(count * (16 + 12 * self.channels), f"rendering {count:,} samples ({self.duration:.3g} s at "
                     f"{rate:,} per second)", "choose a lower --rate")
        if rate == self.rate:
            coords = time_coordinates(self.samples)
        else:
            seconds = torch.arange(int(round(self.samples * rate / self.rate)), dtype=torch.float64) / rate
            coords = (-1 + 2 * seconds * self.rate / max(self.samples - 1, 1)).float()[:, None]
        values = evaluate_points(model, coords)
        return values.float().clamp(-1, 1).numpy()

    def preview(self, model: nn.Module | None, signal: AudioSignal) -> np.ndarray:
        """The first channel's waveform, as its envelope."""
        from sirenkit.figures import envelope

        return envelope((signal.samples if model is None else self.render(model))[:, 0])

    def draw_preview(self, ax: Any, preview: np.ndarray, *, truth: bool) -> None:
        ax.plot(np.linspace(0, self.duration, len(preview)), preview, lw=0.5, color="0.3" if truth else "tab:red")
        ax.set_ylim(-1.05, 1.05)
        ax.set_xlabel("seconds")
        ax.set_yticks([])

    def measure(self, rendered: np.ndarray, signal: AudioSignal, *, final: bool = True) -> dict[str, Any]:
        return {"snr": snr(rendered, signal.samples), "psnr": waveform_psnr(rendered, signal.samples)}

    def summary(self, signal: Any, history: list[dict[str, float]], network: NetworkConfig) -> dict[str, Any]:
        return {"rate": self.rate, "duration_seconds": self.duration, "first_omega": network.first_omega,
                "shape": [self.samples], "channels": self.channels}

    def conventions(self) -> dict[str, str]:
        return {"snr_convention": "10 log10(energy of the samples / energy of the error), all samples and channels",
                "psnr_convention": "dB on the waveform scaled to [-1, 1] (peak 1 = the largest magnitude), clipped"}

    def write_run(self, fitted: Fitted, signal: AudioSignal, out: Path) -> None:
        """`reconstruction.wav`, `audio.png` (waveforms and spectrograms of ground truth,
        fit and error), `snr.png`, metrics and history."""
        from sirenkit.engine.history import history_series, logged_every
        from sirenkit.figures import curve_figure
        from sirenkit.io import write_json

        reconstruction, metrics = fitted.products["reconstruction"], fitted.metrics
        write_audio(out / "reconstruction.wav", reconstruction * self.scale, self.rate)
        audio_figure(signal.samples, reconstruction, self.rate, out / "audio.png",
                     title=f"{Path(self.source).name}: {self.duration:.2f} s at {self.rate} Hz, "
                           f"{fitted.network.model}, SNR {metrics['snr']:.1f} dB, "
                           f"{metrics['steps']} steps, {metrics['seconds']:.0f} s")
        curve_figure({fitted.network.model: history_series(fitted.history, "snr")}, out / "snr.png",
                     xlabel="step", ylabel="SNR (dB)",
                     title=f"SNR over every sample, {logged_every(fitted.history, 'snr')} "
                           f"({metrics['steps']:,} steps, {metrics['seconds']:.0f} s)")
        write_json(out / "history.json", fitted.history)
        write_json(out / "metrics.json", metrics)

    @classmethod
    def contact_pictures(cls, run: Path, source: str) -> tuple[np.ndarray, np.ndarray]:
        """The first channel of the sound, as long as the run's `config.json` records, and of its
        `reconstruction.wav`, each shrunk to its envelope."""
        from sirenkit.figures import envelope

        settings = json.loads((run / "config.json").read_text())[cls.name]
        sound = load_audio(source, seconds=settings.get("seconds")).samples[:, 0]
        return envelope(sound), envelope(load_audio(run / "reconstruction.wav").samples[:, 0])

    @classmethod
    def draw_contact(cls, axes: Sequence[Any], row: dict[str, Any], truth: np.ndarray, fitted: np.ndarray) -> None:
        """The fit's waveform over the sound's, captioned with its SNR."""
        ax = axes[0]
        ax.axis("on")
        ax.plot(truth, lw=0.4, color="0.5")
        ax.plot(fitted, lw=0.4, color="tab:red", alpha=0.7)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(figure_text(f"{row['signal']}: {row.get('snr', float('nan')):.1f} dB"), fontsize=8)

    def write_rendering(self, rendered: np.ndarray, path: Path, *, rate: int | None = None, **sampling: Any) -> str:
        rate = rate or self.rate
        write_audio(path, rendered * self.scale, rate)
        return f"{len(rendered):,} samples at {rate} Hz, {rendered.shape[1]} channel(s)"
