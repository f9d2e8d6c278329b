"""Fit a problem of the user's own: constraints in, a fitted network and its run folder out, with
the speed, progress display, checkpoints and figures of the built-in tasks (which are recipes on
the same :func:`sirenkit.fit`).

    problem = Problem([Constraint("pde", residual, Box(...), needs=("laplacian",)), ...])
    result = solve(problem, NetworkConfig(in_features=2, out_features=1), TrainConfig(steps=2000),
                   out="runs/mine")

The run folder holds ``model.safetensors``/``model.json`` (``sirenkit.load`` reads it back),
``loss.png`` (every named loss term per step), ``history.json``, ``metrics.json`` (the last value
of every term, the figures of the problem's ``evaluate``, time and size) and ``config.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sirenkit.config import to_dict
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.kinds import Fitted
from sirenkit.engine.runs import fit_signal
from sirenkit.networks.config import NetworkConfig
from sirenkit.problems.constraints import Problem
from sirenkit.signals.problem import ProblemKind

Solution = Fitted
"""What :func:`solve` returns: the one result type of every fit."""


def solve(problem: Problem, network: NetworkConfig, train: TrainConfig | None = None, *, name: str = "problem",
          out: str | Path | None = None, resume: bool = False, overwrite: bool = False, progress: bool = True,
          settings: dict[str, Any] | None = None) -> Fitted:
    """Fit a fresh network of ``network``'s shape to ``problem`` (checked first: see
    :meth:`Problem.check`) and, with ``out``, write the run folder described in the module
    docstring. ``settings`` are recorded in ``config.json`` and ``model.json``. ``train.batch_size``
    sets the points per step of every domain that has no batch size of its own."""
    settings = to_dict_safe(settings)
    kind = ProblemKind(source=name, title=name, terms=tuple(c.name for c in problem.constraints),
                       outputs=network.out_features, settings=settings)
    return fit_signal(kind, None, network=network, train=train or TrainConfig(), problem=lambda device: problem,
                      task=name, settings=settings, out=out, resume=resume, overwrite=overwrite, progress=progress)


def to_dict_safe(settings: dict[str, Any] | None) -> dict[str, Any]:
    """``settings`` with dataclasses turned into dictionaries (JSON-ready)."""
    return {key: to_dict(value) if hasattr(value, "__dataclass_fields__") else value
            for key, value in (settings or {}).items()}
