"""Image fitting from a file or a bundled image: the image recipe, the planned fit
(:func:`plan_image`) and the fit (:func:`fit_image`). The kind itself (coordinates, problem,
metrics, rendering, run folder) is :class:`sirenkit.signals.image.kind.ImageKind`; the comparison
of network families on one image is :mod:`sirenkit.studies.compare`."""

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
"""The result of :func:`fit_image` (the one result type of every fit)."""


def image_network(signal: ImageSignal, model: str = "siren", **settings: Any) -> NetworkConfig:
    """The paper's image network (2 → 256 × 4 → C) for ``signal``, or a baseline of that size."""
    return ImageKind.describe(signal).network(model, **settings)


def image_train_config(signal: ImageSignal | None = None, *, precision: str = "auto",
                       device: str = "auto") -> TrainConfig:
    """sirenkit's default image recipe for ``signal`` in the arithmetic ``precision`` and
    ``device`` resolve to (:meth:`ImageKind.train_config`); without a signal, the recipe of an
    image larger than one batch."""
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
    """The fit of :func:`fit_image`, planned (:class:`~sirenkit.engine.runs.FitPlan`): the input read and
    checked, nothing trained or written yet; ``plan.run()`` is :func:`fit_image`."""
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
    """Fit a network to an image file or bundled image name and, with ``out``, write the run
    folder: model, ``reconstruction.png``, ``figure.png`` (image, gradient and Laplacian of
    ground truth and fit), ``psnr.png``, ``metrics.json``, ``history.json``, ``config.json``.

    ``frequency`` sets the network's frequency (a SIREN's first ω0, its family's
    :attr:`~sirenkit.networks.family.NetworkFamily.frequency`): a number, ``"auto"`` to choose it from
    the image's spectrum before training (:mod:`sirenkit.engine.frequency`; ``metrics.json`` records the
    choice), or ``None`` for the network's own (the paper's 30 for a SIREN). Left out: ``"auto"``
    for the SIREN sirenkit builds, and a ``network`` you pass keeps its own value.
    """
    return plan_image(source, size=size, network=network, train=train, model=model, frequency=frequency, out=out,
                      resume=resume, overwrite=overwrite, progress=progress).run()


def derivative_maps(fitted: Fitted) -> tuple[Any, Any, Any]:
    """The fitted image with the network's gradient-magnitude and Laplacian maps."""
    if not isinstance(fitted.kind, ImageKind):
        raise ValueError(f"{fitted.out}: holds a {fitted.kind.name} model, not an image")
    image = fitted.products["reconstruction"] if "reconstruction" in fitted.products else fitted.render()
    return (image, *fitted.kind.maps(fitted.model))
