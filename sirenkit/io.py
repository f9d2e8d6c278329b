"""Files: atomic writes, saved models (safetensors + JSON) and checkpoints.

A saved model is two files side by side: ``model.safetensors`` (the weights) and ``model.json``
(the network configuration and what is needed to turn the output back into a signal: value
range, channels, shape, coordinate extent). :func:`load` rebuilds the network from either file or
from the run folder holding them.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
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
        _usual_permissions(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_path(path: str | Path, write: Callable[[Path], Any]) -> None:
    """Like :func:`atomic_write`, for writers that take a file name rather than a stream; the
    temporary name keeps the suffix, so that format detection by extension still works."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.part.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        _usual_permissions(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, values: Any) -> None:
    """Atomically write ``values`` as indented JSON."""
    text = json.dumps(values, indent=2, sort_keys=False) + "\n"
    atomic_write(path, lambda stream: stream.write(text.encode()))


def save_model(folder: str | Path, model: nn.Module, network: NetworkConfig, kind: SignalKind) -> None:
    """Write ``model.safetensors`` and ``model.json`` (the network configuration and the signal
    kind's description) into ``folder``."""
    folder = Path(folder)
    weights = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    info = {"format": FORMAT, "version": FORMAT_VERSION, "network": to_dict(network), "signal": kind.to_json()}
    atomic_write_path(folder / MODEL_WEIGHTS, lambda temporary: save_file(weights, str(temporary)))
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
    from .kinds import Fitted, kind_from_json

    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    weights_path, info_path = _model_files(path)
    for required in (weights_path, info_path):
        if not required.exists():
            raise ValueError(f"{required}: missing; a saved model needs {MODEL_WEIGHTS} and {MODEL_INFO}")
    try:
        info = json.loads(info_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{info_path}: not valid JSON ({error})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ValueError(f"{info_path}: not a sirenkit model description")
    if info.get("version") != FORMAT_VERSION:
        raise ValueError(f"{info_path}: unsupported model format version {info.get('version')!r}")
    try:
        network = network_config_from_dict(info["network"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{info_path}: invalid network configuration ({error})") from None
    try:
        kind = kind_from_json(info.get("signal"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{info_path}: {error}") from None
    try:
        weights = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{weights_path}: not a readable safetensors file ({error})") from None
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


def load_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint onto the CPU; a corrupt or foreign file gives a ``ValueError``
    naming it."""
    try:
        with warnings.catch_warnings():  # a foreign pickle warns before it fails; the error says it all
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a bad file; all mean the same here
        raise ValueError(f"{path}: not a readable sirenkit checkpoint ({type(error).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != "sirenkit-checkpoint":
        raise ValueError(f"{path}: not a sirenkit checkpoint")
    return state
