"""Which network, past images: every family of benchmarks/zoo.py on sounds, shapes and Poisson from
gradients, at the parameter count of SIREN's network for that kind, under one time budget each.

- ``audio``: 3 s of music (benchmarks/media.py, synthesised) and the speech clip of the tests
  (tests/data/speech.wav, 1.97 s): SNR of the fit;
- ``shape``: the Stanford bunny and Spot (../shared/data): Chamfer-L1, F-score at 1 % of the
  diagonal and normal consistency of the mesh the fit writes, against the input mesh;
- ``poisson``: photos rebuilt from their gradient only: PSNR after the constant alignment.

Each family is sized by its own rule (zoo.py's) and trained with the kind's default recipe under
``--time`` seconds (the schedule over the budget), its learning rate excepted: the kind's default
rate times the family's ratio to SIREN's rate in the image zoo (its ``learning_rate_factor``, the
rate ``fit`` gives it by default), swept ×⅓, ×1, ×3 for ``--sweep-time`` seconds on a signal that
is not evaluated (another piece of music, a torus, coffee) and followed past an end of the sweep
while the best sits there. A family that cannot state a kind's problem says why in the table.

    python benchmarks/zoo_kinds.py --kind audio|shape|poisson [--models siren,finer,...] [--time 60]
        [--sweep-time 20] [--siren-width 256] [--rate-of siren=3e-4,...] [--precision float32]
        [--mesh-resolution 128 --metric-samples 50000] [--json out.json]

``--siren-width`` sets the budget: the parameter count of the kind's SIREN at that hidden width (a
sound needs a budget below its sample count, or a dense grid simply stores the samples);
``--rate-of`` gives families their rate and skips their sweep; ``--no-sweep`` gives every family
the kind's rate times its image ratio, unswept (where the sweep costs more than the table). Shapes
are meshed and measured after every fit, sweep included: ``--mesh-resolution`` and
``--metric-samples`` make that cheaper than a run's defaults (256³, 200,000 points), for every
family alike.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine  # noqa: E402
from zoo import best_rate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"
MODELS = ("siren", "finer", "wire", "gauss", "hash-grid", "grid")
EXTENSIONS = 2
"""Rates tried past an end of the sweep (×3 or ÷3 each) while the best is there."""


@dataclass
class Kind:
    """One kind of signal: how to load it, the network sized for it, the recipe, the fit and its
    scores (``score`` is what the sweep maximises)."""

    signals: tuple[str, ...]
    sweep_signal: str
    load: Callable[[str], Any]
    reference_network: Callable[[Any], Any]
    network: Callable[[Any, str], Any]
    train: Callable[[Any], Any]
    fit: Callable[..., Any]
    columns: tuple[str, ...]
    score: Callable[[dict], float]


def write_music(seconds: float, seed: int) -> str:
    from sirenkit.signals.audio.data import write_audio

    from media import music

    path = Path(tempfile.mkdtemp()) / f"music-{seed}.wav"
    write_audio(path, music(seconds, 44_100, seed=seed), 44_100)
    return str(path)


def load_sound(name: str):
    from sirenkit.signals.audio.data import load_audio

    pieces = {"music": 0, "music-2": 1}  # seeds of benchmarks/media.py's piece: evaluated, swept on
    return load_audio(write_music(3.0, pieces[name]) if name in pieces else name)


def load_shape(name: str):
    import trimesh

    from sirenkit.signals.shape.data import load_point_cloud
    from sirenkit.signals.shape.fit import SdfConfig

    if name == "torus":
        path = Path(tempfile.mkdtemp()) / "torus.obj"
        trimesh.creation.torus(major_radius=1.0, minor_radius=0.35, major_sections=96, minor_sections=48).export(path)
        name = str(path)
    config = SdfConfig()
    return load_point_cloud(name, samples=config.samples, margin=config.margin)


def load_photo(name: str):
    from sirenkit.signals.image.data import load_image

    return load_image(name, size=256)


def kinds(mesh_resolution: int | None = None, metric_samples: int | None = None) -> dict[str, Kind]:
    from sirenkit.signals.audio.fit import fit_audio
    from sirenkit.signals.audio.kind import AudioKind
    from sirenkit.signals.image.kind import ImageKind
    from sirenkit.signals.shape.fit import fit_sdf
    from sirenkit.signals.shape.kind import ShapeKind
    from sirenkit.studies.poisson import fit_poisson, poisson_network, poisson_train_config

    def shape_fit(cloud, **keywords):
        from sirenkit.signals.shape.fit import SdfConfig

        config = SdfConfig()
        config = replace(config, mesh_resolution=mesh_resolution or config.mesh_resolution,
                         metric_samples=metric_samples or config.metric_samples)
        return fit_sdf(cloud, config=config, **keywords)

    def poisson_fit(signal, **keywords):
        return fit_poisson(signal, "gradient", **keywords)

    return {
        "audio": Kind(("music", str(ROOT / "tests" / "data" / "speech.wav")), "music-2", load_sound,
                      lambda s: AudioKind.describe(s).network("siren"),
                      lambda s, model: AudioKind.describe(s).network(model),
                      lambda s: AudioKind.describe(s).train_config(), fit_audio, ("snr",), lambda m: m["snr"]),
        "shape": Kind((str(SHARED / "stanford-bunny.obj"), str(SHARED / "spot.obj")), "torus", load_shape,
                      lambda c: ShapeKind.describe(c).network("siren"),
                      lambda c, model: ShapeKind.describe(c).network(model),
                      lambda c: ShapeKind.describe(c).train_config(), shape_fit,
                      ("chamfer_l1", "fscore", "normal_consistency"), lambda m: -m["chamfer_l1"]),
        "poisson": Kind(("camera", "grass", str(SHARED / "yorkshire_terrier.jpg")), "coffee", load_photo,
                        lambda s: poisson_network(s, "siren"),
                        lambda s, model: ImageKind.describe(s).network(model),
                        lambda s: poisson_train_config("gradient"), poisson_fit, ("psnr",), lambda m: m["psnr"]),
    }


def fit_one(kind: Kind, signal, model: str, *, rate: float, budget: float, precision: str,
            siren_width: int | None = None) -> dict:
    from sirenkit.networks.build import network_for_budget, parameter_count

    reference = kind.reference_network(signal)
    if siren_width is not None:
        reference = replace(reference, hidden_features=siren_width)
    network = reference if model == "siren" else network_for_budget(kind.network(signal, model),
                                                                     parameter_count(reference))
    train = replace(kind.train(signal), learning_rate=rate, time_budget=budget, steps=10**6, checkpoint_every=0,
                    precision=precision)
    torch._dynamo.reset()  # each fit compiles afresh: one process fitting many models passes the recompile limit
    try:
        fitted = kind.fit(signal, network=network, train=train, progress=False)
    except ValueError as error:  # a problem this family cannot state (a derivative it does not have)
        return {"model": model, "rate": rate, "error": str(error)}
    metrics = fitted.metrics
    return {"model": model, "rate": rate, "parameters": metrics["parameters"], "steps": metrics["steps"],
            "seconds": metrics["seconds"], **{key: metrics[key] for key in kind.columns},
            "score": kind.score(metrics)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=("audio", "shape", "poisson"), required=True)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--signals", default=None, help="Comma-separated (default: the kind's).")
    parser.add_argument("--time", type=float, default=60.0, help="Seconds of fitting per signal.")
    parser.add_argument("--sweep-time", type=float, default=20.0)
    parser.add_argument("--siren-width", type=int, default=None, help="The budget: SIREN's parameters at this width.")
    parser.add_argument("--rate-of", default="", help="model=rate,...: these families' rates, not swept.")
    parser.add_argument("--no-sweep", action="store_true", help="Rates: the kind's times the image ratios.")
    parser.add_argument("--mesh-resolution", type=int, default=None, help="Shapes: meshing grid (default 256).")
    parser.add_argument("--metric-samples", type=int, default=None, help="Shapes: points per metric (default 200k).")
    parser.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="float32")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from sirenkit.engine.config import at_family_rate

    torch.manual_seed(0)
    print(f"machine: {machine()}, CPU capability {torch.backends.cpu.get_cpu_capability()}", flush=True)
    kind = kinds(args.mesh_resolution, args.metric_samples)[args.kind]
    models = [m for m in args.models.split(",") if m]
    names = args.signals.split(",") if args.signals else list(kind.signals)
    sweep_signal = kind.load(kind.sweep_signal)
    chosen = {model: float(rate) for model, rate in (item.split("=") for item in args.rate_of.split(",") if item)}
    sweep: list[dict] = []
    refused: dict[str, str] = {}
    for model in models:
        if model in chosen:
            print(f"{model}: rate {chosen[model]:.3g} (given)", flush=True)
            continue
        base = at_family_rate(kind.train(sweep_signal), model).learning_rate
        if args.no_sweep:
            chosen[model] = base
            print(f"{model}: rate {base:.3g} (the kind's rate times the image ratio, not swept)", flush=True)
            continue

        def score(rate: float, model: str = model) -> float | None:
            row = fit_one(kind, sweep_signal, model, rate=rate, budget=args.sweep_time, precision=args.precision,
                          siren_width=args.siren_width)
            if "error" in row:
                refused[model] = row["error"]
                return None
            sweep.append(row)
            return row["score"]

        best, scores = best_rate(score, (base / 3, base, base * 3), extensions=EXTENSIONS)
        if best is None:
            print(f"{model}: cannot ({refused[model]})", flush=True)
            continue
        chosen[model] = best
        print(f"{model}: rate {chosen[model]:.3g} ({', '.join(f'{r:.3g}: {s:.4g}' for r, s in scores.items())} "
              f"on {kind.sweep_signal} in {args.sweep_time:g} s)", flush=True)
    columns = " | ".join(kind.columns)
    print(f"\n| signal | model | parameters | rate | steps | {columns} |  ({args.time:g} s, {args.precision})")
    print("|---|---|---|---|---|" + "---|" * len(kind.columns), flush=True)
    rows = []
    for name in names:
        signal = kind.load(name)
        for model in models:
            if model in refused:
                print(f"| {Path(name).stem} | {model} | cannot: {refused[model]} |", flush=True)
                continue
            row = fit_one(kind, signal, model, rate=chosen[model], budget=args.time, precision=args.precision,
                          siren_width=args.siren_width)
            row["signal"] = Path(name).stem
            rows.append(row)
            if "error" in row:
                print(f"| {row['signal']} | {model} | cannot: {row['error']} |", flush=True)
                continue
            values = " | ".join(f"{row[key]:.4g}" for key in kind.columns)
            print(f"| {row['signal']} | {model} | {row['parameters']:,} | {row['rate']:.3g} | {row['steps']} | "
                  f"{values} |", flush=True)
    print(f"\nmean over {len(names)} signals:")
    print(f"| model | {columns} |")
    print("|---|" + "---|" * len(kind.columns))
    for model in chosen:
        mine = [row for row in rows if row["model"] == model and "error" not in row]
        if mine:
            print(f"| {model} | " + " | ".join(f"{np.mean([row[key] for row in mine]):.4g}" for key in kind.columns)
                  + " |")
    if args.json:
        from sirenkit.io import write_json

        write_json(args.json, {"machine": machine(), "capability": torch.backends.cpu.get_cpu_capability(),
                               "kind": args.kind, "time": args.time, "sweep_time": args.sweep_time,
                               "siren_width": args.siren_width, "mesh_resolution": args.mesh_resolution,
                               "metric_samples": args.metric_samples,
                               "precision": args.precision, "chosen_rates": chosen, "refused": refused,
                               "sweep": sweep, "rows": rows}, default=str)


if __name__ == "__main__":
    main()
