"""Residual-based adaptive sampling: points drawn where the equation is least satisfied.

`Adaptive(domain)` draws its points from a pool of candidates of the domain beneath it, each with
a probability that grows with the residual there. Every `every` steps the fit
([`Problem.adapt`][sirenkit.Problem.adapt]) draws a fresh pool of `pool × batch_size` candidates
and weighs them as RAR-D does (Wu et al. 2023, "A comprehensive study of non-adaptive and
residual-based adaptive sampling for physics-informed neural networks"):

    p(x) ∝ |r(x)|^k / mean |r|^k + c

with `k = power` (1) and `c = floor` (1): half of the points, on average, follow the residual, the
rest stay uniform, so no region is ever left out. `|r(x)|` is the mean absolute residual of the
constraints on the domain at `x`, each times its weight. Until the first refresh, and on a resumed
run until the next one, the points are the domain's own.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch

from sirenkit.problems.domains import Domain, points_per_step


class Adaptive:
    """Points drawn from a domain in proportion to the residual there (RAR-D), refreshed every `every` steps.

    Args:
        domain: The domain beneath (an [`Interior`][sirenkit.Interior], a [`Box`][sirenkit.Box], ...).
        batch_size: Points per step; `None`: the domain's own.
        pool: Candidates drawn at each refresh, as a multiple of `batch_size`.
        every: Steps between refreshes.
        power: `k`, the exponent of the residual.
        floor: `c`, the uniform share added to the normalised residual.

    Raises:
        ValueError: A batch size, pool or period below 1, or a negative power or floor.

    Example:
        ```python
        from sirenkit import Adaptive, Constraint, Interior, Rectangle

        inside = Adaptive(Interior(Rectangle([-1, 0], [1, 1]), 2048), every=200)
        ```
    """

    def __init__(self, domain: Domain, *, batch_size: int | None = None, pool: int = 8, every: int = 100,
                 power: float = 1.0, floor: float = 1.0) -> None:
        self.base = domain
        self.batch_size = points_per_step(domain) if batch_size is None else batch_size
        for name, value in (("batch_size", self.batch_size), ("pool", pool), ("every", every)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if not (power >= 0 and floor >= 0 and math.isfinite(power) and math.isfinite(floor)):
            raise ValueError(f"power and floor must be finite and 0 or more, got {power} and {floor}")
        self.pool, self.every, self.power, self.floor = pool, every, power, floor
        self.candidates: tuple[torch.Tensor, dict[str, torch.Tensor]] | None = None
        self.probabilities: torch.Tensor | None = None

    @property
    def size(self) -> int:
        return self.batch_size

    def to(self, device: torch.device) -> Adaptive:
        """A copy over the domain moved to `device` (its pool is drawn again at the next refresh)."""
        moved = copy.copy(self)
        moved.base = self.base.to(device)
        moved.candidates = moved.probabilities = None
        return moved

    def _draw(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """`count` points of the domain beneath, from as many of its draws as that takes."""
        drawn = [self.base.sample(generator)]
        while sum(points.shape[0] for points, _ in drawn) < count:
            drawn.append(self.base.sample(generator))
        points = torch.cat([points for points, _ in drawn])[:count]
        data = {name: torch.cat([values[name] for _, values in drawn])[:count] for name in drawn[0][1]}
        return points, data

    def refresh(self, residual: Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor],
                generator: torch.Generator) -> None:
        """Draw a new pool of candidates and weigh them by `residual(points, data)`, `(P,)` magnitudes.

        Args:
            residual: The magnitude of the residual at each candidate.
            generator: The random stream, on the CPU.
        """
        points, data = self._draw(self.pool * self.batch_size, generator)
        magnitude = residual(points, data).detach().double().cpu()
        scaled = magnitude.pow(self.power)
        weights = scaled / scaled.mean().clamp(min=1e-300) + self.floor
        if not bool(torch.isfinite(weights).all()) or float(weights.sum()) <= 0:
            weights = torch.ones_like(weights)  # a residual of NaN or all zeros: stay uniform
        self.candidates, self.probabilities = (points, data), weights / weights.sum()

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Draw one step's points: from the pool by residual once refreshed, the domain's own before.

        Args:
            generator: The random stream, on the CPU.

        Returns:
            `(points, data)`.
        """
        if self.candidates is None or self.probabilities is None:
            return self._draw(self.batch_size, generator)
        index = torch.multinomial(self.probabilities, self.batch_size, replacement=True, generator=generator)
        points, data = self.candidates
        index = index.to(points.device)
        return points[index], {name: values[index] for name, values in data.items()}
