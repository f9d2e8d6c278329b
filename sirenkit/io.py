"""Files: atomic writes, saved models (safetensors + JSON) and checkpoints.

A saved model is two files side by side: ``model.safetensors`` (the weights) and ``model.json``
(the network configuration and what is needed to turn the output back into a signal: value
range, channels, shape, coordinate extent). :func:`load` rebuilds the network from either file or
from the run folder holding them.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .config import NetworkConfig, network_config_from_dict, to_dict
from .network import build_network

if TYPE_CHECKING:
    from .kinds import Fitted, SignalKind

MODEL_WEIGHTS = "model.safetensors"
MODEL_INFO = "model.json"
FORMAT = "sirenkit-model"
FORMAT_VERSION = 1


def _usual_permissions(path: str) -> None:
    """``mkstemp`` makes files only their owner can read; give them what ``open`` would."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write ``path`` through a temporary file in the same folder, renamed into place only when
    complete, so that a crash or Ctrl-C never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        _usual_permissions(temporary)
        os.replace(temporary, path)
        _sync_folder(path.parent)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a power cut after it keeps the new file)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # folders cannot be opened on some systems (Windows): nothing to sync there
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _sync_file(path: str | Path) -> None:
    with open(path, "rb") as stream:
        os.fsync(stream.fileno())


