"""The baselines of the SIREN paper: ReLU MLP, ReLU on positional encoding (NeRF), ReLU on
random Fourier features (Tancik et al. 2020) and tanh MLP. Their derivatives go through autograd;
the second derivatives of the ReLU networks are zero almost everywhere, so they refuse
constraints that need them."""

from __future__ import annotations

import math

import torch
from torch import nn

from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.family import Linears, NetworkFamily, mlp_parameter_count
from sirenkit.networks.registry import register_family
from sirenkit.networks.siren import first_layer


class PositionalEncoding(nn.Module):
    """NeRF-style encoding `[x, sin(2^k π x), cos(2^k π x)]` for `k = 0 .. K-1`.

    Args:
        in_features: Dimension `d` of the coordinates.
        frequencies: Number of octaves `K`; the encoding has `d (1 + 2K)` features.

    Raises:
        ValueError: Fewer than one octave.
    """

    def __init__(self, in_features: int, frequencies: int) -> None:
        super().__init__()
        if frequencies < 1:
            raise ValueError(f"positional encoding needs at least 1 frequency, got {frequencies}")
        self.in_features = in_features
        self.frequencies = frequencies
        self.scales: torch.Tensor
        self.out_features = in_features * (1 + 2 * frequencies)
        self.register_buffer("scales", math.pi * 2.0 ** torch.arange(frequencies, dtype=torch.float32))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """Encode coordinates.

        Args:
            coords: `(..., d)` coordinates.

        Returns:
            `(..., out_features)` features.
        """
        angles = coords[..., None, :] * self.scales.to(coords.dtype)[:, None]  # (..., K, d)
        angles = angles.flatten(-2)  # (..., K*d)
        return torch.cat([coords, torch.sin(angles), torch.cos(angles)], dim=-1)


class FourierFeatures(nn.Module):
    """Gaussian random Fourier features `[sin(2π B x), cos(2π B x)]`, `B ~ N(0, σ²)`
    (Tancik et al. 2020). `B` is a buffer drawn from its own seed, so that a saved model rebuilds
    exactly.

    Args:
        in_features: Dimension `d` of the coordinates.
        features: Number of random frequencies; the encoding has twice as many features.
        scale: Standard deviation σ of the frequencies.
        seed: Seed of the frequencies.
    """

    def __init__(self, in_features: int, features: int, scale: float, seed: int) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        # drawn on the CPU whatever the default device (the meta device counts parameters)
        self.frequencies: torch.Tensor
        frequencies = torch.randn(features, in_features, generator=generator, device="cpu") * scale
        self.register_buffer("frequencies", frequencies)
        self.out_features = 2 * features

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """Encode coordinates.

        Args:
            coords: `(..., d)` coordinates.

        Returns:
            `(..., out_features)` features.
        """
        with torch.autocast(coords.device.type, enabled=False):  # phases need float32, as in first_layer
            angles = 2.0 * math.pi * coords @ self.frequencies.to(coords.dtype).T
            return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def nyquist_frequencies(sidelength: int) -> int:
    """Octaves of positional encoding the paper's code uses for `sidelength` samples on
    [-1, 1]: the highest `2^k` below the Nyquist rate `sidelength / 4`."""
    nyquist = sidelength / 4.0
    return max(1, int(math.floor(math.log2(nyquist)))) if nyquist > 1 else 1


class MLP(nn.Module):
    """ReLU or tanh MLP, optionally on an encoding of the coordinates: the paper's baselines
    (`relu`, `relu-pe`, `rff`, `tanh`). Kaiming (ReLU) or Xavier (tanh) weights, as the paper's
    baselines.

    Args:
        config: A configuration of one of the four baseline families.

    Raises:
        ValueError: A `siren` configuration (build a [`Siren`][sirenkit.Siren]).
    """

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
        self.layers = Linears.of_sizes(sizes)
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



PIECEWISE_LINEAR = "are zero almost everywhere (it is piecewise linear)"

for _name, _summary, _frequency, _settings in (
    ("relu", "ReLU MLP (the paper's baseline)", None, ()),
    ("relu-pe", "ReLU MLP on NeRF-style positional encoding", None, ("pe_frequencies",)),
    ("rff", "ReLU MLP on Gaussian random Fourier features (Tancik et al. 2020)", "rff_scale",
     ("rff_features", "rff_seed")),
):
    register_family(NetworkFamily(_name, build=MLP, summary=_summary, second_derivatives=False,
                                  why_no_second_derivatives=PIECEWISE_LINEAR, frequency=_frequency,
                                  settings=_settings,
                                  config_fields=_settings if _frequency is None else (_frequency, *_settings)))
register_family(NetworkFamily("tanh", build=MLP, summary="tanh MLP (the paper's baseline)", config_fields=(),
                              parameter_count=mlp_parameter_count))
