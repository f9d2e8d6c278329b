"""CPU smoke runs of every subcommand at tiny sizes, and every bad input: one line, exit 2."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sirenkit.cli import main

from conftest import assert_one_line_error
from conftest import run_cli as run

TINY = ["--steps", "6", "--width", "16", "--layers", "2", "--device", "cpu", "--compile", "off", "-q"]


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["fit", "image", "camera", "--size", "20", *TINY, "--out", str(out)]) == 0
    return out


def test_fit_image_writes_the_run_folder(image_run):
    for name in ("model.safetensors", "model.json", "reconstruction.png", "figure.png", "psnr.png",
                 "metrics.json", "config.json"):
        assert (image_run / name).is_file()
    config = json.loads((image_run / "config.json").read_text())
    assert config["task"] == "image" and config["network"]["hidden_features"] == 16
    assert Image.open(image_run / "reconstruction.png").size == (20, 20)


@pytest.mark.parametrize("model", ["relu", "relu-pe", "rff", "tanh"])
def test_fit_image_with_each_baseline(tmp_path, capsys, model):
    code, out, _ = run(["fit", "image", "coffee", "--size", "18", *TINY, "--model", model,
                        "--out", tmp_path / model], capsys)
    assert code == 0 and "psnr" in out
    assert json.loads((tmp_path / model / "metrics.json").read_text())["model"] == model


@pytest.mark.parametrize("what", ["value", "gradient", "laplacian"])
def test_render_at_another_size(image_run, tmp_path, capsys, what):
    target = tmp_path / f"{what}.png"
    code, out, _ = run(["render", image_run, "--size", "40x30", "--what", what, "--out", target, "--device", "cpu"],
                       capsys)
    assert code == 0, out
    assert Image.open(target).size == (40, 30)


def test_resume_continues_to_more_steps(image_run, tmp_path, capsys):
    out = tmp_path / "resumable"
    assert run(["fit", "image", "camera", "--size", "16", *TINY, "--out", out], capsys)[0] == 0
    more = [a if a != "6" else "9" for a in TINY]
    code, _, _ = run(["fit", "image", "camera", "--size", "16", *more, "--out", out, "--resume"], capsys)
    assert code == 0
    assert json.loads((out / "metrics.json").read_text())["steps"] == 9


def test_compare_writes_figure_and_table(tmp_path, capsys):
    code, out, _ = run(["compare", "camera", "--size", "16", *TINY, "--models", "siren,relu-pe",
                        "--out", tmp_path / "cmp"], capsys)
    assert code == 0
    assert "siren" in out and "relu-pe" in out and "PSNR" in out
    assert (tmp_path / "cmp" / "comparison.png").is_file()
    table = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert [row["model"] for row in table] == ["siren", "relu-pe"]
    assert table[0]["size"] == "16×2" and "16×2" in out  # the size each family is made of, not a width
    assert abs(table[0]["parameters"] - table[1]["parameters"]) / table[0]["parameters"] < 0.05
    # SIREN as fit image makes it: its first ω0 chosen from the image (the baseline has no frequency)
    assert json.loads((tmp_path / "cmp" / "siren" / "metrics.json").read_text())["frequency_choice"]["chosen"] == "auto"
    assert "frequency_choice" not in json.loads((tmp_path / "cmp" / "relu-pe" / "metrics.json").read_text())


def test_a_default_laplacian_run_resumes(tmp_path, capsys):
    """Its box weight is a pair that config.json keeps as a list: resuming compares them equal."""
    out = tmp_path / "lap"
    assert run(["poisson", "camera", "--from", "laplacian", "--size", "16", *TINY, "--out", out], capsys)[0] == 0
    assert json.loads((out / "config.json").read_text())["poisson"]["box_weight"] == [0.01, 0.00001]
    more = [a if a != "6" else "9" for a in TINY]
    code, _, err = run(["poisson", "camera", "--from", "laplacian", "--size", "16", *more, "--out", out, "--resume"],
                       capsys)
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["steps"] == 9


@pytest.mark.parametrize("source", ["gradient", "laplacian"])
def test_poisson_smoke(tmp_path, capsys, source):
    out = tmp_path / source
    code, text, err = run(["poisson", "camera", "--from", source, "--size", "16", *TINY, "--out", out], capsys)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["from"] == source and "classical_psnr" in metrics
    assert metrics["alignment"] == {"gradient": "constant", "laplacian": "plane"}[source]
    for name in ("reconstruction.png", "figure.png", "psnr.png", "model.safetensors", "config.json"):
        assert (out / name).is_file()


@pytest.mark.parametrize("source, option, weight, other", [("gradient", "--segments", "0.05", "--boxes"),
                                                           ("laplacian", "--boxes", "0.001", "--segments")])
def test_poisson_multiscale_weights_have_their_own_names(tmp_path, capsys, source, option, weight, other):
    out = tmp_path / source
    code, _, err = run(["poisson", "camera", "--from", source, "--size", "16", *TINY, option, weight, "--out", out],
                       capsys)
    assert code == 0, err
    settings = json.loads((out / "config.json").read_text())["poisson"]
    named = {"--segments": "segment_weight", "--boxes": "box_weight"}
    assert settings[named[option]] == float(weight) and settings[named[other]] == 0.0
    history = json.loads((out / "history.json").read_text())
    assert {"--segments": "segments", "--boxes": "boxes"}[option] in history[-1]  # the term was fitted
    code, _, err = run(["poisson", "camera", "--from", source, "--size", "16", *TINY, other, "0.1",
                        "--out", tmp_path / "refused"], capsys)
    named_source = {"gradient": "gradient", "laplacian": "Laplacian"}[source]
    assert_one_line_error(code, err, f"does not apply to a reconstruction from the {named_source}")
    assert not (tmp_path / "refused" / "checkpoint.safetensors").exists()


def test_poisson_restores_given_channel_means(tmp_path, capsys):
    out = tmp_path / "means"
    code, _, err = run(["poisson", "coffee", "--from", "gradient", "--size", "16", *TINY, "--means", "0.2,0.4,0.6",
                        "--out", out], capsys)
    assert code == 0, err
    saved = np.asarray(Image.open(out / "reconstruction.png")).astype(float) / 255
    assert np.allclose(saved.mean(axis=(0, 1)), [0.2, 0.4, 0.6], atol=0.02)


@pytest.mark.parametrize("mode", ["average", "mixed", "clone"])
def test_fuse_smoke(tmp_path, capsys, mode):
    Image.fromarray((np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)).save(tmp_path / "a.png")
    Image.fromarray((np.random.default_rng(1).random((16, 16, 3)) * 255).astype(np.uint8)).save(tmp_path / "b.png")
    mask = np.zeros((16, 16), np.uint8)
    mask[4:10, 4:10] = 255
    Image.fromarray(mask[:12, :12]).save(tmp_path / "mask.png")
    extra = ["--mask", tmp_path / "mask.png", "--at", "2,3"] if mode == "clone" else []
    if mode == "clone":
        Image.fromarray((np.random.default_rng(1).random((12, 12, 3)) * 255).astype(np.uint8)).save(tmp_path / "b.png")
    out = tmp_path / mode
    code, _, err = run(["fuse", tmp_path / "a.png", tmp_path / "b.png", "--mode", mode, *extra, *TINY, "--out", out],
                       capsys)
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["mode"] == mode
    assert Image.open(out / "reconstruction.png").size == (16, 16)


def test_info_shows_the_model(image_run, capsys):
    code, out, _ = run(["info", image_run, "--json"], capsys)
    assert code == 0 and '"kind": "image"' in out and '"psnr"' in out
    assert '"siren": {' in out and "wire_scale" not in out  # the network's own section, no other family's


def test_info_says_in_a_few_lines_what_a_run_holds(image_run, capsys):
    code, out, _ = run(["info", image_run], capsys)
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith(f"{image_run}: image (source ")
    assert lines[1].startswith("network: siren 16×2, ") and "parameters (first_omega" in lines[1]
    assert lines[2].startswith("result: psnr ") and " dB, ssim " in lines[2] and lines[2].endswith("steps were taken")
    assert lines[3].startswith("files: ") and "model.safetensors" in lines[3]


def bad_files(tmp_path):
    (tmp_path / "empty.png").touch()
    (tmp_path / "text.png").write_text("not an image")
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(tmp_path / "dot.png")
    Image.fromarray(np.full((8, 8), 128, np.uint8)).save(tmp_path / "flat.png")
    Image.fromarray((np.arange(64).reshape(8, 8) * 3).astype(np.uint8)).save(tmp_path / "grey.png")
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(tmp_path / "mask.png")
    return tmp_path


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "image", "{tmp}/missing.png"], "missing.png: no such file"),
        (["fit", "image", "{tmp}/empty.png"], "empty.png: the file is empty"),
        (["fit", "image", "{tmp}/text.png"], "text.png: not an image file"),
        (["fit", "image", "{tmp}/dot.png"], "at least 2×2"),
        (["fit", "image", "camera", "--size", "0"], "--size"),
        (["fit", "image", "camera", "--steps", "0"], "--steps"),
        (["fit", "image", "camera", "--steps", "many"], "--steps"),
        (["fit", "image", "camera", "--device", "tpu"], "device"),
        (["fit", "image", "camera", "--resume", "--out", "{tmp}/fresh"], "no checkpoint to resume from"),
        (["render", "{tmp}/missing", "--out", "{tmp}/x.png"], "no such file"),
        (["render", "{tmp}", "--out", "{tmp}/x.png"], "model.safetensors: missing"),
        (["compare", "camera", "--models", "siren,cnn"], "unknown models cnn"),
        (["poisson", "{tmp}/flat.png", "--from", "gradient"], "flat.png: the image is constant"),
        (["poisson", "camera", "--from", "gradient", "--means", "a,b"], "--means must be numbers"),
        (["fuse", "camera", "{tmp}/flat.png"], "pass --resize"),
        (["fuse", "camera", "astronaut", "--mode", "clone", "--mask", "{tmp}/grey.png"], "must be a binary image"),
        (["fuse", "camera", "{tmp}/flat.png", "--mode", "clone", "--mask", "{tmp}/mask.png", "--at", "510,0"],
         "falls outside the first image"),
        (["fuse", "camera", "{tmp}/flat.png", "--mode", "clone", "--mask", "{tmp}/mask.png", "--at", "1.5,2"],
         "--at must be two whole pixel numbers"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code_2(tmp_path, capsys, argv, message):
    bad_files(tmp_path)
    code, _, err = run([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "fresh").exists()
    assert not (tmp_path / "x.png").exists()


def test_a_corrupt_checkpoint_on_resume_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.safetensors").write_bytes(b"\x00" * 100)
    code, _, err = run(["fit", "image", "camera", "--size", "16", *TINY, "--out", out, "--resume"], capsys)
    assert code == 2 and "checkpoint.safetensors: not a readable sirenkit checkpoint" in err
    assert not (out / "model.safetensors").exists()


def test_the_console_script_exits_2_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sirenkit", "fit", "image", str(tmp_path / "nope.png")],
        capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (f"sirenkit: error: {tmp_path / 'nope.png'}: no such file, and not a bundled "
                                     "image name (try camera, astronaut, coffee, chelsea, cat, ...)")


def test_help_shows_the_configuration_docstrings(capsys):
    from sirenkit.config import field_docs
    from sirenkit.engine.config import TrainConfig

    code, text, _ = run(["fit", "image", "--help"], capsys)
    assert code == 0
    flat = " ".join(text.split())
    for field in ("learning_rate", "precision", "seed"):
        assert field_docs(TrainConfig)[field] in flat, field  # one text: the field's docstring
    assert "``" not in flat


@pytest.mark.parametrize("command", [["fit", "image"], ["fit", "sdf"], ["compare"], ["poisson"], ["fuse"]])
def test_help_describes_unbounded_numbers_without_a_range(command, capsys):
    code, text, _ = run([*command, "--help"], capsys)
    assert code == 0
    flat = " ".join(text.split())
    assert "--until FLOAT Stop" in flat and "None]" not in flat  # click would print "FLOAT RANGE ... [x<=None]"


def test_options_left_out_keep_the_library_defaults(tmp_path, capsys):
    """The command line changes only what it was given: the task's checkpoint interval, the
    configuration's width and layers, the SDF recipe's points and mesh grid."""
    from sirenkit.signals.shape.kind import SdfConfig, ShapeKind

    out = tmp_path / "image"
    code, _, err = run(["fit", "image", "camera", "--size", "12", "--steps", "2", "--device", "cpu", "--compile",
                        "off", "-q", "--out", out], capsys)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["network"]["hidden_features"] == 256 and config["network"]["hidden_layers"] == 4
    assert config["train"]["checkpoint_every"] == 100
    assert config["train"]["time_budget"] is None  # --steps alone: no default budget, as before budgets
    import trimesh

    trimesh.creation.icosphere(subdivisions=2).export(tmp_path / "ball.obj")
    out = tmp_path / "sdf"
    code, _, err = run(["fit", "sdf", tmp_path / "ball.obj", "--steps", "2", "--width", "8", "--layers", "1",
                        "--device", "cpu", "--compile", "off", "-q", "--out", out], capsys)
    assert code in (0, 2), err  # two steps may find no surface yet; the configuration is what is checked
    config = json.loads((out / "config.json").read_text())
    default_train = ShapeKind(source="", center=(0.0, 0.0, 0.0), scale=1.0).train_config()
    assert config["train"]["checkpoint_every"] == default_train.checkpoint_every == 200
    assert config["sdf"]["surface_points"] == SdfConfig.surface_points
    assert config["sdf"]["mesh_resolution"] == SdfConfig.mesh_resolution


def test_fit_to_a_time_budget_from_the_command_line(tmp_path, capsys, monkeypatch):
    """``--time 1.5`` with steps of exactly 1/8 s on a fake clock: the budget, not a number of
    steps, ends the fit, after the 12 steps that end at 1.5 s."""
    from conftest import step_clock

    clock = step_clock(monkeypatch, 0.125)
    out = tmp_path / "budget"
    code, _, err = run(["fit", "image", "camera", "--size", "16", "--time", "1.5", "--width", "16", "--layers", "2",
                        "--device", "cpu", "--compile", "off", "-q", "--out", out], capsys)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert metrics["stopped_by"] == "time" and config["train"]["time_budget"] == 1.5
    assert config["train"]["steps"] > 12  # the steps were not what stopped it
    assert metrics["steps"] == clock.steps == 12
    from sirenkit.engine.kinds import PROMISED_SECONDS
    from sirenkit.signals.image.fit import image_train_config

    assert image_train_config().time_budget == PROMISED_SECONDS["image"] == 85.0  # the recipe's own budget


@pytest.mark.parametrize("option, value, message", [
    ("--time", "0", "--time"), ("--time", "-3", "--time"),
    ("--time", "nan", "'--time': 'nan' is not a finite number"),
    ("--time", "inf", "'--time': 'inf' is not a finite number"),
    ("--until", "70", "asks for more psnr than an image's written result can show (58.92)"),
    ("--until", "inf", "'--until': 'inf' is not a finite number"),
    ("--omega", "nan", "'--omega': 'nan' is not a finite number"),
    ("--omega", "0", "'--omega': 0.0 is not in the range x>0"),
    ("--lr", "inf", "'--lr': 'inf' is not a finite number"),
    ("--lr", "-1e-3", "'--lr'"),
])
def test_bad_budgets_and_targets_give_one_line(tmp_path, capsys, option, value, message):
    code, _, err = run(["fit", "image", "camera", "--size", "16", *TINY, option, value, "--out", tmp_path / "r"],
                       capsys)
    assert_one_line_error(code, err, message)
