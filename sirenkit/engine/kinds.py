"""Signal kinds: what a fitted network represents, as a typed, registered spec.

A kind (image, audio, video, a shape's signed distance, a constraint problem of the user's own)
is a frozen dataclass whose fields describe one fitted signal: exactly what `model.json` stores
under `"signal"`, so that [`sirenkit.load`][sirenkit.load] returns it typed. Its methods own everything that
depends on the kind:

- the coordinate convention and the scaling between signal units and network outputs;
- its default [`NetworkConfig`][sirenkit.NetworkConfig] ([`SignalKind.network`][sirenkit.SignalKind.network]) and
  [`TrainConfig`][sirenkit.TrainConfig] ([`SignalKind.train_config`][sirenkit.SignalKind.train_config]);
- the problem a signal of the kind is fitted with ([`SignalKind.problem`][sirenkit.SignalKind.problem]);
- one metrics implementation ([`SignalKind.measure`][sirenkit.SignalKind.measure]), which the progress bar
  and the final `metrics.json` both use;
- rendering at any sampling ([`SignalKind.render`][sirenkit.SignalKind.render]) and writing a rendering to a file;
- writing its run folder ([`SignalKind.write_run`][sirenkit.SignalKind.write_run]).

The generic fit ([`sirenkit.fit_signal`][sirenkit.fit_signal]) runs load → configs → problem → fit → write once for
every kind. A new kind, a volume say, is one module: a subclass decorated with
[`register_kind`][sirenkit.register_kind].
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import torch
from torch import nn

from sirenkit.config import check_field_types
from sirenkit.engine.config import TrainConfig
from sirenkit.metrics import Metric
from sirenkit.networks.config import NetworkConfig
from sirenkit.problems.constraints import Problem

if TYPE_CHECKING:
    from sirenkit.engine.runs import FitPlan

PROMISED_SECONDS = {"image": 85.0, "audio": 540.0, "video": 540.0, "poisson": 540.0, "sdf": 840.0}
"""Each task's default time budget (seconds of fitting): its promised time (90 s for an image, 10
minutes for sound, video and reconstruction from derivatives, 15 for a shape) less room for the
evaluation and files after the fit. Where the steps end sooner (bfloat16 machines) they decide."""


EVALUATION_SHARE = 0.25
"""The most of the steps' time a recipe's logged evaluations may add. An image's or a sound's
renders every point, about a third of a training step's cost per batch of points (0.9 s against
0.048 s a step at 512², 4,096 pixels per step, float32, 2-core AVX2 EPYC), so a large signal is
evaluated less often than its recipe's interval. Evaluations are outside the time budget, but not
outside the user's wait."""


def evaluation_interval(points: int, batch: int, *, every: int) -> int:
    """Steps between a recipe's logged evaluations of all `points` when a step trains `batch`:
    its own `every`, or the smallest multiple of it at which an evaluation costs at most
    `EVALUATION_SHARE` of the steps between (images: 25 up to 256² at 4,096 pixels per step,
    100 at 512² in float32, 50 in bfloat16's 8,192 pixels per step)."""
    cost_in_steps = points / (3 * batch)
    return every * max(1, math.ceil(cost_in_steps / EVALUATION_SHARE / every))


