"""How a run's options become its configuration: the training over a task's recipe, the network
settings over a task's network, the frequency a fit chooses.

The `sirenkit` command applies exactly these functions to what it parses, so that a Python
caller who gives the same options gets the same run: a time budget without a step count leaves the
steps unlimited, a new run's learning rate is the recipe's at the family's rate, a resumed run keeps
the training its folder recorded, and a family's own setting given to another family is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from sirenkit.config import replace
from sirenkit.engine.config import UNLIMITED_STEPS, TrainConfig, at_family_rate
from sirenkit.engine.frequency import Frequency, default_frequency
from sirenkit.networks.registry import FAMILIES, get_family

FAMILY_SETTINGS = ("weight_scale", "first_bias_scale", "wire_scale", "grid_table_size", "grid_resolution")
"""The [`NetworkConfig`][sirenkit.NetworkConfig] settings that belong to some families only
([`settings`][sirenkit.NetworkFamily.settings]) and `network_settings` takes."""


def saved_train(run: str | Path) -> TrainConfig | None:
    """The training configuration recorded in the run folder `run` (its `config.json`), or
    None where there is none to read: the fit that resumes names the problem (no checkpoint, an
    unreadable configuration). Fields this version does not know are left out."""
    try:
        values = json.loads((Path(run) / "config.json").read_text())["train"]
        known = {name for name in TrainConfig.__dataclass_fields__}
        return TrainConfig(**{key: value for key, value in values.items() if key in known})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def train_config(
    recipe: TrainConfig | None = None,
    *,
    resume_from: str | Path | None = None,
    model: str | None = None,
    width: int | None = None,
    steps: int | None = None,
    time_budget: float | None = None,
    until: float | None = None,
    learning_rate: float | None = None,
    batch_size: int | None = None,
    precision: Literal["float32", "bfloat16", "auto"] | None = None,
    seed: int | None = None,
    snapshots: tuple[int, ...] | None = None,
    image_every: int | None = None,
    tensorboard: bool | None = None,
    device: str | None = None,
    compile: bool | Literal["auto"] | None = None,
    threads: int | Literal["auto"] | None = None,
) -> TrainConfig:
    """The training of a run: a task's `recipe` (a [`TrainConfig`][sirenkit.TrainConfig] made for a SIREN; None:
    the defaults) with the options given changed, and only those (None leaves a field as the recipe
    has it).

    - `resume_from`: the folder of a run being resumed; the training it recorded
      (`saved_train`) replaces the recipe, as it stands, so that the run goes on with its
      own schedule and step count unless told otherwise. Where none can be read, the recipe holds.
    - `model`, `width`: the network's family and hidden width. Without `learning_rate`, a new
      run learns at the recipe's rate times the family's factor
      ([`rate_factor`][sirenkit.NetworkFamily.rate_factor]: a grid learns at many times a
      SIREN's rate); `learning_rate` is taken as it is.
    - `steps`, `time_budget`: a budget without a step count leaves the steps unlimited
      (`UNLIMITED_STEPS`), so that the budget decides; a step count without a budget drops
      the recipe's budget, so that the run takes exactly those steps; with both, whichever comes
      first.
    - The rest set the [`TrainConfig`][sirenkit.TrainConfig] field of their name.
    """
    saved = saved_train(resume_from) if resume_from is not None else None
    train = saved or recipe or TrainConfig()
    if saved is None and learning_rate is None and model:
        train = at_family_rate(train, model, width)
    if steps is None and time_budget is not None:
        steps = UNLIMITED_STEPS
    if steps is not None and time_budget is None:
        train = replace(train, time_budget=None)
    chosen = {"steps": steps, "learning_rate": learning_rate, "batch_size": batch_size, "precision": precision,
              "time_budget": time_budget, "until": until, "seed": seed, "snapshots": snapshots,
              "image_every": image_every, "tensorboard": tensorboard, "device": device, "compile": compile,
              "threads": threads}
    return replace(train, **{key: value for key, value in chosen.items() if value is not None})


def network_settings(
    model: str,
    *,
    hidden_features: int | None = None,
    hidden_layers: int | None = None,
    frequency: float | Literal["auto"] | None = None,
    weight_scale: float | None = None,
    first_bias_scale: float | None = None,
    wire_scale: float | None = None,
    grid_table_size: int | None = None,
    grid_resolution: int | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The [`NetworkConfig`][sirenkit.NetworkConfig] settings given for a `model` network,
    as keyword arguments for a task's network (`image_network(signal, model, **settings)`);
    those left out (None) stay the task's.

    `frequency` sets the family's frequency, whatever its name
    ([`frequency`][sirenkit.NetworkFamily.frequency]: SIREN's `first_omega`, WIRE's
    `wire_omega`, ...); `"auto"` sets none, the fit choosing it from the signal
    (`frequency_choice`). A family without a frequency refuses either, with a
    `ValueError`, as every family refuses a setting of `FAMILY_SETTINGS` that is not its
    own. `labels` name the options in these messages (the command line's `--omega`, ...), by
    setting (`"frequency"` for the frequency); by default, the setting's own name.
    """
    family = get_family(model)
    names = dict(labels or {})
    given: dict[str, Any] = {"hidden_features": hidden_features, "hidden_layers": hidden_layers}
    if frequency is not None:
        if family.frequency is None:
            raise ValueError(f"{names.get('frequency', 'frequency')} does not apply to a {family.name} network: "
                             "it has no frequency to set")
        if frequency != "auto":
            given[family.frequency] = frequency
    own = {"weight_scale": weight_scale, "first_bias_scale": first_bias_scale, "wire_scale": wire_scale,
           "grid_table_size": grid_table_size, "grid_resolution": grid_resolution}
    for setting, value in own.items():
        if value is not None:
            if setting not in family.settings:
                owners = ", ".join(f.name for f in FAMILIES.values() if setting in f.settings)
                name = names.get(setting, setting)
                what = "it is" if name == setting else f"it sets {setting},"
                raise ValueError(f"{name} does not apply to a {family.name} network; {what} a setting of {owners}")
            given[setting] = value
    return {key: value for key, value in given.items() if value is not None}


def frequency_choice(model: str, frequency: float | Literal["auto"] | None) -> Frequency:
    """The `frequency` argument of a fit that may choose it (`fit_image`, `fit_audio`) for a
    frequency option: left out (None), the family's default (`default_frequency`: `"auto"`
    for `AUTO_BY_DEFAULT`, the network's own otherwise);
    `"auto"`, chosen from the signal; a number, None, for `network_settings` has already
    set it in the network."""
    if frequency is None:
        return default_frequency(model, "default")
    return "auto" if frequency == "auto" else None


__all__ = ["FAMILY_SETTINGS", "UNLIMITED_STEPS", "frequency_choice", "network_settings", "saved_train",
           "train_config"]
