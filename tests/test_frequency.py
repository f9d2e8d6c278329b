"""``--omega auto``: the spectrum and distance it compares, checked on signals whose answer is known,
and the choice itself on signals made by networks of a known frequency."""

import dataclasses
import json

import numpy as np
import pytest
import torch

import sirenkit as sk
from sirenkit.frequency import RATIOS, choose_frequency, spectrum, wasserstein
from sirenkit.image import coordinate_grid
from sirenkit.render import evaluate_points

from conftest import assert_one_line_error
from conftest import run_cli as run


def test_the_spectrum_of_a_plane_wave_sits_in_its_ring():
    n = 64
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    wave = np.sin(2 * np.pi * (6 * rows + 8 * cols) / n)[..., None] + 3.0  # |k| = 10 cycles, an offset
    ring = spectrum(wave)
    assert ring.shape == (n // 2,) and ring.sum() == pytest.approx(1.0)
    assert ring.argmax() == 10 - 1 and ring[9] > 0.99  # bin b holds radius b + 1: DC is left out
    one_d = spectrum(np.cos(2 * np.pi * 5 * np.arange(100) / 100)[:, None])
    assert one_d.argmax() == 5 - 1


def test_the_wasserstein_distance_of_two_spikes_is_how_far_apart_they_are():
    a, b = np.zeros(10), np.zeros(10)
    a[2], b[5] = 1.0, 1.0
    assert wasserstein(a, b) == pytest.approx(3.0)
    assert wasserstein(a, a) == 0.0
    half = np.zeros(10)
    half[[2, 4]] = 0.5
    assert wasserstein(a, half) == pytest.approx(1.0)


@pytest.mark.parametrize("omega", [15.0, 60.0])
def test_the_choice_recovers_the_frequency_of_a_network_made_signal(omega):
    """A signal made by an untrained SIREN of first ω0 = omega (its own seed, not one the choice
    draws) is closest to candidates at that ω0."""
    shape = (48, 48)
    coords = coordinate_grid(shape)
    network = sk.NetworkConfig(2, 1, hidden_features=32, hidden_layers=2)
    made = evaluate_points(sk.build_network(dataclasses.replace(network, first_omega=omega), seed=123), coords)
    choice = choose_frequency(network, made.numpy().reshape(*shape, 1), coords)
    assert choice.setting == "first_omega" and set(choice.distances) == {30 * r for r in RATIOS}
    assert choice.value == pytest.approx(omega)


def test_a_family_without_a_frequency_has_nothing_to_choose():
    network = sk.NetworkConfig(2, 1, model="relu", hidden_features=8)
    with pytest.raises(ValueError, match="a relu network has no frequency"):
        choose_frequency(network, np.zeros((8, 8, 1)), coordinate_grid((8, 8)))


def test_fit_image_with_omega_auto_says_and_keeps_its_choice(tmp_path, capsys):
    out = tmp_path / "auto"
    code, _, err = run(["fit", "image", "camera", "--size", "24", "--steps", "2", "-q", "--omega", "auto",
                        "--width", "32", "--layers", "2", "--compile", "off", "--out", out], capsys)
    assert code == 0, err
    assert "--omega auto: first_omega = " in err
    chosen = float(err.split("first_omega = ")[1].split()[0])
    assert json.loads((out / "config.json").read_text())["network"]["first_omega"] == pytest.approx(chosen)


@pytest.mark.parametrize("argv,message", [
    (["fit", "image", "camera", "--model", "grid", "--omega", "auto"], "--omega does not apply to a grid network"),
    (["poisson", "camera", "--from", "gradient", "--omega", "auto"], "--omega auto is for fit image and fit audio"),
    (["fit", "image", "camera", "--omega", "fast"], "fast"),
])
def test_omega_auto_where_it_does_not_apply_is_one_line(tmp_path, capsys, argv, message):
    code, _, err = run([*argv, "--size", "12", "--steps", "2", "-q", "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, message)


def test_the_choice_runs_on_audio():
    rate = 8000
    t = np.arange(rate // 4) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t))[:, None].astype(np.float32)
    network = sk.NetworkConfig(1, 1, hidden_features=16, hidden_layers=2, first_omega=250.0)
    coords = torch.linspace(-1, 1, len(tone))[:, None]
    choice = choose_frequency(network, tone, coords, seeds=1)
    assert choice.value in choice.distances and len(choice.distances) == len(RATIOS)
