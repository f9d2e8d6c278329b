"""SIREN (Sitzmann et al. 2020): the sine MLP and its closed-form derivatives.

A SIREN maps coordinates `x in [-1, 1]^d` through `hidden_layers` layers
`h_l = sin(ω0 (W_l h_{l-1} + b_l))` and a linear output `y = W_out h_L + b_out`.

Its derivatives are pushed forward through the layers in closed form. With
`z = W h + b`, `s = sin(ω0 z)`, `c = cos(ω0 z)`, every point carries its value `h`, the
Jacobian columns `J_i = ∂h/∂x_i` and one stream per requested second-order quantity
`S = Σ_(i,j) ∂²h/∂x_i∂x_j`:

```text
z-side:  J_z = W J,   S_z = W S                      (first layer: J_z = W e_i, S_z = 0)
h-side:  J_h = ω0 c ⊙ J_z
         S_h = ω0 c ⊙ S_z − ω0² s ⊙ Σ_(i,j) J_z,i ⊙ J_z,j
```

The value, Jacobian and second-order streams share each weight matrix and are stacked into one
matrix product per layer; reverse-mode autograd through this forward pass gives the weight
gradients in one backward pass. Only what is asked for is computed. Nothing in it is particular to
the sine but `σ' = ω0 c` and `σ'' = −ω0² s`: any MLP whose activations give their first two
derivatives (`ClosedFormNetwork`: FINER and Gauss too) runs through the same engine.

When only the Jacobian is asked for, the adjoint (reverse) pass is written out instead: after the
forward pass, `g_L = W_out ⊙ ω0 c_L` and `g_(l−1) = (g_l W_l) ⊙ ω0 c_(l−1)`, then
`∇y = g_1 W_1`: one extra matrix product per layer and output, whatever the dimension `d`,
against `d` extra streams forward. It is ordinary tensor code, so the weight gradient is one
backward pass through it, and `torch.compile` fuses it like any other step.

Both are tested against nested autograd in float64
([`sirenkit.autograd_derivatives`][sirenkit.autograd_derivatives]).
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Iterable
from typing import ClassVar, NamedTuple, Protocol, cast

import torch
from torch import nn

from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.derivatives import Derivatives
from sirenkit.networks.family import Linears, NetworkFamily, mlp_parameter_count
from sirenkit.networks.registry import register_family


class Activation(NamedTuple):
    """An activation `σ(z)` and, where asked for, `σ'(z)` and `σ''(z)`, elementwise."""

    value: torch.Tensor
    first: torch.Tensor | None = None
    second: torch.Tensor | None = None


class ClosedFormNetwork(Protocol):
    """What the closed-form engine needs of a network: an MLP `h_l = σ_l(W_l h_(l−1) + b_l)`
    with a linear output, whose activations give their first two derivatives (SIREN, FINER,
    Gauss)."""

    layers: Linears
    output: nn.Linear

    def activate(self, index: int, pre: torch.Tensor, order: int) -> Activation: ...


class Siren(nn.Module):
    """Sine MLP with the initialisation of Sitzmann et al. (the authors' code, not the paper's
    misprinted first-layer formula).

    - first layer weights `U(-1/d, 1/d)`;
    - every other weight, the output layer included, `U(-sqrt(6/n)/ω0, sqrt(6/n)/ω0)`;
    - biases as PyTorch's default for `nn.Linear`;
    - then the hidden layers' weights (not the first's, not the output's) times
      [`weight_scale`][sirenkit.NetworkConfig.weight_scale] (Yeom et al. 2025; 1 by default).

    ω0 multiplies the bias too: `sin(ω0 (W x + b))`.

    Args:
        config: A `siren` configuration (its width, depth, `first_omega` and `hidden_omega`).
    """

    family: ClassVar[str] = "siren"
    """The `NetworkConfig.model` this class builds (a subclass of another family sets its own)."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        if config.model != self.family:
            raise ValueError(f"{type(self).__name__} needs model={self.family!r}, got {config.model!r}")
        self.config = config
        width = config.hidden_features
        self.first_omega = float(config.first_omega)
        self.hidden_omega = float(config.hidden_omega)
        sizes = [config.in_features] + [width] * config.hidden_layers
        self.layers = Linears.of_sizes(sizes)
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
            self.reset_first_biases()
            self.output.reset_parameters()
            self.output.weight.uniform_(-hidden_bound, hidden_bound)
            for layer in self.layers[1:]:  # weight scaling: the hidden layers' weights
                layer.weight.mul_(self.config.weight_scale)
            if self.config.axis_scales:  # each coordinate's weights, as if its axis were stretched
                first = self.layers[0].weight
                first.mul_(torch.tensor(self.config.axis_scales, dtype=first.dtype, device=first.device))

    def reset_first_biases(self) -> None:
        """Where a family draws the first layer's biases its own way (after the hidden weights,
        before the output layer); a SIREN keeps PyTorch's default."""

    def omegas(self) -> list[float]:
        """ω0 of each sine layer, first to last."""
        return [self.first_omega] + [self.hidden_omega] * (len(self.layers) - 1)

    def activate(self, index: int, pre: torch.Tensor, order: int) -> Activation:
        """`sin(ω z)` of layer `index` at `z = pre` and, up to `order`, its derivatives
        `ω cos(ω z)` and `−ω² sin(ω z)` (the closed-form engine's interface)."""
        omega = self.first_omega if index == 0 else self.hidden_omega
        phase = omega * pre
        sine = torch.sin(phase)
        if order == 0:
            return Activation(sine)
        first = omega * torch.cos(phase)
        return Activation(sine, first, -(omega * omega) * sine if order > 1 else None)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """Evaluate the network.

        Args:
            coords: `(..., d)` coordinates in [-1, 1].

        Returns:
            `(..., out_features)` values.
        """
        hidden = torch.sin(self.first_omega * first_layer(self.layers[0], coords))
        for layer in self.layers[1:]:
            hidden = torch.sin(self.hidden_omega * layer(hidden))
        return self.output(hidden)


