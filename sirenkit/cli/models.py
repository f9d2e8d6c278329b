"""The commands on fitted models and the files made from them: render a fit at any resolution,
extract and score a mesh, show what a model or a compressed file holds, compress an image to a
.sirk file and decode one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sirenkit.cli.options import POSITIVE, documented, echo, parse_size
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.kinds import Fitted
from sirenkit.metrics import FSCORE_THRESHOLD, METRIC_SAMPLES
from sirenkit.signals.shape.kind import SdfConfig


def refuse_existing(out: Path, overwrite: bool) -> None:
    """An output file is replaced only with `--overwrite`: a typo in `--out` must not cost a file."""
    if out.exists() and not overwrite:
        raise ValueError(f"{out}: exists (--overwrite replaces it)")


@click.command("render")
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
@click.option("--overwrite", is_flag=True, help="Replace an existing file at --out.")
def render_command(run: Path, out: Path, size: str | None, what: str | None, rate: int | None, fps: float | None,
                   device: str, overwrite: bool) -> None:
    """Evaluate a fitted image, sound or clip at any resolution, sampling rate or frame rate, in
    chunks, and write it.

    RUN is a run folder, a model.safetensors or a model.json.
    """
    from sirenkit.render import render

    refuse_existing(out, overwrite)
    dimensions = parse_size(size) if size else None
    summary = render(run, out, device=device, size=dimensions, what=what, rate=rate, fps=fps)
    echo(f"{out}: {summary}")


@click.command("compress")
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
    refuse_existing(out, overwrite)
    if steps is not None and seconds is not None:
        raise ValueError("give --steps or --time, not both")
    result = codec.compress(source, out, bpp=bpp, params=params,
                            seconds=codec.DEFAULT_SECONDS if seconds is None else seconds, steps=steps,
                            hidden_layers=codec.HIDDEN_LAYERS if layers is None else layers,
                            precision=precision, device=device, seed=seed, progress=not quiet)
    stages = ", ".join(f"{name} {value:.2f}" for name, value in result.stages.items())
    echo(f"{out}: {len(result.data):,} bytes, {result.bpp:.4f} bpp, PSNR {result.psnr:.2f} dB "
         f"({result.parameters:,} parameters; PSNR after each step: {stages}; {result.seconds:.0f} s)")


@click.command("decompress")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="The PNG to write.")
@click.option("--size", default=None, help="WxH, or N for N×N [default: the original size].")
@click.option("--overwrite", is_flag=True, help="Replace an existing file at --out.")
def decompress_command(file: Path, out: Path, size: str | None, overwrite: bool) -> None:
    """Decode a .sirk file to a PNG, at its own size or any other."""
    from sirenkit.codec.weights import decompress

    if out.suffix.lower() != ".png":
        raise ValueError(f"{out}: decompress writes PNG; give a name ending in .png")
    refuse_existing(out, overwrite)
    decompress(file, out, size=parse_size(size) if size else None)
    echo(out)


def _starts_with(path: Path, magic: bytes) -> bool:
    with open(path, "rb") as stream:
        return stream.read(len(magic)) == magic


@click.command("info")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what the files hold, as JSON, instead of a summary.")
def info_command(run: Path, as_json: bool) -> None:
    """Say what a run folder or a saved model holds (the signal, the network, the result and why the
    fit stopped); for a .sirk file, its header."""
    from sirenkit.codec.weights import MAGIC, file_header
    from sirenkit.engine.models import load
    from sirenkit.networks.build import count_parameters
    from sirenkit.networks.config import network_to_dict

    if run.is_file() and (run.suffix == ".sirk" or _starts_with(run, MAGIC)):
        header = file_header(run)
        bpp = 8 * run.stat().st_size / (header.width * header.height)
        echo(json.dumps({"file": str(run), "bytes": run.stat().st_size, "bpp": bpp, **header.describe()},
                        indent=2, ensure_ascii=True), lines=True)
        return

    loaded = load(run)
    metrics: dict[str, Any] = {}
    path = Path(run) / "metrics.json"
    if path.is_file():
        try:
            metrics = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: not valid JSON ({type(error).__name__})") from None
    parameters = count_parameters(loaded.model)
    if as_json:  # re-encoded: a received file's control characters (terminal escapes) come out escaped
        echo(json.dumps({"network": network_to_dict(loaded.network), "signal": loaded.kind.to_json(),
                         "parameters": parameters}, indent=2, ensure_ascii=True), lines=True)
        if metrics:
            echo(json.dumps(metrics, indent=2, ensure_ascii=True), lines=True)
        return
    for line in info_lines(run, loaded, parameters, metrics):
        echo(line)  # a received file's control characters (terminal escapes) and names come out escaped


def info_lines(run: Path, loaded: Fitted, parameters: int, metrics: dict[str, Any]) -> list[str]:
    """A few lines a person reads: the signal, the network, the result and how the fit ended."""
    from sirenkit.networks.config import family_fields
    from sirenkit.networks.registry import get_family

    signal = ", ".join(f"{key} {value}" for key, value in loaded.kind.to_json().items() if key != "kind")
    network = loaded.network
    own = ", ".join(f"{name} {getattr(network, name):g}" if isinstance(getattr(network, name), float)
                    else f"{name} {getattr(network, name)}" for name in family_fields(network.model))
    size = get_family(network.model).size_of(network)
    lines = [f"{run}: {loaded.kind.name} ({signal})",
             f"network: {network.model} {size}, {parameters:,} parameters" + (f" ({own})" if own else "")]
    units = {metric.name: metric.unit for metric in loaded.kind.metrics}
    figures = [f"{metric.name} {metrics[metric.name]:.4g}{' ' + units[metric.name] if units[metric.name] else ''}"
               for metric in loaded.kind.metrics if isinstance(metrics.get(metric.name), (int, float))]
    if figures or "steps" in metrics:
        ran = f"{metrics['steps']:,} steps" if isinstance(metrics.get("steps"), int) else "steps unknown"
        if isinstance(metrics.get("seconds"), (int, float)):
            ran += f" in {metrics['seconds']:.1f} s"
        reason = f"; {metrics['stop_reason']}" if isinstance(metrics.get("stop_reason"), str) else ""
        lines.append(f"result: {', '.join(figures) or 'no figures recorded'} after {ran}{reason}")
    files = metrics.get("files")
    if isinstance(files, list) and files:
        lines.append(f"files: {', '.join(str(name) for name in files)}")
    return lines


@click.command("mesh")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--resolution", type=click.IntRange(min=8), default=SdfConfig.mesh_resolution,
              help="Grid points per side.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="mesh.ply, .obj, .stl or .off.")
@click.option("--device", default="auto", help="auto, cpu, cuda or cuda:N.")
@click.option("--keep-unsupported", is_flag=True,
              help="Keep mesh pieces no input point supports (a void inside the solid, a blob in free space); "
                   "by default they are dropped where the run folder holds support.npy.")
@click.option("--overwrite", is_flag=True, help="Replace an existing file at --out.")
def mesh_command(run: Path, resolution: int, out: Path, device: str, keep_unsupported: bool, overwrite: bool) -> None:
    """Extract the zero level set of a fitted SDF as a mesh, in the input's coordinates."""
    from sirenkit.signals.shape.fit import extract_mesh

    refuse_existing(out, overwrite)
    summary = extract_mesh(run, out, resolution=resolution, keep_unsupported=keep_unsupported, device=device)
    echo(f"{out}: {summary}")


