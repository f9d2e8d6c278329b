"""Video: the reader (`.data`), the kind (`.kind`) and the fit (`.fit`)."""

from sirenkit.signals.video import data, fit, kind  # noqa: F401
