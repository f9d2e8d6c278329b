"""Geometry and its domains: areas and centroids by sampling, boundaries on the zero set with outward
unit normals and uniform by length, exact distances against a brute-force reference, the errors,
and the domains' shapes, dtypes and reproducibility."""

from __future__ import annotations

import math

import pytest
import torch
from matplotlib.path import Path as MatplotlibPath

from sirenkit.problems.geometry import Difference, Disk, Geometry, Intersection, Interval, Polygon, Rectangle, Union
from sirenkit.problems.spacetime import Boundary, Final, Initial, Interior, SpaceTime, part_indices, part_mask

L_SHAPE = [(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)]
"""An L of area 3 and centroid (5/6, 5/6): the square [0, 2] x [0, 1] and the square [0, 1] x [1, 2]."""


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def poisson_2d_c(name: str | None = None) -> Geometry:
    """PINNacle's Poisson 2d-C domain: the square [-0.5, 0.5]² less four disks of radius 0.1."""
    domain: Geometry = Rectangle([-0.5, -0.5], [0.5, 0.5])
    for x in (-0.3, 0.3):
        for y in (-0.3, 0.3):
            domain = domain - Disk([x, y], 0.1, name=name)
    return domain


def area_estimate(geometry: Geometry, low, high, count: int = 200_000) -> tuple[float, float]:
    """The area by the share of uniform points of the box `[low, high]` that `contains` accepts,
    and its standard error."""
    low, high = torch.tensor(low, dtype=torch.float64), torch.tensor(high, dtype=torch.float64)
    points = low + torch.rand(count, len(low), generator=generator(1), dtype=torch.float64) * (high - low)
    share = float(geometry.contains(points).double().mean())
    box = float((high - low).prod())
    return share * box, box * math.sqrt(share * (1 - share) / count)


@pytest.mark.parametrize("geometry, exact", [
    (Rectangle([0, 0], [2, 1]), 2.0),
    (Disk([0.2, -0.1], 0.7), math.pi * 0.49),
    (Polygon([(0, 0), (1.5, 0), (0, 1)]), 0.75),
    (Polygon(L_SHAPE), 3.0),
    (poisson_2d_c(), 1 - 4 * math.pi * 0.01),
    (Disk([0, 0], 1) & Rectangle([0, 0], [2, 2]), math.pi / 4),
    (Disk([0, 0], 1) | Disk([1, 0], 1), 2 * math.pi - (2 * math.pi / 3 - math.sqrt(3) / 2)),
])
def test_the_share_of_a_box_that_contains_accepts_gives_the_exact_area(geometry, exact):
    estimate, error = area_estimate(geometry, [-1.2, -1.2], [2.2, 2.2])
    assert abs(estimate - exact) < 4 * error, f"{estimate} vs {exact} ± {error}"


def test_the_area_check_fails_for_a_square_without_its_holes():
    """Negative control: the same check tells the square from the square less its four disks."""
    estimate, error = area_estimate(poisson_2d_c(), [-1.2, -1.2], [2.2, 2.2])
    assert abs(estimate - 1.0) > 4 * error


def test_interior_samples_are_inside_and_their_mean_is_the_centroid_in_either_orientation():
    for vertices in (L_SHAPE, L_SHAPE[::-1]):
        polygon = Polygon(vertices)
        points = polygon.sample_interior(40_000, generator())
        assert points.shape == (40_000, 2) and points.dtype == torch.float32
        assert bool(polygon.contains(points).all())
        error = 4 * float(points.std(dim=0).max()) / math.sqrt(len(points))
        assert torch.allclose(points.double().mean(dim=0), torch.tensor([5 / 6, 5 / 6], dtype=torch.float64),
                              atol=error)
    # negative control: points uniform in the bounding box miss the centroid by far more than that
    box_points = Rectangle([0, 0], [2, 2]).sample_interior(40_000, generator())
    assert float((box_points.double().mean(dim=0) - 5 / 6).abs().min()) > 10 * error


def test_a_difference_samples_none_of_its_holes_and_the_estimated_boundary_length_is_close():
    domain = poisson_2d_c()
    points = domain.sample_interior(20_000, generator())
    centres = torch.tensor([[-0.3, -0.3], [-0.3, 0.3], [0.3, -0.3], [0.3, 0.3]])
    assert float(torch.cdist(points, centres).min()) >= 0.1 - 1e-6
    assert domain.boundary_measure == pytest.approx(4 + 0.8 * math.pi, rel=0.01)


