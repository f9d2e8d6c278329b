"""Constraints: one formulation for every task (DESIGN.md §3).

A problem is a list of constraints ``C_m(x, Φ(x), ∇Φ(x), ΔΦ(x), ...) = 0`` on domains ``Ω_m``;
training minimises ``Σ_m w_m · mean_{x ~ Ω_m} ρ(C_m(x))`` with the points of every domain drawn
afresh at each step. A task (image fitting, Poisson, ...) is a recipe that builds constraints;
the training loop in :mod:`sirenkit.training` is shared by all of them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

from .derivatives import Derivatives, derivatives

DERIVATIVES = ("jacobian", "laplacian", "hessian")


@dataclass
class Fields:
    """What a residual sees at a batch of ``N`` points: the points, the data sampled with them,
    and the network's value and the derivatives its constraint asked for."""

    points: torch.Tensor
    """``(N, d)`` coordinates."""
    data: Mapping[str, torch.Tensor]
    """Per-point data of the domain (targets, normals, ...), each with ``N`` rows."""
    network: Derivatives
    """The network's value ``(N, m)`` and requested derivatives."""

    @property
    def value(self) -> torch.Tensor:
        return self.network.value

    @property
    def jacobian(self) -> torch.Tensor:
        return _required(self.network.jacobian, "jacobian")

    @property
    def gradient(self) -> torch.Tensor:
        return self.network.gradient

    @property
    def laplacian(self) -> torch.Tensor:
        return _required(self.network.laplacian, "laplacian")

    @property
    def hessian(self) -> torch.Tensor:
        return _required(self.network.hessian, "hessian")

    def derivative(self, axis: int) -> torch.Tensor:
        """``(N, m)``: ``∂y_k/∂x_axis`` of every output (a time derivative when ``axis`` is time);
        needs the Jacobian."""
        return self.jacobian[:, :, axis]

    def second_derivative(self, axis: int) -> torch.Tensor:
        """``(N, m)``: ``∂²y_k/∂x_axis²`` of every output; needs the Hessian."""
        return self.hessian[:, :, axis, axis]

    @property
    def divergence(self) -> torch.Tensor:
        """``(N,)``: ``Σ_i ∂y_i/∂x_i`` of a vector field with as many outputs as coordinates;
        needs the Jacobian."""
        jacobian = self.jacobian
        if jacobian.shape[1] != jacobian.shape[2]:
            raise ValueError(f"the divergence needs as many outputs as coordinates, got {jacobian.shape[1]} "
                             f"outputs of {jacobian.shape[2]} coordinates")
        return jacobian.diagonal(dim1=1, dim2=2).sum(dim=-1)


def _required(tensor: torch.Tensor | None, name: str) -> torch.Tensor:
    if tensor is None:
        raise ValueError(f"the residual uses the {name}, which its constraint does not ask for")
    return tensor


class Domain(Protocol):
    """Where a constraint holds: draws the points (and their data) of one step.

    ``batch_size`` is ``None`` for a domain that yields every point each step. A domain that draws
    more points than ``batch_size`` says (``GridBoxes``: four sides of points per box) may define
    ``points_per_step``; one that can be sub-sampled may define ``with_batch_size(n)``, which
    :func:`sirenkit.fit` calls when ``TrainConfig.batch_size`` is set."""

    @property
    def batch_size(self) -> int | None: ...

    @property
    def size(self) -> int: ...

    def to(self, device: torch.device) -> Domain: ...

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]: ...