@click.command("eval-mesh")
@click.argument("reconstruction", type=click.Path(path_type=Path))
@click.argument("reference", type=click.Path(path_type=Path))
@click.option("--samples", type=click.IntRange(min=1000), default=METRIC_SAMPLES,
              help="Points sampled on each surface.")
@click.option("--threshold", type=POSITIVE, default=FSCORE_THRESHOLD,
              help="F-score distance threshold, as a fraction of the reference's bounding-box diagonal.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None, help="Also write the numbers here.")
def eval_mesh_command(reconstruction: Path, reference: Path, samples: int, threshold: float,
                      json_out: Path | None) -> None:
    """Chamfer distance, F-score and normal consistency of a mesh against a reference mesh (a file,
    or spot, the bundled cow)."""
    from sirenkit.io import write_json
    from sirenkit.metrics import SURFACE_METRIC_CONVENTIONS, compare_meshes
    from sirenkit.signals.shape.data import load_mesh

    result = compare_meshes(load_mesh(reconstruction), load_mesh(reference), samples=samples, threshold=threshold)
    for key in ("chamfer_l1", "chamfer_squared", "fscore", "fscore_precision", "fscore_recall",
                "normal_consistency", "iou"):
        if key in result:
            echo(f"{key:<19} {result[key]:.6g}")
    echo(f"(distances / reference bounding-box diagonal {result['diagonal']:.4g}; F-score at "
         f"{threshold:g} of it; {samples:,} samples per surface)")
    if json_out is not None:
        write_json(json_out, {**result, "conventions": SURFACE_METRIC_CONVENTIONS})
