"""Building networks of any registered family (`sirenkit.networks.family`), counting their
parameters and matching budgets.

The modules only hold parameters and settings; derivatives live in `sirenkit.networks.derivatives`
and in each family's module.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.family import closest_size
from sirenkit.networks.mlp import MLP, FourierFeatures, PositionalEncoding, nyquist_frequencies
from sirenkit.networks.registry import get_family
from sirenkit.networks.siren import Siren, first_layer
from sirenkit.resources import check_declared

TRAINING_BYTES_PER_PARAMETER = 16
"""Memory one float32 parameter takes in training: itself, its gradient and Adam's two moments."""


def build_network(config: NetworkConfig, *, seed: int | None = None) -> nn.Module:
    """Build the network `config` describes, freshly initialised by its family.

    Args:
        config: The network's configuration.
        seed: Draw the weights from this seed and leave the global random state as it was;
            `None` draws them from the global RNG.

    Returns:
        The network (an `nn.Module` whose `config` attribute is `config`), on the CPU.

    Raises:
        ValueError: An unknown family, or a network whose training (its weights, their gradients
            and Adam's two moments) would need more memory than the process may use.
    """
    family = get_family(config.model)
    if torch.get_default_device().type == "cpu":  # not on `meta`, where building costs no memory
        count = family.count_parameters(config)
        check_declared(f"the network ({config.hidden_layers} layers of width {config.hidden_features})", "parameters",
                       count, TRAINING_BYTES_PER_PARAMETER * count, advice="use a smaller --width or --layers")
    if seed is None:
        return family.build(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return family.build(config)


def count_parameters(model: nn.Module) -> int:
    """Count the trainable parameters of a built network.

    Args:
        model: Any `nn.Module`.

    Returns:
        The number of trainable parameters.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def parameter_count(config: NetworkConfig) -> int:
    """Count the trainable parameters of `config`'s network without building it.

    Args:
        config: The network's configuration; its family counts (nothing is allocated).

    Returns:
        The number of trainable parameters.
    """
    return get_family(config.model).count_parameters(config)


def width_for_budget(config: NetworkConfig, parameters: int) -> int:
    """The hidden width that gives `config`'s network family about `parameters` parameters,
    so that baselines are compared with a SIREN at the same budget."""

    def count(width: int) -> int:
        return parameter_count(dataclasses.replace(config, hidden_features=width))

    return closest_size(count, parameters, 8192)


def network_for_budget(config: NetworkConfig, parameters: int) -> NetworkConfig:
    """Resize a network to about a given number of parameters.

    The family's own rule decides where it has one (a hash grid's table size, a dense grid's
    resolution); otherwise the hidden width does. This is how `compare` gives every family SIREN's
    budget.

    Args:
        config: The network to resize.
        parameters: The budget.

    Returns:
        `config` with the size that comes closest to `parameters`.
    """
    family = get_family(config.model)
    if family.for_budget is not None:
        return family.for_budget(config, parameters)
    return dataclasses.replace(config, hidden_features=width_for_budget(config, parameters))


__all__ = [
    "MLP", "FourierFeatures", "PositionalEncoding", "Siren", "build_network", "count_parameters", "first_layer",
    "network_for_budget", "nyquist_frequencies", "parameter_count", "width_for_budget",
]
