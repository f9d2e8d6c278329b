"""The network family ``sinc``: ``sinc(ω0 z) = sin(ω0 z) / (ω0 z)`` activations (Saratchandran et
al., "A sampling theory perspective on activations for implicit neural representations", ICML 2024).

The authors show that sinc activations are, for a shallow network, the optimal generator of a
sampling-theory reconstruction (their translates form a Riesz basis with the partition-of-unity
property; a sinusoid's, a Gaussian's do not quite). Here a sinc layer is ``sinc(ω0 (W h + b))``
with ``torch.sinc(t) = sin(πt) / (πt)`` evaluated at ``t = ω0 z / π``, so that it oscillates as a
SIREN's ``sin(ω0 z)`` does, under a ``1 / (ω0 z)`` envelope.

Initialisation: this plugin could not find the paper's own initialisation in its text or code, so
it uses SIREN's scheme scaled as the authors describe their bandwidth parameter: the weights of the
first layer ``U(−1/n, 1/n)`` and of the others ``U(−√(6/n)/ω0, √(6/n)/ω0)`` (``n`` the layer's
inputs), ω0 the family's frequency (``first_omega``, ``--omega``; 30 by default, as for a SIREN).
An assumption, stated as one: a fit with it is not a reproduction of the paper's numbers.

Derivatives with respect to the coordinates go through autograd (the family's default), which is
exact; ``sinc`` is smooth, so its second derivatives mean something.
"""

from __future__ import annotations

import math

import torch

from sirenkit.networks.family import NetworkFamily
from sirenkit.networks.siren import Siren


class Sinc(Siren):
    """MLP with ``sin(ω0 z) / (ω0 z)`` activations and a linear output; SIREN's initialisation
    (:class:`~sirenkit.networks.siren.Siren`'s, whose layers it keeps)."""

    family = "sinc"

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """``coords: (N, in_features)`` in [-1, 1] → ``(N, out_features)``."""
        hidden = coords
        for index, layer in enumerate(self.layers):
            omega = self.first_omega if index == 0 else self.hidden_omega
            hidden = torch.sinc(layer(hidden) * (omega / math.pi))  # sin(ω0 z) / (ω0 z)
        return self.output(hidden)


SINC = NetworkFamily(
    "sinc", build=Sinc, summary="sinc activations sin(ω0 z)/(ω0 z) (Saratchandran et al. 2024; a plugin)",
    frequency="first_omega", bfloat16=False, config_fields=("first_omega", "hidden_omega"),
)
"""The family; the entry point ``sinc`` of the group ``sirenkit.families`` names it, and sirenkit
registers it."""

__all__ = ["SINC", "Sinc"]
