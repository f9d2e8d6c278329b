"""Sound: the reader (`.data`), the kind (`.kind`) and the fit (`.fit`)."""

from sirenkit.signals.audio import data, fit, kind  # noqa: F401
