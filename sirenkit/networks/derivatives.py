"""Derivatives of a network with respect to its input coordinates.

Each network family (`sirenkit.networks.family`) says how its derivatives are computed: SIREN's are
closed form (forward and adjoint passes, `sirenkit.networks.siren`); every
other network, a module of the user's own included, goes through nested autograd
([`autograd_derivatives`][sirenkit.autograd_derivatives]), which is also the float64 reference the fast
paths are tested against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Derivatives:
    """A network's value and the derivatives that were asked for, at `N` points.

    `d` is the coordinate dimension, `m` the number of outputs. What was not asked for is `None`.
    """

    value: torch.Tensor
    """`(N, m)`: the network's outputs."""
    jacobian: torch.Tensor | None = None
    """`(N, m, d)`: `jacobian[n, k, i] = ∂y_k/∂x_i`."""
    laplacian: torch.Tensor | None = None
    """`(N, m)`: `Σ_i ∂²y_k/∂x_i²` over the requested axes (all by default)."""
    hessian: torch.Tensor | None = None
    """`(N, m, d, d)`, symmetric."""

    @property
    def gradient(self) -> torch.Tensor:
        """`(N, d)` gradient of a single-output network.

        Raises:
            ValueError: The Jacobian was not computed, or the network has several outputs.
        """
        if self.jacobian is None:
            raise ValueError("the gradient was not computed; ask for jacobian=True")
        if self.jacobian.shape[1] != 1:
            raise ValueError(f"gradient needs a single output, the network has {self.jacobian.shape[1]}")
        return self.jacobian[:, 0, :]

    def divergence(self) -> torch.Tensor:
        """Divergence `Σ_i ∂y_i/∂x_i` of a vector field with as many outputs as inputs.

        Returns:
            `(N,)` divergences.

        Raises:
            ValueError: The Jacobian was not computed, or outputs and inputs differ in number.
        """
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
    """Compute the value of a network and the derivatives asked for, with respect to its inputs.

    Under `torch.no_grad` the results carry no graph; otherwise they are differentiable with
    respect to the weights (a loss on them trains the network).

    Args:
        model: Any network: a family's closed form is used where it has one, autograd otherwise.
        coords: `(N, d)` coordinates.
        jacobian: Compute the Jacobian `(N, m, d)`.
        laplacian: Compute the Laplacian `(N, m)`.
        hessian: Compute the Hessian `(N, m, d, d)`.
        laplacian_axes: The axes the Laplacian sums over (the spatial ones of a `(t, x, y)`
            input, say); `None` is all of them.
        method: `auto` (the family's closed form where it has one, autograd otherwise),
            `autograd`, or one of the family's own methods (SIREN: `forward`, and `adjoint` for
            the Jacobian alone).

    Returns:
        The value and what was asked for.

    Raises:
        ValueError: Coordinates not `(N, d)`, axes out of range, or a method the network's family
            does not have.

    Example:
        ```python
        import torch
        import sirenkit

        network = sirenkit.build_network(sirenkit.NetworkConfig(in_features=2, out_features=1))
        points = torch.rand(1024, 2) * 2 - 1
        fields = sirenkit.derivatives(network, points, jacobian=True, laplacian=True)
        fields.gradient.shape, fields.laplacian.shape  # (1024, 2), (1024, 1)
        ```
    """
    if coords.ndim != 2:
        raise ValueError(f"expected (N, d) coordinates, got shape {tuple(coords.shape)}")
    dims = coords.shape[1]
    axes = tuple(range(dims)) if laplacian_axes is None else tuple(sorted(set(laplacian_axes)))
    if any(not 0 <= axis < dims for axis in axes) or not axes:
        raise ValueError(f"laplacian_axes must be a non-empty subset of 0..{dims - 1}, got {axes}")
    if not (jacobian or laplacian or hessian) and method in ("auto", "autograd"):
        return Derivatives(value=model(coords))
    from sirenkit.networks.family import family_of

    family = family_of(model)
    engine = family.derivatives if family is not None else None
    methods = ("auto", "autograd", *(family.methods if family is not None and engine is not None else ()))
    if method not in methods:
        name = family.name if family is not None else type(model).__name__
        raise ValueError(f"method {method!r} is not available for a {name} network; expected one of "
                         f"{', '.join(methods)}")
    if engine is None or method == "autograd":
        return autograd_derivatives(model, coords, jacobian=jacobian, laplacian=laplacian, hessian=hessian,
                                    axes=axes)
    return engine(model, coords, jacobian=jacobian, laplacian=laplacian, hessian=hessian, axes=axes, method=method)


def autograd_derivatives(
    model: nn.Module,
    coords: torch.Tensor,
    *,
    jacobian: bool = False,
    laplacian: bool = False,
    hessian: bool = False,
    axes: tuple[int, ...] | None = None,
) -> Derivatives:
    """Compute derivatives by nested reverse-mode autograd: any network, and the reference in float64.

    Args:
        model: Any network.
        coords: `(N, d)` coordinates.
        jacobian: Compute the Jacobian.
        laplacian: Compute the Laplacian over `axes`.
        hessian: Compute the Hessian.
        axes: The axes the Laplacian sums over; `None` is all of them.

    Returns:
        The value and what was asked for; without a graph under `torch.no_grad`.
    """
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
                    [torch.stack([hess[k, i][:, i] for i in axes]).sum(0) for k in range(outputs)], dim=1
                )
            if hessian:
                result.hessian = torch.stack(
                    [torch.stack([hess[k, i] for i in range(dims)], dim=1) for k in range(outputs)], dim=1
                )
    if not keep_graph:
        result = Derivatives(
            value=result.value.detach(),
            **{name: None if tensor is None else tensor.detach()
               for name, tensor in (("jacobian", result.jacobian), ("laplacian", result.laplacian),
                                    ("hessian", result.hessian))},
        )
    return result
