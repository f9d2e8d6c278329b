"""Audio as a signal: reading and writing (soundfile: WAV, FLAC, OGG), the time coordinate,
waveform metrics and the figure of waveforms and spectrograms.

Samples are scaled by their largest magnitude into [-1, 1] (the scale is stored, so that files
come back at their own level), one network output per channel. The time coordinate runs from -1
(first sample) to 1 (last): `t_i = -1 + 2 i / (N - 1)`.

What a header declares is checked before anything is read: the memory that the declared length
needs (a FLAC header may claim 2^36 samples in a few bytes), and, for WAV files, that the `data`
chunk holds the bytes its header states (libsndfile reads a cut WAV as the samples it still holds).
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sirenkit.io import atomic_write_path
from sirenkit.text import figure_text

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
    check_wav_length(path)
    try:
        info = soundfile.info(os.fsencode(path))  # bytes: any name, UTF-8 or not
        frames = None if seconds is None else max(1, int(round(seconds * info.samplerate)))
        data = _read_samples(path, info, frames)
    except (RuntimeError, soundfile.LibsndfileError) as error:  # LibsndfileError is a RuntimeError
        raise ValueError(f"{path}: not an audio file soundfile can read ({' '.join(str(error).split())})") from None
    return _normalised(data, int(info.samplerate), str(path))


UNKNOWN_LENGTH = 2**63 - 1
"""libsndfile's frame count for a stream whose header does not state its length (a FLAC file
encoded from a pipe: total samples 0). soundfile cannot read one: it seeks after every read, and
libsndfile fails that seek."""


def decoding_bytes(frames: int, channels: int) -> int:
    """Memory that reading and fitting `frames` frames of `channels` channels needs: float32
    samples as read, their magnitudes and the scaled copy (12 bytes a sample), and the time
    coordinates and fitted values of each frame (16 bytes, as `AudioKind.render` counts)."""
    return frames * (12 * channels + 16)


def _read_samples(path: Path, info: Any, frames: int | None) -> np.ndarray:
    """`(N, C)` float32 samples of `path` (the first `frames`, or all), after checking that the
    length its header declares fits in memory."""
    import soundfile

    from sirenkit.resources import check_memory

    if info.frames >= UNKNOWN_LENGTH:
        raise ValueError(f"{path}: the header does not state the length of the sound (a stream written "
                         "without it, such as a FLAC file encoded from a pipe), which soundfile cannot read; "
                         "re-encode the file")
    count = info.frames if frames is None else min(frames, info.frames)
    check_memory(decoding_bytes(count, info.channels),
                 f"{path} ({_length(count, info.channels, info.samplerate)}, as its header declares)",
                 "pass --seconds to fit only its beginning")
    data, _ = soundfile.read(os.fsencode(path), frames=count, dtype="float32", always_2d=True)
    return data


def _length(frames: int, channels: int, rate: int) -> str:
    """`"68,719,476,735 frames × 1 channel, 99.4 days at 8,000 Hz"`."""
    seconds = frames / max(rate, 1)
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            duration = f"{seconds / size:,.1f} {unit}"
            break
    else:
        duration = f"{seconds:.3g} s"
    return f"{frames:,} frames × {channels} channel{'s' if channels != 1 else ''}, {duration} at {rate:,} Hz"


RIFF_KINDS = {b"RIFF": "<", b"RF64": "<", b"BW64": "<", b"RIFX": ">"}
"""The RIFF containers of WAV files and the byte order of their sizes."""


def check_wav_length(path: Path) -> None:
    """A `ValueError` naming `path` where a RIFF WAV file is cut short: its `data` chunk (or a
    chunk before it) declares more bytes than the file holds. libsndfile reads such a file as the
    samples it still holds and reports their count as the file's length, so this reads the chunk
    list itself: `RIFF <size> WAVE`, then chunks of a 4-byte id and a 4-byte size, each padded to
    an even length. In RF64 files (and BW64) the sizes of 4 GB and more are in the `ds64` chunk.
    Files of other kinds (or too short to tell) are left to soundfile."""
    size = path.stat().st_size
    with path.open("rb") as file:
        head = file.read(12)
        if len(head) < 12 or head[:4] not in RIFF_KINDS or head[8:12] != b"WAVE":
            return
        order, position, long_data = RIFF_KINDS[head[:4]], 12, None
        while True:
            file.seek(position)
            chunk = file.read(8)
            if len(chunk) < 8:
                if chunk:
                    raise ValueError(f"{path}: the WAV file is cut short: it ends inside a chunk header "
                                     f"at byte {position:,}, before its data")
                return  # no data chunk: soundfile names what is missing
            name, declared = chunk[:4], struct.unpack(order + "I", chunk[4:])[0]
            if name == b"ds64" and declared >= 16:
                long_data = struct.unpack(order + "Q", file.read(16)[8:16].ljust(8, b"\0"))[0]
            if name == b"data":
                if declared == 0xFFFFFFFF and long_data is not None:
                    declared = long_data
                # A stream written without its final size (0, or all ones) is accepted as it is:
                # libsndfile reads it to the end of the file.
                held = size - position - 8
                if declared not in (0, 0xFFFFFFFF, 2**64 - 1) and declared > held:
                    raise ValueError(f"{path}: the WAV file is cut short: its data chunk declares {declared:,} "
                                     f"bytes, the file holds {held:,}")
                return
            if position + 8 + declared > size:
                raise ValueError(f"{path}: the WAV file is cut short: its {name.decode('latin-1')!r} chunk "
                                 f"declares {declared:,} bytes, the file holds {size - position - 8:,}")
            position += 8 + declared + (declared & 1)


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
    atomic_write_path(path, lambda temporary: soundfile.write(os.fsencode(temporary), data, rate, format=kind,
                                                              subtype=subtype))
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
        axes[0, column].set_title(figure_text(name))
        axes[0, column].set_ylabel("amplitude")
        frequencies, frames, power = spectrogram(values.astype(np.float64), fs=rate, nperseg=window)
        decibels = 10 * np.log10(power + 1e-20)
        top = float(decibels.max()) if top is None else top  # one scale, set by the ground truth
        axes[1, column].pcolormesh(frames, frequencies, decibels, shading="auto", cmap="magma",
                                   vmin=top - 90, vmax=top)
        axes[1, column].set_ylabel("frequency (Hz)")
        axes[1, column].set_xlabel("time (s)")
    if title:
        figure.suptitle(figure_text(title), fontsize=11)
    figure.tight_layout()
    save_figure(figure, path, dpi=90)
