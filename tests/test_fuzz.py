"""Corrupt inputs of every kind sirenkit reads: randomly truncated and bit-flipped copies of small
valid files (Hypothesis chooses where, derandomized so that CI sees the same cases).

Any damage ends in a ``ValueError`` of one line that names the file, or loads with finite values in
the signal's range (a flip in a JPEG's pixel data leaves a valid file no loader can tell from the
original): never another exception, never a hang. Where the format can tell (a truncated file: its
length, checksum or end marker; a flip in a checksummed PNG, FLAC or Ogg file), the damage is
refused, or what loads is exactly the original. On the command line: one line and exit code 2.
Where sirenkit accepts a damaged file silently, a strict ``xfail`` says so."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
        return truncated(data, draw)
    return flipped(data, draw)


def truncated(data: bytes, draw) -> bytes:
    """``data`` cut at a drawn length (0 to all but the last byte)."""
    return data[: draw(st.integers(0, len(data) - 1))]


def flipped(data: bytes, draw) -> bytes:
    """``data`` with 1 to 8 drawn bits flipped."""
    corrupt = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        corrupt[position] ^= 1 << draw(st.integers(0, 7))
    return bytes(corrupt)


def load_damaged(kind: str, original: Path, data: bytes) -> tuple[Path, Callable[[], object]]:
    """A copy of ``original`` (with the rest of its run folder, for a model or checkpoint) holding
    ``data`` in a fresh folder, and the loader of ``kind`` bound to it."""
    folder = Path(tempfile.mkdtemp())
    if original.parent.name == "run":  # a model or checkpoint: the rest of its folder beside it
        shutil.copytree(original.parent, folder, dirs_exist_ok=True)
    target = folder / original.name
    target.write_bytes(data)
    return target, lambda: _loaders()[kind](target)


def assert_refused_by_name(target: Path, error: BaseException) -> None:
    """The refusal the module docstring asks for: a ``ValueError`` of one line naming the file."""
    assert isinstance(error, ValueError), f"{type(error).__name__}: {error}"
    message = str(error)
    assert target.name in message or str(target.parent) in message, message
    assert "\n" not in message.strip(), message


def sane(kind: str, loaded: object) -> None:
    """What any file that loads must give, whatever its bytes: finite values in the signal's range.
    (A flip in a JPEG's, a WAV's or an OBJ's data leaves a valid file with other content, which no
    loader can tell from the original; what it must not give is a NaN or an out-of-range value.)"""
    if kind in ("png", "jpg", "gif"):
        values = loaded.pixels
        assert np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1
    elif kind in ("wav", "flac", "ogg"):
        values = loaded.samples
        assert values.size and np.isfinite(values).all() and np.abs(values).max() <= 1
    elif kind in ("mp4", "clip.gif"):
        values = loaded.frames
        assert values.size and np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1
    elif kind in ("xyz", "obj", "ply", "off", "stl"):
        assert len(loaded.points) and np.isfinite(loaded.points).all() and np.isfinite(loaded.normals).all()


def content(loaded: object) -> dict[str, np.ndarray]:
    """What a loaded file holds, as arrays: pixels, samples, frames or points and normals; a
    model's or a checkpoint's tensors."""
    import torch

    if isinstance(loaded, dict):  # a checkpoint
        tensors = {}

        def collect(value, name):
            if isinstance(value, torch.Tensor):
                tensors[name] = value.numpy()
            elif isinstance(value, dict):
                for key, item in value.items():
                    collect(item, f"{name}.{key}")
            elif isinstance(value, (list, tuple)):
                for index, item in enumerate(value):
                    collect(item, f"{name}.{index}")

        collect(loaded, "state")
        tensors["step"] = np.array(loaded["step"])
        return tensors
    if hasattr(loaded, "model"):  # a fitted model
        return {name: value.detach().numpy() for name, value in loaded.model.state_dict().items()}
    names = [name for name in ("pixels", "samples", "frames", "points", "normals") if hasattr(loaded, name)]
    assert names, type(loaded)
    return {name: np.asarray(getattr(loaded, name)) for name in names}


def assert_same_content(loaded: object, reference: object) -> None:
    mine, theirs = content(loaded), content(reference)
    assert mine.keys() == theirs.keys()
    for name in mine:
        np.testing.assert_array_equal(mine[name], theirs[name], err_msg=name)


@pytest.mark.parametrize("kind", list(_loaders()))
def test_a_damaged_file_loads_sanely_or_is_refused_by_name(kind, valid_files):
    """Any damage: a refusal of one line naming the file, or a load with finite values in range;
    never another exception (an ``IndexError`` from deep inside a decoder fails this test)."""
    original = valid_files[kind]
    sane(kind, _loaders()[kind](original))  # the undamaged file loads
    check_every_damage_is_refused(kind, original, damaged, accepted=lambda loaded: sane(kind, loaded))


TRUNCATION_UNDETECTABLE = {
    "xyz": "a text file of one point per line with no count: a cut at a line's end is a smaller valid cloud",
    "obj": "OBJ has no counts and no end marker: a cut after a whole face is a smaller valid mesh",
}
"""Kinds whose format cannot tell a truncated file from a shorter valid one."""

SILENTLY_TRUNCATED: dict[str, str] = {}
"""Kinds whose truncation the file does reveal, but the loader accepts (library bugs, exposed)."""


def check_every_cut_is_refused(kind: str, original: Path) -> None:
    """Drawn truncations of ``original``: each refused by name, or (a cut that lost only what the
    content does not need, such as a PNG's end marker) loading exactly the original's content."""
    check_every_damage_is_refused(kind, original, truncated)


def check_every_damage_is_refused(kind: str, original: Path, damage: Callable[[bytes, Any], bytes], *,
                                  accepted: Callable[[Any], None] | None = None) -> None:
    """Drawn damages ``damage(data, draw)`` of ``original``: each refused by name, or loading what
    ``accepted(loaded)`` accepts (by default: exactly the original's content)."""
    data = original.read_bytes()
    reference = _loaders()[kind](original)
    accepted = accepted or (lambda loaded: assert_same_content(loaded, reference))

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(drawn):
        target, load = load_damaged(kind, original, damage(data, drawn.draw))
        try:
            try:
                loaded = load()
            except Exception as error:
                assert_refused_by_name(target, error)
            else:
                accepted(loaded)
        finally:
            shutil.rmtree(target.parent, ignore_errors=True)

    check()


@pytest.mark.parametrize("kind", [
    pytest.param(kind, marks=pytest.mark.xfail(strict=True, reason=SILENTLY_TRUNCATED[kind]))
    if kind in SILENTLY_TRUNCATED else kind
    for kind in _loaders() if kind not in TRUNCATION_UNDETECTABLE])
def test_a_truncated_file_is_refused_by_name(kind, valid_files):
    """A file cut short is refused, or loads as the original: every format here records its length,
    a checksum or an end, so that a cut which loses content can be told."""
    check_every_cut_is_refused(kind, valid_files[kind])


def test_the_truncation_check_fails_for_a_loader_that_accepts_cut_files(valid_files, monkeypatch):
    """Negative control: Pillow told to load truncated images (a loader that silently accepts a PNG
    cut in its pixel data) fails the check above."""
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        check_every_cut_is_refused("png", valid_files["png"])


CHECKSUMMED = ("png", "flac", "ogg")
"""Formats whose content is covered by checksums (PNG: a CRC per chunk; FLAC: a CRC per frame and
the MD5 of the samples; Ogg: a CRC per page)."""


@pytest.mark.parametrize("kind", CHECKSUMMED)
def test_a_flipped_bit_in_a_checksummed_file_is_refused_or_changes_nothing(kind, valid_files):
    """Where a flip cannot pass the checksums unnoticed, what loads (a flip in padding or an unread
    field) is exactly the original."""
    check_every_damage_is_refused(kind, valid_files[kind], flipped)


def _tensor_bytes(path: Path) -> tuple[int, int]:
    """Where a safetensors file's tensor data lies: ``(first byte, end)`` (after the 8-byte header
    length and the JSON header)."""
    data = path.read_bytes()
    header = int.from_bytes(data[:8], "little")
    return 8 + header, len(data)


@pytest.mark.parametrize("kind", ["safetensors", "checkpoint"])
def test_a_flipped_bit_in_sirenkits_own_weights_is_refused(kind, valid_files):
    """sirenkit's own files: a flip in the tensor data (the weights) must not load as another model.
    One flip in the exponent's top bit of the middle weight: the loaded model would differ."""
    original = valid_files[kind]
    data = bytearray(original.read_bytes())
    first, end = _tensor_bytes(original)
    middle = first + ((end - first) // 2) // 4 * 4  # a float32's first byte, little-endian
    data[middle + 3] ^= 0x40  # its exponent's top bit: 1e-2 becomes ~1e36
    target, load = load_damaged(kind, original, bytes(data))
    try:
        with pytest.raises(Exception) as refused:
            load()
        assert_refused_by_name(target, refused.value)
    finally:
        shutil.rmtree(target.parent, ignore_errors=True)


@pytest.mark.parametrize("kind, argv", [
    ("png", ["fit", "image", "{file}", "--size", "8"]),
    ("wav", ["fit", "audio", "{file}"]),
    ("mp4", ["fit", "video", "{file}", "--size", "8"]),
    ("model.json", ["render", "{folder}", "--out", "{folder}/x.png"]),
    ("checkpoint", ["fit", "image", "camera", "--size", "8", "--out", "{folder}", "--resume"]),
])
def test_a_truncated_file_on_the_command_line_is_one_line(kind, argv, valid_files, tmp_path, capsys):
    """The same on the command line, for a few drawn cuts: exit code 2 and one line naming the file,
    or 0 where the cut file loads as the original. (A point cloud is left out: its truncation can
    leave a smaller valid file, see TRUNCATION_UNDETECTABLE.)"""
    original = valid_files[kind]
    data = original.read_bytes()
    reference = _loaders()[kind](original)
    tiny = ["--steps", "2", "--width", "8", "--layers", "1", "--device", "cpu", "--compile", "off", "-q"]

    @settings(max_examples=4, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(drawn):
        folder = Path(tempfile.mkdtemp(dir=tmp_path))
        if original.parent.name == "run":
            shutil.copytree(original.parent, folder, dirs_exist_ok=True)
        target = folder / original.name
        target.write_bytes(truncated(data, drawn.draw))
        words = [a.replace("{file}", str(target)).replace("{folder}", str(folder)) for a in argv]
        extra = tiny + (["--out", str(folder / "out")] if words[0] == "fit" and "--out" not in words else [])
        code, _, err = run_cli(words + (extra if words[0] == "fit" else []), capsys)
        if code == 0:  # only where the cut lost nothing: the file loads as the original
            assert_same_content(_loaders()[kind](target), reference)
            return
        assert code == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sirenkit: error:") and "Traceback" not in err, err
        assert target.name in lines[0] or str(folder) in lines[0], err

    check()


@pytest.mark.parametrize("section, key, value", [
    ("network", "hidden_features", -3), ("network", "hidden_layers", 10**9), ("network", "first_omega", "x"),
    ("network", "hidden_features", 10**9), ("network", "out_features", 4), ("network", "in_features", 3),
    ("network", "hidden_layers", "4"), ("network", "hidden_layers", 2.5), ("network", "first_omega", None),
    ("signal", "shape", [10**9, 10**9]), ("signal", "shape", [0, 8]), ("signal", "shape", ["8", 8]),
    ("signal", "channels", None), ("signal", "channels", 4), ("signal", "mode", "CMYK"), ("signal", "extent", [1]),
    ("signal", "bit_depth", 3), ("signal", "source", {"a": 1}),
])
def test_a_model_json_with_hostile_values_is_refused(section, key, value, valid_files, tmp_path):
    """Values a received model.json may hold: huge sizes, negative counts, wrong types; each refused
    in one line naming the model's files (the weights file here holds no description of its own to
    fall back on)."""
    from sirenkit.engine.models import load

    info = json.loads(valid_files["model.json"].read_text())
    folder = tmp_path / f"{section}-{key}"
    shutil.copytree(valid_files["model.json"].parent, folder)
    (folder / "model.safetensors").write_bytes(_weights_without_description(folder / "model.safetensors"))
    info[section][key] = value
    (folder / "model.json").write_text(json.dumps(info))
    with pytest.raises(ValueError) as refused:
        load(folder)
    assert str(folder) in str(refused.value) and "\n" not in str(refused.value).strip(), str(refused.value)


def _weights_without_description(path: Path) -> bytes:
    from safetensors.torch import load_file, save

    return save({name: tensor.contiguous() for name, tensor in load_file(str(path)).items()})
