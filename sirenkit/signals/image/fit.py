"""Image fitting from a file or a bundled image: the image recipe, the planned fit
(`plan_image`) and the fit ([`fit_image`][sirenkit.fit_image]). The kind itself (coordinates, problem,
metrics, rendering, run folder) is [`sirenkit.ImageKind`][sirenkit.ImageKind]; the comparison
of network families on one image is `sirenkit.studies.compare`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sirenkit.engine.config import TrainConfig
from sirenkit.engine.frequency import Frequency, default_frequency, resolve_frequency
from sirenkit.engine.kinds import Fitted, register_plan
from sirenkit.engine.runs import FitPlan
from sirenkit.networks.config import NetworkConfig
from sirenkit.signals.image.data import ImageSignal, coordinate_grid, load_image
from sirenkit.signals.image.kind import IMAGE_BATCH, ImageKind, finite_difference_maps  # noqa: F401  (IMAGE_BATCH: the recipe's, here too)

logger = logging.getLogger("sirenkit")


ImageFit = Fitted
"""Another name of [`Fitted`][sirenkit.Fitted], the result of [`fit_image`][sirenkit.fit_image]
(one result type for every fit).
"""


def image_network(signal: ImageSignal, model: str = "siren", **settings: Any) -> NetworkConfig:
    """The paper's image network (2 → 256 × 4 → C) for `signal`, or a baseline of that size."""
    return ImageKind.describe(signal).network(model, **settings)


def image_train_config(signal: ImageSignal | None = None, *, precision: str = "auto",
                       device: str = "auto") -> TrainConfig:
    """sirenkit's default image recipe, for an image and the machine the fit will run on.

    Random subsets of 8,192 pixels per step where bfloat16 is native (4,096 in float32; every pixel
    when the image has fewer), 1,500 steps within a time budget of 85 seconds, Adam at 1e-3 with a
    cosine decay. The PSNR is logged every 25 steps, less often on large images.

    Args:
        signal: The image; `None` gives the recipe of an image larger than one batch.
        precision: `auto`, `float32` or `bfloat16`, resolved as the fit will resolve it.
        device: `auto`, `cpu` or `cuda`, resolved likewise.

    Returns:
        The recipe.
    """
    kind = (ImageKind(source="", shape=(1024, 1024), channels=1, mode="L", extent=(1.0, 1.0)) if signal is None
            else ImageKind.describe(signal))
    return kind.train_config(precision=precision, device=device)


@register_plan("image")
def plan_image(
    source: str | Path | ImageSignal,
    *,
    size: int | None = None,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    frequency: Frequency = "default",
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> FitPlan:
    """The fit of [`fit_image`][sirenkit.fit_image], planned ([`FitPlan`][sirenkit.FitPlan]): the input read and
    checked, nothing trained or written yet; `plan.run()` is [`fit_image`][sirenkit.fit_image]."""
    signal = source if isinstance(source, ImageSignal) else load_image(source, size=size)

    wanted = default_frequency(network.model if network is not None else model, frequency,
                               network_given=network is not None)

    def choose(network: NetworkConfig) -> tuple[NetworkConfig, dict[str, Any]]:
        return resolve_frequency(network, signal.pixels, lambda: coordinate_grid(signal.shape), wanted, run=out,
                                 resume=resume)

    return FitPlan(kind=ImageKind.describe(signal), signal=signal, network=network, train=train, model=model,
                   settings={"source": signal.name, "size": size}, choose_network=choose, out=out, resume=resume,
                   overwrite=overwrite, progress=progress)


def fit_image(
    source: str | Path | ImageSignal,
    *,
    size: int | None = None,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    frequency: Frequency = "default",
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Fitted:
    """Fit a network to an image and, with `out`, write the run folder.

    The run folder holds the model, `reconstruction.png`, `figure.png` (image, gradient and
    Laplacian of ground truth and fit), `psnr.png`, `metrics.json`, `history.json` and
    `config.json`. This is `sirenkit fit image`.

    Args:
        source: An image file (anything Pillow reads), a bundled image name (`camera`,
            `astronaut`, ...) or an [`ImageSignal`][sirenkit.ImageSignal] already loaded.
        size: Scale the longer side to this many pixels, keeping the aspect ratio; `None` keeps the
            image's size.
        network: The network to fit; `None` builds the image default of `model` for this image.
        train: The training recipe; `None` is sirenkit's image recipe
            ([`image_train_config`][sirenkit.image_train_config]) at the family's learning rate.
        model: The network family (`siren`, `relu`, `relu-pe`, `rff`, `tanh`, `finer`, `gauss`,
            `wire`, `hash-grid`, `grid`: [`model_names`][sirenkit.model_names]), used when
            `network` is `None`.
        frequency: The network's frequency (a SIREN's first ω0, its family's
            [`frequency`][sirenkit.NetworkFamily.frequency]): a number, `"auto"` to choose it from
            the image's spectrum before training (`sirenkit.engine.frequency`; `metrics.json`
            records the choice), or `None` for the network's own (the paper's 30 for a SIREN). Left
            out: `"auto"` for the SIREN sirenkit builds, and a `network` you pass keeps its own
            value.
        out: The run folder to write; `None` writes nothing.
        resume: Continue the run saved in `out` from its checkpoint.
        overwrite: Replace a run already in `out` (without it, such a folder is refused).
        progress: Show a progress bar.

    Returns:
        The fitted network with its kind, metrics (`psnr`, `ssim`, ...) and history.

    Raises:
        ValueError: The image cannot be read, an option is out of range, or `out` holds a run
            that neither `resume` nor `overwrite` was given for.
        TrainingDiverged: The loss became NaN or infinite.
        TrainingInterrupted: Ctrl-C or SIGTERM stopped the fit; with `out`, its checkpoint is there.

    Example:
        ```python
        import sirenkit

        fitted = sirenkit.fit_image("camera", size=256, out="runs/camera")
        print(fitted.metrics["psnr"])
        ```
    """
    return plan_image(source, size=size, network=network, train=train, model=model, frequency=frequency, out=out,
                      resume=resume, overwrite=overwrite, progress=progress).run()


def derivative_maps(fitted: Fitted) -> tuple[Any, Any, Any]:
    """The fitted image with the network's gradient-magnitude and Laplacian maps."""
    if not isinstance(fitted.kind, ImageKind):
        raise ValueError(f"{fitted.out}: holds a {fitted.kind.name} model, not an image")
    image = fitted.products["reconstruction"] if "reconstruction" in fitted.products else fitted.render()
    return (image, *fitted.kind.maps(fitted.model))
