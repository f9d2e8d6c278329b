"""Derivatives of a network with respect to its input coordinates.

For a :class:`~sirenkit.network.Siren` the derivatives are pushed forward through the layers in
closed form (DESIGN.md §2). With ``z = W h + b``, ``s = sin(ω0 z)``, ``c = cos(ω0 z)``, every point
carries its value ``h``, the Jacobian columns ``J_i = ∂h/∂x_i`` and one stream per requested
second-order quantity ``S = Σ_(i,j) ∂²h/∂x_i∂x_j``:

    z-side:  J_z = W J,   S_z = W S                      (first layer: J_z = W e_i, S_z = 0)
    h-side:  J_h = ω0 c ⊙ J_z
             S_h = ω0 c ⊙ S_z − ω0² s ⊙ Σ_(i,j) J_z,i ⊙ J_z,j

The value, Jacobian and second-order streams share each weight matrix and are stacked into one
matrix product per layer; reverse-mode autograd through this forward pass gives the weight
gradients in one backward pass. Only what is asked for is computed.

When only the Jacobian is asked for, the adjoint (reverse) pass is written out instead: after the
forward pass, ``g_L = W_out ⊙ ω0 c_L`` and ``g_(l−1) = (g_l W_l) ⊙ ω0 c_(l−1)``, then
``∇y = g_1 W_1``: one extra matrix product per layer and output, whatever the dimension ``d``,
against ``d`` extra streams forward. It is ordinary tensor code, so the weight gradient is one
backward pass through it, and ``torch.compile`` fuses it like any other step.

Every other network goes through nested autograd (:func:`autograd_derivatives`), which is also
the float64 reference the fast path is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from .network import Siren, first_layer


@dataclass
class Derivatives:
    """A network's value and the derivatives that were asked for, at ``N`` points.

    ``d`` is the coordinate dimension, ``m`` the number of outputs.
    """

    value: torch.Tensor
    """``(N, m)``"""
    jacobian: torch.Tensor | None = None
    """``(N, m, d)``: ``jacobian[n, k, i] = ∂y_k/∂x_i``."""
    laplacian: torch.Tensor | None = None
    """``(N, m)``: ``Σ_i ∂²y_k/∂x_i²`` over the requested axes (all by default)."""
    hessian: torch.Tensor | None = None
    """``(N, m, d, d)``, symmetric."""

    @property
    def gradient(self) -> torch.Tensor:
        """``(N, d)`` gradient of a single-output network."""
        if self.jacobian is None:
            raise ValueError("the gradient was not computed; ask for jacobian=True")
        if self.jacobian.shape[1] != 1:
            raise ValueError(f"gradient needs a single output, the network has {self.jacobian.shape[1]}")
        return self.jacobian[:, 0, :]

    def divergence(self) -> torch.Tensor:
        """``(N,)`` divergence ``Σ_i ∂y_i/∂x_i`` of a vector field with as many outputs as inputs."""
        if self.jacobian is None:
            raise ValueError("the divergence needs the Jacobian; ask for jacobian=True")
        outputs, dims = self.jacobian.shape[1:]
        if outputs != dims:
            raise ValueError(f"divergence needs as many outputs as inputs, got {outputs} and {dims}")
        return torch.diagonal(self.jacobian, dim1=1, dim2=2).sum(-1)


def derivatives(
    model: nn.Module,
    coords: torch.Tensor,
    *,
    jacobian: bool = False,
    laplacian: bool = False,
    hessian: bool = False,
    laplacian_axes: Sequence[int] | None = None,
    method: str = "auto",
) -> Derivatives:
    """The value of ``model`` at ``coords: (N, d)`` and the derivatives asked for.

    ``method`` is ``auto`` (closed form for a SIREN: the adjoint pass for the Jacobian alone,
    forward propagation when second derivatives are asked for; autograd for other networks),
    ``adjoint`` (SIREN, Jacobian only), ``forward`` (SIREN only) or ``autograd``. Under ``torch.no_grad`` the results carry no graph;
    otherwise they are differentiable with respect to the weights.
    """
    if coords.ndim != 2:
        raise ValueError(f"expected (N, d) coordinates, got shape {tuple(coords.shape)}")
    dims = coords.shape[1]
    axes = tuple(range(dims)) if laplacian_axes is None else tuple(sorted(set(laplacian_axes)))
    if any(not 0 <= axis < dims for axis in axes) or not axes:
        raise ValueError(f"laplacian_axes must be a non-empty subset of 0..{dims - 1}, got {axes}")
    if method not in ("auto", "adjoint", "forward", "autograd"):
        raise ValueError(f"unknown method {method!r}; expected auto, adjoint, forward or autograd")
    if method in ("forward", "adjoint") and not isinstance(model, Siren):
        raise ValueError(f"{method} derivatives need a Siren, got {type(model).__name__}")
    if method == "adjoint" and (laplacian or hessian):
        raise ValueError("the adjoint method gives the Jacobian only; use forward for second derivatives")
    if method == "auto":
        method = "autograd" if not isinstance(model, Siren) else "forward" if laplacian or hessian else "adjoint"
    if method == "adjoint":
        return adjoint_derivatives(model, coords, jacobian=jacobian)
    compute = forward_derivatives if method == "forward" else autograd_derivatives
    return compute(model, coords, jacobian=jacobian, laplacian=laplacian, hessian=hessian, axes=axes)


def adjoint_derivatives(model: Siren, coords: torch.Tensor, *, jacobian: bool = True) -> Derivatives:
    """Value and Jacobian of a SIREN by its written-out adjoint pass (see module docstring)."""
    hidden, cosines = coords, []
    for index, (omega, layer) in enumerate(zip(model.omegas(), model.layers)):
        phase = omega * (first_layer(layer, hidden) if index == 0 else layer(hidden))
        hidden = torch.sin(phase)
        if jacobian:
            cosines.append(omega * torch.cos(phase))  # (N, n)
    value = model.output(hidden)
    if not jacobian:
        return Derivatives(value=value)
    adjoint = cosines[-1][None] * model.output.weight[:, None, :]  # (m, N, n): ∂y_k/∂z_L
    for layer, cosine in zip(reversed(model.layers[1:]), reversed(cosines[:-1])):
        adjoint = (adjoint @ layer.weight) * cosine  # ∂y_k/∂z_(l-1)
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
    model: Siren,
    coords: torch.Tensor,
    *,
    jacobian: bool = False,
    laplacian: bool = False,
    hessian: bool = False,
    axes: tuple[int, ...] | None = None,
) -> Derivatives:
    """Closed-form forward propagation of derivatives through a SIREN (see module docstring)."""
    points, dims = coords.shape
    axes = tuple(range(dims)) if axes is None else axes
    groups, hessian_pairs = _second_order_groups(dims, laplacian, hessian, axes)
    first_order = jacobian or bool(groups)

    stack: torch.Tensor | None = None  # (1 + d + k, N, n): value, Jacobian columns, second-order
    for index, (omega, layer) in enumerate(zip(model.omegas(), model.layers)):
        if index == 0:
            pre = first_layer(layer, coords)  # (N, n)
            jac_z = layer.weight.T[:, None, :]  # (d, 1, n): the same for every point
            second_z = None
        else:
            mixed = stack @ layer.weight.T  # (1 + d + k, N, n), one matrix product for all streams
            pre = mixed[0] + layer.bias
            jac_z = mixed[1 : 1 + dims]
            second_z = mixed[1 + dims :]
        phase = omega * pre
        sine = torch.sin(phase)
        if not first_order:
            stack = sine[None]
            continue
        cosine_term = omega * torch.cos(phase)  # (N, n)
        streams = [sine[None], cosine_term * jac_z]
        if groups:
            sine_term = (omega * omega) * sine
            quadratic = torch.stack(
                [sum(jac_z[i] * jac_z[j] for i, j in group) for group in groups]
            )  # (k, ·, n)
            curvature = -sine_term * quadratic
            streams.append(curvature if second_z is None else cosine_term * second_z + curvature)
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
            result.laplacian = sum(full[:, :, i, i] for i in axes)
    elif laplacian:
        result.laplacian = second[0]
    return result


def autograd_derivatives(
    model: nn.Module,
    coords: torch.Tensor,
    *,
    jacobian: bool = False,
    laplacian: bool = False,
    hessian: bool = False,
    axes: tuple[int, ...] | None = None,
) -> Derivatives:
    """Derivatives by nested reverse-mode autograd: any network, and the reference in float64."""
    dims = coords.shape[1]
    axes = tuple(range(dims)) if axes is None else axes
    keep_graph = torch.is_grad_enabled()
    if not (jacobian or laplacian or hessian):
        return Derivatives(value=model(coords))
    with torch.enable_grad():
        inputs = coords if coords.requires_grad else coords.detach().requires_grad_(True)
        value = model(inputs)
        outputs = value.shape[1]
        columns = [
            torch.autograd.grad(value[:, k].sum(), inputs, create_graph=True)[0] for k in range(outputs)
        ]
        jac = torch.stack(columns, dim=1)  # (N, m, d)
        result = Derivatives(value=value, jacobian=jac if jacobian else None)
        if hessian or laplacian:
            rows_wanted = range(dims) if hessian else axes
            hess = {}
            for k in range(outputs):
                for i in rows_wanted:
                    row = torch.autograd.grad(
                        jac[:, k, i].sum(), inputs, create_graph=keep_graph, retain_graph=True,
                        allow_unused=True,
                    )[0]
                    hess[k, i] = torch.zeros_like(inputs) if row is None else row  # (N, d)
            if laplacian:
                result.laplacian = torch.stack(
                    [sum(hess[k, i][:, i] for i in axes) for k in range(outputs)], dim=1
                )
            if hessian:
                result.hessian = torch.stack(
                    [torch.stack([hess[k, i] for i in range(dims)], dim=1) for k in range(outputs)], dim=1
                )
    if not keep_graph:
        result = Derivatives(
            *(None if t is None else t.detach() for t in (result.value, result.jacobian, result.laplacian, result.hessian))
        )
    return result
