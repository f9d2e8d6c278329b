"""``--omega auto``: the spectrum and distance it compares, checked on signals whose answer is known,
and the choice itself on signals made by networks of a known frequency."""

import dataclasses
import json

import numpy as np
import pytest
import torch

import sirenkit as sk
from sirenkit.engine.frequency import RATIOS, choose_frequency, spectrum, wasserstein
from sirenkit.networks.evaluate import evaluate_points
from sirenkit.signals.image.data import coordinate_grid

from conftest import assert_one_line_error
from conftest import run_cli as run


def dct_basis(n: int, k: int) -> np.ndarray:
    """The DCT-II basis function of index ``k`` on ``n`` samples: ``k / 2n`` cycles per sample."""
    return np.cos(np.pi * k * (2 * np.arange(n) + 1) / (2 * n))


def test_the_spectrum_of_a_cosine_sits_in_its_ring():
    n = 64
    wave = np.outer(dct_basis(n, 12), dct_basis(n, 16))[..., None] + 3.0  # radius 20 / 2n = 10 cycles per n, an offset
    ring = spectrum(wave)
    assert ring.shape == (n // 2,) and ring.sum() == pytest.approx(1.0)
    assert ring.argmax() == 10 - 1 and ring[9] == pytest.approx(1.0)  # bin b holds radius b + 1: DC is left out
    one_d = spectrum(dct_basis(100, 10)[:, None])  # 5 cycles per 100 samples
    assert one_d.argmax() == 5 - 1 and one_d[4] == pytest.approx(1.0)
    coarse = spectrum(wave, bins=16)  # 16 rings up to Nyquist: 10/64 cycles per sample falls in ring 5
    assert coarse.shape == (16,) and coarse.argmax() == 5 - 1 and coarse[4] == pytest.approx(1.0)


def test_a_smooth_signal_whose_edges_differ_has_no_high_frequency_tail():
    """A ramp seen as periodic jumps at the edge; its DFT's ``1/k`` leakage summed over rings that
    grow with ``k`` put a third of a smooth signal's mass past a quarter of the Nyquist frequency,
    which is why ``--omega auto`` once chose ω0 = 10 for camera at 512². The DCT does not see a jump."""
    n = 128
    ramp = (np.linspace(0, 1, n)[:, None] + 0.5 * np.linspace(0, 1, n)[None, :])[..., None]
    ring = spectrum(ramp)
    assert ring[: n // 8].sum() > 0.9
    magnitude = np.abs(np.fft.fft2(ramp[..., 0] - ramp.mean()))
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n), indexing="ij"))
    assert magnitude[radius > 0.125].sum() / magnitude.sum() > 0.3  # what the DFT made of it


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


def test_the_choice_on_a_large_grid_evaluates_only_a_window_of_it(monkeypatch):
    """A 160² signal made by an untrained SIREN of first ω0 = 60: the candidates are evaluated on
    its central 64² block only (the cost does not grow with the signal) and still find 60."""
    import importlib

    render = importlib.import_module("sirenkit.networks.evaluate")
    shape, seen = (160, 160), []
    coords = coordinate_grid(shape)
    network = sk.NetworkConfig(2, 1, hidden_features=32, hidden_layers=2)
    made = evaluate_points(sk.build_network(dataclasses.replace(network, first_omega=60.0), seed=123), coords)

    def counting(model, points, *args, **kwargs):
        seen.append(len(points))
        return evaluate_points(model, points, *args, **kwargs)

    monkeypatch.setattr(render, "evaluate_points", counting)
    choice = choose_frequency(network, made.numpy().reshape(*shape, 1), coords, window=64 * 64)
    assert set(seen) == {64 * 64} and len(seen) == 3 * len(RATIOS)
    assert choice.value == pytest.approx(60.0)


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
    assert json.loads((out / "config.json").read_text())["network"]["siren"]["first_omega"] == pytest.approx(chosen)


def test_omega_auto_is_the_default_for_siren_and_is_recorded(tmp_path, capsys):
    """A SIREN's first ω0 is chosen from the image unless ``--omega`` gives it (README, Which
    network?: the choice met the grid search on eight photos at 256 px and three at 512 px): the
    log says so and ``metrics.json`` records it. ``--omega 30`` keeps the paper's value and chooses
    nothing; another family keeps its authors' value."""
    common = ["--size", "24", "--steps", "2", "-q", "--width", "32", "--layers", "2", "--compile", "off"]
    code, _, err = run(["fit", "image", "camera", *common, "--out", tmp_path / "default"], capsys)
    assert code == 0, err
    chosen = float(err.split("--omega auto: first_omega = ")[1].split()[0])
    metrics = json.loads((tmp_path / "default" / "metrics.json").read_text())
    assert metrics["frequency_choice"]["chosen"] == "auto" and metrics["frequency_choice"]["value"] == chosen
    assert set(metrics["frequency_choice"]["distances"]) == {f"{30 * r:g}" for r in RATIOS}
    assert json.loads((tmp_path / "default" / "config.json").read_text())["network"]["siren"]["first_omega"] == chosen
    code, _, err = run(["fit", "image", "camera", *common, "--omega", "30", "--out", tmp_path / "paper"], capsys)
    assert code == 0 and "--omega auto" not in err
    assert "frequency_choice" not in json.loads((tmp_path / "paper" / "metrics.json").read_text())
    assert json.loads((tmp_path / "paper" / "config.json").read_text())["network"]["siren"]["first_omega"] == 30
    code, _, err = run(["fit", "image", "camera", *common, "--model", "finer", "--out", tmp_path / "finer"], capsys)
    assert code == 0 and "--omega auto" not in err
    assert json.loads((tmp_path / "finer" / "config.json").read_text())["network"]["finer"]["first_omega"] == 30


