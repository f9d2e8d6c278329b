"""The ``sirenkit`` command. Thin: it parses, builds the configuration and calls the library.

Errors a user can cause (a missing file, a size that makes no sense, a foreign checkpoint) end
in one line on stderr and exit code 2; a diverged run exits 3, an interrupted one 130 (Ctrl-C) or
143 (SIGTERM), with a checkpoint to resume from.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import click

from sirenkit.config import field_docs, replace
from sirenkit.engine.config import TrainConfig, at_family_rate
from sirenkit.engine.kinds import Fitted
from sirenkit.engine.parallel import data_parallel, launched_rank, launched_world
from sirenkit.metrics import FSCORE_THRESHOLD, METRIC_SAMPLES
from sirenkit.networks.config import MODEL_NAMES, NetworkConfig
from sirenkit.networks.registry import FAMILIES, model_names
from sirenkit.signals.shape.kind import SdfConfig
from sirenkit.studies.compare import COMPARE_SIZE
from sirenkit.studies.fusion import MODES, Mode


class FiniteFloat(click.FloatRange):
    """A float in a range that is also a finite number: click's ``FloatRange`` lets NaN (every
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
    """``auto`` or a finite number above 0."""

    name = "auto|float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        return super().convert(value, param, ctx)


class StepList(click.ParamType):
    """Steps separated by commas (``5,50,300``), each at least 1."""

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


OMEGA = OmegaType(min=0, min_open=True)
"""``--omega``: a frequency, or ``auto`` (chosen from the signal, :mod:`sirenkit.engine.frequency`)."""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="sirenkit")
def app() -> None:
    """Fit sinusoidal representation networks (SIREN) to signals and render them back."""


@app.group("fit")
def fit_group() -> None:
    """Fit a network to a signal and write a run folder."""


def documented(config_class: type, field: str, note: str = "") -> str:
    """An option's help: the docstring of the configuration field it sets, and a note."""
    return " ".join(part for part in (field_docs(config_class).get(field, ""), note) if part)


TASKS_DEFAULT = "[default: the task's]"

UNLIMITED_STEPS = 2**31 - 1
"""The step limit of a run given a time budget and no --steps."""


def training_options(default_steps: int | None = None) -> Callable:
    """The options every fitting command shares, documented by the configuration fields they set.
    A default of ``None`` defers to the task's own training defaults."""
    options = [
        click.option("--steps", type=click.IntRange(min=1), default=default_steps,
                     help=documented(TrainConfig, "steps", TASKS_DEFAULT if default_steps is None else "")),
        click.option("--time", "time_budget", type=POSITIVE, default=None,
                     help=documented(TrainConfig, "time_budget", "Without --steps, the steps are not limited.")),
        click.option("--until", type=FiniteFloat(), default=None,
                     help=documented(TrainConfig, "until", "The metric: the task's main one (until_metric).")),
        click.option("--model", type=click.Choice(model_names()), default=NetworkConfig.model,
                     help=documented(NetworkConfig, "model")),
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
                     help=documented(TrainConfig, "batch_size", TASKS_DEFAULT)),
        click.option("--width", type=click.IntRange(min=1), default=None,
                     help=documented(NetworkConfig, "hidden_features",
                                     f"[default: the task's, {NetworkConfig.hidden_features}]")),
        click.option("--layers", type=click.IntRange(min=1), default=None,
                     help=documented(NetworkConfig, "hidden_layers",
                                     f"[default: the task's, {NetworkConfig.hidden_layers}]")),
        click.option("--omega", type=OMEGA, default=None,
                     help=documented(NetworkConfig, "first_omega", "Other families: their frequency (WIRE's ω0, "
                                                                   "Gauss's s, rff's σ); refused by those without one. "
                                                                   "auto: chosen from the signal's spectrum before "
                                                                   "training (FreSh; fit image and fit audio). "
                                                                   "[default: auto for a SIREN in fit image and "
                                                                   "fit audio; else the task's: 30 for shapes and "
                                                                   "video, 60 from gradients and for fusion]")),
        click.option("--bias-scale", type=POSITIVE, default=None,
                     help=documented(NetworkConfig, "first_bias_scale",
                                     f"[default: {NetworkConfig.first_bias_scale:g}]")),
        click.option("--wire-scale", type=POSITIVE, default=None,
                     help=documented(NetworkConfig, "wire_scale", f"[default: {NetworkConfig.wire_scale:g}]")),
        click.option("--table-size", type=click.IntRange(min=1), default=None,
                     help=documented(NetworkConfig, "grid_table_size", f"[default: {NetworkConfig.grid_table_size}]")),
        click.option("--grid-nodes", type=click.IntRange(min=2), default=None,
                     help=documented(NetworkConfig, "grid_resolution", "[default: one per sample]")),
        click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default=None,
                     help=documented(TrainConfig, "precision", TASKS_DEFAULT)),
        click.option("--compile", "compile_mode", type=click.Choice(["auto", "on", "off"]),
                     default="auto" if TrainConfig.compile == "auto" else "on" if TrainConfig.compile else "off",
                     help=documented(TrainConfig, "compile")),
        click.option("--snapshots", type=StepList(), default=None,
                     help=documented(TrainConfig, "snapshots", "Steps, e.g. 5,50,300.")),
        click.option("--log", "log_to", type=click.Choice(["none", "tensorboard"]), default=None,
                     help=documented(TrainConfig, "tensorboard", "Then: tensorboard --logdir RUN_FOLDER. "
                                                                 "[default: none]")),
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


