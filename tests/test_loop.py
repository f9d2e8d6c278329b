"""One loop, several step strategies: a time budget behaves alike whether the loop steps one
signal or K stacked ones (targets, divergences and checkpoints: tests/test_batched.py; ranks:
tests/test_parallel.py)."""

from __future__ import annotations

import math

import pytest
import torch

import sirenkit as sk
from sirenkit import Constraint, NetworkConfig, PointSet, Problem, TrainConfig
from sirenkit.engine import loop
from sirenkit.engine.single import fit
from sirenkit.engine.stacked import fit_batched


def curves(count: int) -> list[Problem]:
    """sin(k x) at 32 points, k = 2, 3, ...: problems of a few milliseconds per step."""
    points = torch.linspace(-1, 1, 32)[:, None]
    return [Problem([Constraint("curve", lambda f: f.value - f.data["target"],
                                PointSet(points, {"target": torch.sin((k + 2) * points)}))]) for k in range(count)]


def network() -> torch.nn.Module:
    return sk.build_network(NetworkConfig(1, 1, hidden_features=16, hidden_layers=2), seed=0)


@pytest.fixture
def one_second_steps(monkeypatch):
    """The loop's clock advances one second at each reading: every step lasts exactly one second."""
    readings = iter(range(10**6))
    monkeypatch.setattr(loop, "_now", lambda: float(next(readings)))


@pytest.mark.parametrize("budget, steps", [(10.25, 10), (10.75, 11), (3.0, 3)])
def test_a_time_budget_ends_one_signal_and_stacked_signals_at_the_same_step(one_second_steps, budget, steps):
    """The rule: stop before the step that would end nearer past the budget than before it
    (elapsed + half a step ≥ budget); with one-second steps, at round(budget − 0.5) steps."""
    config = TrainConfig(steps=1000, time_budget=budget, compile=False, log_every=5)
    alone = fit(network(), curves(1)[0], config, progress=False)
    together = fit_batched([network(), network()], curves(2), config, progress=False)
    assert (alone.steps, alone.stopped_by) == (steps, "time")
    assert [(r.steps, r.stopped_by) for r in together] == [(steps, "time")] * 2
    assert alone.history[-1]["step"] == steps  # the state the budget ended on is logged
    assert alone.seconds == pytest.approx(steps)


def test_the_schedule_anneals_over_the_steps_the_budget_allows(one_second_steps):
    """After 20 timed steps the loop predicts how many the budget allows and decays the learning
    rate over those, so that the last step runs near the schedule's floor."""
    config = TrainConfig(steps=10**6, time_budget=60.25, compile=False, log_every=1, warmup_steps=0)
    result = fit(network(), curves(1)[0], config, progress=False)
    assert result.steps == 60
    last = result.history[-1]["lr"]
    assert last < 0.1 * config.learning_rate
    assert last >= config.final_lr_fraction * config.learning_rate - 1e-12


def test_the_loop_takes_no_step_past_its_steps_and_logs_the_first_and_last():
    config = TrainConfig(steps=7, compile=False, log_every=3)
    result = fit(network(), curves(1)[0], config, progress=False)
    assert [row["step"] for row in result.history] == [1, 3, 6, 7]
    assert result.stopped_by == "steps" and math.isfinite(result.history[-1]["loss"])
