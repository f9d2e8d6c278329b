"""WIRE (Saragadam et al., "WIRE: Wavelet Implicit Neural Representations", CVPR 2023): the
complex Gabor wavelet `exp(i ω0 z − |s0 z|²)` as activation.

As in the authors' code: the first layer is real (coordinates in, `z` real), every later layer
has complex weights and biases, and the output is the real part of a complex linear layer. ω0
([`wire_omega`][sirenkit.NetworkConfig.wire_omega], 20) sets the wavelet's frequency and s0
([`wire_scale`][sirenkit.NetworkConfig.wire_scale]) its window.

On images the family's defaults are the authors' network for images, three Gabor layers of width
181 (256 divided by √2, their count of a complex weight), with a narrower window than theirs, s0 =
20 instead of 10 (on speech the same network stayed near 0 dB SNR where four layers of 256 at
s0 = 10 reached 5 dB, so sound keeps those). With a SIREN's depth and width (four layers of
256) and s0 = 10, the image recipe (8,192 pixels per step, 3e-3) stayed within 2 dB of a flat grey
for the first 100 steps on most photos tried; the benchmarks' page "Networks" has the figures.

The weights keep PyTorch's default `nn.Linear` initialisation, applied to the real and the imaginary
part alike. The first layer's `z` is multiplied by
[`first_scale`][sirenkit.NetworkConfig.first_scale] (1, the authors' network, for images; more for a
time axis of thousands of cycles, as a SIREN's first ω0).

The complex weights are stored as real and imaginary parts, two real tensors each, so that a
WIRE network saves, loads and trains like any other and its parameter count is the number of
real values it holds (a complex weight counts twice: the authors divide the width by √2 to
compare at equal size; here the budget is matched by counting). The arithmetic is real too: a
complex value is a pair of real tensors, a complex layer one real matrix product of twice the
width (`[Re z, Im z] [[Wr, Wi], [−Wi, Wr]]ᵀ`) and the wavelet `e^(−ω0 Im z − |s0 z|²)` times a
cosine and a sine: the same values as PyTorch's complex tensors, and twice as fast compiled (198k
parameters, 4,096 points, 2-core Xeon: 91 against 181 ms per step; eager about equal, 2.7× SIREN's
step). Derivatives go through autograd. Not run in bfloat16 (not measured; the authors' code runs
complex64).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.family import NetworkFamily
from sirenkit.networks.gauss import TAIL_EXPONENT
from sirenkit.networks.registry import register_family
from sirenkit.networks.siren import first_layer


class ComplexLinear(nn.Module):
    """`W z + b` with complex `W` and `b` held as real and imaginary parts, applied to a
    complex `z` held the same way: real arithmetic only (see the module's docstring)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight_real = nn.Parameter(torch.empty(out_features, in_features))
        self.weight_imag = nn.Parameter(torch.empty(out_features, in_features))
        self.bias_real = nn.Parameter(torch.empty(out_features))
        self.bias_imag = nn.Parameter(torch.empty(out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """`U(−1/√n, 1/√n)` for every part: PyTorch's default bound for `nn.Linear`."""
        bound = 1.0 / math.sqrt(self.in_features)
        with torch.no_grad():
            for part in (self.weight_real, self.weight_imag, self.bias_real, self.bias_imag):
                part.uniform_(-bound, bound)

    def forward(self, real: torch.Tensor, imag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(Re, Im)` of `W z + b` for `z = real + i imag`, as one real matrix product
        `[a b] [[Wr, Wi], [−Wi, Wr]]ᵀ`."""
        block = torch.cat([torch.cat([self.weight_real, -self.weight_imag], dim=1),
                           torch.cat([self.weight_imag, self.weight_real], dim=1)], dim=0)
        bias = torch.cat([self.bias_real, self.bias_imag])
        out = torch.nn.functional.linear(torch.cat([real, imag], dim=-1), block, bias)
        return out[..., :self.out_features], out[..., self.out_features:]

    def real_part(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        """`Re(W z + b)` alone: the output layer needs no imaginary part."""
        weight = torch.cat([self.weight_real, -self.weight_imag], dim=1)
        return torch.nn.functional.linear(torch.cat([real, imag], dim=-1), weight, self.bias_real)


class Wire(nn.Module):
    """Real first layer, complex hidden layers, Gabor activations, real part of a complex output."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        if config.model != "wire":
            raise ValueError(f"Wire needs model='wire', got {config.model!r}")
        self.config = config
        self.omega, self.scale = float(config.wire_omega), float(config.wire_scale)
        self.first_scale = float(config.first_scale)
        width = config.hidden_features
        self.first = nn.Linear(config.in_features, width)
        self.layers = nn.ModuleList(ComplexLinear(width, width) for _ in range(config.hidden_layers - 1))
        self.output = ComplexLinear(width, config.out_features)

    def gabor(self, real: torch.Tensor, imag: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`exp(i ω0 z − |s0 z|²)` of `z = real + i imag` (`imag` None: a real `z`) as
        `e^(−ω0 Im z − |s0 z|²) (cos ω0 Re z, sin ω0 Re z)`. The whole exponent is held at `−40`
        below that, as `TAIL_EXPONENT` says why; holding the window
        alone there would free `e^(−ω0 Im z)`, which the window bounds (the magnitude is at most
        `e^(ω0² / 4 s0²)`), and a large `|z|` would overflow."""
        squared = real.square() if imag is None else real.square() + imag.square()
        exponent = -self.scale * self.scale * squared
        if imag is not None:
            exponent = exponent - self.omega * imag
        amplitude = torch.exp(torch.clamp(exponent, min=-TAIL_EXPONENT))
        phase = self.omega * real
        return amplitude * torch.cos(phase), amplitude * torch.sin(phase)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        real, imag = self.gabor(self.first_scale * first_layer(self.first, coords))
        for layer in self.layers:
            real, imag = self.gabor(*layer(real, imag))
        return self.output.real_part(real, imag)


register_family(NetworkFamily(
    "wire", build=Wire, summary="WIRE: complex Gabor wavelets exp(i ω0 z − |s0 z|²) (Saragadam et al. 2023)",
    bfloat16=False, frequency="wire_omega", settings=("wire_scale", "first_scale"), learning_rate_factor=3.0,
    config_fields=("wire_omega", "wire_scale", "first_scale"),
    kind_defaults={"image": {"hidden_layers": 3, "hidden_features": 181, "wire_scale": 20.0}},
))
