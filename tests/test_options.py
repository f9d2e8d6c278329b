"""How a run's options become its configuration (sirenkit.engine.options): the rules the command
line and a Python caller share."""

from __future__ import annotations

import json

import pytest

from sirenkit import TrainConfig
from sirenkit.engine.options import UNLIMITED_STEPS, frequency_choice, network_settings, saved_train, train_config

RECIPE = TrainConfig(steps=1500, time_budget=85.0, learning_rate=1e-3)


def test_options_left_out_keep_the_recipe():
    assert train_config(RECIPE) == RECIPE
    assert train_config(None) == TrainConfig()


def test_a_budget_without_steps_leaves_the_steps_unlimited_and_steps_without_a_budget_drop_it():
    timed = train_config(RECIPE, time_budget=20.0)
    assert (timed.steps, timed.time_budget) == (UNLIMITED_STEPS, 20.0)
    counted = train_config(RECIPE, steps=300)
    assert (counted.steps, counted.time_budget) == (300, None)
    both = train_config(RECIPE, steps=300, time_budget=20.0)
    assert (both.steps, both.time_budget) == (300, 20.0)


@pytest.mark.parametrize("model, factor", [("siren", 1.0), ("hash-grid", 27.0), ("grid", 81.0), ("wire", 3.0)])
def test_a_new_run_learns_at_its_family_rate_unless_a_rate_is_given(model, factor):
    assert train_config(RECIPE, model=model).learning_rate == pytest.approx(1e-3 * factor)
    assert train_config(RECIPE, model=model, learning_rate=5e-4).learning_rate == 5e-4


def test_finer_learns_at_a_rate_that_follows_its_width():
    """0.3 × 256 / width of SIREN's, at most SIREN's."""
    assert train_config(RECIPE, model="finer", width=256).learning_rate == pytest.approx(3e-4)
    assert train_config(RECIPE, model="finer", width=128).learning_rate == pytest.approx(6e-4)
    assert train_config(RECIPE, model="finer", width=32).learning_rate == pytest.approx(1e-3)


def test_a_resumed_run_keeps_its_recorded_training(tmp_path):
    recorded = TrainConfig(steps=700, learning_rate=0.027, seed=3)
    (tmp_path / "config.json").write_text(json.dumps({"train": {**recorded.__dict__, "snapshots": [],
                                                                "from_a_later_version": 1}}))
    assert saved_train(tmp_path) == recorded
    resumed = train_config(RECIPE, resume_from=tmp_path, model="hash-grid")
    assert resumed == recorded  # not the recipe, and its rate not multiplied again
    assert train_config(RECIPE, resume_from=tmp_path, steps=900).steps == 900
    assert train_config(RECIPE, resume_from=tmp_path / "missing") == train_config(RECIPE)


@pytest.mark.parametrize("model, setting", [("siren", "first_omega"), ("finer", "first_omega"),
                                            ("gauss", "gauss_scale"), ("wire", "wire_omega")])
def test_the_frequency_sets_each_family_s_own_setting(model, setting):
    assert network_settings(model, frequency=12.5) == {setting: 12.5}
    assert network_settings(model, frequency="auto") == {}


def test_a_setting_of_another_family_or_a_frequency_where_there_is_none_is_refused():
    with pytest.raises(ValueError, match="frequency does not apply to a relu network"):
        network_settings("relu", frequency=30.0)
    with pytest.raises(ValueError, match="wire_scale does not apply to a siren network; it is a setting of wire"):
        network_settings("siren", wire_scale=40.0)
    with pytest.raises(ValueError, match="--wire-scale does not apply to a siren network; it sets wire_scale"):
        network_settings("siren", wire_scale=40.0, labels={"wire_scale": "--wire-scale"})
    assert network_settings("wire", wire_scale=40.0, hidden_features=64) == {"wire_scale": 40.0,
                                                                            "hidden_features": 64}


def test_the_frequency_choice_is_auto_for_a_siren_by_default():
    assert frequency_choice("siren", None) == "auto"
    assert frequency_choice("relu", None) is None
    assert frequency_choice("siren", "auto") == "auto"
    assert frequency_choice("siren", 30.0) is None  # already set in the network
