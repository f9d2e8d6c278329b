"""Images: the reader (:mod:`.data`), the kind (:mod:`.kind`) and the fit (:mod:`.fit`)."""

from sirenkit.signals.image import data, fit, kind  # noqa: F401
