"""``--omega auto``: a network's frequency chosen from the signal before training.

After FreSh (Kania et al., "FreSh: Frequency Shifting for Accelerated Neural Representation
Learning", ICLR 2025): an untrained network's output already has a spectrum, set by its frequency
(a SIREN's first ω0, a Gaussian's bandwidth, ...), and training converges fastest when that
spectrum resembles the signal's. So each candidate value builds a few untrained networks (their
own seeds), evaluates them on the signal's own sample grid, and is scored by the Wasserstein-1
distance between the normalised spectrum of their output and the signal's; the closest wins.
Nothing is trained, so it costs a few forward passes.

The spectrum here is the magnitude of the discrete Fourier transform (mean removed, channels
averaged), summed over rings of equal frequency (radius in cycles per sample, bins one sample of
the longer axis wide, up to the Nyquist frequency), normalised to sum 1. The candidates are the
task's default value times :data:`RATIOS`: for a SIREN on an image, 10, 15, 20, 30, 45, 60, 90.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .config import NetworkConfig

RATIOS = (1 / 3, 1 / 2, 2 / 3, 1.0, 3 / 2, 2.0, 3.0)
"""Candidates around the task's default value: for a SIREN on an image (30), the grid
{10, 15, 20, 30, 45, 60, 90}; for audio, the per-second rule from ⅓ to 3 times."""
SEEDS = 3
"""Untrained networks per candidate; their spectra are averaged."""


@dataclass(frozen=True)
class FrequencyChoice:
    """The chosen value of ``setting`` and each candidate's distance to the signal's spectrum."""

    setting: str
    value: float
    distances: dict[float, float]
    seconds: float


def spectrum(values: np.ndarray) -> np.ndarray:
    """Normalised radial magnitude spectrum of ``values: (*grid, C)`` on a regular grid (any
    number of grid axes): the energy per ring of equal frequency, DC left out, summing to 1."""
    grid = values.shape[:-1]
    centred = values - values.mean(axis=tuple(range(len(grid))), keepdims=True)
    magnitude = np.abs(np.fft.fftn(centred, axes=tuple(range(len(grid))))).mean(axis=-1)
    frequencies = np.meshgrid(*[np.fft.fftfreq(n) for n in grid], indexing="ij")
    radius = np.sqrt(sum(f**2 for f in frequencies))
    bins = max(grid) // 2
    ring = np.minimum(np.round(radius * max(grid)).astype(int), bins)
    energy = np.bincount(ring.ravel(), weights=magnitude.ravel(), minlength=bins + 1)[1:]
    total = energy.sum()
    return energy / total if total > 0 else energy


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 distance between two distributions on the same bins (in bins)."""
    return float(np.abs(np.cumsum(a) - np.cumsum(b)).sum())


def choose_frequency(network: NetworkConfig, values: np.ndarray, coords: torch.Tensor, *,
                     candidates: Sequence[float] | None = None, seeds: int = SEEDS) -> FrequencyChoice:
    """The value of ``network``'s frequency setting (its family's
    :attr:`~sirenkit.families.NetworkFamily.frequency`) whose untrained networks' output
    spectrum is closest to that of ``values: (*grid, C)``, sampled at ``coords: (N, d)`` (the
    grid flattened in C order). By default the candidates are the current value times
    :data:`RATIOS`. A ``ValueError`` for a family without a frequency."""
    from .families import get_family
    from .network import build_network
    from .render import evaluate_points

    family = get_family(network.model)
    if family.frequency is None:
        raise ValueError(f"--omega auto: a {family.name} network has no frequency to choose")
    started = time.perf_counter()
    default = float(getattr(network, family.frequency))
    candidates = [default * ratio for ratio in RATIOS] if candidates is None else list(candidates)
    target = spectrum(np.asarray(values, dtype=np.float64))
    distances = {}
    for candidate in candidates:
        config = with_frequency(network, candidate)
        outputs = [evaluate_points(build_network(config, seed=seed), coords).numpy().reshape(values.shape)
                   for seed in range(seeds)]
        distances[candidate] = wasserstein(np.mean([spectrum(o.astype(np.float64)) for o in outputs], axis=0), target)
    best = min(distances, key=lambda value: distances[value])
    return FrequencyChoice(family.frequency, best, distances, time.perf_counter() - started)


def with_chosen_frequency(network: NetworkConfig, values: np.ndarray,
                          coords: torch.Tensor) -> tuple[NetworkConfig, FrequencyChoice]:
    """``network`` with its frequency set by :func:`choose_frequency`, and the choice."""
    choice = choose_frequency(network, values, coords)
    return with_frequency(network, choice.value), choice


def with_frequency(network: NetworkConfig, value: float) -> NetworkConfig:
    """``network`` with its family's frequency setting at ``value``."""
    from .families import get_family

    setting = get_family(network.model).frequency
    if setting is None:
        raise ValueError(f"a {network.model} network has no frequency to set")
    changes: dict[str, Any] = {setting: value}
    return dataclasses.replace(network, **changes)


__all__ = ["RATIOS", "FrequencyChoice", "choose_frequency", "spectrum", "wasserstein", "with_chosen_frequency",
           "with_frequency"]
