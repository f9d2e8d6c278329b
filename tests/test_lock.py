"""One writer per run folder: a fit into a folder that another live process is writing is refused
in one line before anything is touched; a lock left by a dead process is taken over; a finished,
failed or interrupted fit leaves no lock behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from sirenkit.engine.lock import LOCK_NAME, hold_run_folder, release_run_folder

from conftest import assert_one_line_error, run_cli

TINY = ["--size", "8", "--steps", "2", "--width", "8", "--layers", "1", "--compile", "off", "--device", "cpu", "-q"]


@pytest.fixture
def other_process():
    """A live process that is not this one (it sleeps until the test ends)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def test_a_second_writer_is_refused_and_the_first_ones_files_are_left(tmp_path, capsys, other_process):
    out = tmp_path / "run"
    assert run_cli(["fit", "image", "camera", *TINY, "--out", out], capsys)[0] == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    (out / LOCK_NAME).write_text(f"{other_process.pid} {socket.gethostname()}\n")  # as a running fit leaves it
    for extra in (["--overwrite"], ["--resume", "--steps", "4"]):
        code, _, err = run_cli(["fit", "image", "camera", *TINY, *extra, "--out", out], capsys)
        assert_one_line_error(code, err, f"another sirenkit process (pid {other_process.pid} on")
        assert {path.name: path.read_bytes() for path in out.iterdir() if path.name != LOCK_NAME} == before


def test_a_lock_left_by_a_dead_process_is_taken_over_and_released(tmp_path, capsys):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_NAME).write_text(f"{int(dead.stdout)} {socket.gethostname()}\n")
    code, _, err = run_cli(["fit", "image", "camera", *TINY, "--out", out], capsys)
    assert code == 0, err
    assert not (out / LOCK_NAME).exists() and (out / "metrics.json").is_file()
    (out / LOCK_NAME).write_text("not a lock")  # unreadable: taken over too
    assert run_cli(["fit", "image", "camera", *TINY, "--overwrite", "--out", out], capsys)[0] == 0
    assert not (out / LOCK_NAME).exists()


def test_a_failed_fit_releases_its_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(["fit", "image", "camera", *TINY, "--lr", "1e9", "--out", out], capsys)
    assert code != 0  # diverged
    assert not (out / LOCK_NAME).exists()


def test_the_same_process_may_take_its_own_lock_again(tmp_path):
    hold_run_folder(tmp_path)
    hold_run_folder(tmp_path)
    assert (tmp_path / LOCK_NAME).read_text().split() == [str(os.getpid()), socket.gethostname()]
    release_run_folder(tmp_path)
    assert not (tmp_path / LOCK_NAME).exists()


def test_an_output_file_is_replaced_only_with_overwrite(tmp_path, capsys):
    """render, decompress and mesh, as compress: a typo in --out must not cost a file."""
    out = tmp_path / "run"
    assert run_cli(["fit", "image", "camera", *TINY, "--out", out], capsys)[0] == 0
    picture = tmp_path / "mine.png"
    picture.write_bytes(b"a user's file")
    code, _, err = run_cli(["render", out, "--size", "8", "--out", picture], capsys)
    assert_one_line_error(code, err, f"{picture}: exists (--overwrite replaces it)")
    assert picture.read_bytes() == b"a user's file"
    assert run_cli(["render", out, "--size", "8", "--out", picture, "--overwrite"], capsys)[0] == 0
    assert picture.read_bytes().startswith(b"\x89PNG")
    code, _, err = run_cli(["decompress", tmp_path / "missing.sirk", "--out", picture], capsys)
    assert_one_line_error(code, err, f"{picture}: exists (--overwrite replaces it)")
    mesh = tmp_path / "mesh.ply"
    mesh.write_text("mine")
    code, _, err = run_cli(["mesh", out, "--out", mesh], capsys)
    assert_one_line_error(code, err, f"{mesh}: exists (--overwrite replaces it)")


def test_overwrite_removes_the_runs_own_files_by_name_and_not_a_users(tmp_path, capsys, monkeypatch):
    """A file a user saves into the run folder while the fit runs is not the run's: a later
    `--overwrite` leaves it (files are recorded by name as they are written, not by time)."""
    from sirenkit.io import WRITTEN_NAME
    from sirenkit.signals.image import kind as image_kind

    out = tmp_path / "run"
    write_run = image_kind.ImageKind.write_run

    def write_run_while_a_user_saves(self, fitted, signal, folder):
        (folder / "notes.txt").write_text("mine")  # the user's, in the middle of the run's writing
        write_run(self, fitted, signal, folder)

    monkeypatch.setattr(image_kind.ImageKind, "write_run", write_run_while_a_user_saves)
    assert run_cli(["fit", "image", "camera", *TINY, "--out", out], capsys)[0] == 0
    monkeypatch.undo()
    import json

    listed = json.loads((out / "metrics.json").read_text())["files"]
    assert "notes.txt" not in listed and "reconstruction.png" in listed and "model.safetensors" in listed
    assert (out / WRITTEN_NAME).is_file()
    (out / "reconstruction.png").rename(out / "stale.png")  # a file of the run's name gone: nothing to remove
    assert run_cli(["fit", "image", "camera", *TINY, "--overwrite", "--out", out], capsys)[0] == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "stale.png").is_file()
    assert (out / "reconstruction.png").is_file() and not (out / LOCK_NAME).exists()
