"""Signal kinds: what a fitted network represents, as a typed, registered spec.

A kind (image, audio, video, a shape's signed distance, a constraint problem of the user's own)
is a frozen dataclass whose fields describe one fitted signal: exactly what ``model.json`` stores
under ``"signal"``, so that :func:`sirenkit.load` returns it typed. Its methods own everything that
depends on the kind (DESIGN.md §7):

- the coordinate convention and the scaling between signal units and network outputs;
- its default :class:`~sirenkit.NetworkConfig` (:meth:`SignalKind.network`) and
  :class:`~sirenkit.TrainConfig` (:meth:`SignalKind.train_config`);
- the problem a signal of the kind is fitted with (:meth:`SignalKind.problem`);
- one metrics implementation (:meth:`SignalKind.measure`), which the progress bar and the final
  ``metrics.json`` both use;
- rendering at any sampling (:meth:`SignalKind.render`) and writing a rendering to a file;
- writing its run folder (:meth:`SignalKind.write_run`).

The generic fit (:func:`sirenkit.fit_signal`) runs load → configs → problem → fit → write once for
every kind. A new kind, a volume say, is one module: a subclass decorated with
:func:`register_kind`.
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
    """Steps between a recipe's logged evaluations of all ``points`` when a step trains ``batch``:
    its own ``every``, or the smallest multiple of it at which an evaluation costs at most
    :data:`EVALUATION_SHARE` of the steps between (images: 25 up to 256² at 4,096 pixels per step,
    100 at 512² in float32, 50 in bfloat16's 8,192 pixels per step)."""
    cost_in_steps = points / (3 * batch)
    return every * max(1, math.ceil(cost_in_steps / EVALUATION_SHARE / every))


@dataclass(frozen=True, kw_only=True)
class SignalKind:
    """The description of one fitted signal and what its kind knows how to do (module docstring).

    Subclasses set the class attributes, add their fields and implement the methods that raise
    ``NotImplementedError`` here."""

    name: ClassVar[str] = ""
    """The kind's name, as ``model.json`` records it."""
    in_features: ClassVar[int] = 0
    """Dimension of the coordinates."""
    suffixes: ClassVar[tuple[str, ...]] = ()
    """File suffixes a rendering is written as (``sirenkit render``); empty: not rendered to a file."""
    input_suffixes: ClassVar[tuple[str, ...]] = ()
    """The files a folder of signals contributes (``sirenkit fit KIND FOLDER``, :func:`sirenkit.fit_many`;
    other files in it are left alone); empty: the kind cannot be fitted from a folder."""
    score_names: ClassVar[tuple[str, ...]] = ()
    """The metrics of a run's ``metrics.json`` that a folder's summary row keeps (before its steps,
    seconds, parameters and what stopped it), in the order of ``summary.csv``'s columns."""
    contact_rows: ClassVar[int] = 1
    """Rows of axes one signal takes on a folder's ``contact.png`` (:meth:`draw_contact`)."""
    contact_title: ClassVar[str] = ""
    """What a folder's ``contact.png`` shows, after ``"<n> of <m> signals: "``."""
    render_options: ClassVar[tuple[str, ...]] = ()
    """Keyword arguments :meth:`render` takes (``size``, ``rate``, ...)."""
    render_hint: ClassVar[str] = ""
    """What to use instead, for a kind that is not rendered to a file."""
    target_metric: ClassVar[str] = "loss"
    """The logged figure a target (``TrainConfig.until``) refers to by default."""
    metrics: ClassVar[tuple[Metric, ...]] = ()
    """The figures :meth:`measure` and :meth:`progress` report, each with the direction in which
    it is better (a target on one is compared that way; the loss needs no entry)."""

    source: str
    """The file or name the signal came from."""

    @classmethod
    def headline(cls) -> Metric | None:
        """The figure a folder fit reports on each signal's line: the first of :attr:`metrics` that
        a summary row keeps (:attr:`score_names`); None where there is none."""
        return next((metric for metric in cls.metrics if metric.name in cls.score_names), None)

    # --- what the network is and how it is trained ------------------------------------------------

    @property
    def out_features(self) -> int:
        """Network outputs per point."""
        raise NotImplementedError

    def network(self, model: str = "siren", **settings: Any) -> NetworkConfig:
        """The default network for this signal (or a baseline of that size); the family's own
        defaults (:attr:`~sirenkit.networks.family.NetworkFamily.defaults`) before the kind's, ``settings`` last."""
        from sirenkit.networks.registry import get_family

        family = get_family(model)
        settings = {**family.defaults, **family.kind_defaults.get(self.name, {}), **settings}
        return NetworkConfig(in_features=self.in_features, out_features=self.out_features, model=model, **settings)

    def train_config(self) -> TrainConfig:
        """The kind's default training recipe for this signal."""
        raise NotImplementedError

    def check_network(self, network: NetworkConfig) -> None:
        """A ``ValueError`` when ``network`` does not map this kind's coordinates to its outputs."""
        if network.in_features != self.in_features or network.out_features != self.out_features:
            raise ValueError(f"the network maps {network.in_features} → {network.out_features}, but "
                             f"{self.source} needs {self.in_features} → {self.out_features}")

    def problem(self, signal: Any, *, batch_size: int | None, device: torch.device) -> Problem:
        """The constraints a network is fitted to ``signal`` with."""
        raise NotImplementedError

    # --- evaluating a fitted network ------------------------------------------------------------

    def render(self, model: nn.Module, *args: Any, **sampling: Any) -> Any:
        """The signal the network represents, at the original sampling or another one."""
        raise NotImplementedError

    def measure(self, rendered: Any, signal: Any, *, final: bool = True) -> dict[str, Any]:
        """Quality of a rendering against the signal; ``final=False`` leaves out what is too costly
        for every logged step (the progress bar uses it so)."""
        raise NotImplementedError

    def progress(self, model: nn.Module, signal: Any) -> dict[str, float]:
        """The figures logged while fitting: :meth:`measure` of a rendering, without the costly
        extras. A kind whose rendering is expensive may measure a part of it."""
        return {key: value for key, value in self.measure(self.render(model), signal, final=False).items()
                if isinstance(value, (int, float))}

    def summary(self, signal: Any, history: list[dict[str, float]], network: NetworkConfig) -> dict[str, Any]:
        """What ``metrics.json`` says of the signal besides its quality (shape, channels, ...)."""
        return {}

    def preview(self, model: nn.Module | None, signal: Any) -> np.ndarray | None:
        """A small picture of the network's rendering (``model`` None: of the signal itself) for
        ``progress.png`` and TensorBoard, drawn by :meth:`draw_preview`; None for a kind without one."""
        return None

    def draw_preview(self, ax: Any, preview: np.ndarray, *, truth: bool) -> None:
        """Draw a :meth:`preview` on a matplotlib axis: by default an image, grey or in colour."""
        grey = preview.ndim == 2 or preview.shape[-1] == 1
        ax.imshow(preview.reshape(preview.shape[:2]) if grey else np.clip(preview[..., :3], 0, 1),
                  cmap="gray" if grey else None, vmin=0, vmax=1)
        ax.axis("off")

    def metric_ceiling(self, metric: str) -> float | None:
        """The best value of ``metric`` the kind's written result can show (a PSNR past 8-bit
        rounding cannot), or None where there is no such limit."""
        return None

    def checked_train(self, train: TrainConfig) -> TrainConfig:
        """``train`` with its target's metric resolved to this kind's default; a ``ValueError`` for
        a target the written result cannot show."""
        if train.until is None:
            return train
        metric = train.until_metric or self.target_metric
        ceiling = self.metric_ceiling(metric)
        if ceiling is not None and train.until > ceiling:
            raise ValueError(f"--until {train.until:g} asks for more {metric} than {article(self.name)} {self.name}'s "
                             f"written result can show ({ceiling:.2f})")
        return dataclasses.replace(train, until_metric=metric)

    def conventions(self) -> dict[str, str]:
        """How the kind's metrics are measured, written beside them in ``metrics.json``."""
        return {}

    # --- files -------------------------------------------------------------------------------

    def write_run(self, fitted: Fitted, signal: Any, out: Path, *args: Any, **options: Any) -> None:
        """The run folder: main result, figures, ``metrics.json``, ``history.json``. The model is
        already there: :func:`~sirenkit.engine.runs.fit_signal` saves it as soon as the fit ends."""
        raise NotImplementedError

    def write_rendering(self, rendered: Any, path: Path, *args: Any, **sampling: Any) -> str:
        """Write a rendering to ``path`` (one of :attr:`suffixes`); returns a one-line summary."""
        raise ValueError(f"{article(self.name)} {self.name} model is not rendered to a file")

    def render_file(self, model: nn.Module, path: Path, **sampling: Any) -> str:
        """Render and write to ``path`` in one go (``sirenkit render``); returns a one-line summary.
        A kind whose renderings can outgrow memory streams them to the file instead."""
        return self.write_rendering(self.render(model, **sampling), path, **sampling)

    @classmethod
    def contact_pictures(cls, run: Path, source: str) -> tuple[np.ndarray, np.ndarray] | None:
        """A finished run's pictures for a folder's ``contact.png``: the signal as its fit saw it
        (``source`` read as the run folder ``run`` records) and the fit read back from ``run``, each
        shrunk to a tile (:func:`~sirenkit.figures.thumbnail`); None for a kind without a contact
        sheet. An ``OSError``, ``ValueError`` or ``KeyError`` where the run folder changed since."""
        return None

    @classmethod
    def draw_contact(cls, axes: Sequence[Any], row: dict[str, Any], truth: np.ndarray, fitted: np.ndarray) -> None:
        """Draw a run's :meth:`contact_pictures` on ``axes`` (one column of :attr:`contact_rows`
        matplotlib axes, their frames off), captioned from its summary ``row`` (``signal``, scores);
        by default ``truth`` as a picture under the signal's name."""
        axes[0].imshow(truth)
        axes[0].set_title(row["signal"], fontsize=8)

    def to_json(self) -> dict[str, Any]:
        """What ``model.json`` stores under ``"signal"``."""
        return {"kind": self.name, **_json_ready(dataclasses.asdict(self))}

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> SignalKind:
        """The spec ``model.json`` describes; unknown or missing fields are a ``ValueError``."""
        values = {key: value for key, value in values.items() if key != "kind"}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown, missing = sorted(set(values) - names), sorted(
            f.name for f in dataclasses.fields(cls)
            if f.name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        if unknown or missing:
            raise ValueError(f"{cls.name} description with unknown fields {unknown} or missing fields {missing}")
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
"""Every registered kind, by name."""


def register_kind(kind: type[SignalKind]) -> type[SignalKind]:
    """Class decorator: make ``kind`` known to :func:`sirenkit.load` and the generic fit."""
    if not kind.name:
        raise ValueError(f"{kind.__name__} needs a name")
    KINDS[kind.name] = kind
    return kind


PlanFunction = TypeVar("PlanFunction", bound=Callable[..., "FitPlan"])

PLANS: dict[str, Callable[..., FitPlan]] = {}
"""Each kind's planned fit, by kind name: ``plan(source, *, out, resume, overwrite, progress,
**options) -> FitPlan``, what a folder of signals of the kind is fitted with (:func:`sirenkit.fit_many`)."""


def register_plan(kind_name: str) -> Callable[[PlanFunction], PlanFunction]:
    """Function decorator: the decorated function plans the fit of one signal of kind
    ``kind_name`` from its file (see :data:`PLANS`), so that a folder of them can be fitted. A kind
    that is only fitted alone (video) registers none, and :func:`sirenkit.fit_many` refuses it."""

    def register(plan: PlanFunction) -> PlanFunction:
        PLANS[kind_name] = plan
        return plan

    return register


def plan_function(kind_name: str) -> Callable[..., FitPlan]:
    """The plan function registered for ``kind_name``; a ``ValueError`` naming those there are."""
    if kind_name not in PLANS:  # the built-in kinds register theirs when imported (by name: no arrow up)
        importlib.import_module("sirenkit.signals")
    if kind_name not in PLANS:
        raise ValueError(f"unknown kind {kind_name!r}; expected one of {', '.join(PLANS)}")
    return PLANS[kind_name]


def load_kind_plugins() -> None:
    """Register the kinds of installed plugins: the entry points of the group ``sirenkit.kinds``
    (:func:`~sirenkit.networks.registry.load_plugins`). An entry point names a :class:`SignalKind`
    subclass (registered here unless it is already), or a module whose import registers its kind and
    its plan (:func:`register_kind`, :func:`register_plan`). :mod:`sirenkit.signals` calls this once its
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
    """The typed spec of a ``model.json`` ``"signal"`` entry."""
    if not isinstance(values, dict) or values.get("kind") not in KINDS:
        found = values.get("kind") if isinstance(values, dict) else type(values).__name__
        raise ValueError(f"unknown signal kind {found!r}; expected one of {', '.join(KINDS)}")
    return KINDS[values["kind"]].from_json(values)


@dataclass
class Fitted:
    """A fitted network with what its output means: the result of every fit and of
    :func:`sirenkit.load`. ``metrics`` and ``history`` are empty for a loaded model that has none."""

    model: nn.Module
    network: NetworkConfig
    kind: SignalKind
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    out: Path | None = None
    """The run folder (for a loaded model: where it was loaded from)."""
    products: dict[str, Any] = field(default_factory=dict)
    """What the fit made besides the network, by name (``reconstruction``, ``vertices``, ...)."""

    def render(self, **sampling: Any) -> Any:
        """The kind's rendering of the network (:meth:`SignalKind.render`)."""
        return self.kind.render(self.model, **sampling)
