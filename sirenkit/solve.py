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

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from .config import NetworkConfig, TrainConfig, to_dict
from .constraints import Problem
from .figures import curve_figure
from .io import save_model, write_json
from .tasks.common import fit_summary, history_series, run_recipe


@dataclass
class Solution:
    """The outcome of :func:`solve`."""

    model: nn.Module
    network: NetworkConfig
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    out: Path | None = None


def solve(problem: Problem, network: NetworkConfig, train: TrainConfig | None = None, *, name: str = "problem",
          out: str | Path | None = None, resume: bool = False, progress: bool = True,
          settings: dict[str, Any] | None = None) -> Solution:
    """Fit a fresh network of ``network``'s shape to ``problem`` (checked first: see
    :meth:`Problem.check`) and, with ``out``, write the run folder described in the module
    docstring. ``settings`` are recorded in ``config.json`` and ``model.json``."""
    train = train or TrainConfig()
    run = run_recipe(network, train, lambda device: problem, task=name, settings=dict(settings or {}), out=out, resume=resume,
                     progress=progress)
    model, result, out_path, started = run.model, run.result, run.out, run.started
    last = result.history[-1] if result.history else {}
    terms = [c.name for c in problem.constraints]
    metrics = {
        "loss": last.get("loss"),
        "terms": {term: last.get(term, last.get("loss") if len(terms) == 1 else None) for term in terms},
        **{key: value for key, value in last.items() if key not in ("step", "seconds", "loss", *terms)},
        **fit_summary(result, time.perf_counter() - started, network, [], network.out_features),
    }
    solution = Solution(model, network, metrics, result.history, out_path)
    if out_path is not None:
        save_model(out_path, model, network, {"kind": "problem", "name": name, **to_dict_safe(settings)})
        series = {term: history_series(result.history, term) for term in terms}
        if len(terms) == 1:
            series = {terms[0]: history_series(result.history, "loss")}
        curve_figure(series, out_path / "loss.png", xlabel="step", ylabel="weighted loss term",
                     title=f"{name}: loss terms per step", log_y=True)
        write_json(out_path / "history.json", result.history)
        write_json(out_path / "metrics.json", metrics)
    return solution


def to_dict_safe(settings: dict[str, Any] | None) -> dict[str, Any]:
    """``settings`` with dataclasses turned into dictionaries (JSON-ready)."""
    return {key: to_dict(value) if hasattr(value, "__dataclass_fields__") else value
            for key, value in (settings or {}).items()}
