"""Shared fixtures: tiny sizes, fixed seeds, one thread budget for the 2-core CI machine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
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
