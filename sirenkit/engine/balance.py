"""Balancing the loss terms by their gradients (`TrainConfig.balance = "gradients"`).

Every `TrainConfig.balance_every` steps the fit measures the norm of each term's gradient with
respect to the weights, ‖∇θ L_i‖, and sets the term's balance factor to

    b_i = mean_j ‖∇θ L_j‖ / ‖∇θ L_i‖

(the terms `L_i` without the weights the constraints state), so that the terms pull on the network
with equal strength; a term's stated weight then multiplies its balanced one, so that weights still
say which term matters more. The factors move as a running average, `b ← α b + (1 − α) b̂` with
`α = MOMENTUM`, from the first measurement on: the gradient-norm weighting of Wang, Teng and
Perdikaris ("Understanding and mitigating gradient pathologies in physics-informed neural
networks", 2021) in the form jaxpi uses. Between measurements a step costs what it did.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

MOMENTUM = 0.9
"""Weight of the previous factors in the running average."""


class Balance:
    """The balance factors of a problem's terms, and how they are measured.

    Args:
        weights: Each term's stated weight, by name.
        every: Steps between measurements.
    """

    def __init__(self, weights: Mapping[str, float], every: int) -> None:
        self.stated = dict(weights)
        self.every = every
        self.factors = {name: 1.0 for name in weights}
        self.measured = False

    def due(self, step: int) -> bool:
        """Whether step `step` (from 0) measures the gradients."""
        return step % self.every == 0

    def measure(self, terms: Mapping[str, torch.Tensor], parameters: Iterable[torch.Tensor]) -> None:
        """Update the factors from the gradients of this step's `terms` (each weighted as stated;
        their graph is kept for the step's own backward pass)."""
        parameters = [p for p in parameters if p.requires_grad]
        norms = {}
        for name, term in terms.items():
            weight = self.stated.get(name, 1.0)
            if weight == 0 or not term.requires_grad:
                continue
            grads = torch.autograd.grad(term, parameters, retain_graph=True, allow_unused=True)
            norm = math.sqrt(sum(float(g.detach().double().pow(2).sum()) for g in grads if g is not None))
            if math.isfinite(norm) and norm > 0:
                norms[name] = norm / abs(weight)
        if not norms:
            return
        mean = sum(norms.values()) / len(norms)
        for name, norm in norms.items():
            target = mean / norm
            if self.measured:
                target = MOMENTUM * self.factors[name] + (1 - MOMENTUM) * target
            self.factors[name] = target
        self.measured = True

    def times(self, factors: Mapping[str, float]) -> dict[str, float]:
        """The factors of a step: the schedule's `factors` times the balance."""
        return {name: factors.get(name, 1.0) * self.factors[name] for name in self.factors}

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps."""
        return {"factors": dict(self.factors), "measured": self.measured}

    def load(self, state: Any, path: Path) -> None:
        """Take the factors a checkpoint kept, refusing ones that are not this problem's."""
        factors = state.get("factors") if isinstance(state, dict) else None
        if not isinstance(factors, dict) or set(factors) != set(self.factors) or not all(
                isinstance(value, (int, float)) and math.isfinite(value) and value > 0 for value in factors.values()):
            raise ValueError(f"{path}: its balance factors are not the problem's terms ({', '.join(self.factors)}) "
                             "as positive numbers; start afresh with --overwrite")
        self.factors = {name: float(value) for name, value in factors.items()}
        self.measured = bool(state.get("measured", True))
