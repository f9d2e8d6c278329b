"""Video: reading GIF, MP4 and frame folders, writing MP4 and GIF, grid coordinates, a fit of a
moving pattern with in-between frames rendered, the CLI and its bad inputs."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from sirenkit.engine.config import TrainConfig
from sirenkit.problems.domains import GridSamples
from sirenkit.signals.video.data import VideoSignal, frame_coordinates, frame_psnrs, load_video, write_video
from sirenkit.signals.video.fit import fit_video, render_video, video_network

from conftest import assert_one_line_error, run_cli


def moving_blob(frames: int = 6, height: int = 12, width: int = 16, times: np.ndarray | None = None) -> np.ndarray:
    """``(T, H, W, 3)`` in [0, 1]: a soft coloured blob gliding left to right, at times in [0, 1]."""
    times = np.linspace(0, 1, frames) if times is None else times
    ys, xs = np.mgrid[0:height, 0:width]
    clip = []
    for t in times:
        cx, cy = 3 + t * (width - 7), height / 2
        blob = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / 8.0)
        clip.append(np.stack([0.1 + 0.8 * blob, 0.2 + 0.5 * blob * (1 - t), 0.6 - 0.4 * blob], axis=-1))
    return np.stack(clip).astype(np.float32)


def test_the_bundled_clip():
    clip = load_video()
    assert clip.shape == (24, 25, 14) and clip.channels == 3
    assert clip.fps == pytest.approx(1000 / 70)
    assert 0 <= clip.frames.min() and clip.frames.max() <= 1


def test_mp4_and_gif_round_trip(tmp_path):
    clip = moving_blob(frames=5, height=13, width=17)  # odd sides: the MP4 pads them
    write_video(tmp_path / "clip.mp4", clip, 10)
    write_video(tmp_path / "clip.gif", clip, 10)
    mp4, gif = load_video(tmp_path / "clip.mp4"), load_video(tmp_path / "clip.gif")
    assert gif.shape == (5, 13, 17) and gif.fps == pytest.approx(10)
    assert frame_psnrs(gif.frames, clip).min() > 25  # GIF keeps at most 256 colours
    assert mp4.shape == (5, 14, 18) and mp4.fps == pytest.approx(10)
    assert frame_psnrs(mp4.frames[:, :13, :17], clip).min() > 27  # H.264 with 4:2:0 colour: lossy
    assert not list(tmp_path.glob(".*part*"))


def test_grey_clips_keep_one_channel(tmp_path):
    grey = np.repeat(moving_blob()[..., :1], 3, axis=3)
    write_video(tmp_path / "grey.gif", grey, 5)
    assert load_video(tmp_path / "grey.gif").channels == 1


def test_a_folder_of_frames_and_the_size_option(tmp_path):
    for index, frame in enumerate(moving_blob()):
        Image.fromarray(np.round(frame * 255).astype(np.uint8)).save(tmp_path / f"f{index:03d}.png")
    clip = load_video(tmp_path, size=8)
    assert clip.shape == (6, 6, 8) and clip.channels == 3


def test_grid_samples_compute_the_coordinates_of_a_full_grid():
    shape = (3, 4, 5)
    axes = [torch.linspace(-1, 1, n) for n in shape]
    full = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)
    values = torch.arange(60.0)[:, None]
    domain = GridSamples(shape, {"v": values})
    points, data = domain.sample(torch.Generator().manual_seed(0))
    assert torch.allclose(points, full, atol=1e-6) and torch.equal(data["v"], values)
    subset = GridSamples(shape, {"v": values}, batch_size=7)
    points, data = subset.sample(torch.Generator().manual_seed(1))
    assert points.shape == (7, 3)
    assert torch.allclose(points, full[data["v"][:, 0].long()], atol=1e-6)  # each value at its own point
    frame = frame_coordinates(float(axes[0][1]), (4, 5))
    assert torch.allclose(frame, full[20:40], atol=1e-6)


def test_a_moving_pattern_is_fitted_and_the_in_between_frames_follow_it():
    clip = VideoSignal(moving_blob(), 5.0, "blob")
    train = TrainConfig(steps=400, learning_rate=1e-3, precision="float32", compile=False, device="cpu", log_every=400)
    fitted = fit_video(clip, network=video_network(clip, hidden_features=64, hidden_layers=3, first_omega=10.0),
                       train=train, progress=False)
    assert fitted.metrics["psnr"] > 40.0, fitted.metrics["psnr"]  # 52 dB measured
    frames, fps = render_video(fitted, fps=10.0)  # twice the frame rate
    assert len(frames) == 11 and fps == 10.0
    between = moving_blob(times=np.linspace(0, 1, 11))[1::2]  # the frames half-way between the originals
    assert frame_psnrs(frames[1::2], between).min() > 30.0  # 34.7 to 37.7 dB measured
    bigger, _ = render_video(fitted, size=(32, 24))
    assert bigger.shape == (6, 24, 32, 3)


def test_a_clip_rendered_to_a_file_is_streamed_frame_by_frame(tmp_path, monkeypatch):
    """``sirenkit render`` to an MP4 holds one frame at a time: on a machine with too little
    memory for the whole clip (refused in Python, with the hint) it is written, frame for frame
    the clip rendered whole; a GIF, whose 8-bit frames are held, is the same too."""
    import sirenkit as sk
    import sirenkit.resources as resources

    clip = VideoSignal(moving_blob(frames=4, height=8, width=10), 5.0, "blob")
    train = TrainConfig(steps=3, compile=False, device="cpu")
    fitted = fit_video(clip, network=video_network(clip, hidden_features=16, hidden_layers=2), train=train,
                       progress=False)
    frames, fps = render_video(fitted, fps=20.0, size=(40, 30))
    assert frames.shape == (13, 30, 40, 3)
    for suffix in (".mp4", ".gif"):
        write_video(tmp_path / f"whole{suffix}", frames, fps)
    streamed = sk.render(fitted, tmp_path / "streamed.mp4", fps=20.0, size=(40, 30))
    assert streamed == "13 frames of 40×30 at 20 frames/s"
    assert np.array_equal(iio.imread(tmp_path / "streamed.mp4", index=None),
                          iio.imread(tmp_path / "whole.mp4", index=None))
    sk.render(fitted, tmp_path / "streamed.gif", fps=20.0, size=(40, 30))
    assert np.array_equal(iio.imread(tmp_path / "streamed.gif", index=None),
                          iio.imread(tmp_path / "whole.gif", index=None))
    monkeypatch.setattr(resources, "available_memory", lambda: 4 * 10**6)  # 13 float frames of 3200×3200 ≈ 1.2 GB
    with pytest.raises(ValueError, match="write the clip to an MP4 with sirenkit render, which streams it"):
        render_video(fitted, fps=20.0, size=(3200, 3200))
    with pytest.raises(ValueError, match="or write an MP4, which is streamed"):
        sk.render(fitted, tmp_path / "big.gif", size=(800, 800))
    assert sk.render(fitted, tmp_path / "big.mp4", size=(200, 150)) == "4 frames of 200×150 at 5 frames/s"
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "big.mp4", "streamed.gif", "streamed.mp4", "whole.gif", "whole.mp4"]


TINY = ["--steps", "4", "--width", "16", "--layers", "2", "--device", "cpu", "--compile", "off", "-q"]


def test_cli_fit_video_then_render(tmp_path, capsys):
    out = tmp_path / "run"
    code, printed, err = run_cli(["fit", "video", *TINY, "--out", out], capsys)  # the bundled clip
    assert code == 0, err
    for name in ("reconstruction.mp4", "reconstruction.gif", "frames.png", "psnr.png", "metrics.json",
                 "history.json", "config.json", "model.safetensors", "model.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["psnr_per_frame"]) == 24 and "psnr_convention" in metrics
    code, printed, err = run_cli(["render", out, "--fps", "28.571428", "--size", "28x50",
                                  "--out", tmp_path / "smooth.gif"], capsys)
    assert code == 0, err
    assert iio.imread(tmp_path / "smooth.gif", index=None).shape[:3] == (47, 50, 28)


def test_cli_bad_video_inputs(tmp_path, capsys):
    (tmp_path / "notes.mp4").write_text("not a video")
    write_video(tmp_path / "one.gif", moving_blob(frames=2)[:1].repeat(1, axis=0), 5)
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.new("RGB", (8, 6)).save(folder / "a.png")
    Image.new("RGB", (9, 6)).save(folder / "b.png")
    cases = [
        (tmp_path / "notes.mp4", "not a video"),
        (tmp_path / "one.gif", "at least 2 frames"),
        (folder, "every frame must have the same size"),
        (tmp_path / "missing.gif", "no such file"),
    ]
    for path, message in cases:
        code, _, err = run_cli(["fit", "video", path, *TINY, "--out", tmp_path / "r"], capsys)
        assert_one_line_error(code, err, message)
