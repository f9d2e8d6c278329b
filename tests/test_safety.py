"""Runs that never lose or mix up a user's work, and inputs that never crash the tool (issue 14):
run folders are never silently reused, saved state is consistent, memory is checked before large
allocations, and corrupt files of every kind end in one line naming them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sirenkit as sk

from conftest import assert_one_line_error, run_cli

TINY = ["--steps", "6", "--width", "16", "--layers", "2", "--device", "cpu", "--compile", "off", "-q"]


def fit_tiny(image, out, capsys, *extra):
    return run_cli(["fit", "image", image, "--size", "16", *TINY, "--out", out, *extra], capsys)


# --- run folders are never silently reused --------------------------------------------------

def test_resuming_with_another_image_is_refused_before_anything_changes(tmp_path, capsys):
    out = tmp_path / "R"
    assert fit_tiny("camera", out, capsys)[0] == 0
    before = {name: (out / name).read_bytes() for name in ("config.json", "checkpoint.safetensors")}
    code, _, err = fit_tiny("moon", out, capsys, "--resume")
    assert_one_line_error(code, err, "cannot resume: the input 'source' was 'camera' in that run, now 'moon'")
    assert {name: (out / name).read_bytes() for name in before} == before


def test_a_changed_file_or_setting_is_named_on_resume(tmp_path, capsys):
    image = tmp_path / "photo.png"
    Image.fromarray((np.arange(256).reshape(16, 16)).astype(np.uint8)).save(image)
    out = tmp_path / "R"
    assert fit_tiny(image, out, capsys)[0] == 0
    code, _, err = fit_tiny(image, out, capsys, "--resume", "--lr", "3e-4")
    assert_one_line_error(code, err, "the training setting learning_rate was 0.001 in that run, now 0.0003")
    code, _, err = run_cli(["fit", "image", image, "--size", "16", *TINY, "--width", "24", "--out", out,
                            "--resume"], capsys)
    assert_one_line_error(code, err, "the network's hidden_features was 16 in that run, now 24")
    Image.fromarray((255 - np.arange(256).reshape(16, 16)).astype(np.uint8)).save(image)  # same name, new pixels
    code, _, err = fit_tiny(image, out, capsys, "--resume")
    assert_one_line_error(code, err, "cannot resume: the input 'source'")


def test_a_folder_with_a_run_is_refused_without_resume_or_overwrite(tmp_path, capsys):
    out = tmp_path / "R"
    assert fit_tiny("camera", out, capsys)[0] == 0
    (out / "notes.txt").write_text("mine")
    before = (out / "model.safetensors").read_bytes()
    code, _, err = fit_tiny("moon", out, capsys)
    assert_one_line_error(code, err, "holds a previous run (task image, camera); continue it with --resume or "
                                     "replace it with --overwrite")
    assert (out / "model.safetensors").read_bytes() == before
    code, _, err = fit_tiny("moon", out, capsys, "--overwrite")
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["inputs"]["source"] == {"name": "moon"}
    assert (out / "notes.txt").read_text() == "mine"  # only what the run wrote is replaced
    assert "figure.png" in json.loads((out / "metrics.json").read_text())["files"]
    code, _, err = fit_tiny("moon", out, capsys, "--overwrite", "--resume")
    assert_one_line_error(code, err, "pass one of them")


def test_a_resumed_run_keeps_its_own_schedule_and_steps(tmp_path, capsys):
    out = tmp_path / "R"
    assert fit_tiny("camera", out, capsys)[0] == 0  # 6 steps
    code, _, err = run_cli(["fit", "image", "camera", "--size", "16", "--width", "16", "--layers", "2", "--device",
                            "cpu", "--compile", "off", "-q", "--out", out, "--resume"], capsys)
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["steps"] == 6  # not the image recipe's 1,500
    code, _, err = fit_tiny("camera", out, capsys, "--resume", "--steps", "9")  # told otherwise
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["steps"] == 9


def test_default_run_folders_of_files_with_one_name_do_not_collide(tmp_path):
    from sirenkit.cli.options import default_out

    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / folder / "cat.png")
    first, second = (default_out("image", str(tmp_path / folder / "cat.png")) for folder in ("a", "b"))
    assert first != second and first.name.startswith("image-cat-")
    assert default_out("image", "camera") == Path("runs/image-camera")


def test_the_model_is_saved_before_post_processing_can_fail(tmp_path, monkeypatch):

    from sirenkit.engine.config import TrainConfig
    from sirenkit.networks.config import NetworkConfig
    from sirenkit.signals.image.kind import ImageKind

    def broken(*args, **kwargs):
        raise MemoryError("figures")

    monkeypatch.setattr(ImageKind, "write_run", broken)
    with pytest.raises(MemoryError):
        sk.fit_image("camera", size=16, network=NetworkConfig(2, 1, hidden_features=16, hidden_layers=2),
                     train=TrainConfig(steps=5, compile=False), out=tmp_path / "R", progress=False)
    assert sk.load(tmp_path / "R").render().shape == (16, 16, 1)


# --- saved state is consistent ----------------------------------------------------------------

def test_config_and_metrics_are_standard_json(tmp_path):
    from sirenkit.io import write_json

    write_json(tmp_path / "m.json", {"psnr": float("inf"), "loss": float("nan"), "steps": [1.0, float("-inf")]})
    assert json.loads((tmp_path / "m.json").read_text(), parse_constant=lambda c: pytest.fail(c)) == {
        "psnr": None, "loss": None, "steps": [1.0, None]}


@pytest.mark.parametrize("make, message", [
    (lambda: __import__("sirenkit").NetworkConfig(2, 1, first_omega=float("nan")), "first_omega must be a finite"),
    (lambda: __import__("sirenkit").NetworkConfig(2, 1, first_omega=0.0), "first_omega must be a finite number above"),
    (lambda: __import__("sirenkit").TrainConfig(learning_rate=float("inf")), "learning_rate must be a finite"),
    (lambda: __import__("sirenkit").TrainConfig(clip_grad_norm=-1.0), "clip_grad_norm must be"),
    (lambda: __import__("sirenkit").TrainConfig(final_lr_fraction=2.0), "final_lr_fraction must be between"),
])
def test_configurations_refuse_values_that_would_train_nothing(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def wait_for(condition, process: subprocess.Popen, what: str, seconds: float = 300.0) -> None:
    """Poll ``condition`` until it holds while ``process`` runs; fail, naming ``what``, if the
    process ends first or ``seconds`` (generous: a loaded machine is slow, not wrong) pass."""
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the run ended (exit code {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"no {what} within {seconds:.0f} s")
        time.sleep(0.05)


def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    """kill -9 in the middle of a run, once its first checkpoint is written (a run of a million
    steps cannot end before), then --resume to a few more steps: the run finishes from that
    checkpoint with a folder whose files belong together."""
    out = tmp_path / "R"
    command = [sys.executable, "-m", "sirenkit", "fit", "image", "camera", "--size", "24", "--steps", "1000000",
               "--width", "32", "--layers", "2", "--device", "cpu", "--compile", "off", "-q", "--out", str(out)]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for((out / "checkpoint.safetensors").exists, process, "a checkpoint")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL  # killed, not finished
    from sirenkit.engine.checkpoint import load_checkpoint_file

    saved = load_checkpoint_file(out / "checkpoint.safetensors")
    saved_step = saved["step"]
    assert saved_step % 100 == 0 and saved_step > 0  # a checkpoint of the cadence, whole
    assert not (out / "metrics.json").exists()  # the killed run wrote no results
    finish = saved_step + 50
    steps = command.index("--steps") + 1
    finished = subprocess.run([*command[:steps], str(finish), *command[steps + 1:], "--resume"], env=environment,
                              capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == finish
    history = json.loads((out / "history.json").read_text())
    logged = [row["step"] for row in history]
    assert logged == sorted(set(logged)) and logged[-1] == finish
    # continued, not restarted: the rows up to the checkpoint are the killed run's own (its learning
    # rates decay over a million steps; a restart's would over saved_step + 50)
    before, after = saved["history"], history[:len(saved["history"])]
    assert before and [row["step"] for row in after] == [row["step"] for row in before]
    assert [row["lr"] for row in after] == pytest.approx([row["lr"] for row in before], rel=1e-9)
    assert sk.load(out).render().shape == (24, 24, 1)


def test_sigterm_on_the_command_line_leaves_a_checkpoint_and_exit_code_143(tmp_path):
    import threading

    out = tmp_path / "R"
    command = [sys.executable, "-m", "sirenkit", "fit", "image", "camera", "--size", "24", "--steps", "100000",
               "--width", "32", "--layers", "2", "--device", "cpu", "--compile", "off", "--out", str(out)]
    process = subprocess.Popen(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(iter(lambda: process.stderr.read(64), "")), daemon=True)
    reader.start()
    wait_for(lambda: "step/s" in "".join(err), process, "the progress bar's steps")  # the loop runs
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    reader.join(timeout=10)
    text = "".join(err)
    assert process.returncode == 143, text
    assert "interrupted (SIGTERM)" in text and "Traceback" not in text
    from sirenkit.engine.checkpoint import load_checkpoint_file

    assert load_checkpoint_file(out / "checkpoint.safetensors")["step"] > 0


def test_sigterm_before_the_loop_starts_is_an_interruption_too(capsys, monkeypatch):
    import sirenkit.signals.image.fit as image_task

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the signal arrives during this

    monkeypatch.setattr(image_task, "plan_image", terminated)
    code, _, err = run_cli(["fit", "image", "camera", "--size", "8", *TINY, "--out", "unused"], capsys)
    assert code == 143 and "interrupted (SIGTERM)" in err and "Traceback" not in err


# --- bounded memory, with a message -----------------------------------------------------------

@pytest.fixture
def small_machine(monkeypatch):
    """A machine with 2 GB available, as far as sirenkit can tell."""
    import sirenkit.resources as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 2 * 10**9)


def test_a_huge_png_is_refused_from_its_header_or_reduced_while_decoding(tmp_path, capsys, small_machine):
    huge = tmp_path / "huge.png"
    Image.new("L", (15000, 15000)).save(huge)  # 225 megapixels, a few hundred kB of zeros
    code, _, err = run_cli(["fit", "image", huge, *TINY, "--out", tmp_path / "R"], capsys)
    assert_one_line_error(code, err, "huge.png (15000×15000) needs ~")
    assert "pass --size" in err
    from sirenkit.signals.image.data import load_image

    signal_ = load_image(huge, size=64)  # 225 MB of 8-bit pixels decoded, reduced before any float copy
    assert signal_.shape == (64, 64) and signal_.original_shape == (15000, 15000)


@pytest.mark.parametrize("argv, message", [
    (["--fps", "1e9", "--out", "{tmp}/x.mp4"], "frames of"),
    (["--size", "16384x16384", "--what", "gradient", "--out", "{tmp}/x.png"], "1.1 GB of temporary disk space"),
])
def test_renders_that_would_not_fit_are_refused(tmp_path, capsys, small_machine, monkeypatch, argv, message):
    """A clip is held in memory; an image is streamed to its file, but a derivative map waits for
    its colour scale on disk (here, a disk with 0.5 GB free)."""
    import shutil

    from sirenkit.engine.config import TrainConfig
    from sirenkit.networks.config import NetworkConfig
    from sirenkit.signals.image.fit import fit_image
    from sirenkit.signals.video.fit import fit_video

    if "--fps" in argv:
        fit_video(None, size=8, network=NetworkConfig(3, 3, hidden_features=8, hidden_layers=1),
                  train=TrainConfig(steps=2, compile=False), out=tmp_path / "run", progress=False)
    else:
        fit_image("camera", size=8, network=NetworkConfig(2, 1, hidden_features=8, hidden_layers=1),
                  train=TrainConfig(steps=2, compile=False), out=tmp_path / "run", progress=False)
    half_a_gigabyte_free = shutil._ntuple_diskusage(10**12, 10**12 - 5 * 10**8, 5 * 10**8)  # type: ignore[attr-defined]
    monkeypatch.setattr(shutil, "disk_usage", lambda path: half_a_gigabyte_free)
    code, _, err = run_cli(["render", tmp_path / "run", *[a.replace("{tmp}", str(tmp_path)) for a in argv]], capsys)
    assert_one_line_error(code, err, message)
    assert "needs ~" in err  # refused before rendering: the message is the estimate's
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]  # no partial file left


def test_an_image_render_larger_than_memory_is_streamed_to_its_file(tmp_path, capsys, monkeypatch):
    """On a machine with 8 MB available a 1024² gradient map cannot be held (the Python call is
    refused with a hint), but ``sirenkit render`` writes it band by band."""
    import sirenkit.resources as resources
    import sirenkit.signals.image.kind as image_kind
    from sirenkit.engine.config import TrainConfig
    from sirenkit.networks.config import NetworkConfig
    from sirenkit.signals.image.fit import fit_image

    fit_image("camera", size=8, network=NetworkConfig(2, 1, hidden_features=8, hidden_layers=1),
              train=TrainConfig(steps=2, compile=False), out=tmp_path / "run", progress=False)
    monkeypatch.setattr(resources, "available_memory", lambda: 8 * 10**6)
    monkeypatch.setattr(image_kind, "RENDER_BAND_PIXELS", 1 << 16)
    with pytest.raises(ValueError, match="write it to a file with sirenkit render, which streams it"):
        sk.load(tmp_path / "run").render(size=(1024, 1024), what="gradient")
    code, output, err = run_cli(["render", tmp_path / "run", "--size", "1024x1024", "--what", "gradient",
                                 "--out", tmp_path / "big.png"], capsys)
    assert code == 0, err
    assert Image.open(tmp_path / "big.png").size == (1024, 1024)


def test_a_mesh_grid_larger_than_memory_names_the_resolution_that_fits(small_machine):
    from sirenkit.signals.shape.mesh import check_grid_memory

    check_grid_memory(256)  # 0.3 GB
    expected = r"a 2048³ grid needs ~171\.8 GB; this machine has 2\.0 GB available; use --resolution 430 or less"
    with pytest.raises(ValueError, match=expected):
        check_grid_memory(2048)


# --- frames in their natural order --------------------------------------------------------------

def test_numbered_frames_load_in_the_order_of_their_numbers(tmp_path, caplog):
    from sirenkit.signals.video.data import load_video

    folder = tmp_path / "frames"
    folder.mkdir()
    for number in range(1, 13):
        Image.fromarray(np.full((4, 6), number * 20, np.uint8)).save(folder / f"{number}.png")
    clip = load_video(folder)
    assert np.allclose(clip.frames[:, 0, 0, 0] * 255, [20 * n for n in range(1, 13)])
    (folder / "5.png").unlink()
    with caplog.at_level("WARNING", logger="sirenkit"):
        load_video(folder)
    assert "frame numbers missing (5)" in caplog.text
    Image.fromarray(np.zeros((4, 6), np.uint8)).save(folder / "01.png")
    with pytest.raises(ValueError, match="1.png and 01.png carry the same frame number 1|01.png and 1.png carry"):
        load_video(folder)


# --- what a received file can do -----------------------------------------------------------------

def test_info_escapes_control_characters_of_a_received_metrics_file(tmp_path, capsys):
    out = tmp_path / "R"
    assert fit_tiny("camera", out, capsys)[0] == 0
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["note"] = "\x1b[2J\x1b]0;owned\x07"
    (out / "metrics.json").write_text(json.dumps(metrics))
    code, output, _ = run_cli(["info", out, "--json"], capsys)
    assert code == 0 and "\x1b" not in output and "\x07" not in output and "\\u001b[2J" in output
    metrics["stop_reason"] = "\x1b[2J\x1b]0;owned\x07"  # printed by the summary
    (out / "metrics.json").write_text(json.dumps(metrics))
    code, output, _ = run_cli(["info", out], capsys)
    assert code == 0 and "\x1b" not in output and "\x07" not in output and "\\x1b[2J" in output


def test_means_of_the_wrong_length_are_refused_before_the_fit(tmp_path, capsys):
    code, _, err = run_cli(["poisson", "camera", "--from", "gradient", "--size", "16", *TINY, "--means", "0.1,0.2",
                            "--out", tmp_path / "R"], capsys)
    assert_one_line_error(code, err, "--means needs one value or one per channel (1 for camera), got 2")
    assert not (tmp_path / "R").exists()  # refused before anything was prepared or written


def test_an_audio_render_at_an_absurd_rate_is_refused(tmp_path, capsys, small_machine):
    from sirenkit.engine.config import TrainConfig
    from sirenkit.networks.config import NetworkConfig
    from sirenkit.signals.audio.fit import fit_audio

    speech = Path(__file__).parent / "data" / "speech.wav"
    fit_audio(speech, seconds=0.05, network=NetworkConfig(1, 1, hidden_features=8, hidden_layers=1, first_omega=50),
              train=TrainConfig(steps=2, compile=False), out=tmp_path / "run", progress=False)
    code, _, err = run_cli(["render", tmp_path / "run", "--rate", "2000000000", "--out", tmp_path / "x.wav"], capsys)
    assert_one_line_error(code, err, "choose a lower --rate")


@pytest.mark.parametrize("failure, message", [
    (MemoryError(), "out of memory: ask for a smaller size"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:118] DefaultCPUAllocator: can't allocate memory: you tried to "
                  "allocate 17179869184 bytes"), "out of memory ([enforce fail"),
    (type("PanicException", (BaseException,), {})("assertion failed: scale > 0"), "the range coder refused its data"),
])
def test_allocation_failures_and_coder_panics_end_in_one_line(tmp_path, capsys, monkeypatch, failure, message):
    import importlib

    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(importlib.import_module("sirenkit.render"), "render", fail)
    code, _, err = run_cli(["render", tmp_path / "run", "--out", tmp_path / "x.png"], capsys)
    assert_one_line_error(code, err, message)


def test_a_bug_is_not_disguised_as_a_users_mistake(tmp_path, capsys, monkeypatch):
    import importlib

    def fail(*args, **kwargs):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(importlib.import_module("sirenkit.render"), "render", fail)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        run_cli(["render", tmp_path / "run", "--out", tmp_path / "x.png"], capsys)