def _checked_rows(data: Mapping[str, torch.Tensor] | None, count: int, what: str) -> dict[str, torch.Tensor]:
    """``data`` as a dict, each entry with one row per point."""
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

    Each step uses every point (``batch_size=None``) or a random subset of ``batch_size`` points
    drawn with replacement.
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
        return PointSet(
            self.points.to(device),
            {name: values.to(device) for name, values in self.data.items()},
            batch_size=self.batch_size,
        )

    def with_batch_size(self, batch_size: int | None) -> PointSet:
        """The same points, ``batch_size`` of them drawn per step."""
        return PointSet(self.points, self.data, batch_size=batch_size)

    def where(self, mask: torch.Tensor, *, batch_size: int | None = None) -> PointSet:
        """The points (and their data) where ``mask (N,)`` is true: a masked image's known
        pixels, a region of a grid."""
        mask = torch.as_tensor(mask, dtype=torch.bool, device=self.points.device).reshape(-1)
        if mask.shape[0] != self.size:
            raise ValueError(f"the mask has {mask.shape[0]} entries for {self.size} points")
        if not bool(mask.any()):
            raise ValueError("the mask selects no points")
        return PointSet(self.points[mask], {name: values[mask] for name, values in self.data.items()},
                        batch_size=batch_size)

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Points and data for one step. ``generator`` lives on the CPU, so that runs are
        reproducible across devices."""
        if self.batch_size is None or self.batch_size >= self.size:
            return self.points, self.data
        index = torch.randint(self.size, (self.batch_size,), generator=generator)
        index = index.to(self.points.device)
        return self.points[index], {name: values[index] for name, values in self.data.items()}


class GridSamples:
    """Data on a regular grid of ``shape`` over [-1, 1]^d (axis ``k`` has ``shape[k]`` positions
    from -1 to 1), row-major; each step takes every point or a random subset of ``batch_size``.

    Unlike a :class:`PointSet` of the same grid, the coordinates are computed from the indices
    drawn, so that a long clip (300 frames of 256² are 20 million points) never holds them all.
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
        return self._count if self.rows is None else int(self.rows.numel())

    def to(self, device: torch.device) -> GridSamples:
        return GridSamples(self.shape, {name: v.to(device) for name, v in self.data.items()},
                           batch_size=self.batch_size, rows=None if self.rows is None else self.rows.to(device))

    def with_batch_size(self, batch_size: int | None) -> GridSamples:
        """The same grid, ``batch_size`` points drawn per step."""
        return GridSamples(self.shape, self.data, batch_size=batch_size, rows=self.rows)

    def subset(self, positions: torch.Tensor) -> GridSamples:
        """Only the points at ``positions`` among this domain's (the data stays whole)."""
        device = next(iter(self.data.values())).device if self.data else torch.device("cpu")
        positions = positions.to(device)
        return GridSamples(self.shape, self.data, batch_size=self.batch_size,
                           rows=positions if self.rows is None else self.rows[positions])

    def coordinates(self, index: torch.Tensor) -> torch.Tensor:
        """``(N, d)`` coordinates of flat indices ``(N,)``."""
        columns = []
        for n in reversed(self.shape):
            position = index % n
            index = index // n
            columns.append(position.float() * (2.0 / (n - 1)) - 1.0 if n > 1
                           else torch.zeros_like(position, dtype=torch.float32))
        return torch.stack(columns[::-1], dim=-1)

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
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


def _bounds(low, high) -> tuple[torch.Tensor, torch.Tensor]:
    low = torch.as_tensor(low, dtype=torch.float32).reshape(-1)
    high = torch.as_tensor(high, dtype=torch.float32).reshape(-1)
    if low.shape != high.shape or low.numel() == 0 or not bool((high > low).all()):
        raise ValueError(f"a box needs low < high on every axis, got low {low.tolist()}, high {high.tolist()}")
    return low, high


class _BoxDomain:
    """What :class:`Box` and :class:`BoxBoundary` share: the bounds and a fixed batch size."""

    def __init__(self, low, high, batch_size: int) -> None:
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
    """``batch_size`` points uniform in the box ``[low, high]`` (one bound per axis), fresh each
    step: the interior of a PDE's domain, free space around a shape."""

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        unit = torch.rand(self.batch_size, self.low.numel(), generator=generator).to(self.low.device)
        return self.low + unit * (self.high - self.low), {}


class BoxBoundary(_BoxDomain):
    """``batch_size`` points uniform (by area) on the faces of the box ``[low, high]``, each with
    its outward unit normal as ``data["normal"]``; ``axes`` limits the faces to those across the
    given axes (``axes=(1, 2)`` of a ``(t, x, y)`` box: the spatial walls, not the first and last
    instants)."""

    def __init__(self, low, high, batch_size: int, *, axes: tuple[int, ...] | None = None) -> None:
        super().__init__(low, high, batch_size)
        dims = self.low.numel()
        self.axes = tuple(range(dims)) if axes is None else tuple(axes)
        if not self.axes or any(not 0 <= a < dims for a in self.axes):
            raise ValueError(f"axes must be a non-empty subset of 0..{dims - 1}, got {axes}")

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
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
    """A domain of the user's own: ``draw(generator, count)`` returns ``(count, d)`` points, or
    ``(points, data)`` with per-point data, fresh each step (a disc, a curve, importance sampling)."""

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
        moved = Sampler(self.draw, self.batch_size)
        moved.device = torch.device(device)
        return moved

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        drawn = self.draw(generator, self.batch_size)
        points, data = drawn if isinstance(drawn, tuple) else (drawn, {})
        points = torch.as_tensor(points, dtype=torch.float32)
        if points.ndim != 2 or points.shape[0] != self.batch_size:
            raise ValueError(f"the sampler returned points of shape {tuple(points.shape)}, "
                             f"expected ({self.batch_size}, d)")
        return points.to(self.device), {name: torch.as_tensor(v).to(self.device) for name, v in dict(data).items()}


