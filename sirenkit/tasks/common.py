"""What every task shares: building the network on its device, the run-folder convention.

Every run folder, for every task, holds ``config.json`` (the resolved configuration),
``model.safetensors`` + ``model.json``, ``metrics.json``, ``history.json`` and its main result
under one name (``reconstruction.png``, ``.wav``, ``.mp4`` or ``mesh.ply``).
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from .. import __version__
from ..config import NetworkConfig, TrainConfig, to_dict
from ..constraints import Problem
from ..io import LoadedModel, write_json
from ..network import build_network, count_parameters
from ..training import CHECKPOINT_NAME, FitResult, fit, resolve_device


def build_on_device(network: NetworkConfig, train: TrainConfig) -> tuple[nn.Module, torch.device]:
    """The freshly initialised network (seeded from ``train.seed``) on the configured device."""
    device = resolve_device(train.device)
    return build_network(network, seed=train.seed).to(device), device


def environment(device: torch.device) -> dict[str, Any]:
    """Versions and hardware, recorded beside every result."""
    info = {
        "sirenkit": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    else:
        info["cpu"] = platform.processor() or platform.machine()
    return info


def write_config(out: Path, task: str, task_settings: dict[str, Any], network: NetworkConfig,
                 train: TrainConfig, device: torch.device) -> None:
    """``config.json``: everything needed to run the same fit again."""
    write_json(
        out / "config.json",
        {
            "task": task,
            task: task_settings,
            "network": to_dict(network),
            "train": to_dict(train),
            "environment": environment(device),
        },
    )


def history_series(history: list[dict[str, float]], key: str) -> tuple[list[float], list[float]]:
    """``(steps, values)`` of one logged quantity."""
    rows = [row for row in history if key in row]
    return [row["step"] for row in rows], [row[key] for row in rows]


def fit_summary(result: FitResult, wall: float, network: NetworkConfig, shape: Sequence[int],
                channels: int) -> dict[str, Any]:
    """The entries every task's ``metrics.json`` shares: how long, how big, how it ran."""
    return {
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "wall_seconds": round(wall, 3),
        "parameters": count_parameters(result.model),
        "model": network.model,
        "shape": list(shape),
        "channels": channels,
        "compiled": result.compiled,
        "precision": result.precision,
    }


def prepare_run_folder(out: str | Path | None, resume: bool) -> Path | None:
    """The run folder, created; with ``resume``, its checkpoint must exist (checked before anything
    is written, so that a bad ``--resume`` leaves nothing behind)."""
    out_path = Path(out) if out is not None else None
    if resume and (out_path is None or not (out_path / CHECKPOINT_NAME).is_file()):
        raise ValueError(f"{out_path / CHECKPOINT_NAME if out_path else 'no run folder'}: no checkpoint to resume from")
    if out_path is not None:
        out_path.mkdir(parents=True, exist_ok=True)
    return out_path


@dataclass
class RecipeRun:
    """What :func:`run_recipe` hands back to a task."""

    model: nn.Module
    result: FitResult
    out: Path | None
    started: float
    """``time.perf_counter()`` when fitting began; a task's wall time counts from it."""


def run_recipe(network: NetworkConfig, train: TrainConfig, problem_on: Callable[[torch.device], Problem], *,
               task: str, settings: dict[str, Any], out: str | Path | None, resume: bool,
               progress: bool) -> RecipeRun:
    """The skeleton every task shares: the network on its device, the problem built there by
    ``problem_on(device)``, the run folder and its ``config.json``, then the shared :func:`fit`."""
    model, device = build_on_device(network, train)
    problem = problem_on(device)
    out_path = prepare_run_folder(out, resume)
    if out_path is not None:
        write_config(out_path, task, settings, network, train, device)
    started = time.perf_counter()
    result = fit(model, problem, train, network_config=network, checkpoint_dir=out_path, resume=resume,
                 progress=progress)
    return RecipeRun(model, result, out_path, started)


@dataclass
class SignalFit:
    """The outcome of fitting a signal (image, sound, clip): the network, the signal, the metrics
    and the history. Each task says how its signal is described in ``model.json``."""

    model: nn.Module
    network: NetworkConfig
    signal: Any
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    out: Path | None = None

    def description(self) -> dict[str, Any]:
        raise NotImplementedError

    def loaded(self) -> LoadedModel:
        """The fitted network as :func:`sirenkit.load` would return it."""
        return LoadedModel(self.model, self.network, self.description(), self.out or Path("."))