@dataclass(frozen=True, kw_only=True)
class SignalKind:
    """The description of one fitted signal and what its kind knows how to do: the base of every kind.

    A kind is a frozen dataclass whose fields describe one fitted signal (what `model.json` stores
    under `"signal"`). Subclasses set the class attributes, add their fields and implement the
    methods that raise `NotImplementedError` here; [`register_kind`][sirenkit.register_kind] makes
    them known.
    """

    name: ClassVar[str] = ""
    """The kind's name, as `model.json` records it."""
    in_features: ClassVar[int] = 0
    """Dimension of the coordinates."""
    suffixes: ClassVar[tuple[str, ...]] = ()
    """File suffixes a rendering is written as (`sirenkit render`); empty: not rendered to a file."""
    input_suffixes: ClassVar[tuple[str, ...]] = ()
    """The files a folder of signals contributes (`sirenkit fit KIND FOLDER`,
    [`sirenkit.fit_many`][sirenkit.fit_many]; other files in it are left alone); empty: the kind cannot be
    fitted from a folder."""
    score_names: ClassVar[tuple[str, ...]] = ()
    """The metrics of a run's `metrics.json` that a folder's summary row keeps (before its steps,
    seconds, parameters and what stopped it), in the order of `summary.csv`'s columns."""
    contact_rows: ClassVar[int] = 1
    """Rows of axes one signal takes on a folder's `contact.png`
    ([`draw_contact`][sirenkit.SignalKind.draw_contact])."""
    contact_title: ClassVar[str] = ""
    """What a folder's `contact.png` shows, after `"<n> of <m> signals: "`."""
    render_options: ClassVar[tuple[str, ...]] = ()
    """Keyword arguments [`render`][sirenkit.SignalKind.render] takes (`size`, `rate`, ...)."""
    render_hint: ClassVar[str] = ""
    """What to use instead, for a kind that is not rendered to a file."""
    target_metric: ClassVar[str] = "loss"
    """The logged figure a target (`TrainConfig.until`) refers to by default."""
    metrics: ClassVar[tuple[Metric, ...]] = ()
    """The figures [`measure`][sirenkit.SignalKind.measure] and [`progress`][sirenkit.SignalKind.progress]
    report, each with the direction in which it is better (a target on one is compared that way; the loss
    needs no entry)."""

    source: str
    """The file or name the signal came from."""

    @classmethod
    def headline(cls) -> Metric | None:
        """The figure a folder fit reports on each signal's line: the first of
        [`metrics`][sirenkit.SignalKind.metrics] that a summary row keeps
        ([`score_names`][sirenkit.SignalKind.score_names]); `None` where there is none.
        """
        return next((metric for metric in cls.metrics if metric.name in cls.score_names), None)

    # --- what the network is and how it is trained ------------------------------------------------

    @property
    def out_features(self) -> int:
        """Network outputs per point."""
        raise NotImplementedError

    def network(self, model: str = "siren", **settings: Any) -> NetworkConfig:
        """The default network for this signal, or a baseline of that size.

        Args:
            model: The network family.
            **settings: Settings of [`NetworkConfig`][sirenkit.NetworkConfig], applied last: after the
                family's own [`defaults`][sirenkit.NetworkFamily.defaults] and the kind's.
        """
        from sirenkit.networks.registry import get_family

        family = get_family(model)
        settings = {**family.defaults, **family.kind_defaults.get(self.name, {}), **settings}
        return NetworkConfig(in_features=self.in_features, out_features=self.out_features, model=model, **settings)

    def train_config(self) -> TrainConfig:
        """The kind's default training recipe for this signal."""
        raise NotImplementedError

    def check_network(self, network: NetworkConfig) -> None:
        """Check that a network maps this kind's coordinates to its outputs.

        Args:
            network: The network's configuration.

        Raises:
            ValueError: Other input or output dimensions.
        """
        if network.in_features != self.in_features or network.out_features != self.out_features:
            raise ValueError(f"the network maps {network.in_features} → {network.out_features}, but "
                             f"{self.source} needs {self.in_features} → {self.out_features}")

    def problem(self, signal: Any, *, batch_size: int | None, device: torch.device) -> Problem:
        """The constraints a network is fitted to the signal with.

        Args:
            signal: The signal.
            batch_size: Points per step; `None` is the kind's choice.
            device: Where the problem's tensors go.
        """
        raise NotImplementedError

    # --- evaluating a fitted network ------------------------------------------------------------

    def render(self, model: nn.Module, *args: Any, **sampling: Any) -> Any:
        """The signal the network represents, at the original sampling or another one.

        Args:
            model: The fitted network.
            *args: The kind's own.
            **sampling: The kind's options ([`render_options`][sirenkit.SignalKind.render_options]).
        """
        raise NotImplementedError

    def measure(self, rendered: Any, signal: Any, *, final: bool = True) -> dict[str, Any]:
        """The quality of a rendering against the signal: the metrics, by name.

        Args:
            rendered: What [`render`][sirenkit.SignalKind.render] returned.
            signal: The signal.
            final: `False` leaves out what is too costly for every logged step (the progress bar).
        """
        raise NotImplementedError

    def progress(self, model: nn.Module, signal: Any) -> dict[str, float]:
        """The figures logged while fitting: [`measure`][sirenkit.SignalKind.measure] of a rendering,
        without the costly extras. A kind whose rendering is expensive may measure a part of it.

        Args:
            model: The network being fitted.
            signal: The signal.
        """
        return {key: value for key, value in self.measure(self.render(model), signal, final=False).items()
                if isinstance(value, (int, float))}

    def summary(self, signal: Any, history: list[dict[str, float]], network: NetworkConfig) -> dict[str, Any]:
        """What `metrics.json` says of the signal besides its quality (shape, channels, ...).

        Args:
            signal: The signal.
            history: The fit's history.
            network: The network's configuration.
        """
        return {}

    def preview(self, model: nn.Module | None, signal: Any) -> np.ndarray | None:
        """A small picture of the network's rendering for `progress.png` and TensorBoard (drawn by
        [`draw_preview`][sirenkit.SignalKind.draw_preview]); `None` for a kind without one.

        Args:
            model: The network; `None` pictures the signal itself.
            signal: The signal.
        """
        return None

    def draw_preview(self, ax: Any, preview: np.ndarray, *, truth: bool) -> None:
        """Draw a [`preview`][sirenkit.SignalKind.preview] on a matplotlib axis: by default an image, grey
        or in colour.

        Args:
            ax: The axis.
            preview: The picture.
            truth: Whether it pictures the signal rather than the fit.
        """
        grey = preview.ndim == 2 or preview.shape[-1] == 1
        ax.imshow(preview.reshape(preview.shape[:2]) if grey else np.clip(preview[..., :3], 0, 1),
                  cmap="gray" if grey else None, vmin=0, vmax=1)
        ax.axis("off")

    def metric_ceiling(self, metric: str) -> float | None:
        """The best value of a metric the kind's written result can show (a PSNR past 8-bit rounding
        cannot); `None` where there is no such limit.

        Args:
            metric: The metric's name.
        """
        return None

    def checked_train(self, train: TrainConfig) -> TrainConfig:
        """Resolve a recipe's target to this kind's default metric.

        Args:
            train: The recipe.

        Returns:
            `train` with `until_metric` set where it has a target.

        Raises:
            ValueError: A target the written result cannot show.
        """
        if train.until is None:
            return train
        metric = train.until_metric or self.target_metric
        ceiling = self.metric_ceiling(metric)
        if ceiling is not None and train.until > ceiling:
            raise ValueError(f"--until {train.until:g} asks for more {metric} than {article(self.name)} {self.name}'s "
                             f"written result can show ({ceiling:.2f})")
        return dataclasses.replace(train, until_metric=metric)

    def conventions(self) -> dict[str, str]:
        """How the kind's metrics are measured, written beside them in `metrics.json`."""
        return {}

    # --- files -------------------------------------------------------------------------------

    def write_run(self, fitted: Fitted, signal: Any, out: Path, *args: Any, **options: Any) -> None:
        """Write the run folder: main result, figures, `metrics.json`, `history.json`. The model is
        already there: [`fit_signal`][sirenkit.fit_signal] saves it as soon as the fit ends.

        Args:
            fitted: The fitted network.
            signal: The signal.
            out: The run folder.
            *args: The kind's own.
            **options: The kind's own.
        """
        raise NotImplementedError

    def write_rendering(self, rendered: Any, path: Path, *args: Any, **sampling: Any) -> str:
        """Write a rendering to a file; returns a one-line summary.

        Args:
            rendered: What [`render`][sirenkit.SignalKind.render] returned.
            path: The file, with one of [`suffixes`][sirenkit.SignalKind.suffixes].
            *args: The kind's own.
            **sampling: The options it was rendered with.

        Raises:
            ValueError: The kind is not rendered to a file.
        """
        raise ValueError(f"{article(self.name)} {self.name} model is not rendered to a file")

    def render_file(self, model: nn.Module, path: Path, **sampling: Any) -> str:
        """Render and write to a file in one go (`sirenkit render`); returns a one-line summary. A kind
        whose renderings can outgrow memory streams them to the file instead.

        Args:
            model: The fitted network.
            path: The file.
            **sampling: The kind's rendering options.
        """
        return self.write_rendering(self.render(model, **sampling), path, **sampling)

    @classmethod
    def contact_pictures(cls, run: Path, source: str) -> tuple[np.ndarray, np.ndarray] | None:
        """A finished run's pictures for a folder's `contact.png`: `(truth, fitted)`, the signal as its fit
        saw it and the fit read back, each shrunk to a tile; `None` for a kind without a contact sheet.
        An `OSError`, `ValueError` or `KeyError` where the run folder changed since.

        Args:
            run: The run folder.
            source: The signal's source, as the run folder records it.
        """
        return None

    @classmethod
    def draw_contact(cls, axes: Sequence[Any], row: dict[str, Any], truth: np.ndarray, fitted: np.ndarray) -> None:
        """Draw a run's [`contact_pictures`][sirenkit.SignalKind.contact_pictures]; by default `truth` as
        a picture under the signal's name.

        Args:
            axes: One column of [`contact_rows`][sirenkit.SignalKind.contact_rows] matplotlib axes,
                their frames off.
            row: The run's summary row (`signal`, scores), for the caption.
            truth: The signal's picture.
            fitted: The fit's picture.
        """
        axes[0].imshow(truth)
        axes[0].set_title(row["signal"], fontsize=8)

    def to_json(self) -> dict[str, Any]:
        """What `model.json` stores under `"signal"`: the kind's name and its fields."""
        return {"kind": self.name, **_json_ready(dataclasses.asdict(self))}

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> SignalKind:
        """The kind `model.json` describes.

        Args:
            values: What `model.json` stores under `"signal"`.

        Raises:
            ValueError: Unknown or missing fields.
        """
        values = {key: value for key, value in values.items() if key != "kind"}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown, missing = sorted(set(values) - names), sorted(
            f.name for f in dataclasses.fields(cls)
            if f.name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        if unknown or missing:
            raise ValueError(f"{cls.name} description with unknown fields {unknown} or missing fields {missing}")
        check_field_types(cls, values, f"{cls.name} description")  # sizes are the kind's own checks
        fields: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value
                                  for key, value in values.items()}
        return cls(**fields)


