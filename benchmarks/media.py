"""Benchmark inputs for audio and video, made here so that every run uses the same ones.

- ``music(seconds, rate)``: a short piece of music, synthesised (no recording of music ships with
  the project's dependencies): a plucked-string arpeggio over a bass line (additive synthesis,
  12 slightly inharmonic partials with frequency-dependent decay), a kick drum and a noisy hi-hat,
  at 44.1 kHz. Its spectrum reaches past 10 kHz, like a recording's.
- ``panning_clip(path, frames, width, height)``: a real photograph (the terrier) seen through a
  camera that pans and zooms: real texture, real motion, colour.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NOTES = {"A2": 110.0, "E3": 164.81, "A3": 220.0, "C4": 261.63, "E4": 329.63, "G3": 196.0, "B3": 246.94,
         "D4": 293.66, "F3": 174.61, "F4": 349.23, "D3": 146.83}


def pluck(frequency: float, seconds: float, rate: int, *, brightness: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    tone = np.zeros_like(t)
    for k in range(1, 13):
        partial = frequency * k * np.sqrt(1 + 0.0004 * k * k)  # a string's slight inharmonicity
        if partial > rate / 2:
            break
        tone += brightness ** (k - 1) / k * np.sin(2 * np.pi * partial * t) * np.exp(-t * (2.0 + 0.9 * k))
    attack = np.minimum(t / 0.004, 1.0)
    return tone * attack


def music(seconds: float = 3.0, rate: int = 44_100, seed: int = 0) -> np.ndarray:
    """``(N,)`` float32 in [-1, 1]: four bars of arpeggiated chords at 120 beats per minute."""
    rng = np.random.default_rng(seed)
    total = int(seconds * rate)
    out = np.zeros(total + rate)
    chords = [("A2", "A3", "C4", "E4"), ("F3", "A3", "C4", "F4"), ("G3", "B3", "D4", "G3"), ("E3", "G3", "B3", "E4")]
    eighth = 0.25
    for step in range(int(seconds / eighth)):
        start = int(step * eighth * rate)
        chord = chords[(step // 4) % len(chords)]
        note = chord[1 + step % 3]
        tone = pluck(NOTES[note], 1.0, rate, brightness=0.85)
        out[start : start + len(tone)] += 0.35 * tone
        if step % 4 == 0:  # bass on the beat
            bass = pluck(NOTES[chord[0]] / 2, 1.2, rate, brightness=0.6)
            out[start : start + len(bass)] += 0.5 * bass
            t = np.arange(int(0.25 * rate)) / rate  # kick: a falling sine
            kick = np.sin(2 * np.pi * (50 * t + 100 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 18)
            out[start : start + len(kick)] += 0.6 * kick
        hat = rng.standard_normal(int(0.04 * rate)) * np.exp(-np.arange(int(0.04 * rate)) / rate * 90)
        hat = np.diff(hat, prepend=0.0)  # high-passed noise
        out[start : start + len(hat)] += 0.05 * hat
    out = out[:total]
    return (out / np.abs(out).max() * 0.9).astype(np.float32)


def panning_clip(photo: Path, frames: int = 24, width: int = 80, height: int = 64) -> np.ndarray:
    """``(frames, height, width, 3)`` uint8: a window gliding and zooming across ``photo``."""
    from PIL import Image

    image = Image.open(photo).convert("RGB")
    full_w, full_h = image.size
    clip = []
    for index in range(frames):
        progress = index / max(frames - 1, 1)
        zoom = 0.55 - 0.12 * progress  # window size as a fraction of the photo
        box_w, box_h = full_w * zoom, full_w * zoom * height / width
        left = (full_w - box_w) * (0.15 + 0.5 * progress)
        top = (full_h - box_h) * (0.5 - 0.25 * np.sin(np.pi * progress))
        box = (left, top, left + box_w, top + box_h)
        clip.append(np.asarray(image.resize((width, height), Image.LANCZOS, box=box)))
    return np.stack(clip)
