"""Audio as a signal: reading and writing (soundfile: WAV, FLAC, OGG), the time coordinate,
waveform metrics and the figure of waveforms and spectrograms.

Samples are scaled by their largest magnitude into [-1, 1] (the scale is stored, so that files
come back at their own level), one network output per channel. The time coordinate runs from -1
(first sample) to 1 (last): `t_i = -1 + 2 i / (N - 1)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sirenkit.io import atomic_write_path

AUDIO_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}

OMEGA_PER_SECOND = 1000.0
"""First-layer ω0 per second of audio (coordinates in [-1, 1] over the whole clip).

The first layer's frequencies in hertz are `ω0 |w| / (π D)` for a clip of `D` seconds
(`w ~ U(-1, 1)`), so a fixed ω0 covers a band that narrows as the clip grows. The paper uses
ω0 = 3000 for a few seconds of audio; sirenkit keeps that band (up to ~320 Hz in the first layer,
the deeper sine layers make the higher harmonics) for every length: ω0 = 1000 per second, which
is the paper's 3000 for a 3-second clip."""


@dataclass(frozen=True)
class AudioSignal:
    """A sound: `samples (N, C)` float32 in [-1, 1], at `rate` samples per second."""

    samples: np.ndarray
    rate: int
    scale: float
    """Largest magnitude of the file's samples: `file = samples * scale`."""
    name: str

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate


BUNDLED_SOUNDS = ("chirp",)
"""Sounds sirenkit makes by name wherever a sound file is read (`bundled_sound`)."""


def bundled_sound(name: str) -> tuple[np.ndarray, int]:
    """`(samples (N, 1) float32, rate)` of a sound sirenkit makes, deterministic on every machine.

    `chirp`: 3 s at 16 kHz, a steady 440 Hz tone (amplitude 0.3) under a glide from 200 to
    2,000 Hz (0.2, frequency rising linearly), as a 16-bit WAV file holds it: the sound
    `benchmarks/device_check.py` writes and fits, sample for sample, so its measurements apply.
    """
    if name not in BUNDLED_SOUNDS:
        raise ValueError(f"{name}: not a bundled sound name (expected one of {', '.join(BUNDLED_SOUNDS)})")
    rate = 16_000
    t = np.arange(3 * rate) / rate
    sound = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * (200 * t + 300 * t**2))).astype(np.float32)
    pcm16 = np.rint(sound.astype(np.float64) * 2147483647).astype(np.int64) >> 16  # libsndfile's float → 16 bit
    return (pcm16 / 32768).astype(np.float32)[:, None], rate