BOUNDARY_CASES = {
    "interval": Interval(-1.0, 2.0),
    "rectangle": Rectangle([0, 0], [2, 1]),
    "disk": Disk([0.1, 0.2], 0.5),
    "polygon": Polygon(L_SHAPE[::-1]),
    "union": Disk([0, 0], 1) | Disk([1, 0], 1),
    "intersection": Intersection(Disk([0, 0], 1), Rectangle([0, -2], [2, 2])),
    "difference": poisson_2d_c(),
    "nested": (Rectangle([0, 0], [2, 1]) | Rectangle([0, 0], [1, 2])) - Disk([0.5, 0.5], 0.2),
    "box-3d": Rectangle([0, 0, 0], [1, 2, 3]),
    "ball-3d": Disk([0, 0, 0], 0.5),
    "cube-less-ball": Rectangle([-1, -1, -1], [1, 1, 1]) - Disk([0, 0, 0], 0.5),
}


@pytest.mark.parametrize("name", BOUNDARY_CASES)
def test_boundary_points_are_on_the_zero_set_with_outward_unit_normals(name):
    geometry = BOUNDARY_CASES[name]
    points, normals, part = geometry.sample_boundary(4000, generator())
    assert points.shape == normals.shape == (4000, geometry.dims) and part.shape == (4000,)
    assert points.dtype == normals.dtype == torch.float32 and part.dtype == torch.int64
    assert float(geometry.distance(points).abs().max()) < 1e-5
    assert torch.allclose(normals.norm(dim=1), torch.ones(4000), atol=1e-6)
    assert 0 <= int(part.min()) and int(part.max()) < len(geometry.parts)
    step = 1e-3 * normals.double()
    assert bool((~geometry.contains(points.double() + step)).all())
    assert bool(geometry.contains(points.double() - step).all())
    # negative control: the check refuses random unit directions
    directions = torch.randn(points.shape, generator=generator(5), dtype=torch.float64)
    random_step = 1e-3 * directions / directions.norm(dim=1, keepdim=True)
    assert not bool((~geometry.contains(points.double() + random_step)).all())


def test_a_holes_rim_has_normals_pointing_into_the_hole():
    points, normals, part = poisson_2d_c(name="hole").sample_boundary(4000, generator())
    on_rim = part == poisson_2d_c(name="hole").parts.index("hole")
    centre = torch.sign(points[on_rim]) * 0.3
    # out of the domain is into the disk: towards its centre
    assert torch.allclose(normals[on_rim], (centre - points[on_rim]) / 0.1, atol=1e-4)


def part_shares(geometry: Geometry, count: int = 60_000) -> dict[str, float]:
    _, _, part = geometry.sample_boundary(count, generator())
    return {name: float((part == index).double().mean()) for index, name in enumerate(geometry.parts)}


def assert_shares(shares: dict[str, float], expected: dict[str, float], count: int = 60_000) -> None:
    for name, share in expected.items():
        error = 4 * math.sqrt(share * (1 - share) / count) + 1e-9
        assert abs(shares[name] - share) < error, f"{name}: {shares[name]:.4f} vs {share:.4f}"


def test_boundary_points_are_shared_between_the_parts_by_length_or_area():
    assert_shares(part_shares(Rectangle([0, 0], [2, 1])),
                  {"left": 1 / 6, "right": 1 / 6, "bottom": 1 / 3, "top": 1 / 3})
    assert_shares(part_shares(Interval(0, 5)), {"left": 0.5, "right": 0.5})
    assert_shares(part_shares(Polygon([(0, 0), (3, 0), (0, 4)])), {"edge0": 0.25, "edge1": 5 / 12, "edge2": 1 / 3})
    hole = 2 * math.pi * 0.2 / (4 + 2 * math.pi * 0.2)
    shares = part_shares(Rectangle([0, 0], [1, 1]) - Disk([0.5, 0.5], 0.2, name="hole"))
    assert_shares(shares, {"hole": hole, "left": (1 - hole) / 4})
    # negative control: an even split between the rim and the square is refused
    with pytest.raises(AssertionError):
        assert_shares(shares, {"hole": 0.5})


def test_a_union_keeps_each_piece_of_its_boundary_once():
    """The L as two overlapping named rectangles: perimeter 8; shared faces drawn once (from the first),
    faces inside the other rectangle not at all."""
    ell = Rectangle([0, 0], [2, 1], name="a") | Rectangle([0, 0], [1, 2], name="b")
    assert_shares(part_shares(ell), {"a.left": 1 / 8, "a.right": 1 / 8, "a.bottom": 2 / 8, "a.top": 1 / 8,
                                     "b.left": 1 / 8, "b.right": 1 / 8, "b.bottom": 0.0, "b.top": 1 / 8})
    assert ell.boundary_measure == pytest.approx(8.0, rel=0.01)


