"""Gradient-domain tasks: reconstruct an image from its gradients or its Laplacian only
(Poisson's equation), and fuse two images by fitting a composite of their gradients.

The network never sees a pixel value: the constraint is ``∇Φ − g = 0`` or ``ΔΦ − Δf = 0`` on the
pixel grid, per colour channel. A gradient fixes the image only up to a constant and a Laplacian
only up to a harmonic function, so results are measured after an alignment (DESIGN.md §5) and
compared with the classical DCT solution of the same discrete problem.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import torch
from torch import nn

from ..classical import integrate_gradient, solve_poisson_neumann
from ..config import NetworkConfig, TrainConfig
from ..constraints import Constraint, PointSet, Problem
from ..figures import curve_figure, image_rows_figure, save_figure
from ..image import ImageSignal, coordinate_grid, grid_spacing, image_gradient, image_laplacian
from ..io import save_model, write_json
from ..metrics import psnr, ssim
from ..network import count_parameters
from ..render import evaluate_points, gradient_magnitude_map, laplacian_map, render_image
from ..training import CHECKPOINT_NAME, fit
from .common import build_on_device, history_series, write_config
from .image import OUTPUT_OFFSET, OUTPUT_SCALE, image_network, save_png, signal_description

Source = Literal["gradient", "laplacian"]
SOURCES = ("gradient", "laplacian")


# --- alignment: what the derivatives cannot fix -------------------------------------------

def align_constant(estimate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``estimate`` shifted by the mean difference to ``reference``, per channel (``(H, W, C)``):
    the freedom a gradient leaves."""
    return estimate + (reference - estimate).mean(axis=(0, 1), keepdims=True)


