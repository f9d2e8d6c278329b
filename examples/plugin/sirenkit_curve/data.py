"""Reading a curve: samples ``(x, y)`` of a function ``y = f(x)`` from a two-column CSV file."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class CurveSignal:
    """The samples of one curve, sorted by ``x``."""

    name: str
    """The file they came from."""
    x: np.ndarray
    """``(N,)`` positions, in the file's units, increasing."""
    y: np.ndarray
    """``(N,)`` values, in the file's units."""
    x_name: str = "x"
    """The first column's heading (``x`` where the file has none)."""
    y_name: str = "y"
    """The second column's heading (``y`` where the file has none)."""


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text.strip()!r} is not a finite number")
    return value


def load_curve(path: str | Path) -> CurveSignal:
    """Read ``x,y`` rows from a CSV file: a heading row first is allowed; every other row holds
    two finite numbers; at least 2 rows and no repeated ``x``. A file that breaks a rule is a
    one-line ``ValueError`` naming it and the row (counted from 1, as an editor shows it)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            rows = [(number, row) for number, row in enumerate(csv.reader(file), start=1)
                    if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{path}: not a readable CSV file ({error})") from None
    names = ("x", "y")
    points: list[tuple[float, float]] = []
    for index, (number, row) in enumerate(rows):
        if len(row) != 2:
            raise ValueError(f"{path}, row {number}: expected 2 columns (x,y), got {len(row)}")
        try:
            points.append((_number(row[0]), _number(row[1])))
        except ValueError as error:
            if index == 0 and not any(_looks_numeric(cell) for cell in row):  # a heading
                names = (row[0].strip() or "x", row[1].strip() or "y")
                continue
            raise ValueError(f"{path}, row {number}: expected two numbers, got {','.join(row)!r} ({error})") from None
    if len(points) < 2:
        raise ValueError(f"{path}: a curve needs at least 2 rows of x,y, got {len(points)}")
    samples = np.array(points, dtype=np.float64)  # (N, 2)
    order = np.argsort(samples[:, 0], kind="stable")
    samples = samples[order]
    repeated = np.flatnonzero(np.diff(samples[:, 0]) == 0)
    if len(repeated):
        x = samples[repeated[0], 0]
        raise ValueError(f"{path}: x = {x:g} appears more than once (a curve has one y per x)")
    return CurveSignal(path.name, samples[:, 0].copy(), samples[:, 1].copy(), *names)


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
