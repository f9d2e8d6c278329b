"""The kind of a problem of the user's own ([`sirenkit.solve`][sirenkit.solve]): a network whose outputs mean
what the user's constraints say. It is rendered at the points the user gives and measured by its
loss terms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from sirenkit.engine.kinds import Fitted, SignalKind, register_kind
from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.evaluate import evaluate_points


@register_kind
@dataclass(frozen=True, kw_only=True)
class ProblemKind(SignalKind):
    """The kind of a network fitted to the constraints of a [`Problem`][sirenkit.Problem] by
    [`solve`][sirenkit.solve]: `title` names it and `settings` record what you passed (in
    `model.json` beside the title, as `name`), so that [`load`][sirenkit.load] gives it back. Its
    rendering evaluates the network at given points.
    """

    name: ClassVar[str] = "problem"
    render_options: ClassVar[tuple[str, ...]] = ("points",)

    title: str = "problem"
    terms: tuple[str, ...] = ()
    """The names of the constraints, the loss terms."""
    outputs: int = 0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def out_features(self) -> int:
        return self.outputs

    def check_network(self, network: NetworkConfig) -> None:
        """Any network fits a problem; its checks run on the constraints
        ([`Problem.check`][sirenkit.Problem.check])."""

    def render(self, model: nn.Module, *, points: torch.Tensor | np.ndarray | None = None) -> np.ndarray | None:
        """Evaluate the network at given points.

        Args:
            model: The fitted network.
            points: `(N, d)` coordinates; `None` renders nothing.

        Returns:
            The network's values `(N, m)`, or `None` without points.
        """
        if points is None:
            return None
        return evaluate_points(model, torch.as_tensor(points, dtype=torch.float32)).numpy()

    def measure(self, rendered: Any, signal: Any, *, final: bool = True) -> dict[str, Any]:
        return {}

    def summary(self, signal: Any, history: list[dict[str, float]], network: NetworkConfig) -> dict[str, Any]:
        """The last value of every loss term and of every figure the problem's `evaluate` logs."""
        last = history[-1] if history else {}
        terms = list(self.terms)
        values = {term: last.get(term, last.get("loss") if len(terms) == 1 else None) for term in terms}
        extra = {key: value for key, value in last.items() if key not in ("step", "seconds", "lr", "loss", *terms)}
        return {"loss": last.get("loss"), "terms": values, **extra, "shape": [], "channels": network.out_features}

    def write_run(self, fitted: Fitted, signal: Any, out: Path) -> None:
        """`loss.png` (every named term per step), metrics and history."""
        from sirenkit.engine.history import history_series, logged_every
        from sirenkit.figures import curve_figure
        from sirenkit.io import write_json

        terms = list(fitted.metrics["terms"])
        series: dict[str, tuple[Sequence[float], Sequence[float]]] = {
            term: history_series(fitted.history, term if len(terms) > 1 else "loss") for term in terms}
        curve_figure(series, out / "loss.png", xlabel="step", ylabel="weighted loss term",
                     log_y=True,
                     title=f"{self.title}: loss terms, {logged_every(fitted.history, 'loss')} "
                           f"({fitted.metrics['steps']:,} steps, {fitted.metrics['seconds']:.0f} s)")
        write_json(out / "history.json", fitted.history)
        write_json(out / "metrics.json", fitted.metrics)

    def to_json(self) -> dict[str, Any]:
        """As model.json has always stored a problem: the title as `name`, the settings beside it."""
        from sirenkit.engine.kinds import _json_ready

        return {"kind": self.name, "name": self.title, "source": self.source, "terms": list(self.terms),
                "outputs": self.outputs, **_json_ready(self.settings)}

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> ProblemKind:
        values = {key: value for key, value in values.items() if key != "kind"}
        title = str(values.pop("name", "problem"))
        source = str(values.pop("source", title))
        terms, outputs = tuple(values.pop("terms", ())), int(values.pop("outputs", 0))
        return cls(source=source, title=title, terms=terms, outputs=outputs, settings=values)
