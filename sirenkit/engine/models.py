"""A fitted model on disk: `model.safetensors` (the weights) and `model.json` (the network and the
signal kind), strict on read: every error names the file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from sirenkit.engine.checkpoint import first_mismatch, read_safetensors, write_safetensors
from sirenkit.networks.build import build_network
from sirenkit.networks.config import NetworkConfig, network_config_from_dict
from sirenkit.networks.registry import get_family

if TYPE_CHECKING:
    from sirenkit.engine.kinds import Fitted, SignalKind
from sirenkit.io import write_json
from sirenkit.networks.config import network_to_dict

MODEL_WEIGHTS = "model.safetensors"


MODEL_INFO = "model.json"


FORMAT = "sirenkit-model"


FORMAT_VERSION = 1


def save_model(folder: str | Path, model: nn.Module, network: NetworkConfig, kind: SignalKind) -> None:
    """Write a network as a model that [`load`][sirenkit.load] reads back.

    Args:
        folder: Where to write `model.safetensors` (the weights) and `model.json` (the network
            configuration and the signal kind's description); created if missing.
        model: The network.
        network: Its configuration.
        kind: What its output means.
    """
    folder = Path(folder)
    weights = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    info = {"format": FORMAT, "version": FORMAT_VERSION, "network": network_to_dict(network), "signal": kind.to_json()}
    # the description travels inside the weights file too: the pair can never be mixed up (two runs
    # writing one folder, a copy of one file only); model.json is its readable twin
    write_safetensors(folder / MODEL_WEIGHTS, weights, {"format": FORMAT, "info": json.dumps(info)})
    write_json(folder / MODEL_INFO, info)


def _model_files(path: Path) -> tuple[Path, Path]:
    if path.is_dir():
        return path / MODEL_WEIGHTS, path / MODEL_INFO
    if path.suffix == ".json":
        return path.with_suffix(".safetensors"), path
    return path, path.with_suffix(".json")


def load(path: str | Path, device: str | torch.device = "cpu") -> Fitted:
    """Rebuild a saved network, with its signal kind typed.

    `metrics` and `history` come from the run folder where it has them (they are empty for model
    files on their own). This is what `sirenkit info` reads.

    Args:
        path: A run folder, its `model.safetensors` or its `model.json`.
        device: Where to put the network.

    Returns:
        The network with what its output means (`fitted.kind`: an
        [`ImageKind`][sirenkit.ImageKind], [`AudioKind`][sirenkit.AudioKind], ...).

    Raises:
        ValueError: A missing or unreadable file, or weights that do not match their description;
            the message names the file.

    Example:
        ```python
        import sirenkit

        loaded = sirenkit.load("runs/camera")
        big = loaded.render(size=(1024, 1024))  # (H, W, C) in [0, 1]
        ```
    """
    from sirenkit.engine.kinds import Fitted

    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    weights_path, info_path = _model_files(path)
    if not weights_path.exists():
        raise ValueError(f"{weights_path}: missing; a saved model needs {MODEL_WEIGHTS} (and {MODEL_INFO})")
    weights, metadata = read_safetensors(weights_path)
    embedded = _embedded_info(metadata, weights_path)
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
    check_weights_match(network, weights, weights_path)  # before building: a file may ask for 10⁹ layers
    try:
        kind.check_network(network)
    except ValueError as error:
        raise ValueError(f"{info_path if described else weights_path}: {error}") from None
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


def check_weights_match(network: NetworkConfig, weights: dict[str, torch.Tensor], path: Path) -> None:
    """A `ValueError` naming `path` and the first tensor that differs when `weights` are not, name
    for name, of the shapes and types that `network` has. The network is built on the `meta` device
    (shapes only, no memory), so that a description asking for 10⁹ layers or a grid of 10¹⁵ cells
    is refused before anything is allocated.

    Args:
        network: The configuration the weights are said to be for.
        weights: The tensors read from the file, by name.
        path: The file, for the message.
    """
    _check_plausible(network, weights, path)  # a module per layer: 10⁹ of them would fill the memory even on meta
    try:
        with torch.device("meta"):
            expected = build_network(network, seed=0).state_dict()
    except (NotImplementedError, RuntimeError):  # a plugin family that cannot be built without memory
        return
    mismatch = first_mismatch(expected, weights)
    if mismatch:
        raise ValueError(f"{path}: weights do not match the configuration ({mismatch})")


def _check_plausible(network: NetworkConfig, weights: dict[str, torch.Tensor], path: Path) -> None:
    """A `ValueError` when the configuration asks for more layers (or grid levels) or a wider layer
    than the weights file holds: what must be refused before even a `meta` network is built."""
    widest = max((max(t.shape) for t in weights.values() if t.dim() > 0), default=0)
    matrices = sum(1 for t in weights.values() if t.dim() >= 2)
    declared = get_family(network.model).config_fields or ()  # a family that does not say: its shapes decide
    if "grid_levels" in declared and network.grid_levels > len(weights):
        raise ValueError(f"{path}: weights do not match the configuration ({len(weights)} tensors; the description "
                         f"asks for {network.grid_levels} grid levels)")
    values = sum(t.numel() for t in weights.values())
    counts = {f.name for f in dataclasses.fields(NetworkConfig) if f.type in ("int", int)}
    for name in declared:  # a count of features, levels, cells: no more than the values held
        count = getattr(network, name)
        if name in counts and not name.endswith("_seed") and count > values:
            raise ValueError(f"{path}: weights do not match the configuration (they hold {values:,} values; the "
                             f"description asks for {name} {count:,})")
    if network.hidden_features > widest or network.hidden_layers > matrices:
        raise ValueError(f"{path}: weights do not match the configuration ({matrices} weight matrices, at most "
                         f"{widest} wide; the description asks for {network.hidden_layers} layers of "
                         f"{network.hidden_features})")


def _model_description(info: Any, source: Path) -> tuple[NetworkConfig, SignalKind]:
    """The network and signal kind a model description names, checked; errors name `source`."""
    from sirenkit.engine.kinds import kind_from_json

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


def _embedded_info(metadata: dict[str, str], weights_path: Path) -> Any:
    """The model description saved inside the weights file, or None (files from before 0.2)."""
    try:
        return json.loads(metadata["info"]) if metadata.get("format") == FORMAT else None
    except (ValueError, KeyError) as error:
        raise ValueError(f"{weights_path}: not a readable safetensors file ({error})") from None


def _read_json_if_present(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def __getattr__(name: str) -> Any:
    if name == "LoadedModel":  # the former name of a loaded model's type, now the one result type
        from sirenkit.engine.kinds import Fitted

        return Fitted
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
