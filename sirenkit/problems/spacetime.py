"""Time × geometry, parts of a boundary, and the domains that draw a geometry's points at every step.

`Interior` and `Boundary`
take a `Geometry` or a
`SpaceTime` (time is coordinate 0, space follows, as in
`Box([0, -1, -1], [T, 1, 1])`); `Initial` and
`Final` draw a space-time's first and last instants. A
boundary's points carry the index of their part in `geometry.parts`;
`part_mask` selects some of them by name or by predicate.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch

from sirenkit.problems.geometry import Geometry, _box_distance, _draw_in_rounds

PartSelection = str | Sequence[str] | Callable[[torch.Tensor], torch.Tensor]
"""A part of a boundary: a part name (or the prefix before its "."), several, or a predicate
`on(points) -> (N,) bool` on `(N, d)` float32 boundary points."""

_TEST_DRAW = 4096


def part_indices(geometry: Geometry, names: str | Sequence[str]) -> tuple[int, ...]:
    """The indices of the parts that names select: a name matches a part exactly or as the prefix
    before its "." (`"room"` selects `"room.left"`, ...).

    Args:
        geometry: The geometry whose `parts` are searched.
        names: One name or several.

    Returns:
        The indices into `geometry.parts`, in order.

    Raises:
        ValueError: No name, or a name that selects no part (the message lists the parts).
        TypeError: A name that is not a string.
    """
    names = (names,) if isinstance(names, str) else tuple(names)
    if not names:
        raise ValueError(f"no part named; the parts are {', '.join(geometry.parts)}")
    selected: set[int] = set()
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"a part name must be a string, got {name!r}")
        matches = {i for i, part in enumerate(geometry.parts) if part == name or part.startswith(name + ".")}
        if not matches:
            raise ValueError(f"no boundary part {name!r}; the parts are {', '.join(geometry.parts)}")
        selected |= matches
    return tuple(sorted(selected))


def part_mask(geometry: Geometry, on: PartSelection, points: torch.Tensor, part: torch.Tensor) -> torch.Tensor:
    """Which boundary points a selection holds.

    Args:
        geometry: The geometry the points were drawn on.
        on: Part names (see `part_indices`), or a
            predicate `on(points) -> (N,) bool`.
        points: `(N, d)` boundary points, as `geometry.sample_boundary` returns them.
        part: `(N,)` their part indices.

    Returns:
        `(N,)` booleans.

    Raises:
        ValueError: An unknown name, or a predicate whose answer is not `(N,)`.
    """
    if callable(on):
        mask = torch.as_tensor(on(points))
        if tuple(mask.shape) != (points.shape[0],):
            raise ValueError(f"the predicate returned shape {tuple(mask.shape)} for {points.shape[0]} points, "
                             f"expected ({points.shape[0]},)")
        return mask.to(torch.bool)
    return torch.isin(part, torch.tensor(part_indices(geometry, on), device=part.device))


class SpaceTime(Geometry):
    """`[start, end] × geometry`: the points `(t, x)` with `dims = 1 + geometry.dims`.

    Its interior is drawn uniform in `t` and in space; its boundary is the lateral one only
    (`geometry`'s boundary × `[start, end]`, normals `(0, n_x)`, the parts those of `geometry`):
    the first and last instants are `Initial` and
    `Final`. The distance is the product's, exact where
    `geometry`'s is.

    Args:
        geometry: The spatial geometry (not itself a SpaceTime).
        start: The first instant.
        end: The last instant, after `start`.

    Raises:
        ValueError: `end` not after `start`, or times that are not finite.
        TypeError: A geometry that is not a spatial `Geometry`.

    Example:
        ```python
        from sirenkit.problems.geometry import Disk, Rectangle
        from sirenkit.problems.spacetime import Boundary, Initial, Interior, SpaceTime

        plate = SpaceTime(Rectangle([-1, -1], [1, 1]) - Disk([0, 0], 0.25, name="hole"), 0.0, 2.0)
        interior, rim, start = Interior(plate, 4096), Boundary(plate, 1024, on="hole"), Initial(plate, 1024)
        ```
    """

    _combinable = False

    def __init__(self, geometry: Geometry, start: float, end: float) -> None:
        if not isinstance(geometry, Geometry) or isinstance(geometry, SpaceTime):
            raise TypeError(f"expected a spatial Geometry, got {type(geometry).__name__}")
        if not (math.isfinite(start) and math.isfinite(end)) or not end > start:
            raise ValueError(f"a time span needs finite start < end, got start {start}, end {end}")
        self.geometry, self.start, self.end = geometry, float(start), float(end)
        low = torch.cat([torch.tensor([self.start], dtype=torch.float64), geometry._low])
        high = torch.cat([torch.tensor([self.end], dtype=torch.float64), geometry._high])
        super().__init__(1 + geometry.dims, geometry.parts, low, high)

    def __repr__(self) -> str:
        return f"SpaceTime({self.geometry!r}, {self.start}, {self.end})"

    @property
    def boundary_measure(self) -> float:
        """The lateral boundary's measure: the time span times the geometry's."""
        return (self.end - self.start) * self.geometry.boundary_measure

    def _signed_distance(self, points: torch.Tensor) -> torch.Tensor:
        middle, half = (self.start + self.end) / 2, (self.end - self.start) / 2
        across_time = (points[:, 0] - middle).abs() - half
        return _box_distance(torch.stack([across_time, self.geometry._signed_distance(points[:, 1:])], dim=1))

    def _times(self, count: int, generator: torch.Generator) -> torch.Tensor:
        return self.start + torch.rand(count, 1, generator=generator, dtype=torch.float64) * (self.end - self.start)

    def sample_interior(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """Points uniform in `[start, end] × geometry`.

        Args:
            count: How many.
            generator: The random stream, on the CPU.

        Returns:
            `(count, 1 + d)` float32 points `(t, x)`.

        Raises:
            ValueError: A count below 1, or a geometry with no area or volume.
        """
        space = self.geometry.sample_interior(count, generator)
        return torch.cat([self._times(space.shape[0], generator).float(), space], dim=1)

    def _draw_boundary(self, count: int, generator: torch.Generator
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        points, normals, part = self.geometry.sample_boundary(count, generator)
        times = self._times(count, generator)
        normals = torch.cat([torch.zeros_like(times), normals.double()], dim=1)
        return torch.cat([times, points.double()], dim=1), normals, part

    def sample_instant(self, time: float, count: int, generator: torch.Generator) -> torch.Tensor:
        """Points uniform in the geometry at one instant.

        Args:
            time: The instant `t`.
            count: How many.
            generator: The random stream, on the CPU.

        Returns:
            `(count, 1 + d)` float32 points `(t, x)`.

        Raises:
            ValueError: A count below 1, or a geometry with no area or volume.
        """
        space = self.geometry.sample_interior(count, generator)
        return torch.cat([torch.full((count, 1), time, dtype=torch.float32), space], dim=1)


def _checked(geometry: Geometry, batch_size: int, kind: type = Geometry) -> None:
    if not isinstance(geometry, kind):
        raise TypeError(f"expected a {kind.__name__}, got {type(geometry).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")


class _GeometryDomain:
    """What the geometry domains share: a geometry, a fixed batch size, the device of the points."""

    def __init__(self, geometry: Geometry, batch_size: int) -> None:
        _checked(geometry, batch_size)
        self.geometry, self.batch_size = geometry, batch_size
        self.device = torch.device("cpu")

    @property
    def size(self) -> int:
        return self.batch_size

    def to(self, device: torch.device):
        """A copy that puts the points it draws on `device`.

        Args:
            device: Where the points go.

        Returns:
            The copy.
        """
        moved = copy.copy(self)
        moved.device = torch.device(device)
        return moved


class Interior(_GeometryDomain):
    """`batch_size` points uniform inside a geometry (by area or volume; in `t` too for a
    `SpaceTime`), fresh each step.

    Args:
        geometry: A geometry or a space-time.
        batch_size: Points per step.

    Raises:
        ValueError: A batch size below 1.
        TypeError: Not a geometry.
    """

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Draw one step's points.

        Args:
            generator: The random stream, on the CPU.

        Returns:
            `(points, {})`: `(batch_size, d)` float32 points on the domain's device.

        Raises:
            ValueError: A geometry with no area or volume.
        """
        return self.geometry.sample_interior(self.batch_size, generator).to(self.device), {}


class Boundary(_GeometryDomain):
    """`batch_size` points uniform on a geometry's boundary (a space-time's lateral boundary), or on
    a part of it, with their outward unit normals as `data["normal"]`, fresh each step.

    A part is drawn by keeping the selected points of draws from the whole boundary, so that the
    points are uniform on it.

    Args:
        geometry: A geometry or a space-time.
        batch_size: Points per step.
        on: Only this part: a part name (or the prefix before its "."), several names, or a
            predicate `on(points) -> (N,) bool` on `(N, d)` float32 boundary points; `None`: all.

    Raises:
        ValueError: A batch size below 1, a name that is no part (the message lists the parts), or a
            selection that holds no point of a test draw of 4,096 boundary points.
        TypeError: Not a geometry.
    """

    def __init__(self, geometry: Geometry, batch_size: int, *, on: PartSelection | None = None) -> None:
        super().__init__(geometry, batch_size)
        self.on = on
        if on is not None:
            if not callable(on):
                part_indices(geometry, on)
            points, _, part = geometry.sample_boundary(_TEST_DRAW, torch.Generator().manual_seed(0))
            if not bool(part_mask(geometry, on, points, part).any()):
                raise ValueError(f"on={on!r} selects no point of the boundary ({_TEST_DRAW} drawn); "
                                 f"the parts are {', '.join(geometry.parts)}")

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Draw one step's points and their normals.

        Args:
            generator: The random stream, on the CPU.

        Returns:
            `(points, {"normal": normals})`, both `(batch_size, d)` float32 on the domain's device.
        """
        on = self.on
        if on is None:
            points, normals, _ = self.geometry.sample_boundary(self.batch_size, generator)
        else:
            def draw(size: int) -> tuple[torch.Tensor, ...]:
                points, normals, part = self.geometry.sample_boundary(size, generator)
                return points, normals, part_mask(self.geometry, on, points, part)

            points, normals = _draw_in_rounds(draw, self.batch_size, f"on={on!r} selects no point of the boundary")
        return points.to(self.device), {"normal": normals.to(self.device)}


class Initial(_GeometryDomain):
    """`batch_size` points uniform in a space-time's geometry at `t = start`, fresh each step.

    Args:
        spacetime: The space-time.
        batch_size: Points per step.

    Raises:
        ValueError: A batch size below 1.
        TypeError: Not a `SpaceTime`.
    """

    geometry: SpaceTime

    def __init__(self, spacetime: SpaceTime, batch_size: int) -> None:
        _checked(spacetime, batch_size, SpaceTime)
        super().__init__(spacetime, batch_size)

    def _instant(self) -> float:
        return self.geometry.start

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Draw one step's points.

        Args:
            generator: The random stream, on the CPU.

        Returns:
            `(points, {})`: `(batch_size, 1 + d)` float32 points `(t, x)` on the domain's device.
        """
        return self.geometry.sample_instant(self._instant(), self.batch_size, generator).to(self.device), {}


class Final(Initial):
    """`batch_size` points uniform in a space-time's geometry at `t = end`, fresh each step.

    Args:
        spacetime: The space-time.
        batch_size: Points per step.

    Raises:
        ValueError: A batch size below 1.
        TypeError: Not a `SpaceTime`.
    """

    def _instant(self) -> float:
        return self.geometry.end
