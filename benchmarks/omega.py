"""``--omega auto`` against a grid search: for each photo, the image recipe is fitted under ``--time``
seconds at each first-layer ω0 of the grid {10, 15, 20, 30, 45, 60, 90} (the default 30 times
:data:`sirenkit.frequency.RATIOS`), and the value ``--omega auto`` picks (from the spectra of
untrained networks, before any fitting) is compared with the best of the grid. The choice has
no setting tuned on any photo; all photos here are checks.

    python benchmarks/omega.py [--photos camera,chelsea,rocket] [--size 256] [--time 57] [--model siren]
        [--precision float32] [--json out.json]

A float32-only machine runs float32 about 1.5× slower than an AVX-512 Xeon: 57 s here stands for
the 85 s an image fit is given there.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine  # noqa: E402

PHOTOS = ("camera", "chelsea", "rocket")


def main() -> None:
    from sirenkit.families import get_family
    from sirenkit.frequency import choose_frequency, with_frequency
    from sirenkit.image import coordinate_grid, load_image
    from sirenkit.tasks.image import fit_image, image_network, image_train_config

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default=",".join(PHOTOS))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--time", type=float, default=57.0)
    parser.add_argument("--model", default="siren")
    parser.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="float32")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    print(f"machine: {machine()}, CPU capability {torch.backends.cpu.get_cpu_capability()}", flush=True)
    setting = get_family(args.model).frequency
    assert setting is not None, f"{args.model} has no frequency"
    rows = []
    print(f"\n| photo | --omega auto | its PSNR (dB) | grid's best | best PSNR (dB) | gap (dB) "
          f"| grid: {setting} → PSNR |")
    print("|---|---|---|---|---|---|---|", flush=True)
    for photo in [p for p in args.photos.split(",") if p]:
        signal = load_image(photo, size=args.size)
        network = image_network(signal, args.model)
        choice = choose_frequency(network, signal.pixels, coordinate_grid(signal.shape))
        train = replace(image_train_config(signal, precision=args.precision), time_budget=args.time, steps=10**6,
                        checkpoint_every=0)
        scores = {}
        for value in choice.distances:
            fitted = fit_image(signal, network=with_frequency(network, value), train=train, progress=False)
            scores[value] = fitted.metrics["psnr"]
        best = max(scores, key=lambda value: scores[value])
        row = {"photo": Path(photo).stem, "auto": choice.value, "auto_psnr": scores[choice.value], "best": best,
               "best_psnr": scores[best], "gap": scores[best] - scores[choice.value], "scores": scores,
               "distances": choice.distances, "choice_seconds": choice.seconds}
        rows.append(row)
        grid = ", ".join(f"{value:g}: {psnr:.2f}" for value, psnr in scores.items())
        print(f"| {row['photo']} | {choice.value:g} | {row['auto_psnr']:.2f} | {best:g} | {row['best_psnr']:.2f} | "
              f"{row['gap']:.2f} | {grid} |", flush=True)
    mean_gap = sum(row["gap"] for row in rows) / len(rows)
    print(f"\nmean gap {mean_gap:.2f} dB, largest {max(row['gap'] for row in rows):.2f} dB "
          f"(goal: within 0.5 dB on average, never more than 2 dB)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "capability": torch.backends.cpu.get_cpu_capability(),
                                         "size": args.size, "time": args.time, "model": args.model,
                                         "precision": args.precision, "rows": rows}, indent=2, default=str))


if __name__ == "__main__":
    main()