def train_config(options: dict[str, Any], *, defaults: TrainConfig | None = None,
                 out: Path | None = None) -> TrainConfig:
    """The training configuration the shared options describe, over a task's ``defaults`` (or,
    with ``--resume``, over the training of the run saved in ``out``): only what was given on the
    command line changes. Without ``--lr``, a new run's rate is the task's times its family's factor
    (:attr:`~sirenkit.networks.family.NetworkFamily.learning_rate_factor`: a grid learns at many times a
    SIREN's rate)."""
    saved = saved_train(out) if options.get("resume") and out is not None else None
    defaults = saved or defaults or TrainConfig()
    if saved is None and options.get("lr") is None and options.get("model"):
        defaults = at_family_rate(defaults, options["model"], options.get("width"))
    compile_value = {"auto": "auto", "on": True, "off": False}[options["compile_mode"]]
    steps, budget = options["steps"], options["time_budget"]
    if steps is None and budget is not None:
        steps = UNLIMITED_STEPS  # the budget decides
    if steps is not None and budget is None:
        defaults = replace(defaults, time_budget=None)  # --steps alone works as it always has
    chosen = {"steps": steps, "learning_rate": options["lr"], "batch_size": options["batch_size"],
              "precision": options["precision"], "time_budget": options["time_budget"], "until": options["until"],
              "seed": options["seed"], "snapshots": options.get("snapshots"), "image_every": options.get("log_images"),
              "tensorboard": None if options.get("log_to") is None else options["log_to"] == "tensorboard"}
    return replace(
        defaults, **{key: value for key, value in chosen.items() if value is not None},
        device=options["device"], compile=compile_value,
    )


def saved_train(out: Path) -> TrainConfig | None:
    """The training configuration recorded in a run folder's ``config.json``, or None."""
    try:
        values = json.loads((Path(out) / "config.json").read_text())["train"]
        known = {name for name in TrainConfig.__dataclass_fields__}
        return TrainConfig(**{key: value for key, value in values.items() if key in known})
    except (OSError, ValueError, KeyError, TypeError):
        return None  # the fit names the problem (no checkpoint, unreadable configuration)


def default_out(task: str, source: str) -> Path:
    """``runs/<task>-<name>``: for a file or folder, its name and a short hash of its full path, so
    that ``a/cat.png`` and ``b/cat.jpg`` never share a folder."""
    path = Path(source)
    if path.exists():
        import hashlib

        tag = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:6]
        return Path("runs") / f"{task}-{path.stem}-{tag}"
    return Path("runs") / f"{task}-{path.stem}"


def print_metrics(out: Path, metrics: dict, keys: tuple[str, ...]) -> None:
    shown = ", ".join(
        f"{key} {metrics[key]:.4g}" if isinstance(metrics[key], float) else f"{key} {metrics[key]}"
        for key in keys if metrics.get(key) is not None
    )
    click.echo(f"{out}: {shown}")


def group_option() -> Callable:
    return click.option("--group", type=click.IntRange(min=1), default=None,
                        help="With several signals: how many are trained together in one batch "
                             "[default: as many as fit in memory, measured on the first].")


@fit_group.command("image")
@click.argument("sources", nargs=-1, required=True)
@size_option()
@group_option()
@training_options()
def fit_image_command(sources: tuple[str, ...], size: int | None, group: int | None, **options: Any) -> None:
    """Fit an image file or bundled image (camera, astronaut, coffee, ...), or several: files,
    folders (their .png, .jpg, .tif, .bmp, .webp files) and names, trained together in batches.

    Writes model.safetensors/json, reconstruction.png, figure.png, psnr.png and metrics.json; for
    several, one such run folder per image under --out, with summary.csv, summary.json and
    contact.png beside them.
    """
    from sirenkit.signals.image.data import load_image
    from sirenkit.signals.image.fit import fit_image

    def fit_one(source: str, out: Path, resume: bool) -> Fitted:
        signal = load_image(source, size=size)
        given = {**options, "resume": resume}
        train = train_config(given, defaults=image_recipe(signal, given), out=out)
        network = image_network_options(signal, given, auto_omega=True)
        return fit_image(signal, size=size, network=network, train=train, frequency=omega_choice(given), out=out,
                         resume=resume, overwrite=options["overwrite"],
                         progress=not options["quiet"] and len(sources) == 1)

    if fit_several("image", sources, group, options, fit_one):
        return
    out = options["out"] or default_out("image", sources[0])
    fitted = fit_one(sources[0], out, options["resume"])
    print_metrics(out, fitted.metrics, ("psnr", "ssim", "steps", "seconds", "parameters"))


