"""Domains: where a constraint holds, and how its points are drawn at each step."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import torch

Bounds = Sequence[float] | torch.Tensor
"""A box's bounds: one number per axis."""


class Domain(Protocol):
    """Where a constraint holds: draws the points (and their data) of one step.

    `batch_size` is `None` for a domain that yields every point each step. A domain that draws
    more points than `batch_size` says (`GridBoxes`: four sides of points per box) may define
    `points_per_step`; one that can be sub-sampled may define `with_batch_size(n)`, which
    [`sirenkit.fit`][sirenkit.fit] calls when `TrainConfig.batch_size` is set; one of fixed points may
    define `shard(rank, world)`, its share for one process of a data-parallel fit (a domain
    without it draws its points from each process's own random stream, and is kept whole)."""

    @property
    def batch_size(self) -> int | None: ...

    @property
    def size(self) -> int: ...

    def to(self, device: torch.device) -> Domain: ...

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]: ...


def _check_shareable(size: int, world: int) -> None:
    if size < world:
        raise ValueError(f"a domain of {size} points cannot be shared by {world} processes")


def _checked_rows(data: Mapping[str, torch.Tensor] | None, count: int, what: str) -> dict[str, torch.Tensor]:
    """`data` as a dict, each entry with one row per point."""
    data = dict(data or {})
    for name, values in data.items():
        if values.shape[0] != count:
            raise ValueError(f"data {name!r} has {values.shape[0]} rows for {count} {what}")
    return data


def _checked_batch_size(batch_size: int | None) -> int | None:
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    return batch_size