def points_per_step(domain: Domain) -> int:
    """Points ``domain`` draws in one step: its own ``points_per_step`` where it defines one, else
    its batch size (at most its size), else all of its points."""
    own = getattr(domain, "points_per_step", None)
    if own is not None:
        return int(own)
    return domain.size if domain.batch_size is None else min(domain.batch_size, domain.size)


Norm = str | Callable[[torch.Tensor], torch.Tensor]


def apply_norm(norm: Norm, residual: torch.Tensor) -> torch.Tensor:
    """Mean of ``ρ(residual)`` over all entries: ``mse`` (squared), ``l1`` (absolute) or a
    callable applied elementwise before the mean."""
    if callable(norm):
        return norm(residual).mean()
    if norm == "mse":
        return residual.square().mean()
    if norm == "l1":
        return residual.abs().mean()
    raise ValueError(f"unknown norm {norm!r}; expected mse, l1 or a callable")


@dataclass
class Constraint:
    """``weight · mean ρ(residual(fields))`` over points drawn from ``domain``."""

    name: str
    """Name of the loss term, shown in the progress bar, history and plots."""
    residual: Callable[[Fields], torch.Tensor]
    """Maps the fields at a batch of points to the residual that should be zero."""
    domain: Domain
    """Where the constraint holds, and how its points are drawn each step."""
    needs: tuple[str, ...] = ()
    """Derivatives the residual uses, from ``jacobian``, ``laplacian``, ``hessian``."""
    weight: float = 1.0
    """Weight of the term in the total loss."""
    norm: Norm = "mse"
    """ρ: ``mse``, ``l1`` or an elementwise callable."""
    laplacian_axes: tuple[int, ...] | None = None
    """Axes the Laplacian sums over; all by default."""
    schedule: Callable[[float], float] | None = None
    """Multiplies ``weight`` as the run goes on: called with the run's progress, 0 at the first
    step and 1 at the last (of its steps, or of those its time budget allows, as the learning
    rate's schedule counts them); ``None``: a constant weight."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.needs) - set(DERIVATIVES))
        if unknown:
            raise ValueError(
                f"constraint {self.name!r}: unknown derivative {', '.join(unknown)}; "
                f"expected some of {', '.join(DERIVATIVES)}"
            )


@dataclass
class Problem:
    """A set of constraints fitted together, and how to report progress on them."""

    constraints: list[Constraint]
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None
    """Called under ``no_grad`` every ``log_every`` steps; returns metrics such as PSNR."""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.constraints:
            raise ValueError("a problem needs at least one constraint")
        names = [c.name for c in self.constraints]
        if len(set(names)) != len(names):
            raise ValueError(f"constraint names must be unique, got {names}")
        # constraints on the same domain object share its batch and one evaluation of the network:
        # each points to the first constraint of its (domain, Laplacian axes), which asks for
        # every derivative any of them needs
        first: dict[tuple[int, tuple[int, ...] | None], int] = {}
        self._evaluated_by = [first.setdefault((id(c.domain), None if c.laplacian_axes is None
                                                else tuple(c.laplacian_axes)), i)
                              for i, c in enumerate(self.constraints)]
        self._needs: dict[int, set[str]] = {i: set() for i in set(self._evaluated_by)}
        for c, leader in zip(self.constraints, self._evaluated_by):
            self._needs[leader].update(c.needs)

    @property
    def domains(self) -> dict[int, Domain]:
        """The distinct domain objects, by ``id``, in the order the constraints name them."""
        return {id(c.domain): c.domain for c in self.constraints}

    @property
    def points_per_step(self) -> int:
        """Points drawn in one step, each shared domain counted once."""
        return sum(points_per_step(domain) for domain in self.domains.values())

    def schedule_factors(self, progress: float) -> dict[str, float]:
        """The factor on each scheduled term's weight at ``progress`` (in [0, 1]), by name."""
        return {c.name: float(c.schedule(progress)) for c in self.constraints if c.schedule is not None}

    def with_batch_size(self, batch_size: int) -> Problem:
        """A copy in which every domain that yields all its points each step (``batch_size`` None)
        and can be sub-sampled draws ``batch_size`` points instead; the others are kept."""
        return self._with_domains({key: domain.with_batch_size(batch_size)
                                   if domain.batch_size is None and hasattr(domain, "with_batch_size") else domain
                                   for key, domain in self.domains.items()})

    def _with_domains(self, replaced: dict[int, Domain]) -> Problem:
        """A copy whose domains are ``replaced[id(old domain)]``: shared domains stay shared."""
        return Problem([Constraint(**{**c.__dict__, "domain": replaced[id(c.domain)]}) for c in self.constraints],
                       self.evaluate, self.metadata)

    def to(self, device: torch.device) -> Problem:
        return self._with_domains({key: domain.to(device) for key, domain in self.domains.items()})

    def sample(self, generator: torch.Generator) -> list[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        """One batch of points and data per constraint; constraints on the same domain object
        get the same batch (drawn once)."""
        drawn = {key: domain.sample(generator) for key, domain in self.domains.items()}
        return [drawn[id(c.domain)] for c in self.constraints]

    def check(self, model: nn.Module, *, points: int = 4) -> None:
        """Evaluate every constraint once on a few points of its domain, so that a mistake shows
        before training, named after its constraint: a domain with no points or of the wrong
        dimension, a residual of the wrong shape or reading data the domain lacks, a derivative
        the network cannot provide. Raises ``ValueError``."""
        from .families import FAMILIES, family_of

        family = family_of(model)
        generator = torch.Generator().manual_seed(0)  # not the training generator: nothing changes
        config = getattr(model, "config", None)
        for constraint in self.constraints:
            label = f"constraint {constraint.name!r}"
            if constraint.domain.size == 0:
                raise ValueError(f"{label}: its domain has no points")
            second = sorted({"laplacian", "hessian"} & set(constraint.needs))
            if second and family is not None and not family.second_derivatives:
                usable = ", ".join(name for name, other in FAMILIES.items() if other.second_derivatives)
                raise ValueError(f"{label} needs the {' and '.join(second)}, but the second derivatives of a "
                                 f"{family.name} network {family.why_no_second_derivatives}; use one of {usable}")
            try:
                batch, data = constraint.domain.sample(generator)
            except (ValueError, RuntimeError) as error:
                raise ValueError(f"{label}: its domain could not draw points ({error})") from error
            if batch.shape[0] == 0:
                raise ValueError(f"{label}: its domain drew no points")
            if config is not None and batch.shape[1] != config.in_features:
                raise ValueError(f"{label}: its domain has {batch.shape[1]}-dimensional points, "
                                 f"the network takes {config.in_features}")
            # a pointwise domain (data row per point) is checked on a few points; a domain whose
            # data describe groups of points (segments, boxes) on its whole batch
            pointwise = all(values.shape[0] == batch.shape[0] for values in data.values())
            if pointwise:
                count = min(points, batch.shape[0])
                batch, data = batch[:count], {name: values[:count] for name, values in data.items()}
            rows = {batch.shape[0]} | {values.shape[0] for values in data.values()}
            try:
                fields = derivatives(model, batch, jacobian="jacobian" in constraint.needs,
                                     laplacian="laplacian" in constraint.needs, hessian="hessian" in constraint.needs,
                                     laplacian_axes=constraint.laplacian_axes)
                residual = constraint.residual(Fields(batch, data, fields))
            except KeyError as error:
                raise ValueError(f"{label}: the residual reads data {error} that its domain does not have "
                                 f"(it has: {', '.join(data) or 'none'})") from error
            except (ValueError, RuntimeError, IndexError, TypeError) as error:
                raise ValueError(f"{label}: {' '.join(str(error).split())}") from error
            if not isinstance(residual, torch.Tensor) or residual.ndim == 0 or residual.shape[0] not in rows:
                shape = tuple(residual.shape) if isinstance(residual, torch.Tensor) else type(residual).__name__
                expected = " or ".join(f"({n},) or ({n}, k)" for n in sorted(rows))
                raise ValueError(f"{label}: the residual has shape {shape} for {batch.shape[0]} points; expected "
                                 f"{expected}, one row per point" + ("" if pointwise else " or per group"))

    def loss_terms(
        self, model: nn.Module, batches: list[tuple[torch.Tensor, dict[str, torch.Tensor]]]
    ) -> dict[str, torch.Tensor]:
        """The weighted loss term of every constraint at the given batches (one per constraint,
        as :meth:`sample` returns them)."""
        evaluated: dict[int, Derivatives] = {}
        terms = {}
        for constraint, leader, (points, data) in zip(self.constraints, self._evaluated_by, batches):
            if leader not in evaluated:
                needs = self._needs[leader]
                evaluated[leader] = derivatives(
                    model,
                    points,
                    jacobian="jacobian" in needs,
                    laplacian="laplacian" in needs,
                    hessian="hessian" in needs,
                    laplacian_axes=constraint.laplacian_axes,
                )
            residual = constraint.residual(Fields(points, data, evaluated[leader]))
            terms[constraint.name] = constraint.weight * apply_norm(constraint.norm, residual)
        return terms