def load_audio(path: str | Path, *, seconds: float | None = None) -> AudioSignal:
    """Read a WAV, FLAC or OGG file (any rate, any number of channels), or make a bundled sound by
    name (`chirp`: `bundled_sound`; a file of that name in the current folder wins),
    optionally only its first `seconds`. Raises `ValueError` naming the file for anything that
    is not usable audio."""
    import soundfile

    path = Path(path)
    if not path.exists() and str(path) in BUNDLED_SOUNDS:
        data, rate = bundled_sound(str(path))
        frames = None if seconds is None else max(1, int(round(seconds * rate)))
        return _normalised(data[:frames], rate, str(path))
    if not path.is_file():
        hint = "" if path.suffix else f", and not a bundled sound name ({', '.join(BUNDLED_SOUNDS)})"
        raise ValueError(f"{path}: no such file{hint}")
    try:
        frames = None if seconds is None else max(1, int(round(seconds * soundfile.info(str(path)).samplerate)))
        data, rate = soundfile.read(str(path), frames=-1 if frames is None else frames, dtype="float32",
                                    always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:  # LibsndfileError is a RuntimeError
        raise ValueError(f"{path}: not an audio file soundfile can read ({' '.join(str(error).split())})") from None
    return _normalised(data, int(rate), str(path))


def _normalised(data: np.ndarray, rate: int, name: str) -> AudioSignal:
    """`data (N, C)` checked and divided by its largest magnitude."""
    if data.shape[0] == 0:
        raise ValueError(f"{name}: the file holds no samples")
    if not np.isfinite(data).all():
        raise ValueError(f"{name}: the samples contain NaN or infinity")
    scale = float(np.abs(data).max())
    if scale == 0.0:
        raise ValueError(f"{name}: the sound is silent (every sample is 0)")
    return AudioSignal(np.ascontiguousarray(data / scale, dtype=np.float32), int(rate), scale, name)


def time_coordinates(count: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """`(count, 1)` times in [-1, 1], first sample at -1, last at 1."""
    if count < 1:
        raise ValueError(f"expected at least one sample, got {count}")
    if count == 1:
        return torch.zeros(1, 1, device=device)
    return torch.linspace(-1.0, 1.0, count, device=device)[:, None]


def audio_first_omega(duration: float) -> float:
    """The first-layer ω0 for a clip of `duration` seconds (`OMEGA_PER_SECOND`)."""
    return OMEGA_PER_SECOND * max(duration, 1e-3)


def write_audio(path: str | Path, samples: np.ndarray, rate: int) -> Path:
    """Write `samples (N, C)` (or `(N,)`) in [-1, 1] as 16-bit WAV/FLAC or Vorbis OGG,
    atomically; values outside [-1, 1] are clipped."""
    import soundfile

    path = Path(path)
    if path.suffix.lower() not in AUDIO_FORMATS:
        raise ValueError(f"{path}: unsupported audio format; expected one of {', '.join(AUDIO_FORMATS)}")
    if rate < 1:
        raise ValueError(f"sample rate must be positive, got {rate}")
    kind, subtype = AUDIO_FORMATS[path.suffix.lower()]
    data = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    atomic_write_path(path, lambda temporary: soundfile.write(str(temporary), data, rate, format=kind, subtype=subtype))
    return path


def waveform_psnr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """PSNR in dB of a waveform in [-1, 1], peak 1 (the largest magnitude), over all samples and
    channels; the estimate is clipped to [-1, 1] as a file would store it."""
    mse = float(np.mean((np.clip(estimate, -1, 1).astype(np.float64) - reference) ** 2))
    return math.inf if mse == 0.0 else -10.0 * math.log10(mse)


def snr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Signal-to-noise ratio in dB: energy of the reference over energy of the error."""
    error = float(np.sum((np.asarray(estimate, np.float64) - reference) ** 2))
    signal = float(np.sum(np.asarray(reference, np.float64) ** 2))
    return math.inf if error == 0.0 else 10.0 * math.log10(signal / error)


def audio_figure(reference: np.ndarray, estimate: np.ndarray, rate: int, path: str | Path, *,
                 title: str | None = None) -> None:
    """Waveform (top) and spectrogram (bottom) of ground truth, fit and error, first channel."""
    from scipy.signal import spectrogram

    from sirenkit.figures import new_figure, save_figure

    reference, estimate = reference[:, 0], estimate[:, 0]
    error = estimate - reference
    times = np.arange(len(reference)) / rate
    window = int(2 ** np.clip(round(math.log2(max(rate * 0.02, 16))), 4, 12))  # ~20 ms
    window = min(window, len(reference))
    figure, axes = new_figure(2, 3, figsize=(14, 6.2), sharex="col")
    top = None
    for column, (name, values) in enumerate((("ground truth", reference), ("fit", estimate), ("error", error))):
        axes[0, column].plot(times, values, linewidth=0.4, color="C3" if name == "error" else "C0")
        axes[0, column].set_ylim(-1.05, 1.05)
        axes[0, column].set_title(name)
        axes[0, column].set_ylabel("amplitude")
        frequencies, frames, power = spectrogram(values.astype(np.float64), fs=rate, nperseg=window)
        decibels = 10 * np.log10(power + 1e-20)
        top = float(decibels.max()) if top is None else top  # one scale, set by the ground truth
        axes[1, column].pcolormesh(frames, frequencies, decibels, shading="auto", cmap="magma",
                                   vmin=top - 90, vmax=top)
        axes[1, column].set_ylabel("frequency (Hz)")
        axes[1, column].set_xlabel("time (s)")
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
