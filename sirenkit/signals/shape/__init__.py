"""Shapes as signed distance functions: the point-cloud reader (:mod:`.data`), the kind
(:mod:`.kind`), meshing (:mod:`.mesh`) and the fit (:mod:`.fit`)."""

from sirenkit.signals.shape import data, fit, kind, mesh  # noqa: F401
