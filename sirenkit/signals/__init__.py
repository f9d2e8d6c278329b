"""Signals: one room per kind (image, audio, video, shape, a problem of your own), each holding
its reader, its kind (coordinates, recipe, metrics, rendering, run folder) and its fit."""

from sirenkit.signals import audio, image, problem, shape, video  # noqa: F401  (the built-in kinds register themselves)
