"""`--omega auto`: a network's frequency chosen from the signal before training.

After FreSh (Kania et al., "FreSh: Frequency Shifting for Accelerated Neural Representation
Learning", ICLR 2025): an untrained network's output already has a spectrum, set by its frequency
(a SIREN's first ω0, a Gaussian's bandwidth, ...), and training converges fastest when that
spectrum resembles the signal's. So each candidate value builds a few untrained networks (their
own seeds), evaluates them on a block of the signal's own sample grid, and is scored by the
Wasserstein-1 distance between the normalised spectrum of their output and the signal's; the
closest wins. Nothing is trained, so it costs a few forward passes of a fixed number of points.

The spectrum here is the magnitude of the discrete cosine transform (channels averaged), summed
over rings of equal frequency (radius in cycles per sample, up to the Nyquist frequency, DC left
out), normalised to sum 1 (`spectrum` says why a cosine transform). The candidates are the
task's default value times `RATIOS`: for a SIREN on an image, 10, 15, 20, 30, 45, 60, 90.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from sirenkit.networks.config import NetworkConfig, network_config_from_dict

logger = logging.getLogger("sirenkit")

RATIOS = (1 / 3, 1 / 2, 2 / 3, 1.0, 3 / 2, 2.0, 3.0)
"""Candidates around the task's default value: for a SIREN on an image (30), the grid
{10, 15, 20, 30, 45, 60, 90}; for audio, the per-second rule from ⅓ to 3 times."""
SEEDS = 3
"""Untrained networks per candidate; their spectra are averaged."""
WINDOW = 16_384
"""Samples on which each untrained network is evaluated: the central block of the grid with as many
samples along every axis (128² for an image, a quarter of a 256² image's; 16,384 samples of a
sound), whatever the signal's size."""


@dataclass(frozen=True)
class FrequencyChoice:
    """The chosen value of `setting` and each candidate's distance to the signal's spectrum."""

    setting: str
    value: float
    distances: dict[float, float]
    seconds: float


def spectrum(values: np.ndarray, *, bins: int | None = None) -> np.ndarray:
    """Normalised radial magnitude spectrum of `values: (*grid, C)` on a regular grid (any
    number of grid axes): the magnitude of the DCT-II (channels averaged) summed over `bins`
    rings of equal frequency in cycles per sample, from 0 to the Nyquist frequency (by default
    one ring per sample of the longer axis's half), DC left out, normalised to sum 1.

    A DCT rather than a DFT: the DFT sees the signal as periodic, so any difference between
    opposite edges becomes a jump whose `1/k` leakage, summed over rings that grow with `k`,
    puts mass at every frequency; for a smooth network output that leakage is most of its
    high-frequency mass. The DCT's even extension has no jump."""
    from scipy.fft import dctn

    grid = values.shape[:-1]
    axes = tuple(range(len(grid)))
    magnitude = np.abs(dctn(values, type=2, axes=axes)).mean(axis=-1)
    bins = bins or max(grid) // 2
    frequencies = np.meshgrid(*[np.arange(n) / (2.0 * n) for n in grid], indexing="ij")  # cycles per sample
    radius = np.sqrt(sum(f**2 for f in frequencies))
    ring = np.minimum(np.round(radius * 2 * bins).astype(int), bins)
    energy = np.bincount(ring.ravel(), weights=magnitude.ravel(), minlength=bins + 1)[1:]
    total = energy.sum()
    return energy / total if total > 0 else energy


