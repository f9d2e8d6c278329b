"""The command line's option types and the options its commands share; and how the parsed options
are handed to the library (`sirenkit.engine.options`), which decides what they mean."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import click

from sirenkit.config import field_docs
from sirenkit.engine import options as run_options
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.folders import signal_kind
from sirenkit.engine.frequency import Frequency
from sirenkit.engine.kinds import Fitted
from sirenkit.engine.runs import FitPlan
from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.registry import FAMILIES, model_names
from sirenkit.resources import MAX_OUTPUT_PIXELS
from sirenkit.text import printable


def echo(text: object, *, err: bool = False, lines: bool = False) -> None:
    """Print a line of the command's output (stderr with `err`): every line goes through here, so
    that a file's name that is not valid UTF-8 or a terminal control character read from a file
    is printed escaped (`sirenkit.text.printable`); with `lines`, the text's newlines are kept."""
    click.echo(printable(text, lines=lines), err=err)


class FiniteFloat(click.FloatRange):
    """A float in a range that is also a finite number: click's `FloatRange` lets NaN (every
    comparison with it is false) and infinity through."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.min is None and self.max is None:
            self.name = "float"  # shown as FLOAT, not FLOAT RANGE

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number

    def _describe_range(self) -> str:
        # click describes an unbounded range as "x<=None" in the help; there is nothing to say
        return "" if self.min is None and self.max is None else super()._describe_range()


POSITIVE = FiniteFloat(min=0, min_open=True)
"""A finite number above 0 (a learning rate, ω0, a budget in seconds, a frame rate)."""
NON_NEGATIVE = FiniteFloat(min=0)
"""A finite number, 0 or more (a weight that 0 turns off)."""


class OmegaType(FiniteFloat):
    """`auto` or a finite number above 0."""

    name = "auto|float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        return super().convert(value, param, ctx)


class StepList(click.ParamType):
    """Steps separated by commas (`5,50,300`), each at least 1."""

    name = "steps"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        try:
            steps = tuple(int(part) for part in str(value).split(",") if part.strip())
        except ValueError:
            self.fail(f"{value!r}: give steps as whole numbers separated by commas, e.g. 5,50,300", param, ctx)
        if not steps or min(steps) < 1:
            self.fail(f"{value!r}: give steps of at least 1, separated by commas, e.g. 5,50,300", param, ctx)
        return steps


class ThreadsType(click.IntRange):
    """`auto` or a whole number of at least 1."""

    name = "auto|integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        return super().convert(value, param, ctx)


OMEGA = OmegaType(min=0, min_open=True)
"""`--omega`: a frequency, or `auto` (chosen from the signal, `sirenkit.engine.frequency`)."""


def documented(config_class: type, field: str, note: str = "") -> str:
    """An option's help: the docstring of the configuration field it sets, and a note."""
    return " ".join(part for part in (field_docs(config_class).get(field, ""), note) if part)


TASKS_DEFAULT = "[default: the task's]"


