"""Shared fixtures: tiny sizes, fixed seeds, one thread budget for the 2-core CI machine
(``SIRENKIT_TEST_THREADS`` threads for PyTorch's operations, 2 by default, and one for its
inter-op pool), and a step clock that makes a time budget independent of the machine's speed."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


TEST_THREADS = int(os.environ.get("SIRENKIT_TEST_THREADS", "2"))
"""Threads PyTorch's operations may use in the tests: the CI machine's 2 cores, whatever the
machine (a test run beside another one then cannot take every core)."""


def _set_thread_budget(threads: int) -> None:
    torch.set_num_threads(threads)
    try:  # can be set once per process, and only before inter-op work has started
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


_set_thread_budget(TEST_THREADS)  # at import: before any test (or fixture) runs PyTorch work


@pytest.fixture(autouse=True)
def _threads_restored():
    """The budget holds for the whole session: a test that changes it has it put back after it."""
    yield
    if torch.get_num_threads() != TEST_THREADS:
        torch.set_num_threads(TEST_THREADS)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    np.random.seed(0)


SHARED_FILES = ("yorkshire_terrier.jpg",)
"""The files of ``../shared/data`` that tests read (see its README.md)."""


def running_in_ci() -> bool:
    """Whether the ``CI`` environment variable says so (``CI=true``, ``CI=1``, ...)."""
    import os

    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


@pytest.fixture
def shared_data() -> Path:
    """The shared test data folder. Where it or a file the tests read is missing, a local run skips
    with the path; CI fails, so that the tests that need it cannot pass by not running."""
    missing = [SHARED_DATA] if not SHARED_DATA.is_dir() else [
        SHARED_DATA / name for name in SHARED_FILES if not (SHARED_DATA / name).is_file()]
    if missing:
        message = f"shared test data not found: {', '.join(map(str, missing))}"
        if running_in_ci():
            pytest.fail(f"{message} (CI is set: the data must be there)", pytrace=False)
        pytest.skip(message)
    return SHARED_DATA


def smooth_image(height: int, width: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A smooth test image ``(H, W, C)`` in [0, 1] whose channels differ."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width] / max(height, width)
    layers = []
    for _ in range(channels):
        fx, fy, phase = rng.uniform(1.0, 3.0), rng.uniform(1.0, 3.0), rng.uniform(0, np.pi)
        layers.append(0.5 + 0.4 * np.sin(2 * np.pi * fx * xs + phase) * np.cos(2 * np.pi * fy * ys))
    return np.stack(layers, axis=-1).astype(np.float32)


def interrupt_at(step: int):
    """An `on_log` callback that sends this process SIGINT when the fit logs `step`: a fit stopped
    there as Ctrl-C stops it."""
    def on_log(row: dict) -> None:
        if row["step"] == step:
            os.kill(os.getpid(), signal.SIGINT)

    return on_log


def run_cli(argv, capsys) -> tuple[int, str, str]:
    """``sirenkit ARGV`` in this process: exit code, stdout, stderr."""
    from sirenkit.cli import main

    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, message: str) -> None:
    """A user's mistake: exit code 2 and one line naming the problem, no traceback."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sirenkit: error:"), err
    assert message in lines[0]
    assert "Traceback" not in err


class StepClock:
    """A stand-in for ``time.perf_counter`` in the training loop: it stands still, except that
    every optimiser step moves it on by ``seconds_per_step``. A time budget then ends a run at the
    step its rule says, whatever the machine's speed or load."""

    def __init__(self, seconds_per_step: float) -> None:
        self.now = 0.0
        self.seconds_per_step = seconds_per_step
        self.steps = 0

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += self.seconds_per_step
        self.steps += 1


def step_clock(monkeypatch, seconds_per_step: float) -> StepClock:
    """Install a :class:`StepClock` as the clock of ``sirenkit.engine.loop`` (its ``_now``),
    advanced by each ``torch.optim.Adam.step``."""
    import sirenkit.engine.loop as loop

    clock = StepClock(seconds_per_step)
    monkeypatch.setattr(loop, "_now", clock)
    real_step = torch.optim.Adam.step

    def step(self, *args, **kwargs):
        clock.tick()
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    return clock


REPOSITORY = Path(__file__).resolve().parents[1]


def page_html(site: Path, page: Path) -> Path:
    """Where mkdocs writes a page of docs/ (any folder), with its default directory URLs."""
    relative = page.relative_to(REPOSITORY / "docs").with_suffix("")
    folder = site / relative.parent if relative.name == "index" else site / relative
    return folder / "index.html"


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The documentation site, built once with `mkdocs build --strict` (any warning fails it)."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings_handlers") is None:
        message = "mkdocs or mkdocstrings is not installed: pip install -e '.[docs]'"
        if running_in_ci():
            pytest.fail(f"{message} (CI is set: the docs must build)", pytrace=False)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out), "-f", str(REPOSITORY / "mkdocs.yml")],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return out


def copy_of_the_repository(destination: Path) -> Path:
    """The repository's files as a fresh clone has them (tracked ones, and new ones git does not
    ignore) copied into `destination`, with nothing of the checkout beside them; skips the test
    outside a git checkout."""
    import shutil
    import subprocess

    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPOSITORY, capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: no list of the repository's files")
    for name in listed.stdout.decode().split("\0"):
        if name and (REPOSITORY / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPOSITORY / name, destination / name)
    return destination
