"""The default recipe of `solve` (a problem and no network): what it chooses from the problem, the
per-axis scaling of the first layer it relies on, a problem it solves, and the command line that
says what it chose."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import sirenkit as sk
from sirenkit.networks.config import network_config_from_dict, network_to_dict
from sirenkit.studies import recipe as recipes

HEAT = sk.SpaceTime(sk.Rectangle([0.0, -1.0], [1.0, 3.0]), 0.0, 5.0)


def heat_problem() -> sk.Problem:
    return sk.Problem([
        sk.Constraint("equation", lambda f: f.jacobian[:, 0, :1] - f.laplacian, sk.Interior(HEAT, 64),
                      needs=("jacobian", "laplacian"), laplacian_axes=(1, 2)),
        sk.dirichlet(sk.Boundary(HEAT, 32), 0.0, name="edges"),
        sk.initial_value(sk.Initial(HEAT, 32), lambda p: torch.sin(math.pi * p[:, 1:2]), name="start"),
    ])


def test_the_recipe_reads_the_domain_and_splits_the_budget():
    chosen = sk.default_recipe(heat_problem(), outputs=2, time_budget=50.0)
    network, train = chosen.network, chosen.train
    assert (network.model, network.in_features, network.out_features) == ("siren", 3, 2)
    assert (network.hidden_features, network.hidden_layers, network.first_omega) == (
        recipes.WIDTH, recipes.DEPTH, recipes.OMEGA)
    # t in [0, 5], x in [0, 1], y in [-1, 3]: each axis scaled to a span of 2 (up to the draw's reach)
    assert network.axis_scales == pytest.approx((2 / 5, 2 / 1, 2 / 4), rel=0.02)
    assert train.balance == "gradients"
    assert train.time_budget == pytest.approx(50 * (1 - recipes.LBFGS_SHARE))
    assert train.lbfgs_time == pytest.approx(50 * recipes.LBFGS_SHARE) and train.lbfgs_steps > 10 ** 6
    text = "\n".join(chosen.choices)
    assert "SIREN" in text and "balanced" in text and "L-BFGS for 10 s" in text and "[0, 5]" in text
    assert sk.default_recipe(heat_problem()).train.time_budget == pytest.approx(
        recipes.TIME_BUDGET * (1 - recipes.LBFGS_SHARE))
    with pytest.raises(ValueError, match="outputs must be at least 1"):
        sk.default_recipe(heat_problem(), outputs=0)
    with pytest.raises(ValueError, match="time budget must be a positive number"):
        sk.default_recipe(heat_problem(), time_budget=-1.0)


def test_axis_scales_stretch_each_coordinate_of_the_first_layer():
    plain = sk.NetworkConfig(in_features=3, out_features=1, hidden_features=16, hidden_layers=2)
    scaled = sk.NetworkConfig(in_features=3, out_features=1, hidden_features=16, hidden_layers=2,
                              axis_scales=(0.5, 2.0, 4.0))
    a, b = sk.build_network(plain, seed=4), sk.build_network(scaled, seed=4)
    assert torch.equal(b.layers[0].weight, a.layers[0].weight * torch.tensor([0.5, 2.0, 4.0]))
    assert torch.equal(b.layers[0].bias, a.layers[0].bias) and torch.equal(b.output.weight, a.output.weight)
    # the network at x equals the unscaled one at the stretched coordinates
    x = torch.rand(5, 3)
    with torch.no_grad():
        assert torch.allclose(b(x), a(x * torch.tensor([0.5, 2.0, 4.0])), atol=1e-6)
    assert network_config_from_dict(json.loads(json.dumps(network_to_dict(scaled)))) == scaled
    finer = sk.NetworkConfig(model="finer", in_features=2, out_features=1, axis_scales=(1.0, 3.0))
    assert finer.axis_scales == (1.0, 3.0)
    with pytest.raises(ValueError, match="one factor per coordinate"):
        sk.NetworkConfig(in_features=3, out_features=1, axis_scales=(1.0, 2.0))
    with pytest.raises(ValueError, match="axis_scales must be a finite number above 0"):
        sk.NetworkConfig(in_features=2, out_features=1, axis_scales=(1.0, 0.0))
    with pytest.raises(ValueError, match="axis_scales is not a setting of a tanh network"):
        sk.NetworkConfig(model="tanh", in_features=2, out_features=1, axis_scales=(1.0, 1.0))


def test_solve_without_a_network_uses_the_recipe(tmp_path: Path):
    """u'' = −π² sin(πx) on [0, 2] with u = 0 at both ends: u = sin(πx)."""
    line = sk.Interval(0.0, 2.0)
    problem = sk.Problem([
        sk.Constraint("equation", lambda f: f.laplacian + math.pi ** 2 * torch.sin(math.pi * f.points),
                      sk.Interior(line, 128), needs=("laplacian",)),
        sk.dirichlet(sk.Boundary(line, 2), 0.0, name="ends"),
    ])
    train = sk.TrainConfig(steps=400, balance="gradients", lbfgs_steps=60, threads=1, compile=False)
    solved = sk.solve(problem, train=train, out=tmp_path / "run", progress=False)
    assert solved.model.config.axis_scales == pytest.approx((1.0,), rel=0.02)
    x = torch.linspace(0, 2, 201).unsqueeze(1)
    with torch.no_grad():
        error = float((solved.model(x) - torch.sin(math.pi * x)).norm() / torch.sin(math.pi * x).norm())
    assert error < 3e-3, error
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    chosen = config["problem"]["recipe"]
    assert any("SIREN" in line for line in chosen) and not any(line.startswith("training") for line in chosen)


def test_the_command_line_says_what_the_recipe_chose(tmp_path: Path, capsys):
    from conftest import run_cli

    source = tmp_path / "bar.py"
    source.write_text(
        "import math, torch\nimport sirenkit as sk\n"
        "line = sk.Interval(0.0, 1.0)\n"
        "problem = sk.Problem([\n"
        "    sk.Constraint('equation', lambda f: f.laplacian + 1.0, sk.Interior(line, 64), needs=('laplacian',)),\n"
        "    sk.dirichlet(sk.Boundary(line, 2), 0.0, name='ends'),\n"
        "])\n")
    code, out, err = run_cli(["solve", source, "--time", "2", "--out", tmp_path / "run", "-q"], capsys)
    assert code == 0, err
    assert "recipe: network: SIREN" in err and "recipe: training: 2 s" in err
    assert "equation" in out and (tmp_path / "run" / "model.safetensors").is_file()
    source.write_text(source.read_text() + "outputs = 0\n")
    code, out, err = run_cli(["solve", source, "--out", tmp_path / "other"], capsys)
    assert code == 2 and "outputs" in err and len(err.strip().splitlines()) == 1


def test_the_burgers_example_runs_with_the_recipe(tmp_path: Path, capsys):
    from conftest import run_cli

    source = Path(__file__).parents[1] / "examples" / "problems" / "burgers.py"
    code, out, err = run_cli(["solve", source, "--time", "2", "--out", tmp_path / "burgers", "-q"], capsys)
    assert code == 0, err
    assert "recipe: network: SIREN" in err and "[0, 1] × [-1, 1]" in err
    assert "burgers" in out and "start" in out
