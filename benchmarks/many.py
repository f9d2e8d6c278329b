"""Many images at once: the batched engine (sirenkit.engine.stacked.fit_batched) against fitting them one
after another with the ordinary loop, the same steps, the same per-signal results.

``--count`` grey photos (scikit-image's that ship with it, cycled, cropped square and resized to ``--size``) are
fitted for ``--steps`` steps by each network of ``--networks``: ``small`` (10 hidden layers of
28, about 7k parameters: the size used for compression) and ``paper`` (256 × 4, 198k). The table
gives signals × steps per second both ways, the ratio, and how far the batched fits' PSNR is from
the one-at-a-time fits' (equal to rounding when neither is compiled; a compiled step rounds
differently, and over hundreds of Adam steps the fits drift apart as two seeds would), and what
``sirenkit fit image FOLDER`` decides for such a group: it times a few eager steps both ways first
(:func:`sirenkit.engine.folders.batching_pays`) and batches only where that is faster.

    python benchmarks/many.py [--count 24] [--size 128|WxH] [--steps 300] [--networks small,paper]
        [--precision float32] [--device auto] [--compile auto|on|off] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine  # noqa: E402

NETWORKS = {"small": {"hidden_features": 28, "hidden_layers": 10},
            "paper": {"hidden_features": 256, "hidden_layers": 4}}


def grey_photos(count: int, size: int | tuple[int, int]):
    """``count`` grey photos of ``size``² or ``(width, height)`` (scikit-image's, cycled when more are
    asked for; cropped about the middle to the shape's aspect)."""
    import skimage.data
    from skimage.color import rgb2gray, rgba2rgb
    from skimage.transform import resize

    from sirenkit.signals.image.data import ImageSignal

    signals = []
    from sirenkit.signals.image.data import BUNDLED_IMAGES  # scikit-image's photos that ship with it: no download

    for index in range(count):
        name = BUNDLED_IMAGES[index % len(BUNDLED_IMAGES)]
        picture = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)
        if picture.max() > 1:
            picture = picture / (65535.0 if picture.max() > 255 else 255.0)
        if picture.ndim == 3 and picture.shape[-1] == 4:
            picture = rgba2rgb(picture)
        if picture.ndim == 3:
            picture = rgb2gray(picture)
        width, height = (size, size) if isinstance(size, int) else size
        rows = min(picture.shape[0], round(picture.shape[1] * height / width))
        columns = min(picture.shape[1], round(rows * width / height))
        top, left = (picture.shape[0] - rows) // 2, (picture.shape[1] - columns) // 2
        shaped = resize(picture[top:top + rows, left:left + columns], (height, width), anti_aliasing=True)
        signals.append(ImageSignal(pixels=shaped[..., None].astype(np.float32), name=f"{name}-{index}", mode="L"))
    return signals


def main() -> None:
    from sirenkit.engine.folders import batching_pays
    from sirenkit.engine.policy import resolve_device
    from sirenkit.engine.single import fit
    from sirenkit.engine.stacked import fit_batched
    from sirenkit.metrics import psnr
    from sirenkit.networks.build import build_network, count_parameters
    from sirenkit.signals.image.kind import ImageKind

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--size", default="128", help="Side of square photos, or WxH (768x512: Kodak's).")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--networks", default="small,paper")
    parser.add_argument("--precision", choices=("float32", "bfloat16", "auto"), default="float32")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", choices=("auto", "on", "off"), default="auto",
                        help="torch.compile for both ways (auto: as a fit decides, by the points per step)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    device = resolve_device(args.device)
    size = tuple(int(n) for n in args.size.split("x")) if "x" in args.size else int(args.size)
    signals = grey_photos(args.count, size)
    print(f"machine: {machine()}, CPU capability {torch.backends.cpu.get_cpu_capability()}; {args.count} grey photos "
          f"of {args.size if 'x' in args.size else args.size + '²'}, {args.steps} steps, {args.precision}", flush=True)
    print("\n| network | parameters | one after another (signal-steps/s) | batched (signal-steps/s) | ratio | "
          "PSNR one by one (mean) | batched − one by one: mean, largest | `fit image FOLDER` chooses |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    rows = []
    for name in [n for n in args.networks.split(",") if n]:
        kinds = [ImageKind.describe(signal) for signal in signals]
        network = kinds[0].network("siren", **NETWORKS[name])
        train = replace(kinds[0].train_config(precision=args.precision, device=str(device)), steps=args.steps,
                        time_budget=None, stall_check=0, checkpoint_every=0, log_every=args.steps,
                        compile={"auto": "auto", "on": True, "off": False}[args.compile])

        def problems(train=train, kinds=kinds):
            return [kind.problem(signal, batch_size=train.batch_size, device=device)
                    for kind, signal in zip(kinds, signals)]

        def score(model, kind, signal) -> float:
            with torch.no_grad():
                return psnr(kind.render(model), signal.pixels)

        started = time.perf_counter()
        alone = []
        for kind, signal, problem in zip(kinds, signals, problems()):
            model = build_network(network, seed=train.seed).to(device)
            compiled_alone = fit(model, problem, train, network_config=network, progress=False).compiled
            alone.append(score(model, kind, signal))
        sequential = time.perf_counter() - started
        models = [build_network(network, seed=train.seed).to(device) for _ in signals]
        started = time.perf_counter()
        ends = fit_batched(models, problems(), train, progress=False)
        batched = time.perf_counter() - started
        compiled_batched = all(getattr(end, "compiled", False) for end in ends)
        together = [score(model, kind, signal) for model, kind, signal in zip(models, kinds, signals)]
        started = time.perf_counter()  # what `fit image FOLDER` decides for this group (it measures)
        pays = batching_pays([build_network(network, seed=train.seed).to(device) for _ in signals], problems(), train)
        probe = time.perf_counter() - started
        work = args.count * args.steps
        row = {"network": name, "parameters": count_parameters(models[0]), "sequential_seconds": sequential,
               "batched_seconds": batched, "ratio": sequential / batched, "psnr_alone": float(np.mean(alone)),
               "mean_psnr_difference": float(np.mean(np.subtract(together, alone))),
               "largest_psnr_difference": float(np.max(np.abs(np.subtract(together, alone)))),
               "compiled_alone": compiled_alone, "compiled_batched": compiled_batched,
               "folder_fit_batches": pays, "probe_seconds": probe}
        rows.append(row)
        how = {True: "compiled", False: "eager"}
        print(f"| {name} | {row['parameters']:,} | {work / sequential:.0f} ({how[compiled_alone]}) | "
              f"{work / batched:.0f} ({how[compiled_batched]}) | "
              f"**{row['ratio']:.2f}×** | {row['psnr_alone']:.2f} dB | "
              f"{row['mean_psnr_difference']:+.3f} dB, {row['largest_psnr_difference']:.3f} dB | "
              f"{'batched' if pays else 'one after another'} (probe {probe:.1f} s) |",
              flush=True)
    if args.json:
        from sirenkit.io import write_json

        write_json(args.json, {"machine": machine(), "capability": torch.backends.cpu.get_cpu_capability(),
                               "count": args.count, "size": args.size, "steps": args.steps,
                               "precision": args.precision, "rows": rows})


if __name__ == "__main__":
    main()
