"""Inverse problems (`Problem.unknowns`): a coefficient of the equation fitted with the network from
observations of the solution, logged under its name, kept across a resume, and the mistakes
named before training."""

from __future__ import annotations

import json

import pytest
import torch

import sirenkit as sk

from conftest import interrupt_at

DISK = sk.Disk([0.0, 0.0], 1.0)
NETWORK = sk.NetworkConfig(in_features=2, out_features=1, hidden_features=32, hidden_layers=3, first_omega=3.0)
SOURCE = 2.0
"""The coefficient to find: −Δu = k in the unit disk, u = 0 on the circle, u = k (1 − r²)/4."""


def poisson_with_unknown_source(start: float = 1.0) -> sk.Problem:
    seen = DISK.sample_interior(200, torch.Generator().manual_seed(3))
    observed = SOURCE * (1 - seen.square().sum(dim=1, keepdim=True)) / 4
    return sk.Problem([
        sk.Constraint("equation", lambda f: f.laplacian + f.unknowns["k"], sk.Interior(DISK, 512),
                      needs=("laplacian",)),
        sk.dirichlet(sk.Boundary(DISK, 256), 0.0, name="circle", weight=10.0),
        sk.Constraint("observed", lambda f: f.value - f.data["u"], sk.PointSet(seen, {"u": observed}), weight=10.0),
    ], unknowns={"k": start})


def train(**settings) -> sk.TrainConfig:
    return sk.TrainConfig(**{"learning_rate": 1e-3, "log_every": 10, "seed": 0, "compile": False, "threads": 1,
                             **settings})


def test_an_unknown_source_is_found_from_observations_of_the_solution():
    problem = poisson_with_unknown_source()
    solved = sk.solve(problem, NETWORK, train(steps=200, lbfgs_steps=40), progress=False)
    found = solved.metrics["k"]
    assert found == pytest.approx(SOURCE, rel=0.05), found  # 1.94 here, from 1.0
    assert float(problem.coefficients["k"].detach()) == pytest.approx(found)  # the problem holds what the fit found
    assert [row["k"] for row in solved.history][0] < 1.1  # it started where the problem said
    # a second fit of the same problem starts again from the stated value, not from the last fit's
    again = sk.solve(problem, NETWORK, train(steps=10), progress=False)
    assert again.history[0]["k"] < 1.1


