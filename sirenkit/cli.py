"""The ``sirenkit`` command. Thin: it parses, builds the configuration and calls the library.

Errors a user can cause (a missing file, a size that makes no sense, a foreign checkpoint) end
in one line on stderr and exit code 2; a diverged run exits 3, an interrupted one 130.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable

import click

from .config import MODEL_NAMES, TrainConfig, replace


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="sirenkit")
def app() -> None:
    """Fit sinusoidal representation networks (SIREN) to signals and render them back."""


@app.group("fit")
def fit_group() -> None:
    """Fit a network to a signal and write a run folder."""


def training_options(default_steps: int | None = 300) -> Callable:
    """The options every fitting command shares. A default of ``None`` defers to the task's own
    training defaults."""
    options = [
        click.option("--steps", type=click.IntRange(min=1), default=default_steps,
                     help="Optimiser steps." + (" [default: the task's]" if default_steps is None else "")),
        click.option("--model", type=click.Choice(MODEL_NAMES), default="siren",
                     help="Network: SIREN or one of the paper's baselines."),
        click.option("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N."),
        click.option("--seed", type=int, default=0, help="Seed of the initial weights and the sampling."),
        click.option("--out", type=click.Path(path_type=Path), default=None,
                     help="Run folder [default: runs/<task>-<name>]."),
        click.option("--lr", type=float, default=None,
                     help="Peak learning rate of Adam (cosine decay) [default: the task's, 1e-3 for images]."),
        click.option("--batch-size", type=click.IntRange(min=1), default=None,
                     help="Random points per step [default: all points]."),
        click.option("--width", type=click.IntRange(min=1), default=256, help="Hidden layer width."),
        click.option("--layers", type=click.IntRange(min=1), default=4, help="Hidden layers, the first included."),
        click.option("--omega", type=float, default=None,
                     help="SIREN first-layer ω0 [default: the task's: 30 for images, shapes and video, "
                          "1000 per second for audio]."),
        click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default=None,
                     help="Arithmetic of the training step; auto uses bfloat16 where the CPU (AVX-512 BF16, "
                          "AMX) or GPU has it natively [default: the task's]."),
        click.option("--compile", "compile_mode", type=click.Choice(["auto", "on", "off"]), default="auto",
                     help="torch.compile the training step."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
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
                 checkpoint_every: int = 100) -> TrainConfig:
    """The training configuration the shared options describe, over a task's ``defaults``."""
    defaults = defaults or TrainConfig()
    compile_value = {"auto": "auto", "on": True, "off": False}[options["compile_mode"]]
    chosen = {"steps": options["steps"], "learning_rate": options["lr"], "batch_size": options["batch_size"],
              "precision": options["precision"]}
    return replace(
        defaults, **{key: value for key, value in chosen.items() if value is not None},
        seed=options["seed"], device=options["device"], compile=compile_value,
        checkpoint_every=checkpoint_every,
    )


def default_out(task: str, source: str) -> Path:
    return Path("runs") / f"{task}-{Path(source).stem}"


def print_metrics(out: Path, metrics: dict, keys: tuple[str, ...]) -> None:
    shown = ", ".join(
        f"{key} {metrics[key]:.4g}" if isinstance(metrics[key], float) else f"{key} {metrics[key]}"
        for key in keys if metrics.get(key) is not None
    )
    click.echo(f"{out}: {shown}")


@fit_group.command("image")
@click.argument("source")
@size_option()
@training_options(default_steps=None)
@click.option("--resume", is_flag=True, help="Continue from the run folder's last checkpoint.")
def fit_image_command(source: str, size: int | None, resume: bool, **options: Any) -> None:
    """Fit an image file or bundled image (camera, astronaut, coffee, ...).

    Writes model.safetensors/json, reconstruction.png, figure.png, psnr.png and metrics.json.
    """
    from .image import load_image
    from .tasks.image import fit_image, image_train_config

    signal = load_image(source, size=size)
    train = train_config(options, defaults=image_train_config(signal))
    network = image_network_options(signal, options)
    out = options["out"] or default_out("image", source)
    fitted = fit_image(signal, size=size, network=network, train=train, out=out, resume=resume,
                       progress=not options["quiet"])
    print_metrics(out, fitted.metrics, ("psnr", "ssim", "steps", "seconds", "parameters"))


