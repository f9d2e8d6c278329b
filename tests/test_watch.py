"""Watching a fit (sirenkit.engine.watch): ``progress.png`` at the asked steps for every kind that has a
picture, each snapshot's score that of the network at that step; a TensorBoard log read back
(scalars every step, metrics, pictures); a rerun replacing its log, a resumed one adding to it;
bad options in one line."""

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

import sirenkit as sk
import sirenkit.engine.watch as watch
from sirenkit.engine.models import load

from conftest import assert_one_line_error
from conftest import run_cli as run

SPEECH = str(Path(__file__).parent / "data" / "speech.wav")
TINY = ["--width", "16", "--layers", "2", "--device", "cpu", "--compile", "off", "--precision", "float32", "-q"]


def events(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    accumulator.Reload()
    return accumulator


def test_snapshots_picture_the_fit_at_the_asked_steps(tmp_path, monkeypatch):
    drawn = []
    original = watch.progress_figure
    monkeypatch.setattr(watch, "progress_figure",
                        lambda kind, truth, taken, path: drawn.append((truth, list(taken))) or original(
                            kind, truth, taken, path))
    train = sk.TrainConfig(steps=40, snapshots=(40, 1, 10, 500), compile=False, precision="float32",
                           checkpoint_every=0)
    network = sk.NetworkConfig(in_features=2, out_features=1, hidden_features=32, hidden_layers=2)
    fitted = sk.fit_image("camera", size=24, network=network, train=train, frequency=None, out=tmp_path / "run",
                          progress=False)
    assert (tmp_path / "run" / "progress.png").stat().st_size > 0
    truth, taken = drawn[0]
    assert truth.shape == (24, 24, 1)
    assert [step for step, _, _ in taken] == [1, 10, 40]  # sorted; 500 was never reached
    scores = [score[1] for _, _, score in taken]
    assert taken[0][2][0] == "psnr" and scores[0] < scores[1] < scores[2]
    # the last snapshot is the network at its end: the run's own PSNR and picture
    assert scores[2] == pytest.approx(fitted.metrics["psnr"], abs=1e-6)
    np.testing.assert_allclose(taken[2][1], load(tmp_path / "run").render(), atol=1e-6)
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())["files"]
    assert "progress.png" in written  # so that --overwrite removes it


@pytest.mark.parametrize("kind", ["audio", "video", "sdf"])
def test_every_kind_with_a_picture_writes_its_progress(kind, tmp_path, capsys):
    source = {"audio": [SPEECH, "--seconds", "0.1"], "video": [], "sdf": []}[kind]
    if kind == "sdf":
        ball = trimesh.creation.icosphere(subdivisions=2, radius=1.0)
        ball.export(tmp_path / "ball.obj")
        source = [tmp_path / "ball.obj", "--resolution", "16", "--surface-points", "256", "--free-points", "256"]
    out = tmp_path / "run"
    code, _, err = run(["fit", kind, *source, *TINY, "--steps", "4", "--snapshots", "2,4", "--out", out], capsys)
    assert code == 0, err
    assert (out / "progress.png").stat().st_size > 0


def test_a_tensorboard_log_holds_every_step_the_metrics_and_pictures(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run(["fit", "image", "camera", "--size", "20", *TINY, "--steps", "12", "--omega", "30",
                        "--log", "tensorboard", "--log-images", "5", "--out", out], capsys)
    assert code == 0, err
    log = events(out / "tensorboard")
    loss = log.Scalars("train/loss")
    assert [event.step for event in loss] == list(range(1, 13))
    history = json.loads((out / "history.json").read_text())
    assert loss[-1].value == pytest.approx(history[-1]["loss"], rel=1e-5)
    assert [event.step for event in log.Scalars("train/lr")] == list(range(1, 13))
    psnr = log.Scalars("metrics/psnr")
    assert psnr and psnr[-1].value == pytest.approx(history[-1]["psnr"], rel=1e-5)
    assert sorted(event.step for event in log.Images("fit")) == [1, 5, 10]
    assert len(log.Images("ground truth")) == 1
    # a new run in the folder replaces the log; a resumed one adds to it
    code, _, err = run(["fit", "image", "camera", "--size", "20", *TINY, "--steps", "6", "--omega", "30",
                        "--log", "tensorboard", "--out", out, "--overwrite"], capsys)
    assert code == 0, err
    assert [event.step for event in events(out / "tensorboard").Scalars("train/loss")] == list(range(1, 7))
    code, _, err = run(["fit", "image", "camera", "--size", "20", *TINY, "--steps", "9", "--omega", "30",
                        "--log", "tensorboard", "--out", out, "--resume"], capsys)
    assert code == 0, err
    assert [event.step for event in events(out / "tensorboard").Scalars("train/loss")] == list(range(1, 10))


def test_sound_and_shapes_log_their_pictures_as_figures(tmp_path, capsys):
    out = tmp_path / "sound"
    code, _, err = run(["fit", "audio", SPEECH, "--seconds", "0.1", *TINY, "--steps", "3", "--log", "tensorboard",
                        "--log-images", "2", "--out", out], capsys)
    assert code == 0, err
    log = events(out / "tensorboard")
    assert sorted(event.step for event in log.Images("fit")) == [1, 2] and log.Scalars("metrics/snr")


def test_bad_watch_options_are_one_line(tmp_path, capsys):
    for given, expected in ((["--snapshots", "0,5"], "at least 1"), (["--snapshots", "five"], "whole numbers"),
                            (["--log-images", "0"], "--log-images")):
        code, _, err = run(["fit", "image", "camera", "--size", "16", *TINY, "--steps", "2", *given,
                            "--out", tmp_path / "r"], capsys)
        assert_one_line_error(code, err, expected)
    network = sk.NetworkConfig(in_features=2, out_features=1, hidden_features=8, hidden_layers=1)
    with pytest.raises(ValueError, match="into the run folder"):
        sk.fit_image("camera", size=16, network=network, train=sk.TrainConfig(steps=2, tensorboard=True),
                     frequency=None, progress=False)


def test_a_folder_with_snapshots_pictures_each_fit(tmp_path, capsys):
    import imageio.v3 as iio

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        iio.imwrite(folder / f"p{i}.png", (np.random.default_rng(i).uniform(0, 1, (12, 12)) * 255).astype(np.uint8))
    code, _, err = run(["fit", "image", folder, *TINY, "--steps", "3", "--omega", "30", "--snapshots", "1,3",
                        "--out", tmp_path / "runs"], capsys)
    assert code == 0, err
    assert all((tmp_path / "runs" / f"p{i}" / "progress.png").is_file() for i in range(2))
