"""The networks: SIREN and the baselines of the paper (ReLU, ReLU + positional encoding,
ReLU + random Fourier features, tanh).

A SIREN (DESIGN.md §1) maps coordinates ``x in [-1, 1]^d`` through ``hidden_layers`` layers
``h_l = sin(ω0 (W_l h_{l-1} + b_l))`` and a linear output ``y = W_out h_L + b_out``. The modules
here only hold parameters and settings; derivatives live in :mod:`sirenkit.derivatives`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import NetworkConfig


class Siren(nn.Module):
    """Sine MLP with the initialisation of Sitzmann et al. (the authors' code, not the paper's
    misprinted first-layer formula).

    - first layer weights ``U(-1/d, 1/d)``;
    - every other weight, the output layer included, ``U(-sqrt(6/n)/ω0, sqrt(6/n)/ω0)``;
    - biases as PyTorch's default for ``nn.Linear``.

    ω0 multiplies the bias too: ``sin(ω0 (W x + b))``.
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        if config.model != "siren":
            raise ValueError(f"Siren needs model='siren', got {config.model!r}")
        self.config = config
        width = config.hidden_features
        self.first_omega = float(config.first_omega)
        self.hidden_omega = float(config.hidden_omega)
        sizes = [config.in_features] + [width] * config.hidden_layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.output = nn.Linear(width, config.out_features)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the weights afresh from the SIREN initialisation (uses the global RNG)."""
        width = self.config.hidden_features
        hidden_bound = math.sqrt(6.0 / width) / self.hidden_omega
        with torch.no_grad():
            for index, layer in enumerate(self.layers):
                layer.reset_parameters()  # PyTorch's default bias
                bound = 1.0 / layer.in_features if index == 0 else hidden_bound
                layer.weight.uniform_(-bound, bound)
            self.output.reset_parameters()
            self.output.weight.uniform_(-hidden_bound, hidden_bound)

    def omegas(self) -> list[float]:
        """ω0 of each sine layer, first to last."""
        return [self.first_omega] + [self.hidden_omega] * (len(self.layers) - 1)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """``coords: (..., d)`` in [-1, 1] → ``(..., out_features)``."""
        hidden = torch.sin(self.first_omega * first_layer(self.layers[0], coords))
        for layer in self.layers[1:]:
            hidden = torch.sin(self.hidden_omega * layer(hidden))
        return self.output(hidden)


def first_layer(layer: nn.Linear, coords: torch.Tensor) -> torch.Tensor:
    """``W x + b`` of a SIREN's first layer, in the coordinates' precision even under autocast.

    bfloat16 keeps 8 bits: a coordinate near 1 would move by up to 0.004, which ω0 = 30 turns into
    a phase error of 0.1 rad, more than a pixel at 256 samples. The layer has only d inputs, so
    keeping it in float32 costs nothing measurable.
    """
    if torch.is_autocast_enabled(coords.device.type):
        with torch.autocast(coords.device.type, enabled=False):
            return layer(coords.to(layer.weight.dtype))
    return layer(coords)


class PositionalEncoding(nn.Module):
    """NeRF-style encoding ``[x, sin(2^k π x), cos(2^k π x)]`` for ``k = 0 .. K-1``."""

    def __init__(self, in_features: int, frequencies: int) -> None:
        super().__init__()
        if frequencies < 1:
            raise ValueError(f"positional encoding needs at least 1 frequency, got {frequencies}")
        self.in_features = in_features
        self.frequencies = frequencies
        self.out_features = in_features * (1 + 2 * frequencies)
        self.register_buffer("scales", math.pi * 2.0 ** torch.arange(frequencies, dtype=torch.float32))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        angles = coords[..., None, :] * self.scales.to(coords.dtype)[:, None]  # (..., K, d)
        angles = angles.flatten(-2)  # (..., K*d)
        return torch.cat([coords, torch.sin(angles), torch.cos(angles)], dim=-1)


class FourierFeatures(nn.Module):
    """Gaussian random Fourier features ``[sin(2π B x), cos(2π B x)]``, ``B ~ N(0, σ²)``
    (Tancik et al. 2020). ``B`` is a buffer drawn from its own seed."""

    def __init__(self, in_features: int, features: int, scale: float, seed: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        frequencies = torch.randn(features, in_features, generator=generator) * scale
        self.register_buffer("frequencies", frequencies)
        self.out_features = 2 * features

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        with torch.autocast(coords.device.type, enabled=False):  # phases need float32, as in first_layer
            angles = 2.0 * math.pi * coords @ self.frequencies.to(coords.dtype).T
            return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def nyquist_frequencies(sidelength: int) -> int:
    """Octaves of positional encoding the paper's code uses for ``sidelength`` samples on
    [-1, 1]: the highest ``2^k`` below the Nyquist rate ``sidelength / 4``."""
    nyquist = sidelength / 4.0
    return max(1, int(math.floor(math.log2(nyquist)))) if nyquist > 1 else 1


class MLP(nn.Module):
    """ReLU or tanh MLP, optionally on an encoding of the coordinates (the baselines)."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        if config.model == "siren":
            raise ValueError("use Siren for model='siren'")
        self.config = config
        self.encoding: nn.Module | None = None
        in_features = config.in_features
        if config.model == "relu-pe":
            frequencies = config.pe_frequencies or nyquist_frequencies(config.pe_sidelength)
            self.encoding = PositionalEncoding(config.in_features, frequencies)
            in_features = self.encoding.out_features
        elif config.model == "rff":
            self.encoding = FourierFeatures(
                config.in_features, config.rff_features, config.rff_scale, config.rff_seed
            )
            in_features = self.encoding.out_features
        self.activation: nn.Module = nn.Tanh() if config.model == "tanh" else nn.ReLU()
        sizes = [in_features] + [config.hidden_features] * config.hidden_layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.output = nn.Linear(config.hidden_features, config.out_features)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming (ReLU) or Xavier (tanh) weights, as the paper's baselines."""
        with torch.no_grad():
            for layer in self.layers:
                if self.config.model == "tanh":
                    nn.init.xavier_normal_(layer.weight)
                else:
                    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
            self.output.reset_parameters()

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        hidden = coords if self.encoding is None else self.encoding(coords)
        hidden = self.activation(first_layer(self.layers[0], hidden))  # as precise as SIREN's
        for layer in self.layers[1:]:
            hidden = self.activation(layer(hidden))
        return self.output(hidden)


