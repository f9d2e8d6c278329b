"""The plateau rule of a run with a target (`TrainConfig.plateau_patience`): the rate is halved
when the target's figure stops gaining, and a resumed run goes on at the same rate."""

from __future__ import annotations

import os
import signal as signals

import pytest
import torch

from sirenkit.engine.config import TrainConfig
from sirenkit.engine.loop import TrainingInterrupted
from sirenkit.engine.schedule import PLATEAU_GAIN_DB, Plateau, learning_rate
from sirenkit.engine.single import fit
from sirenkit.networks.build import build_network
from sirenkit.networks.config import NetworkConfig
from sirenkit.problems.constraints import Constraint, Problem
from sirenkit.problems.domains import PointSet
from sirenkit.signals.image.data import coordinate_grid

from conftest import smooth_image


def test_a_figure_that_stops_gaining_halves_the_rate_down_to_the_floor():
    rule = Plateau(patience=2, higher_is_better=True, floor=0.25)
    for value in (20.0, 25.0, 30.0, 30.2, 30.3):  # gains, then two evaluations under the 0.5 dB gain
        rule.observe(value)
    assert rule.scale == 0.5
    rule.observe(31.0)  # a gain on the best: the count starts again
    rule.observe(31.2)
    assert rule.scale == 0.5
    for value in (31.3, 31.4, 31.5, 31.6, 31.7, 31.8):
        rule.observe(value)
    assert rule.scale == 0.25  # never below the floor


def test_an_error_gains_by_its_ratio_in_db():
    rule = Plateau(patience=1, higher_is_better=False)
    rule.observe(1e-3)
    rule.observe(0.8e-3)  # 0.97 dB lower: a gain
    assert rule.scale == 1.0
    rule.observe(0.8e-3 * 10 ** (-PLATEAU_GAIN_DB / 20))  # half the gain: a plateau
    assert rule.scale == 0.5
    rule.observe(float("nan"))  # a figure that could not be measured changes nothing
    assert rule.scale == 0.5 and rule.since == 0


def curve_problem() -> Problem:
    pixels = smooth_image(16, 16, 1)
    coords = coordinate_grid((16, 16))
    target = torch.from_numpy(pixels.reshape(-1, 1)) * 2 - 1
    return Problem([Constraint("image", lambda f: f.value - f.data["target"],
                               PointSet(coords, {"target": target}, batch_size=64))])


NETWORK = NetworkConfig(2, 1, hidden_features=32, hidden_layers=2)
TARGETED = TrainConfig(steps=60, compile=False, log_every=1, checkpoint_every=0, until=1e-30, plateau_patience=1,
                       threads=1)


def test_a_run_with_a_target_lowers_its_rate_on_a_plateau_and_one_without_does_not():
    ruled = fit(build_network(NETWORK, seed=0), curve_problem(), TARGETED, progress=False)
    scales = [row["lr"] / learning_rate(row["step"] - 1, TARGETED) for row in ruled.history]
    assert scales[0] == pytest.approx(1.0)
    assert min(scales) == pytest.approx(0.5)  # halved once, then held at the floor
    assert all(any(s == pytest.approx(v) for v in (1.0, 0.5)) for s in scales)
    plain = fit(build_network(NETWORK, seed=0), curve_problem(), TrainConfig(
        steps=60, compile=False, log_every=1, checkpoint_every=0, plateau_patience=1, threads=1), progress=False)
    assert all(row["lr"] == pytest.approx(learning_rate(row["step"] - 1, TARGETED)) for row in plain.history)


def test_a_resumed_run_replays_its_plateaus_and_ends_with_the_same_weights(tmp_path):
    straight = fit(build_network(NETWORK, seed=0), curve_problem(), TARGETED, network_config=NETWORK,
                   progress=False)

    def interrupt(row):
        if row["step"] == 35:
            os.kill(os.getpid(), signals.SIGINT)

    with pytest.raises(TrainingInterrupted):
        fit(build_network(NETWORK, seed=0), curve_problem(), TARGETED, network_config=NETWORK,
            checkpoint_dir=tmp_path, progress=False, on_log=interrupt)
    resumed = fit(build_network(NETWORK, seed=1), curve_problem(), TARGETED, network_config=NETWORK,
                  checkpoint_dir=tmp_path, resume=True, progress=False)
    assert [row["lr"] for row in resumed.history] == pytest.approx([row["lr"] for row in straight.history])
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
