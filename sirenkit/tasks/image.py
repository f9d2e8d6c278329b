"""Image fitting from a file or a bundled image, and the comparison of SIREN with the paper's
baselines at the same parameter budget. The kind itself (coordinates, problem, metrics, rendering,
run folder) is :class:`sirenkit.kinds.image.ImageKind`."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config import MODEL_NAMES, NetworkConfig, TrainConfig, replace
from ..families import at_family_rate, get_family, model_names
from ..figures import image_rows_figure
from ..fitting import fit_signal
from ..frequency import Frequency, default_frequency, resolve_frequency
from ..image import ImageSignal, coordinate_grid, load_image
from ..io import write_json
from ..kinds import Fitted
from ..kinds.image import IMAGE_BATCH, ImageKind, finite_difference_maps  # noqa: F401  (IMAGE_BATCH: the recipe's, here too)
from ..network import network_for_budget, parameter_count
from ..parallel import writes_here

logger = logging.getLogger("sirenkit")

COMPARE_SIZE = 128
"""Longer side of the image ``sirenkit compare`` fits (five networks: it should not take long)."""

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
    :attr:`~sirenkit.families.NetworkFamily.frequency`): a number, ``"auto"`` to choose it from
    the image's spectrum before training (:mod:`sirenkit.frequency`; ``metrics.json`` records the
    choice), or ``None`` for the network's own (the paper's 30 for a SIREN). Left out: ``"auto"``
    for the SIREN sirenkit builds, and a ``network`` you pass keeps its own value.
    """
    signal = source if isinstance(source, ImageSignal) else load_image(source, size=size)

    wanted = default_frequency(network.model if network is not None else model, frequency,
                               network_given=network is not None)

    def choose(network: NetworkConfig) -> tuple[NetworkConfig, dict[str, Any]]:
        return resolve_frequency(network, signal.pixels, lambda: coordinate_grid(signal.shape), wanted, run=out,
                                 resume=resume)

    return fit_signal(ImageKind.describe(signal), signal, network=network, train=train, model=model,
                      settings={"source": signal.name, "size": size}, choose_network=choose,
                      out=out, resume=resume, overwrite=overwrite, progress=progress)


def derivative_maps(fitted: Fitted) -> tuple[Any, Any, Any]:
    """The fitted image with the network's gradient-magnitude and Laplacian maps."""
    if not isinstance(fitted.kind, ImageKind):
        raise ValueError(f"{fitted.out}: holds a {fitted.kind.name} model, not an image")
    image = fitted.products["reconstruction"] if "reconstruction" in fitted.products else fitted.render()
    return (image, *fitted.kind.maps(fitted.model))


def compare_models(
    source: str | Path | ImageSignal,
    *,
    models: Sequence[str] = MODEL_NAMES,
    size: int | None = None,
    train: TrainConfig | None = None,
    network_settings: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> list[Fitted]:
    """Fit SIREN and each baseline with the same parameter budget (SIREN's default image network,
    with ``network_settings`` such as ``hidden_features`` changed) and the same steps; with
    ``out``, write each run folder, ``comparison.png`` (rows = models; columns = image, gradient,
    Laplacian) and ``comparison.json`` (``overwrite`` replaces the runs of an earlier comparison).
    ``train`` is SIREN's recipe (by default the image recipe); each other family learns at its
    multiple of its rate at its size (:meth:`~sirenkit.families.NetworkFamily.rate_factor`).
    Each family's frequency is what :func:`fit_image` would use: a SIREN's chosen from the image
    unless ``network_settings`` give ``first_omega``; the others' their authors' values."""
    known = model_names()
    unknown = [m for m in models if m not in known]
    if unknown or not models:
        raise ValueError(f"unknown models {', '.join(unknown) or '(none given)'}; expected some of {', '.join(known)}")
    signal = source if isinstance(source, ImageSignal) else load_image(source, size=size)
    kind = ImageKind.describe(signal)
    reference = kind.network("siren", **dict(network_settings or {}))
    budget = parameter_count(reference)
    out_path = Path(out) if out is not None else None
    fits = []
    for name in models:
        network = replace(reference, model=name, **get_family(name).defaults)
        if name != "siren":
            network = network_for_budget(network, budget)
        logger.info("fitting %s (%d parameters)", name, parameter_count(network))
        given = get_family(name).frequency in dict(network_settings or {})
        frequency = None if given else default_frequency(name, "default")
        recipe = at_family_rate(train or image_train_config(signal), name, network.hidden_features)
        fits.append(fit_image(signal, network=network, train=recipe, frequency=frequency,
                              out=out_path / name if out_path else None, overwrite=overwrite, progress=progress))
    if out_path is not None and writes_here():  # under torchrun, rank 0 writes
        rows = [("ground truth", *finite_difference_maps(signal.pixels, signal.mode))]
        rows += [(f"{f.network.model}\n{f.metrics['psnr']:.2f} dB", *derivative_maps(f)) for f in fits]
        image_rows_figure(rows, out_path / "comparison.png",
                          title=f"same budget (~{budget:,} parameters), {fits[0].metrics['steps']} steps")
        write_json(out_path / "comparison.json", [comparison_row(f) for f in fits])
    return fits


def comparison_row(fitting: Fitted) -> dict[str, Any]:
    """One line of the comparison table."""
    keys = ("model", "parameters", "psnr", "ssim", "steps", "seconds")
    size = get_family(fitting.network.model).size_of(fitting.network)
    return {key: fitting.metrics[key] for key in keys} | {"size": size}
