"""Which network? SIREN against its successors and the grids, at one parameter budget.

Every family (``--models``) is sized to the parameter count of SIREN's image network of width
``--siren-width`` (256: the paper's 198k parameters; 80: about 20k) by its own rule (the hidden
width; a hash grid's table size; a dense grid's nodes) and fitted with sirenkit's image recipe,
the learning rate excepted: each family's rate is chosen by a small sweep (``--rates``, each for
``--sweep-time`` seconds, or ``--sweep-steps`` steps, on the ``--sweep-photos``, which should not
be among the evaluated ones;
a best rate at an end of the list is followed past it, up to three times ×3 or ÷3).
Then each family fits each photo under ``--time`` seconds (or ``--steps`` steps) and is measured:
PSNR and SSIM of the image, and the PSNR of its gradient and its Laplacian (from the network)
against finite differences of the photo (central differences, the 5-point stencil), with the
reference field's range as peak; each photo's table starts with what a zero field scores, the
floor those two must beat to mean anything. A family whose second derivatives are zero almost
everywhere shows what that costs here.

    python benchmarks/zoo.py [--photos camera,astronaut,...] [--models siren,finer,...] [--size 256]
        [--siren-width 256] [--time 60 | --steps N] [--rates 1e-4,3e-4,1e-3,3e-3] [--sweep-photos coffee]
        [--sweep-time 20 | --sweep-steps N] [--rate-of siren=1e-3,grid=0.081] [--precision float32] [--json out.json]
        [--figure zoo.png] [--log-every N]
    python benchmarks/zoo.py --merge run1.json run2.json ... [--json all.json]   # one table from several runs

``--rate-of`` gives families their rate (an earlier sweep's, from its JSON) and skips their sweep;
A model written ``siren@auto`` has its frequency chosen per photo as ``fit image`` does by
default (``--omega auto``; the other families keep their authors' values). ``--setting
wire_scale=30`` changes a family setting of the families that have it (the others keep
theirs), as a user's option would.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine  # noqa: E402

PHOTOS = ("camera", "astronaut", "chelsea", "brick", "grass", "rocket", "text", "immunohistochemistry", "coins",
          "../shared/data/yorkshire_terrier.jpg")
"""Ten public photos: scikit-image's that ship with it (grey and colour, smooth and textured) and
the terrier."""
SWEEP_PHOTOS = ("coffee",)
"""Where each family's learning rate is chosen: not among the evaluated photos."""
MODELS = ("siren", "finer", "wire", "gauss", "hash-grid", "grid")
EXTENSIONS = 3
"""Rates tried past the end of ``--rates`` (×3 or ÷3 each) while the best is at an end."""


def best_rate(score: Callable[[float], float | None], rates: Sequence[float], *,
              extensions: int = EXTENSIONS) -> tuple[float | None, dict[float, float]]:
    """A learning-rate sweep: ``score(rate)`` (higher is better; ``None``: the family cannot fit this
    at all) for each of ``rates``, then, while the best sits at an end of the rates tried, one more
    past it (×3 or ÷3), at most ``extensions`` times: a best at the edge of a sweep is not a choice.
    Returns the best rate (``None`` once ``score`` says it cannot) and every score."""
    scores: dict[float, float] = {}
    tried = list(rates)
    for extension in range(extensions + 1):
        for rate in tried:
            value = score(rate)
            if value is None:
                return None, scores
            scores[rate] = value
        best = max(scores, key=lambda rate: scores[rate])
        if extension == extensions or best not in (max(scores), min(scores)):
            break
        tried = [best * 3 if best == max(scores) else best / 3]
    return max(scores, key=lambda rate: scores[rate]), scores


def field_psnr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """PSNR of a derivative field, the reference's range as peak."""
    from sirenkit.metrics import psnr

    peak = float(reference.max() - reference.min())
    return psnr(estimate, reference, peak=peak)


SETTINGS: dict[str, float] = {}
"""``--setting`` values: family settings changed where a family has them."""


def family_settings(model: str) -> dict[str, float]:
    """The ``--setting`` values that belong to ``model``'s family (its own settings or frequency)."""
    from sirenkit.networks.registry import get_family

    family = get_family(model)
    return {name: value for name, value in SETTINGS.items() if name in family.settings or name == family.frequency}


def sized_network(kind, model: str, siren_width: int):
    """``model``'s network for this image (its family's defaults) at SIREN's parameter count."""
    from sirenkit.networks.build import network_for_budget, parameter_count

    reference = kind.network("siren", hidden_features=siren_width)
    if model == "siren":
        return replace(reference, **family_settings(model))
    return network_for_budget(kind.network(model, **family_settings(model)), parameter_count(reference))


