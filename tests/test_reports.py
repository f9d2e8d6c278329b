"""What a fit says when it ends: why it stopped (in metrics.json and on the command line), with
its figures in their units and where its results are."""

from __future__ import annotations

import json
import logging

import pytest

import sirenkit as sk
from sirenkit import NetworkConfig, TrainConfig

from conftest import run_cli, step_clock

NETWORK = NetworkConfig(2, 1, hidden_features=16, hidden_layers=2, pe_sidelength=16)


def fit(train: TrainConfig) -> sk.Fitted:
    return sk.fit_image("camera", size=16, network=NETWORK, train=train, frequency=None, progress=False)


def test_a_fit_that_took_its_steps_says_so():
    fitted = fit(TrainConfig(steps=3, compile=False))
    assert (fitted.metrics["stopped_by"], fitted.metrics["stop_reason"]) == ("steps", "all 3 steps were taken")


def test_a_fit_ended_by_its_time_budget_says_when_and_logs_it(monkeypatch, caplog):
    step_clock(monkeypatch, 0.125)
    with caplog.at_level(logging.INFO, logger="sirenkit"):
        fitted = fit(TrainConfig(steps=1000, time_budget=1.4, compile=False))
    assert fitted.metrics["stop_reason"] == "the time budget of 1.4 s ended it after 11 steps"
    assert any("the time budget of 1.4 s ended the fit at step 11 of 1000" in r.getMessage() for r in caplog.records)


def test_a_fit_that_reached_its_target_names_it():
    fitted = fit(TrainConfig(steps=2000, until=12.0, log_every=5, compile=False))
    assert fitted.metrics["stopped_by"] == "until"
    assert fitted.metrics["stop_reason"] == f"psnr reached the target 12 at step {fitted.metrics['steps']}"


def test_the_command_line_ends_with_the_results_their_units_and_the_stop_reason(tmp_path, capsys):
    out = tmp_path / "run"
    code, printed, err = run_cli(["fit", "image", "camera", "--size", "16", "--steps", "4", "--width", "16",
                                  "--layers", "2", "--omega", "30", "--compile", "off", "-q", "--out", out], capsys)
    assert code == 0, err
    last = printed.strip().splitlines()[-1]
    assert last.startswith(f"{out}: psnr ") and " dB, ssim " in last
    assert "seconds" in last and last.endswith("; all 4 steps were taken")


@pytest.mark.parametrize("kind, units", [(sk.ImageKind, {"psnr": "dB", "ssim": ""}),
                                         (sk.AudioKind, {"snr": "dB", "psnr": "dB"})])
def test_decibels_are_said_to_be_decibels(kind, units):
    assert {metric.name: metric.unit for metric in kind.metrics} == units


def test_a_run_folder_explains_itself_in_a_readme(tmp_path):
    out = tmp_path / "run"
    fitted = sk.fit_image("camera", size=16, network=NETWORK, train=TrainConfig(steps=3, compile=False),
                          frequency=None, out=out, progress=False)
    text = (out / "README.md").read_text()
    assert text.startswith("# image: camera\n")
    assert f"**Result**: psnr {fitted.metrics['psnr']:.4g} dB, ssim " in text and "all 3 steps were taken" in text
    assert "- `reconstruction.png`: the fitted signal" in text
    assert "- `model.safetensors`: the network's weights" in text
    assert f"sirenkit render {out} --out rendering.png" in text and "--resume" in text
    written = json.loads((out / "metrics.json").read_text())["files"]
    assert "README.md" in written  # so that --overwrite removes it with the rest
    for name in written:
        assert name == "README.md" or f"`{name}`" in text  # every file the fit wrote is explained


def test_figure_titles_say_how_often_a_curve_was_logged():
    from sirenkit.engine.history import logged_every

    history = [{"step": 1, "psnr": 10.0}, {"step": 25, "psnr": 20.0}, {"step": 50, "psnr": 25.0},
               {"step": 75, "psnr": 26.0}, {"step": 80, "psnr": 27.0}, {"step": 80, "loss": 0.1}]
    assert logged_every(history, "psnr") == "every 25 steps"  # not the first gap from step 1, nor the last
    assert logged_every([{"step": s, "psnr": 1.0} for s in (1, 2, 3, 4, 5)], "psnr") == "every step"
    assert logged_every(history[:3], "psnr") == "at steps 1, 25 and 50"
    assert logged_every([{"step": 1, "loss": 1.0}, {"step": 10, "loss": 1.0}], "loss") == "at steps 1 and 10"
    assert logged_every([{"step": 7, "loss": 1.0}], "loss") == "at step 7"
    assert logged_every(history, "snr") == "never logged"
