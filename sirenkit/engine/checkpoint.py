"""Checkpoints: what resuming needs (weights, optimiser state, step, configuration, random state,
history), in safetensors and JSON, and the checks before a run resumes from one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sirenkit.io import atomic_write_path
from sirenkit.networks.config import NetworkConfig, network_config_from_dict

CHECKPOINT_NAME = "checkpoint.safetensors"


OLD_CHECKPOINT_NAME = "checkpoint.pt"
"""Checkpoints before version 0.2 were pickles; they are not read (loading a pickle can run code)."""


def check_checkpoint_exists(path: Path) -> None:
    """A `ValueError` unless `path` is there to resume from (an old pickle is named as such)."""
    if path.is_file():
        return
    if (path.parent / OLD_CHECKPOINT_NAME).is_file():
        raise ValueError(f"{path.parent / OLD_CHECKPOINT_NAME}: a checkpoint of an older sirenkit (a pickle, which "
                         f"is not loaded: it could run code); start the run again without --resume")
    raise ValueError(f"{path}: no checkpoint to resume from")


def check_state_fits(state: Any, path: Path, network_config: NetworkConfig | None) -> None:
    """A `ValueError` when the checkpoint `state` read from `path` was made for another network."""
    saved = state.get("network_config")
    if network_config is None or saved is None:
        return
    try:
        same = network_config_from_dict(saved) == network_config  # either form: 0.1's flat one, or by family
    except (ValueError, TypeError):
        same = False
    if not same:
        raise ValueError(f"{path}: the checkpoint was made with another network configuration")


CHECKPOINT_FORMAT = "sirenkit-checkpoint"


def _without_tensors(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """`value` as JSON, each tensor replaced by a reference to `tensors` (where it is moved);
    dictionaries whose keys are not all strings (an optimiser's state) as lists of pairs."""
    if isinstance(value, torch.Tensor):
        name = f"t{len(tensors)}"
        tensors[name] = value.detach().cpu().clone().contiguous()
        return {"__tensor__": name}
    if isinstance(value, dict):
        if all(isinstance(key, str) and not key.startswith("__") for key in value):
            return {key: _without_tensors(item, tensors) for key, item in value.items()}
        return {"__items__": [[key, _without_tensors(item, tensors)] for key, item in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_without_tensors(item, tensors) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"a checkpoint cannot hold a {type(value).__name__}")


def _with_tensors(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__tensor__"}:
            return tensors[value["__tensor__"]]
        if set(value) == {"__items__"}:
            return {key: _with_tensors(item, tensors) for key, item in value["__items__"]}
        return {key: _with_tensors(item, tensors) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_tensors(item, tensors) for item in value]
    return value


def save_checkpoint_file(path: str | Path, state: dict[str, Any]) -> None:
    """Write a training checkpoint as one safetensors file: the tensors (weights, optimiser
    moments, random state) as tensors, everything else as JSON in its metadata. One atomic,
    fsynced file; reading it back runs no code (a pickle would)."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = json.dumps(_without_tensors(state, tensors))
    atomic_write_path(path, lambda temporary: save_file(
        tensors, str(temporary), metadata={"format": CHECKPOINT_FORMAT, "state": skeleton}))


def load_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint onto the CPU; a corrupt or foreign file gives a `ValueError`
    naming it."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as stream:
            metadata = stream.metadata() or {}
            tensors = {name: stream.get_tensor(name) for name in stream.keys()}
        if metadata.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a sirenkit checkpoint")
        state = _with_tensors(json.loads(metadata["state"]), tensors)
    except Exception as error:  # safetensors, JSON and lookups raise many kinds; all mean the same here
        reason = str(error) if str(error) == "not a sirenkit checkpoint" else type(error).__name__
        raise ValueError(f"{path}: not a readable sirenkit checkpoint ({reason})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a sirenkit checkpoint")
    return state
