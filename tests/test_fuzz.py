"""Corrupt inputs of every kind sirenkit reads: randomly truncated and bit-flipped copies of small
valid files (Hypothesis chooses where, derandomized so that CI sees the same cases). Each must load
(a flip in pixel data can leave a valid file) or end in a ``ValueError`` that names the file:
never another exception, never a hang; and on the command line, one line and exit code 2."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import run_cli, smooth_image

EXAMPLES = 20
"""Cases per file kind: 16 kinds, 320 cases in all."""


def _valid_files(folder: Path) -> dict[str, Path]:
    """One small valid file of every kind sirenkit reads."""
    import soundfile

    from sirenkit.engine.config import TrainConfig
    from sirenkit.networks.config import NetworkConfig
    from sirenkit.signals.image.fit import fit_image
    from sirenkit.signals.video.data import write_video

    pixels = (smooth_image(12, 16, 3) * 255).astype(np.uint8)
    files = {}
    for suffix in ("png", "jpg", "gif"):
        files[suffix] = folder / f"photo.{suffix}"
        Image.fromarray(pixels).save(files[suffix])
    tone = np.sin(np.linspace(0, 60, 800)).astype(np.float32)
    for suffix in ("wav", "flac", "ogg"):
        files[suffix] = folder / f"sound.{suffix}"
        soundfile.write(files[suffix], tone, 8000)
    clip = np.stack([smooth_image(16, 16, 3, seed=s) for s in range(4)])
    files["mp4"] = folder / "clip.mp4"
    write_video(files["mp4"], clip, 10.0)
    files["clip.gif"] = folder / "clip.gif"
    write_video(files["clip.gif"], clip, 10.0)
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    files["xyz"] = folder / "cloud.xyz"
    np.savetxt(files["xyz"], np.hstack([points, points]), fmt="%.5f")
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=1)
    files["obj"] = folder / "shape.obj"
    sphere.export(files["obj"])
    for suffix in ("ply", "off", "stl"):
        files[suffix] = folder / f"shape.{suffix}"
        sphere.export(files[suffix])
    run = folder / "run"
    fit_image("camera", size=8, network=NetworkConfig(2, 1, hidden_features=8, hidden_layers=1),
              train=TrainConfig(steps=2, compile=False), out=run, progress=False)
    files["safetensors"] = run / "model.safetensors"
    files["model.json"] = run / "model.json"
    files["checkpoint"] = run / "checkpoint.safetensors"
    return files


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    return _valid_files(tmp_path_factory.mktemp("valid"))


def _loaders() -> dict[str, Callable[[Path], object]]:
    from sirenkit.engine.checkpoint import load_checkpoint_file
    from sirenkit.engine.models import load
    from sirenkit.signals.audio.data import load_audio
    from sirenkit.signals.image.data import load_image
    from sirenkit.signals.shape.data import load_point_cloud
    from sirenkit.signals.video.data import load_video

    def model(path: Path) -> object:
        return load(path.parent)

    return {"png": lambda p: load_image(p, size=8), "jpg": lambda p: load_image(p, size=8),
            "gif": lambda p: load_image(p), "wav": load_audio, "flac": load_audio, "ogg": load_audio,
            "mp4": lambda p: load_video(p, size=8), "clip.gif": lambda p: load_video(p),
            "xyz": lambda p: load_point_cloud(p, samples=200), "obj": lambda p: load_point_cloud(p, samples=200),
            "ply": lambda p: load_point_cloud(p, samples=200), "off": lambda p: load_point_cloud(p, samples=200),
            "stl": lambda p: load_point_cloud(p, samples=200),
            "safetensors": model, "model.json": model, "checkpoint": load_checkpoint_file}


def damaged(data: bytes, draw) -> bytes:
    """``data`` truncated at a drawn length, or with a few drawn bits flipped."""
    if draw(st.booleans()):
        return data[: draw(st.integers(0, len(data) - 1))]
    corrupt = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        corrupt[position] ^= 1 << draw(st.integers(0, 7))
    return bytes(corrupt)


@pytest.mark.parametrize("kind", list(_loaders()))
def test_a_damaged_file_loads_or_is_refused_by_name(kind, valid_files):
    loader = _loaders()[kind]
    original = valid_files[kind]
    data = original.read_bytes()
    loader(original)  # the undamaged file loads

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(drawn):
        folder = Path(tempfile.mkdtemp())
        try:
            if original.parent.name == "run":  # a model or checkpoint: the rest of its folder beside it
                shutil.copytree(original.parent, folder, dirs_exist_ok=True)
            target = folder / original.name
            target.write_bytes(damaged(data, drawn.draw))
            try:
                loader(target)
            except ValueError as error:
                assert str(target.name) in str(error) or str(folder) in str(error), str(error)
                assert "\n" not in str(error).strip(), str(error)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    check()


@pytest.mark.parametrize("kind, argv", [
    ("png", ["fit", "image", "{file}", "--size", "8"]),
    ("wav", ["fit", "audio", "{file}"]),
    ("mp4", ["fit", "video", "{file}", "--size", "8"]),
    ("xyz", ["fit", "sdf", "{file}", "--resolution", "16"]),
    ("model.json", ["render", "{folder}", "--out", "{folder}/x.png"]),
    ("checkpoint", ["fit", "image", "camera", "--size", "8", "--out", "{folder}", "--resume"]),
])
def test_a_damaged_file_on_the_command_line_is_one_line(kind, argv, valid_files, tmp_path, capsys):
    """The same on the command line, for a few drawn cases: exit code 0 or 2, and for 2 one line."""
    original = valid_files[kind]
    data = original.read_bytes()
    tiny = ["--steps", "2", "--width", "8", "--layers", "1", "--device", "cpu", "--compile", "off", "-q"]

    @settings(max_examples=4, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(drawn):
        folder = Path(tempfile.mkdtemp(dir=tmp_path))
        if original.parent.name == "run":
            shutil.copytree(original.parent, folder, dirs_exist_ok=True)
        target = folder / original.name
        target.write_bytes(damaged(data, drawn.draw))
        words = [a.replace("{file}", str(target)).replace("{folder}", str(folder)) for a in argv]
        extra = tiny + (["--out", str(folder / "out")] if words[0] == "fit" and "--out" not in words else [])
        code, _, err = run_cli(words + (extra if words[0] == "fit" else []), capsys)
        assert code in (0, 2), err
        if code == 2:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("sirenkit: error:") and "Traceback" not in err, err

    check()


def test_a_model_json_with_hostile_values_is_refused(valid_files, tmp_path):
    """Values a received model.json may hold: huge sizes, negative counts, wrong types."""
    from sirenkit.engine.models import load

    base = json.loads(valid_files["model.json"].read_text())
    cases = [("network", "hidden_features", -3), ("network", "hidden_layers", 10**9), ("network", "first_omega", "x"),
             ("signal", "shape", [10**9, 10**9]), ("signal", "channels", None)]
    for section, key, value in cases:
        folder = tmp_path / f"{section}-{key}"
        shutil.copytree(valid_files["model.json"].parent, folder)
        (folder / "model.safetensors").write_bytes(_weights_without_description(folder / "model.safetensors"))
        info = json.loads(json.dumps(base))
        info[section][key] = value
        (folder / "model.json").write_text(json.dumps(info))
        try:
            load(folder)
        except ValueError as error:
            assert "model" in str(error)


def _weights_without_description(path: Path) -> bytes:
    from safetensors.torch import load_file, save

    return save({name: tensor.contiguous() for name, tensor in load_file(str(path)).items()})
