"""Worked examples of the constraint API (docs, "Your own problem"): each builds a
:class:`~sirenkit.Problem`, fits it with :func:`sirenkit.studies.solve` and scores the result against an
independent reference. ``sirenkit example NAME`` runs one at full size; ``tiny=True`` runs it in
seconds (the test suite does).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from sirenkit.studies.examples import helmholtz, inpainting, wave

EXAMPLES: dict[str, ModuleType] = {"inpainting": inpainting, "helmholtz": helmholtz, "wave": wave}
"""Each module has ``run(out, *, tiny, steps, device, progress) -> metrics`` and a ``SUMMARY``."""


def run_example(name: str, out: str | Path | None = None, *, tiny: bool = False, steps: int | None = None,
                device: str = "auto", progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Run the worked example ``name`` (``sirenkit example NAME``) and return its metrics; with
    ``out``, write its run folder and figure (``overwrite`` replaces an earlier run there)."""
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; expected one of {', '.join(EXAMPLES)}")
    return EXAMPLES[name].run(out, tiny=tiny, steps=steps, device=device, progress=progress, overwrite=overwrite)
