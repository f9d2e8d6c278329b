"""Images: the reader (`.data`), the kind (`.kind`) and the fit (`.fit`)."""

from sirenkit.signals.image import data, fit, kind  # noqa: F401
