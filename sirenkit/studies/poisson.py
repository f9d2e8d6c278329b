"""Gradient-domain tasks: reconstruct an image from its gradients or its Laplacian only
(Poisson's equation), and fuse two images by fitting a composite of their gradients.

The network never sees a pixel value: the constraint is `∇Φ − g = 0` or `ΔΦ − Δf = 0` on the
pixel grid, per colour channel. A gradient fixes the image only up to a constant and a Laplacian
only up to a harmonic function, so results are measured after an alignment and
compared with the classical DCT solution of the same discrete problem.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from sirenkit.engine.config import TrainConfig, at_family_rate
from sirenkit.engine.kinds import PROMISED_SECONDS, Fitted
from sirenkit.engine.runs import fit_signal
from sirenkit.metrics import psnr, ssim, texture_correlation
from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.evaluate import evaluate_points
from sirenkit.problems.constraints import Constraint, Problem
from sirenkit.problems.domains import PointSet
from sirenkit.signals.image.data import (
    ImageSignal,
    coordinate_grid,
    grid_spacing,
    image_extent,
    image_gradient,
    image_laplacian,
)
from sirenkit.signals.image.kind import INTENSITY_OFFSET, INTENSITY_SCALE, ImageKind, finite_difference_maps
from sirenkit.studies.classical import integrate_gradient, solve_poisson_neumann

SEGMENT_WEIGHT = 1.0
BOX_WEIGHT = (0.01, 0.00001)
"""Default weights of the multiscale constraints: line integrals of the gradient (relative to
`1 / h²`) and box fluxes for the Laplacian (relative to `1 / h⁴`); a pair `(start, end)` is a
weight that goes from `start` to `end` over the run, log-linearly (`decaying_weight`).
Chosen by the runs the docs report; 0 turns them off. With line integrals exact for the data
(`GridSegments`), the weight matters: 0.01 / 0.1 / 1 gave grass 28.6 / 31.8 / 40.7 dB and
camera 34.5 / 37.1 / 40.7 dB (1,500 float32 steps); with the trapezoid rule it made no difference
(grass 28.3 dB at 0.01 and 0.1). From the Laplacian the box fluxes hold the lowest frequencies,
which the pointwise term barely constrains, and damp the texture when they weigh much: strong
first (0.01, the shading settles), weak at the end (0.00001, the texture forms); camera 256², 300 s
float32: 15.7 dB and fine-texture correlation 0.82, against 15.5 dB / 0.53 with a constant 0.0001
(and Adam 3e-5, the recipe before) and 13.8 dB / 0.92 with a constant 0.0001 at Adam 1e-4."""

Weight = float | tuple[float, float] | list[float]
"""A constant weight, or `(start, end)`: from `start` to `end` over the run, log-linearly."""


def decaying_weight(weight: Weight) -> tuple[float, Callable[[float], float] | None]:
    """`(weight at the start, the factor on it as a function of the run's progress)` of a
    `Weight`; the factor is `None` for a constant weight."""
    if isinstance(weight, (tuple, list)):  # a list: the pair as config.json keeps it
        start, end = (float(value) for value in weight)
        if start <= 0 or end <= 0:
            raise ValueError(f"a decaying weight needs a positive start and end, got {start} and {end}")
        ratio = end / start
        return start, lambda progress: ratio ** progress
    return weight, None


Source = Literal["gradient", "laplacian"]
SOURCES = ("gradient", "laplacian")


# --- alignment: what the derivatives cannot fix -------------------------------------------

def align_constant(estimate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`estimate` shifted by the mean difference to `reference`, per channel (`(H, W, C)`):
    the freedom a gradient leaves."""
    return estimate + (reference - estimate).mean(axis=(0, 1), keepdims=True)