def align_plane(estimate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``estimate`` plus the least-squares plane ``a + b x + c y`` fitted to the difference, per
    channel: the lowest-order harmonic functions a Laplacian leaves free."""
    height, width = reference.shape[:2]
    coords = coordinate_grid((height, width), dtype=torch.float64).numpy()
    design = np.column_stack([np.ones(height * width), coords])  # (H*W, 3)
    difference = (reference - estimate).reshape(height * width, -1)  # (H*W, C)
    coefficients, *_ = np.linalg.lstsq(design, difference, rcond=None)
    return estimate + (design @ coefficients).reshape(reference.shape)


ALIGNMENTS = {
    "gradient": ("constant", "mean difference subtracted per channel", align_constant),
    "laplacian": ("plane", "least-squares offset and linear ramp a + bx + cy removed per channel", align_plane),
}


# --- the problems ------------------------------------------------------------------------

def derivative_targets(pixels: np.ndarray, source: Source) -> np.ndarray:
    """Ground-truth ``(H, W, C, 2)`` gradient or ``(H, W, C)`` Laplacian in coordinate units."""
    spacing = grid_spacing(pixels.shape[:2])
    return image_gradient(pixels, spacing) if source == "gradient" else image_laplacian(pixels, spacing)


def derivative_problem(
    target: np.ndarray,
    source: Source,
    *,
    batch_size: int | None,
    device: torch.device,
    reference: np.ndarray | None = None,
    channel_means: np.ndarray | None = None,
) -> Problem:
    """Fit ``∇Φ = target`` (``(H, W, C, 2)``) or ``ΔΦ = target`` (``(H, W, C)``) on the pixel grid.

    Targets are in intensity units; the network works in ``y = 2 I − 1``, so they are doubled.
    With a ``reference`` image the evaluation reports PSNR after the alignment of ``source``;
    without one, it reports the residual only.
    """
    height, width, channels = target.shape[:3]
    coords = coordinate_grid((height, width), device=device)
    values = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)).to(device) * OUTPUT_SCALE
    if source == "gradient":
        domain = PointSet(coords, {"target": values.reshape(height * width, channels, 2)}, batch_size=batch_size)
        constraint = Constraint("gradient", lambda f: f.jacobian - f.data["target"], domain, needs=("jacobian",))
    else:
        domain = PointSet(coords, {"target": values.reshape(height * width, channels)}, batch_size=batch_size)
        constraint = Constraint("laplacian", lambda f: f.laplacian - f.data["target"], domain, needs=("laplacian",))
    align = ALIGNMENTS[source][2]

    def evaluate(model: nn.Module) -> dict[str, float]:
        if reference is None:
            return {}
        values = evaluate_points(model, coords, "value").numpy().reshape(height, width, channels)
        estimate = (values - OUTPUT_OFFSET) / OUTPUT_SCALE
        return {"psnr": psnr(align(estimate, reference), reference)}

    return Problem([constraint], evaluate=evaluate)


# --- results ------------------------------------------------------------------------------

@dataclass
class DerivativeFit:
    """A network fitted to derivatives only, with its raw and aligned reconstructions."""

    model: nn.Module
    network: NetworkConfig
    signal: ImageSignal
    raw: np.ndarray
    """``(H, W, C)`` network output in intensity units, not aligned, not clipped."""
    result: np.ndarray
    """``(H, W, C)`` the reconstruction shown and saved: aligned or mean-restored, clipped."""
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)


def restore_means(estimate: np.ndarray, means: Sequence[float] | np.ndarray) -> np.ndarray:
    """Shift each channel of ``(H, W, C)`` so that its mean is the given value (one value, or
    one per channel): what integrating derivatives cannot know."""
    means = np.broadcast_to(np.asarray(means, dtype=np.float64), (estimate.shape[2],))
    return estimate - estimate.mean(axis=(0, 1), keepdims=True) + means


def _reconstruction(model: nn.Module, shape: tuple[int, int], channels: int) -> np.ndarray:
    values = evaluate_points(model, coordinate_grid(shape), "value").numpy()
    return ((values - OUTPUT_OFFSET) / OUTPUT_SCALE).reshape(*shape, channels)


def fit_poisson(
    source_image: str | Path | ImageSignal,
    source: Source = "gradient",
    *,
    size: int | None = None,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    means: Sequence[float] | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> DerivativeFit:
    """Reconstruct an image from its gradient field or its Laplacian alone.

    ``metrics['psnr']`` is measured after the alignment the source leaves free (see
    ``metrics['alignment']``); ``metrics['classical_psnr']`` is the DCT solution of the same
    discrete problem, aligned the same way. ``means`` restores each channel's mean in the saved
    reconstruction instead of aligning it to the ground truth.
    """
    from ..image import load_image

    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected gradient or laplacian")
    signal = source_image if isinstance(source_image, ImageSignal) else load_image(source_image, size=size)
    target = derivative_targets(signal.pixels, source)
    if not np.any(target):
        raise ValueError(f"{signal.name}: the image is constant, its {source} is zero everywhere")
    train = train or poisson_train_config(source)
    network = network or image_network(signal, model)
    out_path = _prepare_out(out, resume)
    net, device = build_on_device(network, train)
    problem = derivative_problem(target, source, batch_size=train.batch_size, device=device, reference=signal.pixels)
    if out_path is not None:
        settings = {"source_image": signal.name, "size": size, "from": source, "means": means}
        write_config(out_path, "poisson", settings, network, train, device)
    started = time.perf_counter()
    result = fit(net, problem, train, network_config=network, checkpoint_dir=out_path, resume=resume,
                 progress=progress)
    wall = time.perf_counter() - started

    name, description, align = ALIGNMENTS[source]
    raw = _reconstruction(net, signal.shape, signal.channels)
    aligned = align(raw, signal.pixels)
    spacing = grid_spacing(signal.shape)
    classical = (integrate_gradient(target, spacing) if source == "gradient"
                 else solve_poisson_neumann(target, spacing))
    classical_aligned = align(classical, signal.pixels)
    shown = restore_means(raw, means) if means is not None else aligned
    metrics = {
        "psnr": psnr(aligned, signal.pixels),
        "ssim": ssim(aligned, signal.pixels),
        "alignment": name,
        "alignment_description": description,
        "classical_psnr": psnr(classical_aligned, signal.pixels),
        "classical_method": "DCT solve of the same discrete problem (sirenkit.classical)",
        "psnr_vs_classical": psnr(aligned, np.clip(classical_aligned, 0, 1)),
        "from": source,
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "wall_seconds": round(wall, 3),
        "parameters": count_parameters(net),
        "model": network.model,
        "shape": list(signal.shape),
        "channels": signal.channels,
        "compiled": result.compiled,
        "psnr_convention": "dB on intensities in [0, 1], clipped, over all pixels and channels, after alignment",
    }
    if means is not None:
        metrics["restored_means"] = list(np.broadcast_to(np.asarray(means, float), (signal.channels,)))
        metrics["psnr_restored_means"] = psnr(shown, signal.pixels)
    fitting = DerivativeFit(net, network, signal, raw, np.clip(shown, 0, 1), metrics, result.history)
    if out_path is not None:
        _write_derivative_run(fitting, out_path, title=f"from the {source} only", classical=classical_aligned)
    return fitting


def poisson_train_config(source: Source) -> TrainConfig:
    """Default training for reconstruction from derivatives (see README: what was tried)."""
    return TrainConfig(steps=2000, learning_rate=1e-4 if source == "laplacian" else 1e-4, batch_size=None)


def _prepare_out(out: str | Path | None, resume: bool) -> Path | None:
    out_path = Path(out) if out is not None else None
    if resume and (out_path is None or not (out_path / CHECKPOINT_NAME).is_file()):
        raise ValueError(f"{out_path / CHECKPOINT_NAME if out_path else 'no run folder'}: no checkpoint to resume from")
    if out_path is not None:
        out_path.mkdir(parents=True, exist_ok=True)
    return out_path


def _maps(pixels: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spacing = grid_spacing(pixels.shape[:2])
    return (pixels, gradient_magnitude_map(image_gradient(pixels, spacing), mode),
            laplacian_map(image_laplacian(pixels, spacing), mode))


def _network_maps(fitting: DerivativeFit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    loaded = _loaded(fitting)
    mode = fitting.signal.mode
    return (fitting.result,
            gradient_magnitude_map(render_image(loaded, what="gradient"), mode),
            laplacian_map(render_image(loaded, what="laplacian"), mode))


def _loaded(fitting: DerivativeFit):
    from ..io import LoadedModel

    return LoadedModel(fitting.model, fitting.network, signal_description(fitting.signal), Path("."))


def _write_derivative_run(fitting: DerivativeFit, out: Path, *, title: str,
                          classical: np.ndarray | None = None, reference_label: str = "ground truth") -> None:
    save_model(out, fitting.model, fitting.network, signal_description(fitting.signal))
    save_png(out / "reconstruction.png", np.round(fitting.result * 255.0).astype(np.uint8))
    rows = [(reference_label, *_maps(fitting.signal.pixels, fitting.signal.mode))]
    if classical is not None:
        rows.append((f"classical (DCT)\n{fitting.metrics['classical_psnr']:.1f} dB",
                     *_maps(np.clip(classical, 0, 1), fitting.signal.mode)))
    rows.append((f"{fitting.network.model}\n{fitting.metrics['psnr']:.2f} dB", *_network_maps(fitting)))
    image_rows_figure(rows, out / "figure.png",
                      title=f"{Path(fitting.signal.name).name}: {title}, {fitting.metrics['steps']} steps, "
                            f"{fitting.metrics['seconds']:.0f} s")
    curve_figure({fitting.network.model: history_series(fitting.history, "psnr")}, out / "psnr.png",
                 xlabel="step", ylabel=f"PSNR after {fitting.metrics.get('alignment', '')} alignment (dB)",
                 title="PSNR per step")
    write_json(out / "history.json", fitting.history)
    write_json(out / "metrics.json", fitting.metrics)
