"""The one fit for every signal kind: load → configurations → problem → fit → metrics → run folder.

Every run folder, for every kind, holds ``config.json`` (the resolved configuration),
``model.safetensors`` + ``model.json``, ``metrics.json``, ``history.json`` and its main result
under one name (``reconstruction.png``, ``.wav``, ``.mp4`` or ``mesh.ply``).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import __version__
from .config import NetworkConfig, TrainConfig, to_dict
from .constraints import Problem
from .io import write_json
from .kinds import Fitted, SignalKind
from .network import build_network, count_parameters
from .training import FitResult, check_resumable, fit, resolve_device


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
        info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return info


def write_config(out: Path, task: str, task_settings: dict[str, Any], network: NetworkConfig,
                 train: TrainConfig, device: torch.device) -> None:
    """``config.json``: everything needed to run the same fit again."""
    write_json(out / "config.json", {"task": task, task: task_settings, "network": to_dict(network),
                                     "train": to_dict(train), "environment": environment(device)})


def history_series(history: list[dict[str, float]], key: str) -> tuple[list[float], list[float]]:
    """``(steps, values)`` of one logged quantity."""
    rows = [row for row in history if key in row]
    return [row["step"] for row in rows], [row[key] for row in rows]


def fit_summary(result: FitResult, wall: float, network: NetworkConfig) -> dict[str, Any]:
    """The entries every ``metrics.json`` shares: how long, how big, how it ran."""
    return {
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "wall_seconds": round(wall, 3),
        "parameters": count_parameters(result.model),
        "model": network.model,
        "compiled": result.compiled,
        "precision": result.precision,
        "stopped_by": result.stopped_by,
    }


def prepare_run_folder(out: str | Path | None, resume: bool, network: NetworkConfig) -> Path | None:
    """The run folder, created; with ``resume``, its checkpoint must exist and fit ``network``
    (checked before anything is written, so that a refused ``--resume`` leaves the folder as it was)."""
    out_path = Path(out) if out is not None else None
    if resume:
        if out_path is None:
            raise ValueError("no run folder: no checkpoint to resume from")
        check_resumable(out_path, network)
    if out_path is not None:
        out_path.mkdir(parents=True, exist_ok=True)
    return out_path


def fit_signal(
    kind: SignalKind,
    signal: Any,
    *,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    problem: Callable[[torch.device], Problem] | None = None,
    sampling: dict[str, Any] | None = None,
    measure: Callable[..., dict[str, Any]] | None = None,
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
    products: Callable[[Any], dict[str, Any]] | None = None,
    write: Callable[[Fitted, Path], None] | None = None,
    task: str | None = None,
    settings: dict[str, Any] | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> Fitted:
    """Fit a network to ``signal``, described by ``kind``, and with ``out`` write the run folder.

    The defaults are the kind's: its network (``model`` picks the family), training recipe,
    problem, rendering, metrics and run folder. A task that fits the same kind another way (an image
    from its gradients) passes its own ``problem`` (built on the device), ``sampling`` (keywords of
    :meth:`SignalKind.render`), ``measure(rendered, *, final)`` (used for the progress bar too,
    unless ``evaluate(model)`` says what to log), ``products(rendered)`` (what the result keeps,
    ``{"reconstruction": rendered}`` by default) and ``write(fitted, out)``. ``settings`` are the
    task's options, recorded in ``config.json`` under ``task`` (the kind's name by default).
    """
    network = network or kind.network(model)
    kind.check_network(network)
    train = kind.checked_train(train or kind.train_config())
    sampling = dict(sampling or {})
    net, device = build_on_device(network, train)
    built = problem(device) if problem is not None else kind.problem(signal, batch_size=train.batch_size,
                                                                       device=device)
    if measure is None:
        def measure(rendered: Any, *, final: bool = True) -> dict[str, Any]:
            return kind.measure(rendered, signal, final=final)

        evaluate = evaluate or (lambda model: kind.progress(model, signal))
    elif evaluate is None:
        def evaluate(model: nn.Module) -> dict[str, float]:
            values = measure(kind.render(model, **sampling), final=False)
            return {key: value for key, value in values.items() if isinstance(value, (int, float))}
    if built.evaluate is None and signal is not None:
        built = Problem(built.constraints, evaluate, built.metadata)
    out_path = prepare_run_folder(out, resume, network)
    if out_path is not None:
        write_config(out_path, task or kind.name, settings if settings is not None else {"source": kind.source},
                     network, train, device)
    started = time.perf_counter()
    result = fit(net, built, train, network_config=network, checkpoint_dir=out_path, resume=resume,
                 progress=progress)
    rendered = kind.render(net, **sampling)  # once: metrics, files and figures share it
    metrics = {**measure(rendered, final=True), **kind.summary(signal, result.history, network)}
    metrics = {**metrics, **fit_summary(result, time.perf_counter() - started, network), **kind.conventions()}
    made = products(rendered) if products is not None else {"reconstruction": rendered}
    fitted = Fitted(net, network, kind, metrics, result.history, out_path, made)
    if out_path is not None:
        (write or (lambda done, folder: kind.write_run(done, signal, folder)))(fitted, out_path)
    return fitted
