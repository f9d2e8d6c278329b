"""The configuration of a coordinate network: one frozen dataclass, written into every run folder."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from sirenkit.config import check_field_types, check_positive

ModelName = str
"""The name of a registered network family (`sirenkit.networks.family`)."""


MODEL_NAMES: tuple[str, ...] = ("siren", "relu", "relu-pe", "rff", "tanh")
"""The paper's families (`siren` and its four baselines); [`model_names`][sirenkit.model_names]
lists every registered one.
"""

SHARED_FIELDS = ("in_features", "out_features", "model", "hidden_features", "hidden_layers", "pe_sidelength")
"""The settings every family has (`pe_sidelength` describes the signal: its samples along the
longest axis); the others belong to families, each to those that read it
([`config_fields`][sirenkit.NetworkFamily.config_fields])."""


@dataclass(frozen=True)
class NetworkConfig:
    """A coordinate network: `in_features` coordinates in, `out_features` values out.

    A frozen dataclass, written into every run folder. Besides the settings every family has
    (`in_features`, `out_features`, `model`, `hidden_features`, `hidden_layers`, `pe_sidelength`),
    each family reads only its own; setting another family's is refused.

    Raises:
        ValueError: An unknown `model`, a setting of another family, or a size or scale out of
            range.

    Example:
        ```python
        from sirenkit import NetworkConfig, build_network

        config = NetworkConfig(in_features=2, out_features=3, hidden_features=128, first_omega=60.0)
        network = build_network(config, seed=0)
        ```
    """

    in_features: int
    """Dimension of the coordinates (2 for images, 1 for audio, 3 for video and shapes)."""
    out_features: int
    """Number of output values per point (1 for grey, 3 for RGB, ...)."""
    model: ModelName = "siren"
    """Network family, any registered one (`sirenkit.networks.family`): `siren` (sine
    activations), or one of the paper's baselines: `relu` (plain ReLU MLP), `relu-pe` (ReLU on
    NeRF-style positional encoding), `rff` (ReLU on Gaussian random Fourier features), `tanh`."""
    hidden_features: int = 256
    """Width of every hidden layer."""
    hidden_layers: int = 4
    """Number of hidden (non-linear) layers, the first one, which takes the coordinates,
    included. A linear output layer follows. The paper's image network has 4."""
    first_omega: float = 30.0
    """SIREN and FINER: ω0 of the first layer, `sin(ω0 (W x + b))`. Signal dependent: 30 for
    images on [-1, 1]; the paper's audio recipe is equivalent to 3000."""
    hidden_omega: float = 30.0
    """SIREN and FINER: ω0 of the hidden layers. Keep 30, the paper's value for every task."""
    weight_scale: float = 1.0
    """SIREN and FINER: the hidden layers' weights are multiplied by this at initialisation
    (weight scaling, Yeom, Lee and Lee, ICLR 2025; the first layer is left to ω0, the output layer
    as the paper draws it). 1: the paper's initialisation. A factor above 1 widens each hidden
    pre-activation to N(0, α²), whose sines carry more of their input's harmonics: the untrained
    network already holds higher frequencies. No task sets it: on photos, on top of the ω0 the fit
    chooses, 2 reached 40 dB sooner on some and later on others, and 2.5 or 3 left fits stuck near
    the photo's mean (docs, "Images and speed")."""
    axis_scales: tuple[float, ...] = ()
    """SIREN and FINER: the first layer's weights on coordinate `j` are multiplied by
    `axis_scales[j]` at initialisation, as if that axis had been stretched by it: `2 / extent`
    puts a domain's every axis on [−1, 1] for ω0 (what the default recipe of
    [`solve`][sirenkit.solve] does, so that a long time axis does not start as oscillatory as a short
    space axis). Empty: no scaling (coordinates already on [−1, 1])."""
    pe_frequencies: int = 0
    """`relu-pe` only: number of octaves `k` of `sin(2^k π x), cos(2^k π x)`.
    0 picks the Nyquist rule of the paper's code from `pe_sidelength`."""
    pe_sidelength: int = 256
    """Number of samples along the longest axis: `relu-pe` sets its octaves from it when
    `pe_frequencies` is 0, `hash-grid` its finest level, `grid` its resolution when
    `grid_resolution` is 0."""
    rff_features: int = 256
    """`rff` only: number of random frequencies (the encoding has twice as many features)."""
    rff_scale: float = 10.0
    """`rff` only: standard deviation σ of the random frequencies `B ~ N(0, σ²)`."""
    rff_seed: int = 0
    """`rff` only: seed of the random frequencies, so that a saved model rebuilds exactly."""
    first_bias_scale: float = 20.0
    """`finer` only: the first layer's biases are drawn from `U(−k, k)` with this `k`, which
    spreads the first layer's local frequencies `ω0 (2|z| + 1)` (Liu et al. 2024)."""
    gauss_scale: float = 10.0 * math.sqrt(2.0)
    """`gauss` only: `s` of the activation `exp(−(s z)² / 2)`; the default is WIRE's benchmark
    setting `exp(−(10 z)²)`."""
    wire_omega: float = 20.0
    """`wire` only: ω0 of the Gabor wavelet `exp(i ω0 z − |s0 z|²)` (the authors' default)."""
    wire_scale: float = 10.0
    """`wire` only: s0 of the Gabor wavelet, its Gaussian window (10: the authors' default; a WIRE
    network for an image takes 20, the family's default there, which trained faster on photos)."""
    first_scale: float = 1.0
    """`gauss` and `wire` only: the first layer's pre-activation `W x + b` is multiplied by it,
    the part ω0 plays in a SIREN's first layer (their own frequency, `gauss_scale` or
    `wire_omega`, acts on every layer alike). 1: the authors' networks. On 3 s of music, the
    SIREN's stretch (100) made WIRE worse and Gauss no better, so no task sets it."""
    grid_levels: int = 16
    """`hash-grid` only: number of resolution levels, from `grid_base_resolution` to the
    signal's sample count (`pe_sidelength`) in a geometric progression."""
    grid_features: int = 2
    """`hash-grid` only: features per level."""
    grid_table_size: int = 2**14
    """`hash-grid` only: entries of each level's table; a level with fewer grid nodes indexes
    them directly instead of hashing."""
    grid_base_resolution: int = 16
    """`hash-grid` only: cells along each axis of the coarsest level."""
    grid_resolution: int = 0
    """`grid` only: nodes along each axis of the dense grid; 0: one per sample
    (`pe_sidelength`)."""

    def __repr__(self) -> str:
        """The shared settings and the family's own (those of other families mean nothing here)."""
        shown = (*SHARED_FIELDS, *family_fields(self.model))
        return f"NetworkConfig({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"

    def __post_init__(self) -> None:
        from sirenkit.networks.registry import FAMILIES, get_family

        family = get_family(self.model)  # an unknown name is a ValueError listing the registered ones
        own = family_fields(self.model)
        for field in dataclasses.fields(self):
            if field.name not in SHARED_FIELDS and field.name not in own and getattr(self, field.name) != field.default:
                owners = ", ".join(other.name for other in FAMILIES.values() if field.name in family_fields(other.name))
                raise ValueError(f"{field.name} is not a setting of a {family.name} network (it is one of "
                                 f"{owners or 'no registered family'})")
        for name in ("in_features", "out_features", "hidden_features", "hidden_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("first_omega", "hidden_omega", "weight_scale", "rff_scale", "first_bias_scale", "gauss_scale",
                     "wire_omega", "wire_scale", "first_scale"):
            check_positive(name, getattr(self, name))
        object.__setattr__(self, "axis_scales", tuple(float(value) for value in self.axis_scales))
        if self.axis_scales:
            if len(self.axis_scales) != self.in_features:
                raise ValueError(f"axis_scales needs one factor per coordinate ({self.in_features}), "
                                 f"got {len(self.axis_scales)}")
            for value in self.axis_scales:
                check_positive("each of axis_scales", value)
        for name in ("grid_levels", "grid_features", "grid_table_size", "grid_base_resolution"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.grid_resolution < 0 or self.grid_resolution == 1:
            raise ValueError(f"grid_resolution must be 0 (one node per sample) or at least 2, "
                             f"got {self.grid_resolution}")
        if self.pe_frequencies < 0 or self.pe_sidelength < 1:
            raise ValueError(f"pe_frequencies must be 0 or more and pe_sidelength at least 1, "
                             f"got {self.pe_frequencies} and {self.pe_sidelength}")


def family_fields(model: str) -> tuple[str, ...]:
    """The settings of [`NetworkConfig`][sirenkit.NetworkConfig] beyond `SHARED_FIELDS` that a `model` network
    reads (its family's [`config_fields`][sirenkit.NetworkFamily.config_fields]; all of them
    for a family that does not say)."""
    from sirenkit.networks.registry import get_family

    declared = get_family(model).config_fields
    if declared is None:
        return tuple(field.name for field in dataclasses.fields(NetworkConfig) if field.name not in SHARED_FIELDS)
    return declared


def network_to_dict(config: NetworkConfig) -> dict[str, Any]:
    """The JSON of `config` in a run folder: the shared settings, then one section named after
    the family holding its own settings and no other family's (`{"model": "siren", ...,
    "siren": {"first_omega": 30.0, "hidden_omega": 30.0}}`)."""
    values = {name: getattr(config, name) for name in SHARED_FIELDS}
    values[config.model] = {name: getattr(config, name) for name in family_fields(config.model)
                            if name not in OMITTED_WHEN_EMPTY or getattr(config, name)}
    return values


OMITTED_WHEN_EMPTY = ("axis_scales",)
"""Settings written only when they are set, so that a network without them is described as before."""


def network_config_from_dict(values: dict[str, Any]) -> NetworkConfig:
    """Rebuild a [`NetworkConfig`][sirenkit.NetworkConfig] from the JSON of a run folder.

    Reads the form sirenkit writes (the shared settings, then one section named after the family
    with its own settings) and the flat form of sirenkit 0.1 (every family's settings side by side,
    of which the family's own are kept: the others never had an effect).

    Args:
        values: The `network` entry of `config.json` or `model.json`.

    Returns:
        The configuration.

    Raises:
        ValueError: Unknown keys (an error, not silently dropped), or settings outside the family's
            section.
    """
    known = {f.name for f in dataclasses.fields(NetworkConfig)}
    model = values.get("model", "siren")
    section = values.get(model) if isinstance(model, str) else None
    if isinstance(section, dict):  # by family: the shared settings, then the family's section
        misplaced = sorted(set(values) - {*SHARED_FIELDS, model})
        if misplaced:
            raise ValueError(f"network settings outside the {model} section: {', '.join(misplaced)}")
        values = {**{key: value for key, value in values.items() if key != model}, **section}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown network settings: {', '.join(unknown)}")
    own = set(SHARED_FIELDS) | set(family_fields(model)) if isinstance(model, str) and model else known
    check_field_types(NetworkConfig, values, "network")
    return NetworkConfig(**{key: value for key, value in values.items() if key in own})
