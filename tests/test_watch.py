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


DPI, PANEL_INCHES, HEIGHT_INCHES = 110, 2.6, 2.9
"""``progress_figure``'s layout for pictures: one 2.6-inch column per panel, 2.9 inches tall, at
``save_figure``'s 110 dots per inch (then cropped to the drawing, ``bbox_inches="tight"``)."""


def read_picture(path: Path) -> np.ndarray:
    """The PNG at ``path`` as grey levels ``(H, W)`` in [0, 255]."""
    from PIL import Image

    with Image.open(path) as picture:
        assert picture.format == "PNG"
        return np.asarray(picture.convert("L"), dtype=np.float64)


def panels(picture: np.ndarray, *, body: tuple[float, float] = (0.15, 0.95)) -> list[np.ndarray]:
    """The panels of a row of pictures on white: the runs of columns with ink between the titles'
    band and the bottom, each cut to its inked rows."""
    top, bottom = (round(f * picture.shape[0]) for f in body)
    band = picture[top:bottom]
    inked = (band < 245).any(axis=0)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], inked.astype(int), [0]])))
    found = []
    for start, end in zip(edges[::2], edges[1::2]):
        if end - start < 20:  # a stray mark, not a panel
            continue
        rows = np.flatnonzero((picture[:, start:end] < 245).any(axis=1))
        block = picture[:, start:end]
        found.append(block[rows[rows >= top - 5].min():rows.max() + 1])
    return found


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute grey-level difference of two panels (cut to the smaller's size)."""
    height, width = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return float(np.abs(a[:height, :width] - b[:height, :width]).mean())


def assert_picture_size(picture: np.ndarray, count: int) -> None:
    """``count`` panels side by side at the figure's size, give or take the tight crop."""
    height, width = picture.shape
    assert 0.85 * count * PANEL_INCHES * DPI <= width <= 1.05 * count * PANEL_INCHES * DPI, picture.shape
    assert 0.85 * HEIGHT_INCHES * DPI <= height <= 1.05 * HEIGHT_INCHES * DPI, picture.shape


def test_a_progress_figure_shows_each_snapshot_in_its_own_panel(tmp_path):
    """Snapshots drawn from known pictures: four panels of the figure's size, each showing its own
    picture (the black one black, the one equal to the truth equal to it, the inverted one not)."""
    from sirenkit.signals.image.kind import ImageKind

    kind = ImageKind(source="", shape=(24, 24), channels=1, mode="L", extent=(1.0, 1.0))
    ramp = np.tile(np.linspace(0, 1, 24, dtype=np.float32), (24, 1))[..., None]  # dark left, light right
    taken = [(1, np.zeros_like(ramp), ("psnr", 5.0)), (10, 1 - ramp, ("psnr", 10.0)), (40, ramp.copy(), ("psnr", 40.0))]
    watch.progress_figure(kind, ramp, taken, tmp_path / "progress.png")
    picture = read_picture(tmp_path / "progress.png")
    assert_picture_size(picture, 4)
    truth, black, inverted, fitted = shown = panels(picture)
    assert len(shown) == 4
    assert len(np.unique(picture)) > 20 and picture.std() > 30  # not blank
    assert black.mean() < 20 and 60 < truth.mean() < 200
    assert difference(fitted, truth) < 5 < 60 < difference(inverted, truth)
    # the ramp's direction: dark on the left of the truth, light on the left of the inverted one
    assert truth[:, : truth.shape[1] // 4].mean() < 80 < inverted[:, : inverted.shape[1] // 4].mean()


def test_the_panel_check_fails_for_a_figure_whose_snapshots_all_show_the_truth(tmp_path):
    """Negative control: a figure that drew the truth in every panel fails the difference check."""
    from sirenkit.signals.image.kind import ImageKind

    kind = ImageKind(source="", shape=(24, 24), channels=1, mode="L", extent=(1.0, 1.0))
    ramp = np.tile(np.linspace(0, 1, 24, dtype=np.float32), (24, 1))[..., None]
    taken = [(1, ramp.copy(), ("psnr", 5.0)), (10, ramp.copy(), ("psnr", 10.0)), (40, ramp.copy(), ("psnr", 40.0))]
    watch.progress_figure(kind, ramp, taken, tmp_path / "progress.png")
    truth, black, inverted, _ = panels(read_picture(tmp_path / "progress.png"))
    assert black.mean() > 20 and difference(inverted, truth) < 60


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
    # the picture itself: the truth and the three snapshots, the last nearer the truth than the first
    picture = read_picture(tmp_path / "run" / "progress.png")
    assert_picture_size(picture, 4)
    assert len(np.unique(picture)) > 20 and picture.std() > 20
    shown = panels(picture)
    assert len(shown) == 4 and shown[0].std() > 20 and shown[3].std() > 10  # the truth, and the fit at step 40
    first, last = shown[1], shown[3]
    assert difference(last, shown[0]) < difference(first, shown[0])
    assert difference(first, last) > 5  # the panels differ where the snapshots do


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
    picture = read_picture(out / "progress.png")  # the truth and the fit at steps 2 and 4
    assert len(np.unique(picture)) > 8 and picture.std() > 10  # not blank
    if kind == "audio":  # waveforms one above the other: 8 inches wide, 1.6 inches a panel
        assert 0.85 * 8 * DPI <= picture.shape[1] <= 1.05 * 8 * DPI
        assert 0.85 * 3 * 1.6 * DPI <= picture.shape[0] <= 1.05 * 3 * 1.6 * DPI
    else:  # three panels side by side (a frame or a slice each; a frame's aspect sets its width)
        assert 0.85 * HEIGHT_INCHES * DPI <= picture.shape[0] <= 1.05 * HEIGHT_INCHES * DPI
        assert 2 * picture.shape[0] <= picture.shape[1] <= 1.05 * 3 * PANEL_INCHES * DPI


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
    pictures = [read_picture(tmp_path / "runs" / f"p{i}" / "progress.png") for i in range(2)]
    for picture in pictures:
        assert_picture_size(picture, 3)
    truths = [panels(picture)[0] for picture in pictures]
    assert difference(*truths) > 10  # each fit's figure shows its own image