def training_options(default_steps: int | None = None) -> Callable:
    """The options every fitting command shares, documented by the configuration fields they set.
    A default of `None` defers to the task's own training defaults."""
    options = [
        click.option("--steps", type=click.IntRange(min=1), default=default_steps,
                     help=documented(TrainConfig, "steps", TASKS_DEFAULT if default_steps is None else "")),
        click.option("--time", "time_budget", type=POSITIVE, default=None,
                     help=documented(TrainConfig, "time_budget", "Without --steps, the steps are not limited.")),
        click.option("--until", type=FiniteFloat(), default=None,
                     help="Stop at the first evaluation at which the task's main figure reaches this value: PSNR "
                          "for images and video, SNR for sound (both in dB: at or above it), the surface distance "
                          "for shapes (at or below it), the loss for a problem of your own."),
        click.option("--model", type=click.Choice(model_names()), default=NetworkConfig.model,
                     help="Network family: siren (sine activations); the SIREN paper's baselines relu, relu-pe "
                          "(ReLU on positional encoding), rff (ReLU on random Fourier features) and tanh; finer, "
                          "gauss, wire, hash-grid and grid; and any an installed plugin adds. Which to use: the "
                          "documentation's Which network? page."),
        click.option("--device", default=TrainConfig.device, help=documented(TrainConfig, "device")),
        click.option("--seed", type=int, default=None,
                     help=documented(TrainConfig, "seed", f"[default: {TrainConfig.seed}]")),
        click.option("--out", type=click.Path(path_type=Path), default=None,
                     help="Run folder [default: runs/<task>-<name>]."),
        click.option("--lr", type=POSITIVE, default=None,
                     help=documented(TrainConfig, "learning_rate", "[default: the task's (1e-3 for images) "
                                     "times the family's factor: " + ", ".join(
                                         f"{family.name} ×{family.learning_rate_factor:g}"
                                         + (f" at width {NetworkConfig.hidden_features}, in inverse "
                                            "proportion to the width otherwise (at most ×1)"
                                            if family.learning_rate_rule else "")
                                         for family in FAMILIES.values() if family.learning_rate_factor != 1)
                                     + "]")),
        click.option("--batch-size", type=click.IntRange(min=1), default=None,
                     help="Points per step drawn from each set of points that has no size of its own (an image's "
                          "pixels, a sound's samples); left out, the task's (images: 4,096 or 8,192 pixels, or "
                          "every pixel of a small one). " + TASKS_DEFAULT),
        click.option("--width", type=click.IntRange(min=1), default=None,
                     help=documented(NetworkConfig, "hidden_features",
                                     f"[default: the task's, {NetworkConfig.hidden_features}]")),
        click.option("--layers", type=click.IntRange(min=1), default=None,
                     help=documented(NetworkConfig, "hidden_layers",
                                     f"[default: the task's, {NetworkConfig.hidden_layers}]")),
        click.option("--omega", type=OMEGA, default=None,
                     help="The network's frequency: a SIREN's or FINER's first-layer ω0 in sin(ω0 (W x + b)), "
                          "WIRE's ω0, Gauss's s, rff's σ; refused by a family without one. auto: chosen from the "
                          "signal's spectrum before training (FreSh; fit image and fit audio). [default: auto for "
                          "a SIREN in fit image and fit audio; else the task's: 30 for shapes and video (the "
                          "paper's value for images), 60 from gradients and for fusion]"),
        click.option("--weight-scale", type=POSITIVE, default=None,
                     help=documented(NetworkConfig, "weight_scale", "[default: the task's]")),
        click.option("--bias-scale", type=POSITIVE, default=None,
                     help=documented(NetworkConfig, "first_bias_scale",
                                     f"[default: {NetworkConfig.first_bias_scale:g}]")),
        click.option("--wire-scale", type=POSITIVE, default=None,
                     help=documented(NetworkConfig, "wire_scale",
                                     f"[default: {NetworkConfig.wire_scale:g}; images "
                                     f"{FAMILIES['wire'].kind_defaults['image']['wire_scale']:g}]")),
        click.option("--table-size", type=click.IntRange(min=1), default=None,
                     help=documented(NetworkConfig, "grid_table_size", f"[default: {NetworkConfig.grid_table_size}]")),
        click.option("--grid-nodes", type=click.IntRange(min=2), default=None,
                     help="grid only: nodes along each axis of the dense grid. [default: one per sample of the "
                          "signal along its longest axis]"),
        click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default=None,
                     help=documented(TrainConfig, "precision", TASKS_DEFAULT)),
        click.option("--compile", "compile_mode", type=click.Choice(["auto", "on", "off"]),
                     default="auto" if TrainConfig.compile == "auto" else "on" if TrainConfig.compile else "off",
                     help=documented(TrainConfig, "compile")),
        click.option("--threads", type=ThreadsType(min=1), default=None,
                     help=documented(TrainConfig, "threads", f"[default: {TrainConfig.threads}]")),
        click.option("--snapshots", type=StepList(), default=None,
                     help=documented(TrainConfig, "snapshots", "Steps, e.g. 5,50,300.")),
        click.option("--log", "log_to", type=click.Choice(["none", "tensorboard"]), default=None,
                     help="tensorboard: write a TensorBoard log into the run folder's tensorboard/: the loss, each "
                          "loss term and the learning rate at every step, the metrics at every evaluation, and a "
                          "picture of the fit every --log-images steps (pip install sirenkit[tensorboard]). Then: "
                          "tensorboard --logdir RUN_FOLDER. [default: none]"),
        click.option("--log-images", type=click.IntRange(min=1), default=None,
                     help=documented(TrainConfig, "image_every", f"[default: {TrainConfig.image_every}]")),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
        click.option("--resume", is_flag=True,
                     help="Continue the run in --out from its last checkpoint: same task, inputs (checked by content) "
                          "and settings; its schedule and step count unless given again."),
        click.option("--overwrite", is_flag=True,
                     help="Replace the run in --out (by default a folder holding a run is refused)."),
    ]

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def size_option(default: int | None = None) -> Callable:
    return click.option("--size", type=click.IntRange(min=2), default=default,
                        help="Resample so that the longer side has N pixels.")