def test_an_unknown_is_kept_across_a_resume(tmp_path):
    config = train(steps=40, checkpoint_every=10)

    with pytest.raises(sk.TrainingInterrupted):
        sk.fit(sk.build_network(NETWORK, seed=0), poisson_with_unknown_source(), config, network_config=NETWORK,
               checkpoint_dir=tmp_path, progress=False, on_log=interrupt_at(20))
    straight = sk.fit(sk.build_network(NETWORK, seed=0), poisson_with_unknown_source(), config, progress=False)
    resumed = sk.fit(sk.build_network(NETWORK, seed=1), poisson_with_unknown_source(), config,
                     network_config=NETWORK, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert resumed.history[-1]["k"] == pytest.approx(straight.history[-1]["k"], abs=1e-5)
    assert resumed.history[-1]["k"] != pytest.approx(1.0, abs=1e-3)  # it moved, and the resume kept the move


@pytest.mark.parametrize("unknowns, message", [
    ({"k": float("nan")}, "unknown 'k': its starting value must be a finite number"),
    ({"loss": 1.0}, "unknown 'loss': needs a name that is no constraint's"),
    ({"circle": 1.0}, "unknown 'circle': needs a name that is no constraint's"),
])
def test_a_badly_stated_unknown_is_refused(unknowns, message):
    with pytest.raises(ValueError, match=message):
        sk.Problem([sk.dirichlet(sk.Boundary(DISK, 8), 0.0, name="circle")], unknowns=unknowns)


def test_an_unknown_no_residual_reads_and_a_residual_reading_a_missing_one_are_named():
    model = sk.build_network(NETWORK, seed=0)
    unused = sk.Problem([sk.dirichlet(sk.Boundary(DISK, 8), 0.0, name="circle")], unknowns={"c": 1.0})
    with pytest.raises(ValueError, match=r"unknown 'c': no constraint's residual reads it"):
        unused.check(model)
    missing = sk.Problem([sk.Constraint("pde", lambda f: f.laplacian + f.unknowns["kappa"], sk.Interior(DISK, 8),
                                        needs=("laplacian",))], unknowns={"k": 1.0})
    with pytest.raises(ValueError, match=r"constraint 'pde': the residual reads the unknown 'kappa'.*has: k"):
        missing.check(model)


def test_unknowns_are_refused_in_a_batched_fit():
    with pytest.raises(ValueError, match="unknown coefficients.*not a batched fit"):
        sk.fit_batched([sk.build_network(NETWORK, seed=k) for k in range(2)],
                       [poisson_with_unknown_source(), poisson_with_unknown_source()], train(steps=2), progress=False)


def test_a_solved_run_folder_with_an_unknown_resumes_and_reports_it(tmp_path):
    first = sk.solve(poisson_with_unknown_source(), NETWORK, train(steps=20), out=tmp_path / "run", progress=False)
    longer = sk.solve(poisson_with_unknown_source(), NETWORK, train(steps=30), out=tmp_path / "run", resume=True,
                      progress=False)
    assert longer.history[-1]["step"] == 30 and longer.metrics["k"] != pytest.approx(first.metrics["k"], abs=1e-6)
    assert abs(longer.metrics["k"] - 1.0) > abs(first.metrics["k"] - 1.0)  # it went on from where it was
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["k"] == pytest.approx(longer.metrics["k"])


PROBLEM_FILE = '''
import torch
import sirenkit as sk

disk = sk.Disk([0.0, 0.0], 1.0)
seen = disk.sample_interior(200, torch.Generator().manual_seed(3))
problem = sk.Problem([
    sk.Constraint("equation", lambda f: f.laplacian + f.unknowns["k"], sk.Interior(disk, 256), needs=("laplacian",)),
    sk.dirichlet(sk.Boundary(disk, 128), 0.0, name="circle", weight=10.0),
    sk.Constraint("observed", lambda f: f.value - f.data["u"],
                  sk.PointSet(seen, {"u": 2.0 * (1 - seen.square().sum(dim=1, keepdim=True)) / 4}), weight=10.0),
], unknowns={"k": 1.0})
network = sk.NetworkConfig(in_features=2, out_features=1, hidden_features=16, hidden_layers=2, first_omega=3.0)
train = sk.TrainConfig(steps=500, compile=False, threads=1, log_every=5)
'''


def test_sirenkit_solve_runs_the_problem_a_file_defines(tmp_path, capsys):
    from conftest import run_cli

    (tmp_path / "source.py").write_text(PROBLEM_FILE)
    code, out, err = run_cli(["solve", tmp_path / "source.py", "--steps", "10", "--lbfgs-steps", "4", "--out",
                              tmp_path / "run", "-q"], capsys)
    assert code == 0, err
    assert out.startswith(f"{tmp_path / 'run'}: loss ") and " k " in out and "circle" in out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["steps"] == 14 and set(metrics["terms"]) == {"equation", "circle", "observed"}
    assert sk.load(tmp_path / "run").network.hidden_features == 16


@pytest.mark.parametrize("text, message", [
    (None, "no such file"),
    ("x = 1", "defines no `problem` (a sirenkit.Problem)"),
    ("import sirenkit as sk\nproblem = 3", "defines `problem` as a int, not a sirenkit.Problem"),
    ("raise RuntimeError('no data here')", "running it failed: RuntimeError: no data here"),
    ("def broken(:", "running it failed: SyntaxError"),
    (PROBLEM_FILE + "\nnetwork = 3\n", "defines `network` as a int, not a sirenkit.NetworkConfig"),
    (PROBLEM_FILE + "\ntrain = 'fast'\n", "defines `train` as a str, not a sirenkit.TrainConfig"),
])
def test_sirenkit_solve_names_what_is_wrong_with_the_file(tmp_path, capsys, text, message):
    from conftest import assert_one_line_error, run_cli

    if text is not None:
        (tmp_path / "source.py").write_text(text)
    code, _, err = run_cli(["solve", tmp_path / "source.py", "--out", tmp_path / "run", "-q"], capsys)
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "run").exists()
