"""Domains and problems (sirenkit/problems/): what each domain draws, how a problem shares one
batch per domain and counts its points, and the errors named before training. The Box,
BoxBoundary-in-2D and Sampler basics are in test_problem_api.py; these go further."""

from __future__ import annotations

import pytest
import torch

import sirenkit as sk
from sirenkit.studies.poisson import GridBoxes, GridSegments, derivative_targets

from conftest import smooth_image


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tiny_network(in_features: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    return sk.build_network(sk.NetworkConfig(in_features=in_features, out_features=1, hidden_features=8,
                                             hidden_layers=2))


# --- PointSet ------------------------------------------------------------------------------

def test_a_point_set_draws_every_point_or_a_subset_with_its_own_data():
    points = torch.rand(50, 2)
    data = {"sum": points.sum(dim=1, keepdim=True), "index": torch.arange(50)}
    everything, same = sk.PointSet(points, data).sample(generator())
    assert torch.equal(everything, points) and torch.equal(same["index"], torch.arange(50))
    subset = sk.PointSet(points, data, batch_size=20)
    drawn, rows = subset.sample(generator(1))
    assert drawn.shape == (20, 2) and rows["index"].shape == (20,)
    assert torch.equal(drawn, points[rows["index"]])  # each point keeps its own data row
    assert torch.equal(rows["sum"], drawn.sum(dim=1, keepdim=True))
    again, _ = subset.sample(generator(1))
    other, _ = subset.sample(generator(2))
    assert torch.equal(drawn, again) and not torch.equal(drawn, other)  # the generator decides


@pytest.mark.parametrize("make, message", [
    (lambda: sk.PointSet(torch.rand(10)), r"expected \(N, d\) points"),
    (lambda: sk.PointSet(torch.rand(0, 2)), r"expected \(N, d\) points with N > 0"),
    (lambda: sk.PointSet(torch.rand(10, 2), {"target": torch.rand(9, 1)}), "'target' has 9 rows for 10 points"),
    (lambda: sk.PointSet(torch.rand(10, 2), batch_size=0), "batch_size must be at least 1"),
])
def test_a_point_set_refuses_bad_shapes(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# --- GridSamples ----------------------------------------------------------------------------

def test_grid_samples_coordinates_are_the_row_major_grid_over_minus_one_to_one():
    shape = (3, 4, 5)
    grid = sk.GridSamples(shape, {"index": torch.arange(60)})
    axes = [torch.linspace(-1, 1, n) for n in shape]
    expected = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)  # (60, 3), row-major
    points, data = grid.sample(generator())
    assert grid.size == 60 and torch.allclose(points, expected, atol=1e-6)
    assert torch.equal(data["index"], torch.arange(60))
    index = torch.tensor([0, 7, 59, 23])
    assert torch.allclose(grid.coordinates(index), expected[index], atol=1e-6)
    subset, rows = sk.GridSamples(shape, {"index": torch.arange(60)}, batch_size=16).sample(generator(3))
    assert subset.shape == (16, 3)
    assert torch.allclose(subset, expected[rows["index"]], atol=1e-6)  # coordinates and data agree
    flat, _ = sk.GridSamples((1, 4)).sample(generator())
    assert torch.equal(flat[:, 0], torch.zeros(4))  # a single position sits at 0


def test_grid_samples_refuse_bad_shapes():
    with pytest.raises(ValueError, match="positive sizes"):
        sk.GridSamples((4, 0))
    with pytest.raises(ValueError, match="has 11 rows for 12 grid points"):
        sk.GridSamples((3, 4), {"target": torch.zeros(11, 1)})


# --- Box and BoxBoundary --------------------------------------------------------------------

def fractions_per_quarter(values: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Fraction of ``values`` in each quarter of [low, high]."""
    quarter = ((values - low) / (high - low) * 4).clamp(0, 3.999).long()
    return torch.bincount(quarter, minlength=4).float() / len(values)


def test_box_points_are_uniform_within_the_bounds_of_every_axis():
    low, high = [-2.0, 0.0, 5.0], [2.0, 0.5, 5.1]
    points, data = sk.Box(low, high, 8000).sample(generator())
    assert points.shape == (8000, 3) and data == {}
    for axis in range(3):
        column = points[:, axis]
        assert low[axis] <= column.min() and column.max() <= high[axis]
        assert torch.allclose(fractions_per_quarter(column, low[axis], high[axis]), torch.full((4,), 0.25), atol=0.02)
    # negative control: the same check tells a non-uniform draw (squared uniforms) from a uniform one
    skewed = low[0] + (high[0] - low[0]) * torch.rand(8000, generator=generator(1)) ** 2
    assert not torch.allclose(fractions_per_quarter(skewed, low[0], high[0]), torch.full((4,), 0.25), atol=0.02)


@pytest.mark.parametrize("low, high, size, message", [
    ([0, 1], [1, 1], 4, "low < high on every axis"),
    ([0, 0], [1, 1, 1], 4, "low < high on every axis"),
    ([0], [1], 0, "batch_size must be at least 1"),
])
def test_a_box_refuses_bad_bounds(low, high, size, message):
    with pytest.raises(ValueError, match=message):
        sk.Box(low, high, size)
    with pytest.raises(ValueError, match=message):
        sk.BoxBoundary(low, high, size)


def test_box_boundary_points_in_3d_are_on_the_faces_with_outward_normals():
    low, high = torch.tensor([0.0, -1.0, 2.0]), torch.tensor([1.0, 1.0, 2.5])  # sides 1, 2, 0.5
    points, data = sk.BoxBoundary(low, high, 30_000).sample(generator())
    normal = data["normal"]
    assert points.shape == normal.shape == (30_000, 3)
    axis = normal.abs().argmax(dim=1)
    assert torch.equal(normal.abs().sum(dim=1), torch.ones(30_000))  # ±e_axis
    on_face = torch.where(normal[torch.arange(30_000), axis] > 0, high[axis], low[axis])
    assert torch.equal(points[torch.arange(30_000), axis], on_face)
    assert ((points >= low) & (points <= high)).all()
    centre = (low + high) / 2
    assert ((points - centre) * normal).sum(dim=1).min() > 0  # outward
    # faces across an axis weigh the area of the other two sides: 1 (x), 0.5 (y), 2 (z) of 3.5
    shares = torch.bincount(axis, minlength=3).float() / 30_000
    assert torch.allclose(shares, torch.tensor([1.0, 0.5, 2.0]) / 3.5, atol=0.01)
    assert (normal.sum(dim=1) > 0).float().mean() == pytest.approx(0.5, abs=0.01)  # each face of a pair alike


# --- Sampler --------------------------------------------------------------------------------

def test_a_sampler_passes_its_data_and_checks_the_shape_of_what_it_draws():
    def ring(g, count):
        angle = torch.rand(count, generator=g) * 2 * torch.pi
        points = torch.stack([angle.cos(), angle.sin()], dim=1)
        return points, {"normal": points.clone()}

    points, data = sk.Sampler(ring, 32).sample(generator())
    assert points.shape == (32, 2) and torch.allclose(points.norm(dim=1), torch.ones(32))
    assert torch.equal(data["normal"], points)
    for wrong in (lambda g, n: torch.zeros(n), lambda g, n: torch.zeros(n - 1, 2), lambda g, n: torch.zeros(1, n, 2)):
        with pytest.raises(ValueError, match=r"expected \(32, d\)"):
            sk.Sampler(wrong, 32).sample(generator())
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        sk.Sampler(ring, 0)


# --- Problem ------------------------------------------------------------------------------

def test_constraints_on_one_domain_see_one_batch_drawn_afresh_every_step():
    """Through the training loop: the two constraints on ``shared`` see the same points at every
    step, ``other`` its own; each step draws new points."""
    seen = {"value": [], "slope": [], "other": []}

    def recording(name, needs_gradient=False):
        def residual(fields):
            if fields.points.shape[0] == 10:  # the training batches (Problem.check looks at a few points)
                seen[name].append(fields.points.detach().clone())
            return fields.gradient if needs_gradient else fields.value
        return residual

    shared = sk.PointSet(torch.rand(200, 2), batch_size=10)
    other = sk.PointSet(torch.rand(200, 2), batch_size=10)
    problem = sk.Problem([
        sk.Constraint("value", recording("value"), shared),
        sk.Constraint("slope", recording("slope", True), shared, needs=("jacobian",)),
        sk.Constraint("other", recording("other"), other),
    ])
    sk.fit(tiny_network(), problem, sk.TrainConfig(steps=3, compile=False, device="cpu"), progress=False)
    assert [len(v) for v in seen.values()] == [3, 3, 3]
    for step in range(3):
        assert torch.equal(seen["value"][step], seen["slope"][step])
        assert not torch.equal(seen["value"][step], seen["other"][step])
    assert not torch.equal(seen["value"][0], seen["value"][1])


def test_a_problem_refuses_no_constraints_twice_a_name_and_unknown_derivatives():
    domain = sk.PointSet(torch.rand(4, 1))
    with pytest.raises(ValueError, match="at least one constraint"):
        sk.Problem([])
    with pytest.raises(ValueError, match="names must be unique"):
        sk.Problem([sk.Constraint("a", lambda f: f.value, domain), sk.Constraint("a", lambda f: f.value, domain)])
    with pytest.raises(ValueError, match="unknown derivative curl"):
        sk.Constraint("c", lambda f: f.value, domain, needs=("curl",))


def test_the_train_config_batch_size_applies_to_point_sets_without_their_own():
    """``TrainConfig.batch_size`` is the points per constraint per step: a PointSet made without a
    batch size of its own draws that many under :func:`sirenkit.studies.solve`."""
    sizes = []

    def residual(fields):
        sizes.append(fields.points.shape[0])
        return fields.value - fields.data["target"]

    points = torch.linspace(-1, 1, 64)[:, None]
    problem = sk.Problem([sk.Constraint("curve", residual, sk.PointSet(points, {"target": points.sin()}))])
    network = sk.NetworkConfig(in_features=1, out_features=1, hidden_features=8, hidden_layers=2)
    sk.solve(problem, network, sk.TrainConfig(steps=3, batch_size=8, compile=False, device="cpu"), progress=False)
    training = sizes[-3:]  # the last three calls are the three steps (Problem.check comes first)
    assert training == [8, 8, 8], sizes


def poisson_grid(height: int = 12, width: int = 16):
    pixels = smooth_image(height, width, channels=1)
    return sk.coordinate_grid((height, width)), pixels


@pytest.mark.parametrize("per_side", [None, 3])
def test_points_per_step_counts_the_boundary_points_grid_boxes_draw(per_side):
    coords, pixels = poisson_grid()
    settings = {} if per_side is None else {"points_per_side": per_side}
    boxes = GridBoxes(coords, derivative_targets(pixels, "laplacian"), boxes=5, **settings)
    drawn, _ = boxes.sample(generator())
    assert len(drawn) == 5 * 4 * (per_side or 4)  # B boxes, 4 sides, K points on each
    problem = sk.Problem([sk.Constraint("boxes", lambda f: f.value, boxes, needs=("jacobian",))])
    assert problem.points_per_step == len(drawn)


def test_points_per_step_counts_both_ends_of_every_segment_and_shared_domains_once():
    coords, pixels = poisson_grid()
    segments = GridSegments(coords, derivative_targets(pixels, "gradient"), batch_size=6)
    drawn, _ = segments.sample(generator())
    assert len(drawn) == 12  # a start and an end per segment
    shared = sk.PointSet(coords, batch_size=10)
    problem = sk.Problem([
        sk.Constraint("segments", lambda f: f.value, segments),
        sk.Constraint("value", lambda f: f.value, shared),
        sk.Constraint("slope", lambda f: f.gradient, shared, needs=("jacobian",)),
    ])
    assert problem.points_per_step == 12 + 10


@pytest.mark.parametrize("error", [RuntimeError("The size of tensor a (4) must match\nthe size of tensor b (3)"),
                                   TypeError("unsupported operand type(s)"), IndexError("index 7 is out of bounds")])
def test_check_names_the_constraint_in_one_line_and_keeps_the_residuals_error_as_cause(error):
    def residual(fields):
        raise error

    problem = sk.Problem([sk.Constraint("broken", residual, sk.PointSet(torch.rand(8, 2)))])
    with pytest.raises(ValueError) as raised:
        problem.check(tiny_network())
    message = str(raised.value)
    assert "constraint 'broken'" in message and "\n" not in message
    assert raised.value.__cause__ is error  # the traceback leads to the line of the residual


def test_check_keeps_the_key_error_of_missing_data_as_cause():
    problem = sk.Problem([sk.Constraint("data", lambda f: f.value - f.data["target"], sk.PointSet(torch.rand(8, 2)))])
    with pytest.raises(ValueError, match="constraint 'data'.*'target'") as raised:
        problem.check(tiny_network())
    assert isinstance(raised.value.__cause__, KeyError)