def group_option() -> Callable:
    return click.option("--group", type=click.IntRange(min=1), default=None,
                        help="With several signals: how many are trained together in one batch "
                             "[default: as many as fit in memory, measured on the first].")


COMPILE: dict[str, bool | Literal["auto"]] = {"auto": "auto", "on": True, "off": False}
"""`--compile`'s choices, as `TrainConfig.compile` takes them."""


def train_config(options: dict[str, Any], *, defaults: TrainConfig | None = None,
                 out: Path | None = None) -> TrainConfig:
    """The training that `training_options` describe over a task's `defaults`, or, with
    `--resume`, over the training of the run saved in `out`
    (`sirenkit.engine.options.train_config`, which says what each option does)."""
    return run_options.train_config(
        defaults, resume_from=out if options.get("resume") else None, model=options.get("model") or None,
        width=options.get("width"), steps=options["steps"], time_budget=options["time_budget"],
        until=options["until"], learning_rate=options["lr"], batch_size=options["batch_size"],
        precision=options["precision"], seed=options["seed"], snapshots=options.get("snapshots"),
        image_every=options.get("log_images"),
        tensorboard=None if options.get("log_to") is None else options["log_to"] == "tensorboard",
        device=options["device"], compile=COMPILE[options["compile_mode"]], threads=options.get("threads"),
    )


FLAGS = {"frequency": "--omega", "weight_scale": "--weight-scale", "first_bias_scale": "--bias-scale",
         "wire_scale": "--wire-scale",
         "grid_table_size": "--table-size", "grid_resolution": "--grid-nodes"}
"""The option that sets each network setting, named in the library's messages."""


def network_settings(options: dict[str, Any], model: str | None = None, *, auto_omega: bool = False) -> dict[str, Any]:
    """The network settings `training_options` give for a `model` network (by default
    `--model`'s), by `sirenkit.engine.options.network_settings`. `--omega auto` only where
    the command chooses the frequency (`auto_omega`)."""
    model = model or options["model"]
    if options["omega"] == "auto" and not auto_omega:
        run_options.network_settings(model, frequency="auto", labels=FLAGS)  # refused first by a family without one
        raise ValueError("--omega auto is for fit image and fit audio; give this command a number")
    return run_options.network_settings(
        model, hidden_features=options["width"], hidden_layers=options["layers"], frequency=options["omega"],
        weight_scale=options.get("weight_scale"), first_bias_scale=options.get("bias_scale"),
        wire_scale=options.get("wire_scale"),
        grid_table_size=options.get("table_size"), grid_resolution=options.get("grid_nodes"), labels=FLAGS,
    )


def omega_choice(options: dict[str, Any]) -> Frequency:
    """The `frequency` of a fit that may choose it (fit image, fit audio), for `--omega`
    (`sirenkit.engine.options.frequency_choice`)."""
    return run_options.frequency_choice(options["model"], options["omega"])


def given(**values: Any) -> dict[str, Any]:
    """The keyword arguments whose option was given; the library's defaults hold for the rest."""
    return {key: value for key, value in values.items() if value is not None}


def parse_floats(text: str | None, option: str) -> list[float] | None:
    """`"0.5"` or `"0.4,0.5,0.6"` → floats."""
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"{option} must be numbers separated by commas, got {text!r}") from None


