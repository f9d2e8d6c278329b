"""Worked examples of the constraint API (docs, "Your own problem"): each builds a
[`Problem`][sirenkit.Problem], fits it with [`sirenkit.solve`][sirenkit.solve] and scores the result against an
independent reference. `sirenkit example NAME` runs one at full size; `tiny=True` runs it in
seconds (the test suite does).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from sirenkit.studies.examples import helmholtz, inpainting, wave

EXAMPLES: dict[str, ModuleType] = {"inpainting": inpainting, "helmholtz": helmholtz, "wave": wave}
"""Each module has `run(out, *, tiny, steps, device, progress) -> metrics`, a one-line `SUMMARY`, its
default `STEPS` and `RUNTIME`, how long those took."""


def run_example(name: str, out: str | Path | None = None, *, tiny: bool = False, steps: int | None = None,
                device: str = "auto", progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Run a worked example of the constraint API and return its metrics.

    Each example builds a [`Problem`][sirenkit.Problem], fits it with [`solve`][sirenkit.solve]
    and scores the result against an independent reference. This is `sirenkit example NAME`.

    Args:
        name: `inpainting`, `helmholtz` or `wave`.
        out: The run folder for its model, figure and metrics; `None` writes nothing.
        tiny: Run it in seconds at a tiny size (the test suite does).
        steps: Replace the example's number of steps.
        device: `auto`, `cpu` or `cuda`.
        progress: Show a progress bar.
        overwrite: Replace an earlier run in `out`.

    Returns:
        The example's metrics (its error against the reference, time, ...).

    Raises:
        ValueError: An unknown example.
    """
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; expected one of {', '.join(EXAMPLES)}")
    return EXAMPLES[name].run(out, tiny=tiny, steps=steps, device=device, progress=progress, overwrite=overwrite)