@fit_group.command("audio")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Fit only the first SECONDS of the file [default: all of it].")
@training_options(default_steps=None)
@click.option("--resume", is_flag=True, help="Continue from the run folder's last checkpoint.")
def fit_audio_command(source: Path, seconds: float | None, resume: bool, **options: Any) -> None:
    """Fit a sound (WAV, FLAC, OGG; any rate, any number of channels).

    Writes model.safetensors/json, reconstruction.wav, audio.png (waveforms and spectrograms of
    ground truth, fit and error), snr.png and metrics.json (SNR, PSNR).
    """
    from .audio import load_audio
    from .tasks.audio import audio_network, audio_train_config, fit_audio

    signal = load_audio(source, seconds=seconds)
    train = train_config(options, defaults=audio_train_config(signal))
    network = audio_network(signal, options["model"], **network_settings(options))
    out = options["out"] or default_out("audio", str(source))
    fitted = fit_audio(signal, seconds=seconds, network=network, train=train, out=out, resume=resume,
                       progress=not options["quiet"])
    print_metrics(out, fitted.metrics, ("snr", "psnr", "steps", "seconds", "parameters"))
    click.echo(str(out / "reconstruction.wav"))


@fit_group.command("video")
@click.argument("source", required=False, default=None)
@size_option()
@training_options(default_steps=None)
@click.option("--resume", is_flag=True, help="Continue from the run folder's last checkpoint.")
def fit_video_command(source: str | None, size: int | None, resume: bool, **options: Any) -> None:
    """Fit a clip: GIF, MP4 (or another format ffmpeg reads) or a folder of frames; scikit-image's
    no_time_for_that_tiny.gif when SOURCE is left out.

    Writes model.safetensors/json, reconstruction.mp4 and .gif, frames.png (ground truth over fit),
    psnr.png (per frame) and metrics.json (mean PSNR).
    """
    from .tasks.video import fit_video, video_network, video_train_config
    from .video import BUNDLED_VIDEO, load_video

    signal = load_video(source, size=size)
    train = train_config(options, defaults=video_train_config(signal))
    network = video_network(signal, options["model"], **network_settings(options))
    out = options["out"] or default_out("video", source or BUNDLED_VIDEO)
    fitted = fit_video(signal, size=size, network=network, train=train, out=out, resume=resume,
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


def image_network_options(signal, options: dict[str, Any]):
    from .tasks.image import image_network

    return image_network(signal, options["model"], **network_settings(options))


def network_settings(options: dict[str, Any]) -> dict[str, Any]:
    """The network options given on the command line (ω0 only when given, since tasks differ)."""
    settings = {"hidden_features": options["width"], "hidden_layers": options["layers"]}
    if options["omega"] is not None:
        settings["first_omega"] = options["omega"]
    return settings


@app.command("poisson")
@click.argument("source")
@click.option("--from", "derivative", type=click.Choice(["gradient", "laplacian"]), required=True,
              help="Fit the image's gradient field or its Laplacian only.")
@size_option()
@training_options(default_steps=None)
@click.option("--means", default=None,
              help="Restore each channel's mean from these values (one, or one per channel) instead of "
                   "aligning to the ground truth.")
@click.option("--segments", type=click.FloatRange(min=0), default=None,
              help="--from gradient: weight of the multiscale constraint, line integrals of the gradient; "
                   "0 turns it off [default: 0.01].")
@click.option("--boxes", type=click.FloatRange(min=0), default=None,
              help="--from laplacian: weight of the multiscale constraint, fluxes of the gradient through "
                   "boxes; 0 turns it off [default: 0.0001].")
@click.option("--resume", is_flag=True, help="Continue from the run folder's last checkpoint.")
def poisson_command(source: str, derivative: str, size: int | None, means: str | None, segments: float | None,
                    boxes: float | None, resume: bool, **options: Any) -> None:
    """Reconstruct an image from its gradients or its Laplacian alone (Poisson's equation).

    The network never sees a pixel value. PSNR is reported after the alignment the derivative
    leaves free (a constant for gradients, a plane for the Laplacian), beside the classical DCT
    solution of the same discrete problem.
    """
    from .image import load_image
    from .tasks.poisson import fit_poisson, poisson_train_config

    signal = load_image(source, size=size)
    train = train_config(options, defaults=poisson_train_config(derivative))
    out = options["out"] or default_out(f"poisson-{derivative}", source)
    fitted = fit_poisson(signal, derivative, size=size, network=image_network_options(signal, options),
                         train=train, means=parse_floats(means, "--means"), segment_weight=segments,
                         box_weight=boxes, out=out, resume=resume, progress=not options["quiet"])
    print_metrics(out, fitted.metrics, ("psnr", "alignment", "classical_psnr", "steps", "seconds"))


@app.command("fuse")
@click.argument("first")
@click.argument("second")
@click.option("--mode", type=click.Choice(["average", "mixed", "clone"]), default="average",
              help="average: (∇A+∇B)/2 as in the paper; mixed: the stronger gradient per pixel; "
                   "clone: B's gradients inside the mask, A's outside.")
@click.option("--mask", type=click.Path(path_type=Path), default=None,
              help="clone: binary image the size of B, white where B is pasted.")
@click.option("--at", default="0,0", help="clone: X,Y of B's top-left corner on A, in pixels.")
@click.option("--resize", is_flag=True, help="average/mixed: resample B to A's size if they differ.")
@size_option()
@training_options(default_steps=None)
@click.option("--segments", type=click.FloatRange(min=0), default=0.01,
              help="Weight of the multiscale line-integral constraint; 0 turns it off [default: 0.01].")
@click.option("--resume", is_flag=True, help="Continue from the run folder's last checkpoint.")
def fuse_command(first: str, second: str, mode: str, mask: Path | None, at: str, resize: bool,
                 size: int | None, segments: float, resume: bool, **options: Any) -> None:
    """Fuse two images by fitting a composite of their gradient fields."""
    from .tasks.fusion import fuse_images
    from .tasks.poisson import poisson_train_config

    position = parse_floats(at, "--at")
    if position is None or len(position) != 2 or any(v != int(v) for v in position):
        raise ValueError(f"--at must be two whole pixel numbers X,Y, got {at!r}")
    train = train_config(options, defaults=poisson_train_config("gradient"))
    out = options["out"] or default_out(f"fuse-{mode}", first)
    fitted = fuse_images(first, second, mode, mask=mask, at=(int(position[0]), int(position[1])), size=size,
                         resize=resize, train=train, network=_fusion_network(options), segment_weight=segments, out=out,
                         resume=resume, progress=not options["quiet"])
    print_metrics(out, fitted.metrics, ("psnr_vs_classical", "steps", "seconds"))


def _fusion_network(options: dict[str, Any]):
    """The network the options describe; fuse_images sets its outputs to the images' channels."""
    from .config import NetworkConfig

    return NetworkConfig(in_features=2, out_features=1, model=options["model"], **network_settings(options))


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
@click.option("--what", type=click.Choice(["value", "gradient", "laplacian"]), default="value",
              help="Images: the image, its gradient magnitude or its Laplacian.")
@click.option("--rate", type=click.IntRange(min=1), default=None,
              help="Audio: samples per second [default: the original rate].")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Video: frames per second over the same span of time [default: the original].")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
def render_command(run: Path, out: Path, size: str | None, what: str, rate: int | None, fps: float | None,
                   device: str) -> None:
    """Evaluate a fitted image, sound or clip at any resolution, sampling rate or frame rate, in
    chunks, and write it.

    RUN is a run folder, a model.safetensors or a model.json.
    """
    from .io import load
    from .training import resolve_device

    loaded = load(run, device=resolve_device(device))
    kind = loaded.signal.get("kind", "image")
    suffixes = {"image": (".png",), "audio": (".wav", ".flac", ".ogg"), "video": (".mp4", ".gif")}.get(kind)
    article = "an" if kind[0] in "aeiou" else "a"
    if suffixes is None:
        raise ValueError(f"{run}: {article} {kind} model is not rendered by this command (for an SDF: sirenkit mesh)")
    if out.suffix.lower() not in suffixes:
        raise ValueError(f"{out}: {article} {kind} is written as {' or '.join(suffixes)}")
    options = {"image": {"--rate": rate, "--fps": fps}, "audio": {"--size": size, "--fps": fps},
               "video": {"--rate": rate}}[kind]
    if kind != "image" and what != "value":
        options["--what"] = what
    for name, value in options.items():
        if value is not None:
            raise ValueError(f"{name} does not apply to {article} {kind} model")
    if kind == "audio":
        render_audio_file(loaded, out, rate)
    elif kind == "video":
        render_video_file(loaded, out, parse_size(size) if size else None, fps)
    else:
        render_image_file(loaded, out, parse_size(size) if size else None, what)


def render_image_file(loaded, out: Path, dimensions: tuple[int, int] | None, what: str) -> None:
    from .render import gradient_magnitude_map, laplacian_map, render_image, to_png_array
    from .tasks.image import save_png

    values = render_image(loaded, dimensions, what)
    if what == "gradient":
        values = gradient_magnitude_map(values, loaded.signal["mode"])
    elif what == "laplacian":
        values = laplacian_map(values, loaded.signal["mode"])
    save_png(out, to_png_array(values, what))
    click.echo(f"{out}: {values.shape[1]}×{values.shape[0]} {what}")


def render_audio_file(loaded, out: Path, rate: int | None) -> None:
    from .audio import write_audio
    from .tasks.audio import render_audio

    rate = rate or int(loaded.signal["rate"])
    samples = render_audio(loaded, rate)
    write_audio(out, samples * float(loaded.signal["scale"]), rate)
    click.echo(f"{out}: {len(samples):,} samples at {rate} Hz, {samples.shape[1]} channel(s)")


def render_video_file(loaded, out: Path, dimensions: tuple[int, int] | None, fps: float | None) -> None:
    from .tasks.video import render_video
    from .video import write_video

    frames, fps = render_video(loaded, fps=fps, size=dimensions)
    write_video(out, frames, fps)
    click.echo(f"{out}: {len(frames)} frames of {frames.shape[2]}×{frames.shape[1]} at {fps:g} frames/s")


@app.command("compare")
@click.argument("source")
@size_option(default=128)
@training_options(default_steps=None)
@click.option("--models", default=",".join(MODEL_NAMES), help="Comma-separated models to compare.")
def compare_command(source: str, size: int | None, models: str, **options: Any) -> None:
    """Fit SIREN and the baselines with the same parameter budget and steps.

    Writes one run folder per model, comparison.png (rows = models; columns = image, gradient,
    Laplacian) and comparison.json, and prints the PSNR table. --width sets SIREN's width;
    the baselines get the width that matches its parameter count.
    """
    from .image import load_image
    from .tasks.image import compare_models, comparison_row, image_train_config

    names = [name.strip() for name in models.split(",") if name.strip()]
    out = options["out"] or default_out("compare", source)
    signal = load_image(source, size=size)
    fits = compare_models(
        signal, models=names, train=train_config(options, defaults=image_train_config(signal), checkpoint_every=0),
        **network_settings(options), out=out, progress=not options["quiet"],
    )
    click.echo(f"{'model':<8} {'width':>5} {'params':>8} {'PSNR dB':>8} {'SSIM':>6} {'seconds':>8}")
    for row in map(comparison_row, fits):
        ssim_text = f"{row['ssim']:.3f}" if row["ssim"] is not None else "-"
        click.echo(f"{row['model']:<8} {row['hidden_features']:>5} {row['parameters']:>8} "
                   f"{row['psnr']:>8.2f} {ssim_text:>6} {row['seconds']:>8.1f}")
    click.echo(str(out / "comparison.png"))


@app.command("info")
@click.argument("run", type=click.Path(path_type=Path))
def info_command(run: Path) -> None:
    """Show what a saved model holds and, for a run folder, its metrics."""
    from .io import load
    from .network import count_parameters

    loaded = load(run)
    summary = {"network": loaded.network.__dict__, "signal": loaded.signal,
               "parameters": count_parameters(loaded.model)}
    click.echo(json.dumps(summary, indent=2))
    metrics = Path(run) / "metrics.json"
    if metrics.is_file():
        click.echo(metrics.read_text().strip())


@fit_group.command("sdf")
@click.argument("source", type=click.Path(path_type=Path))
@training_options(default_steps=None)
@click.option("--surface-points", type=click.IntRange(min=1), default=8192, help="Surface samples per step.")
@click.option("--free-points", type=click.IntRange(min=1), default=8192, help="Free-space points per step.")
@click.option("--near-surface", type=click.FloatRange(0, 1), default=0.0,
              help="Fraction of the free points drawn near the surface instead of uniformly.")
@click.option("--weights", default=None,
              help="Loss weights surface,normal,off-surface,eikonal [default: 3e3,1e2,1e2,5e1, the paper's].")
@click.option("--resolution", type=click.IntRange(min=8), default=256, help="Grid of the mesh written.")
@click.option("--keep-unsupported", is_flag=True, help="Keep mesh pieces no input point supports (a void inside the solid, a blob in free space); by default they are dropped.")
@click.option("--resume", is_flag=True, help="Continue from the run folder's last checkpoint.")
def fit_sdf_command(source: Path, surface_points: int, free_points: int, near_surface: float, weights: str | None,
                    resolution: int, keep_unsupported: bool, resume: bool, **options: Any) -> None:
    """Fit a signed distance function to a point cloud (.xyz with normals, .ply) or a mesh
    (.ply, .obj, .off, .stl), and write mesh.ply (in the input's coordinates), mesh.png,
    slices.png, loss.png and metrics.json (Chamfer, F-score, normal consistency against the input).
    """
    from .tasks.sdf import SdfConfig, fit_sdf, sdf_network, sdf_train_config

    values = parse_floats(weights, "--weights")
    if values is not None and (len(values) != 4 or any(v < 0 for v in values)):
        raise ValueError(f"--weights needs four non-negative numbers surface,normal,off-surface,eikonal, got {weights!r}")
    weight_fields = dict(zip(("surface_weight", "normal_weight", "off_surface_weight", "eikonal_weight"), values or ()))
    config = SdfConfig(surface_points=surface_points, free_points=free_points, near_surface_fraction=near_surface,
                       mesh_resolution=resolution, keep_unsupported=keep_unsupported, **weight_fields)
    network = sdf_network(options["model"], **network_settings(options))
    train = train_config(options, defaults=sdf_train_config(), checkpoint_every=200)
    out = options["out"] or default_out("sdf", str(source))
    fitted = fit_sdf(source, network=network, train=train, config=config, out=out, resume=resume,
                     progress=not options["quiet"])
    print_metrics(out, fitted.metrics, ("chamfer_l1", "fscore", "normal_consistency", "steps", "seconds"))
    click.echo(str(out / "mesh.ply"))


@app.command("example")
@click.argument("name", required=False, default=None)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run folder [default: runs/example-NAME].")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Optimiser steps [default: the example's].")
@click.option("--tiny", is_flag=True, help="A few seconds at a tiny size (what the tests run).")
@click.option("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def example_command(name: str | None, out: Path | None, steps: int | None, tiny: bool, device: str,
                    quiet: bool) -> None:
    """Run a worked example of the constraint API and write its figure (NAME left out: list them)."""
    from .examples import EXAMPLES

    if name is None:
        for key, module in EXAMPLES.items():
            click.echo(f"{key:<12} {module.SUMMARY}")
        return
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; expected one of {', '.join(EXAMPLES)}")
    out = out or Path("runs") / f"example-{name}"
    metrics = EXAMPLES[name].run(out, tiny=tiny, steps=steps, device=device, progress=not quiet)
    hidden = {"parameters", "channels", "compiled", "wall_seconds"}
    shown = {key: value for key, value in metrics.items() if isinstance(value, (int, float)) and key not in hidden}
    lists = {key: value for key, value in metrics.items() if isinstance(value, list) and key != "shape"}
    click.echo(f"{out}: " + ", ".join([f"{key} {value:.4g}" for key, value in shown.items()]
                                      + [f"{key} {', '.join(f'{v:.3g}' for v in value)}" for key, value in lists.items()]))
    click.echo(str(out / "figure.png"))


