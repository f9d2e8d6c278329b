"""A network's configuration by family: each family's own settings, in a section of its own in
``config.json`` and ``model.json``; another family's setting refused; run folders of 0.1.0, which
held every family's settings side by side, still loaded, rendered and resumed."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

import sirenkit as sk
from sirenkit.networks.config import SHARED_FIELDS, family_fields, network_config_from_dict, network_to_dict

from conftest import run_cli

OLD_RUN = Path(__file__).parent / "data" / "run-0.1.0"


@pytest.mark.parametrize("model", ["siren", "relu", "relu-pe", "rff", "tanh", "finer", "gauss", "wire", "hash-grid",
                                   "grid"])
def test_each_family_writes_its_own_settings_and_reads_them_back(model):
    config = sk.NetworkConfig(2, 3, model=model, hidden_features=32)
    written = network_to_dict(config)
    assert set(written) == {*SHARED_FIELDS, model}
    assert set(written[model]) == set(family_fields(model)) - {"axis_scales"}
    assert network_config_from_dict(json.loads(json.dumps(written))) == config


def test_a_siren_section_holds_its_two_frequencies_its_weight_scale_and_nothing_of_other_families():
    written = network_to_dict(sk.NetworkConfig(2, 1, first_omega=45.0))
    assert written["siren"] == {"first_omega": 45.0, "hidden_omega": 30.0, "weight_scale": 1.0}
    scaled = network_to_dict(sk.NetworkConfig(2, 1, axis_scales=(1.0, 0.5)))  # written only when set
    assert scaled["siren"]["axis_scales"] == (1.0, 0.5)
    assert not {"wire_scale", "grid_levels", "rff_scale", "gauss_scale"} & {*written, *written["siren"]}


@pytest.mark.parametrize("model, setting, owners", [("siren", "wire_scale", "wire"),
                                                    ("gauss", "first_omega", "siren, finer"),
                                                    ("relu", "grid_resolution", "grid")])
def test_another_family_s_setting_is_refused_naming_its_owners(model, setting, owners):
    with pytest.raises(ValueError, match=f"{setting} is not a setting of a {model} network \\(it is one of {owners}"):
        sk.NetworkConfig(2, 1, model=model, **{setting: 3.0 if setting != "grid_resolution" else 9})


def test_the_flat_form_keeps_the_family_s_own_settings_and_drops_those_that_never_had_an_effect():
    flat = dataclasses.asdict(sk.NetworkConfig(1, 1, model="gauss", gauss_scale=6.0))
    flat["first_omega"] = 3000.0  # what 0.1.0's audio recipe wrote for every family
    assert network_config_from_dict(flat) == sk.NetworkConfig(1, 1, model="gauss", gauss_scale=6.0)
    with pytest.raises(ValueError, match="unknown network settings: omega"):
        network_config_from_dict({**flat, "omega": 3})


def test_a_run_folder_of_0_1_0_loads_and_renders_as_it_was_written():
    loaded = sk.load(OLD_RUN)
    assert loaded.network == sk.NetworkConfig(2, 1, hidden_features=8, hidden_layers=2, pe_sidelength=8)
    rendered = np.asarray(loaded.render())[..., 0]
    written = iio.imread(OLD_RUN / "reconstruction.png").astype(np.float32) / 255
    assert rendered.shape == (8, 8)
    assert np.abs(rendered - written).max() <= 0.5 / 255 + 1e-6  # the same network, rounded as the file was


def test_a_run_folder_of_0_1_0_resumes_where_it_stopped(tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(OLD_RUN, run)
    code, _, err = run_cli(["fit", "image", "camera", "--size", "8", "--width", "8", "--layers", "2", "--steps", "6",
                            "--compile", "off", "--omega", "30", "-q", "--resume", "--out", run], capsys)
    assert code == 0, err
    history = json.loads((run / "history.json").read_text())
    assert [row["step"] for row in history][:2] == [1, 3] and history[-1]["step"] == 6  # continued, not restarted
    assert json.loads((run / "config.json").read_text())["network"]["siren"]["first_omega"] == 30.0
    code, _, err = run_cli(["render", run, "--size", "16", "--out", tmp_path / "big.png"], capsys)
    assert code == 0, err
    assert iio.imread(tmp_path / "big.png").shape == (16, 16)
