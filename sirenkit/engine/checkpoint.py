"""Checkpoints: what resuming needs (weights, optimiser state, step, configuration, random state,
history), in safetensors and JSON, and the checks before a run resumes from one."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from sirenkit.io import atomic_write
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


DIGEST = "sha256"
"""The metadata entry of sirenkit's safetensors files that holds the SHA-256 of their tensors
(`tensor_digest`): safetensors itself has no checksum, and a flipped bit in a weight would load as
another model. Files written before it was added have none and load unchecked."""


def tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    """The SHA-256 of tensors by name: each name, type, shape and bytes, in the order of the names."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def check_digest(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: str | Path) -> None:
    """A `ValueError` naming `path` when its metadata holds a digest its tensors do not have."""
    if DIGEST in metadata and metadata[DIGEST] != tensor_digest(tensors):
        raise ValueError(f"{path}: corrupt (its tensors do not match the checksum written with them)")


def write_safetensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write tensors and text metadata as one safetensors file, with the digest of the tensors
    (`DIGEST`), atomically. Through bytes: any file name works (safetensors' own file functions
    take only UTF-8 names)."""
    data = save_safetensors(tensors, metadata={**metadata, DIGEST: tensor_digest(tensors)})
    atomic_write(path, lambda stream: stream.write(data))


def read_safetensors(path: str | Path, what: str = "safetensors file") -> tuple[dict[str, torch.Tensor],
                                                                               dict[str, str]]:
    """The tensors (on the CPU) and metadata of a safetensors file; a `ValueError` naming it (`path:
    not a readable <what> (...)`) where it cannot be read or its tensors do not match their digest."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ValueError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        length = int.from_bytes(data[:8], "little")
        if len(data) < 8 or length > len(data) - 8:
            raise ValueError("shorter than its header says")
        header = json.loads(data[8:8 + length])
        metadata = header.get("__metadata__") or {} if isinstance(header, dict) else {}
        tensors = load_safetensors(data)
    except (SafetensorError, ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable {what} ({' '.join(str(error).split())[:200]})") from None
    if not isinstance(metadata, dict) or not all(isinstance(value, str) for value in metadata.values()):
        raise ValueError(f"{path}: not a readable {what} (its metadata is not text by name)")
    check_digest(tensors, metadata, path)
    return tensors, metadata


def save_checkpoint_file(path: str | Path, state: dict[str, Any]) -> None:
    """Write a training checkpoint as one safetensors file: the tensors (weights, optimiser
    moments, random state) as tensors, everything else as JSON in its metadata. One atomic,
    fsynced file; reading it back runs no code (a pickle would)."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = json.dumps(_without_tensors(state, tensors))
    write_safetensors(path, tensors, {"format": CHECKPOINT_FORMAT, "state": skeleton})


def load_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint onto the CPU; a corrupt or foreign file gives a `ValueError`
    naming it."""
    tensors, metadata = read_safetensors(path, "sirenkit checkpoint")
    try:
        if metadata.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a sirenkit checkpoint")
        state = _with_tensors(json.loads(metadata["state"]), tensors)
    except Exception as error:  # JSON and lookups raise many kinds; all mean the same here
        reason = str(error) if str(error) == "not a sirenkit checkpoint" else type(error).__name__
        raise ValueError(f"{path}: not a readable sirenkit checkpoint ({reason})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a sirenkit checkpoint")
    return state


def first_mismatch(expected: dict[str, torch.Tensor], found: Any) -> str | None:
    """What first differs between the tensors a network has (`expected`, by name) and those a file
    holds for it (`found`): a missing or unexpected name, another shape or type, a value that is not
    finite; None where they agree."""
    if not isinstance(found, dict):
        return f"its weights are a {type(found).__name__}, not tensors by name"
    missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or unexpected:
        return f"missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(unexpected) or 'none'}"
    for name, tensor in expected.items():
        value = found[name]
        if not isinstance(value, torch.Tensor):
            return f"{name} is a {type(value).__name__}, not a tensor"
        if value.shape != tensor.shape or value.dtype != tensor.dtype:
            return (f"{name} is {tuple(value.shape)} {value.dtype}; the network's is "
                    f"{tuple(tensor.shape)} {tensor.dtype}")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return f"{name} holds values that are not finite"
    return None


def check_checkpoint(state: dict[str, Any], path: Path, net: nn.Module,
                     unknowns: Mapping[str, torch.Tensor] | None = None) -> None:
    """Check a checkpoint field by field against the network it is to resume (which may be built on
    the `meta` device: only shapes and types are read), so that one that parses but was damaged or
    made by hand ends in one `ValueError` naming `path` and the field, before anything is written or
    loaded, never in an error deep in training."""
    def refuse(reason: str) -> ValueError:
        return ValueError(f"{path}: damaged checkpoint ({reason}); start again without --resume")

    step, seconds, history = state.get("step"), state.get("seconds"), state.get("history")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise refuse(f"step {step!r} is not a count")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds < float("inf"):
        raise refuse(f"seconds {seconds!r} is not a duration")
    if not isinstance(history, list) or not all(
            isinstance(row, dict) and all(isinstance(value, (int, float)) or value is None for value in row.values())
            for row in history):
        raise refuse("its history is not a list of logged rows")
    stalled_at = state.get("stalled_at")
    if stalled_at is not None and (not isinstance(stalled_at, int) or isinstance(stalled_at, bool)):
        raise refuse(f"stalled_at {stalled_at!r} is not a step")
    mismatch = first_mismatch(net.state_dict(), state.get("model"))
    if mismatch:
        raise refuse(mismatch)
    random_state = state.get("generator")
    reference = torch.Generator().get_state()  # runs draw their points from a CPU generator, on any device
    if not isinstance(random_state, torch.Tensor) or random_state.dtype != reference.dtype \
            or random_state.shape != reference.shape:
        raise refuse("its random state is not a generator's")
    optimizer = state.get("optimizer")
    moments = optimizer.get("state") if isinstance(optimizer, dict) else None
    groups = optimizer.get("param_groups") if isinstance(optimizer, dict) else None
    if not isinstance(moments, dict) or not isinstance(groups, list) or not all(
            isinstance(group, dict) and isinstance(group.get("params"), list) for group in groups):
        raise refuse("its optimiser state is not an optimiser's")
    unknowns = unknowns or {}
    saved = state.get("unknowns") or {}
    if not isinstance(saved, dict) or set(saved) != set(unknowns) or not all(
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            for value in saved.values()):
        raise refuse(f"its unknowns {sorted(saved) if isinstance(saved, dict) else saved!r} are not the "
                     f"problem's ({sorted(unknowns) or 'none'}) as finite numbers")
    # the optimiser's parameters: the network's, then the unknowns' (scalars)
    shapes = [parameter.shape for parameter in net.parameters()] + [value.shape for value in unknowns.values()]
    for index, values in moments.items():
        if not isinstance(index, int) or not 0 <= index < len(shapes) or not isinstance(values, dict):
            raise refuse(f"optimiser state for parameter {index!r} of {len(shapes)}")
        for name, value in values.items():
            if not isinstance(value, torch.Tensor):
                raise refuse(f"optimiser {name} is a {type(value).__name__}, not a tensor")
            if value.dim() > 0 and value.shape != shapes[index]:
                raise refuse(f"optimiser {name} of shape {tuple(value.shape)} for a parameter of "
                             f"{tuple(shapes[index])}")
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                raise refuse(f"optimiser {name} holds values that are not finite")


def restore_checkpoint(state: dict[str, Any], path: Path, net: nn.Module, optimizer: torch.optim.Optimizer,
                       generator: torch.Generator, unknowns: Mapping[str, torch.Tensor] | None = None
                       ) -> tuple[int, float, list[dict[str, Any]], int | None]:
    """Put a checkpoint's weights, optimiser state, random state and unknown coefficients (a
    problem's `coefficients`, in the optimiser after the network's weights) into a run, checked first
    (`check_checkpoint`); what the checks cannot see (a random state of another device's size)
    is refused in the same one line.

    Returns:
        `(step, seconds, history, stalled_at)` of the checkpoint.
    """
    check_checkpoint(state, path, net, unknowns)
    net.load_state_dict(state["model"])
    with torch.no_grad():
        for name, value in (state.get("unknowns") or {}).items():
            (unknowns or {})[name].fill_(float(value))
    try:
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as error:
        raise ValueError(f"{path}: damaged checkpoint (optimiser or random state: "
                         f"{' '.join(str(error).split())[:120]}); start again without --resume") from None
    return state["step"], float(state["seconds"]), state["history"], state.get("stalled_at")