def test_3d_boundaries_lie_on_the_sphere_and_the_box_faces_by_area():
    ball = Disk([0.1, -0.2, 0.3], 0.4)
    assert ball.parts == ("sphere",) and ball.boundary_measure == pytest.approx(4 * math.pi * 0.16)
    points, normals, _ = ball.sample_boundary(5000, generator())
    offset = points - torch.tensor([0.1, -0.2, 0.3])
    assert torch.allclose(offset.norm(dim=1), torch.full((5000,), 0.4), atol=1e-6)
    assert torch.allclose(normals, offset / 0.4, atol=1e-5)
    # an isotropic direction has each coordinate uniform on [-1, 1]: mean 0, variance 1/3
    assert float(normals.mean(dim=0).abs().max()) < 4 * math.sqrt(1 / 3 / 5000)
    box = Rectangle([0, 0, 0], [1, 2, 3])  # faces across x: 6, across y: 3, across z: 2; total 22
    assert box.boundary_measure == pytest.approx(22.0)
    assert_shares(part_shares(box), {"left": 6 / 22, "right": 6 / 22, "bottom": 3 / 22, "top": 3 / 22,
                                     "back": 2 / 22, "front": 2 / 22})


def brute_force_distance(geometry: Geometry, boundary: torch.Tensor, points: torch.Tensor,
                         inside: torch.Tensor) -> torch.Tensor:
    """The distance to densely spaced boundary points, negative where `inside`."""
    nearest = torch.cdist(points, boundary).min(dim=1).values
    return torch.where(inside, -nearest, nearest)


def edges(vertices, spacing: float = 1e-3) -> torch.Tensor:
    """Points every `spacing` along a closed polyline."""
    corners = torch.tensor(vertices, dtype=torch.float64)
    pieces = []
    for start, end in zip(corners, corners.roll(-1, dims=0)):
        steps = int(math.ceil(float((end - start).norm()) / spacing)) + 1
        pieces.append(start + torch.linspace(0, 1, steps, dtype=torch.float64)[:, None] * (end - start))
    return torch.cat(pieces)


def test_primitive_distances_match_a_brute_force_reference():
    points = torch.rand(600, 2, generator=generator(3), dtype=torch.float64) * 4 - 1.5
    rectangle = Rectangle([-0.5, 0.0], [1.5, 1.0])
    reference = brute_force_distance(rectangle, edges([(-0.5, 0), (1.5, 0), (1.5, 1), (-0.5, 1)]), points,
                                     ((points >= torch.tensor([-0.5, 0.0])) & (points <= torch.tensor([1.5, 1.0])))
                                     .all(dim=1))
    assert torch.allclose(rectangle.distance(points), reference, atol=1e-3)
    angle = torch.linspace(0, 2 * math.pi, 8000, dtype=torch.float64)
    circle = torch.stack([0.3 + 0.8 * angle.cos(), -0.2 + 0.8 * angle.sin()], dim=1)
    disk = Disk([0.3, -0.2], 0.8)
    inside = (points - torch.tensor([0.3, -0.2])).norm(dim=1) < 0.8
    assert torch.allclose(disk.distance(points), brute_force_distance(disk, circle, points, inside), atol=1e-3)
    star = [(math.cos(k * math.pi / 5) * (1.0 if k % 2 == 0 else 0.45),
             math.sin(k * math.pi / 5) * (1.0 if k % 2 == 0 else 0.45)) for k in range(10)]
    for vertices in (L_SHAPE, star, star[::-1]):
        polygon = Polygon(vertices)
        inside = torch.from_numpy(MatplotlibPath(vertices).contains_points(points.numpy()))
        reference = brute_force_distance(polygon, edges(vertices), points, inside)
        assert torch.allclose(polygon.distance(points), reference, atol=1e-3)
    assert polygon.distance(points.float()).dtype == torch.float32


def test_a_combinations_distance_has_the_exact_sign():
    domain = poisson_2d_c()
    points = torch.rand(2000, 2, generator=generator(4), dtype=torch.float64) - 0.5
    centres = torch.tensor([[-0.3, -0.3], [-0.3, 0.3], [0.3, -0.3], [0.3, 0.3]], dtype=torch.float64)
    in_a_hole = torch.cdist(points, centres).min(dim=1).values < 0.1
    assert torch.equal(domain.distance(points) > 0, in_a_hole)


