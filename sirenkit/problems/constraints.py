"""Constraints: one formulation for every task.

A problem is a list of constraints `C_m(x, Φ(x), ∇Φ(x), ΔΦ(x), ...) = 0` on domains `Ω_m`;
training minimises `Σ_m w_m · mean_{x ~ Ω_m} ρ(C_m(x))` with the points of every domain drawn
afresh at each step. A task (image fitting, Poisson, ...) is a recipe that builds constraints;
the training loop in `sirenkit.engine.loop` is shared by all of them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from sirenkit.metrics import Metric
from sirenkit.networks.derivatives import Derivatives, derivatives
from sirenkit.problems.adaptive import Adaptive
from sirenkit.problems.domains import Domain, GridSamples, PointSet, points_per_step

DERIVATIVES = ("jacobian", "laplacian", "hessian")
RESERVED_NAMES = ("step", "seconds", "lr", "loss")
"""Names of a history row's own entries, which an unknown cannot take."""


class _Reads(Mapping[str, torch.Tensor]):
    """The unknowns as a residual sees them while `Problem.check` runs: it notes which are read,
    and which names asked for do not exist."""

    def __init__(self, values: Mapping[str, torch.Tensor]) -> None:
        self.known, self.read, self.missing = values, set[str](), set[str]()

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self.known:
            self.missing.add(name)
            raise KeyError(name)
        self.read.add(name)
        return self.known[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.known)

    def __len__(self) -> int:
        return len(self.known)


@dataclass
class Fields:
    """What a residual sees at a batch of `N` points: the points, the data sampled with them, and
    the network's value and the derivatives its constraint asked for.

    A derivative the constraint did not ask for (in [`needs`][sirenkit.Constraint.needs]) is a
    `ValueError` when the residual reads it.
    """

    points: torch.Tensor
    """`(N, d)` coordinates."""
    data: Mapping[str, torch.Tensor]
    """Per-point data of the domain (targets, normals, ...), each with `N` rows."""
    network: Derivatives
    """The network's value `(N, m)` and requested derivatives."""
    unknowns: Mapping[str, torch.Tensor] = field(default_factory=dict)
    """The problem's unknown coefficients ([`Problem.unknowns`][sirenkit.Problem.unknowns]), each
    a trainable scalar, by name."""

    @property
    def value(self) -> torch.Tensor:
        """`(N, m)`: the network's outputs."""
        return self.network.value

    @property
    def jacobian(self) -> torch.Tensor:
        """`(N, m, d)`: `∂y_k/∂x_i`; needs `jacobian`."""
        return _required(self.network.jacobian, "jacobian")

    @property
    def gradient(self) -> torch.Tensor:
        """`(N, d)`: the gradient of a single-output network; needs `jacobian`."""
        return self.network.gradient

    @property
    def laplacian(self) -> torch.Tensor:
        """`(N, m)`: the Laplacian over the constraint's axes; needs `laplacian`."""
        return _required(self.network.laplacian, "laplacian")

    @property
    def hessian(self) -> torch.Tensor:
        """`(N, m, d, d)`: the Hessian; needs `hessian`."""
        return _required(self.network.hessian, "hessian")

    def derivative(self, axis: int) -> torch.Tensor:
        """One partial derivative of every output (a time derivative when `axis` is time); needs the
        Jacobian.

        Args:
            axis: The coordinate to differentiate along.

        Returns:
            `(N, m)`: `∂y_k/∂x_axis`.
        """
        return self.jacobian[:, :, axis]

    def second_derivative(self, axis: int) -> torch.Tensor:
        """One second partial derivative of every output; needs the Hessian.

        Args:
            axis: The coordinate to differentiate along, twice.

        Returns:
            `(N, m)`: `∂²y_k/∂x_axis²`.
        """
        return self.hessian[:, :, axis, axis]

    @property
    def divergence(self) -> torch.Tensor:
        """`(N,)`: `Σ_i ∂y_i/∂x_i` of a vector field with as many outputs as coordinates; needs the
        Jacobian.
        """
        jacobian = self.jacobian
        if jacobian.shape[1] != jacobian.shape[2]:
            raise ValueError(f"the divergence needs as many outputs as coordinates, got {jacobian.shape[1]} "
                             f"outputs of {jacobian.shape[2]} coordinates")
        return jacobian.diagonal(dim1=1, dim2=2).sum(dim=-1)


