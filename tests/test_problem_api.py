"""The public constraint API: domains, the derivative helpers of Fields against float64 autograd,
the checks a problem gets before training, solve() on a problem with a known solution, the
tutorial of docs/your-own-problem.md, and the worked examples at tiny sizes."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

import sirenkit as sk
from sirenkit.networks.derivatives import autograd_derivatives, derivatives
from sirenkit.problems.constraints import Fields

from conftest import assert_one_line_error, run_cli

TUTORIAL_PAGE = Path(__file__).resolve().parents[1] / "docs" / "your-own-problem.md"


def test_box_points_lie_inside():
    points, data = sk.Box([0, -1], [2, 1], 500).sample(torch.Generator().manual_seed(0))
    assert points.shape == (500, 2) and data == {}
    assert points[:, 0].min() >= 0 and points[:, 0].max() <= 2 and points[:, 1].abs().max() <= 1


def test_box_boundary_points_are_on_the_faces_by_area_with_outward_normals():
    boundary = sk.BoxBoundary([0, 0], [2, 1], 20_000)  # faces across x have length 1, across y length 2
    points, data = boundary.sample(torch.Generator().manual_seed(0))
    normal = data["normal"]
    on_x_face = normal[:, 0] != 0
    assert on_x_face.float().mean() == pytest.approx(1 / 3, abs=0.02)
    assert torch.all(points[on_x_face, 0] == torch.where(normal[on_x_face, 0] > 0, 2.0, 0.0))
    assert torch.all(points[~on_x_face, 1] == torch.where(normal[~on_x_face, 1] > 0, 1.0, 0.0))
    assert torch.allclose(normal.norm(dim=1), torch.ones(20_000))
    walls, _ = sk.BoxBoundary([0, -1, -1], [1, 1, 1], 100, axes=(1, 2)).sample(torch.Generator())
    assert torch.all((walls[:, 1:].abs() == 1).any(dim=1))  # on the walls across y or z
    assert torch.all((walls[:, 0] > 0) & (walls[:, 0] < 1))  # and never on the first or last instant


def test_a_user_sampler_and_its_shape_check():
    disc = sk.Sampler(lambda g, n: torch.randn(n, 2, generator=g).clamp(-1, 1), 64)
    points, _ = disc.sample(torch.Generator())
    assert points.shape == (64, 2)
    broken = sk.Sampler(lambda g, n: torch.zeros(n + 1, 2), 64)
    with pytest.raises(ValueError, match="expected \\(64, d\\)"):
        broken.sample(torch.Generator())


def test_point_set_where_keeps_the_masked_points_and_their_data():
    points = torch.arange(10.0)[:, None]
    subset = sk.PointSet(points, {"v": points * 2}).where(points[:, 0] % 2 == 0)
    assert subset.size == 5 and torch.equal(subset.data["v"], subset.points * 2)
    with pytest.raises(ValueError, match="selects no points"):
        sk.PointSet(points).where(torch.zeros(10, dtype=torch.bool))


def test_field_helpers_agree_with_float64_autograd():
    torch.manual_seed(1)
    network = sk.Siren(sk.NetworkConfig(in_features=3, out_features=3, hidden_features=24, hidden_layers=2,
                                        first_omega=3.0)).double()
    points = torch.rand(16, 3, dtype=torch.float64) * 2 - 1
    reference = autograd_derivatives(network, points, jacobian=True, hessian=True, laplacian=False,
                                     axes=(0, 1, 2))
    fields = Fields(points, {}, derivatives(network, points, jacobian=True, hessian=True))
    for axis in range(3):
        assert torch.allclose(fields.derivative(axis), reference.jacobian[:, :, axis], atol=1e-9)
        assert torch.allclose(fields.second_derivative(axis), reference.hessian[:, :, axis, axis], atol=1e-8)
    divergence = sum(reference.jacobian[:, i, i] for i in range(3))
    assert torch.allclose(fields.divergence, divergence, atol=1e-9)


def tiny_network(**changes):
    return sk.NetworkConfig(**{"in_features": 1, "out_features": 1, "hidden_features": 8, "hidden_layers": 2,
                               **changes})


TRAIN = sk.TrainConfig(steps=2, compile=False, device="cpu")


@pytest.mark.parametrize("constraint, network, message", [
    (sk.Constraint("flat", lambda f: f.value.sum(), sk.Box([-1], [1], 8)), tiny_network(),
     "constraint 'flat': the residual has shape () for 4 points"),
    (sk.Constraint("curved", lambda f: f.laplacian, sk.Box([-1], [1], 8)), tiny_network(),
     "constraint 'curved': the residual uses the laplacian, which its constraint does not ask for"),
    (sk.Constraint("bent", lambda f: f.laplacian, sk.Box([-1], [1], 8), needs=("laplacian",)),
     tiny_network(model="relu"), "constraint 'bent' needs the laplacian, but the second derivatives of a relu"),
    (sk.Constraint("data", lambda f: f.value - f.data["target"], sk.Box([-1], [1], 8)), tiny_network(),
     "constraint 'data': the residual reads data 'target' that its domain does not have"),
    (sk.Constraint("plane", lambda f: f.value, sk.Box([-1, -1], [1, 1], 8)), tiny_network(),
     "constraint 'plane': its domain has 2-dimensional points, the network takes 1"),
])
def test_mistakes_in_a_problem_are_named_before_training(constraint, network, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        sk.solve(sk.Problem([constraint]), network, TRAIN, progress=False)


def test_an_empty_domain_is_named():
    class Nowhere:
        batch_size = None
        size = 0

        def to(self, device):
            return self

        def sample(self, generator):
            return torch.zeros(0, 1), {}

    with pytest.raises(ValueError, match="constraint 'void': its domain has no points"):
        sk.solve(sk.Problem([sk.Constraint("void", lambda f: f.value, Nowhere())]), tiny_network(), TRAIN,
                 progress=False)


def tutorial_code() -> str:
    text = TUTORIAL_PAGE.read_text()
    match = re.search(r"<!-- tutorial -->\s*```python\n(.*?)```", text, re.S)
    assert match, "the tutorial block of docs/your-own-problem.md is missing"
    return match.group(1)


def test_the_docs_tutorial_solves_its_equation(tmp_path, monkeypatch, capsys):
    code = tutorial_code()
    assert len(code.strip().splitlines()) < 20
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/your-own-problem.md tutorial", "exec"), {})
    error = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert error < 0.02, error  # against the exact sin(πx)
    run = tmp_path / "runs" / "my-poisson"
    for name in ("loss.png", "metrics.json", "history.json", "config.json", "model.safetensors"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["terms"]) == {"equation", "ends"}
    assert isinstance(sk.load(run).kind, sk.ProblemKind)


def test_the_docs_geometry_block_solves_laplace_in_a_ring(tmp_path, monkeypatch, capsys):
    match = re.search(r"<!-- geometry -->\s*```python\n(.*?)```", TUTORIAL_PAGE.read_text(), re.S)
    assert match, "the geometry block of docs/your-own-problem.md is missing"
    monkeypatch.chdir(tmp_path)
    exec(compile(match.group(1), "docs/your-own-problem.md geometry", "exec"), {})
    error = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert error < 0.01, error  # against ln(r / 0.25) / ln 4
    metrics = json.loads((tmp_path / "runs" / "ring" / "metrics.json").read_text())
    assert set(metrics["terms"]) == {"laplace", "inner", "outer"}


@pytest.mark.parametrize("name", ["inpainting", "wave", "helmholtz"])
def test_examples_run_at_a_tiny_size(name, tmp_path, capsys):
    out = tmp_path / name
    code, printed, err = run_cli(["example", name, "--tiny", "-q", "--device", "cpu", "--out", out], capsys)
    assert code == 0, err
    for file in ("figure.png", "loss.png", "metrics.json", "model.safetensors"):
        assert (out / file).is_file(), file
    metrics = json.loads((out / "metrics.json").read_text())
    assert all(math.isfinite(v) for v in metrics["terms"].values())


def test_example_listing_and_an_unknown_name(capsys):
    code, printed, _ = run_cli(["example"], capsys)
    assert code == 0 and {"inpainting", "helmholtz", "wave"} <= {line.split()[0] for line in printed.splitlines()}
    from sirenkit.studies.examples import EXAMPLES

    for name, module in EXAMPLES.items():  # each with how long its default run takes
        assert f"{module.STEPS:,} steps, {module.RUNTIME}" in printed, name
        assert re.fullmatch(r"about \d+ (s|min) on a 2-core CPU.*", module.RUNTIME), module.RUNTIME
    code, _, err = run_cli(["example", "schrodinger"], capsys)
    assert_one_line_error(code, err, "unknown example 'schrodinger'")


def test_the_docs_solve_command_runs_its_problem_file(tmp_path, capsys):
    from conftest import run_cli

    text = TUTORIAL_PAGE.read_text()
    command = re.search(r"^sirenkit solve (\S+)", text, re.M)
    assert command, "the sirenkit solve command of docs/your-own-problem.md is missing"
    source = TUTORIAL_PAGE.parents[1] / command.group(1)
    assert source.is_file(), source
    code, out, err = run_cli(["solve", source, "--steps", "3", "--lbfgs-steps", "1", "--out", tmp_path / "ring",
                              "-q"], capsys)
    assert code == 0, err
    assert "laplace" in out and "inner" in out and (tmp_path / "ring" / "model.safetensors").is_file()


def test_a_fixed_problem_draws_once_and_keeps_its_normals():
    disk = sk.Disk([0.0, 0.0], 1.0)
    points = sk.PointSet(torch.zeros(3, 2), {"target": torch.ones(3, 1)})
    problem = sk.Problem([
        sk.Constraint("equation", lambda f: f.laplacian + 1.0, sk.Interior(disk, 64), needs=("laplacian",)),
        sk.neumann(sk.Boundary(disk, 32), 0.0, name="flux"),
        sk.Constraint("data", lambda f: f.value - f.data["target"], points),
    ])
    fixed = problem.fixed(seed=3)
    first, second = fixed.sample(torch.Generator().manual_seed(0)), fixed.sample(torch.Generator().manual_seed(1))
    for (a, data_a), (b, data_b) in zip(first, second):
        assert torch.equal(a, b) and data_a.keys() == data_b.keys()
    (inside, _), (edge, edge_data), _ = first
    assert inside.shape == (64, 2) and disk.contains(inside).all()
    # the normals the boundary drew travel with its points: outward on the unit circle, x / |x|
    assert torch.allclose(edge_data["normal"], edge / edge.norm(dim=1, keepdim=True), atol=1e-5)
    assert fixed.domains[id(fixed.constraints[2].domain)] is points  # a point set is kept as it is
    assert torch.equal(problem.fixed(seed=3).sample(torch.Generator())[0][0], inside)  # the seed decides
    pairs = sk.periodic(sk.Rectangle([0.0, 0.0], [1.0, 1.0]), 0, 8)
    assert sk.Problem([pairs]).fixed().constraints[0].domain is pairs.domain  # pairs keep drawing
    with pytest.raises(ValueError, match="cannot be fixed"):
        sk.Problem([sk.Constraint("equation", lambda f: f.value, sk.Adaptive(sk.Interior(disk, 16)))]).fixed()
