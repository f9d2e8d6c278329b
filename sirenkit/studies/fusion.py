"""Gradient-domain fusion of two images: fit a network to a composite of their gradient fields.

- `average`: the paper's fusion, `g = (∇A + ∇B) / 2`;
- `mixed`: per pixel and channel the stronger of `∇A` and `∇B` (Pérez et al. 2003,
  mixed gradients), which keeps the texture of both;
- `clone`: seamless cloning, `∇B` inside a mask placed at `(x, y)` on A, `∇A` outside.

Every channel's composite is built from the same channel of both images, never across channels.
The network never sees pixel values; the constant a gradient leaves free is set so that the
result matches the images' mean (outside the mask, for cloning). The classical least-squares
solution of the same composite (DCT) is computed beside it and the difference reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sirenkit.engine.config import TrainConfig, at_family_rate
from sirenkit.engine.kinds import Fitted
from sirenkit.engine.runs import fit_signal
from sirenkit.metrics import psnr, ssim
from sirenkit.networks.config import NetworkConfig
from sirenkit.signals.image.data import ImageSignal, grid_spacing, image_gradient, load_image
from sirenkit.signals.image.kind import ImageKind, finite_difference_maps
from sirenkit.studies.classical import integrate_gradient
from sirenkit.studies.poisson import align_constant, derivative_problem, poisson_network, poisson_train_config

Mode = Literal["average", "mixed", "clone"]
MODES = ("average", "mixed", "clone")

FUSION_SEGMENT_WEIGHT = 0.01
"""The line integrals' weight for fusion, whose composite field is not the gradient of any image:
the weight fusion's figures were measured with (the Poisson default, 1, is untried there)."""


def _matching_channels(a: ImageSignal, b: ImageSignal) -> tuple[np.ndarray, np.ndarray, str]:
    """Both images' colour channels (alpha dropped), grey promoted to RGB if the other is colour."""
    def colour(signal: ImageSignal) -> np.ndarray:
        return signal.pixels[:, :, :3] if signal.channels in (3, 4) else signal.pixels[:, :, :1]

    pa, pb = colour(a), colour(b)
    if pa.shape[2] != pb.shape[2]:
        pa, pb = (np.repeat(p, 3, axis=2) if p.shape[2] == 1 else p for p in (pa, pb))
    return pa, pb, "L" if pa.shape[2] == 1 else "RGB"


def load_mask(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """A binary mask `(H, W)` of booleans from an image file of the given shape."""
    signal = load_image(path)
    values = signal.pixels[:, :, 0]
    levels = np.unique(values)
    if len(levels) > 2 or (len(levels) == 2 and levels[0] != 0.0):
        raise ValueError(f"{path}: the mask must be a binary image (black and white only), "
                         f"found {len(levels)} grey levels")
    if signal.shape != shape:
        raise ValueError(f"{path}: the mask is {signal.shape[1]}×{signal.shape[0]}, "
                         f"the image it cuts out is {shape[1]}×{shape[0]}")
    mask = values > 0
    if not mask.any():
        raise ValueError(f"{path}: the mask is empty")
    return mask


def composite_gradient(
    a: np.ndarray, b: np.ndarray, mode: Mode, *, mask: np.ndarray | None = None,
    at: tuple[int, int] = (0, 0),
) -> tuple[np.ndarray, np.ndarray]:
    """The composite field `(H, W, C, 2)` of images `a` and `b` (`(H, W, C)` in [0, 1]),
    and the weight map `(H, W)` of pixels whose mean the result should match.

    For `clone`, `b` and `mask` (`(h, w)`) are placed with their top-left corner at
    `at = (x, y)` on `a`.
    """
    if mode not in MODES:
        raise ValueError(f"unknown fusion mode {mode!r}; expected one of {', '.join(MODES)}")
    spacing = grid_spacing(a.shape[:2])
    grad_a = image_gradient(a, spacing)
    if mode == "clone":
        if mask is None:
            raise ValueError("clone needs a mask (--mask)")
        x, y = at
        height, width = mask.shape
        if x < 0 or y < 0 or y + height > a.shape[0] or x + width > a.shape[1]:
            raise ValueError(f"the mask ({width}×{height}) placed at {x},{y} falls outside the first image "
                             f"({a.shape[1]}×{a.shape[0]})")
        grad_b = image_gradient(b, spacing)
        composite = grad_a.copy()
        region = composite[y : y + height, x : x + width]
        region[mask] = grad_b[mask]
        outside = np.ones(a.shape[:2], dtype=bool)
        outside[y : y + height, x : x + width][mask] = False
        return composite, outside.astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"the images differ in size ({a.shape[1]}×{a.shape[0]} and {b.shape[1]}×{b.shape[0]}); "
                         f"pass --resize to resample the second")
    grad_b = image_gradient(b, spacing)
    if mode == "average":
        return 0.5 * (grad_a + grad_b), np.ones(a.shape[:2])
    stronger_b = np.linalg.norm(grad_b, axis=-1) > np.linalg.norm(grad_a, axis=-1)  # (H, W, C)
    return np.where(stronger_b[..., None], grad_b, grad_a), np.ones(a.shape[:2])


