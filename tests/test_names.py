"""File names that are not valid UTF-8 work everywhere, and text taken from files reaches a terminal,
a figure or a summary escaped.

On Linux a name's bytes need not be UTF-8: Python gives such a name as a `str` holding surrogate
escapes (`b'caf\\xe9.png'` is `'caf\\udce9.png'`), which cannot be printed, drawn by matplotlib or
written as UTF-8. Such a name is hashed by its bytes and shown as `caf\\xe9.png`; a value read from a
file (a received run's `config.json`, `model.json`, `metrics.json`) is printed with its terminal
control characters escaped."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sirenkit as sk

from conftest import assert_one_line_error, run_cli, smooth_image

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="names that are not UTF-8 are a POSIX matter")

TINY = ["--steps", "3", "--width", "8", "--layers", "1", "--omega", "30", "--device", "cpu", "--compile", "off",
        "-q"]

SHOWN = "caf\\xe9"
"""How `caf\\xe9` (the byte 0xE9, not é) is shown: the escape `os.fsencode(...).decode("utf-8",
"backslashreplace")` writes."""


def odd(folder: Path, name: bytes) -> Path:
    """`folder / name` for a name given as bytes (not valid UTF-8), as Python sees it."""
    return folder / os.fsdecode(name)


def photo(path: Path, size: int = 12, seed: int = 0) -> Path:
    pixels = (smooth_image(size, size, channels=3, seed=seed) * 255).astype(np.uint8)
    with open(path, "wb") as stream:  # by its handle: whatever the name
        Image.fromarray(pixels).save(stream, format="PNG")
    return path


# --- the escape, once ------------------------------------------------------------------------------

def test_printable_escapes_names_and_control_characters_and_keeps_the_rest():
    from sirenkit.text import figure_text, printable

    name = os.fsdecode(b"caf\xe9 \xff.png")
    assert printable(name) == os.fsencode(name).decode("utf-8", "backslashreplace") == "caf\\xe9 \\xff.png"
    assert printable("\x1b[31mred\x1b]0;owned\x07 \x9b2J \x7f \u202eevil\tx") == \
        "\\x1b[31mred\\x1b]0;owned\\x07 \\x9b2J \\x7f \\u202eevil\\tx"
    assert printable("café ∇f 16×16 — ok") == "café ∇f 16×16 — ok"  # valid text is kept as it is
    assert printable("two\nlines") == "two\\nlines" and printable("two\nlines", lines=True) == "two\nlines"
    assert printable("\ud800 lone") == "\\ud800 lone"  # a surrogate that no byte gives (from JSON)
    assert figure_text("$\\frac$ " + name) == "\\$\\frac\\$ caf\\xe9 \\xff.png"
    assert printable(Path("/a") / name) == "/a/caf\\xe9 \\xff.png"


def test_a_figure_title_with_such_a_name_is_drawn(tmp_path):
    """matplotlib refuses a surrogate (TypeError) and parses `$...$` as mathtext (a ValueError for
    `$\\frac$`): a title that holds a file's name is drawn as written."""
    from sirenkit.figures import curve_figure

    name = os.fsdecode(b"caf\xe9 $\\frac$ \x1b[2J.png")
    curve_figure({name: ([0, 1], [1.0, 2.0])}, tmp_path / "curve.png", xlabel="step", ylabel=name, title=name)
    assert (tmp_path / "curve.png").stat().st_size > 0


def test_a_default_run_folder_hashes_the_names_bytes_and_is_named_as_it_is_shown(tmp_path):
    from sirenkit.cli.options import default_out

    source = photo(odd(tmp_path, b"caf\xe9.png"))
    tag = hashlib.sha256(os.fsencode(source.resolve())).hexdigest()[:6]
    assert default_out("image", str(source)) == Path("runs") / f"image-{SHOWN}-{tag}"


# --- fits of such names ----------------------------------------------------------------------------

def test_an_image_whose_name_is_not_utf8_fits_and_writes_metrics_and_figures(tmp_path, capsys):
    source = photo(odd(tmp_path, b"caf\xe9.png"))
    out = tmp_path / "R"
    code, printed, err = run_cli(["fit", "image", source, "--size", "12", *TINY, "--out", out], capsys)
    assert code == 0, err
    for name in ("metrics.json", "figure.png", "psnr.png", "reconstruction.png", "README.md"):
        assert (out / name).is_file(), name
    assert json.loads((out / "metrics.json").read_text())["steps"] == 3
    assert f"{SHOWN}.png" in (out / "README.md").read_text()  # named readably, not dropped
    code, printed, err = run_cli(["fit", "image", source, "--size", "12", *TINY, "--out", out, "--resume",
                                  "--steps", "4"], capsys)  # the same input, recognised by its bytes
    assert code == 0, err