class PointSet:
    """A fixed set of points with per-point data (a pixel grid, samples of a signal, ...).

    Each step uses every point (`batch_size=None`) or a random subset of `batch_size` points
    drawn with replacement.

    Args:
        points: `(N, d)` coordinates.
        data: Per-point data (targets, normals, ...), each with `N` rows; a residual reads them as
            `fields.data[name]`.
        batch_size: Points per step; `None` uses every point every step (or
            `TrainConfig.batch_size` where that is set).

    Raises:
        ValueError: Points not `(N, d)` with `N > 0`, data with another number of rows, or a batch
            size below 1.

    Example:
        ```python
        import torch
        import sirenkit
        from sirenkit import PointSet

        image = sirenkit.load_image("camera", size=256)
        pixels = PointSet(sirenkit.coordinate_grid(image.shape),
                          {"target": torch.from_numpy(image.pixels).reshape(-1, 1)}, batch_size=8192)
        ```
    """

    def __init__(
        self,
        points: torch.Tensor,
        data: Mapping[str, torch.Tensor] | None = None,
        *,
        batch_size: int | None = None,
    ) -> None:
        if points.ndim != 2 or points.shape[0] == 0:
            raise ValueError(f"expected (N, d) points with N > 0, got shape {tuple(points.shape)}")
        self.points = points
        self.data = _checked_rows(data, points.shape[0], "points")
        self.batch_size = _checked_batch_size(batch_size)

    @property
    def size(self) -> int:
        """Number of points in the set."""
        return self.points.shape[0]

    def to(self, device: torch.device) -> PointSet:
        """A copy whose tensors are on `device`.

        Args:
            device: Where the tensors go.

        Returns:
            The copy.
        """
        return PointSet(
            self.points.to(device),
            {name: values.to(device) for name, values in self.data.items()},
            batch_size=self.batch_size,
        )

    def with_batch_size(self, batch_size: int | None) -> PointSet:
        """The same points, drawn `batch_size` per step.

        Args:
            batch_size: Points per step; `None`: every point.

        Returns:
            A new point set.
        """
        return PointSet(self.points, self.data, batch_size=batch_size)

    def shard(self, rank: int, world: int) -> PointSet:
        """One process's share of the points, for a data-parallel fit.

        Args:
            rank: The process (rows `rank`, `rank + world`, ...).
            world: The number of processes.

        Returns:
            The share, as a point set.

        Raises:
            ValueError: Fewer points than processes.
        """
        _check_shareable(self.size, world)
        return PointSet(self.points[rank::world], {name: values[rank::world] for name, values in self.data.items()},
                        batch_size=self.batch_size)

    def where(self, mask: torch.Tensor, *, batch_size: int | None = None) -> PointSet:
        """The points (and their data) where a mask is true: a masked image's known pixels, a region of a
        grid.

        Args:
            mask: `(N,)` booleans, one per point.
            batch_size: Points per step of the new set.

        Returns:
            A new point set.

        Raises:
            ValueError: A mask of another length, or one that selects no points.
        """
        mask = torch.as_tensor(mask, dtype=torch.bool, device=self.points.device).reshape(-1)
        if mask.shape[0] != self.size:
            raise ValueError(f"the mask has {mask.shape[0]} entries for {self.size} points")
        if not bool(mask.any()):
            raise ValueError("the mask selects no points")
        return PointSet(self.points[mask], {name: values[mask] for name, values in self.data.items()},
                        batch_size=batch_size)

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Draw the points and data of one step.

        Args:
            generator: The random stream, on the CPU, so that runs are reproducible across devices.

        Returns:
            `(points, data)`.
        """
        if self.batch_size is None or self.batch_size >= self.size:
            return self.points, self.data
        index = torch.randint(self.size, (self.batch_size,), generator=generator)
        index = index.to(self.points.device)
        return self.points[index], {name: values[index] for name, values in self.data.items()}


class GridSamples:
    """Data on a regular grid of `shape` over [-1, 1]^d (axis `k` has `shape[k]` positions from -1 to
    1), row-major; each step takes every point or a random subset of `batch_size`.

    Unlike a [`PointSet`][sirenkit.PointSet] of the same grid, the coordinates are computed from
    the indices drawn, so that a long clip (300 frames of 256² are 20 million points) never holds
    them all.

    Args:
        shape: Positions along each axis.
        data: Per-point data, each with one row per grid point in row-major order.
        batch_size: Points per step; `None` uses every point every step.
        rows: Only these flat indices of the grid (a process's share of it); `None`: every point.

    Raises:
        ValueError: A shape with a size below 1, data with another number of rows, or a batch size
            below 1.
    """

    def __init__(self, shape: tuple[int, ...], data: Mapping[str, torch.Tensor] | None = None, *,
                 batch_size: int | None = None, rows: torch.Tensor | None = None) -> None:
        if not shape or any(n < 1 for n in shape):
            raise ValueError(f"expected a grid shape of positive sizes, got {tuple(shape)}")
        self.shape = tuple(int(n) for n in shape)
        count = 1
        for n in self.shape:
            count *= n
        self.data = _checked_rows(data, count, "grid points")
        self.batch_size = _checked_batch_size(batch_size)
        self.rows = rows
        """Only these flat indices of the grid (a process's share of it), or every point."""
        self._count = count

    @property
    def size(self) -> int:
        """Number of points the domain draws from."""
        return self._count if self.rows is None else int(self.rows.numel())

    def to(self, device: torch.device) -> GridSamples:
        """A copy whose tensors are on `device`.

        Args:
            device: Where the tensors go.

        Returns:
            The copy.
        """
        return GridSamples(self.shape, {name: v.to(device) for name, v in self.data.items()},
                           batch_size=self.batch_size, rows=None if self.rows is None else self.rows.to(device))

    def with_batch_size(self, batch_size: int | None) -> GridSamples:
        """The same grid, drawn `batch_size` points per step.

        Args:
            batch_size: Points per step; `None`: every point.

        Returns:
            A new domain.
        """
        return GridSamples(self.shape, self.data, batch_size=batch_size, rows=self.rows)

    def shard(self, rank: int, world: int) -> GridSamples:
        """One process's share of the grid points, for a data-parallel fit.

        Args:
            rank: The process (points `rank`, `rank + world`, ...).
            world: The number of processes.

        Returns:
            The share.

        Raises:
            ValueError: Fewer points than processes.
        """
        _check_shareable(self.size, world)
        return self.subset(torch.arange(rank, self.size, world))

    def subset(self, positions: torch.Tensor) -> GridSamples:
        """Only some of this domain's points (the data stays whole).

        Args:
            positions: Positions among this domain's points.

        Returns:
            A new domain.
        """
        device = next(iter(self.data.values())).device if self.data else torch.device("cpu")
        positions = positions.to(device)
        return GridSamples(self.shape, self.data, batch_size=self.batch_size,
                           rows=positions if self.rows is None else self.rows[positions])

    def coordinates(self, index: torch.Tensor) -> torch.Tensor:
        """The coordinates of grid points.

        Args:
            index: `(N,)` flat indices.

        Returns:
            `(N, d)` coordinates in [-1, 1].
        """
        columns = []
        for n in reversed(self.shape):
            position = index % n
            index = index // n
            columns.append(position.float() * (2.0 / (n - 1)) - 1.0 if n > 1
                           else torch.zeros_like(position, dtype=torch.float32))
        return torch.stack(columns[::-1], dim=-1)

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Draw the points and data of one step.

        Args:
            generator: The random stream, on the CPU.

        Returns:
            `(points, data)`.
        """
        device = next(iter(self.data.values())).device if self.data else torch.device("cpu")
        if self.batch_size is None or self.batch_size >= self.size:
            if self.rows is None:
                return self.coordinates(torch.arange(self.size, device=device)), self.data
            index = self.rows
        else:
            index = torch.randint(self.size, (self.batch_size,), generator=generator).to(device)
            if self.rows is not None:
                index = self.rows[index]
        return self.coordinates(index), {name: values[index] for name, values in self.data.items()}


def _bounds(low: Bounds, high: Bounds) -> tuple[torch.Tensor, torch.Tensor]:
    low = torch.as_tensor(low, dtype=torch.float32).reshape(-1)
    high = torch.as_tensor(high, dtype=torch.float32).reshape(-1)
    if low.shape != high.shape or low.numel() == 0 or not bool((high > low).all()):
        raise ValueError(f"a box needs low < high on every axis, got low {low.tolist()}, high {high.tolist()}")
    return low, high


class _BoxDomain:
    """What [`Box`][sirenkit.Box] and [`BoxBoundary`][sirenkit.BoxBoundary] share: the bounds and a fixed
    batch size."""

    def __init__(self, low: Bounds, high: Bounds, batch_size: int) -> None:
        self.low, self.high = _bounds(low, high)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size

    @property
    def size(self) -> int:
        return self.batch_size

    def to(self, device: torch.device):
        moved = copy.copy(self)
        moved.low, moved.high = self.low.to(device), self.high.to(device)
        return moved


class Box(_BoxDomain):
    """`batch_size` points uniform in the box `[low, high]`, fresh each step: the interior of a PDE's
    domain, free space around a shape.

    Args:
        low: The lower bound of each axis.
        high: The upper bound of each axis.
        batch_size: Points per step.

    Raises:
        ValueError: `low` not below `high` on every axis, or a batch size below 1.
    """

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Draw one step's points.

        Args:
            generator: The random stream, on the CPU.

        Returns:
            `(points, {})`.
        """
        unit = torch.rand(self.batch_size, self.low.numel(), generator=generator).to(self.low.device)
        return self.low + unit * (self.high - self.low), {}


class BoxBoundary(_BoxDomain):
    """`batch_size` points uniform (by area) on the faces of the box `[low, high]`, each with its
    outward unit normal as `data["normal"]`, fresh each step.

    Args:
        low: The lower bound of each axis.
        high: The upper bound of each axis.
        batch_size: Points per step.
        axes: Only the faces across these axes (`axes=(1, 2)` of a `(t, x, y)` box: the spatial
            walls, not the first and last instants); `None`: all of them.

    Raises:
        ValueError: `low` not below `high` on every axis, a batch size below 1, or axes out of
            range.
    """

    def __init__(self, low: Bounds, high: Bounds, batch_size: int, *, axes: tuple[int, ...] | None = None) -> None:
        super().__init__(low, high, batch_size)
        dims = self.low.numel()
        self.axes = tuple(range(dims)) if axes is None else tuple(axes)
        if not self.axes or any(not 0 <= a < dims for a in self.axes):
            raise ValueError(f"axes must be a non-empty subset of 0..{dims - 1}, got {axes}")

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Draw one step's points and their normals.

        Args:
            generator: The random stream, on the CPU.

        Returns:
            `(points, {"normal": normals})`.
        """
        dims = self.low.numel()
        sides = (self.high - self.low).cpu()
        # each pair of faces across an axis weighs the product of the other sides
        areas = torch.stack([sides[[i for i in range(dims) if i != a]].prod() for a in self.axes])
        face = torch.multinomial(areas / areas.sum(), self.batch_size, replacement=True, generator=generator)
        upper = torch.rand(self.batch_size, generator=generator) < 0.5
        unit = torch.rand(self.batch_size, dims, generator=generator)
        axis = torch.tensor(self.axes)[face]
        unit[torch.arange(self.batch_size), axis] = upper.float()
        normal = torch.zeros(self.batch_size, dims)
        normal[torch.arange(self.batch_size), axis] = upper.float() * 2 - 1
        device = self.low.device
        return self.low + unit.to(device) * (self.high - self.low), {"normal": normal.to(device)}


class Sampler:
    """A domain of your own, drawn fresh each step: a disc, a curve, importance sampling.

    Args:
        draw: `draw(generator, count)` returns `(count, d)` points, or `(points, data)` with
            per-point data; draw from `generator` (a CPU `torch.Generator`) so that runs are
            reproducible.
        batch_size: Points per step.

    Raises:
        ValueError: A batch size below 1.

    Example:
        ```python
        import math
        import torch
        from sirenkit import Sampler

        def circle(generator, count):
            angle = torch.rand(count, generator=generator) * 2 * math.pi
            return torch.stack([angle.cos(), angle.sin()], dim=1)

        rim = Sampler(circle, batch_size=1024)
        ```
    """

    def __init__(self, draw: Callable[[torch.Generator, int], object], batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.draw = draw
        self.batch_size = batch_size
        self.device = torch.device("cpu")

    @property
    def size(self) -> int:
        return self.batch_size

    def to(self, device: torch.device) -> Sampler:
        """A copy that puts the points it draws on `device`.

        Args:
            device: Where the points go.

        Returns:
            The copy.
        """
        moved = Sampler(self.draw, self.batch_size)
        moved.device = torch.device(device)
        return moved

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Draw one step's points with `draw`.

        Args:
            generator: The random stream, on the CPU.

        Returns:
            `(points, data)`, on the domain's device.

        Raises:
            ValueError: `draw` returned points of another shape than `(batch_size, d)`.
        """
        drawn = self.draw(generator, self.batch_size)
        points, data = drawn if isinstance(drawn, tuple) else (drawn, {})
        points = torch.as_tensor(points, dtype=torch.float32)
        if points.ndim != 2 or points.shape[0] != self.batch_size:
            raise ValueError(f"the sampler returned points of shape {tuple(points.shape)}, "
                             f"expected ({self.batch_size}, d)")
        return points.to(self.device), {name: torch.as_tensor(v).to(self.device) for name, v in dict(data).items()}


def points_per_step(domain: Domain) -> int:
    """Points `domain` draws in one step: its own `points_per_step` where it defines one, else
    its batch size (at most its size), else all of its points."""
    own = getattr(domain, "points_per_step", None)
    if own is not None:
        return int(own)
    return domain.size if domain.batch_size is None else min(domain.batch_size, domain.size)
