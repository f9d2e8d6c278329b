"""The learning-rate schedule: a pure function of the step (and of the steps a time budget allows)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sirenkit.engine.config import TrainConfig


def learning_rate(step: int, config: TrainConfig, total_steps: float | None = None) -> float:
    """The learning rate at a step: linear warm-up from a tenth of the peak, then cosine decay to
    `final_lr_fraction` of the peak, or constant.

    A pure function of the step. The decay runs over `config.steps`, or over `total_steps` where
    fewer are expected (a time budget: the loop predicts them from the measured step times), so
    that a run stopped by either rule has annealed.

    Args:
        step: The step, from 0.
        config: The recipe: its peak rate, schedule, warm-up and steps.
        total_steps: The steps a time budget is expected to allow; `None`: `config.steps`.

    Returns:
        The learning rate.
    """
    peak = config.learning_rate
    total = _schedule_steps(step, config, total_steps)
    warmup = min(config.warmup_steps, max(config.steps - 1, 0))
    if step < warmup:
        return peak * (0.1 + 0.9 * step / warmup)
    if config.schedule == "constant":
        return peak
    span = max(total - 1 - warmup, 1)
    progress = min((step - warmup) / span, 1.0)
    floor = config.final_lr_fraction
    return peak * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def run_progress(step: int, config: TrainConfig, total_steps: float | None = None) -> float:
    """How far a run is at `step` (0-based), from 0 to 1, over the steps the learning rate's
    schedule runs over ([`learning_rate`][sirenkit.learning_rate]): what a scheduled loss weight follows."""
    return min(step / max(_schedule_steps(step, config, total_steps) - 1, 1.0), 1.0)


def _schedule_steps(step: int, config: TrainConfig, total_steps: float | None) -> float:
    """The steps a schedule runs over at `step`: `config.steps`, or the fewer a budget is
    expected to allow (never fewer than the steps already taken)."""
    return config.steps if total_steps is None else min(config.steps, max(total_steps, step + 1.0))


PLATEAU_GAIN_DB = 0.5
"""A logged figure that has not gained this much (dB, or a loss's ratio in dB) on its best is on a
plateau."""
PLATEAU_FACTOR = 0.5
"""What the learning rate is multiplied by at each plateau of a run with a target."""


@dataclass
class Plateau:
    """The rule of a run with a target (`TrainConfig.until`): after `patience` evaluations in a row
    without a gain of `PLATEAU_GAIN_DB` in the target's figure, the learning rate is multiplied by
    `PLATEAU_FACTOR`, down to `floor` (by default once); the cosine schedule goes on beneath it.

    A schedule over a time budget lowers the rate when the budget says, not when the fit needs it:
    a fit aiming at a quality can sit for hundreds of steps on a noisy plateau that a lower rate
    leaves at once (camera at 256², ω0 = 90, two evaluations of patience: 40 dB after 325 steps
    instead of 525 under the 85 s schedule). Halving again made the last decibels slower (coffee: 50
    dB at step 1,300 with a floor of a quarter, 1,100 with a half, 925 without the rule). A pure
    function of the logged figures, so that a resumed run replays its history and goes on at the
    same rate.
    """

    patience: int
    higher_is_better: bool = True
    floor: float = 0.5
    scale: float = 1.0
    best: float | None = None
    since: int = 0

    def observe(self, value: float) -> None:
        """One logged value of the target's figure."""
        if not math.isfinite(value):
            return
        if self.best is None or self._gain(value) >= PLATEAU_GAIN_DB:
            self.best, self.since = value, 0
            return
        self.since += 1
        if self.since >= self.patience:  # no gain of PLATEAU_GAIN_DB over `patience` evaluations
            self.scale = max(self.scale * PLATEAU_FACTOR, self.floor)
            self.best, self.since = self._better(value), 0

    def _better(self, value: float) -> float:
        assert self.best is not None
        return max(self.best, value) if self.higher_is_better else min(self.best, value)

    def _gain(self, value: float) -> float:
        assert self.best is not None
        if self.higher_is_better:
            return value - self.best
        if value > 0 and self.best > 0:  # an error: its ratio in dB
            return 10 * math.log10(self.best / value)
        return self.best - value