def fit_several(kind: str, sources: tuple[str, ...], group: int | None, options: dict[str, Any],
                fit_one: Callable[[str, Path, bool], Fitted]) -> bool:
    """Several signals (or a folder): fit them with :func:`sirenkit.many.fit_all`, print a line per
    signal and where the summary is, and return True; one signal: return False (the caller fits
    it as before). A signal that failed makes the exit code 1, after the others are done."""
    from sirenkit.many import expand_sources, fit_all

    if len(sources) == 1 and not Path(sources[0]).is_dir():
        if group is not None:
            raise ValueError("--group is for several signals: give files, or a folder")
        return False
    if options["resume"] and options["overwrite"]:
        raise ValueError("--resume continues runs and --overwrite replaces them: pass one of them")
    found = expand_sources(sources, kind)
    out = options["out"] or default_out(f"{kind}-many", sources[0])
    result = fit_all(found, fit_one, out=out, kind=kind, group=group, resume=options["resume"],
                     progress=not options["quiet"])
    if not result.primary:  # another torchrun rank: rank 0 reports for all
        return True
    score = "psnr" if kind == "image" else "snr" if kind == "audio" else "chamfer_l1"
    for row in result.rows:
        shown = ".4g" if score == "chamfer_l1" else ".2f"
        value = format(row[score], shown) if isinstance(row.get(score), float) else "—"
        detail = f": {row['error']}" if "error" in row else ""
        click.echo(f"{row['signal']}: {row['status']}, {score} {value}{detail}")
    click.echo(str(Path(out) / "summary.csv"))
    if result.failed:
        click.echo(f"sirenkit: {len(result.failed)} of {len(result.rows)} signals failed (see summary.csv); "
                   f"the others are done", err=True)
        raise click.exceptions.Exit(1)
    return True


@fit_group.command("audio")
@click.argument("sources", nargs=-1, required=True)
@click.option("--seconds", type=POSITIVE, default=None,
              help="Fit only the first SECONDS of the file [default: all of it].")
@group_option()
@training_options()
def fit_audio_command(sources: tuple[str, ...], seconds: float | None, group: int | None, **options: Any) -> None:
    """Fit a sound (WAV, FLAC, OGG; any rate, any number of channels), or several: files and
    folders, trained together in batches.

    Writes model.safetensors/json, reconstruction.wav, audio.png (waveforms and spectrograms of
    ground truth, fit and error), snr.png and metrics.json (SNR, PSNR); for several, one run
    folder per sound with summary.csv, summary.json and contact.png beside them.
    """
    from sirenkit.signals.audio.data import load_audio
    from sirenkit.signals.audio.fit import audio_network, audio_train_config, fit_audio

    def fit_one(source: str, out: Path, resume: bool) -> Fitted:
        signal = load_audio(Path(source), seconds=seconds)
        given = {**options, "resume": resume}
        train = train_config(given, defaults=audio_train_config(signal), out=out)
        network = audio_network(signal, options["model"], **network_settings(given, auto_omega=True))
        return fit_audio(signal, seconds=seconds, network=network, train=train, frequency=omega_choice(given),
                         out=out, resume=resume, overwrite=options["overwrite"],
                         progress=not options["quiet"] and len(sources) == 1)

    if fit_several("audio", sources, group, options, fit_one):
        return
    out = options["out"] or default_out("audio", str(sources[0]))
    fitted = fit_one(sources[0], out, options["resume"])
    print_metrics(out, fitted.metrics, ("snr", "psnr", "steps", "seconds", "parameters"))
    click.echo(str(out / "reconstruction.wav"))


@fit_group.command("video")
@click.argument("source", required=False, default=None)
@size_option()
@training_options()
def fit_video_command(source: str | None, size: int | None, **options: Any) -> None:
    """Fit a clip: GIF, MP4 (or another format ffmpeg reads) or a folder of frames; scikit-image's
    no_time_for_that_tiny.gif when SOURCE is left out.

    Writes model.safetensors/json, reconstruction.mp4 and .gif, frames.png (ground truth over fit),
    psnr.png (per frame) and metrics.json (mean PSNR).
    """
    from sirenkit.signals.video.data import BUNDLED_VIDEO, load_video
    from sirenkit.signals.video.fit import fit_video, video_network, video_train_config

    signal = load_video(source, size=size)
    out = options["out"] or default_out("video", source or BUNDLED_VIDEO)
    train = train_config(options, defaults=video_train_config(signal), out=out)
    network = video_network(signal, options["model"], **network_settings(options))
    fitted = fit_video(signal, size=size, network=network, train=train, out=out,
                       resume=options["resume"], overwrite=options["overwrite"],
                       progress=not options["quiet"])
    print_metrics(out, fitted.metrics, ("psnr", "steps", "seconds", "parameters"))
    click.echo(str(out / "reconstruction.mp4"))


def parse_floats(text: str | None, option: str) -> list[float] | None:
    """``"0.5"`` or ``"0.4,0.5,0.6"`` → floats."""
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"{option} must be numbers separated by commas, got {text!r}") from None


