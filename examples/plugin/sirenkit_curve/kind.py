"""The curve kind: a network ``x → y`` fitted to samples of a function of one variable.

Coordinates: the file's ``x`` mapped linearly onto [-1, 1] (its smallest value to -1, its largest
to 1), as every kind maps its signal's extent onto [-1, 1]. Values: as a sound's samples are
divided by their largest magnitude so that the network fits numbers in [-1, 1], a curve's ``y`` is
shifted by the middle of its range and divided by half its range (``y_offset``, ``y_scale``, kept
in ``model.json``), so that the network fits [-1, 1] whatever the file's units; a curve need not
be centred on zero as a sound is. Everything written (``curve.csv``, the RMSE) is back in the
file's units.

Fitting is one constraint ``Φ(x) − y = 0`` on the samples; a rendering is a table ``(M, 2)`` of
``x, y`` at the original positions or at ``samples`` evenly spaced ones, written as CSV or drawn
as a PNG plot.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from sirenkit.engine.config import TrainConfig
from sirenkit.engine.kinds import Fitted, SignalKind, register_kind
from sirenkit.io import atomic_write_path
from sirenkit.metrics import Metric
from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.evaluate import evaluate_points
from sirenkit.problems.constraints import Constraint, Problem
from sirenkit.problems.domains import PointSet
from sirenkit_curve.data import CurveSignal, load_curve

CURVE_BATCH = 16384
"""Samples per step: every sample of a curve up to this many, a random subset beyond."""


@register_kind
@dataclass(frozen=True, kw_only=True)
class CurveKind(SignalKind):
    """Samples of a function y = f(x), from a CSV file of two columns x, y.

    The fields: ``samples`` points with ``x`` in [``x_min``, ``x_max``]; the scaling of ``y``."""

    name: ClassVar[str] = "curve"
    in_features: ClassVar[int] = 1
    suffixes: ClassVar[tuple[str, ...]] = (".csv", ".png")
    input_suffixes: ClassVar[tuple[str, ...]] = (".csv",)
    score_names: ClassVar[tuple[str, ...]] = ("rmse",)
    contact_title: ClassVar[str] = "the fit (red) over the samples (grey)"
    render_options: ClassVar[tuple[str, ...]] = ("size", "samples")
    target_metric: ClassVar[str] = "rmse"
    metrics: ClassVar[tuple[Metric, ...]] = (Metric("rmse", higher_is_better=False),)

    samples: int
    x_min: float
    x_max: float
    y_offset: float
    """The middle of the file's ``y`` range: ``y = network output · y_scale + y_offset``."""
    y_scale: float
    """Half the file's ``y`` range (1 for a constant curve)."""
    x_name: str = "x"
    y_name: str = "y"

    @classmethod
    def describe(cls, signal: CurveSignal) -> CurveKind:
        low, high = float(signal.y.min()), float(signal.y.max())
        return cls(source=signal.name, samples=len(signal.x), x_min=float(signal.x[0]), x_max=float(signal.x[-1]),
                   y_offset=(low + high) / 2, y_scale=(high - low) / 2 or 1.0, x_name=signal.x_name,
                   y_name=signal.y_name)

    @property
    def out_features(self) -> int:
        return 1

    def coordinates(self, x: np.ndarray) -> torch.Tensor:
        """``(N, 1)`` network coordinates of positions ``x: (N,)`` in the file's units; [x_min, x_max] → [-1, 1]."""
        mapped = -1.0 + 2.0 * (np.asarray(x, dtype=np.float64) - self.x_min) / (self.x_max - self.x_min)
        return torch.from_numpy(mapped).float()[:, None]

    def network(self, model: str = "siren", **settings: Any) -> NetworkConfig:
        """A small network (1 → 128 × 3 → 1): a curve has far fewer samples than an image; and
        a first ω0 of ``samples / 6`` between 5 and 30 (a SIREN's image value): at 30, 60 samples of
        a damped sine were fitted to an RMSE of 5e-5 with wiggles between the samples, at 10 as
        closely and smoothly (200 steps)."""
        settings = {"hidden_features": 128, "hidden_layers": 3, "pe_sidelength": self.samples,
                    "first_omega": min(30.0, max(5.0, self.samples / 6)), **settings}
        return super().network(model, **settings)

    def train_config(self) -> TrainConfig:
        """1,000 steps of Adam at 1e-3 (a SIREN's image rate) on every sample (a random
        16,384 of a longer curve), the RMSE logged every 25 steps."""
        return TrainConfig(steps=1000, learning_rate=1e-3,
                           batch_size=None if self.samples <= CURVE_BATCH else CURVE_BATCH, log_every=25)

    def problem(self, signal: CurveSignal, *, batch_size: int | None, device: torch.device) -> Problem:
        """Fit the samples, in network units."""
        target = torch.from_numpy((signal.y - self.y_offset) / self.y_scale).float()[:, None].to(device)
        domain = PointSet(self.coordinates(signal.x).to(device), {"target": target}, batch_size=batch_size)
        return Problem([Constraint("curve", lambda f: f.value - f.data["target"], domain)])

    def render(self, model: nn.Module, *, size: int | Sequence[int] | None = None, samples: int | None = None,
               x: np.ndarray | None = None) -> np.ndarray:
        """``(M, 2)`` rows ``x, y`` in the file's units: at positions ``x``, or at ``samples``
        (``size``: ``sirenkit render --size N``) evenly spaced ones over [x_min, x_max]; by default
        as many as the file has."""
        if x is None:
            if samples is None and size is not None:
                samples = size if isinstance(size, int) else int(size[0])  # --size N arrives as (N, N)
            count = self.samples if samples is None else int(samples)
            if count < 2:
                raise ValueError(f"a curve is rendered at 2 samples or more, got {count}")
            x = np.linspace(self.x_min, self.x_max, count)
        values = evaluate_points(model, self.coordinates(x)).double().numpy()[:, 0]
        return np.stack([np.asarray(x, dtype=np.float64), values * self.y_scale + self.y_offset], axis=1)

    def progress(self, model: nn.Module, signal: CurveSignal) -> dict[str, float]:
        """The RMSE at the file's own positions."""
        return self.measure(self.render(model, x=signal.x), signal, final=False)

    def measure(self, rendered: np.ndarray, signal: CurveSignal, *, final: bool = True) -> dict[str, Any]:
        """RMSE (and, final, the largest error) in the file's ``y`` units, of a rendering at the
        file's positions."""
        if rendered.shape != (len(signal.y), 2):
            raise ValueError(f"measure a curve rendered at its {len(signal.y)} positions, got {rendered.shape}")
        error = rendered[:, 1] - signal.y
        result = {"rmse": float(np.sqrt(np.mean(error**2)))}
        if final:
            result["max_error"] = float(np.abs(error).max())
        return result

    def summary(self, signal: Any, history: list[dict[str, float]], network: NetworkConfig) -> dict[str, Any]:
        return {"samples": self.samples, "x_range": [self.x_min, self.x_max], "y_offset": self.y_offset,
                "y_scale": self.y_scale, "first_omega": network.first_omega}

    def conventions(self) -> dict[str, str]:
        return {"rmse_convention": "root mean square of fit − y over the file's samples, in the file's y units"}

    def preview(self, model: nn.Module | None, signal: CurveSignal) -> np.ndarray:
        """The curve's values (the network's at the file's positions), for ``progress.png``."""
        return signal.y if model is None else self.render(model, x=signal.x)[:, 1]

    def draw_preview(self, ax: Any, preview: np.ndarray, *, truth: bool) -> None:
        ax.plot(np.linspace(self.x_min, self.x_max, len(preview)), preview, lw=0.8,
                color="0.3" if truth else "tab:red")
        ax.set_xlabel(self.x_name)

    @classmethod
    def contact_pictures(cls, run: Path, source: str) -> tuple[np.ndarray, np.ndarray]:
        """The file's samples and the run's ``curve.csv``, each ``(N, 2)``."""
        return _table(load_curve(source)), _table(load_curve(run / "curve.csv"))

    @classmethod
    def draw_contact(cls, axes: Sequence[Any], row: dict[str, Any], truth: np.ndarray, fitted: np.ndarray) -> None:
        """The fit over the samples, captioned with its RMSE."""
        ax = axes[0]
        ax.axis("on")
        ax.plot(truth[:, 0], truth[:, 1], ".", ms=2, color="0.5")
        ax.plot(fitted[:, 0], fitted[:, 1], lw=0.8, color="tab:red")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{row['signal']}: RMSE {row.get('rmse', float('nan')):.3g}", fontsize=8)

    def write_run(self, fitted: Fitted, signal: CurveSignal, out: Path) -> None:
        """``curve.csv`` (the fit at the file's positions), ``curve.png`` (the fit, drawn at four
        times as many points, over the samples), ``rmse.png``, metrics and history."""
        from sirenkit.engine.runs import history_series
        from sirenkit.figures import curve_figure
        from sirenkit.io import write_json

        metrics = fitted.metrics
        self.write_rendering(fitted.products["reconstruction"], out / "curve.csv")
        dense = self.render(fitted.model, samples=max(4 * self.samples, 512))
        plot_curve(dense, out / "curve.png", samples=_table(signal), x_name=self.x_name, y_name=self.y_name,
                   title=f"{self.source}: {self.samples} samples, {fitted.network.model}, RMSE {metrics['rmse']:.3g}, "
                         f"{metrics['steps']} steps")
        curve_figure({fitted.network.model: history_series(fitted.history, "rmse")}, out / "rmse.png",
                     xlabel="step", ylabel=f"RMSE ({self.y_name})", title="RMSE over every sample, per step",
                     log_y=True)
        write_json(out / "history.json", fitted.history)
        write_json(out / "metrics.json", metrics)

    def write_rendering(self, rendered: np.ndarray, path: Path, **sampling: Any) -> str:
        """A CSV table with a heading (the file's), or a PNG plot."""
        path = Path(path)
        if path.suffix.lower() == ".png":
            plot_curve(rendered, path, x_name=self.x_name, y_name=self.y_name, title=self.source)
            return f"a plot of {len(rendered):,} samples"
        def write(temporary: Path) -> None:
            with temporary.open("w", newline="") as file:
                writer = csv.writer(file)
                writer.writerow([self.x_name, self.y_name])
                writer.writerows((repr(float(x)), repr(float(y))) for x, y in rendered)

        atomic_write_path(path, write)  # whole or not at all, and recorded as the run's file by name
        return f"{len(rendered):,} samples of x in [{self.x_min:g}, {self.x_max:g}]"


def _table(signal: CurveSignal) -> np.ndarray:
    return np.stack([signal.x, signal.y], axis=1)  # (N, 2)


def plot_curve(rendered: np.ndarray, path: Path, *, samples: np.ndarray | None = None, x_name: str = "x",
               y_name: str = "y", title: str = "") -> None:
    """A PNG plot of a rendering ``(M, 2)`` as a line, over the ``samples`` ``(N, 2)`` as dots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if samples is not None:
        ax.plot(samples[:, 0], samples[:, 1], "o", ms=3, color="0.45", label="samples")
    ax.plot(rendered[:, 0], rendered[:, 1], lw=1.4, color="tab:red", label="network")
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.grid(alpha=0.3)
    if samples is not None:
        ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    figure.tight_layout()
    atomic_write_path(path, figure.savefig)
    plt.close(figure)


__all__ = ["CurveKind", "plot_curve"]