@app.command("mesh")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--resolution", type=click.IntRange(min=8, max=2048), default=256, help="Grid points per side.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="mesh.ply, .obj, .stl or .off.")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@click.option("--keep-unsupported", is_flag=True, help="Keep mesh pieces no input point supports (a void inside the solid, a blob in free space); by default they are dropped where the run folder holds support.npy.")
def mesh_command(run: Path, resolution: int, out: Path, device: str, keep_unsupported: bool) -> None:
    """Extract the zero level set of a fitted SDF as a mesh, in the input's coordinates."""
    import numpy as np

    from .io import load
    from .mesh import save_mesh
    from .tasks.sdf import SUPPORT_FILE, loaded_transform, mesh_in_input_frame
    from .training import resolve_device

    loaded = load(run)
    transform = loaded_transform(loaded)
    model = loaded.model.to(resolve_device(device))
    support_file = Path(run) / SUPPORT_FILE
    support = None if keep_unsupported or not support_file.is_file() else np.load(support_file, allow_pickle=False)
    vertices, faces, dropped = mesh_in_input_frame(model, transform, resolution, support=support)
    save_mesh(out, vertices, faces)
    note = f" ({dropped} unsupported piece{'s' * (dropped != 1)} dropped)" if dropped else ""
    click.echo(f"{out}: {len(vertices):,} vertices, {len(faces):,} faces{note}")


