"""Boundary and initial conditions: the constraints a differential equation's solution meets on
the edge of its domain, each a [`Constraint`][sirenkit.Constraint] on the right points.

| condition | residual, on the points of its domain |
|---|---|
| `dirichlet(domain, g)` | `u − g(x)` |
| `neumann(domain, g)` | `∂u/∂n − g(x)` (`n` the outward normal the domain draws) |
| `robin(domain, a, b, g)` | `a u + b ∂u/∂n − g(x)` |
| `initial_value(domain, g)` | `u(t0, x) − g(t0, x)` on an [`Initial`][sirenkit.Initial] domain |
| `initial_velocity(domain, g)` | `∂u/∂t(t0, x) − g(t0, x)` on an [`Initial`][sirenkit.Initial] domain |
| `periodic(geometry, axis, n)` | `u(x_low) − u(x_high)` (and `∂u/∂x_axis`) at points facing each other across a box |

`g` is a number or a function of the points, `(N, d) → (N,)` or `(N, k)` for `k` outputs; `output`
picks the outputs a condition constrains (all by default).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from sirenkit.problems.constraints import Constraint, Fields
from sirenkit.problems.domains import Domain
from sirenkit.problems.geometry import Rectangle
from sirenkit.problems.spacetime import Initial, SpaceTime, _GeometryDomain

Value = float | Callable[[torch.Tensor], torch.Tensor]
"""A condition's right-hand side: a number, or `g(points) -> (N,)` or `(N, k)` for `(N, d)` points."""
Outputs = int | Sequence[int] | None


def _columns(output: Outputs) -> slice | list[int]:
    if output is None:
        return slice(None)
    return [output] if isinstance(output, int) else list(output)


def _target(value: Value, points: torch.Tensor, outputs: int, name: str) -> torch.Tensor:
    """`g` at the points as `(N, 1)` or `(N, outputs)`, checked."""
    if not callable(value):
        return torch.full((points.shape[0], 1), float(value), dtype=points.dtype, device=points.device)
    target = torch.as_tensor(value(points))
    if target.ndim == 1:
        target = target[:, None]
    if target.ndim != 2 or target.shape[0] != points.shape[0] or target.shape[1] not in (1, outputs):
        raise ValueError(f"condition {name!r}: its value gave shape {tuple(target.shape)} for {points.shape[0]} "
                         f"points; expected ({points.shape[0]},) or ({points.shape[0]}, {outputs})")
    return target.to(points.dtype)


def _normal_derivative(fields: Fields, columns: slice | list[int], name: str) -> torch.Tensor:
    """`∂u/∂n`, `(N, k)`: the Jacobian's rows along the domain's outward normals."""
    if "normal" not in fields.data:
        raise ValueError(f"condition {name!r} needs a domain with outward normals (a Boundary or BoxBoundary)")
    return (fields.jacobian[:, columns, :] * fields.data["normal"][:, None, :]).sum(dim=-1)


def dirichlet(domain: Domain, value: Value = 0.0, *, name: str = "dirichlet", output: Outputs = None,
              weight: float = 1.0) -> Constraint:
    """`u = g` on a domain: the solution's value prescribed on (part of) a boundary.

    Args:
        domain: Where it holds: a [`Boundary`][sirenkit.Boundary] (of a part: `on=`), or any domain.
        value: `g`, a number or `g(points) -> (N,)` or `(N, k)`.
        name: The loss term's name.
        output: The outputs constrained (an index or several); `None`: all.
        weight: The term's weight.

    Returns:
        The constraint.

    Example:
        ```python
        from sirenkit import Boundary, Disk, Rectangle, dirichlet

        plate = Rectangle([-0.5, -0.5], [0.5, 0.5]) - Disk([0, 0], 0.1, name="hole")
        cold = dirichlet(Boundary(plate, 512, on="hole"), 0.0, name="hole")
        ```
    """
    columns = _columns(output)

    def residual(fields: Fields) -> torch.Tensor:
        values = fields.value[:, columns]
        return values - _target(value, fields.points, values.shape[1], name)

    return Constraint(name, residual, domain, weight=weight)


