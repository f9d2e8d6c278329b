"""Balancing the loss terms by their gradients (`TrainConfig.balance = "gradients"`): the factors
are those the gradient norms give (checked against norms written out by hand), stated weights still
multiply them, a badly scaled term is held where the unbalanced fit lets it go, the terms are
reported as the constraints weight them, a resumed fit keeps its factors, and the option is refused
where it cannot run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import sirenkit as sk
from sirenkit.engine.balance import MOMENTUM, Balance
from sirenkit.engine.checkpoint import CHECKPOINT_NAME, load_checkpoint_file

from conftest import interrupt_at

LINE = sk.Interval(0.0, 1.0)
NETWORK = sk.NetworkConfig(in_features=1, out_features=1, hidden_features=32, hidden_layers=2, first_omega=3.0)
SHRINK = 1e-3


def poisson(shrink: float = SHRINK) -> sk.Problem:
    """u'' = −π² sin(πx) on [0, 1] with u = 0 at both ends (u = sin(πx)), the ends' residual
    multiplied by `shrink`: a term whose scale is far below the equation's."""
    return sk.Problem([
        sk.Constraint("equation", lambda f: f.laplacian + math.pi ** 2 * torch.sin(math.pi * f.points),
                      sk.Interior(LINE, 128), needs=("laplacian",)),
        sk.Constraint("ends", lambda f: shrink * f.value, sk.Boundary(LINE, 2)),
    ])


def train(**settings) -> sk.TrainConfig:
    return sk.TrainConfig(**{"steps": 300, "learning_rate": 1e-3, "log_every": 10, "seed": 0, "compile": False,
                             "threads": 1, **settings})


def error(model: torch.nn.Module) -> float:
    x = torch.linspace(0, 1, 201).unsqueeze(1)
    with torch.no_grad():
        return float((model(x) - torch.sin(math.pi * x)).norm() / torch.sin(math.pi * x).norm())


def test_the_factors_are_the_mean_gradient_norm_over_each_terms_own():
    theta = torch.nn.Parameter(torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64))
    # ∇(3 Σθ) = 3·1 (norm 3√3); ∇(½ Σθ²) = θ (norm √5.25), stated weight 2 so the term is Σθ²
    terms = {"line": 3 * theta.sum(), "bowl": 2 * 0.5 * theta.square().sum()}
    balance = Balance({"line": 1.0, "bowl": 2.0}, every=10)
    balance.measure(terms, [theta])
    norms = {"line": 3 * math.sqrt(3), "bowl": math.sqrt(5.25)}  # without the stated weights
    mean = (norms["line"] + norms["bowl"]) / 2
    assert balance.factors == pytest.approx({name: mean / norm for name, norm in norms.items()}, rel=1e-12)
    # the step's factors: the schedule's times the balance, and the stated weight stays in the term
    assert balance.times({"bowl": 0.5}) == pytest.approx({"line": balance.factors["line"],
                                                          "bowl": 0.5 * balance.factors["bowl"]})
    first = dict(balance.factors)
    balance.measure({"line": 3 * theta.sum(), "bowl": 2 * 1.0 * theta.square().sum()}, [theta])  # bowl doubled
    target = {"line": (norms["line"] + 2 * norms["bowl"]) / 2 / norms["line"],
              "bowl": (norms["line"] + 2 * norms["bowl"]) / 2 / (2 * norms["bowl"])}
    assert balance.factors == pytest.approx({name: MOMENTUM * first[name] + (1 - MOMENTUM) * target[name]
                                             for name in first}, rel=1e-12)
    assert balance.due(0) and balance.due(20) and not balance.due(5)


def test_a_badly_scaled_term_is_held_and_reported_as_stated():
    plain = sk.fit(sk.build_network(NETWORK, seed=0), poisson(), train(), progress=False)
    balanced = sk.fit(sk.build_network(NETWORK, seed=0), poisson(), train(balance="gradients", balance_every=20),
                      progress=False)
    # the ends hardly pull on the unbalanced fit, which drifts by a constant; the balanced one holds them
    assert error(balanced.model) < error(plain.model) / 3, (error(balanced.model), error(plain.model))
    for row in balanced.history:  # the loss is the sum of the terms as the constraints weight them
        assert row["loss"] == pytest.approx(row["equation"] + row["ends"], rel=1e-5)
    # the unscaled problem, without balance, reports the same ends' term at the same weights
    last = balanced.history[-1]
    with torch.no_grad():
        ends = float(balanced.model(torch.tensor([[0.0], [1.0]])).square().mean()) * SHRINK ** 2
    assert last["ends"] == pytest.approx(ends, rel=1e-3, abs=1e-12)


def test_a_resumed_fit_keeps_its_factors(tmp_path: Path):
    config = train(steps=60, balance="gradients", balance_every=20, checkpoint_every=5)

    with pytest.raises(sk.TrainingInterrupted):
        sk.fit(sk.build_network(NETWORK, seed=0), poisson(), config, network_config=NETWORK,
               checkpoint_dir=tmp_path, progress=False, on_log=interrupt_at(30))
    saved = load_checkpoint_file(tmp_path / CHECKPOINT_NAME)["balance"]
    assert saved["measured"] and saved["factors"]["ends"] > 10 * saved["factors"]["equation"]
    whole = sk.fit(sk.build_network(NETWORK, seed=0), poisson(), config, progress=False)
    resumed = sk.fit(sk.build_network(NETWORK, seed=1), poisson(), config, network_config=NETWORK,
                     checkpoint_dir=tmp_path, resume=True, progress=False)
    assert resumed.steps == 60
    assert resumed.history[-1]["loss"] == pytest.approx(whole.history[-1]["loss"], rel=1e-3)


def test_foreign_factors_and_impossible_settings_are_refused(tmp_path: Path):
    balance = Balance({"equation": 1.0, "ends": 1.0}, every=10)
    with pytest.raises(ValueError, match="balance factors are not the problem's terms"):
        balance.load({"factors": {"equation": 1.0}}, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="balance factors are not the problem's terms"):
        balance.load({"factors": {"equation": 1.0, "ends": -2.0}}, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="unknown balance 'ntk'"):
        sk.TrainConfig(balance="ntk")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="balance_every must be at least 1"):
        sk.TrainConfig(balance_every=0)
    with pytest.raises(ValueError, match="balancing the loss terms .* not a batched fit"):
        sk.fit_batched([sk.build_network(NETWORK, seed=k) for k in range(2)], [poisson(), poisson()],
                       train(steps=2, balance="gradients"), progress=False)


def test_the_command_line_balances_a_problem_file(tmp_path: Path, capsys):
    from conftest import run_cli

    source = Path(__file__).parents[1] / "examples" / "problems" / "ring.py"
    code, out, err = run_cli(["solve", source, "--steps", "4", "--balance", "gradients", "--out", tmp_path / "ring",
                              "-q"], capsys)
    assert code == 0, err
    assert "laplace" in out and "outer" in out
    assert '"balance": "gradients"' in (tmp_path / "ring" / "config.json").read_text()
    code, out, err = run_cli(["solve", source, "--balance", "ntk", "--out", tmp_path / "other"], capsys)
    assert code == 2 and "ntk" in err