def build_network(config: NetworkConfig) -> nn.Module:
    """The network a configuration describes, freshly initialised from the global RNG."""
    return Siren(config) if config.model == "siren" else MLP(config)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def width_for_budget(config: NetworkConfig, parameters: int) -> int:
    """The hidden width that gives ``config``'s network family about ``parameters`` parameters,
    so that baselines are compared with a SIREN at the same budget."""
    low, high = 1, 8192
    while low < high:  # smallest width whose count reaches the budget
        middle = (low + high) // 2
        probe = NetworkConfig(**{**config.__dict__, "hidden_features": middle})
        if _parameter_count(probe) >= parameters:
            high = middle
        else:
            low = middle + 1
    below = NetworkConfig(**{**config.__dict__, "hidden_features": max(1, low - 1)})
    at = NetworkConfig(**{**config.__dict__, "hidden_features": low})
    if abs(_parameter_count(below) - parameters) < abs(_parameter_count(at) - parameters):
        return max(1, low - 1)
    return low


def _parameter_count(config: NetworkConfig) -> int:
    """Parameters of a configuration, counted without building it."""
    in_features = config.in_features
    if config.model == "relu-pe":
        frequencies = config.pe_frequencies or nyquist_frequencies(config.pe_sidelength)
        in_features = config.in_features * (1 + 2 * frequencies)
    elif config.model == "rff":
        in_features = 2 * config.rff_features
    width = config.hidden_features
    count = in_features * width + width
    count += (config.hidden_layers - 1) * (width * width + width)
    return count + width * config.out_features + config.out_features