def first_layer(layer: nn.Linear, coords: torch.Tensor) -> torch.Tensor:
    """`W x + b` of a SIREN's first layer, in the coordinates' precision even under autocast.

    bfloat16 keeps 8 bits: a coordinate near 1 would move by up to 0.004, which ω0 = 30 turns into
    a phase error of 0.1 rad, more than a pixel at 256 samples. The layer has only d inputs, so
    keeping it in float32 costs nothing measurable.
    """
    if torch.is_autocast_enabled(coords.device.type):
        with torch.autocast(coords.device.type, enabled=False):
            return layer(coords.to(layer.weight.dtype))
    return layer(coords)


def adjoint_derivatives(model: ClosedFormNetwork, coords: torch.Tensor, *, jacobian: bool = True) -> Derivatives:
    """Compute the value and the Jacobian by the written-out adjoint pass.

    One extra matrix product per layer and output after the forward pass, whatever the dimension
    `d` (see the module [`sirenkit.networks.siren`][sirenkit.networks.siren]).

    Args:
        model: A network with closed-form activations (SIREN, FINER, Gauss).
        coords: `(N, d)` coordinates.
        jacobian: Compute the Jacobian (without it, only the value).

    Returns:
        The value and the Jacobian.
    """
    hidden, slopes = coords, []
    for index, layer in enumerate(model.layers):
        pre = first_layer(layer, hidden) if index == 0 else layer(hidden)
        activation = model.activate(index, pre, 1 if jacobian else 0)
        hidden = activation.value
        if jacobian:
            assert activation.first is not None
            slopes.append(activation.first)  # (N, n): σ'(z)
    value = model.output(hidden)
    if not jacobian:
        return Derivatives(value=value)
    adjoint = slopes[-1][None] * model.output.weight[:, None, :]  # (m, N, n): ∂y_k/∂z_L
    for layer, slope in zip(reversed(model.layers[1:]), reversed(slopes[:-1])):
        adjoint = (adjoint @ layer.weight) * slope  # ∂y_k/∂z_(l-1)
    jac = adjoint @ model.layers[0].weight  # (m, N, d)
    return Derivatives(value=value, jacobian=jac.permute(1, 0, 2))


def _second_order_groups(
    dims: int, laplacian: bool, hessian: bool, axes: tuple[int, ...]
) -> tuple[list[list[tuple[int, int]]], list[tuple[int, int]]]:
    """The second-order streams to carry: each a list of index pairs whose mixed partials are
    summed. Returns the groups and, for the Hessian, the pair each group stands for."""
    if hessian:
        pairs = [(i, j) for i in range(dims) for j in range(i, dims)]
        return [[pair] for pair in pairs], pairs
    if laplacian:
        return [[(i, i) for i in axes]], []
    return [], []