def align_plane(estimate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`estimate` plus the least-squares plane `a + b x + c y` fitted to the difference, per
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
    """Ground-truth `(H, W, C, 2)` gradient or `(H, W, C)` Laplacian in coordinate units."""
    spacing = grid_spacing(pixels.shape[:2])
    return image_gradient(pixels, spacing) if source == "gradient" else image_laplacian(pixels, spacing)


def exact_line_sums(component: np.ndarray, axis: int, spacing: float) -> np.ndarray:
    """Running sums `S` along the rows (`axis` 0: x) or columns (1: y) of one gradient
    component `(H, W, C)` by central differences (one-sided at the border, as `np.gradient`):
    `S[0] = 0`, `S[1] = h g[0]`, `S[j] = S[j−2] + 2h g[j−1]`, so that `S[b] − S[a] = f_b − f_a`
    exactly for every pair of pixels on a line."""
    along = np.moveaxis(component.astype(np.float64), 1 - axis, 0)  # the summed direction first
    sums = np.zeros_like(along)
    if len(along) > 1:
        sums[1] = spacing * along[0]
    for parity in (0, 1):  # S[p + 2], S[p + 4], … gather g[p + 1], g[p + 3], …
        sums[parity + 2::2] = sums[parity] + np.cumsum(2 * spacing * along[parity + 1:-1:2], axis=0)
    return np.moveaxis(sums, 0, 1 - axis)


class GridSegments:
    """Pairs of pixels on one row or one column, with the line integral of a gradient field between them:
    `Φ(end) − Φ(start) = ∫ g · ds`.

    A constraint on these pairs is a derivative constraint integrated along a segment. Segment lengths are
    log-uniform from one pixel to the whole side, so every scale is constrained alike: the local gradient loss
    weighs an error of spatial frequency `k` by `k²` and leaves the low frequencies to converge slowly;
    integrated over long segments they weigh fully. The network still sees no pixel value, only differences that
    the gradient implies.

    The integrals use the quadrature that is exact for the data (`exact_line_sums`): a gradient by central
    differences, `g_j = (f_{j+1} − f_{j−1}) / 2h`, sums over every other pixel to `f_b − f_a = Σ 2h g_j`
    (`j = a+1, a+3, …, b−1`), and the one-sided difference at the border links the two halves. The trapezoid
    rule over every pixel would give the differences of the `[1, 2, 1]/4`-smoothed image instead, which damps
    the finest texture (by `cos²(kh/2)`, zero at the Nyquist frequency): grass 256² from its gradient lost 3 dB
    to it (docs, "Reconstruction from derivatives").
    """

    def __init__(self, coords: torch.Tensor, gradient: np.ndarray, *, batch_size: int) -> None:
        height, width, channels = gradient.shape[:3]
        spacing = grid_spacing((height, width))
        self.coords = coords
        self.shape = (height, width)
        self.along = [torch.from_numpy(exact_line_sums(gradient[..., axis], axis, spacing)
                                       .reshape(height * width, channels)).float().to(coords.device)
                      for axis in (0, 1)]
        self.batch_size = batch_size

    @property
    def size(self) -> int:
        return self.coords.shape[0]

    @property
    def points_per_step(self) -> int:
        """Both ends of every segment."""
        return 2 * self.batch_size

    def to(self, device: torch.device) -> GridSegments:
        moved = object.__new__(GridSegments)
        moved.__dict__.update(self.__dict__)
        moved.coords = self.coords.to(device)
        moved.along = [a.to(device) for a in self.along]
        return moved

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """`(2B, 2)` points, starts then ends, and `difference: (B, C)` integrals."""
        height, width = self.shape
        starts, ends, differences = [], [], []
        for axis, count in ((0, self.batch_size // 2), (1, self.batch_size - self.batch_size // 2)):
            side, across = (width, height) if axis == 0 else (height, width)
            length = torch.floor((side - 1) ** torch.rand(count, generator=generator)).long().clamp(1, side - 1)
            first = (torch.rand(count, generator=generator) * (side - length)).long()
            line = torch.randint(across, (count,), generator=generator)
            if axis == 0:
                start, end = line * width + first, line * width + first + length
            else:
                start, end = first * width + line, (first + length) * width + line
            start, end = start.to(self.coords.device), end.to(self.coords.device)
            starts.append(start)
            ends.append(end)
            differences.append(self.along[axis][end] - self.along[axis][start])
        start, end = torch.cat(starts), torch.cat(ends)
        return torch.cat([self.coords[start], self.coords[end]]), {"difference": torch.cat(differences)}


def segment_residual(fields) -> torch.Tensor:
    """`Φ(end) − Φ(start)` against the integrated gradient, in network units."""
    half = fields.value.shape[0] // 2
    return fields.value[half:] - fields.value[:half] - INTENSITY_SCALE * fields.data["difference"]


class GridBoxes:
    """Boxes of whole pixels with the integral of a Laplacian over each. By the divergence theorem the network's
    outward flux through a box boundary, `∮ ∇Φ · n ds`, must equal `∫∫ ΔΦ dA`: a constraint on the network's
    gradient that the Laplacian alone implies.

    Box sides are log-uniform from one pixel to the whole image, so low frequencies, which the pointwise
    Laplacian loss weighs by `k⁴`, are constrained as firmly as fine detail. The flux is estimated from
    `points_per_side` stratified random points on each side.
    """

    def __init__(self, coords: torch.Tensor, laplacian: np.ndarray, *, boxes: int, points_per_side: int = 4) -> None:
        height, width, channels = laplacian.shape
        spacing = grid_spacing((height, width))
        area = np.zeros((height + 1, width + 1, channels))  # summed-area table of Δf dA
        area[1:, 1:] = np.cumsum(np.cumsum(laplacian * spacing**2, axis=0), axis=1)
        self.area = torch.from_numpy(area).float().to(coords.device)
        self.shape, self.spacing = (height, width), spacing
        self.extent = image_extent((height, width))
        self.batch_size, self.points_per_side = boxes, points_per_side
        self.device = coords.device

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def points_per_step(self) -> int:
        """`points_per_side` points on each of the four sides of every box."""
        return self.batch_size * 4 * self.points_per_side

    def to(self, device: torch.device) -> GridBoxes:
        moved = object.__new__(GridBoxes)
        moved.__dict__.update(self.__dict__)
        moved.area, moved.device = self.area.to(device), torch.device(device)
        return moved

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """`(B * 4 * K, 2)` boundary points (sides: left, right, top, bottom) and, per box,
        `integral: (B, C)` and `sides: (B, 2)` (width and height in coordinate units)."""
        height, width = self.shape
        boxes, per_side, h = self.batch_size, self.points_per_side, self.spacing

        def span(side: int) -> tuple[torch.Tensor, torch.Tensor]:
            length = torch.floor((side + 1) ** torch.rand(boxes, generator=generator)).long().clamp(1, side)
            first = (torch.rand(boxes, generator=generator) * (side - length + 1)).long().clamp(max=side - 1)
            return first, torch.minimum(first + length, torch.tensor(side))

        (j0, j1), (i0, i1) = span(width), span(height)
        a = self.area
        index = [t.to(self.device) for t in (i0, i1, j0, j1)]
        integral = a[index[1], index[3]] - a[index[0], index[3]] - a[index[1], index[2]] + a[index[0], index[2]]
        x0 = -self.extent[0] + j0 * h - h / 2
        x1 = -self.extent[0] + (j1 - 1) * h + h / 2
        y0 = -self.extent[1] + i0 * h - h / 2
        y1 = -self.extent[1] + (i1 - 1) * h + h / 2
        along = (torch.arange(per_side) + torch.rand(boxes, 4, per_side, generator=generator)) / per_side
        xs_along = x0[:, None, None] + along[:, 2:] * (x1 - x0)[:, None, None]  # top and bottom sides
        ys_along = y0[:, None, None] + along[:, :2] * (y1 - y0)[:, None, None]  # left and right sides
        left = torch.stack([x0[:, None].expand(-1, per_side), ys_along[:, 0]], dim=-1)
        right = torch.stack([x1[:, None].expand(-1, per_side), ys_along[:, 1]], dim=-1)
        top = torch.stack([xs_along[:, 0], y0[:, None].expand(-1, per_side)], dim=-1)
        bottom = torch.stack([xs_along[:, 1], y1[:, None].expand(-1, per_side)], dim=-1)
        points = torch.stack([left, right, top, bottom], dim=1).reshape(-1, 2)  # (B*4*K, 2)
        sides = torch.stack([x1 - x0, y1 - y0], dim=-1)
        return points.float().to(self.device), {"integral": integral, "sides": sides.float().to(self.device)}


def flux_residual(fields) -> torch.Tensor:
    """Outward flux of `∇Φ` through each box against `∫∫ Δf dA`, in network units."""
    sides = fields.data["sides"]  # (B, 2): width, height
    boxes = sides.shape[0]
    jacobian = fields.jacobian.reshape(boxes, 4, -1, fields.jacobian.shape[1], 2)  # (B, side, K, C, 2)
    mean = jacobian.mean(dim=2)  # (B, side, C, 2)
    flux = (mean[:, 1, :, 0] - mean[:, 0, :, 0]) * sides[:, 1:2] + (mean[:, 3, :, 1] - mean[:, 2, :, 1]) * sides[:, 0:1]
    return flux - INTENSITY_SCALE * fields.data["integral"]


def derivative_problem(
    target: np.ndarray,
    source: Source,
    *,
    batch_size: int | None,
    device: torch.device,
    reference: np.ndarray | None = None,
    segment_weight: float = 0.0,
    box_weight: Weight = 0.0,
) -> Problem:
    """Fit `∇Φ = target` (`(H, W, C, 2)`) or `ΔΦ = target` (`(H, W, C)`) on the pixel grid.

    Targets are in intensity units; the network works in `y = 2 I − 1`, so they are doubled. With a `reference`
    image the evaluation reports PSNR after the alignment of `source`; without one, it reports the residual
    only. The multiscale constraints: `segment_weight > 0` adds line integrals of a gradient (`GridSegments`,
    weight `segment_weight / h²`), `box_weight > 0` fluxes through boxes for a Laplacian (`GridBoxes`, weight
    `box_weight / h⁴`; a pair `(start, end)` decays over the run, `decaying_weight`); each applies to its source
    only.
    """
    check_multiscale_weights(source, segment_weight, box_weight)
    height, width, channels = target.shape[:3]
    coords = coordinate_grid((height, width), device=device)
    values = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)).to(device) * INTENSITY_SCALE
    if source == "gradient":
        domain = PointSet(coords, {"target": values.reshape(height * width, channels, 2)}, batch_size=batch_size)
        constraint = Constraint("gradient", lambda f: f.jacobian - f.data["target"], domain, needs=("jacobian",))
    else:
        domain = PointSet(coords, {"target": values.reshape(height * width, channels)}, batch_size=batch_size)
        constraint = Constraint("laplacian", lambda f: f.laplacian - f.data["target"], domain, needs=("laplacian",))
    constraints = [constraint]
    spacing = grid_spacing((height, width))
    if segment_weight > 0:
        segments = GridSegments(coords, target, batch_size=batch_size or height * width)
        constraints.append(Constraint("segments", segment_residual, segments, weight=segment_weight / spacing**2))
    box_start, box_schedule = decaying_weight(box_weight)
    if box_start > 0:
        boxes = GridBoxes(coords, target, boxes=max(1, (batch_size or height * width) // 32))
        constraints.append(Constraint("boxes", flux_residual, boxes, needs=("jacobian",),
                                      weight=box_start / spacing**4, schedule=box_schedule))
    if reference is None:
        return Problem(constraints)
    align = ALIGNMENTS[source][2]

    def evaluate(model: nn.Module) -> dict[str, float]:
        values = evaluate_points(model, coords, "value").numpy().reshape(height, width, channels)
        estimate = (values - INTENSITY_OFFSET) / INTENSITY_SCALE
        return {"psnr": psnr(align(estimate, reference), reference)}

    return Problem(constraints, evaluate=evaluate)


def check_multiscale_weights(source: Source, segment_weight: float | None, box_weight: Weight | None) -> None:
    """Line integrals belong to a gradient, box fluxes to a Laplacian: a weight for the other
    source is a mistake worth naming, not something to apply under the wrong name."""
    if source == "laplacian" and segment_weight:
        raise ValueError("the segment weight (line integrals of a gradient) does not apply to a reconstruction "
                         "from the Laplacian; its multiscale constraint is the box-flux weight (--boxes)")
    if source == "gradient" and box_weight:
        raise ValueError("the box-flux weight (fluxes of a Laplacian) does not apply to a reconstruction from "
                         "the gradient; its multiscale constraint is the segment weight (--segments)")


# --- results ------------------------------------------------------------------------------

DerivativeFit = Fitted
"""The result of [`fit_poisson`][sirenkit.fit_poisson] and [`fuse_images`][sirenkit.fuse_images]:
`products["raw"]` is the network's image in intensity units (not aligned, not clipped),
`products["reconstruction"]` the one shown and saved (aligned or mean-restored, clipped)."""


def restore_means(estimate: np.ndarray, means: Sequence[float] | np.ndarray) -> np.ndarray:
    """Shift each channel of `(H, W, C)` so that its mean is the given value (one value, or
    one per channel): what integrating derivatives cannot know."""
    means = np.broadcast_to(np.asarray(means, dtype=np.float64), (estimate.shape[2],))
    return estimate - estimate.mean(axis=(0, 1), keepdims=True) + means


def checked_means(means: Sequence[float] | None, signal: ImageSignal) -> list[float] | None:
    """`means` as one value per channel; a `ValueError` before any fitting when their number
    fits neither one value nor one per channel."""
    if means is None:
        return None
    values = [float(value) for value in means]
    if len(values) not in (1, signal.channels):
        raise ValueError(f"--means needs one value or one per channel ({signal.channels} for {signal.name}), "
                         f"got {len(values)}")
    return values * signal.channels if len(values) == 1 else values


def fit_poisson(
    source_image: str | Path | ImageSignal,
    source: Source = "gradient",
    *,
    size: int | None = None,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    means: Sequence[float] | None = None,
    segment_weight: float | None = None,
    box_weight: Weight | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Fitted:
    """Reconstruct an image from its gradient field or its Laplacian alone (`sirenkit poisson`).

    Args:
        source_image: The image: a file, a bundled image name or an [`ImageSignal`][sirenkit.ImageSignal].
        source: `"gradient"` or `"laplacian"`: the derivative the network is fitted to.
        size: Scale the image's longer side to this many pixels; `None` keeps its size.
        network: The network to fit; `None` builds the task's default of `model`.
        train: The training recipe; `None` is the task's recipe for `source`.
        model: The network family, used when `network` is `None`.
        means: Restore each channel's mean (one value, or one per channel) instead of aligning to the truth.
        segment_weight: From a gradient only, the line integrals' weight (`GridSegments`; `None`: `SEGMENT_WEIGHT`).
        box_weight: From a Laplacian only, the box fluxes' weight (`GridBoxes`), a number or `(start, end)`.
        out: The run folder to write; `None` writes nothing.
        resume: Continue the run saved in `out` from its checkpoint.
        overwrite: Replace a run already in `out`.
        progress: Show a progress bar.

    Returns:
        The fit; its `psnr` after the alignment the source leaves free, `classical_psnr` the DCT solution's.
    """
    from sirenkit.signals.image.data import load_image

    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected gradient or laplacian")
    check_multiscale_weights(source, segment_weight, box_weight)
    signal = source_image if isinstance(source_image, ImageSignal) else load_image(source_image, size=size)
    means = checked_means(means, signal)
    target = derivative_targets(signal.pixels, source)
    if not np.any(target):
        raise ValueError(f"{signal.name}: the image is constant, its {source} is zero everywhere")
    if source == "gradient":
        segment_weight, box_weight = SEGMENT_WEIGHT if segment_weight is None else segment_weight, 0.0
    else:
        segment_weight, box_weight = 0.0, BOX_WEIGHT if box_weight is None else box_weight
    settings = {"source_image": signal.name, "size": size, "from": source, "means": means,
                "segment_weight": segment_weight,  # a pair as config.json reads it back, so that a resume matches
                "box_weight": list(box_weight) if isinstance(box_weight, tuple) else box_weight}
    name, description, align = ALIGNMENTS[source]
    spacing = grid_spacing(signal.shape)
    classical = (integrate_gradient(target, spacing) if source == "gradient"
                 else solve_poisson_neumann(target, spacing))
    classical_aligned = align(classical, signal.pixels)

    def measure(raw: np.ndarray, *, final: bool = True) -> dict[str, Any]:
        aligned = align(raw, signal.pixels)
        metrics: dict[str, Any] = {"psnr": psnr(aligned, signal.pixels)}
        if final:
            metrics.update({
                "ssim": ssim(aligned, signal.pixels),
                "texture": texture_correlation(aligned, signal.pixels),
                "alignment": name,
                "alignment_description": description,
                "classical_psnr": psnr(classical_aligned, signal.pixels),
                "classical_method": "DCT solve of the same discrete problem (sirenkit.studies.classical)",
                "psnr_vs_classical": psnr(aligned, np.clip(classical_aligned, 0, 1)),
                "from": source,
            })
            if means is not None:
                metrics["restored_means"] = means
                metrics["psnr_restored_means"] = psnr(restore_means(raw, means), signal.pixels)
        return metrics

    def products(raw: np.ndarray) -> dict[str, np.ndarray]:
        shown = restore_means(raw, means) if means is not None else align(raw, signal.pixels)
        return {"raw": raw, "reconstruction": np.clip(shown, 0, 1)}

    def write(fitted: Fitted, out: Path) -> None:
        mode = signal.mode
        rows = [("ground truth", *finite_difference_maps(signal.pixels, mode)),
                (f"classical (DCT)\n{fitted.metrics['classical_psnr']:.1f} dB",
                 *finite_difference_maps(np.clip(classical_aligned, 0, 1), mode))]
        kind.write_run(fitted, signal, out, reference_rows=rows, label=f"{fitted.metrics['psnr']:.2f} dB",
                              title=f"{Path(signal.name).name} from the {source} only",
                              curve=f"PSNR after {name} alignment (dB)")

    kind = ImageKind.describe(signal)
    network = network or poisson_network(signal, model, source)
    train = train or at_family_rate(poisson_train_config(source), network.model, network.hidden_features)
    return fit_signal(kind, signal, network=network, train=train, model=model,
                      problem=lambda device: derivative_problem(target, source, batch_size=train.batch_size,
                                                                device=device, segment_weight=segment_weight,
                                                                box_weight=box_weight),
                      sampling={"clip": False}, measure=measure, products=products, write=write, task="poisson",
                      settings=settings,
                      out=out, resume=resume, overwrite=overwrite, progress=progress)


POISSON_FIRST_OMEGA = 60.0
"""ω0 of the first layer from derivatives (the image default is 30): an error of spatial frequency
`k` costs `k²` in a gradient loss, so the fine texture is where the fit is judged, and a first
layer that starts with twice the frequencies reaches it sooner. Gravel 256² (the most textured of
the set), 2,230 steps of the default recipe in float32: ω0 = 30 gave 29.2 dB, 45 30.0 dB, 60
30.6 dB. On the ten photos of the docs, 360 s in float32, 60 is better than 30 on every one
(+0.5 to +2.5 dB)."""


def poisson_network(signal: ImageSignal, model: str = "siren", source: Source = "gradient",
                    **settings: Any) -> NetworkConfig:
    """The image network for reconstruction from derivatives and fusion: the paper's image
    network, from a gradient with the first ω0 `POISSON_FIRST_OMEGA` (a SIREN's; the
    baselines have none) unless `settings` give one. From the Laplacian the image default."""
    if model == "siren" and source == "gradient":
        settings.setdefault("first_omega", POISSON_FIRST_OMEGA)
    return ImageKind.describe(signal).network(model, **settings)


POISSON_GRADIENT_BATCH = 4096
"""Pixels per step from gradients (and as many line integrals): chosen on astronaut 256² in colour,
float32, 360 s (the default budget on a float32-only machine): 16,384 pixels gave 28.0 dB in 363
steps, 8,192 30.6 dB in 884, 4,096 31.6 dB in 2,314, 2,048 31.4 dB in 2,907. Below 4,096 the
per-step overhead wins."""


def poisson_train_config(source: Source) -> TrainConfig:
    """Default training for reconstruction from derivatives, within the 10 minutes promised.

    From gradients: Adam at 2e-4 with a cosine decay over the default budget (at most 6,000 steps, which only a
    GPU reaches first) of 4,096 random pixels and 4,096 line integrals per step; the first ω0 is
    `POISSON_FIRST_OMEGA` (`poisson_network`). Chosen on seven photos and checked on three others
    (`benchmarks/derivatives.py`; the docs give the table). From the Laplacian: Adam at 1e-4 over the default
    budget (at most 6,000 steps) of 4,096 pixels and 128 boxes per step, the box weight decaying (`BOX_WEIGHT`);
    Adam 1e-3, the image default, stalls near 12 dB, and 3e-5 (the recipe before) moved the network too little
    in the budget for the texture to form. The docs list what was tried and what it gave."""
    if source == "gradient":
        return TrainConfig(steps=6000, learning_rate=2e-4, time_budget=PROMISED_SECONDS["poisson"],
                           batch_size=POISSON_GRADIENT_BATCH)
    return TrainConfig(steps=6000, learning_rate=1e-4, time_budget=PROMISED_SECONDS["poisson"], batch_size=4096)
