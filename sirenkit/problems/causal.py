"""Causal weighting of an evolution equation's residual (Wang, Sankaran and Perdikaris, "Respecting
causality for training physics-informed neural networks", 2024).

A network fitted to `u_t = F(u)` over `[t0, t1]` at once can settle on a solution of the equation
that ignores the initial condition at late times, before the early times are right. Causal
weighting splits the time interval into `slices` and weighs slice `k`'s squared residual by

    w_k = exp(−ε Σ_{j<k} L_j),

`L_j` the mean squared residual of slice `j` (taken as a constant in the gradient): a late slice
counts only once the earlier ones are fitted. `causal(residual, t0, t1)` wraps a residual so that
the mean of its square (the `mse` norm) is `Σ_k (n_k / N) w_k L_k`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sirenkit.problems.constraints import Fields


def causal(residual: Callable[[Fields], torch.Tensor], start: float, end: float, *, slices: int = 32,
           epsilon: float = 1.0, axis: int = 0) -> Callable[[Fields], torch.Tensor]:
    """A residual weighted by causality: slice `k` of `[start, end]` by `exp(−ε Σ_{j<k} L_j)`.

    Args:
        residual: The equation's residual, one row per point.
        start: The first instant.
        end: The last instant, after `start`.
        slices: Slices of the time interval.
        epsilon: `ε`: how strongly an unfitted earlier slice holds later ones back.
        axis: The time coordinate (0 in a [`SpaceTime`][sirenkit.SpaceTime]).

    Returns:
        The weighted residual, for a [`Constraint`][sirenkit.Constraint] with the `mse` norm.

    Raises:
        ValueError: `end` not after `start`, fewer than one slice, or a negative `epsilon`.

    Example:
        ```python
        from sirenkit import Constraint, Interior, Interval, SpaceTime, causal

        heat = lambda f: f.derivative(0) - 0.1 * f.second_derivative(1)
        domain = SpaceTime(Interval(-1, 1), 0.0, 1.0)
        equation = Constraint("heat", causal(heat, 0.0, 1.0), Interior(domain, 4096), needs=("hessian",))
        ```
    """
    if not end > start:
        raise ValueError(f"causal weighting needs end after start, got {start} and {end}")
    if slices < 1:
        raise ValueError(f"slices must be at least 1, got {slices}")
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be 0 or more, got {epsilon}")

    def weighted(fields: Fields) -> torch.Tensor:
        values = residual(fields)
        rows = values.reshape(values.shape[0], -1)
        position = (fields.points[:, axis].detach() - start) / (end - start) * slices
        index = position.long().clamp(0, slices - 1)  # (N,): each point's slice
        squared = rows.detach().float().square().mean(dim=1)
        totals = torch.zeros(slices, device=squared.device).index_add_(0, index, squared)
        counts = torch.zeros(slices, device=squared.device).index_add_(0, index, torch.ones_like(squared))
        losses = totals / counts.clamp(min=1)  # L_k
        weights = torch.exp(-epsilon * (torch.cumsum(losses, dim=0) - losses))  # exp(−ε Σ_{j<k} L_j)
        scale = weights[index].sqrt().to(values.dtype)
        return values * scale.reshape(-1, *([1] * (values.ndim - 1)))

    return weighted