def fit(photo: str, model: str, *, size: int, siren_width: int, rate: float, budget: float | None,
        steps: int | None, precision: str, measure_derivatives: bool = True, log_every: int | None = None) -> dict:
    from sirenkit.signals.image.data import grid_spacing, image_gradient, image_laplacian, load_image
    from sirenkit.signals.image.fit import fit_image, image_train_config
    from sirenkit.signals.image.kind import ImageKind

    signal = load_image(photo, size=size)
    kind = ImageKind.describe(signal)
    family, _, option = model.partition("@")  # siren@auto: its frequency chosen per photo (--omega auto)
    network = sized_network(kind, family, siren_width)
    train = replace(image_train_config(signal, precision=precision), learning_rate=rate, checkpoint_every=0,
                    time_budget=budget, steps=steps or 10**6)
    if log_every:  # the history's full-image evaluations (the recipe spaces them by the image's size)
        train = replace(train, log_every=log_every)
    torch._dynamo.reset()  # each fit compiles afresh: one process fitting many models passes the recompile limit
    fitted = fit_image(signal, network=network, train=train, progress=False,
                       frequency="auto" if option == "auto" else None)
    metrics = fitted.metrics
    row = {"photo": Path(photo).stem, "model": model, "parameters": metrics["parameters"], "rate": rate,
           "frequency": metrics.get("frequency_choice", {}).get("value"),
           "steps": metrics["steps"], "seconds": metrics["seconds"], "psnr": metrics["psnr"], "ssim": metrics["ssim"],
           "history": [(entry["step"], entry.get("seconds"), entry["psnr"]) for entry in fitted.history]}
    if measure_derivatives:
        spacing = grid_spacing(signal.shape)
        row["gradient_psnr"] = field_psnr(kind.render(fitted.model, what="gradient"),
                                          image_gradient(signal.pixels, spacing))
        row["laplacian_psnr"] = field_psnr(kind.render(fitted.model, what="laplacian"),
                                           image_laplacian(signal.pixels, spacing))
    return row


def zero_fields(photo: str, size: int) -> dict:
    """What predicting zero derivatives scores: the floor a derivative PSNR must beat to mean
    anything (a noisy Laplacian's range is wide, so zero already scores well above 0 dB)."""
    from sirenkit.signals.image.data import grid_spacing, image_gradient, image_laplacian, load_image

    signal = load_image(photo, size=size)
    spacing = grid_spacing(signal.shape)
    gradient, laplacian = image_gradient(signal.pixels, spacing), image_laplacian(signal.pixels, spacing)
    return {"photo": Path(photo).stem, "gradient_psnr": field_psnr(np.zeros_like(gradient), gradient),
            "laplacian_psnr": field_psnr(np.zeros_like(laplacian), laplacian)}


