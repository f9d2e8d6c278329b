"""The front page's picture: the terrier fitted by a SIREN and by the ReLU network of the same
size, each at a few steps and at the end, as the paper's project page shows it.

Each fit is an ordinary ``fit image`` run with ``--snapshots`` (its own ``progress.png``); the two
are stacked into one figure.

    python benchmarks/progress.py [--steps 5,50,300] [--size 256] [--out docs/progress-terrier.png]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import imageio.v3 as iio
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine  # noqa: E402

import sirenkit as sk  # noqa: E402
from sirenkit.figures import new_figure, save_figure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TERRIER = ROOT / ".." / "shared" / "data" / "yorkshire_terrier.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="5,50,300")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", default=str(ROOT / "docs" / "progress-terrier.png"))
    args = parser.parse_args()
    steps = tuple(int(step) for step in args.steps.split(","))
    print(f"# {machine()}, {torch.backends.cpu.get_cpu_capability()}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for model in ("siren", "relu"):
            train = sk.ImageKind.describe(sk.load_image(str(TERRIER), size=args.size)).train_config()
            train = dataclasses.replace(train, steps=max(steps), time_budget=None, snapshots=steps,
                                        checkpoint_every=0)
            fitted = sk.fit_image(str(TERRIER), size=args.size, model=model, train=train,
                                  out=Path(folder) / model, progress=False)
            print(f"{model}: PSNR {fitted.metrics['psnr']:.2f} dB after {fitted.metrics['steps']} steps, "
                  f"{fitted.metrics['seconds']:.1f} s")
            rows.append((model, iio.imread(Path(folder) / model / "progress.png")))
    figure, axes = new_figure(len(rows), 1, figsize=(12, 3.2 * len(rows)), squeeze=False)
    for ax, (model, picture) in zip(axes[:, 0], rows):
        ax.imshow(picture)
        ax.set_axis_off()
        ax.set_title({"siren": "SIREN (sine activations)", "relu": "ReLU network of the same size"}[model],
                     fontsize=11, loc="left")
    figure.tight_layout()
    save_figure(figure, args.out, dpi=130)
    print(args.out)


if __name__ == "__main__":
    main()