def set_mean(estimate: np.ndarray, reference: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Shift each channel of `estimate` so that its weighted mean equals `reference`'s."""
    w = weights[:, :, None] / weights.sum()
    return estimate + ((reference - estimate) * w).sum(axis=(0, 1), keepdims=True)


def fuse_images(
    first: str | Path,
    second: str | Path,
    mode: Mode = "average",
    *,
    mask: str | Path | None = None,
    at: tuple[int, int] = (0, 0),
    size: int | None = None,
    resize: bool = False,
    network: NetworkConfig | None = None,
    network_settings: Mapping[str, Any] | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    segment_weight: float = FUSION_SEGMENT_WEIGHT,
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Fitted:
    """Fuse two images in the gradient domain and, with `out`, write the run folder.

    A network is fitted to a composite of the two images' gradient fields (see the modes below);
    `metrics['psnr_vs_classical']` compares its result with the DCT least-squares solution of the
    same composite. This is `sirenkit fuse`.

    Args:
        first: The first image (a file or a bundled image name).
        second: The second image.
        mode: `"average"` (the paper's fusion, the mean of both gradients), `"mixed"` (per pixel
            and channel the stronger gradient, which keeps the texture of both) or `"clone"`
            (seamless cloning: the second image's gradient inside `mask`, the first's outside).
        mask: A black-and-white image, white where the second image is pasted; required for
            `"clone"`.
        at: Where the top-left corner of the second image and its mask go on the first, `(x, y)`
            in pixels (`"clone"`).
        size: Scale the first image's longer side to this many pixels.
        resize: For `"average"` and `"mixed"`, resample the second image to the first's size
            instead of refusing images of different sizes.
        network: The network to fit (its outputs must match the fused channels); `None` builds the
            image default of `model`.
        network_settings: Settings changed in the default network (width, layers, ω0, ...); not
            with `network`.
        train: The training recipe; `None` is the gradient-domain recipe at the family's rate.
        model: The network family, used when `network` is `None`.
        segment_weight: The weight of the multiscale line integrals of the composite field.
        out: The run folder to write; `None` writes nothing.
        resume: Continue the run saved in `out` from its checkpoint.
        overwrite: Replace a run already in `out`.
        progress: Show a progress bar.

    Returns:
        The fitted network with its metrics; `products["reconstruction"]` is the fused image.

    Raises:
        ValueError: An unknown `mode`, `"clone"` without a mask, a mask that falls outside the
            first image, images of different sizes without `resize`, both images constant, or
            `network` together with `network_settings`.
        TrainingDiverged: The loss became NaN or infinite.
        TrainingInterrupted: Ctrl-C or SIGTERM stopped the fit; with `out`, its checkpoint is there.
    """
    if mode not in MODES:
        raise ValueError(f"unknown fusion mode {mode!r}; expected one of {', '.join(MODES)}")
    if network is not None and network_settings:
        raise ValueError("pass a network or network settings, not both")
    image_a = load_image(first, size=size)
    image_b = load_image(second)
    if mode != "clone" and image_a.shape != image_b.shape:
        if not resize:
            raise ValueError(f"{first} is {image_a.shape[1]}×{image_a.shape[0]} but {second} is "
                             f"{image_b.shape[1]}×{image_b.shape[0]}; pass --resize to resample the second")
        from skimage.transform import resize as resample

        image_b.pixels = np.clip(resample(image_b.pixels, image_a.shape + (image_b.channels,), order=3,
                                          anti_aliasing=True), 0, 1).astype(np.float32)
    mask_array = load_mask(mask, image_b.shape) if mask is not None else None
    if mode == "clone" and mask_array is None:
        raise ValueError("clone needs a mask (--mask FILE, white where the second image is pasted)")
    a, b, colour_mode = _matching_channels(image_a, image_b)
    composite, weights = composite_gradient(a, b, mode, mask=mask_array, at=at)
    if not np.any(composite):
        raise ValueError(f"{first}, {second}: both images are constant, the composite gradient is zero")
    reference = a if mode == "clone" else 0.5 * (a + b)  # the mean the result should keep

    signal = ImageSignal(pixels=a, name=f"{Path(str(first)).name}+{Path(str(second)).name}", mode=colour_mode,
                         original_shape=image_a.shape)
    kind = ImageKind.describe(signal)
    network = network or poisson_network(signal, model, **dict(network_settings or {}))
    train = train or at_family_rate(poisson_train_config("gradient"), network.model,
                                  network.hidden_features)
    spacing = grid_spacing(signal.shape)
    classical = np.clip(set_mean(integrate_gradient(composite, spacing), reference, weights), 0, 1)
    settings = {"first": str(first), "second": str(second), "mode": mode, "mask": str(mask) if mask else None,
                "at": list(at), "size": size, "resize": resize, "segment_weight": segment_weight}

    def measure(raw: np.ndarray, *, final: bool = True) -> dict[str, Any]:
        aligned = align_constant(raw, classical)
        if not final:  # the progress curve: agreement with the classical solution
            return {"psnr": psnr(aligned, classical)}
        return {
            "mode": mode,
            "psnr_vs_classical": psnr(aligned, classical),
            "ssim_vs_classical": ssim(aligned, classical),
            "alignment": "constant",
            "alignment_description": "for the comparison with the classical solution, the mean difference "
                                     "is subtracted per channel",
            "classical_method": "least-squares integration of the same composite by DCT (sirenkit.studies.classical)",
            "mean_convention": "outside the mask equal to the first image's" if mode == "clone"
                               else "equal to the mean of both images",
        }

    def write(fitted: Fitted, out: Path) -> None:
        rows = [("first image", *finite_difference_maps(a, colour_mode)),
                ("second image", *finite_difference_maps(b, colour_mode)),
                ("classical (DCT)", *finite_difference_maps(classical, colour_mode))]
        kind.write_run(fitted, signal, out, reference_rows=rows,
                       label=f"{fitted.metrics['psnr_vs_classical']:.1f} dB vs classical",
                       title=f"{mode} gradient fusion", curve="PSNR against the classical solution (dB)",
                       curve_title="PSNR against the classical solution")

    return fit_signal(kind, signal, network=network, train=train,
                      problem=lambda device: derivative_problem(composite, "gradient", batch_size=train.batch_size,
                                                                device=device, segment_weight=segment_weight),
                      sampling={"clip": False}, measure=measure,
                      products=lambda raw: {"raw": raw,
                                            "reconstruction": np.clip(set_mean(raw, reference, weights), 0, 1)},
                      write=write, task="fusion", settings=settings,
                      out=out, resume=resume, overwrite=overwrite, progress=progress)
