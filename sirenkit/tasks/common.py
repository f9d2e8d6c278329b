"""What every task shares: building the network on its device, the run-folder convention.

Every run folder, for every task, holds ``config.json`` (the resolved configuration),
``model.safetensors`` + ``model.json``, ``metrics.json``, ``history.json`` and its main result
under one name (``reconstruction.png``, ``.wav``, ``.mp4`` or ``mesh.ply``).
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import __version__
from ..config import NetworkConfig, TrainConfig, to_dict
from ..io import write_json
from ..network import build_network
from ..training import resolve_device


def build_on_device(network: NetworkConfig, train: TrainConfig) -> tuple[nn.Module, torch.device]:
    """The freshly initialised network (seeded from ``train.seed``) on the configured device."""
    device = resolve_device(train.device)
    torch.manual_seed(train.seed)
    return build_network(network).to(device), device


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
