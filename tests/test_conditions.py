"""Boundary and initial conditions (sirenkit/problems/conditions.py): each residual against the
same expression computed with float64 autograd on the points its domain draws, the errors named
before training, and a Poisson problem on a disk solved to its analytic solution."""

from __future__ import annotations

import math

import pytest
import torch

import sirenkit as sk


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def network(in_features: int = 2, out_features: int = 1) -> torch.nn.Module:
    torch.manual_seed(0)
    return sk.build_network(sk.NetworkConfig(in_features=in_features, out_features=out_features, hidden_features=16,
                                             hidden_layers=2)).double()


def term(constraint: sk.Constraint, model: torch.nn.Module, seed: int = 0):
    """The constraint's loss on one draw of its domain, and that draw (points in float64)."""
    problem = sk.Problem([constraint])
    points, data = constraint.domain.sample(generator(seed))
    points, data = points.double(), {k: v.double() if v.is_floating_point() else v for k, v in data.items()}
    return problem.loss_terms(model, [(points, data)])[constraint.name], points, data


def value_and_gradient(model: torch.nn.Module, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`u (N, m)` and `∂u/∂x (N, m, d)` by autograd, the independent reference."""
    points = points.clone().requires_grad_(True)
    value = model(points)
    rows = [torch.autograd.grad(value[:, k].sum(), points, retain_graph=True)[0] for k in range(value.shape[1])]
    return value.detach(), torch.stack(rows, dim=1)


PLATE = sk.Rectangle([-1, -1], [1, 1]) - sk.Disk([0.3, 0.2], 0.25, name="hole")


def test_dirichlet_is_the_value_minus_the_prescribed_one_on_the_selected_part():
    model = network()
    condition = sk.dirichlet(sk.Boundary(PLATE, 64, on="hole"), lambda x: x[:, 0] * x[:, 1], name="hole")
    loss, points, _ = term(condition, model)
    assert torch.allclose((points - torch.tensor([0.3, 0.2])).norm(dim=1), torch.full((64,), 0.25, dtype=torch.float64),
                          atol=1e-5)  # only the hole's rim
    value, _ = value_and_gradient(model, points)
    expected = (value[:, 0] - points[:, 0] * points[:, 1]).square().mean()
    assert torch.allclose(loss, expected, rtol=1e-10)


def test_neumann_and_robin_use_the_outward_normal_derivative():
    model = network()
    walls = sk.Boundary(PLATE, 64)
    flux = lambda x: torch.sin(x[:, 0])  # noqa: E731
    loss, points, data = term(sk.neumann(walls, flux), model)
    value, gradient = value_and_gradient(model, points)
    normal_derivative = (gradient[:, 0, :] * data["normal"]).sum(dim=1)
    assert torch.allclose(loss, (normal_derivative - torch.sin(points[:, 0])).square().mean(), rtol=1e-10)
    loss, points, data = term(sk.robin(walls, 2.0, 0.5, 1.0), model)
    value, gradient = value_and_gradient(model, points)
    mixed = 2.0 * value[:, 0] + 0.5 * (gradient[:, 0, :] * data["normal"]).sum(dim=1)
    assert torch.allclose(loss, (mixed - 1.0).square().mean(), rtol=1e-10)


def test_the_outward_normals_of_a_hole_point_into_it():
    """Negative control of the Neumann reference: with the normals flipped, the loss differs."""
    model = network()
    loss, points, data = term(sk.neumann(sk.Boundary(PLATE, 64, on="hole"), 0.0), model)
    _, gradient = value_and_gradient(model, points)
    towards_centre = -(points - torch.tensor([0.3, 0.2], dtype=torch.float64)) / 0.25
    assert torch.allclose(data["normal"], towards_centre, atol=1e-4)
    flipped = (gradient[:, 0, :] * -data["normal"]).sum(dim=1).square().mean()
    assert torch.allclose(loss, (gradient[:, 0, :] * data["normal"]).sum(dim=1).square().mean(), rtol=1e-10)
    assert torch.allclose(flipped, loss, rtol=1e-10)  # a square cannot tell the sign: the mixed term can
    robin_out = term(sk.robin(sk.Boundary(PLATE, 64, on="hole"), 1.0, 1.0), model)[0]
    value, _ = value_and_gradient(model, points)
    robin_in = (value[:, 0] - (gradient[:, 0, :] * data["normal"]).sum(dim=1)).square().mean()
    assert not torch.allclose(robin_out, robin_in, rtol=1e-3)


def test_initial_value_and_velocity_act_at_the_first_instant():
    model = network(in_features=2)
    spacetime = sk.SpaceTime(sk.Interval(-1, 1), 0.5, 2.0)
    start = sk.Initial(spacetime, 32)
    loss, points, _ = term(sk.initial_value(start, lambda x: -torch.sin(math.pi * x[:, 1])), model)
    assert torch.all(points[:, 0] == 0.5)
    value, gradient = value_and_gradient(model, points)
    assert torch.allclose(loss, (value[:, 0] + torch.sin(math.pi * points[:, 1])).square().mean(), rtol=1e-10)
    loss, points, _ = term(sk.initial_velocity(start, 3.0), model)
    value, gradient = value_and_gradient(model, points)
    assert torch.allclose(loss, (gradient[:, 0, 0] - 3.0).square().mean(), rtol=1e-10)


def test_periodic_pairs_face_each_other_and_match_value_and_slope():
    model = network(in_features=3)
    spacetime = sk.SpaceTime(sk.Rectangle([0, -1], [2, 1]), 0.0, 1.0)
    condition = sk.periodic(spacetime, 1, 16)
    loss, points, data = term(condition, model)
    first, second = data["pair"][:, 0], data["pair"][:, 1]
    assert torch.all(points[first, 1] == 0) and torch.all(points[second, 1] == 2)
    assert torch.equal(points[first][:, [0, 2]], points[second][:, [0, 2]])
    value, gradient = value_and_gradient(model, points)
    gap = torch.cat([value[first] - value[second], gradient[first, :, 1] - gradient[second, :, 1]], dim=1)
    assert torch.allclose(loss, gap.square().mean(), rtol=1e-10)
    assert condition.domain.points_per_step == 32


def test_output_picks_the_constrained_outputs():
    model = network(out_features=3)
    loss, points, _ = term(sk.dirichlet(sk.Boundary(PLATE, 32), [1.0, 2.0][0], output=[0, 2]), model)
    value, _ = value_and_gradient(model, points)
    assert torch.allclose(loss, (value[:, [0, 2]] - 1.0).square().mean(), rtol=1e-10)
    assert not torch.allclose(loss, (value - 1.0).square().mean(), rtol=1e-3)


@pytest.mark.parametrize("make, message", [
    (lambda: sk.initial_value(sk.Boundary(PLATE, 8), 0.0), "'initial value'.*Initial domain of a SpaceTime"),
    (lambda: sk.initial_velocity(sk.Interior(PLATE, 8)), "Initial domain"),
    (lambda: sk.robin(sk.Boundary(PLATE, 8), 0.0, 0.0), "needs a or b non-zero"),
    (lambda: sk.periodic(PLATE, 0, 8), "need a Rectangle or a SpaceTime over one"),
    (lambda: sk.periodic(sk.SpaceTime(sk.Interval(0, 1), 0, 1), 0, 8), "a spatial axis"),
    (lambda: sk.periodic(sk.Rectangle([0, 0], [1, 1]), 2, 8), "a spatial axis"),
    (lambda: sk.dirichlet(sk.Boundary(PLATE, 8, on="holes"), 0.0), "holes"),
])
def test_a_condition_on_what_does_not_exist_is_refused_when_stated(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("condition, message", [
    (lambda: sk.dirichlet(sk.Boundary(PLATE, 8), lambda x: x, name="edge"),
     r"constraint 'edge'.*value gave shape \(4, 2\) for 4 points"),
    (lambda: sk.neumann(sk.Interior(PLATE, 8), name="flux"), "constraint 'flux'.*outward normals"),
])
def test_a_condition_that_cannot_be_evaluated_is_named_before_training(condition, message):
    torch.manual_seed(0)
    model = sk.build_network(sk.NetworkConfig(in_features=2, out_features=1, hidden_features=8, hidden_layers=2))
    with pytest.raises(ValueError, match=message):
        sk.Problem([condition()]).check(model)


def test_poisson_on_a_disk_is_solved_to_its_analytic_solution():
    """−Δu = 1 in the unit disk, u = 0 on its circle: u = (1 − r²)/4."""
    disk = sk.Disk([0.0, 0.0], 1.0)
    problem = sk.Problem([
        sk.Constraint("equation", lambda f: f.laplacian + 1.0, sk.Interior(disk, 512), needs=("laplacian",)),
        sk.dirichlet(sk.Boundary(disk, 256), 0.0, name="circle", weight=10.0),
    ])
    solved = sk.solve(problem, sk.NetworkConfig(in_features=2, out_features=1, hidden_features=32, hidden_layers=3,
                                                first_omega=3.0),
                      sk.TrainConfig(steps=400, learning_rate=1e-3, log_every=100, seed=0, precision="float32"),
                      progress=False)
    points = disk.sample_interior(2000, generator(5))
    with torch.no_grad():
        value = solved.model(points)[:, 0]
    exact = (1 - points.square().sum(dim=1)) / 4
    error = float((value - exact).norm() / exact.norm())
    assert error < 0.01, error  # 0.15 % here
    wrong = (1 - points.square().sum(dim=1)) / 4 + 0.02  # a solution off by 0.02 on the circle
    assert float((value - wrong).norm() / wrong.norm()) > 0.05  # the check tells it apart
