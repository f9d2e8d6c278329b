"""Signals: one room per kind (image, audio, video, shape, a problem of your own), each holding
its reader, its kind (coordinates, recipe, metrics, rendering, run folder) and its fit."""

from sirenkit.engine.kinds import load_kind_plugins
from sirenkit.signals import audio, image, problem, shape, video  # noqa: F401  (the built-in kinds register themselves)

load_kind_plugins()  # third-party kinds (entry points of sirenkit.kinds), after the built-ins they may not replace