def image_recipe(signal, options: dict[str, Any]) -> TrainConfig:
    """The image recipe for the arithmetic and device the options ask for."""
    from sirenkit.signals.image.fit import image_train_config

    return image_train_config(signal, precision=options["precision"] or "auto", device=options["device"])


def image_network_options(signal, options: dict[str, Any], *, auto_omega: bool = False):
    from sirenkit.signals.image.fit import image_network

    return image_network(signal, options["model"], **network_settings(options, auto_omega=auto_omega))


def omega_choice(options: dict[str, Any]) -> Any:
    """The ``frequency`` of a fit that may choose it (image, audio): ``--omega auto``, or left out for
    a family whose frequency is chosen by default (:data:`sirenkit.engine.frequency.AUTO_BY_DEFAULT`);
    ``None`` where ``--omega VALUE`` already set it in the network, or the family keeps its own."""
    from sirenkit.engine.frequency import default_frequency

    if options["omega"] is None:
        return default_frequency(options["model"], "default")
    return "auto" if options["omega"] == "auto" else None


FAMILY_OPTIONS = {"bias_scale": "first_bias_scale", "wire_scale": "wire_scale", "table_size": "grid_table_size",
                  "grid_nodes": "grid_resolution"}
"""Command-line options that set one family's own setting, and the setting."""


def network_settings(options: dict[str, Any], model: str | None = None, *, auto_omega: bool = False) -> dict[str, Any]:
    """The network options given on the command line; the rest stay the task's defaults.
    ``--omega`` sets the family's frequency (:attr:`~sirenkit.networks.family.NetworkFamily.frequency`);
    ``--omega auto`` only where the command chooses it (``auto_omega``); an option that belongs
    to another family is a ``ValueError``."""
    family = FAMILIES[model or options["model"]]
    given = {"hidden_features": options["width"], "hidden_layers": options["layers"]}
    if options["omega"] is not None:
        if family.frequency is None:
            raise ValueError(f"--omega does not apply to a {family.name} network: it has no frequency to set")
        if options["omega"] == "auto" and not auto_omega:
            raise ValueError("--omega auto is for fit image and fit audio; give this command a number")
        if options["omega"] != "auto":
            given[family.frequency] = options["omega"]
    for option, setting in FAMILY_OPTIONS.items():
        if options.get(option) is not None:
            if setting not in family.settings:
                flag = "--" + option.replace("_", "-")
                raise ValueError(f"{flag} does not apply to a {family.name} network; it sets {setting}, a setting "
                                 f"of {', '.join(f.name for f in FAMILIES.values() if setting in f.settings)}")
            given[setting] = options[option]
    return {key: value for key, value in given.items() if value is not None}


@app.command("poisson")
@click.argument("source")
@click.option("--from", "derivative", type=click.Choice(["gradient", "laplacian"]), required=True,
              help="Fit the image's gradient field or its Laplacian only.")
@size_option()
@training_options()
@click.option("--means", default=None,
              help="Restore each channel's mean from these values (one, or one per channel) instead of "
                   "aligning to the ground truth.")
@click.option("--segments", type=NON_NEGATIVE, default=None,
              help="--from gradient: weight of the multiscale constraint, line integrals of the gradient; "
                   "0 turns it off [default: 1].")
@click.option("--boxes", type=NON_NEGATIVE, default=None,
              help="--from laplacian: weight of the multiscale constraint, fluxes of the gradient through "
                   "boxes, constant over the run; 0 turns it off [default: 0.01 at the start, decaying to "
                   "0.00001 at the end].")
def poisson_command(source: str, derivative: str, size: int | None, means: str | None, segments: float | None,
                    boxes: float | None, **options: Any) -> None:
    """Reconstruct an image from its gradients or its Laplacian alone (Poisson's equation).

    The network never sees a pixel value. PSNR is reported after the alignment the derivative
    leaves free (a constant for gradients, a plane for the Laplacian), beside the classical DCT
    solution of the same discrete problem.
    """
    from sirenkit.signals.image.data import load_image
    from sirenkit.studies.poisson import Source, fit_poisson, poisson_network, poisson_train_config

    signal = load_image(source, size=size)
    given_by = cast(Source, derivative)
    out = options["out"] or default_out(f"poisson-{derivative}", source)
    train = train_config(options, defaults=poisson_train_config(given_by), out=out)
    fitted = fit_poisson(signal, given_by, size=size,
                         network=poisson_network(signal, options["model"], given_by, **network_settings(options)),
                         train=train, means=parse_floats(means, "--means"), segment_weight=segments,
                         box_weight=boxes, out=out,
                       resume=options["resume"], overwrite=options["overwrite"], progress=not options["quiet"])
    print_metrics(out, fitted.metrics, ("psnr", "alignment", "classical_psnr", "steps", "seconds"))


@app.command("fuse")
@click.argument("first")
@click.argument("second")
@click.option("--mode", type=click.Choice(MODES), default=MODES[0],
              help="average: (∇A+∇B)/2 as in the paper; mixed: the stronger gradient per pixel; "
                   "clone: B's gradients inside the mask, A's outside.")
