"""Image fitting: one constraint ``Φ(x) − f(x) = 0`` on the pixel grid, and the comparison of
SIREN with the paper's baselines at the same parameter budget."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..config import MODEL_NAMES, NetworkConfig, TrainConfig, replace
from ..constraints import Constraint, PointSet, Problem
from ..figures import curve_figure, image_rows_figure
from ..image import (
    ImageSignal, coordinate_grid, grid_spacing, image_extent, image_gradient, image_laplacian,
    load_image,
)
from ..io import LoadedModel, atomic_write_path, save_model, write_json
from ..metrics import psnr, psnr_from_mse, ssim
from ..network import build_network, count_parameters, width_for_budget
from ..render import gradient_magnitude_map, laplacian_map, render_image
from ..training import FitResult
from .common import SignalFit, fit_summary, history_series, run_recipe

logger = logging.getLogger("sirenkit")

OUTPUT_SCALE, OUTPUT_OFFSET = 2.0, -1.0
"""Networks fit ``y = 2 I − 1``: intensities in [0, 1] become targets in [-1, 1], as in the paper."""


def image_network(signal: ImageSignal, model: str = "siren", **settings: Any) -> NetworkConfig:
    """The paper's image network (2 → 256 × 4 → C) for ``signal``, or a baseline of that size."""
    return NetworkConfig(
        in_features=2, out_features=signal.channels, model=model,
        pe_sidelength=max(signal.shape), **settings,
    )


IMAGE_BATCH = 8192
"""Random pixels per step of the default image recipe."""


def image_train_config(signal: ImageSignal | None = None) -> TrainConfig:
    """sirenkit's default image recipe, chosen by the sweep in ``benchmarks/sweep.py`` over four
    different images (README, "Speed"): random subsets of 8,192 pixels per step (every pixel when
    the image has fewer), 1,500 steps, Adam at 1e-3 with a cosine decay, bfloat16 matrix products
    where the hardware has them. It reached 40 dB soonest on all four images.

    Against the paper's recipe (every pixel, Adam at 1e-4) it reaches 40 dB on camera 256² in a
    fraction of the time: many cheap, noisy steps make the early progress, and the decaying rate
    then averages the noise away. A peak rate of 2e-3 was faster on some images and broke the fit
    of others; 4,096 pixels per step ended higher on three images but reached 40 dB later.
    """
    pixels = signal.shape[0] * signal.shape[1] if signal is not None else None
    batch = None if pixels is not None and pixels <= IMAGE_BATCH else IMAGE_BATCH
    return TrainConfig(steps=1500, learning_rate=1e-3, batch_size=batch, precision="auto")


def signal_description(signal: ImageSignal) -> dict[str, Any]:
    """What ``model.json`` records to turn outputs back into the image."""
    return {
        "kind": "image",
        "shape": list(signal.shape),
        "channels": signal.channels,
        "mode": signal.mode,
        "extent": list(image_extent(signal.shape)),
        "output_scale": OUTPUT_SCALE,
        "output_offset": OUTPUT_OFFSET,
        "source": signal.name,
        "bit_depth": signal.bit_depth,
    }


def image_problem(signal: ImageSignal, *, batch_size: int | None, device: torch.device) -> Problem:
    """Fit the pixel values: one constraint on the whole grid (or a random subset per step)."""
    coords = coordinate_grid(signal.shape, device=device)
    targets = torch.from_numpy(signal.pixels.reshape(-1, signal.channels)).to(device)
    targets = targets * OUTPUT_SCALE + OUTPUT_OFFSET  # (H*W, C) in [-1, 1]
    domain = PointSet(coords, {"target": targets}, batch_size=batch_size)

    def evaluate(model: nn.Module) -> dict[str, float]:
        squared_error = 0.0
        for start in range(0, coords.shape[0], 65536):
            values = model(coords[start : start + 65536]).clamp(-1.0, 1.0)
            squared_error += float((values - targets[start : start + 65536]).square().sum())
        mse = squared_error / targets.numel() / OUTPUT_SCALE**2  # in intensity units
        return {"psnr": psnr_from_mse(mse)}

    residual = Constraint("image", lambda fields: fields.value - fields.data["target"], domain)
    return Problem([residual], evaluate=evaluate)


class ImageFit(SignalFit):
    """The outcome of :func:`fit_image`."""

    def description(self) -> dict[str, Any]:
        return signal_description(self.signal)


