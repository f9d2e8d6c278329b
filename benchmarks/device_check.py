"""Every command's main path on one device, small and fast: what a session with a GPU runs first.

The test suite runs on the CPU (CI has no GPU); this runs the same commands as a user would, with
``--device DEVICE``, in one process (the device is set up once), and prints a table: the command,
whether it ran, its seconds and its figure of merit (PSNR, Chamfer distance, error against the
classical solver). Run it with ``--device cpu`` beside a ``--device cuda`` run to compare: the fits
use the same seeds and float32 arithmetic, so each figure should agree to within what two
floating-point orders of summation make of a few hundred Adam steps (usually tenths of a dB).

    python benchmarks/device_check.py [--device cuda] [--out runs/device-check] [--json out.json]
        [--only name,...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine  # noqa: E402

DATA = Path("../shared/data")


def figure(folder: Path) -> str:
    """The figure of merit a run folder's metrics.json gives."""
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in ("psnr", "chamfer_l1", "snr", "relative_error_vs_finite_differences"):
        if key in metrics:
            return f"{key} {metrics[key]:.4g}"
    return ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float))[:80]


def checks(out: Path, device: str) -> list[tuple[str, list[str], callable]]:
    """(name, argv, what to read back) for each command."""
    common = ["--device", device, "--precision", "float32", "-q", "--overwrite", "--compile", "off"]
    folder = out / "photos"
    return [
        ("fit image (compiled)", ["fit", "image", "camera", "--size", "256", "--steps", "300", "--out", out / "camera",
                                  *common, "--compile", "auto"],
         lambda: figure(out / "camera")),
        ("fit image (terrier, full size)", ["fit", "image", DATA / "yorkshire_terrier.jpg", "--steps", "300",
                                            "--out", out / "terrier", *common], lambda: figure(out / "terrier")),
        ("fit image FOLDER (batched)", ["fit", "image", folder, "--steps", "200", "--group", "4", "--out",
                                        out / "folder", *common], lambda: summary(out / "folder")),
        ("poisson from gradient", ["poisson", "camera", "--from", "gradient", "--size", "128", "--steps", "300",
                                   "--out", out / "grad", *common], lambda: figure(out / "grad")),
        ("poisson from laplacian", ["poisson", "camera", "--from", "laplacian", "--size", "128", "--steps", "300",
                                    "--out", out / "lap", *common], lambda: figure(out / "lap")),
        ("render 2× and the Laplacian", ["render", out / "camera", "--size", "512", "--what", "laplacian", "--out",
                                         out / "laplacian.png", "--device", device], lambda: rendered(out)),
        ("compare (six families)", ["compare", "camera", "--models", "siren,finer,gauss,wire,hash-grid,grid",
                                    "--size", "128", "--steps", "200", "--out", out / "compare", *common],
         lambda: compared(out / "compare")),
        ("fit sdf (bunny)", ["fit", "sdf", DATA / "stanford-bunny.obj", "--steps", "500", "--resolution", "128",
                             "--out", out / "bunny", *common], lambda: figure(out / "bunny")),
        ("fit audio", ["fit", "audio", out / "tones.wav", "--steps", "300", "--out", out / "audio", *common],
         lambda: figure(out / "audio")),
        ("example helmholtz", ["example", "helmholtz", "--steps", "300", "--out", out / "helmholtz", "-q",
                               "--overwrite", "--device", device], lambda: figure(out / "helmholtz")),
        ("compress / decompress", ["compress", "coffee", "--bpp", "0.3", "--steps", "600", "-o", out / "coffee.sirk",
                                   "--overwrite", "--device", device, "--precision", "float32", "-q"],
         lambda: decoded(out)),
    ]


def rendered(out: Path) -> str:
    from sirenkit.signals.image.data import load_image

    pixels = load_image(out / "laplacian.png").pixels
    return f"{pixels.shape[1]}×{pixels.shape[0]}, spread {pixels.std():.3f}"


def summary(folder: Path) -> str:
    rows = json.loads((folder / "summary.json").read_text())["rows"]
    psnrs = [row["psnr"] for row in rows if row.get("psnr") is not None]
    return f"{len(psnrs)} fitted, mean psnr {np.mean(psnrs):.4g}"


def compared(folder: Path) -> str:
    found = []
    for run in sorted(p for p in folder.iterdir() if (p / "metrics.json").is_file()):
        found.append(f"{run.name} {json.loads((run / 'metrics.json').read_text())['psnr']:.2f}")
    return ", ".join(found)


def decoded(out: Path) -> str:
    from sirenkit.cli import main

    code = main(["decompress", str(out / "coffee.sirk"), "-o", str(out / "coffee.png")])
    if code:
        raise RuntimeError(f"decompress exited {code}")
    from sirenkit.metrics import psnr
    from sirenkit.signals.image.data import load_image

    original = load_image("coffee").pixels
    back = load_image(out / "coffee.png").pixels
    bpp = 8 * (out / "coffee.sirk").stat().st_size / (original.shape[0] * original.shape[1])
    return f"psnr {psnr(back, original):.4g} at {bpp:.3f} bpp"


def prepare(out: Path) -> None:
    """The inputs the checks read: a folder of four photos, a 3-s sound of two tones and a glide."""
    import soundfile
    from PIL import Image

    from sirenkit.signals.image.data import load_image

    folder = out / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("camera", "moon", "coins", "chelsea"):
        pixels = load_image(name, size=128).pixels
        Image.fromarray(np.round(pixels[..., 0] * 255).astype(np.uint8) if pixels.shape[2] == 1 else
                        np.round(pixels * 255).astype(np.uint8)).save(folder / f"{name}.png")
    rate = 16000
    t = np.arange(3 * rate) / rate
    sound = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * (200 * t + 300 * t ** 2))
    soundfile.write(out / "tones.wav", sound.astype(np.float32), rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, default=Path("runs/device-check"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--only", default="", help="Run only the checks whose names contain one of these.")
    args = parser.parse_args()
    import torch

    from sirenkit.cli import main as sirenkit

    shutil.rmtree(args.out, ignore_errors=True)
    prepare(args.out)
    print(f"machine: {machine()}; device {args.device}; CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print("\n| command | ran | seconds | figure |\n|---|---|---|---|", flush=True)
    rows = []
    wanted = [w for w in args.only.split(",") if w]
    for name, argv, read in checks(args.out, args.device):
        if wanted and not any(w in name for w in wanted):
            continue
        started, log = time.perf_counter(), io.StringIO()
        try:
            with contextlib.redirect_stderr(log), contextlib.redirect_stdout(log):
                code = sirenkit([str(a) for a in argv])
            result = read() if code == 0 else f"exit {code}: {log.getvalue().strip().splitlines()[-1:]}"
        except Exception as error:  # a check that breaks is reported; the others still run
            code, result = 1, f"{type(error).__name__}: {error}"
            traceback.print_exc()
        seconds = time.perf_counter() - started
        rows.append({"check": name, "ok": code == 0, "seconds": seconds, "figure": result})
        print(f"| {name} | {'yes' if code == 0 else '**no**'} | {seconds:.1f} | {result} |", flush=True)
    if args.json:
        from sirenkit.io import write_json

        write_json(args.json, {"machine": machine(), "device": args.device, "rows": rows})
    if not all(row["ok"] for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
