"""Zoom four times past the pixels

A SIREN fitted to a 256-pixel photo is a continuous function of the coordinates, so it can be
evaluated on a grid four times finer than the pixels it was fitted to. The crop shows the pixels,
bicubic interpolation of those same pixels, and the network at 4×. The network adds no detail the
pixels never held, but it has no grid of its own: it is an image at every resolution.
"""

import argparse
import dataclasses
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import sirenkit as sk

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path("runs/gallery") / Path(__file__).stem, help="output folder")
parser.add_argument("--tiny", action="store_true", help="tiny sizes and steps: a check that runs in seconds")
args = parser.parse_args()

size, zoom = (32, 4) if args.tiny else (256, 4)
signal = sk.load_image("astronaut", size=size)  # (H, W, 3) in [0, 1]
train = dataclasses.replace(sk.image_train_config(signal), time_budget=55.0, log_every=100)
if args.tiny:
    train = dataclasses.replace(train, steps=5, time_budget=None)
fitted = sk.fit_image(signal, train=train)
height, width = signal.shape
big = fitted.render(size=(zoom * width, zoom * height))  # (4H, 4W, 3): the network between the pixels

# a square crop of the astronaut's face, in pixels of the fitted image
crop = max(8, size // 6)
top, left = int(0.13 * height), int(0.38 * width)
pixels = signal.pixels[top : top + crop, left : left + crop]
network = big[zoom * top : zoom * (top + crop), zoom * left : zoom * (left + crop)]

figure = Figure(figsize=(13, 3.6), layout="constrained")
axes = figure.subplots(1, 4)
axes[0].imshow(signal.pixels)
axes[0].add_patch(Rectangle((left - 0.5, top - 0.5), crop, crop, fill=False, edgecolor="yellow", linewidth=1.5))
axes[0].set_title(f"the {width}×{height} photo fitted ({fitted.metrics['psnr']:.1f} dB)")
axes[1].imshow(pixels, interpolation="nearest")
axes[1].set_title(f"its pixels ({crop}×{crop} crop)")
axes[2].imshow(pixels, interpolation="bicubic")
axes[2].set_title("bicubic interpolation")
axes[3].imshow(network, interpolation="nearest")
axes[3].set_title(f"the network at {zoom}× ({zoom * crop}×{zoom * crop})")
for ax in axes:
    ax.set_axis_off()
args.out.mkdir(parents=True, exist_ok=True)
figure.savefig(args.out / "figure.png", dpi=110)
print(f"{args.out / 'figure.png'}: PSNR {fitted.metrics['psnr']:.2f} dB after {fitted.metrics['steps']} steps")
