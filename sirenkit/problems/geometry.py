"""Geometry: the shapes a physics-informed problem lives on (`Rectangle`, `Interval`, `Disk`,
`Polygon`, and their combinations `a | b`, `a & b`, `a - b`), their boundaries and normals.

A combination's boundary lies on its primitives' boundaries: it draws candidates from them in
proportion to their exact measures and keeps those on its own boundary, so it is uniform on it.
At a node of children `A`, `B` and tolerance `tol` (1e-6 of its bounding box's diagonal):

| node  | from ∂A kept where | from ∂B kept where | ∂B normals |
|-------|--------------------|--------------------|------------|
| A ∪ B | d_B ≥ -tol         | d_A ≥ tol          | as drawn   |
| A ∩ B | d_B ≤ tol          | d_A ≤ -tol         | as drawn   |
| A − B | d_B ≥ -tol         | d_A ≤ -tol         | flipped    |

`∂B`'s points on `∂A` are left to `A`, so that a face both share is drawn once. A face where two
shapes touch from opposite sides (two abutting rectangles) stays in a union's boundary, as in
DeepXDE: overlap such shapes instead. Computation is in float64; points come back as float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from sirenkit.problems.domains import Bounds

_TOLERANCE = 1e-6
_EMPTY_ROUNDS = 16
_SIDE_NAMES = (("left", "right"), ("bottom", "top"), ("back", "front"))


def _draw_in_rounds(draw: Callable[[int], tuple[torch.Tensor, ...]], count: int,
                    nothing: str) -> tuple[torch.Tensor, ...]:
    """Rejection sampling: `draw(n)` gives `n` candidates' tensors and, last, their `(n,)` keep mask.

    Each round is sized by the rate kept so far; kept candidates are independent draws of the
    accepted law, so the first `count` of them are too."""
    kept: list[tuple[torch.Tensor, ...]] = []
    have = tried = rounds = 0
    while have < count:
        rate = have / tried if have else 0.5 ** (rounds + 1)
        size = min(math.ceil((count - have) / rate * 1.1) + 64, max(1 << 16, 4 * count))
        *values, keep = draw(size)
        kept.append(tuple(value[keep] for value in values))
        have, tried, rounds = have + int(keep.sum()), tried + size, rounds + 1
        if have == 0 and rounds >= _EMPTY_ROUNDS:
            raise ValueError(f"{nothing}: none of {tried} candidates drawn in {rounds} rounds was kept")
    return tuple(torch.cat(column)[:count] for column in zip(*kept))


def _vector(values: Bounds, what: str) -> torch.Tensor:
    vector = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
    if not bool(torch.isfinite(vector).all()):
        raise ValueError(f"{what} must be finite, got {vector.tolist()}")
    return vector


def _box_distance(q: torch.Tensor) -> torch.Tensor:
    """The exact signed distance to a box, from `q = |x - centre| - half sides`, `(N, k)`."""
    return q.clamp(min=0).norm(dim=1) + q.max(dim=1).values.clamp(max=0)


class Geometry:
    """A region of `R^d`: signed distance, membership, and uniform points inside and on the boundary.

    A primitive gives `_signed_distance` and `_draw_boundary`; a combination its rules. Samplers
    take a CPU `torch.Generator`, compute in float64 and return float32 points on the CPU.

    Attributes:
        dims: The number of coordinates `d`.
        parts: The names of the boundary's parts; `sample_boundary` returns indices into it.
    """

    dims: int
    parts: tuple[str, ...]
    _combinable = True

    def __init__(self, dims: int, parts: tuple[str, ...], low: torch.Tensor, high: torch.Tensor) -> None:
        self.dims, self.parts = dims, parts
        self._low, self._high = low, high

    @property
    def bounds(self) -> tuple[torch.Tensor, torch.Tensor]:
        """`(low, high)`, float64 `(d,)`: the bounding box (of an empty intersection, `low > high`)."""
        return self._low.clone(), self._high.clone()

    @property
    def tolerance(self) -> float:
        """1e-6 of the bounding box's diagonal: how far outside `contains` still accepts a point."""
        return _TOLERANCE * float((self._high - self._low).clamp(min=0).norm())

    @property
    def boundary_measure(self) -> float:
        """The boundary's length (2-D), area (3-D), or number of end points (1-D)."""
        raise NotImplementedError

    def _signed_distance(self, points: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _draw_boundary(self, count: int, generator: torch.Generator
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A primitive's boundary: `count` float64 points, their normals and part indices."""
        raise NotImplementedError

    def _leaves(self) -> list[Geometry]:
        """The primitives whose boundaries hold this one's."""
        return [self]

    def _keep_on_boundary(self, points: torch.Tensor, normals: torch.Tensor,
                          leaf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Which points drawn on `_leaves()[leaf]` are on this boundary, and their normals here."""
        return torch.ones(points.shape[0], dtype=torch.bool), normals

    def _checked_points(self, points: torch.Tensor) -> torch.Tensor:
        points = torch.as_tensor(points)
        if points.ndim != 2 or points.shape[1] != self.dims:
            raise ValueError(f"expected (N, {self.dims}) points, got shape {tuple(points.shape)}")
        return points

    def distance(self, points: torch.Tensor) -> torch.Tensor:
        """The signed distance to the boundary: negative inside, zero on it, positive outside.

        Exact for the primitives. A combination takes `min(d_A, d_B)` (union), `max(d_A, d_B)`
        (intersection) or `max(d_A, -d_B)` (difference): the sign and the zero set are exact, the
        magnitude only a bound on the distance near some corners.

        Args:
            points: `(N, d)` coordinates, on any device.

        Returns:
            `(N,)` distances, in the points' floating dtype (float64 for integer points).

        Raises:
            ValueError: Points not `(N, d)`.
        """
        points = self._checked_points(points)
        dtype = points.dtype if points.is_floating_point() else torch.float64
        return self._signed_distance(points.to(torch.float64)).to(dtype)

    def contains(self, points: torch.Tensor) -> torch.Tensor:
        """Whether points are inside or on the boundary (up to `tolerance`).

        Args:
            points: `(N, d)` coordinates, on any device.

        Returns:
            `(N,)` booleans.

        Raises:
            ValueError: Points not `(N, d)`.
        """
        return self._signed_distance(self._checked_points(points).to(torch.float64)) <= self.tolerance

    def sample_interior(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """Points uniform (by area or volume) inside, by rejection from the bounding box.

        Args:
            count: How many.
            generator: The random stream, on the CPU.

        Returns:
            `(count, d)` float32 points.

        Raises:
            ValueError: A count below 1, or no area or volume (many rounds kept no point).
        """
        low, high = self._low, self._high
        nothing = f"the geometry has no area/volume ({self!r})"
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        if not bool((high > low).all()):
            raise ValueError(f"{nothing}: its bounding box is empty")

        def draw(size: int) -> tuple[torch.Tensor, torch.Tensor]:
            points = low + torch.rand(size, self.dims, generator=generator, dtype=torch.float64) * (high - low)
            return points, self._signed_distance(points) <= self.tolerance

        return _draw_in_rounds(draw, count, nothing)[0].float()

    def _draw_candidates(self, count: int, generator: torch.Generator
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Points on the primitives' boundaries, uniform by measure: points, normals, primitive, part."""
        leaves = self._leaves()
        measures = torch.tensor([leaf.boundary_measure for leaf in leaves], dtype=torch.float64)
        leaf = torch.multinomial(measures / measures.sum(), count, replacement=True, generator=generator)
        points = torch.empty(count, self.dims, dtype=torch.float64)
        normals = torch.empty(count, self.dims, dtype=torch.float64)
        part = torch.empty(count, dtype=torch.int64)
        for index, primitive in enumerate(leaves):
            rows = (leaf == index).nonzero().squeeze(1)
            if rows.numel():
                points[rows], normals[rows], local = primitive._draw_boundary(rows.numel(), generator)
                part[rows] = torch.tensor([self.parts.index(name) for name in primitive.parts])[local]
        return points, normals, leaf, part

    def sample_boundary(self, count: int, generator: torch.Generator
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Points uniform (by length or area) on the boundary, with their outward normals and parts.

        Args:
            count: How many.
            generator: The random stream, on the CPU.

        Returns:
            `(points, normals, part)`: `(count, d)` float32 points and outward unit normals, and
            `(count,)` int64 indices into `parts`.

        Raises:
            ValueError: A count below 1, or a combination with no boundary left.
        """
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        if self._leaves() == [self]:
            points, normals, part = self._draw_boundary(count, generator)
        else:
            def draw(size: int) -> tuple[torch.Tensor, ...]:
                points, normals, leaf, part = self._draw_candidates(size, generator)
                keep, normals = self._keep_on_boundary(points, normals, leaf)
                return points, normals, part, keep

            points, normals, part = _draw_in_rounds(draw, count, f"the geometry has no boundary ({self!r})")
        return points.float(), normals.float(), part

    def __or__(self, other: Geometry) -> Union:
        return Union(self, other)

    def __and__(self, other: Geometry) -> Intersection:
        return Intersection(self, other)

    def __sub__(self, other: Geometry) -> Difference:
        return Difference(self, other)


def _prefixed(parts: tuple[str, ...], name: str | None) -> tuple[str, ...]:
    if name is None:
        return parts
    if not name or not isinstance(name, str):
        raise ValueError(f"a name must be a non-empty string, got {name!r}")
    return (name,) if len(parts) == 1 else tuple(f"{name}.{part}" for part in parts)


class Rectangle(Geometry):
    """An axis-aligned box `[low, high]` in 1, 2 or 3 dimensions.

    Its parts, across axis 0, 1, 2: `"left"`/`"right"`, `"bottom"`/`"top"`, `"back"`/`"front"`
    (low side first); the boundary is drawn by face area, or in 1-D the two ends, equally likely.

    Args:
        low: The lower corner.
        high: The upper corner.
        name: When given, the parts are named `name.left`, ...

    Raises:
        ValueError: Corners of another length than 1, 2 or 3, or `low` not below `high` everywhere.
    """

    def __init__(self, low: Bounds, high: Bounds, *, name: str | None = None) -> None:
        low, high = _vector(low, "low"), _vector(high, "high")
        if low.shape != high.shape or not 1 <= low.numel() <= 3 or not bool((high > low).all()):
            raise ValueError(f"a rectangle needs 1 to 3 axes with low < high, got low {low.tolist()}, "
                             f"high {high.tolist()}")
        dims = low.numel()
        parts = tuple(side for axis in range(dims) for side in _SIDE_NAMES[axis])
        super().__init__(dims, _prefixed(parts, name), low, high)
        self._face_areas = torch.stack([(high - low)[[i for i in range(dims) if i != a]].prod() for a in range(dims)])

    def __repr__(self) -> str:
        return f"Rectangle({self._low.tolist()}, {self._high.tolist()})"

    @property
    def boundary_measure(self) -> float:
        return 2 * float(self._face_areas.sum())

    def _signed_distance(self, points: torch.Tensor) -> torch.Tensor:
        low, high = self._low.to(points), self._high.to(points)
        return _box_distance((points - (low + high) / 2).abs() - (high - low) / 2)

    def _draw_boundary(self, count: int, generator: torch.Generator
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        axis = torch.multinomial(self._face_areas, count, replacement=True, generator=generator)
        upper = torch.rand(count, generator=generator, dtype=torch.float64) < 0.5
        unit = torch.rand(count, self.dims, generator=generator, dtype=torch.float64)
        rows = torch.arange(count)
        unit[rows, axis] = upper.double()
        normals = torch.zeros(count, self.dims, dtype=torch.float64)
        normals[rows, axis] = upper.double() * 2 - 1
        return self._low + unit * (self._high - self._low), normals, 2 * axis + upper.long()


class Interval(Rectangle):
    """The interval `[a, b]`: a 1-D `Rectangle`, parts `"left"` (at `a`) and `"right"` (at `b`).

    Args:
        a: The left end.
        b: The right end, above `a`.
        name: When given, the parts are named `name.left`, `name.right`.
    """

    def __init__(self, a: float, b: float, *, name: str | None = None) -> None:
        super().__init__([a], [b], name=name)


class Disk(Geometry):
    """A disk (2-D) or ball (3-D); one boundary part, `"circle"` or `"sphere"` (or `name`).

    Args:
        center: `(2,)` or `(3,)` coordinates.
        radius: Above 0.
        name: When given, the name of the one part.

    Raises:
        ValueError: A centre of another length than 2 or 3, or a radius not above 0.
    """

    def __init__(self, center: Bounds, radius: float, *, name: str | None = None) -> None:
        center = _vector(center, "center")
        if center.numel() not in (2, 3) or not radius > 0 or not math.isfinite(radius):
            raise ValueError(f"a disk needs a 2- or 3-D centre and a radius above 0, got centre {center.tolist()}, "
                             f"radius {radius}")
        dims = center.numel()
        super().__init__(dims, _prefixed(("circle",) if dims == 2 else ("sphere",), name),
                         center - radius, center + radius)
        self.center, self.radius = center, float(radius)

    def __repr__(self) -> str:
        return f"Disk({self.center.tolist()}, {self.radius})"

    @property
    def boundary_measure(self) -> float:
        return 2 * math.pi * self.radius if self.dims == 2 else 4 * math.pi * self.radius ** 2

    def _signed_distance(self, points: torch.Tensor) -> torch.Tensor:
        return (points - self.center.to(points)).norm(dim=1) - self.radius

    def _draw_boundary(self, count: int, generator: torch.Generator
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # a normal Gaussian is isotropic, so its direction is uniform on the sphere
        normals = torch.randn(count, self.dims, generator=generator, dtype=torch.float64)
        normals = normals / normals.norm(dim=1, keepdim=True)
        return self.center + self.radius * normals, normals, torch.zeros(count, dtype=torch.int64)


def _cross(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


class Polygon(Geometry):
    """A simple polygon in 2-D, its vertices in either orientation; part `"edgeK"` joins vertex `K`
    to vertex `K + 1` (the last to the first), in the order given. Edges that cross are not detected.

    Args:
        vertices: `(V, 2)` coordinates, `V ≥ 3`.
        name: When given, the parts are named `name.edge0`, ...

    Raises:
        ValueError: Fewer than 3 vertices, or no area.
    """

    def __init__(self, vertices: torch.Tensor | Sequence[Sequence[float]], *, name: str | None = None) -> None:
        vertices = torch.as_tensor(vertices, dtype=torch.float64)
        if vertices.ndim != 2 or vertices.shape[1] != 2 or vertices.shape[0] < 3:
            raise ValueError(f"a polygon needs (V, 2) vertices with V >= 3, got shape {tuple(vertices.shape)}")
        if not bool(torch.isfinite(vertices).all()):
            raise ValueError("the polygon's vertices must be finite")
        edges = vertices.roll(-1, dims=0) - vertices  # (V, 2)
        area = float(_cross(vertices, vertices.roll(-1, dims=0)).sum()) / 2
        low, high = vertices.min(dim=0).values, vertices.max(dim=0).values
        if abs(area) <= 1e-12 * float((high - low).norm()) ** 2:
            raise ValueError(f"the polygon has no area (signed area {area:g})")
        super().__init__(2, _prefixed(tuple(f"edge{k}" for k in range(len(vertices))), name), low, high)
        self.vertices, self.area = vertices, abs(area)
        self._edges, self._lengths = edges, edges.norm(dim=1)
        # the outward normal turns the edge clockwise for counter-clockwise vertices (area > 0)
        self._normals = math.copysign(1.0, area) * torch.stack([edges[:, 1], -edges[:, 0]], 1) / self._lengths[:, None]

    def __repr__(self) -> str:
        return f"Polygon({len(self.vertices)} vertices)"

    @property
    def boundary_measure(self) -> float:
        return float(self._lengths.sum())

    def _signed_distance(self, points: torch.Tensor) -> torch.Tensor:
        start, edges = self.vertices.to(points), self._edges.to(points)
        relative = points[:, None, :] - start[None]  # (N, V, 2)
        along = ((relative * edges).sum(-1) / (edges * edges).sum(-1)).clamp(0, 1)  # (N, V)
        nearest = (relative - along[..., None] * edges).norm(dim=-1).min(dim=1).values
        # even-odd rule: count the edges a ray towards +x crosses
        y = points[:, 1:]  # (N, 1)
        y0, y1 = start[:, 1], start[:, 1] + edges[:, 1]
        straddles = (y0 > y) != (y1 > y)  # (N, V)
        rise = torch.where(edges[:, 1] == 0, torch.ones_like(y0), edges[:, 1])
        crossing_x = start[:, 0] + (y - y0) * edges[:, 0] / rise
        inside = (straddles & (points[:, :1] < crossing_x)).sum(dim=1) % 2 == 1
        return torch.where(inside, -nearest, nearest)

    def _draw_boundary(self, count: int, generator: torch.Generator
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        edge = torch.multinomial(self._lengths, count, replacement=True, generator=generator)
        along = torch.rand(count, 1, generator=generator, dtype=torch.float64)
        return self.vertices[edge] + along * self._edges[edge], self._normals[edge], edge


class _Combination(Geometry):
    """A CSG node: the union or the intersection of `first` and `second` (or, for a difference, of
    `first` and the complement of `second`, whose distance and normals change sign); the parts are
    the children's, merged by name."""

    _symbol = "|"
    _union = True
    _sign = 1.0

    def __init__(self, first: Geometry, second: Geometry) -> None:
        for child in (first, second):
            if not isinstance(child, Geometry):
                raise TypeError(f"expected a Geometry, got {type(child).__name__}")
            if not child._combinable:
                raise TypeError(f"a {type(child).__name__} cannot be combined: combine the spatial geometries, "
                                "then make a SpaceTime of the result")
        if first.dims != second.dims:
            raise ValueError(f"cannot combine a {first.dims}-D geometry with a {second.dims}-D one")
        self.first, self.second = first, second
        if self._union:
            low, high = torch.minimum(first._low, second._low), torch.maximum(first._high, second._high)
        elif self._sign > 0:
            low, high = torch.maximum(first._low, second._low), torch.minimum(first._high, second._high)
        else:
            low, high = first._low, first._high
        super().__init__(first.dims, tuple(dict.fromkeys(first.parts + second.parts)), low, high)
        self._measure: float | None = None

    def __repr__(self) -> str:
        return f"({self.first!r} {self._symbol} {self.second!r})"

    def _leaves(self) -> list[Geometry]:
        return self.first._leaves() + self.second._leaves()

    @property
    def boundary_measure(self) -> float:
        """An estimate (fixed seed, 65,536 candidates, about 0.5 % error) of the boundary's measure."""
        if self._measure is None:
            points, normals, leaf, _ = self._draw_candidates(1 << 16, torch.Generator().manual_seed(0))
            keep, _ = self._keep_on_boundary(points, normals, leaf)
            total = sum(primitive.boundary_measure for primitive in self._leaves())
            self._measure = total * float(keep.double().mean())
        return self._measure

    def _signed_distance(self, points: torch.Tensor) -> torch.Tensor:
        first, second = self.first._signed_distance(points), self._sign * self.second._signed_distance(points)
        return torch.minimum(first, second) if self._union else torch.maximum(first, second)

    def _keep_on_boundary(self, points: torch.Tensor, normals: torch.Tensor,
                          leaf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keep = torch.zeros(points.shape[0], dtype=torch.bool)
        normals = normals.clone()
        split, tol = len(self.first._leaves()), self.tolerance
        for from_first, child, other, sign in ((True, self.first, self.second, self._sign),
                                               (False, self.second, self.first, 1.0)):
            rows = ((leaf < split) == from_first).nonzero().squeeze(1)
            child_keep, child_normals = child._keep_on_boundary(
                points[rows], normals[rows], leaf[rows] - (0 if from_first else split))
            other_distance = sign * other._signed_distance(points[rows])
            # the second child's points on the first's boundary (within tol) are left to the first
            margin = -tol if from_first else tol
            keep[rows] = child_keep & ((other_distance >= margin) if self._union else (other_distance <= -margin))
            normals[rows] = child_normals if from_first else self._sign * child_normals
        return keep, normals


class Union(_Combination):
    """`first ∪ second`, also `first | second`; distance `min(d_A, d_B)`.

    Args:
        first: A geometry.
        second: A geometry of the same dimension.

    Raises:
        ValueError: Geometries of different dimensions.
        TypeError: A child that is not a geometry, or is a SpaceTime.
    """


class Intersection(_Combination):
    """`first ∩ second`, also `first & second`; distance `max(d_A, d_B)`. Arguments and errors as
    `Union`'s."""

    _symbol, _union = "&", False


class Difference(_Combination):
    """`first − second`, also `first - second`: `first ∩ complement(second)`, distance
    `max(d_A, -d_B)`. The boundary of `second` inside `first` (a hole's rim) has its normals flipped,
    to point out of the result. Arguments and errors as `Union`'s."""

    _symbol, _union, _sign = "-", False, -1.0
