"""Causal weighting (`causal`): slice k's squared residual weighed by exp(−ε Σ_{j<k} L_j), the weights
constant in the gradient, checked on residuals whose slice losses are known."""

from __future__ import annotations

import math

import pytest
import torch

import sirenkit as sk
from sirenkit.networks.derivatives import Derivatives


def fields_at(times: torch.Tensor, residual_values: torch.Tensor) -> sk.Fields:
    points = torch.stack([times, torch.zeros_like(times)], dim=1)
    return sk.Fields(points, {"r": residual_values}, Derivatives(value=residual_values[:, None]))


def test_each_slice_is_weighed_by_the_losses_before_it():
    times = (torch.arange(400) + 0.5) / 400  # 100 points in each of 4 slices of [0, 1]
    level = torch.tensor([0.5, 1.0, 0.0, 2.0]).repeat_interleave(100)  # slice losses L = 0.25, 1, 0, 4
    weighted = sk.causal(lambda f: f.data["r"], 0.0, 1.0, slices=4, epsilon=2.0)(fields_at(times, level))
    losses = [0.25, 1.0, 0.0, 4.0]
    weights = [math.exp(-2.0 * sum(losses[:k])) for k in range(4)]
    expected = sum(w * loss for w, loss in zip(weights, losses)) / 4
    assert float(weighted.square().mean()) == pytest.approx(expected, rel=1e-6)
    assert float(level.square().mean()) != pytest.approx(expected, rel=1e-2)  # the weights change the loss
    unweighted = sk.causal(lambda f: f.data["r"], 0.0, 1.0, slices=4, epsilon=0.0)(fields_at(times, level))
    assert torch.allclose(unweighted, level)  # ε = 0: the plain residual


def test_the_weights_are_constants_in_the_gradient():
    times = torch.rand(64, generator=torch.Generator().manual_seed(0))
    level = torch.rand(64, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    wrapped = sk.causal(lambda f: f.data["r"], 0.0, 1.0, slices=8, epsilon=1.0)
    wrapped(fields_at(times, level)).square().mean().backward()
    index = (times * 8).long()
    losses = torch.zeros(8).index_add_(0, index, level.detach().square()) / torch.zeros(8).index_add_(
        0, index, torch.ones(64)).clamp(min=1)
    weights = torch.exp(-(torch.cumsum(losses, 0) - losses))[index]
    assert torch.allclose(level.grad, 2 * weights * level.detach() / 64, atol=1e-7)


@pytest.mark.parametrize("arguments, message", [
    ((1.0, 1.0), "end after start"),
    ((0.0, 1.0, {"slices": 0}), "slices must be at least 1"),
    ((0.0, 1.0, {"epsilon": -1.0}), "epsilon must be 0 or more"),
])
def test_bad_settings_are_refused(arguments, message):
    start, end, *options = arguments
    with pytest.raises(ValueError, match=message):
        sk.causal(lambda f: f.value, start, end, **(options[0] if options else {}))