def test_a_folder_with_such_a_name_completes_and_its_summary_names_it_escaped(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    photo(odd(folder, b"caf\xe9.png"))
    photo(folder / "plain.png", seed=1)
    out = tmp_path / "runs"
    code, printed, err = run_cli(["fit", "image", folder, "--size", "12", *TINY, "--out", out], capsys)
    assert code == 0, err
    assert f"{SHOWN}: fitted" in printed.splitlines()[0] and "plain: fitted" in printed
    with open(out / "summary.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [(row["signal"], row["status"]) for row in rows] == [(SHOWN, "fitted"), ("plain", "fitted")]
    assert rows[0]["source"].endswith(f"{SHOWN}.png")
    text = (out / "summary.json").read_text()
    assert "\\udce9" not in text  # no lone surrogate, which strict JSON readers refuse
    assert json.loads(text)["rows"][0]["signal"] == SHOWN
    run = Path(json.loads(text)["rows"][0]["run"])  # named as the summary names the signal: a path any tool opens
    assert run == out / SHOWN and (run / "metrics.json").is_file()
    code, printed, err = run_cli(["info", run], capsys)
    assert code == 0 and f"{SHOWN}.png" in printed.splitlines()[0], err


def test_a_folder_fit_that_stops_on_an_unforeseen_error_still_writes_its_summary(tmp_path, monkeypatch):
    """A bug in one signal's last step (here: writing its run folder) ends the folder's fit with that
    error, not with a `KeyError` from the summary; the summary gives every signal a status."""
    from sirenkit.signals.image.kind import ImageKind

    def broken(self, fitted, signal, out):
        raise TypeError("drawing failed")

    monkeypatch.setattr(ImageKind, "write_run", broken)
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(2):
        photo(folder / f"p{index}.png", seed=index)
    train = sk.TrainConfig(steps=2, compile=False, precision="float32", checkpoint_every=0)
    network = sk.NetworkConfig(in_features=2, out_features=3, hidden_features=8, hidden_layers=1)
    with pytest.raises(TypeError, match="drawing failed"):
        sk.fit_many([folder], out=tmp_path / "runs", network=network, train=train, group=1, frequency=None,
                    progress=False)
    rows = json.loads((tmp_path / "runs" / "summary.json").read_text())["rows"]
    assert [row["status"] for row in rows] == ["failed", "failed"]
    assert "TypeError: drawing failed" in rows[0]["error"]


def test_a_video_folder_holding_such_a_name_fits_or_is_refused_naming_it(tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(2):
        photo(frames / f"{index:03d}.png", size=8, seed=index)
    photo(odd(frames, b"002\xe9.png"), size=8, seed=2)
    out = tmp_path / "R"
    code, printed, err = run_cli(["fit", "video", frames, *TINY, "--out", out], capsys)
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["steps"] == 3
    assert len(json.loads((out / "metrics.json").read_text())["psnr_per_frame"]) == 3
    photo(odd(frames, b"001\xe9.png"), size=8, seed=3)  # two frames numbered 1: refused, both named
    code, _, err = run_cli(["fit", "video", frames, *TINY, "--out", tmp_path / "S"], capsys)
    assert_one_line_error(code, err, "001.png and 001\\xe9.png carry the same frame number 1")


# --- text from a received run folder ---------------------------------------------------------------

def fitted_run(source: Path | str, folder: Path, capsys) -> Path:
    code, _, err = run_cli(["fit", "image", source, "--size", "12", *TINY, "--out", folder], capsys)
    assert code == 0, err
    return folder


def test_info_prints_a_received_runs_texts_and_its_sources_name_escaped(tmp_path, capsys):
    run = fitted_run(photo(odd(tmp_path, b"caf\xe9.png")), tmp_path / "R", capsys)
    config = json.loads((run / "config.json").read_text())
    config["task"] = "\u001b[31mimage"
    config["image"]["source"] = "\u001b]0;owned\u0007camera"
    (run / "config.json").write_text(json.dumps(config))
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["stop_reason"] = "\u001b[2J\u009b31m"
    (run / "metrics.json").write_text(json.dumps(metrics))
    for extra in ([], ["--json"]):
        code, printed, err = run_cli(["info", run, *extra], capsys)
        assert code == 0, err
        assert not any(character in printed + err for character in "\x1b\x07\x9b"), printed
    code, printed, _ = run_cli(["info", run], capsys)
    assert printed.startswith(f"{run}: image (source {tmp_path}/{SHOWN}.png, ")  # the name, readable
    assert "\\x1b[2J\\x9b31m" in printed


def test_a_received_runs_config_is_quoted_escaped_in_a_refusal(tmp_path, capsys):
    run = fitted_run("camera", tmp_path / "R", capsys)
    config = json.loads((run / "config.json").read_text())
    config["task"] = "\u001b[31mimage"
    config["inputs"]["source"] = {"name": "\u001b]0;owned\u0007camera"}
    (run / "config.json").write_text(json.dumps(config))
    code, _, err = run_cli(["fit", "image", "camera", "--size", "12", *TINY, "--out", run], capsys)
    assert_one_line_error(code, err, "holds a previous run (task \\x1b[31mimage, \\x1b]0;owned\\x07camera)")
    assert "\x1b" not in err and "\x07" not in err


def test_a_run_folder_whose_own_name_is_not_utf8_is_written_read_rendered_and_resumed(tmp_path, capsys):
    """The weights and checkpoint are read and written as bytes: safetensors' own file functions
    take only UTF-8 names."""
    out, picture = odd(tmp_path, b"r\xe9"), odd(tmp_path, b"x\xe9.png")
    assert run_cli(["fit", "image", "camera", "--size", "8", *TINY, "--out", out], capsys)[0] == 0
    assert run_cli(["info", out], capsys)[0] == 0
    assert run_cli(["render", out, "--size", "8", "--out", picture], capsys)[0] == 0
    assert Image.open(picture).size == (8, 8)
    code, _, err = run_cli(["fit", "image", "camera", "--size", "8", *TINY[2:], "--steps", "5", "--resume",
                            "--out", out], capsys)
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["steps"] == 5


def test_a_sound_whose_name_is_not_utf8_fits_and_is_drawn(tmp_path, capsys):
    import soundfile

    sound = odd(tmp_path, b"s\xe9.wav")
    with open(sound, "wb") as stream:  # by its handle: whatever the name
        soundfile.write(stream, np.sin(np.linspace(0, 80, 400)).astype(np.float32), 8000, format="WAV")
    out = tmp_path / "run"
    code, _, err = run_cli(["fit", "audio", sound, *TINY, "--out", out], capsys)
    assert code == 0, err
    assert "s\\xe9.wav" in (out / "README.md").read_text() and (out / "metrics.json").is_file()