def test_names_prefix_the_parts_and_select_them_by_prefix():
    assert Rectangle([0, 0], [1, 1], name="room").parts == ("room.left", "room.right", "room.bottom", "room.top")
    assert Disk([0, 0], 1, name="hole").parts == ("hole",)
    assert Polygon(L_SHAPE).parts[-1] == "edge5"
    room = Rectangle([0, 0], [4, 3], name="room") - Disk([1, 1], 0.2, name="hole") - Disk([3, 1], 0.2, name="hole")
    assert room.parts == ("room.left", "room.right", "room.bottom", "room.top", "hole")
    assert part_indices(room, "room") == (0, 1, 2, 3)
    assert part_indices(room, ["hole", "room.top"]) == (3, 4)
    points, _, part = room.sample_boundary(1000, generator())
    assert torch.equal(part_mask(room, "hole", points, part), part == 4)
    above = part_mask(room, lambda p: p[:, 1] > 2.5, points, part)
    assert torch.equal(above, points[:, 1] > 2.5) and bool((part[above] <= 3).all())


def test_an_unknown_part_name_is_refused_with_the_list_of_parts():
    room = Rectangle([0, 0], [1, 1], name="room")
    with pytest.raises(ValueError, match=r"no boundary part 'left'; the parts are room.left, room.right"):
        part_indices(room, "left")
    with pytest.raises(ValueError, match="no boundary part 'roo'"):
        Boundary(room, 10, on=["room.top", "roo"])


def test_a_selection_of_no_boundary_point_is_refused():
    with pytest.raises(ValueError, match="selects no point of the boundary"):
        Boundary(Rectangle([0, 0], [1, 1]), 10, on=lambda p: p[:, 0] > 5)
    # a named part that the combination removed entirely
    covered = Rectangle([0, 0], [2, 2]) | Disk([1, 1], 0.5, name="inner")
    with pytest.raises(ValueError, match="selects no point of the boundary"):
        Boundary(covered, 10, on="inner")
    with pytest.raises(ValueError, match="the predicate returned shape"):
        Boundary(Rectangle([0, 0], [1, 1]), 10, on=lambda p: p > 0.5)


@pytest.mark.parametrize("make, error, message", [
    (lambda: Polygon([(0, 0), (1, 1)]), ValueError, "V >= 3"),
    (lambda: Polygon([(0, 0), (1, 1), (2, 2)]), ValueError, "no area"),
    (lambda: Rectangle([0, 0], [1, 0]), ValueError, "low < high"),
    (lambda: Rectangle([0] * 4, [1] * 4), ValueError, "1 to 3 axes"),
    (lambda: Disk([0, 0], 0.0), ValueError, "radius above 0"),
    (lambda: Disk([0], 1.0), ValueError, "2- or 3-D"),
    (lambda: Interval(1, 1), ValueError, "low < high"),
    (lambda: Rectangle([0, 0], [1, 1], name=""), ValueError, "non-empty"),
    (lambda: Rectangle([0, 0], [1, 1]) | Rectangle([0, 0, 0], [1, 1, 1]), ValueError, "2-D geometry with a 3-D"),
    (lambda: Disk([0, 0], 1) - Interval(0, 1), ValueError, "2-D geometry with a 1-D"),
    (lambda: Union(Disk([0, 0], 1), "disk"), TypeError, "expected a Geometry"),
    (lambda: Difference(SpaceTime(Interval(0, 1), 0, 1), Rectangle([0, 0], [1, 1])), TypeError, "cannot be combined"),
    (lambda: SpaceTime(Interval(0, 1), 1.0, 1.0), ValueError, "start < end"),
    (lambda: SpaceTime(Interval(0, 1), 2.0, 1.0), ValueError, "start < end"),
    (lambda: SpaceTime(SpaceTime(Interval(0, 1), 0, 1), 0, 1), TypeError, "spatial Geometry"),
    (lambda: Interior(Disk([0, 0], 1), 0), ValueError, "batch_size must be at least 1"),
    (lambda: Boundary(Disk([0, 0], 1), -1), ValueError, "batch_size must be at least 1"),
    (lambda: Initial(Disk([0, 0], 1), 10), TypeError, "expected a SpaceTime"),
    (lambda: Disk([0, 0], 1).sample_interior(0, generator()), ValueError, "count must be at least 1"),
    (lambda: Disk([0, 0], 1).contains(torch.zeros(5, 3)), ValueError, r"expected \(N, 2\) points"),
])
def test_bad_input_is_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_combination_of_no_area_or_no_boundary_is_refused_when_sampled():
    apart = Disk([0, 0], 1) & Disk([1.2, 1.2], 0.4)  # bounding boxes overlap, the disks do not
    with pytest.raises(ValueError, match=r"no area/volume \(\(Disk"):
        apart.sample_interior(10, generator())
    with pytest.raises(ValueError, match="no boundary"):
        apart.sample_boundary(10, generator())
    with pytest.raises(ValueError, match="bounding box is empty"):
        (Disk([0, 0], 1) & Disk([3, 0], 1)).sample_interior(10, generator())
    with pytest.raises(ValueError, match="no boundary"):
        (Disk([0, 0], 0.5) - Rectangle([-1, -1], [1, 1])).sample_boundary(10, generator())


