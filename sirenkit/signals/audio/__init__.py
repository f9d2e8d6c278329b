"""Sound: the reader (:mod:`.data`), the kind (:mod:`.kind`) and the fit (:mod:`.fit`)."""

from sirenkit.signals.audio import data, fit, kind  # noqa: F401