def neumann(domain: Domain, flux: Value = 0.0, *, name: str = "neumann", output: Outputs = None,
            weight: float = 1.0) -> Constraint:
    """`∂u/∂n = g` on a boundary: the flux through it prescribed (`0`: insulated, a mirror).

    Args:
        domain: A domain whose points carry outward normals (`data["normal"]`):
            [`Boundary`][sirenkit.Boundary] or [`BoxBoundary`][sirenkit.BoxBoundary].
        flux: `g`, a number or a function of the points.
        name: The loss term's name.
        output: The outputs constrained; `None`: all.
        weight: The term's weight.

    Returns:
        The constraint (it needs the Jacobian).
    """
    columns = _columns(output)

    def residual(fields: Fields) -> torch.Tensor:
        normal = _normal_derivative(fields, columns, name)
        return normal - _target(flux, fields.points, normal.shape[1], name)

    return Constraint(name, residual, domain, needs=("jacobian",), weight=weight)


def robin(domain: Domain, a: float, b: float, value: Value = 0.0, *, name: str = "robin", output: Outputs = None,
          weight: float = 1.0) -> Constraint:
    """`a u + b ∂u/∂n = g` on a boundary: exchange with the outside (Newton's cooling, an impedance).

    Args:
        domain: A domain whose points carry outward normals.
        a: The coefficient of `u`.
        b: The coefficient of `∂u/∂n`.
        value: `g`, a number or a function of the points.
        name: The loss term's name.
        output: The outputs constrained; `None`: all.
        weight: The term's weight.

    Returns:
        The constraint (it needs the Jacobian).

    Raises:
        ValueError: `a` and `b` both zero.
    """
    if a == 0 and b == 0:
        raise ValueError(f"condition {name!r}: a Robin condition needs a or b non-zero")
    columns = _columns(output)

    def residual(fields: Fields) -> torch.Tensor:
        normal = _normal_derivative(fields, columns, name)
        mixed = a * fields.value[:, columns] + b * normal
        return mixed - _target(value, fields.points, mixed.shape[1], name)

    return Constraint(name, residual, domain, needs=("jacobian",), weight=weight)


def _initial(domain: Domain, name: str) -> None:
    if not isinstance(domain, Initial):
        raise ValueError(f"condition {name!r}: an initial condition holds on an Initial domain of a SpaceTime "
                         f"(time as the first coordinate), got {type(domain).__name__}")


def initial_value(domain: Initial, value: Value, *, name: str = "initial value", output: Outputs = None,
                  weight: float = 1.0) -> Constraint:
    """`u(t0, x) = g(t0, x)`: the state an evolution starts from.

    Args:
        domain: An [`Initial`][sirenkit.Initial] domain of a [`SpaceTime`][sirenkit.SpaceTime].
        value: `g` of the `(t0, x)` points, or a number.
        name: The loss term's name.
        output: The outputs constrained; `None`: all.
        weight: The term's weight.

    Returns:
        The constraint.

    Raises:
        ValueError: A domain that is not an `Initial` (a problem without a time axis).
    """
    _initial(domain, name)
    return dirichlet(domain, value, name=name, output=output, weight=weight)


def initial_velocity(domain: Initial, value: Value = 0.0, *, name: str = "initial velocity", output: Outputs = None,
                     weight: float = 1.0) -> Constraint:
    """`∂u/∂t(t0, x) = g(t0, x)`: the second initial condition of a wave equation.

    Args:
        domain: An [`Initial`][sirenkit.Initial] domain of a [`SpaceTime`][sirenkit.SpaceTime].
        value: `g`, a number or a function of the `(t0, x)` points.
        name: The loss term's name.
        output: The outputs constrained; `None`: all.
        weight: The term's weight.

    Returns:
        The constraint (it needs the Jacobian).

    Raises:
        ValueError: A domain that is not an `Initial`.
    """
    _initial(domain, name)
    columns = _columns(output)

    def residual(fields: Fields) -> torch.Tensor:
        rate = fields.jacobian[:, columns, 0]
        return rate - _target(value, fields.points, rate.shape[1], name)

    return Constraint(name, residual, domain, needs=("jacobian",), weight=weight)


