"""Residual-based adaptive sampling (`Adaptive`, RAR-D): after a refresh the points follow the
residual in the proportion the rule says, before one they are the domain's own, a fit refreshes
them on its period, and bad settings are refused."""

from __future__ import annotations

import math

import pytest
import torch

import sirenkit as sk


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def network() -> torch.nn.Module:
    torch.manual_seed(0)
    return sk.build_network(sk.NetworkConfig(in_features=1, out_features=1, hidden_features=8, hidden_layers=2))


def distance_problem(**settings) -> tuple[sk.Problem, sk.Adaptive]:
    """A residual of |x| on [-1, 1], whatever the network: RAR-D draws with density ∝ |x|^k + c·mean|x|^k."""
    domain = sk.Adaptive(sk.Box([-1.0], [1.0], 256), **settings)
    return sk.Problem([sk.Constraint("distance", lambda f: f.points + 0 * f.value, domain)]), domain


def test_after_a_refresh_points_follow_the_residual_by_the_rule():
    problem, domain = distance_problem(pool=64, every=10, floor=0.0)
    before, _ = domain.sample(generator(1))
    assert float(before.abs().mean()) == pytest.approx(0.5, abs=0.05)  # the box's own: uniform
    problem.adapt(network(), 10, generator(2))
    drawn = torch.cat([domain.sample(generator(seed))[0] for seed in range(8)])
    assert float(drawn.abs().mean()) == pytest.approx(2 / 3, abs=0.02)  # density ∝ |x|: E|x| = 2/3
    # with the uniform share (c = 1): density ∝ |x| / ½ + 1 = 2|x| + 1, E|x| = 7/12
    problem, domain = distance_problem(pool=64, every=10)
    problem.adapt(network(), 10, generator(2))
    drawn = torch.cat([domain.sample(generator(seed))[0] for seed in range(8)])
    assert float(drawn.abs().mean()) == pytest.approx(7 / 12, abs=0.02)


def test_a_refresh_comes_only_on_its_period():
    problem, domain = distance_problem(every=5)
    problem.adapt(network(), 0, generator())
    problem.adapt(network(), 3, generator())
    assert domain.probabilities is None
    problem.adapt(network(), 5, generator())
    assert domain.probabilities is not None and domain.probabilities.shape == (8 * 256,)
    assert math.isclose(float(domain.probabilities.sum()), 1.0, rel_tol=1e-9)


def test_a_fit_with_an_adaptive_domain_refreshes_and_learns(monkeypatch):
    """u'' = −π² sin(πx), u(±1) = 0, the interior adaptive: the fit runs its refreshes and solves it."""
    refreshed = []
    original = sk.Adaptive.refresh
    monkeypatch.setattr(sk.Adaptive, "refresh", lambda self, *args: refreshed.append(1) or original(self, *args))
    inside = sk.Adaptive(sk.Interior(sk.Interval(-1, 1), 256), every=20)
    problem = sk.Problem([
        sk.Constraint("equation", lambda f: f.laplacian + math.pi**2 * torch.sin(math.pi * f.points), inside,
                      needs=("laplacian",)),
        sk.dirichlet(sk.Boundary(sk.Interval(-1, 1), 2), 0.0, name="ends", weight=10.0),
    ])
    config = sk.NetworkConfig(in_features=1, out_features=1, hidden_features=32, hidden_layers=3, first_omega=5.0)
    solved = sk.solve(problem, config, sk.TrainConfig(steps=300, seed=0, compile=False, threads=1), progress=False)
    x = torch.linspace(-1, 1, 101)[:, None]
    with torch.no_grad():
        error = float((solved.model(x) - torch.sin(math.pi * x)).abs().max())
    assert error < 0.05, error
    assert len(refreshed) == 14  # before steps 20, 40, ..., 280 (0-based)


@pytest.mark.parametrize("settings, message", [
    ({"batch_size": 0}, "batch_size must be at least 1"),
    ({"pool": 0}, "pool must be at least 1"),
    ({"every": 0}, "every must be at least 1"),
    ({"power": -1.0}, "power and floor must be finite and 0 or more"),
    ({"floor": math.inf}, "power and floor must be finite and 0 or more"),
])
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        sk.Adaptive(sk.Box([-1.0], [1.0], 16), **settings)


def test_adaptive_domains_are_refused_in_a_batched_fit():
    problems = [distance_problem()[0], distance_problem()[0]]
    with pytest.raises(ValueError, match="adaptive sampling.*not a batched fit"):
        sk.fit_batched([network(), network()], problems, sk.TrainConfig(steps=2), progress=False)