@click.option("--mask", type=click.Path(path_type=Path), default=None,
              help="clone: binary image the size of B, white where B is pasted.")
@click.option("--at", default="0,0", help="clone: X,Y of B's top-left corner on A, in pixels.")
@click.option("--resize", is_flag=True, help="average/mixed: resample B to A's size if they differ.")
@size_option()
@training_options()
@click.option("--segments", type=NON_NEGATIVE, default=None,
              help="Weight of the multiscale line-integral constraint; 0 turns it off [default: 0.01].")
def fuse_command(first: str, second: str, mode: str, mask: Path | None, at: str, resize: bool,
                 size: int | None, segments: float, **options: Any) -> None:
    """Fuse two images by fitting a composite of their gradient fields."""
    from sirenkit.studies.fusion import fuse_images
    from sirenkit.studies.poisson import poisson_train_config

    position = parse_floats(at, "--at")
    if position is None or len(position) != 2 or any(v != int(v) for v in position):
        raise ValueError(f"--at must be two whole pixel numbers X,Y, got {at!r}")
    out = options["out"] or default_out(f"fuse-{mode}", first)
    train = train_config(options, defaults=poisson_train_config("gradient"), out=out)
    fitted = fuse_images(first, second, cast(Mode, mode), mask=mask, at=(int(position[0]), int(position[1])), size=size,
                         resize=resize, train=train, model=options["model"],
                         network_settings=network_settings(options), **given(segment_weight=segments), out=out,
                         resume=options["resume"], overwrite=options["overwrite"], progress=not options["quiet"])
    print_metrics(out, fitted.metrics, ("psnr_vs_classical", "steps", "seconds"))


def given(**values: Any) -> dict[str, Any]:
    """The keyword arguments whose option was given; the library's defaults hold for the rest."""
    return {key: value for key, value in values.items() if value is not None}


def parse_size(text: str) -> tuple[int, int]:
    """``WxH`` or ``N`` (square) → ``(width, height)``."""
    parts = text.lower().split("x")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise ValueError(f"--size must look like 512 or 640x480, got {text!r}") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or min(values) < 1:
        raise ValueError(f"--size must look like 512 or 640x480 with positive numbers, got {text!r}")
    if values[0] * values[1] > 16384 * 16384:
        raise ValueError(f"--size {text} is too large (more than 16384×16384 pixels)")
    return values[0], values[1]


@app.command("render")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="File to write: .png (image), .wav/.flac/.ogg (audio), .mp4/.gif (video).")
@click.option("--size", default=None, help="Image or video frames: WxH or N [default: the original size].")
@click.option("--what", type=click.Choice(["value", "gradient", "laplacian"]), default=None,
              help="Images: the image, its gradient magnitude or its Laplacian [default: value].")
@click.option("--rate", type=click.IntRange(min=1), default=None,
              help="Audio: samples per second [default: the original rate].")
@click.option("--fps", type=POSITIVE, default=None,
              help="Video: frames per second over the same span of time [default: the original].")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
def render_command(run: Path, out: Path, size: str | None, what: str | None, rate: int | None, fps: float | None,
                   device: str) -> None:
    """Evaluate a fitted image, sound or clip at any resolution, sampling rate or frame rate, in
    chunks, and write it.

    RUN is a run folder, a model.safetensors or a model.json.
    """
    from sirenkit.render import render

    dimensions = parse_size(size) if size else None
    summary = render(run, out, device=device, size=dimensions, what=what, rate=rate, fps=fps)
    click.echo(f"{out}: {summary}")


@app.command("compare")
@click.argument("source")
@size_option(default=COMPARE_SIZE)
@training_options()
@click.option("--models", default=",".join(MODEL_NAMES),
              help=f"Comma-separated models to compare, of {', '.join(model_names())} [default: SIREN and the "
                   f"paper's baselines].")
def compare_command(source: str, size: int | None, models: str, **options: Any) -> None:
    """Fit SIREN and other networks with the same parameter budget and steps.

    Writes one run folder per model, comparison.png (rows = models; columns = image, gradient,
    Laplacian) and comparison.json, and prints the PSNR table. --width sets SIREN's width; the
    others get the size that matches its parameter count (the hidden width; a hash grid's table
    size, a dense grid's nodes). Each family learns at its multiple of SIREN's rate (--lr sets
    SIREN's): a grid at 81 times, a hash grid at 27, WIRE and Gauss at 3, FINER at 0.3.
    """
    from sirenkit.signals.image.data import load_image
    from sirenkit.studies.compare import compare_models, comparison_row

    names = [name.strip() for name in models.split(",") if name.strip()]
    if options["resume"]:
        raise ValueError("compare does not resume; rerun it (with --overwrite to replace its runs)")
    out = options["out"] or default_out("compare", source)
    signal = load_image(source, size=size)
    fits = compare_models(
        signal, models=names, train=replace(train_config({**options, "model": "siren"},  # SIREN's; each its multiple
                                                         defaults=image_recipe(signal, options)), checkpoint_every=0),
        network_settings=network_settings(options, "siren"), out=out, overwrite=options["overwrite"],
        progress=not options["quiet"],
    )
    click.echo(f"{'model':<9} {'size':>22} {'params':>8} {'PSNR dB':>8} {'SSIM':>6} {'seconds':>8}")
    for row in map(comparison_row, fits):
        ssim_text = f"{row['ssim']:.3f}" if row["ssim"] is not None else "-"
        click.echo(f"{row['model']:<9} {row['size']:>22} {row['parameters']:>8} "
                   f"{row['psnr']:>8.2f} {ssim_text:>6} {row['seconds']:>8.1f}")
    click.echo(str(out / "comparison.png"))


