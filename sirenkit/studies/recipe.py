"""The default recipe for a problem of the user's own: what [`solve`][sirenkit.solve] fits when it is
given a problem and no network.

The recipe reads the problem (the dimension and extent of its points) and chooses:

- the network: a SIREN of three hidden layers of 64, `ω0 = OMEGA` on coordinates as if each axis of
  the domain spanned [−1, 1] (`NetworkConfig.axis_scales`: the first layer's weights are scaled
  by `2 / extent` axis by axis, so that a long time axis does not start out as oscillatory as a
  short space axis);
- the weights of the loss terms: balanced by their gradients (`TrainConfig.balance`);
- the training: Adam on a cosine schedule for `1 − LBFGS_SHARE` of the time budget, then L-BFGS
  for the rest.

Each choice is said in [`Recipe.choices`][sirenkit.Recipe.choices], which `solve` logs and the
command line prints. The figures behind the choices are on the documentation's "Differential
equations" benchmark page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from sirenkit.engine.config import TrainConfig
from sirenkit.networks.config import NetworkConfig
from sirenkit.problems.constraints import Problem
from sirenkit.problems.geometry import Geometry

logger = logging.getLogger("sirenkit")

OMEGA = 10.0
"""ω0 of the first layer, on coordinates scaled to [−1, 1] along each axis."""
WIDTH, DEPTH = 64, 3
"""Hidden features and hidden layers of the recipe's SIREN."""
LEARNING_RATE = 1e-3
"""Adam's peak rate."""
LBFGS_SHARE = 0.2
"""Share of the time budget the L-BFGS phase takes."""
TIME_BUDGET = 300.0
"""Seconds of fitting when the caller gives none."""


@dataclass(frozen=True)
class Recipe:
    """How to fit a problem: the network, its initialisation and the training, and why."""

    network: NetworkConfig
    """The network to build."""
    train: TrainConfig
    """The training."""
    choices: tuple[str, ...]
    """What the recipe chose and why, one line each."""

    def say(self, *, network_only: bool = False) -> list[str]:
        """Log the choices (the command line prints the library's log), and return them.

        Args:
            network_only: Only the network's line, for a fit whose training is the caller's.

        Returns:
            The lines logged.
        """
        lines = [line for line in self.choices if not network_only or line.startswith("network:")]
        for line in lines:
            logger.info("recipe: %s", line)
        return lines


def extent(problem: Problem) -> tuple[torch.Tensor, torch.Tensor]:
    """The lowest and highest coordinate along each axis: the bounding boxes of the domains'
    geometries, and a draw of every other domain's points."""
    generator = torch.Generator().manual_seed(0)
    lows, highs = [], []
    for domain in problem.domains.values():
        geometry = getattr(getattr(domain, "domain", domain), "geometry", None)  # an Adaptive domain's own
        if isinstance(geometry, Geometry):
            low, high = geometry.bounds
        else:
            points = domain.sample(generator)[0].detach().double()
            low, high = points.min(dim=0).values, points.max(dim=0).values
        lows.append(low.double().cpu())
        highs.append(high.double().cpu())
    return torch.stack(lows).min(dim=0).values, torch.stack(highs).max(dim=0).values


def default_recipe(problem: Problem, *, outputs: int = 1, time_budget: float | None = None,
                   seed: int = 0) -> Recipe:
    """The recipe sirenkit fits a problem with when it is given no network (module docstring).

    Args:
        problem: The problem.
        outputs: Number of fields the network gives (the columns of `f.value`).
        time_budget: Seconds of fitting, the L-BFGS phase included; `None`: `TIME_BUDGET`.
        seed: Seed of the weights and the points.

    Returns:
        The recipe.

    Raises:
        ValueError: `outputs` below 1, or a time budget that is not a positive number.
    """
    if outputs < 1:
        raise ValueError(f"outputs must be at least 1, got {outputs}")
    budget = TIME_BUDGET if time_budget is None else time_budget
    if not (isinstance(budget, (int, float)) and budget > 0 and budget < float("inf")):
        raise ValueError(f"the time budget must be a positive number of seconds, got {time_budget}")
    low, high = extent(problem)
    spans = (high - low).clamp(min=1e-6)
    dims = low.numel()
    scales = tuple(float(2 / span) for span in spans)
    network = NetworkConfig(in_features=dims, out_features=outputs, hidden_features=WIDTH, hidden_layers=DEPTH,
                            first_omega=OMEGA, axis_scales=scales)
    span_text = " × ".join(f"[{a:.3g}, {b:.3g}]" for a, b in zip(low.tolist(), high.tolist()))
    adam = budget * (1 - LBFGS_SHARE)
    train = TrainConfig(steps=10**9, time_budget=adam, learning_rate=LEARNING_RATE, balance="gradients",
                        lbfgs_steps=10**9, lbfgs_time=budget - adam, seed=seed)
    choices = (f"network: SIREN, {DEPTH} hidden layers of {WIDTH}, ω0 = {OMEGA:g} on the domain {span_text} "
               "scaled to [-1, 1] along each axis",
               f"loss terms: balanced by their gradients every {train.balance_every} steps",
               f"training: {budget:g} s, Adam at {LEARNING_RATE:g} on a cosine schedule for {adam:g} s, "
               f"then L-BFGS for {budget - adam:g} s")
    return Recipe(network=network, train=train, choices=choices)