def figure(rows: list[dict], photo: str, path: Path, settings: dict) -> None:
    """PSNR against seconds of fitting of every family on ``photo``; the title says the photo's size,
    the parameter budget and each fit's budget (from the run's ``settings``: its JSON's header)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        if row["photo"] != photo:
            continue
        points = [(seconds, value) for _, seconds, value in row["history"] if seconds is not None]
        if points:
            ax.plot(*zip(*points), label=f"{row['model']} ({row['psnr']:.1f} dB)")
    ax.set_xlabel("seconds of fitting")
    ax.set_ylabel("PSNR (dB)")
    size, steps, seconds = settings.get("size"), settings.get("steps"), settings.get("time")
    parameters = next((row["parameters"] for row in rows if row["photo"] == photo and row["model"].startswith("siren")),
                      None)
    budget = f"{steps:,} steps each" if steps else f"{seconds:g} s of fitting each"
    ax.set_title(f"{photo} {size}×{size}: every family at ~{parameters or 0:,} parameters, {budget}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary(rows: list[dict], models: Sequence[str]) -> dict[str, dict[str, float]]:
    """Print each photo's PSNR per family and each family's means over the photos; return the means."""
    photos = list(dict.fromkeys(row["photo"] for row in rows))
    psnr = {(row["photo"], row["model"]): row["psnr"] for row in rows}
    print(f"\nPSNR (dB) per photo, {len(photos)} photos:")
    print("| photo | " + " | ".join(models) + " |")
    print("|---|" + "---|" * len(models))
    for photo in photos:
        cells = (f"{psnr[photo, m]:.2f}" if (photo, m) in psnr else "—" for m in models)
        print(f"| {photo} | " + " | ".join(cells) + " |")
    print(f"\nmean over {len(photos)} photos:")
    print("| model | PSNR (dB) | SSIM | gradient PSNR | Laplacian PSNR | against SIREN (PSNR) | best on |")
    print("|---|---|---|---|---|---|---|")
    means: dict[str, dict[str, float]] = {}
    for model in models:
        mine = [row for row in rows if row["model"] == model]
        means[model] = {key: float(np.mean([row[key] for row in mine]))
                        for key in ("psnr", "ssim", "gradient_psnr", "laplacian_psnr")}
    winners = [max(models, key=lambda m: psnr.get((photo, m), -math.inf)) for photo in photos]
    reference = next((model for model in models if model.partition("@")[0] == "siren"), None)
    for model, mean in means.items():
        against = mean["psnr"] - means[reference]["psnr"] if reference in means else float("nan")
        print(f"| {model} | {mean['psnr']:.2f} | {mean['ssim']:.3f} | {mean['gradient_psnr']:.2f} | "
              f"{mean['laplacian_psnr']:.2f} | {against:+.2f} dB | {winners.count(model)} photos |")
    return means


MUST_AGREE = ("size", "siren_width", "time", "steps", "precision", "settings")


def merge(paths: Sequence[Path], out: Path | None = None) -> None:
    """The tables of several runs' JSONs as one (a later file's row for a photo and family replaces
    an earlier one's: a rerun after a fix), e.g. a table extended by more photos at the same rates;
    with ``out``, written there as one run's JSON that names its sources. Runs whose options differ
    (size, budget, precision, ...) are refused, and so is a family left with rows at two rates:
    their rows would not be one table. A family rerun at another rate on every photo is one."""
    rows: dict[tuple[str, str], dict] = {}
    zeros: dict[str, dict] = {}
    sweeps: list[dict] = []
    first: dict | None = None
    for path in paths:
        data = json.loads(path.read_text())
        print(f"{path.name}: {data['machine']}, {data['size']} px, {data['time']} s, rates {data['rates']}")
        first = first or data
        differing = [key for key in MUST_AGREE if data.get(key) != first.get(key)]
        if differing:
            sys.exit(f"zoo.py: {path}: its {', '.join(differing)} differ from {paths[0]}'s; not one table")
        rows.update({(row["photo"], row["model"]): row for row in data["rows"]})
        zeros.update({zero["photo"]: zero for zero in data.get("zero_fields", [])})
        sweeps += data.get("sweep") or []
    models = list(dict.fromkeys(model for _, model in rows))
    rates = {model: sorted({row["rate"] for row in rows.values() if row["model"] == model}) for model in models}
    mixed = {model: found for model, found in rates.items() if len(found) > 1}
    if mixed:
        sys.exit(f"zoo.py: rows at several rates: {mixed}; rerun those families on every photo")
    means = summary(list(rows.values()), models)
    if zeros:
        print_zero_means(list(zeros.values()))
    if out is not None and first is not None:
        from sirenkit.io import write_json

        write_json(out, {**first, "rates": {model: found[0] for model, found in rates.items()},
                         "rows": list(rows.values()), "zero_fields": list(zeros.values()), "means": means,
                         "complete": True, "sweep": sweeps, "merged_from": [path.name for path in paths]})
        print(out)


def print_zero_means(zeros: list[dict]) -> None:
    print(f"\n(a zero field, the mean over {len(zeros)} photos: gradient "
          f"{np.mean([z['gradient_psnr'] for z in zeros]):.2f} dB, Laplacian "
          f"{np.mean([z['laplacian_psnr'] for z in zeros]):.2f} dB)")


def draw(paths: list[Path], photo: str, out: Path) -> None:
    """Redraw a run's figure from its results files; a later file's row replaces an earlier one's
    of the same photo and family (a rerun after a fix)."""
    results = [json.loads(path.read_text()) for path in paths]
    rows = {(row["photo"], row["model"]): row for result in results for row in result["rows"]}
    figure(list(rows.values()), photo, out, results[0])
    print(out)


def main() -> None:
    if sys.argv[1:2] == ["--draw"]:
        drawing = argparse.ArgumentParser(prog="zoo.py --draw")
        drawing.add_argument("runs", nargs="+", type=Path, help="Results files, later ones replacing rows.")
        drawing.add_argument("--photo", default="camera")
        drawing.add_argument("--figure", type=Path, required=True)
        drawn = drawing.parse_args(sys.argv[2:])
        draw(drawn.runs, drawn.photo, drawn.figure)
        return
    if sys.argv[1:2] == ["--merge"]:
        merging = argparse.ArgumentParser(prog="zoo.py --merge")
        merging.add_argument("runs", nargs="+", type=Path)
        merging.add_argument("--json", type=Path, default=None, help="Write the merged table here.")
        merged = merging.parse_args(sys.argv[2:])
        merge(merged.runs, merged.json)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default=",".join(PHOTOS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--siren-width", type=int, default=256, help="256: 198k parameters; 80: about 20k.")
    parser.add_argument("--time", type=float, default=60.0, help="Seconds of fitting per photo (0: no limit).")
    parser.add_argument("--steps", type=int, default=None, help="A fixed number of steps instead of, or with, --time.")
    parser.add_argument("--rates", default="1e-4,3e-4,1e-3,3e-3", help="The learning rates swept per family.")
    parser.add_argument("--sweep-photos", default=",".join(SWEEP_PHOTOS))
    parser.add_argument("--sweep-time", type=float, default=20.0)
    parser.add_argument("--sweep-steps", type=int, default=None,
                        help="Sweep at this many steps instead of --sweep-time: the rate for a fixed-step table "
                             "(a family whose steps are cheap runs far more of them in a timed sweep).")
    parser.add_argument("--rate-of", default="", help="model=rate,...: these families' rates, not swept.")
    parser.add_argument("--setting", action="append", default=[], help="name=value, e.g. wire_scale=30.")
    parser.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="float32")
    parser.add_argument("--log-every", type=int, default=None,
                        help="Steps between the history's full-image PSNRs (left out: the image recipe's, "
                             "25 up to 256 px, less often above: 100 at 512 px in float32).")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--figure", type=Path, default=None, help="PSNR against seconds on the first photo.")
    args = parser.parse_args()

    SETTINGS.update({name: float(value) for name, value in (item.split("=") for item in args.setting)})
    torch.manual_seed(0)
    print(f"machine: {machine()}, CPU capability {torch.backends.cpu.get_cpu_capability()}", flush=True)
    models = [m for m in args.models.split(",") if m]
    photos = [p for p in args.photos.split(",") if p]
    rates = [float(r) for r in args.rates.split(",") if r]
    budget = args.time or None
    chosen = {model: float(rate) for model, rate in (item.split("=") for item in args.rate_of.split(",") if item)}
    sweep: list[dict] = []
    sweep_budget = f"{args.sweep_steps} steps" if args.sweep_steps else f"{args.sweep_time:g} s"
    for model in models:
        if model in chosen:
            print(f"{model}: rate {chosen[model]:g} (given)", flush=True)
            continue
        def score(rate: float, model: str = model) -> float:
            values = [fit(photo, model, size=args.size, siren_width=args.siren_width, rate=rate,
                          budget=None if args.sweep_steps else args.sweep_time, steps=args.sweep_steps,
                          precision=args.precision, measure_derivatives=False)
                      for photo in args.sweep_photos.split(",") if photo]
            psnr = float(np.mean([v["psnr"] for v in values]))
            sweep.append({"model": model, "rate": rate, "psnr": psnr})
            return psnr

        best, scores = best_rate(score, rates)
        assert best is not None  # every image family fits an image
        chosen[model] = best
        print(f"{model}: rate {chosen[model]:g} ({', '.join(f'{r:g}: {p:.2f}' for r, p in scores.items())} dB "
              f"on {args.sweep_photos} in {sweep_budget})", flush=True)
    limit = f"{args.time:g} s" if budget else f"{args.steps} steps"
    print(f"\n| photo | model | parameters | rate | steps | PSNR (dB) | SSIM | gradient PSNR | Laplacian PSNR |"
          f"  ({limit}, {args.size} px)")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    rows: list[dict] = []
    zeros: list[dict] = []

    def save(means: dict | None = None) -> None:
        """The JSON so far (after every fit: an interrupted run keeps the fits it finished)."""
        if args.json:
            from sirenkit.io import write_json

            args.json.parent.mkdir(parents=True, exist_ok=True)
            write_json(args.json, {"machine": machine(), "capability": torch.backends.cpu.get_cpu_capability(),
                                   "size": args.size, "siren_width": args.siren_width, "time": args.time,
                                   "steps": args.steps, "precision": args.precision, "rates": chosen,
                                   "settings": SETTINGS, "sweep": sweep, "sweep_budget": sweep_budget, "rows": rows,
                                   "zero_fields": zeros, "means": means,
                                   "complete": means is not None})

    started = time.perf_counter()
    for photo in photos:
        zero = zero_fields(photo, args.size)
        zeros.append(zero)
        print(f"| {zero['photo']} | (a zero field) | | | | | | {zero['gradient_psnr']:.2f} | "
              f"{zero['laplacian_psnr']:.2f} |", flush=True)
        for model in models:
            row = fit(photo, model, size=args.size, siren_width=args.siren_width, rate=chosen[model], budget=budget,
                      steps=args.steps, precision=args.precision, log_every=args.log_every)
            rows.append(row)
            save()
            print(f"| {row['photo']} | {model} | {row['parameters']:,} | {row['rate']:g} | {row['steps']} | "
                  f"{row['psnr']:.2f} | {row['ssim']:.3f} | {row['gradient_psnr']:.2f} | {row['laplacian_psnr']:.2f} |",
                  flush=True)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    means = summary(rows, models)
    print_zero_means(zeros)
    if args.figure:
        figure(rows, rows[0]["photo"], args.figure, {"size": args.size, "steps": args.steps, "time": args.time})
        print(args.figure)
    save(means)


if __name__ == "__main__":
    main()