def parse_size(text: str) -> tuple[int, int]:
    """`WxH` or `N` (square) → `(width, height)`."""
    parts = text.lower().split("x")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise ValueError(f"--size must look like 512 or 640x480, got {text!r}") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or min(values) < 1:
        raise ValueError(f"--size must look like 512 or 640x480 with positive numbers, got {text!r}")
    if values[0] * values[1] > MAX_OUTPUT_PIXELS:
        raise ValueError(f"--size {text} is too large (more than 16384×16384 pixels)")
    return values[0], values[1]


def default_out(task: str, source: str) -> Path:
    """`runs/<task>-<name>`: for a file or folder, its name and a short hash of its full path (its
    bytes), so that `a/cat.png` and `b/cat.jpg` never share a folder. The name is taken as
    `sirenkit.text.printable` shows it (`caf\\xe9` for a name that is not valid UTF-8)."""
    path = Path(source)
    if path.exists():
        import hashlib

        tag = hashlib.sha256(os.fsencode(path.resolve())).hexdigest()[:6]
        return Path("runs") / f"{task}-{printable(path.stem)}-{tag}"
    return Path("runs") / f"{task}-{printable(path.stem)}"


def print_metrics(fitted: Fitted, keys: tuple[str, ...], out: Path | None = None) -> None:
    """The line a fit ends with: where its results are, the figures `keys` with their units (the
    kind's `metrics`), and why it stopped."""
    units = {metric.name: metric.unit for metric in fitted.kind.metrics}
    metrics = fitted.metrics

    def shown(key: str) -> str:
        value = metrics[key]
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        return f"{key} {text} {units[key]}" if units.get(key) else f"{key} {text}"

    figures = ", ".join(shown(key) for key in keys if metrics.get(key) is not None)
    reason = f"; {metrics['stop_reason']}" if metrics.get("stop_reason") else ""
    echo(f"{out or fitted.out}: {figures}{reason}")


def with_options(plan: FitPlan, options: dict[str, Any], recipe: TrainConfig, *, auto_omega: bool = False) -> FitPlan:
    """`plan` with the network its kind gives the signal under the network options, and the
    training of `recipe` (the kind's for the signal) under the training options."""
    network = plan.kind.network(options["model"], **network_settings(options, auto_omega=auto_omega))
    out = Path(plan.out) if plan.out is not None else None
    return dataclasses.replace(plan, network=network, train=train_config(options, defaults=recipe, out=out))


def fit_several(kind: str, sources: tuple[str, ...], group: int | None, options: dict[str, Any],
                plan_one: Callable[[str, Path, bool], FitPlan]) -> bool:
    """Several signals (or a folder): fit them with `sirenkit.engine.folders.fit_all`, print a line per
    signal and where the summary is, and return True; one signal: return False (the caller fits
    it as before). A signal that failed makes the exit code 1, after the others are done."""
    from sirenkit.engine.folders import expand_sources, fit_all

    if len(sources) == 1 and not Path(sources[0]).is_dir():
        if group is not None:
            raise ValueError("--group is for several signals: give files, or a folder")
        return False
    if options["resume"] and options["overwrite"]:
        raise ValueError("--resume continues runs and --overwrite replaces them: pass one of them")
    found = expand_sources(sources, kind)
    out = options["out"] or default_out(f"{kind}-many", sources[0])
    result = fit_all(found, plan_one, out=out, kind=kind, group=group, resume=options["resume"],
                     progress=not options["quiet"])
    if not result.primary:  # another torchrun rank: rank 0 reports for all
        return True
    headline = signal_kind(kind).headline()  # PSNR, SNR, Chamfer-L1
    for row in result.rows:
        score = ""
        if headline is not None:
            shown = ".2f" if headline.higher_is_better else ".4g"  # a quality in dB, an error in its own units
            value = row.get(headline.name)
            score = f", {headline.name} {format(value, shown) if isinstance(value, float) else '—'}"
        detail = f": {row['error']}" if "error" in row else ""
        echo(f"{row['signal']}: {row['status']}{score}{detail}")
    echo(Path(out) / "summary.csv")
    if result.failed:
        echo(f"sirenkit: {len(result.failed)} of {len(result.rows)} signals failed (see summary.csv); "
             f"the others are done", err=True)
        raise click.exceptions.Exit(1)
    return True