@app.command("compress")
@click.argument("source")
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="The .sirk file to write.")
@click.option("--bpp", type=POSITIVE, default=None,
              help="Bits per pixel of the whole file (header included): the file is at most this large.")
@click.option("--params", type=click.IntRange(min=1), default=None,
              help="Parameters of the network instead of a rate; the quantisation then costs at most "
                   "0.1 dB.")
@click.option("--time", "seconds", type=POSITIVE, default=None,
              help="Seconds of fitting and fine-tuning, compilation included [default: 150].")
@click.option("--steps", type=click.IntRange(min=2), default=None,
              help="A number of steps instead of --time: the same file on every run on one machine.")
@click.option("--layers", type=click.IntRange(min=1, max=255), default=None, help="Hidden layers [default: 5].")
@click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default="auto",
              help=documented(TrainConfig, "precision"))
@click.option("--device", default=TrainConfig.device, help=documented(TrainConfig, "device"))
@click.option("--seed", type=int, default=0, help=documented(TrainConfig, "seed"))
@click.option("--overwrite", is_flag=True, help="Replace an existing file at --out.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def compress_command(source: str, out: Path, bpp: float | None, params: int | None, seconds: float | None,
                     steps: int | None, layers: int | None, precision: str, device: str, seed: int, overwrite: bool,
                     quiet: bool) -> None:
    """Compress an image to a .sirk file: a SIREN fitted to it, quantised and entropy-coded.

    SOURCE is an image file or a bundled name (camera, astronaut, ...). Give the rate (--bpp) or
    the network's size (--params). The file decodes at any size (sirenkit decompress).
    """
    from sirenkit.codec import weights as codec

    if out.suffix != codec.SUFFIX:
        raise ValueError(f"{out}: the output's name must end in {codec.SUFFIX}")
    if out.exists() and not overwrite:
        raise ValueError(f"{out}: exists (--overwrite replaces it)")
    if steps is not None and seconds is not None:
        raise ValueError("give --steps or --time, not both")
    result = codec.compress(source, out, bpp=bpp, params=params,
                            seconds=codec.DEFAULT_SECONDS if seconds is None else seconds, steps=steps,
                            hidden_layers=codec.HIDDEN_LAYERS if layers is None else layers,
                            precision=precision, device=device, seed=seed, progress=not quiet)
    stages = ", ".join(f"{name} {value:.2f}" for name, value in result.stages.items())
    click.echo(f"{out}: {len(result.data):,} bytes, {result.bpp:.4f} bpp, PSNR {result.psnr:.2f} dB "
               f"({result.parameters:,} parameters; PSNR after each step: {stages}; {result.seconds:.0f} s)")


@app.command("decompress")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="The PNG to write.")
@click.option("--size", default=None, help="WxH, or N for N×N [default: the original size].")
def decompress_command(file: Path, out: Path, size: str | None) -> None:
    """Decode a .sirk file to a PNG, at its own size or any other."""
    from sirenkit.codec.weights import decompress

    if out.suffix.lower() != ".png":
        raise ValueError(f"{out}: decompress writes PNG; give a name ending in .png")
    decompress(file, out, size=parse_size(size) if size else None)
    click.echo(str(out))


def _starts_with(path: Path, magic: bytes) -> bool:
    with open(path, "rb") as stream:
        return stream.read(len(magic)) == magic


@app.command("info")
@click.argument("run", type=click.Path(path_type=Path))
def info_command(run: Path) -> None:
    """Show what a saved model holds and, for a run folder, its metrics; for a .sirk file, its header."""
    from sirenkit.codec.weights import MAGIC, file_header
    from sirenkit.engine.models import load
    from sirenkit.networks.build import count_parameters

    if run.is_file() and (run.suffix == ".sirk" or _starts_with(run, MAGIC)):
        header = file_header(run)
        bpp = 8 * run.stat().st_size / (header.width * header.height)
        click.echo(json.dumps({"file": str(run), "bytes": run.stat().st_size, "bpp": bpp, **header.describe()},
                              indent=2))
        return

    loaded = load(run)
    summary = {"network": loaded.network.__dict__, "signal": loaded.kind.to_json(),
               "parameters": count_parameters(loaded.model)}
    click.echo(json.dumps(summary, indent=2))
    metrics = Path(run) / "metrics.json"
    if metrics.is_file():  # re-encoded: a received file's control characters (terminal escapes) come out escaped
        try:
            values = json.loads(metrics.read_text())
        except (ValueError, UnicodeDecodeError) as error:
            raise ValueError(f"{metrics}: not valid JSON ({type(error).__name__})") from None
        click.echo(json.dumps(values, indent=2, ensure_ascii=True))


