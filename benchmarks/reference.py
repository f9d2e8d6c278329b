"""The paper's recipe, written plainly: the reference every benchmark compares sirenkit with.

This is what the authors' code does (``explore_siren.ipynb``, ``modules.py``, ``diff_operators.py``),
reduced to its essentials and kept independent of sirenkit on purpose: eager PyTorch, a ``SineLayer``
module per layer, derivatives by nested reverse-mode autograd (``create_graph=True``), Adam at 1e-4,
every pixel every step. Only the weights may come from a sirenkit network, so that both start from
the same point.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SineLayer(nn.Module):
    """``sin(ω0 (W x + b))`` with the paper's initialisation."""

    def __init__(self, in_features: int, out_features: int, *, is_first: bool, omega: float = 30.0) -> None:
        super().__init__()
        self.omega = omega
        self.linear = nn.Linear(in_features, out_features)
        bound = 1 / in_features if is_first else math.sqrt(6 / in_features) / omega
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.omega * self.linear(x))


class PaperSiren(nn.Module):
    """The paper's network: ``sine_layers`` sine layers of ``width``, then a linear output."""

    def __init__(self, in_features: int, out_features: int, *, width: int = 256, sine_layers: int = 4,
                 omega: float = 30.0) -> None:
        super().__init__()
        layers: list[nn.Module] = [SineLayer(in_features, width, is_first=True, omega=omega)]
        layers += [SineLayer(width, width, is_first=False, omega=omega) for _ in range(sine_layers - 1)]
        final = nn.Linear(width, out_features)
        bound = math.sqrt(6 / width) / omega
        with torch.no_grad():
            final.weight.uniform_(-bound, bound)
        self.net = nn.Sequential(*layers, final)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return self.net(coords)

    def copy_weights_from(self, siren: nn.Module) -> PaperSiren:
        """Take the weights of a sirenkit ``Siren`` of the same shape (its ``layers`` and ``output``)."""
        linears = [m.linear for m in self.net[:-1]] + [self.net[-1]]
        with torch.no_grad():
            for mine, theirs in zip(linears, list(siren.layers) + [siren.output]):
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)
        return self


def gradient(outputs: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """``∇ outputs`` with respect to ``inputs``, kept differentiable: ``(N, 1)`` → ``(N, d)``."""
    return torch.autograd.grad(outputs, [inputs], grad_outputs=torch.ones_like(outputs), create_graph=True)[0]


def laplacian(outputs: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """``Δ outputs`` as the divergence of the gradient, one autograd pass per axis: ``(N, 1)``."""
    grad = gradient(outputs, inputs)
    total = torch.zeros_like(outputs)
    for axis in range(inputs.shape[-1]):
        total = total + gradient(grad[..., axis : axis + 1], inputs)[..., axis : axis + 1]
    return total


def image_loss(model: nn.Module, coords: torch.Tensor, target: torch.Tensor, source: str) -> torch.Tensor:
    """Mean squared error on the value, the gradient or the Laplacian (the paper's Poisson losses)."""
    coords = coords.detach().requires_grad_(True)
    value = model(coords)
    if source == "value":
        predicted = value
    elif source == "gradient":
        predicted = gradient(value, coords)
    else:
        predicted = laplacian(value, coords)
    return (predicted - target).square().mean()


def sdf_loss(model: nn.Module, surface: torch.Tensor, normals: torch.Tensor, free: torch.Tensor) -> torch.Tensor:
    """The paper's SDF loss (DESIGN.md §4): ``3e3 |Φ|`` on the surface, ``1e2 exp(-100 |Φ|)`` off it,
    ``1e2 (1 − cos(∇Φ, n))`` on the surface and ``5e1 |‖∇Φ‖ − 1|`` everywhere."""
    coords = torch.cat([surface, free]).detach().requires_grad_(True)
    value = model(coords)
    grad = gradient(value, coords)
    on, off = value[: len(surface)], value[len(surface) :]
    grad_on = grad[: len(surface)]
    return (3e3 * on.abs().mean() + 1e2 * torch.exp(-1e2 * off.abs()).mean()
            + 1e2 * (1 - nn.functional.cosine_similarity(grad_on, normals, dim=-1)).mean()
            + 5e1 * (grad.norm(dim=-1) - 1).abs().mean())
