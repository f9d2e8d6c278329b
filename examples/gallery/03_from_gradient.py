"""An image rebuilt from its gradient alone

The network never sees a pixel value: it is fitted so that its own gradient matches the photo's
gradient field, and the image comes back as the network's value. A gradient leaves each channel's
brightness free, so the reconstruction is shifted to the photo's mean before it is compared; the last
panel shows what is left, magnified ten times.
"""

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import sirenkit as sk

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path("runs/gallery") / Path(__file__).stem, help="output folder")
parser.add_argument("--tiny", action="store_true", help="tiny sizes and steps: a check that runs in seconds")
args = parser.parse_args()

size = 32 if args.tiny else 192
signal = sk.load_image("chelsea", size=size)  # (H, W, 3) in [0, 1]
# the reconstruction recipe (Adam at 2e-4, 4,096 pixels and line integrals per step), cut to 55 s
train = sk.TrainConfig(steps=5 if args.tiny else 6000, time_budget=None if args.tiny else 55.0,
                       learning_rate=2e-4, batch_size=4096, log_every=200)
fitted = sk.fit_poisson(signal, "gradient", train=train)
rebuilt = fitted.products["reconstruction"]  # (H, W, 3), aligned to the photo's mean and clipped

spacing = 2.0 / (max(signal.shape) - 1)  # pixel spacing in coordinates: the longer side spans [-1, 1]
gradient = sk.image_gradient(signal.pixels, spacing)  # (H, W, 3, 2): what the network is fitted to
magnitude = np.linalg.norm(gradient, axis=-1).mean(axis=-1)
error = np.abs(rebuilt - signal.pixels).mean(axis=-1)

figure = Figure(figsize=(13, 3.4), layout="constrained")
axes = figure.subplots(1, 4)
axes[0].imshow(signal.pixels)
axes[0].set_title("the photo (never seen)")
axes[1].imshow(magnitude, cmap="magma", vmax=np.percentile(magnitude, 99))
axes[1].set_title("what it is fitted to: |∇I|")
axes[2].imshow(rebuilt)
axes[2].set_title(f"rebuilt from the gradient ({fitted.metrics['psnr']:.1f} dB)")
shown = axes[3].imshow(10 * error, cmap="gray", vmin=0, vmax=1)
axes[3].set_title("|error| × 10")
figure.colorbar(shown, ax=axes[3], shrink=0.8)
for ax in axes:
    ax.set_axis_off()
args.out.mkdir(parents=True, exist_ok=True)
figure.savefig(args.out / "figure.png", dpi=110)
print(f"{args.out / 'figure.png'}: PSNR {fitted.metrics['psnr']:.2f} dB after {fitted.metrics['steps']} steps")
