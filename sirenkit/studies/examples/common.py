"""What the worked examples share: writing their figure and metrics into the run folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sirenkit.io import write_json


def write_results(out: str | Path | None, metrics: dict[str, Any], draw: Callable[[Path], None]) -> dict[str, Any]:
    """With `out`: `draw(out / "figure.png")` and `metrics.json` (replacing the one
    [`sirenkit.solve`][sirenkit.solve] wrote, with the example's scores added). Returns `metrics`."""
    if out is not None:
        draw(Path(out) / "figure.png")
        write_json(Path(out) / "metrics.json", metrics)
    return metrics
