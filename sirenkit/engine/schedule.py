"""The learning-rate schedule: a pure function of the step (and of the steps a time budget allows)."""

from __future__ import annotations

import math

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