@fit_group.command("sdf")
@click.argument("sources", nargs=-1, required=True)
@group_option()
@training_options()
@click.option("--surface-points", type=click.IntRange(min=1), default=None,
              help=documented(SdfConfig, "surface_points", f"[default: {SdfConfig.surface_points}]"))
@click.option("--free-points", type=click.IntRange(min=1), default=None,
              help=documented(SdfConfig, "free_points", f"[default: {SdfConfig.free_points}]"))
@click.option("--near-surface", type=FiniteFloat(0, 1), default=None,
              help=documented(SdfConfig, "near_surface_fraction", f"[default: {SdfConfig.near_surface_fraction}]"))
@click.option("--weights", default=None,
              help="Loss weights surface,normal,off-surface,eikonal [default: 3e3,1e2,1e2,5e1, the paper's].")
@click.option("--resolution", type=click.IntRange(min=8), default=None,
              help=documented(SdfConfig, "mesh_resolution", f"[default: {SdfConfig.mesh_resolution}]"))
@click.option("--keep-unsupported", is_flag=True, help="Keep mesh pieces no input point supports (a void inside the "
              "solid, a blob in free space); by default they are dropped.")
def fit_sdf_command(sources: tuple[str, ...], group: int | None, surface_points: int | None, free_points: int | None,
                    near_surface: float | None, weights: str | None, resolution: int | None, keep_unsupported: bool,
                    **options: Any) -> None:
    """Fit a signed distance function to a point cloud (.xyz with normals, .ply) or a mesh
    (.ply, .obj, .off, .stl), and write mesh.ply (in the input's coordinates), mesh.png,
    slices.png, loss.png and metrics.json (Chamfer, F-score, normal consistency against the input);
    or to several (files, folders), trained together in batches, with summary.csv, summary.json
    and contact.png (each run's mesh.png) beside their run folders.
    """
    from sirenkit.signals.shape.fit import fit_sdf, sdf_network, sdf_train_config

    values = parse_floats(weights, "--weights")
    if values is not None and (len(values) != 4 or any(v < 0 for v in values)):
        raise ValueError("--weights needs four non-negative numbers surface,normal,off-surface,eikonal, "
                         f"got {weights!r}")
    weight_fields: dict[str, Any] = dict(zip(("surface_weight", "normal_weight", "off_surface_weight",
                                              "eikonal_weight"), values or ()))
    config = SdfConfig(**given(surface_points=surface_points, free_points=free_points,
                               near_surface_fraction=near_surface, mesh_resolution=resolution),
                       keep_unsupported=keep_unsupported, **weight_fields)
    network = sdf_network(options["model"], **network_settings(options))

    def fit_one(source: str, out: Path, resume: bool) -> Fitted:
        train = train_config({**options, "resume": resume}, defaults=sdf_train_config(), out=out)
        return fit_sdf(Path(source), network=network, train=train, config=config, out=out, resume=resume,
                       overwrite=options["overwrite"], progress=not options["quiet"] and len(sources) == 1)

    if fit_several("sdf", sources, group, options, fit_one):
        return
    out = options["out"] or default_out("sdf", str(sources[0]))
    fitted = fit_one(sources[0], out, options["resume"])
    print_metrics(out, fitted.metrics, ("chamfer_l1", "fscore", "normal_consistency", "steps", "seconds"))
    click.echo(str(out / "mesh.ply"))


@app.command("example")
@click.argument("name", required=False, default=None)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run folder [default: runs/example-NAME].")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Optimiser steps [default: the example's].")
@click.option("--tiny", is_flag=True, help="A few seconds at a tiny size (what the tests run).")
@click.option("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run of the example in --out.")
def example_command(name: str | None, out: Path | None, steps: int | None, tiny: bool, device: str,
                    quiet: bool, overwrite: bool) -> None:
    """Run a worked example of the constraint API and write its figure (NAME left out: list them)."""
    from sirenkit.studies.examples import EXAMPLES, run_example

    if name is None:
        for key, module in EXAMPLES.items():
            click.echo(f"{key:<12} {module.SUMMARY}")
        return
    out = out or Path("runs") / f"example-{name}"
    metrics = run_example(name, out, tiny=tiny, steps=steps, device=device, progress=not quiet, overwrite=overwrite)
    hidden = {"parameters", "channels", "compiled", "wall_seconds"}
    shown = {key: value for key, value in metrics.items() if isinstance(value, (int, float)) and key not in hidden}
    lists = {key: value for key, value in metrics.items() if isinstance(value, list) and key != "shape"}
    parts = [f"{key} {value:.4g}" for key, value in shown.items()]
    parts += [f"{key} {', '.join(f'{v:.3g}' for v in value)}" for key, value in lists.items()]
    click.echo(f"{out}: " + ", ".join(parts))
    click.echo(str(out / "figure.png"))