def test_domains_draw_float32_points_of_their_batch_size_reproducibly():
    domain = poisson_2d_c(name="hole")
    makers = (lambda: Interior(domain, 300), lambda: Boundary(domain, 300), lambda: Boundary(domain, 300, on="hole"))
    for make in makers:
        first, second = make(), make().to(torch.device("cpu"))
        points, data = first.sample(generator(7))
        again, data_again = second.sample(generator(7))
        assert first.size == first.batch_size == 300
        assert points.shape == (300, 2) and points.dtype == torch.float32 and points.device.type == "cpu"
        assert torch.equal(points, again) and data.keys() == data_again.keys()
        if data:
            assert data["normal"].shape == (300, 2) and data["normal"].dtype == torch.float32
            assert torch.equal(data["normal"], data_again["normal"])
    assert not torch.equal(Interior(domain, 300).sample(generator(7))[0], Interior(domain, 300).sample(generator(8))[0])


def test_a_boundary_domain_on_a_part_draws_only_that_part_and_uniformly():
    rim, data = Boundary(poisson_2d_c(name="hole"), 4000, on="hole").sample(generator())
    distance_to_centre = (rim - torch.sign(rim) * 0.3).norm(dim=1)
    assert torch.allclose(distance_to_centre, torch.full((4000,), 0.1), atol=1e-5)
    # the four holes are equally long: each gets a quarter
    quadrant = (rim[:, 0] > 0).long() * 2 + (rim[:, 1] > 0).long()
    assert float((torch.bincount(quadrant, minlength=4) / 4000 - 0.25).abs().max()) < 4 * math.sqrt(0.25 * 0.75 / 4000)
    top, _ = Boundary(Rectangle([0, 0], [2, 1]), 500, on=lambda p: p[:, 1] > 0.999).sample(generator())
    assert bool((top[:, 1] > 0.999).all())


def test_a_spacetime_draws_t_in_its_span_lateral_normals_and_the_first_and_last_instants():
    plate = SpaceTime(Rectangle([-1, -1], [1, 1]) - Disk([0, 0], 0.25, name="hole"), 0.5, 2.0)
    assert plate.dims == 3 and plate.parts == ("left", "right", "bottom", "top", "hole")
    low, high = plate.bounds
    assert low.tolist() == [0.5, -1, -1] and high.tolist() == [2.0, 1, 1]
    points, _ = Interior(plate, 2000).sample(generator())
    assert points.shape == (2000, 3) and bool(plate.contains(points).all())
    assert 0.5 <= float(points[:, 0].min()) and float(points[:, 0].max()) <= 2.0
    assert float(points[:, 0].mean()) == pytest.approx(1.25, abs=4 * 1.5 / math.sqrt(12 * 2000))
    assert float(points[:, 1:].norm(dim=1).min()) >= 0.25
    lateral, data = Boundary(plate, 2000).sample(generator())
    assert bool((data["normal"][:, 0] == 0).all())
    assert torch.allclose(data["normal"].norm(dim=1), torch.ones(2000))
    assert float(plate.distance(lateral).abs().max()) < 1e-5
    hole, _ = Boundary(plate, 500, on="hole").sample(generator())
    assert torch.allclose(hole[:, 1:].norm(dim=1), torch.full((500,), 0.25), atol=1e-6)
    start, data = Initial(plate, 400).sample(generator())
    assert data == {} and start.shape == (400, 3) and bool((start[:, 0] == 0.5).all())
    assert bool(plate.contains(start).all())
    end, _ = Final(plate, 400).sample(generator())
    assert bool((end[:, 0] == 2.0).all())


def test_a_spacetime_distance_is_that_of_the_product():
    rod = SpaceTime(Interval(0, 1), 0, 2)
    points = torch.tensor([[1.0, 0.5], [1.0, 0.9], [-1.0, 0.5], [3.0, 2.0], [1.0, 1.5]], dtype=torch.float64)
    expected = torch.tensor([-0.5, -0.1, 1.0, math.sqrt(2.0), 0.5], dtype=torch.float64)
    assert torch.allclose(rod.distance(points), expected)