def _json_ready(values: Any) -> Any:
    if isinstance(values, dict):
        return {key: _json_ready(value) for key, value in values.items()}
    if isinstance(values, (list, tuple)):
        return [_json_ready(value) for value in values]
    if isinstance(values, np.generic):
        return values.item()
    return values


def article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


KINDS: dict[str, type[SignalKind]] = {}
"""Every registered kind, by name: the built-in ones (`image`, `audio`, `video`, `sdf`,
`problem`) and those that plugins add. Filled when sirenkit is imported; register with
[`register_kind`][sirenkit.register_kind] rather than changing it.
"""


def register_kind(kind: type[SignalKind]) -> type[SignalKind]:
    """Class decorator: make a kind known to [`load`][sirenkit.load] and the generic fit.

    Args:
        kind: A subclass of [`SignalKind`][sirenkit.SignalKind] with a `name`.

    Raises:
        ValueError: A kind without a name.
    """
    if not kind.name:
        raise ValueError(f"{kind.__name__} needs a name")
    KINDS[kind.name] = kind
    return kind


PlanFunction = TypeVar("PlanFunction", bound=Callable[..., "FitPlan"])

PLANS: dict[str, Callable[..., FitPlan]] = {}
"""Each kind's planned fit, by kind name: `plan(source, *, out, resume, overwrite, progress,
**options) -> FitPlan`, what a folder of signals of the kind is fitted with
([`sirenkit.fit_many`][sirenkit.fit_many])."""


