"""The commands that run a study: Poisson reconstruction, gradient-domain fusion, the comparison
of network families, the worked examples of the constraint API, and a problem of your own."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import click

from sirenkit.cli.options import (
    NON_NEGATIVE,
    default_out,
    echo,
    given,
    network_settings,
    parse_floats,
    print_metrics,
    size_option,
    train_config,
    training_options,
)
from sirenkit.config import replace
from sirenkit.networks.config import MODEL_NAMES
from sirenkit.networks.registry import model_names
from sirenkit.studies.compare import COMPARE_SIZE
from sirenkit.studies.fusion import MODES, Mode


@click.command("poisson")
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
    print_metrics(fitted, ("psnr", "alignment", "classical_psnr", "steps", "seconds"), out)


@click.command("fuse")
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
    print_metrics(fitted, ("psnr_vs_classical", "steps", "seconds"), out)


@click.command("compare")
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
    from sirenkit.signals.image.fit import image_train_config
    from sirenkit.studies.compare import compare_models, comparison_row

    names = [name.strip() for name in models.split(",") if name.strip()]
    if options["resume"]:
        raise ValueError("compare does not resume; rerun it (with --overwrite to replace its runs)")
    out = options["out"] or default_out("compare", source)
    signal = load_image(source, size=size)
    recipe = image_train_config(signal, precision=options["precision"] or "auto", device=options["device"])
    fits = compare_models(
        signal, models=names, train=replace(train_config({**options, "model": "siren"},  # SIREN's; each its multiple
                                                         defaults=recipe), checkpoint_every=0),
        network_settings=network_settings(options, "siren"), out=out, overwrite=options["overwrite"],
        progress=not options["quiet"],
    )
    echo(f"{'model':<9} {'size':>22} {'params':>8} {'PSNR dB':>8} {'SSIM':>6} {'seconds':>8}")
    for row in map(comparison_row, fits):
        ssim_text = f"{row['ssim']:.3f}" if row["ssim"] is not None else "-"
        echo(f"{row['model']:<9} {row['size']:>22} {row['parameters']:>8} "
             f"{row['psnr']:>8.2f} {ssim_text:>6} {row['seconds']:>8.1f}")
    echo(out / "comparison.png")


@click.command("example")
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
            echo(f"{key:<12} {module.SUMMARY}\n{'':<12} {module.STEPS:,} steps, {module.RUNTIME}; --tiny: seconds",
                 lines=True)
        return
    out = out or Path("runs") / f"example-{name}"
    metrics = run_example(name, out, tiny=tiny, steps=steps, device=device, progress=not quiet, overwrite=overwrite)
    hidden = {"parameters", "channels", "compiled", "wall_seconds"}
    shown = {key: value for key, value in metrics.items() if isinstance(value, (int, float)) and key not in hidden}
    lists = {key: value for key, value in metrics.items() if isinstance(value, list) and key != "shape"}
    parts = [f"{key} {value:.4g}" for key, value in shown.items()]
    parts += [f"{key} {', '.join(f'{v:.3g}' for v in value)}" for key, value in lists.items()]
    echo(f"{out}: " + ", ".join(parts))
    echo(out / "figure.png")


@click.command("solve")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run folder [default: runs/solve-STEM].")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Adam steps [default: the file's train, "
              "else 2,000].")
@click.option("--time", "time_budget", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds of Adam steps [default: the file's train]; without a network in the file, "
                   "the default recipe's whole budget [default: 300].")
@click.option("--lbfgs-steps", type=click.IntRange(min=0), default=None,
              help="L-BFGS steps after Adam [default: the file's train].")
@click.option("--balance", type=click.Choice(["off", "gradients"]), default=None,
              help="Weights of the loss terms: the constraints' own, or balanced by their gradients "
                   "[default: the file's train].")
@click.option("--device", default=None, help="auto (CUDA when present), cpu, cuda or cuda:N [default: the file's].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier run in --out.")
def solve_command(file: Path, out: Path | None, steps: int | None, time_budget: float | None,
                  lbfgs_steps: int | None, balance: str | None, device: str | None, quiet: bool, resume: bool,
                  overwrite: bool) -> None:
    """Solve the problem a Python file defines: its `problem` (sirenkit.Problem) and, optionally,
    `network` (sirenkit.NetworkConfig), `train` (sirenkit.TrainConfig) and `outputs` (the fields of
    the default recipe's network). Without a network, the default recipe chooses one and the
    training, within --time seconds (300 unless given), and says what it chose."""
    from sirenkit.studies.recipe import default_recipe
    from sirenkit.studies.solve import load_problem_file, solve

    problem, network, train, outputs = load_problem_file(file)
    settings = None
    if network is None:  # the default recipe, within --time
        recipe = default_recipe(problem, outputs=outputs, time_budget=time_budget)
        network, settings = recipe.network, {"recipe": recipe.say()}
        if train is None:
            train, time_budget = recipe.train, None
    assert train is not None
    changes = {"steps": steps, "time_budget": time_budget, "lbfgs_steps": lbfgs_steps, "balance": balance,
               "device": device}
    train = replace(train, **{key: value for key, value in changes.items() if value is not None})
    out = out or Path("runs") / f"solve-{file.stem}"
    solved = solve(problem, network, train, name=file.stem, out=out, resume=resume, overwrite=overwrite,
                   progress=not quiet, settings=settings)
    metrics = solved.metrics
    parts = [f"loss {metrics['loss']:.4g}"] + [f"{name} {value:.4g}" for name, value in metrics["terms"].items()
                                                if value is not None]
    parts += [f"{name} {metrics[name]:.6g}" for name in problem.unknowns]
    echo(f"{out}: " + ", ".join(parts))