def atomic_write_path(path: str | Path, write: Callable[[Path], Any]) -> None:
    """Like :func:`atomic_write`, for writers that take a file name rather than a stream; the
    temporary name keeps the suffix, so that format detection by extension still works."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.part.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        _sync_file(temporary)
        _usual_permissions(temporary)
        os.replace(temporary, path)
        _sync_folder(path.parent)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def strict_json(values: Any) -> Any:
    """``values`` with NaN and infinities as ``null``: JSON has no such numbers, and a file that
    holds them (as Python writes them by default) is refused by other readers."""
    if isinstance(values, float):
        return values if math.isfinite(values) else None
    if isinstance(values, dict):
        return {key: strict_json(value) for key, value in values.items()}
    if isinstance(values, (list, tuple)):
        return [strict_json(value) for value in values]
    return values


def write_json(path: str | Path, values: Any, default: Callable[[Any], Any] | None = None) -> None:
    """Atomically write ``values`` as indented, standard JSON (non-finite numbers as ``null``);
    ``default`` turns what JSON cannot hold into what it can, as in :func:`json.dumps`."""
    text = json.dumps(strict_json(values), indent=2, sort_keys=False, allow_nan=False, default=default) + "\n"
    atomic_write(path, lambda stream: stream.write(text.encode()))


def save_model(folder: str | Path, model: nn.Module, network: NetworkConfig, kind: SignalKind) -> None:
    """Write ``model.safetensors`` and ``model.json`` (the network configuration and the signal
    kind's description) into ``folder``."""
    folder = Path(folder)
    weights = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    info = {"format": FORMAT, "version": FORMAT_VERSION, "network": to_dict(network), "signal": kind.to_json()}
    # the description travels inside the weights file too: the pair can never be mixed up (two runs
    # writing one folder, a copy of one file only); model.json is its readable twin
    atomic_write_path(folder / MODEL_WEIGHTS, lambda temporary: save_file(
        weights, str(temporary), metadata={"format": FORMAT, "info": json.dumps(info)}))
    write_json(folder / MODEL_INFO, info)


def _model_files(path: Path) -> tuple[Path, Path]:
    if path.is_dir():
        return path / MODEL_WEIGHTS, path / MODEL_INFO
    if path.suffix == ".json":
        return path.with_suffix(".safetensors"), path
    return path, path.with_suffix(".json")


def load(path: str | Path, device: str | torch.device = "cpu") -> Fitted:
    """Rebuild a saved network from a run folder, its ``model.safetensors`` or ``model.json``, with
    its signal kind typed (``fitted.kind``); ``metrics`` and ``history`` come from the run folder
    where it has them."""
    from .kinds import Fitted

    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    weights_path, info_path = _model_files(path)
    if not weights_path.exists():
        raise ValueError(f"{weights_path}: missing; a saved model needs {MODEL_WEIGHTS} (and {MODEL_INFO})")
    embedded = _embedded_info(weights_path)
    described = None
    if embedded is None or info_path.exists():
        if not info_path.exists():
            raise ValueError(f"{info_path}: missing; a saved model needs {MODEL_WEIGHTS} and {MODEL_INFO}")
        try:
            text = json.loads(info_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{info_path}: not valid JSON ({error})") from None
        described = _model_description(text, info_path)
    network, kind = described or _model_description(embedded, weights_path)
    if embedded is not None and described is not None and described != _model_description(embedded, weights_path):
        raise ValueError(f"{info_path}: does not describe {weights_path.name} beside it (they come from different "
                         f"runs); the weights file holds its own description: remove {info_path.name}")
    try:
        weights = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{weights_path}: not a readable safetensors file ({error})") from None
    _check_plausible(network, weights, weights_path)  # before building: a received file may ask for 10⁹ layers
    model = build_network(network, seed=0)  # every weight is replaced below
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        first_line = str(error).strip().splitlines()[0]
        raise ValueError(f"{weights_path}: weights do not match the configuration ({first_line})") from None
    model.eval()
    folder = info_path.parent
    extras = {name: _read_json_if_present(folder / f"{name}.json") for name in ("metrics", "history")}
    return Fitted(model.to(device), network, kind, extras["metrics"] or {}, extras["history"] or [], path)


def _check_plausible(network: NetworkConfig, weights: dict[str, torch.Tensor], path: Path) -> None:
    """A ``ValueError`` when the configuration asks for more layers or a wider layer than the
    weights file holds, so that a hostile description cannot make :func:`build_network` allocate
    without bound; the exact match is ``load_state_dict``'s."""
    widest = max((max(t.shape) for t in weights.values() if t.dim() > 0), default=0)
    matrices = sum(1 for t in weights.values() if t.dim() >= 2)
    if network.hidden_features > widest or network.hidden_layers > matrices:
        raise ValueError(f"{path}: weights do not match the configuration ({matrices} weight matrices, at most "
                         f"{widest} wide; the description asks for {network.hidden_layers} layers of "
                         f"{network.hidden_features})")


def _model_description(info: Any, source: Path) -> tuple[NetworkConfig, SignalKind]:
    """The network and signal kind a model description names, checked; errors name ``source``."""
    from .kinds import kind_from_json

    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ValueError(f"{source}: not a sirenkit model description")
    if info.get("version") != FORMAT_VERSION:
        raise ValueError(f"{source}: unsupported model format version {info.get('version')!r}")
    try:
        network = network_config_from_dict(info["network"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{source}: invalid network configuration ({error})") from None
    try:
        kind = kind_from_json(info.get("signal"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{source}: {error}") from None
    return network, kind


def _embedded_info(weights_path: Path) -> Any:
    """The model description saved inside the weights file, or None (files from before 0.2)."""
    try:
        with safe_open(str(weights_path), framework="pt", device="cpu") as stream:
            metadata = stream.metadata() or {}
        return json.loads(metadata["info"]) if metadata.get("format") == FORMAT else None
    except (SafetensorError, OSError, ValueError, KeyError) as error:
        raise ValueError(f"{weights_path}: not a readable safetensors file ({error})") from None


def _read_json_if_present(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def __getattr__(name: str) -> Any:
    if name == "LoadedModel":  # the former name of a loaded model's type, now the one result type
        from .kinds import Fitted

        return Fitted
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


CHECKPOINT_FORMAT = "sirenkit-checkpoint"


def _without_tensors(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """``value`` as JSON, each tensor replaced by a reference to ``tensors`` (where it is moved);
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
    """Read a training checkpoint onto the CPU; a corrupt or foreign file gives a ``ValueError``
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