@app.command("mesh")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--resolution", type=click.IntRange(min=8), default=SdfConfig.mesh_resolution,
              help="Grid points per side.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="mesh.ply, .obj, .stl or .off.")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@click.option("--keep-unsupported", is_flag=True,
              help="Keep mesh pieces no input point supports (a void inside the solid, a blob in free space); "
                   "by default they are dropped where the run folder holds support.npy.")
def mesh_command(run: Path, resolution: int, out: Path, device: str, keep_unsupported: bool) -> None:
    """Extract the zero level set of a fitted SDF as a mesh, in the input's coordinates."""
    from sirenkit.signals.shape.fit import extract_mesh

    summary = extract_mesh(run, out, resolution=resolution, keep_unsupported=keep_unsupported, device=device)
    click.echo(f"{out}: {summary}")


@app.command("eval-mesh")
@click.argument("reconstruction", type=click.Path(path_type=Path))
@click.argument("reference", type=click.Path(path_type=Path))
@click.option("--samples", type=click.IntRange(min=1000), default=METRIC_SAMPLES,
              help="Points sampled on each surface.")
@click.option("--threshold", type=POSITIVE, default=FSCORE_THRESHOLD,
              help="F-score distance threshold, as a fraction of the reference's bounding-box diagonal.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None, help="Also write the numbers here.")
def eval_mesh_command(reconstruction: Path, reference: Path, samples: int, threshold: float,
                      json_out: Path | None) -> None:
    """Chamfer distance, F-score and normal consistency of a mesh against a reference mesh."""
    from sirenkit.io import write_json
    from sirenkit.metrics import SURFACE_METRIC_CONVENTIONS, compare_meshes
    from sirenkit.signals.shape.data import load_mesh

    result = compare_meshes(load_mesh(reconstruction), load_mesh(reference), samples=samples, threshold=threshold)
    for key in ("chamfer_l1", "chamfer_squared", "fscore", "fscore_precision", "fscore_recall",
                "normal_consistency", "iou"):
        if key in result:
            click.echo(f"{key:<19} {result[key]:.6g}")
    click.echo(f"(distances / reference bounding-box diagonal {result['diagonal']:.4g}; F-score at "
               f"{threshold:g} of it; {samples:,} samples per surface)")
    if json_out is not None:
        write_json(json_out, {**result, "conventions": SURFACE_METRIC_CONVENTIONS})


def one_line(error: BaseException) -> str:
    """The error's message on one line (a usage error's as click formats it)."""
    text = error.format_message() if isinstance(error, click.ClickException) else str(error)
    return " ".join(text.split()) or type(error).__name__


class _EchoHandler(logging.Handler):
    """Prints the library's log records on the current stderr, as the CLI's own lines."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"sirenkit: {record.getMessage()}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code. While it runs, the library's log
    records (it logs and returns; the command line is where messages are printed) go to stderr."""
    library = logging.getLogger("sirenkit")
    handler, level, propagate = _EchoHandler(), library.level, library.propagate
    library.addHandler(handler)
    library.setLevel(logging.INFO)
    library.propagate = False
    try:
        return _main(argv)
    finally:
        library.removeHandler(handler)
        library.setLevel(level)
        library.propagate = propagate


def _main(argv: list[str] | None) -> int:
    terminated: list[int] = []

    def on_terminate(number: int, frame: Any) -> None:  # outside the training loop (which stops at a step)
        terminated.append(number)
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_terminate) if main_thread else None
    try:
        with contextlib.ExitStack() as launched:
            if launched_world() > 1:  # under torchrun: one signal is fitted by every rank (several are shared out)
                launched.enter_context(data_parallel())
                if launched_rank() != 0:  # rank 0 reports; the others' warnings and errors still go to stderr
                    launched.enter_context(contextlib.redirect_stdout(io.StringIO()))
                    library = logging.getLogger("sirenkit")
                    launched.callback(library.setLevel, library.level)
                    library.setLevel(logging.WARNING)
            return _run_app(argv, terminated)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run_app(argv: list[str] | None, terminated: list[int]) -> int:
    from sirenkit.engine.loop import TrainingDiverged, TrainingInterrupted

    try:
        code = app.main(args=argv, prog_name="sirenkit", standalone_mode=False)
        if isinstance(code, int) and code:  # a command's Exit(n): without standalone mode click returns it
            return code
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:  # usage errors: one line, exit 2
        click.echo(f"sirenkit: error: {one_line(error)}", err=True)
        return 2
    except (click.Abort, KeyboardInterrupt):
        click.echo(f"sirenkit: interrupted ({'SIGTERM' if terminated else 'SIGINT'})", err=True)
        return 143 if terminated else 130
    except TrainingInterrupted as error:  # 130 for Ctrl-C, 143 for SIGTERM, as a shell reports them
        click.echo(f"sirenkit: {error}", err=True)
        return 128 + error.signal_number
    except TrainingDiverged as error:
        click.echo(f"sirenkit: error: {error}", err=True)
        return 3
    except (ValueError, OSError) as error:
        click.echo(f"sirenkit: error: {one_line(error)}", err=True)
        return 2
    return 0


def run() -> None:
    sys.exit(main())