class FacingPairs(_GeometryDomain):
    """`batch_size` pairs of points facing each other across a box along one axis, fresh each
    step: points uniform on the face `x_axis = low`, then the same points moved to `x_axis = high`.

    The points are `(2 batch_size, d)`, the first half on the low face; `data["pair"]` holds the
    `(batch_size, 2)` rows of each pair.

    Args:
        geometry: A [`Rectangle`][sirenkit.Rectangle], or a [`SpaceTime`][sirenkit.SpaceTime] over
            one (axis 0 is then time).
        axis: The coordinate across which the faces are paired.
        batch_size: Pairs per step.

    Raises:
        ValueError: Another geometry, an axis out of range, or a batch size below 1.
    """

    def __init__(self, geometry: Rectangle | SpaceTime, axis: int, batch_size: int) -> None:
        box = geometry.geometry if isinstance(geometry, SpaceTime) else geometry
        if not isinstance(box, Rectangle):
            raise ValueError(f"periodic pairs need a Rectangle or a SpaceTime over one, got {type(box).__name__}")
        if not 0 <= axis < geometry.dims or (isinstance(geometry, SpaceTime) and axis == 0):
            raise ValueError(f"axis must be a spatial axis of the {geometry.dims}-dimensional geometry, got {axis}")
        super().__init__(geometry, batch_size)
        self.axis = axis

    @property
    def points_per_step(self) -> int:
        return 2 * self.batch_size

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Draw one step's pairs.

        Args:
            generator: The random stream, on the CPU.

        Returns:
            `(points, {"pair": rows})`.
        """
        low, high = self.geometry.bounds
        points = self.geometry.sample_interior(self.batch_size, generator)
        lower, upper = points.clone(), points.clone()
        lower[:, self.axis], upper[:, self.axis] = float(low[self.axis]), float(high[self.axis])
        rows = torch.arange(self.batch_size)
        pair = torch.stack([rows, rows + self.batch_size], dim=1)
        return torch.cat([lower, upper]).to(self.device), {"pair": pair.to(self.device)}


def periodic(geometry: Rectangle | SpaceTime, axis: int, batch_size: int, *, name: str = "periodic",
             derivative: bool = True, output: Outputs = None, weight: float = 1.0) -> Constraint:
    """`u(x_low) = u(x_high)` across a box along one axis (and `∂u/∂x_axis` too): a periodic domain.

    Args:
        geometry: A [`Rectangle`][sirenkit.Rectangle], or a [`SpaceTime`][sirenkit.SpaceTime] over one.
        axis: The periodic coordinate (counting time as 0 in a space-time).
        batch_size: Pairs of points per step.
        name: The loss term's name.
        derivative: Match the first derivative along `axis` as well as the value.
        output: The outputs constrained; `None`: all.
        weight: The term's weight.

    Returns:
        The constraint, on a [`FacingPairs`][sirenkit.FacingPairs] domain.
    """
    columns = _columns(output)
    domain = FacingPairs(geometry, axis, batch_size)

    def residual(fields: Fields) -> torch.Tensor:
        first, second = fields.data["pair"][:, 0], fields.data["pair"][:, 1]
        values = fields.value[:, columns]
        gap = values[first] - values[second]
        if derivative:
            slope = fields.jacobian[:, columns, axis]
            gap = torch.cat([gap, slope[first] - slope[second]], dim=1)
        return gap

    return Constraint(name, residual, domain, needs=("jacobian",) if derivative else (), weight=weight)
