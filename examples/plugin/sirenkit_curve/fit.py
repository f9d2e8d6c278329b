"""Fitting a curve from its CSV file; the kind itself is :class:`sirenkit_curve.kind.CurveKind`.

The entry point ``curve`` of the group ``sirenkit.kinds`` names this module: importing it registers
the kind (:func:`~sirenkit.engine.kinds.register_kind`, in :mod:`sirenkit_curve.kind`) and its fit
(:func:`~sirenkit.engine.kinds.register_plan`), so that ``sirenkit fit curve FILE_OR_FOLDER...``
works, a folder of CSV files included.
"""

from __future__ import annotations

from pathlib import Path

from sirenkit.engine.config import TrainConfig
from sirenkit.engine.kinds import Fitted, register_plan
from sirenkit.engine.runs import FitPlan
from sirenkit.networks.config import NetworkConfig
from sirenkit_curve.data import CurveSignal, load_curve
from sirenkit_curve.kind import CurveKind


@register_plan("curve")
def plan_curve(
    source: str | Path | CurveSignal,
    *,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> FitPlan:
    """The fit of :func:`fit_curve`, planned (:class:`~sirenkit.engine.runs.FitPlan`): the input read and
    checked, nothing trained or written yet; ``plan.run()`` is :func:`fit_curve`."""
    signal = source if isinstance(source, CurveSignal) else load_curve(source)
    kind = CurveKind.describe(signal)
    return FitPlan(kind=kind, signal=signal, network=network, train=train, model=model, sampling={"x": signal.x},
                   settings={"source": signal.name}, out=out, resume=resume, overwrite=overwrite, progress=progress)


def fit_curve(
    source: str | Path | CurveSignal,
    *,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Fitted:
    """Fit a network to a curve (a CSV file of ``x,y`` rows, :func:`~sirenkit_curve.data.load_curve`)
    and, with ``out``, write the run folder: model, ``curve.csv`` (the fit at the file's positions,
    in its units), ``curve.png`` (the fit over the samples), ``rmse.png``, ``metrics.json`` (RMSE in
    the file's ``y`` units, lower is better), ``history.json``, ``config.json``.
    ``network`` and ``train`` replace the kind's defaults (:meth:`CurveKind.network`,
    :meth:`CurveKind.train_config`) whole."""
    return plan_curve(source, network=network, train=train, model=model, out=out, resume=resume,
                      overwrite=overwrite, progress=progress).run()


__all__ = ["CurveKind", "fit_curve"]
