"""Image inpainting: fit only the pixels that are known, render the whole image.

One constraint, `Φ(x) − I(x) = 0`, on the known pixels (a [`PointSet`][sirenkit.PointSet] masked with
[`where`][sirenkit.PointSet.where]); the network fills the rest because it is a continuous function.
The reference is classical biharmonic inpainting (scikit-image), scored the same way: PSNR on the
missing pixels only, against the original.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from sirenkit.engine.config import TrainConfig
from sirenkit.metrics import psnr
from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.evaluate import evaluate_points
from sirenkit.problems.constraints import Constraint, Problem
from sirenkit.problems.domains import PointSet
from sirenkit.signals.image.data import coordinate_grid, load_image
from sirenkit.studies.examples.common import write_results
from sirenkit.studies.solve import solve

SUMMARY = "fit the known 30 % of the camera photo's pixels, render all of them; biharmonic inpainting beside it"
STEPS = 1500
RUNTIME = "about 45 s on a 2-core CPU"
"""The default steps, and how long they took (a 2-core Intel Xeon; the tiny run takes seconds)."""


def random_mask(shape: tuple[int, int], known: float, seed: int = 0) -> np.ndarray:
    """`(H, W)` bool: each pixel known with probability `known`."""
    return np.random.default_rng(seed).random(shape) < known


def run(out: str | Path | None = None, *, tiny: bool = False, steps: int | None = None, device: str = "auto",
        progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    size = 32 if tiny else 256
    signal = load_image("camera", size=size)
    pixels = signal.pixels[:, :, 0]  # (H, W)
    known = random_mask(signal.shape, 0.3)
    coords = coordinate_grid(signal.shape)
    targets = torch.from_numpy(pixels.reshape(-1, 1)) * 2 - 1  # intensities → [-1, 1]
    domain = PointSet(coords, {"target": targets}).where(torch.from_numpy(known.reshape(-1)),
                                                         batch_size=None if tiny else 8192)
    problem = Problem([Constraint("known pixels", lambda f: f.value - f.data["target"], domain)])
    network = NetworkConfig(in_features=2, out_features=1, hidden_features=32 if tiny else 256,
                            hidden_layers=2 if tiny else 4, first_omega=30.0)
    train = TrainConfig(steps=steps or (20 if tiny else STEPS), learning_rate=1e-3, device=device, precision="auto",
                        batch_size=None)
    solution = solve(problem, network, train, name="inpainting", out=out, overwrite=overwrite, progress=progress,
                     settings={"image": "camera", "size": size, "known_fraction": 0.3})
    filled = ((evaluate_points(solution.model, coords.to(next(solution.model.parameters()).device))
               .float().numpy().reshape(signal.shape) + 1) / 2).clip(0, 1)
    from skimage.restoration import inpaint_biharmonic

    classical = inpaint_biharmonic(pixels, ~known).clip(0, 1)
    missing = ~known
    metrics = {
        "psnr_missing": psnr(filled[missing], pixels[missing]),
        "psnr_missing_biharmonic": psnr(classical[missing], pixels[missing]),
        "psnr_known": psnr(filled[known], pixels[known]),
        "psnr_convention": "dB on intensities in [0, 1], over the missing (or known) pixels only",
        **solution.metrics,
    }
    return write_results(out, metrics, lambda path: figure(path, pixels, known, filled, classical, metrics))


def figure(path: Path, pixels, known, filled, classical, metrics) -> None:
    from sirenkit.figures import new_figure, save_figure

    shown = np.where(known, pixels, np.nan)
    panels = [("known pixels (30 %)", shown), (f"SIREN: {metrics['psnr_missing']:.2f} dB on the missing", filled),
              (f"biharmonic: {metrics['psnr_missing_biharmonic']:.2f} dB", classical), ("original", pixels)]
    fig, axes = new_figure(1, 4, figsize=(14, 3.9))
    from matplotlib import colormaps

    cmap = colormaps["gray"].with_extremes(bad=(0.85, 0.3, 0.3))
    for axis, (title, image) in zip(axes, panels):
        axis.imshow(image, cmap=cmap, vmin=0, vmax=1)
        axis.set_title(title, fontsize=10)
        axis.set_xticks([])
        axis.set_yticks([])
    fig.tight_layout()
    save_figure(fig, path)