@app.command("eval-mesh")
@click.argument("reconstruction", type=click.Path(path_type=Path))
@click.argument("reference", type=click.Path(path_type=Path))
@click.option("--samples", type=click.IntRange(min=1000), default=200_000, help="Points sampled on each surface.")
@click.option("--threshold", type=click.FloatRange(min=0, min_open=True), default=0.01,
              help="F-score distance threshold, as a fraction of the reference's bounding-box diagonal.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None, help="Also write the numbers here.")
def eval_mesh_command(reconstruction: Path, reference: Path, samples: int, threshold: float,
                      json_out: Path | None) -> None:
    """Chamfer distance, F-score and normal consistency of a mesh against a reference mesh."""
    from .io import write_json
    from .metrics import SURFACE_METRIC_CONVENTIONS, compare_meshes
    from .pointcloud import load_mesh

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
    return " ".join(str(error).split()) or type(error).__name__


class _EchoHandler(logging.Handler):
    """Prints the library's log records on the current stderr, as the CLI's own lines."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"sirenkit: {record.getMessage()}", err=True)


def _show_library_log() -> None:
    """The library logs and returns; the command line is where its messages are printed."""
    library = logging.getLogger("sirenkit")
    if not any(isinstance(handler, _EchoHandler) for handler in library.handlers):
        library.addHandler(_EchoHandler())
    library.setLevel(logging.INFO)
    library.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    from .training import TrainingDiverged, TrainingInterrupted

    _show_library_log()
    try:
        app.main(args=argv, prog_name="sirenkit", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:  # usage errors: one line, exit 2
        click.echo(f"sirenkit: error: {one_line(error.format_message())}", err=True)
        return 2
    except (click.Abort, KeyboardInterrupt):
        click.echo("sirenkit: interrupted", err=True)
        return 130
    except TrainingInterrupted as error:
        click.echo(f"sirenkit: {error}", err=True)
        return 130
    except TrainingDiverged as error:
        click.echo(f"sirenkit: error: {error}", err=True)
        return 3
    except (ValueError, OSError) as error:
        click.echo(f"sirenkit: error: {one_line(error)}", err=True)
        return 2
    return 0


def run() -> None:
    sys.exit(main())

