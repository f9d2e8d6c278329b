"""SIREN against ReLU with positional encoding

The same photo fitted by a SIREN and by the ReLU network with positional encoding that came before
it, with the same number of parameters and the same fitting time. Beyond the PSNR, compare the
derivatives: a ReLU network is piecewise linear in its encoded inputs, so its Laplacian comes only
from the encoding's sinusoids, while a SIREN's derivatives are themselves smooth sinusoidal networks.
"""

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import sirenkit as sk

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path("runs/gallery") / Path(__file__).stem, help="output folder")
parser.add_argument("--tiny", action="store_true", help="tiny sizes and steps: a check that runs in seconds")
args = parser.parse_args()

size = 32 if args.tiny else 256
signal = sk.load_image("camera", size=size)  # (H, W, 1) in [0, 1]
train = dataclasses.replace(sk.image_train_config(signal), time_budget=28.0, log_every=100)  # for each network
if args.tiny:
    train = dataclasses.replace(train, steps=5, time_budget=None)
fits = sk.compare_models(signal, models=("siren", "relu-pe"), train=train)



def maps(value, gradient, laplacian):
    """A row's three panels: `(H, W)` value, gradient norm and Laplacian of the first channel."""
    return value[..., 0], np.linalg.norm(gradient[:, :, 0], axis=-1), laplacian[..., 0]


spacing = 2.0 / (max(signal.shape) - 1)  # pixel spacing in coordinates: the longer side spans [-1, 1]
rows = [("the photo (finite differences)",
         *maps(signal.pixels, sk.image_gradient(signal.pixels, spacing), sk.image_laplacian(signal.pixels, spacing)))]
for fitted, name in zip(fits, ["SIREN", "ReLU + positional encoding"]):
    title = (f"{name}: {fitted.metrics['psnr']:.1f} dB, {fitted.metrics['parameters']:,} parameters, "
             f"{fitted.metrics['steps']} steps")
    rows.append((title, *maps(fitted.render(), fitted.render(what="gradient"), fitted.render(what="laplacian"))))

figure = Figure(figsize=(10, 10.4), layout="constrained")
subfigures = figure.subfigures(3, 1)
gradient_limit = np.percentile(rows[0][2], 99)
laplacian_limit = np.percentile(np.abs(rows[0][3]), 99)
for subfigure, (title, image, gradient, laplacian) in zip(subfigures, rows):
    axes = subfigure.subplots(1, 3)
    axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes[1].imshow(gradient, cmap="viridis", vmin=0, vmax=gradient_limit)
    axes[2].imshow(laplacian, cmap="RdBu_r", vmin=-laplacian_limit, vmax=laplacian_limit)
    for ax, name in zip(axes, ["value", "gradient norm", "Laplacian"]):
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    subfigure.suptitle(title)
args.out.mkdir(parents=True, exist_ok=True)
figure.savefig(args.out / "figure.png", dpi=110)
print(f"{args.out / 'figure.png'}: " + ", ".join(f"{fitted.network.model} {fitted.metrics['psnr']:.2f} dB"
                                                   for fitted in fits))