def fit_image(
    source: str | Path | ImageSignal,
    *,
    size: int | None = None,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> ImageFit:
    """Fit a network to an image file or bundled image name and, with ``out``, write the run
    folder: model, ``reconstruction.png``, ``figure.png`` (image, gradient and Laplacian of
    ground truth and fit), ``psnr.png``, ``metrics.json``, ``history.json``, ``config.json``.
    """
    signal = source if isinstance(source, ImageSignal) else load_image(source, size=size)
    network = network or image_network(signal, model)
    if network.in_features != 2 or network.out_features != signal.channels:
        raise ValueError(
            f"the network maps {network.in_features} → {network.out_features}, "
            f"but {signal.name} needs 2 → {signal.channels}"
        )
    train = train or image_train_config(signal)
    run = run_recipe(network, train, lambda device: image_problem(signal, batch_size=train.batch_size, device=device),
                     task="image", settings={"source": signal.name, "size": size}, out=out, resume=resume,
                     progress=progress)
    fitting = ImageFit(run.model, network, signal, {}, run.result.history, run.out)
    fitting.metrics = _metrics(fitting, run.result, wall=time.perf_counter() - run.started)
    if run.out is not None:
        write_image_run(fitting, run.out)
    return fitting


def _metrics(fitting: ImageFit, result: FitResult, *, wall: float) -> dict[str, Any]:
    reconstruction = render_image(fitting.loaded())
    return {
        "psnr": psnr(reconstruction, fitting.signal.pixels),
        "ssim": ssim(reconstruction, fitting.signal.pixels),
        **fit_summary(result, wall, fitting.network, fitting.signal.shape, fitting.signal.channels),
        "psnr_convention": "dB on intensities in [0, 1], clipped, over all pixels and channels",
    }


def derivative_maps(fitting_or_loaded: ImageFit | LoadedModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fitted image with its gradient-magnitude and Laplacian maps, from the network."""
    loaded = fitting_or_loaded.loaded() if isinstance(fitting_or_loaded, ImageFit) else fitting_or_loaded
    mode = loaded.signal["mode"]
    image = render_image(loaded)
    gradient = gradient_magnitude_map(render_image(loaded, what="gradient"), mode)
    laplacian = laplacian_map(render_image(loaded, what="laplacian"), mode)
    return image, gradient, laplacian


def ground_truth_maps(signal: ImageSignal) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The image with its gradient-magnitude and Laplacian maps by finite differences."""
    return finite_difference_maps(signal.pixels, signal.mode)


def finite_difference_maps(pixels: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(H, W, C)`` pixels with their gradient-magnitude and Laplacian maps (luminance, in
    coordinate units) by finite differences."""
    spacing = grid_spacing(pixels.shape[:2])
    gradient = gradient_magnitude_map(image_gradient(pixels, spacing), mode)
    laplacian = laplacian_map(image_laplacian(pixels, spacing), mode)
    return pixels, gradient, laplacian


def save_png(path: str | Path, pixels: np.ndarray) -> None:
    """Write 8-bit pixels ``(H, W)`` or ``(H, W, C)`` atomically as PNG."""
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    atomic_write_path(path, lambda temporary: Image.fromarray(pixels).save(temporary, format="PNG"))


def write_image_run(fitting: ImageFit, out: Path) -> None:
    """Write the model, the reconstruction, the figures and the metrics of an image fit."""
    loaded = fitting.loaded()
    save_model(out, fitting.model, fitting.network, loaded.signal)
    image, gradient, laplacian = derivative_maps(loaded)
    save_png(out / "reconstruction.png", np.round(image * 255.0).astype(np.uint8))
    label = f"{fitting.network.model}: {fitting.metrics['psnr']:.2f} dB"
    image_rows_figure(
        [("ground truth", *ground_truth_maps(fitting.signal)), (label, image, gradient, laplacian)],
        out / "figure.png",
        title=f"{Path(fitting.signal.name).name} {fitting.signal.shape[1]}×{fitting.signal.shape[0]}, "
              f"{fitting.metrics['steps']} steps, {fitting.metrics['seconds']:.0f} s",
    )
    curve_figure(
        {fitting.network.model: history_series(fitting.history, "psnr")},
        out / "psnr.png", xlabel="step", ylabel="PSNR (dB)", title="PSNR per step",
    )
    write_json(out / "history.json", fitting.history)
    write_json(out / "metrics.json", fitting.metrics)


def compare_models(
    source: str | Path | ImageSignal,
    *,
    models: Sequence[str] = MODEL_NAMES,
    size: int | None = None,
    train: TrainConfig | None = None,
    hidden_features: int = 256,
    hidden_layers: int = 4,
    first_omega: float = 30.0,
    out: str | Path | None = None,
    progress: bool = True,
) -> list[ImageFit]:
    """Fit SIREN and each baseline with the same parameter budget (SIREN's) and the same
    steps; with ``out``, write each run folder, ``comparison.png`` (rows = models; columns =
    image, gradient, Laplacian) and ``comparison.json``."""
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown or not models:
        raise ValueError(f"unknown models {', '.join(unknown) or '(none given)'}; expected some of {', '.join(MODEL_NAMES)}")
    signal = source if isinstance(source, ImageSignal) else load_image(source, size=size)
    reference = image_network(signal, "siren", hidden_features=hidden_features, hidden_layers=hidden_layers,
                              first_omega=first_omega)
    budget = count_parameters(build_network(reference))
    out_path = Path(out) if out is not None else None
    fits = []
    for name in models:
        network = replace(reference, model=name)
        if name != "siren":
            network = replace(network, hidden_features=width_for_budget(network, budget))
        logger.info("fitting %s (%d wide)", name, network.hidden_features)
        fits.append(fit_image(signal, network=network, train=train, out=out_path / name if out_path else None,
                              progress=progress))
    if out_path is not None:
        rows = [("ground truth", *ground_truth_maps(signal))]
        rows += [(f"{f.network.model}\n{f.metrics['psnr']:.2f} dB", *derivative_maps(f)) for f in fits]
        image_rows_figure(rows, out_path / "comparison.png",
                          title=f"same budget (~{budget:,} parameters), {fits[0].metrics['steps']} steps")
        write_json(out_path / "comparison.json", [comparison_row(f) for f in fits])
    return fits


def comparison_row(fitting: ImageFit) -> dict[str, Any]:
    """One line of the comparison table."""
    keys = ("model", "parameters", "psnr", "ssim", "steps", "seconds")
    return {key: fitting.metrics[key] for key in keys} | {"hidden_features": fitting.network.hidden_features}