def test_the_python_api_chooses_too_and_a_resumed_run_keeps_its_value(tmp_path, monkeypatch):
    """``fit_image(frequency="auto")`` chooses, and so does the default for sirenkit's own SIREN;
    a number is set, ``None`` or a given network keeps its value, another family its own; ``resume``
    reads the value the run began with from ``config.json`` instead of choosing again (a near tie
    could tip the other way on another machine, and the checkpoint belongs to the first value)."""
    import sirenkit.engine.frequency as frequency
    from sirenkit.signals.image.fit import image_network

    train = sk.TrainConfig(steps=4, batch_size=64, checkpoint_every=2, compile=False)
    signal = sk.load_image("camera", size=20)
    first = sk.fit_image(signal, train=train, frequency="auto", out=tmp_path / "run", progress=False)
    value = first.metrics["frequency_choice"]["value"]
    assert first.network.first_omega == value and value in {30 * r for r in RATIOS}
    assert sk.fit_image(signal, train=train, frequency=20, progress=False).network.first_omega == 20
    given = sk.fit_image(signal, network=image_network(signal), train=train, progress=False)
    assert given.network.first_omega == 30 and "frequency_choice" not in given.metrics
    by_default = sk.fit_image(signal, train=train, progress=False)  # sirenkit's SIREN: chosen
    assert by_default.metrics["frequency_choice"]["value"] == value == by_default.network.first_omega
    assert sk.fit_image(signal, train=train, frequency=None, progress=False).network.first_omega == 30
    assert "frequency_choice" not in sk.fit_image(signal, train=train, model="finer", progress=False).metrics

    def refuse(*args, **kwargs):
        raise AssertionError("a resumed run chose its frequency again")

    monkeypatch.setattr(frequency, "with_chosen_frequency", refuse)
    longer = dataclasses.replace(train, steps=6)
    resumed = sk.fit_image(signal, train=longer, frequency="auto", out=tmp_path / "run", resume=True,
                           progress=False)
    assert resumed.network.first_omega == value and resumed.metrics["steps"] == 6
    assert resumed.metrics["frequency_choice"] == {"setting": "first_omega", "value": value,
                                                   "chosen": "the value of the run resumed"}


def test_the_choice_waits_for_the_cheap_refusals(tmp_path, capsys, monkeypatch):
    """A run folder that holds a run, ``--resume`` with no checkpoint, or a bad ``--until`` is refused
    in one line before the frequency is chosen (the choice costs seconds; the refusal nothing)."""
    import sirenkit.engine.frequency as frequency

    common = ["camera", "--size", "16", "--steps", "2", "-q", "--width", "16", "--layers", "1", "--compile", "off"]
    code, _, err = run(["fit", "image", *common, "--out", tmp_path / "held"], capsys)
    assert code == 0, err

    def refuse(*args, **kwargs):
        raise AssertionError("chose a frequency for a run that was going to be refused")

    monkeypatch.setattr(frequency, "with_chosen_frequency", refuse)
    for extra, message in ((["--out", tmp_path / "held"], "holds a previous run"),
                           (["--out", tmp_path / "fresh", "--resume"], "no checkpoint to resume from"),
                           (["--out", tmp_path / "until", "--until", "70"], "--until 70")):
        code, _, err = run(["fit", "image", *common, "--omega", "auto", *extra], capsys)
        assert_one_line_error(code, err, message)


def test_fit_audio_chooses_only_when_asked():
    rate = 4000
    t = np.arange(rate // 8) / rate
    from sirenkit.signals.audio.data import AudioSignal

    tone = AudioSignal(samples=(0.5 * np.sin(2 * np.pi * 300 * t))[:, None].astype(np.float32), rate=rate,
                       scale=1.0, name="tone")
    network = sk.NetworkConfig(1, 1, hidden_features=16, hidden_layers=1, first_omega=100.0)
    train = sk.TrainConfig(steps=2, batch_size=64, compile=False)
    kept = sk.fit_audio(tone, network=network, train=train, progress=False)
    assert kept.network.first_omega == 100 and "frequency_choice" not in kept.metrics
    chosen = sk.fit_audio(tone, network=network, train=train, frequency="auto", progress=False)
    assert chosen.metrics["frequency_choice"]["value"] == chosen.network.first_omega
    assert chosen.network.first_omega in {100 * r for r in RATIOS}


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