def _required(tensor: torch.Tensor | None, name: str) -> torch.Tensor:
    if tensor is None:
        raise ValueError(f"the residual uses the {name}, which its constraint does not ask for")
    return tensor


Norm = str | Callable[[torch.Tensor], torch.Tensor]


def apply_norm(norm: Norm, residual: torch.Tensor) -> torch.Tensor:
    """Mean of `ρ(residual)` over all entries: `mse` (squared), `l1` (absolute) or a
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
    """One loss term: `weight · mean ρ(residual(fields))` over points drawn from `domain`.

    Raises:
        ValueError: A derivative in `needs` other than `jacobian`, `laplacian`, `hessian`.

    Example:
        ```python
        from sirenkit import Box, Constraint

        # Δu = 1 inside the square
        poisson = Constraint("pde", lambda f: f.laplacian - 1, Box([-1, -1], [1, 1], 4096),
                             needs=("laplacian",))
        ```
    """

    name: str
    """Name of the loss term, shown in the progress bar, history and plots."""
    residual: Callable[[Fields], torch.Tensor]
    """Maps the fields at a batch of points to the residual that should be zero."""
    domain: Domain
    """Where the constraint holds, and how its points are drawn each step."""
    needs: tuple[str, ...] = ()
    """Derivatives the residual uses, from `jacobian`, `laplacian`, `hessian`."""
    weight: float = 1.0
    """Weight of the term in the total loss."""
    norm: Norm = "mse"
    """ρ: `mse`, `l1` or an elementwise callable."""
    laplacian_axes: tuple[int, ...] | None = None
    """Axes the Laplacian sums over; all by default."""
    schedule: Callable[[float], float] | None = None
    """Multiplies `weight` as the run goes on: called with the run's progress, 0 at the first
    step and 1 at the last (of its steps, or of those its time budget allows, as the learning
    rate's schedule counts them); `None`: a constant weight."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.needs) - set(DERIVATIVES))
        if unknown:
            raise ValueError(
                f"constraint {self.name!r}: unknown derivative {', '.join(unknown)}; "
                f"expected some of {', '.join(DERIVATIVES)}"
            )


@dataclass
class Problem:
    """A set of constraints fitted together, and how to report progress on them: what
    [`solve`][sirenkit.solve] and [`fit`][sirenkit.fit] fit.

    Constraints on the same domain object share its batch of points and one evaluation of the
    network each step.

    Raises:
        ValueError: No constraints, or two with the same name.

    Example:
        ```python
        from sirenkit import Box, BoxBoundary, Constraint, Problem

        inside = Constraint("pde", lambda f: f.laplacian - 1, Box([-1, -1], [1, 1], 4096),
                            needs=("laplacian",))
        edge = Constraint("boundary", lambda f: f.value, BoxBoundary([-1, -1], [1, 1], 1024), weight=10.0)
        problem = Problem([inside, edge])
        ```
    """

    constraints: list[Constraint]
    """The constraints; their names must be unique."""
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None
    """Called under `no_grad` every `log_every` steps; returns metrics such as PSNR."""
    metadata: dict = field(default_factory=dict)
    """Anything the problem wants to keep beside it; `baseline_loss` (the loss of the best constant)
    enables the stall check (`TrainConfig.stall_check`).
    """
    metrics: tuple[Metric, ...] = ()
    """The figures `evaluate` reports, each with the direction in which it is better (the loss
    and each constraint's term are lower-is-better without being listed)."""
    unknowns: Mapping[str, float] = field(default_factory=dict)
    """Coefficients of the equation to find (an inverse problem), by name, with their starting
    values: each becomes a trainable scalar (in `coefficients`) fitted with the network, which
    residuals read as `f.unknowns[name]`; its value is logged with the metrics under its name."""

    def __post_init__(self) -> None:
        if not self.constraints:
            raise ValueError("a problem needs at least one constraint")
        names = [c.name for c in self.constraints]
        if len(set(names)) != len(names):
            raise ValueError(f"constraint names must be unique, got {names}")
        for name, start in self.unknowns.items():
            if not isinstance(name, str) or not name or name in (*names, *RESERVED_NAMES):
                raise ValueError(f"unknown {name!r}: needs a name that is no constraint's and none of "
                                 f"{', '.join(RESERVED_NAMES)}")
            if not isinstance(start, (int, float)) or isinstance(start, bool) or not math.isfinite(start):
                raise ValueError(f"unknown {name!r}: its starting value must be a finite number, got {start!r}")
        self.coefficients = nn.ParameterDict({name: nn.Parameter(torch.tensor(float(start)))
                                              for name, start in self.unknowns.items()})
        """The unknowns as trainable scalars, shared by the copies `to` and `with_batch_size` make."""
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
        """The distinct domain objects, by `id`, in the order the constraints name them."""
        return {id(c.domain): c.domain for c in self.constraints}

    @property
    def points_per_step(self) -> int:
        """Points drawn in one step, each shared domain counted once."""
        return sum(points_per_step(domain) for domain in self.domains.values())

    @property
    def adaptive(self) -> bool:
        """Whether any domain draws by residual ([`Adaptive`][sirenkit.Adaptive])."""
        return any(isinstance(domain, Adaptive) for domain in self.domains.values())

    def adapt(self, model: nn.Module, step: int, generator: torch.Generator) -> None:
        """Before step `step` (from 0): refresh each [`Adaptive`][sirenkit.Adaptive] domain whose
        period has come, weighing its candidates by the mean absolute residual of the constraints
        on it, each times its weight (on a pointwise domain: one residual row per point).

        Args:
            model: The network being fitted.
            step: The step about to be taken.
            generator: The random stream the fit draws from.
        """
        for domain in self.domains.values():
            if not isinstance(domain, Adaptive) or step == 0 or step % domain.every:
                continue
            on_it = [c for c in self.constraints if c.domain is domain]
            domain.refresh(functools.partial(self._residual_magnitude, model, on_it, domain.batch_size), generator)

    def _residual_magnitude(self, model: nn.Module, on_it: list[Constraint], chunk: int, points: torch.Tensor,
                            data: dict[str, torch.Tensor]) -> torch.Tensor:
        """`(P,)`: at each point, the mean absolute residual of the constraints `on_it`, times their weights."""
        needs = set().union(*(c.needs for c in on_it))
        rows = []
        for start in range(0, points.shape[0], chunk):
            part = points[start:start + chunk]
            with torch.enable_grad():
                network = derivatives(model, part, jacobian="jacobian" in needs, laplacian="laplacian" in needs,
                                      hessian="hessian" in needs, laplacian_axes=on_it[0].laplacian_axes)
                fields = Fields(part, {name: values[start:start + chunk] for name, values in data.items()}, network,
                                dict(self.coefficients))
                rows.append(torch.stack([c.weight * c.residual(fields).detach().abs().reshape(part.shape[0], -1)
                                         .mean(dim=1) for c in on_it]).sum(dim=0))
        return torch.cat(rows)

    def schedule_factors(self, progress: float) -> dict[str, float]:
        """The factor on each scheduled term's weight at a point of the run.

        Args:
            progress: How far the run is, in [0, 1].

        Returns:
            The factor of each constraint that has a schedule, by name.
        """
        return {c.name: float(c.schedule(progress)) for c in self.constraints if c.schedule is not None}

    def with_batch_size(self, batch_size: int) -> Problem:
        """A copy in which every domain that yields all its points each step and can be sub-sampled
        draws `batch_size` points instead; the others are kept.

        Args:
            batch_size: Points per step.

        Returns:
            The new problem (shared domains stay shared).
        """
        return self._with_domains({key: domain.with_batch_size(batch_size)
                                   if domain.batch_size is None and hasattr(domain, "with_batch_size") else domain
                                   for key, domain in self.domains.items()})

    def fixed(self, seed: int = 0) -> Problem:
        """A copy in which every domain that draws its points is one draw of itself, used whole at
        every step (a [`PointSet`][sirenkit.PointSet] of the points and data it gave): the fixed
        collocation points of DeepXDE's and PINNacle's protocols. Point sets and grids are kept, and
        so are domains whose points come in groups (facing pairs, boxes), which go on drawing.

        Args:
            seed: Seed of the draw.

        Returns:
            The new problem (shared domains stay shared).

        Raises:
            ValueError: An [`Adaptive`][sirenkit.Adaptive] domain, whose points are meant to move.
        """
        if self.adaptive:
            raise ValueError("adaptive domains draw where the residual is large; they cannot be fixed")
        generator = torch.Generator().manual_seed(seed)
        return self._with_domains({key: domain if isinstance(domain, (PointSet, GridSamples))
                                   or hasattr(domain, "points_per_step") else PointSet(*domain.sample(generator))
                                   for key, domain in self.domains.items()})

    def replaced(self, **changes: Any) -> Problem:
        """A copy with some fields changed (`dataclasses.replace`) that shares this problem's
        unknown coefficients, so that what a fit finds is found for this problem too.

        Args:
            **changes: New values of fields (`evaluate`, `metrics`, ...).

        Returns:
            The copy.
        """
        copy = dataclasses.replace(self, **changes)
        copy.coefficients = self.coefficients
        return copy

    def _with_domains(self, replaced: dict[int, Domain]) -> Problem:
        """A copy whose domains are `replaced[id(old domain)]`: shared domains stay shared."""
        return self.replaced(constraints=[Constraint(**{**c.__dict__, "domain": replaced[id(c.domain)]})
                                          for c in self.constraints])

    def to(self, device: torch.device) -> Problem:
        """A copy whose domains' tensors are on `device`.

        Args:
            device: Where the tensors go.

        Returns:
            The copy.
        """
        self.coefficients.to(device)
        return self._with_domains({key: domain.to(device) for key, domain in self.domains.items()})

    def sample(self, generator: torch.Generator) -> list[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        """Draw one step's points: one batch of points and data per constraint; constraints on the same
        domain object get the same batch (drawn once).

        Args:
            generator: The random stream (on the CPU, so that runs are reproducible across devices).

        Returns:
            `(points, data)` per constraint, in order.
        """
        drawn = {key: domain.sample(generator) for key, domain in self.domains.items()}
        return [drawn[id(c.domain)] for c in self.constraints]

    def check(self, model: nn.Module, *, points: int = 4) -> None:
        """Evaluate every constraint once on a few points of its domain, so that a mistake shows before
        training, named after its constraint.

        Args:
            model: The network the problem is to be fitted with.
            points: How many points of each pointwise domain to try.

        Raises:
            ValueError: A domain with no points or of the wrong dimension, a residual of the wrong
                shape or reading data the domain lacks, or a derivative the network cannot provide
                (the second derivatives of a ReLU network, say).
        """
        from sirenkit.networks.family import family_of
        from sirenkit.networks.registry import FAMILIES

        family = family_of(model)
        generator = torch.Generator().manual_seed(0)  # not the training generator: nothing changes
        config = getattr(model, "config", None)
        unknowns = _Reads(dict(self.coefficients))
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
                residual = constraint.residual(Fields(batch, data, fields, unknowns))
            except KeyError as error:
                if error.args and error.args[0] in unknowns.missing:
                    raise ValueError(f"{label}: the residual reads the unknown {error.args[0]!r}, which the problem "
                                     f"does not have (it has: {', '.join(self.coefficients) or 'none'})") from error
                raise ValueError(f"{label}: the residual reads data {error} that its domain does not have "
                                 f"(it has: {', '.join(data) or 'none'})") from error
            except (ValueError, RuntimeError, IndexError, TypeError) as error:
                raise ValueError(f"{label}: {' '.join(str(error).split())}") from error
            if not isinstance(residual, torch.Tensor) or residual.ndim == 0 or residual.shape[0] not in rows:
                shape = tuple(residual.shape) if isinstance(residual, torch.Tensor) else type(residual).__name__
                expected = " or ".join(f"({n},) or ({n}, k)" for n in sorted(rows))
                raise ValueError(f"{label}: the residual has shape {shape} for {batch.shape[0]} points; expected "
                                 f"{expected}, one row per point" + ("" if pointwise else " or per group"))
        unused = [name for name in self.coefficients if name not in unknowns.read]
        if unused:
            raise ValueError(f"unknown {unused[0]!r}: no constraint's residual reads it "
                             f"(as f.unknowns[{unused[0]!r}]), so nothing could find its value")

    def loss_terms(
        self, model: nn.Module, batches: list[tuple[torch.Tensor, dict[str, torch.Tensor]]]
    ) -> dict[str, torch.Tensor]:
        """The weighted loss term of every constraint.

        Args:
            model: The network.
            batches: One batch per constraint, as [`sample`][sirenkit.Problem.sample] returns them.

        Returns:
            Each constraint's weighted term, by name (the loss is their sum).
        """
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
            residual = constraint.residual(Fields(points, data, evaluated[leader], dict(self.coefficients)))
            terms[constraint.name] = constraint.weight * apply_norm(constraint.norm, residual)
        return terms