def register_plan(kind_name: str) -> Callable[[PlanFunction], PlanFunction]:
    """Function decorator: the decorated function plans the fit of one signal of kind
    `kind_name` from its file (see `PLANS`), so that a folder of them can be fitted. A kind
    that is only fitted alone (video) registers none, and [`sirenkit.fit_many`][sirenkit.fit_many] refuses it."""

    def register(plan: PlanFunction) -> PlanFunction:
        PLANS[kind_name] = plan
        return plan

    return register


def plan_function(kind_name: str) -> Callable[..., FitPlan]:
    """The plan function registered for `kind_name`; a `ValueError` naming those there are."""
    if kind_name not in PLANS:  # the built-in kinds register theirs when imported (by name: no arrow up)
        importlib.import_module("sirenkit.signals")
    if kind_name not in PLANS:
        raise ValueError(f"unknown kind {kind_name!r}; expected one of {', '.join(PLANS)}")
    return PLANS[kind_name]


def load_kind_plugins() -> None:
    """Register the kinds of installed plugins: the entry points of the group `sirenkit.kinds`
    (`load_plugins`). An entry point names a [`SignalKind`][sirenkit.SignalKind]
    subclass (registered here unless it is already), or a module whose import registers its kind and
    its plan ([`register_kind`][sirenkit.register_kind], `register_plan`). `sirenkit.signals` calls this once its
    built-in kinds are registered; a plugin may not replace one of them."""
    from sirenkit.networks.registry import load_plugins

    def accept(loaded: object) -> bool:
        if not (isinstance(loaded, type) and issubclass(loaded, SignalKind)):
            return False
        if KINDS.get(loaded.name) is not loaded:
            if loaded.name in KINDS:
                raise ValueError(f"a kind named {loaded.name!r} is already registered")
            register_kind(loaded)
        return True

    load_plugins("sirenkit.kinds", [KINDS, PLANS], accept)


