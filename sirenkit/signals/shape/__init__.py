"""Shapes as signed distance functions: the point-cloud reader (`.data`), the kind
(`.kind`), meshing (`.mesh`) and the fit (`.fit`)."""

from sirenkit.signals.shape import data, fit, kind, mesh  # noqa: F401
