"""WIRE (Saragadam et al., "WIRE: Wavelet Implicit Neural Representations", CVPR 2023): the
complex Gabor wavelet ``exp(i ω0 z − |s0 z|²)`` as activation.

As in the authors' code: the first layer is real (coordinates in, ``z`` real), every later layer
has complex weights and biases, and the output is the real part of a complex linear layer. ω0
(:attr:`~sirenkit.config.NetworkConfig.wire_omega`, 20) sets the wavelet's frequency and s0
(:attr:`~sirenkit.config.NetworkConfig.wire_scale`, 10) its window. The weights keep PyTorch's
default ``nn.Linear`` initialisation, applied to the real and the imaginary part alike.

The complex weights are stored as real and imaginary parts, two real tensors each, so that a
WIRE network saves, loads and trains like any other and its parameter count is the number of
real values it holds (a complex weight counts twice: the authors divide the width by √2 to
compare at equal size; here the budget is matched by counting). Derivatives go through autograd.
Not run in bfloat16 (PyTorch has no complex bfloat16).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..config import NetworkConfig
from . import NetworkFamily, register_family
from .gauss import TAIL_EXPONENT
from .siren import first_layer


class ComplexLinear(nn.Module):
    """``W z + b`` with complex ``W`` and ``b`` held as real and imaginary parts."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight_real = nn.Parameter(torch.empty(out_features, in_features))
        self.weight_imag = nn.Parameter(torch.empty(out_features, in_features))
        self.bias_real = nn.Parameter(torch.empty(out_features))
        self.bias_imag = nn.Parameter(torch.empty(out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``U(−1/√n, 1/√n)`` for every part: PyTorch's default bound for ``nn.Linear``."""
        bound = 1.0 / math.sqrt(self.in_features)
        with torch.no_grad():
            for part in (self.weight_real, self.weight_imag, self.bias_real, self.bias_imag):
                part.uniform_(-bound, bound)

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        weight = torch.complex(self.weight_real, self.weight_imag)
        bias = torch.complex(self.bias_real, self.bias_imag)
        return values.to(weight.dtype) @ weight.T + bias


class Wire(nn.Module):
    """Real first layer, complex hidden layers, Gabor activations, real part of a complex output."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        if config.model != "wire":
            raise ValueError(f"Wire needs model='wire', got {config.model!r}")
        self.config = config
        self.omega, self.scale = float(config.wire_omega), float(config.wire_scale)
        width = config.hidden_features
        self.first = nn.Linear(config.in_features, width)
        self.layers = nn.ModuleList(ComplexLinear(width, width) for _ in range(config.hidden_layers - 1))
        self.output = ComplexLinear(width, config.out_features)

    def gabor(self, pre: torch.Tensor) -> torch.Tensor:
        """``exp(i ω0 z − |s0 z|²)``, the window's exponent held at ``−40`` beyond that, as
        :data:`~sirenkit.families.gauss.TAIL_EXPONENT` says why."""
        window = torch.clamp((self.scale * pre).abs().square(), max=TAIL_EXPONENT)
        return torch.exp(1j * self.omega * pre - window)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        hidden = self.gabor(first_layer(self.first, coords))
        for layer in self.layers:
            hidden = self.gabor(layer(hidden))
        return self.output(hidden).real


register_family(NetworkFamily(
    "wire", build=Wire, summary="WIRE: complex Gabor wavelets exp(i ω0 z − |s0 z|²) (Saragadam et al. 2023)",
    bfloat16=False, frequency="wire_omega", settings=("wire_scale",),
))