def kind_from_json(values: Any) -> SignalKind:
    """The typed spec of a `model.json` `"signal"` entry."""
    if not isinstance(values, dict) or values.get("kind") not in KINDS:
        found = values.get("kind") if isinstance(values, dict) else type(values).__name__
        raise ValueError(f"unknown signal kind {found!r}; expected one of {', '.join(KINDS)}")
    return KINDS[values["kind"]].from_json(values)


@dataclass
class Fitted:
    """A fitted network with what its output means: the result of every fit and of
    [`load`][sirenkit.load]. `metrics` and `history` are empty for a loaded model that has none.
    """

    model: nn.Module
    """The fitted network, on the device it was fitted or loaded on."""
    network: NetworkConfig
    """The network's configuration (family, width, depth, frequencies)."""
    kind: SignalKind
    """What the network's output means: an [`ImageKind`][sirenkit.ImageKind],
    [`AudioKind`][sirenkit.AudioKind], [`ShapeKind`][sirenkit.ShapeKind], ... or a plugin's kind.
    """
    metrics: dict[str, Any] = field(default_factory=dict)
    """What `metrics.json` holds: the quality figures, steps, seconds, parameters, ..."""
    history: list[dict[str, float]] = field(default_factory=list)
    """One row per logged step (`step`, `seconds`, `loss`, each term, each metric)."""
    out: Path | None = None
    """The run folder (for a loaded model: where it was loaded from)."""
    products: dict[str, Any] = field(default_factory=dict)
    """What the fit made besides the network, by name (`reconstruction`, `vertices`, ...)."""

    def render(self, **sampling: Any) -> Any:
        """Render the network as its kind does ([`SignalKind.render`][sirenkit.SignalKind.render]).

        Args:
            **sampling: The kind's rendering options: an image's `size=(W, H)` and `what`, a sound's
                `rate`, a clip's `fps`, `size` and `frames`, a shape's `resolution`.
        """
        return self.kind.render(self.model, **sampling)