def window_of(shape: Sequence[int], points: int = WINDOW) -> tuple[slice, ...]:
    """The central block of a grid of `shape` with about `points` samples, as many along every
    axis (fewer where an axis is shorter)."""
    side = max(2, round(points ** (1 / len(shape))))
    return tuple(slice((n - min(n, side)) // 2, (n - min(n, side)) // 2 + min(n, side)) for n in shape)


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 distance between two distributions on the same bins (in bins)."""
    return float(np.abs(np.cumsum(a) - np.cumsum(b)).sum())


def choose_frequency(network: NetworkConfig, values: np.ndarray, coords: torch.Tensor, *,
                     candidates: Sequence[float] | None = None, seeds: int = SEEDS,
                     window: int = WINDOW) -> FrequencyChoice:
    """The value of `network`'s frequency setting (its family's
    [`frequency`][sirenkit.NetworkFamily.frequency]) whose untrained networks' output
    spectrum is closest to that of `values: (*grid, C)`, sampled at `coords: (N, d)` (the
    grid flattened in C order). By default the candidates are the current value times
    `RATIOS`. The untrained networks are evaluated on a central block of about `window`
    samples only (at the grid's own spacing: a network's spectrum is much the same everywhere), and the
    signal's whole spectrum is binned at that window's coarser rings; so the cost does not grow
    with the signal. A `ValueError` for a family without a frequency."""
    from sirenkit.networks.build import build_network
    from sirenkit.networks.evaluate import evaluate_points
    from sirenkit.networks.registry import get_family

    family = get_family(network.model)
    if family.frequency is None:
        raise ValueError(f"--omega auto: a {family.name} network has no frequency to choose")
    started = time.perf_counter()
    default = float(getattr(network, family.frequency))
    candidates = [default * ratio for ratio in RATIOS] if candidates is None else list(candidates)
    grid, channels = values.shape[:-1], values.shape[-1]
    block = window_of(grid, window)
    inside = coords.reshape(*grid, coords.shape[-1])[block].reshape(-1, coords.shape[-1])
    shape = tuple(part.stop - part.start for part in block)
    bins = max(shape) // 2
    target = spectrum(np.asarray(values, dtype=np.float64), bins=bins)  # the whole signal, at the window's rings
    distances = {}
    for candidate in candidates:
        config = paper_initialised(with_frequency(network, candidate))
        outputs = [evaluate_points(build_network(config, seed=seed), inside).numpy().reshape(*shape, channels)
                   for seed in range(seeds)]
        distances[candidate] = wasserstein(np.mean([spectrum(o.astype(np.float64)) for o in outputs], axis=0),
                                           target)
    best = min(distances, key=lambda value: distances[value])
    return FrequencyChoice(family.frequency, best, distances, time.perf_counter() - started)


def paper_initialised(network: NetworkConfig) -> NetworkConfig:
    """`network` without weight scaling: the frequency is chosen on the spectra of networks of
    the paper's initialisation, and the scaling is applied on top of the choice. Chosen among scaled
    networks instead, ω0 fell (camera at 256², α = 2: 45 instead of 90) and 40 dB took 650 steps
    against 275 (the default recipe; docs, "Which network?")."""
    if network.weight_scale == 1.0:
        return network
    return dataclasses.replace(network, weight_scale=1.0)


def with_chosen_frequency(network: NetworkConfig, values: np.ndarray,
                          coords: torch.Tensor) -> tuple[NetworkConfig, FrequencyChoice]:
    """`network` with its frequency set by `choose_frequency`, and the choice."""
    choice = choose_frequency(network, values, coords)
    return with_frequency(network, choice.value), choice


Frequency = float | Literal["auto", "default"] | None
"""How a fit sets its network's frequency: a number, `"auto"` (chosen from the signal), `None`
(the network's own), or `"default"`: `"auto"` for a network of a family in
`AUTO_BY_DEFAULT` that sirenkit builds, the network's own otherwise."""

AUTO_BY_DEFAULT = ("siren",)
"""Families whose frequency `fit image` and `fit audio` choose from the signal unless told
otherwise: SIREN, where the choice was measured against a grid search (docs, "Which network?":
on eight photos at 256 px, three at 512 px and two sounds it matched the grid's best within
0.13 dB). The other families keep their authors' values."""


def default_frequency(model: str, frequency: Frequency, *, network_given: bool = False) -> Frequency:
    """What `frequency` means for a fit of a `model` network: `"default"` becomes `"auto"`
    for a family of `AUTO_BY_DEFAULT` whose network sirenkit builds (not `network_given`),
    and `None` (the network's own value) otherwise; any other value stands."""
    if frequency != "default":
        return frequency
    return "auto" if model in AUTO_BY_DEFAULT and not network_given else None


def resolve_frequency(network: NetworkConfig, values: Any, coords: Callable[[], torch.Tensor],
                      frequency: Frequency, *, run: str | Path | None = None,
                      resume: bool = False) -> tuple[NetworkConfig, dict[str, Any]]:
    """`network` with its frequency set as `frequency` asks, and what to record of it in
    `metrics.json` (`{}` when nothing was changed). `"auto"` chooses the value from
    `values` sampled at `coords()` (`choose_frequency`), and says so in the log. A run
    that is resumed never chooses again: it keeps the value its `config.json` holds (a rounding
    on another machine could tip a near tie, and the checkpoint belongs to the value chosen then),
    or, with none to read, `network` as it is, for the resume's own checks to judge."""
    if frequency is None:
        return network, {}
    if frequency != "auto":
        return with_frequency(network, float(frequency)), {}
    from sirenkit.networks.registry import get_family

    setting = get_family(network.model).frequency
    if resume:
        saved = _saved_network(Path(run)) if run is not None else None
        if setting is None or saved is None or saved.model != network.model:
            return network, {}
        value = float(getattr(saved, setting))
        return with_frequency(network, value), {"frequency_choice": {"setting": setting, "value": value,
                                                                     "chosen": "the value of the run resumed"}}
    network, choice = with_chosen_frequency(network, values, coords())
    distances = ", ".join(f"{value:g}: {distance:.2f}" for value, distance in choice.distances.items())
    logger.info("--omega auto: %s = %g (spectral distance %s; %.1f s; --omega VALUE sets it)", choice.setting,
                choice.value, distances, choice.seconds)
    return network, {"frequency_choice": {"setting": choice.setting, "value": choice.value, "chosen": "auto",
                                          "distances": {f"{value:g}": distance
                                                        for value, distance in choice.distances.items()},
                                          "seconds": choice.seconds}}


def _saved_network(run: Path) -> NetworkConfig | None:
    """The network a run folder's `config.json` holds, or `None` (the resume itself names a
    missing or broken file)."""
    try:
        return network_config_from_dict(json.loads((run / "config.json").read_text())["network"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def with_frequency(network: NetworkConfig, value: float) -> NetworkConfig:
    """`network` with its family's frequency setting at `value`."""
    from sirenkit.networks.registry import get_family

    setting = get_family(network.model).frequency
    if setting is None:
        raise ValueError(f"a {network.model} network has no frequency to set")
    changes: dict[str, Any] = {setting: value}
    return dataclasses.replace(network, **changes)


__all__ = ["RATIOS", "Frequency", "FrequencyChoice", "choose_frequency", "resolve_frequency", "spectrum",
           "wasserstein", "with_chosen_frequency", "with_frequency"]
