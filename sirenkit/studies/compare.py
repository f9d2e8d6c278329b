"""Every network family fitted to one image under one budget, side by side (`sirenkit compare`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sirenkit.config import replace
from sirenkit.engine.config import TrainConfig, at_family_rate
from sirenkit.engine.frequency import default_frequency
from sirenkit.engine.kinds import Fitted
from sirenkit.engine.parallel import writes_here
from sirenkit.figures import image_rows_figure
from sirenkit.io import write_json
from sirenkit.networks.build import network_for_budget, parameter_count
from sirenkit.networks.config import MODEL_NAMES
from sirenkit.networks.registry import get_family, model_names
from sirenkit.signals.image.data import ImageSignal, load_image
from sirenkit.signals.image.fit import derivative_maps, fit_image, image_train_config
from sirenkit.signals.image.kind import IMAGE_BATCH, ImageKind, finite_difference_maps  # noqa: F401  (IMAGE_BATCH: the recipe's, here too)

logger = logging.getLogger("sirenkit")


COMPARE_SIZE = 128
"""Longer side of the image `sirenkit compare` fits (five networks: it should not take long)."""


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
    """Fit SIREN and each baseline to one image with the same parameter budget and the same steps.

    The budget is SIREN's default image network (with `network_settings` changed); every other
    family gets the size of its kind that holds as many parameters. Each family learns at its
    multiple of SIREN's rate at its size ([`rate_factor`][sirenkit.NetworkFamily.rate_factor]),
    and its frequency is what [`fit_image`][sirenkit.fit_image] would use: a SIREN's chosen from
    the image unless `network_settings` give `first_omega`; the others' their authors' values. This
    is `sirenkit compare`.

    Args:
        source: The image: a file, a bundled image name or an [`ImageSignal`][sirenkit.ImageSignal].
        models: The families to compare (see [`model_names`][sirenkit.model_names]).
        size: Scale the image's longer side to this many pixels.
        train: SIREN's recipe; `None` is the image recipe.
        network_settings: Settings changed in SIREN's default network, such as `hidden_features`.
        out: The folder for the comparison: one run folder per family, `comparison.png` (rows =
            models; columns = image, gradient, Laplacian) and `comparison.json`; `None` writes
            nothing.
        overwrite: Replace the runs of an earlier comparison in `out`.
        progress: Show a progress bar.

    Returns:
        One fitted network per family, in the order of `models`.

    Raises:
        ValueError: An unknown family in `models`, or none.
    """
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
        family = get_family(name)
        network = replace(reference, model=name, **{**family.defaults, **family.kind_defaults.get(kind.name, {})})
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
