"""Gradient and Laplacian from the network

A SIREN's derivatives are themselves networks of sines, so the gradient and the Laplacian of a
fitted photo come from the network in closed form, at any point, with no grid. The network is fitted
to the pixel values only; its derivatives are set here against finite differences of the photo: top
row finite differences, middle row the network, bottom panel part of one row of the Laplacian.
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
train = dataclasses.replace(sk.image_train_config(signal), time_budget=55.0, log_every=100)
if args.tiny:
    train = dataclasses.replace(train, steps=5, time_budget=None)
fitted = sk.fit_image(signal, train=train)

spacing = 2.0 / (max(signal.shape) - 1)  # pixel spacing in coordinates: the longer side spans [-1, 1]
truth = [signal.pixels[..., 0], np.linalg.norm(sk.image_gradient(signal.pixels, spacing)[:, :, 0], axis=-1),
         sk.image_laplacian(signal.pixels, spacing)[..., 0]]
network = [fitted.render()[..., 0], np.linalg.norm(fitted.render(what="gradient")[:, :, 0], axis=-1),
           fitted.render(what="laplacian")[..., 0]]

figure = Figure(figsize=(10, 10.5), layout="constrained")
grid = figure.add_gridspec(3, 3, height_ratios=[1, 1, 0.7])
limits = [(0, 1), (0, np.percentile(truth[1], 99)), np.array([-1, 1]) * np.percentile(np.abs(truth[2]), 99)]
colours = ["gray", "viridis", "RdBu_r"]
for column, name in enumerate(["image", "gradient norm |∇I|", "Laplacian ΔI"]):
    for row, (maps, source) in enumerate([(truth, "finite differences"), (network, "network")]):
        ax = figure.add_subplot(grid[row, column])
        ax.imshow(maps[column], cmap=colours[column], vmin=limits[column][0], vmax=limits[column][1])
        ax.set_title(f"{name}: {source}" if column else ("photo" if row == 0 else "network"))
        ax.set_axis_off()
line, columns = signal.shape[0] // 2, np.arange(signal.shape[1] // 4, signal.shape[1] // 2)  # across the coat
profile = figure.add_subplot(grid[2, :])
profile.plot(columns, truth[2][line, columns], color="0.6", linewidth=2.5, label="finite differences")
profile.plot(columns, network[2][line, columns], color="C3", linewidth=1, label="network")
profile.set(xlabel="column", ylabel="ΔI", xlim=(columns[0], columns[-1]),
            title=f"the Laplacian along row {line}, columns {columns[0]} to {columns[-1]}")
profile.legend()
args.out.mkdir(parents=True, exist_ok=True)
figure.savefig(args.out / "figure.png", dpi=110)
print(f"{args.out / 'figure.png'}: PSNR {fitted.metrics['psnr']:.2f} dB after {fitted.metrics['steps']} steps")