def forward_derivatives(
    model: ClosedFormNetwork,
    coords: torch.Tensor,
    *,
    jacobian: bool = False,
    laplacian: bool = False,
    hessian: bool = False,
    axes: tuple[int, ...] | None = None,
) -> Derivatives:
    """Push the derivatives forward through the layers in closed form.

    With `σ'` and `σ''` of each layer's activation, `J_h = σ' ⊙ J_z` and
    `S_h = σ' ⊙ S_z + σ'' ⊙ Σ J_z,i J_z,j` (see the module
    [`sirenkit.networks.siren`][sirenkit.networks.siren]).

    Args:
        model: A network with closed-form activations (SIREN, FINER, Gauss).
        coords: `(N, d)` coordinates.
        jacobian: Compute the Jacobian.
        laplacian: Compute the Laplacian over `axes`.
        hessian: Compute the Hessian.
        axes: The axes the Laplacian sums over; `None` is all of them.

    Returns:
        The value and what was asked for.
    """
    points, dims = coords.shape
    axes = tuple(range(dims)) if axes is None else axes
    groups, hessian_pairs = _second_order_groups(dims, laplacian, hessian, axes)
    first_order = jacobian or bool(groups)
    order = 2 if groups else 1 if first_order else 0

    stack: torch.Tensor | None = None  # (1 + d + k, N, n): value, Jacobian columns, second-order
    for index, layer in enumerate(model.layers):
        if index == 0:
            pre = first_layer(layer, coords)  # (N, n)
            jac_z = layer.weight.T[:, None, :]  # (d, 1, n): the same for every point
            second_z = None
        else:
            assert stack is not None  # set by the first layer
            mixed = stack @ layer.weight.T  # (1 + d + k, N, n), one matrix product for all streams
            pre = mixed[0] + layer.bias
            jac_z = mixed[1 : 1 + dims]
            second_z = mixed[1 + dims :]
        activation = model.activate(index, pre, order)
        if not first_order:
            stack = activation.value[None]
            continue
        slope = activation.first  # (N, n)
        assert slope is not None
        streams = [activation.value[None], slope * jac_z]
        if groups:
            assert activation.second is not None
            quadratic = torch.stack(
                [tensor_sum(jac_z[i] * jac_z[j] for i, j in group) for group in groups]
            )  # (k, ·, n)
            curvature = activation.second * quadratic
            streams.append(curvature if second_z is None else slope * second_z + curvature)
        stack = torch.cat([s.expand(-1, points, -1) for s in streams])
    assert stack is not None
    output = stack @ model.output.weight.T  # (1 + d + k, N, m)
    result = Derivatives(value=output[0] + model.output.bias)
    if not first_order:
        return result
    jac = output[1 : 1 + dims].permute(1, 2, 0)  # (N, m, d)
    if jacobian:
        result.jacobian = jac
    second = output[1 + dims :]  # (k, N, m)
    if hessian:
        full = coords.new_zeros((points, output.shape[-1], dims, dims))
        for stream, (i, j) in zip(second, hessian_pairs):
            full[:, :, i, j] = stream
            full[:, :, j, i] = stream
        result.hessian = full
        if laplacian:
            result.laplacian = tensor_sum(full[:, :, i, i] for i in axes)
    elif laplacian:
        result.laplacian = second[0]
    return result


def tensor_sum(terms: Iterable[torch.Tensor]) -> torch.Tensor:
    """The sum of one or more tensors (`sum` would start from the integer 0)."""
    return functools.reduce(operator.add, terms)


def closed_form_derivatives(model: nn.Module, coords: torch.Tensor, *, jacobian: bool, laplacian: bool,
                            hessian: bool, axes: tuple[int, ...], method: str) -> Derivatives:
    """The engine of SIREN and of every `ClosedFormNetwork`. Second derivatives: forward
    propagation. The Jacobian alone: the adjoint pass costs one extra pass per output, forward
    propagation one extra stream per input, so `auto` takes the adjoint where outputs ≤ inputs
    and forward where there are more outputs (a colour image's 3 over 2 coordinates at 16,384
    points on the 2-core CPU: 0.73 s against 0.93 s per eager step; compiled, 0.671 against
    0.686 s in float32 and 0.301 against 0.317 s in bfloat16, a gradient-fusion step with its
    line integrals)."""
    network = cast(ClosedFormNetwork, model)  # the family's engine is only asked about its own networks
    if method == "adjoint" and (laplacian or hessian):
        raise ValueError("the adjoint method gives the Jacobian only; use forward for second derivatives")
    if method == "auto":
        more_outputs = network.output.out_features > coords.shape[1]
        method = "forward" if laplacian or hessian or more_outputs else "adjoint"
    if method == "adjoint":
        return adjoint_derivatives(network, coords, jacobian=jacobian)
    return forward_derivatives(network, coords, jacobian=jacobian, laplacian=laplacian, hessian=hessian, axes=axes)


SIREN = register_family(NetworkFamily(
    "siren", build=Siren, summary="sine activations sin(ω0 (W x + b)) with SIREN's initialisation",
    derivatives=closed_form_derivatives, methods=("forward", "adjoint"), frequency="first_omega",
    settings=("weight_scale",), config_fields=("first_omega", "hidden_omega", "weight_scale", "axis_scales"),
    parameter_count=mlp_parameter_count,
))
