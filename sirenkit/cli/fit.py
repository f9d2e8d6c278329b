"""`sirenkit fit`: fit a network to an image, a sound, a clip or a shape, or to many of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sirenkit.cli.kinds import add_kind_commands
from sirenkit.cli.options import (
    POSITIVE,
    FiniteFloat,
    default_out,
    documented,
    echo,
    fit_several,
    given,
    group_option,
    network_settings,
    omega_choice,
    parse_floats,
    print_metrics,
    size_option,
    train_config,
    training_options,
    with_options,
)
from sirenkit.engine.runs import FitPlan
from sirenkit.signals.shape.kind import SdfConfig


@click.group("fit")
def fit_group() -> None:
    """Fit a network to a signal and write a run folder."""


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
    from sirenkit.signals.image.fit import plan_image
    from sirenkit.signals.image.kind import ImageKind

    def plan_one(source: str, out: Path, resume: bool) -> FitPlan:
        chosen = {**options, "resume": resume}
        plan = plan_image(source, size=size, frequency=omega_choice(chosen), out=out, resume=resume,
                          overwrite=options["overwrite"], progress=not options["quiet"] and len(sources) == 1)
        assert isinstance(plan.kind, ImageKind)
        recipe = plan.kind.train_config(precision=options["precision"] or "auto", device=options["device"])
        return with_options(plan, chosen, recipe, auto_omega=True)

    if fit_several("image", sources, group, options, plan_one):
        return
    out = options["out"] or default_out("image", sources[0])
    fitted = plan_one(sources[0], out, options["resume"]).run()
    print_metrics(fitted, ("psnr", "ssim", "steps", "seconds", "parameters"), out)


@fit_group.command("audio")
@click.argument("sources", nargs=-1, required=True)
@click.option("--seconds", type=POSITIVE, default=None,
              help="Fit only the first SECONDS of the file [default: all of it].")
@group_option()
@training_options()
def fit_audio_command(sources: tuple[str, ...], seconds: float | None, group: int | None, **options: Any) -> None:
    """Fit a sound (WAV, FLAC, OGG; any rate, any number of channels, or chirp, a 3-s sound
    sirenkit makes), or several: files and folders, trained together in batches.

    Writes model.safetensors/json, reconstruction.wav, audio.png (waveforms and spectrograms of
    ground truth, fit and error), snr.png and metrics.json (SNR, PSNR); for several, one run
    folder per sound with summary.csv, summary.json and contact.png beside them.
    """
    from sirenkit.signals.audio.fit import plan_audio

    def plan_one(source: str, out: Path, resume: bool) -> FitPlan:
        chosen = {**options, "resume": resume}
        plan = plan_audio(Path(source), seconds=seconds, frequency=omega_choice(chosen), out=out, resume=resume,
                          overwrite=options["overwrite"], progress=not options["quiet"] and len(sources) == 1)
        return with_options(plan, chosen, plan.kind.train_config(), auto_omega=True)

    if fit_several("audio", sources, group, options, plan_one):
        return
    out = options["out"] or default_out("audio", str(sources[0]))
    fitted = plan_one(sources[0], out, options["resume"]).run()
    print_metrics(fitted, ("snr", "psnr", "steps", "seconds", "parameters"), out)
    echo(out / "reconstruction.wav")


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
    print_metrics(fitted, ("psnr", "steps", "seconds", "parameters"), out)
    echo(out / "reconstruction.mp4")


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
    (.ply, .obj, .off, .stl, or spot, a bundled cow), and write mesh.ply (in the input's coordinates), mesh.png,
    slices.png, loss.png and metrics.json (Chamfer, F-score, normal consistency against the input);
    or to several (files, folders), trained together in batches, with summary.csv, summary.json
    and contact.png (each run's mesh.png) beside their run folders.
    """
    from sirenkit.signals.shape.fit import plan_sdf, sdf_network, sdf_train_config

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

    def plan_one(source: str, out: Path, resume: bool) -> FitPlan:
        train = train_config({**options, "resume": resume}, defaults=sdf_train_config(), out=out)
        return plan_sdf(Path(source), network=network, train=train, config=config, out=out, resume=resume,
                       overwrite=options["overwrite"], progress=not options["quiet"] and len(sources) == 1)

    if fit_several("sdf", sources, group, options, plan_one):
        return
    out = options["out"] or default_out("sdf", str(sources[0]))
    fitted = plan_one(sources[0], out, options["resume"]).run()
    print_metrics(fitted, ("chamfer_l1", "fscore", "normal_consistency", "steps", "seconds"), out)
    echo(out / "mesh.ply")


add_kind_commands(fit_group)  # after the built-in kinds' own commands: a registered kind without one gets fit KIND
