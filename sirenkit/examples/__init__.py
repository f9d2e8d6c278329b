"""Worked examples of the constraint API (README, "Your own problem"): each builds a
:class:`~sirenkit.Problem`, fits it with :func:`sirenkit.solve` and scores the result against an
independent reference. ``sirenkit example NAME`` runs one at full size; ``tiny=True`` runs it in
seconds (the test suite does).
"""

from __future__ import annotations

from types import ModuleType

from . import helmholtz, inpainting, wave

EXAMPLES: dict[str, ModuleType] = {"inpainting": inpainting, "helmholtz": helmholtz, "wave": wave}
"""Each module has ``run(out, *, tiny, steps, device, progress) -> metrics`` and a ``SUMMARY``."""
