"""Targets (``--until``) compare each figure in its own direction, which the problem or the kind states."""

from __future__ import annotations

import pytest
import torch

import sirenkit as sk
from sirenkit import Constraint, NetworkConfig, PointSet, Problem, TrainConfig
from sirenkit.engine.single import fit
from sirenkit.metrics import Metric


def rmse_problem(direction: bool | None) -> Problem:
    """sin(3x) at 32 points, reporting its RMSE (declared with ``direction``, or not at all)."""
    points = torch.linspace(-1, 1, 32)[:, None]
    target = torch.sin(3 * points)

    def evaluate(model: torch.nn.Module) -> dict[str, float]:
        return {"rmse": float(((model(points) - target) ** 2).mean().sqrt())}

    metrics = () if direction is None else (Metric("rmse", higher_is_better=direction),)
    return Problem([Constraint("curve", lambda f: f.value - f.data["target"], PointSet(points, {"target": target}))],
                   evaluate, metrics=metrics)


def network() -> torch.nn.Module:
    return sk.build_network(NetworkConfig(1, 1, hidden_features=16, hidden_layers=2), seed=0)


def test_an_error_figure_stops_when_it_falls_to_the_target_not_at_the_first_evaluation():
    config = TrainConfig(steps=3000, until=0.05, until_metric="rmse", compile=False, log_every=10,
                         learning_rate=1e-3)
    result = fit(network(), rmse_problem(direction=False), config, progress=False)
    assert result.stopped_by == "until"
    assert result.history[-1]["rmse"] <= 0.05
    assert all(row["rmse"] > 0.05 for row in result.history[:-1])
    assert result.steps > 10  # the first evaluation (step 1, 10) did not meet it


def test_the_same_figure_read_as_a_quality_stops_at_once():
    """Negative control: were the RMSE a quality, the first evaluation would already be 'above' 0.05."""
    config = TrainConfig(steps=3000, until=0.05, until_metric="rmse", compile=False, log_every=10)
    result = fit(network(), rmse_problem(direction=True), config, progress=False)
    assert result.stopped_by == "until" and result.steps == 1


def test_a_target_on_a_figure_of_unknown_direction_is_refused_before_training():
    config = TrainConfig(steps=50, until=0.05, until_metric="rmse", compile=False)
    with pytest.raises(ValueError, match="'rmse', which this run does not measure with a known direction"):
        fit(network(), rmse_problem(direction=None), config, progress=False)


@pytest.mark.parametrize("kind, figures", [
    (sk.ImageKind, {"psnr": True, "ssim": True}),
    (sk.AudioKind, {"snr": True, "psnr": True}),
    (sk.VideoKind, {"psnr": True}),
    (sk.ShapeKind, {"surface_distance": False, "chamfer_l1": False, "fscore": True, "normal_consistency": True}),
])
def test_every_kind_states_the_direction_of_its_figures(kind, figures):
    stated = {metric.name: metric.higher_is_better for metric in kind.metrics}
    assert {name: stated.get(name) for name in figures} == figures
    assert kind.target_metric in stated
