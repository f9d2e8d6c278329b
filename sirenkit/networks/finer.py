"""FINER (Liu et al., "FINER: Flexible spectral-bias tuning in Implicit NEural Representation by
Variable-periodic Activation Functions", CVPR 2024): `sin(ω0 (|z| + 1) z)`.

The activation's local frequency `ω0 (2|z| + 1)` grows with `|z|`, so a neuron's frequency is
set by where its pre-activation sits, not by ω0 alone. The authors' initialisation is SIREN's for
the weights, and for the first layer's biases `U(−k, k)` with `k > 1` (here
[`first_bias_scale`][sirenkit.NetworkConfig.first_bias_scale], 20 by default), which puts the first
layer's neurons across a wide range of frequencies from the start.

Derivatives go through SIREN's closed-form engine (`ClosedFormNetwork`)
with, for `φ = ω0 (|z| + 1) z`, `σ' = ω0 (2|z| + 1) cos φ` and
`σ'' = 2 ω0 sign(z) cos φ − ω0² (2|z| + 1)² sin φ`. The authors' code stops the weight gradient
through the factor `|z| + 1`; here it flows, so that the derivatives with respect to the
coordinates are those of the function the network represents.

Not run in bfloat16: with `|z|` up to 20 the phase reaches thousands of radians, which bfloat16's
8-bit mantissa cannot hold to a fraction of a turn.
"""

from __future__ import annotations

import torch

from sirenkit.networks.family import NetworkFamily, mlp_parameter_count
from sirenkit.networks.registry import register_family
from sirenkit.networks.siren import Activation, Siren, adjoint_derivatives, closed_form_derivatives


class Finer(Siren):
    """The FINER MLP: `hidden_layers` layers `sin(ω0 (|z| + 1) z)`, `z = W h + b`, and a
    linear output; SIREN's weight initialisation, first-layer biases `U(−k, k)`."""

    family = "finer"

    def reset_first_biases(self) -> None:
        """The first layer's biases `U(−k, k)`, k = `first_bias_scale`."""
        self.layers[0].bias.uniform_(-self.config.first_bias_scale, self.config.first_bias_scale)

    def activate(self, index: int, pre: torch.Tensor, order: int) -> Activation:
        omega = self.first_omega if index == 0 else self.hidden_omega
        magnitude = pre.abs()
        phase = omega * (magnitude + 1) * pre
        sine = torch.sin(phase)
        if order == 0:
            return Activation(sine)
        cosine = torch.cos(phase)
        rate = omega * (2 * magnitude + 1)  # dφ/dz
        second = None
        if order > 1:
            second = (2 * omega) * torch.sign(pre) * cosine - rate * rate * sine
        return Activation(sine, rate * cosine, second)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return adjoint_derivatives(self, coords, jacobian=False).value  # the engine's value pass


FINER_RATE_FACTOR = 0.3
"""FINER's learning rate over a SIREN's at the width it was swept at, `FINER_RATE_WIDTH`."""
FINER_RATE_WIDTH = 256


def finer_rate_factor(width: int) -> float:
    """FINER's learning rate over a SIREN's at hidden `width`: 0.3 at 256, in inverse proportion to
    the width (Adam moves every weight by about the rate, so a layer's pre-activations move by about
    the rate times its width, and FINER's phase ω0 (|z| + 1) z is steeper in z than a sine's), and
    never above a SIREN's own. Swept in 20 s on coffee and moon at 256 px (mean PSNR): width 256:
    3e-4 36.8 dB, 1e-3 20.5; 128: 3e-4 29.8, 1e-3 29.1; 80: 3e-4 30.1, 1e-3 32.1; 48: 3e-4 26.1,
    1e-3 30.0, 3e-3 22.5, where a SIREN's best stayed at 1e-3 (docs, "Which network?"). Above 256
    the same argument gives less; not measured there."""
    return min(1.0, FINER_RATE_FACTOR * FINER_RATE_WIDTH / width)


register_family(NetworkFamily(
    "finer", build=Finer, summary="FINER: variable-periodic sin(ω0 (|z| + 1) z) (Liu et al. 2024)",
    derivatives=closed_form_derivatives, methods=("forward", "adjoint"), bfloat16=False,
    frequency="first_omega", settings=("first_bias_scale", "weight_scale"),
    config_fields=("first_omega", "hidden_omega", "weight_scale", "first_bias_scale", "axis_scales"),
    learning_rate_factor=FINER_RATE_FACTOR,
    learning_rate_rule=finer_rate_factor, parameter_count=mlp_parameter_count,
    # Its first-layer biases (U(−20, 20)) already raise that layer's frequencies up to 41-fold: on 3 s of
    # music (12.7k parameters, 60 s) ω0 = 100 fitted 25.5 dB against 9.7 at a SIREN's 3,000 (a sweep on
    # another piece: 100 and 300 alike, 1,000 7 dB lower); benchmarks/results/zoo-audio-finer-*.json.
    audio_omega_factor=1 / 30,
    # On shapes the same biases hide the surface: the 198k network found none on the bunny or Spot in
    # 60 s (Chamfer-L1 0.151 / 0.219, normal consistency ~0.5); with U(−1, 1) 0.0068 / 0.0011 (normal
    # consistency 0.93 / 0.99; SIREN by the same command on Spot: 0.0012) (docs, "Which network?").
    kind_defaults={"sdf": {"first_bias_scale": 1.0}},
))
