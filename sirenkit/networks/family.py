"""Network families: each family is one module that registers a [`NetworkFamily`][sirenkit.NetworkFamily].

A family declares everything generic code may need to know about its networks, so that no
generic module tests a network's type:

- how a network is built from a [`NetworkConfig`][sirenkit.NetworkConfig] (and so its parameter
  count, counted on PyTorch's `meta` device without allocating the weights);
- how its derivatives with respect to the coordinates are computed: a closed-form engine
  (SIREN's forward and adjoint passes) or nested autograd, the generic fallback;
- whether its second derivatives mean anything (those of a ReLU network are zero almost
  everywhere, so a Laplacian constraint on one can only mislead);
- whether a derivative-constrained training step can be compiled (`torch.compile` cannot
  differentiate an autograd derivative a second time);
- its precision policy: whether its hidden layers may run in bfloat16.

A new family is one module: build an `nn.Module` whose `config` attribute is its
`NetworkConfig`, then `register_family(NetworkFamily("name", build=..., summary=...))`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, overload

import torch
from torch import nn

if TYPE_CHECKING:
    from sirenkit.networks.config import NetworkConfig
    from sirenkit.networks.derivatives import Derivatives
from sirenkit.networks.registry import FAMILIES


class Linears(nn.ModuleList):
    """A stack of `nn.Linear` layers, typed as such (a plain `ModuleList` yields `Module`)."""

    def __init__(self, layers: Iterable[nn.Linear]) -> None:
        super().__init__(layers)

    def __iter__(self) -> Iterator[nn.Linear]:
        return iter(self._modules.values())  # type: ignore[arg-type]

    @overload
    def __getitem__(self, index: slice) -> Linears: ...

    @overload
    def __getitem__(self, index: int) -> nn.Linear: ...

    def __getitem__(self, index: int | slice) -> nn.Linear | Linears:
        return super().__getitem__(index)  # type: ignore[return-value]

    @classmethod
    def of_sizes(cls, sizes: list[int]) -> Linears:
        """Layers `sizes[0] → sizes[1] → ... → sizes[-1]`."""
        return cls(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))


class DerivativeEngine(Protocol):
    """A family's closed-form derivatives: the value at `coords: (N, d)` and what is asked for.

    `method` is `auto` or one of the family's [`NetworkFamily.methods`][sirenkit.NetworkFamily.methods]."""

    def __call__(self, model: nn.Module, coords: torch.Tensor, *, jacobian: bool, laplacian: bool, hessian: bool,
                 axes: tuple[int, ...], method: str) -> Derivatives: ...


@dataclass(frozen=True)
class NetworkFamily:
    """What generic code may ask of a family of networks: how to build one, its derivatives, its
    learning rate and frequency, its precision and compile policy.

    A frozen dataclass; [`register_family`][sirenkit.register_family] makes it known by its name.

    Raises:
        ValueError: A name with surrounding spaces, `second_derivatives=False` without
            `why_no_second_derivatives`, or a learning-rate factor that is not a positive number.

    Example:
        ```python
        from sirenkit import NetworkFamily, register_family

        register_family(NetworkFamily("sinc", build=SincNetwork, summary="MLP with sinc activations"))
        ```
    """

    name: str
    """The value of `NetworkConfig.model` and of `--model`."""
    build: Callable[[NetworkConfig], nn.Module]
    """A freshly initialised network (from the global RNG;
    [`sirenkit.build_network`][sirenkit.build_network] forks it)."""
    summary: str
    """One line for `--help` and the README."""
    derivatives: DerivativeEngine | None = None
    """Closed-form derivatives; `None`: nested autograd
    ([`sirenkit.autograd_derivatives`][sirenkit.autograd_derivatives])."""
    methods: tuple[str, ...] = ()
    """Names the engine takes as `method` besides `auto` (SIREN: `forward`, `adjoint`)."""
    second_derivatives: bool = True
    """Whether second derivatives (Laplacian, Hessian) carry information."""
    why_no_second_derivatives: str = ""
    """Why not, as it completes "the second derivatives of a NAME network ..." (`are zero almost
    everywhere`), shown to a user whose constraint asks for them anyway."""
    compiles_with_derivatives: bool | None = None
    """Whether a step whose loss uses derivatives can be compiled; `None`: where the derivatives
    are closed form (a double backward through autograd cannot be compiled)."""
    bfloat16: bool = True
    """Whether `precision="auto"` may run the hidden layers in bfloat16 where the hardware has it."""
    parameter_count: Callable[[NetworkConfig], int] | None = None
    """Parameters of a configuration; `None` counts those of a network built on the meta device."""
    frequency: str | None = None
    """The [`NetworkConfig`][sirenkit.NetworkConfig] setting that plays ω0's part (`--omega`): the
    first layer's ω0 of a SIREN, a Gaussian's bandwidth, ...; `None` where there is none."""
    audio_omega_factor: float = 1.0
    """On sound, the family's `first_omega` is a SIREN's (`audio_first_omega`)
    times this (where the family has a first ω0)."""
    learning_rate_factor: float = 1.0
    """The family's learning rate over a SIREN's in the same recipe: what a task's default rate is
    multiplied by where the user sets none (`--lr`), and what `compare` gives each family. From
    the image zoo's sweep (198k parameters, 256 px; docs, "Which network?"), which holds within a
    factor of three on sound and shapes and gets the grids' order of magnitude (×27, ×81) right
    everywhere, where one rate for all would starve them."""
    learning_rate_rule: Callable[[int], float] | None = None
    """The factor for a network of a given hidden width, where the family's best rate depends on
    its width (FINER's falls as the width grows); `None`:
    [`learning_rate_factor`][sirenkit.NetworkFamily.learning_rate_factor] at every width (the grids' factors
    held within a few tenths of a dB from 198k down to 20k parameters)."""
    kind_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Settings of the family's own for one kind of signal (by the kind's name), over its
    [`defaults`][sirenkit.NetworkFamily.defaults]; what a user sets still comes last."""
    settings: tuple[str, ...] = ()
    """The family's own [`NetworkConfig`][sirenkit.NetworkConfig] settings besides its frequency,
    which mean nothing to other families (a command line refuses them there)."""
    config_fields: tuple[str, ...] | None = None
    """Every [`NetworkConfig`][sirenkit.NetworkConfig] setting the family reads beyond the
    shared ones (`SHARED_FIELDS`): its section of `config.json`
    and `model.json`, and the only family settings a configuration of it may set. `None`: all of
    them (a family that does not say)."""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """Settings of [`NetworkConfig`][sirenkit.NetworkConfig] that the family's authors chose and a
    task's defaults should not override (a hash grid's small MLP); a user's settings still do."""
    for_budget: Callable[[NetworkConfig, int], NetworkConfig] | None = None
    """The configuration of about the given number of parameters; `None`: the hidden width that
    gives it (`sirenkit.networks.build.width_for_budget`)."""
    describe_size: Callable[[NetworkConfig], str] | None = None
    """What sets the family's size, for a table (a grid's nodes); `None`: `width×layers`."""

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip():
            raise ValueError(f"a family needs a name without surrounding spaces, got {self.name!r}")
        if not self.second_derivatives and not self.why_no_second_derivatives:
            raise ValueError(f"family {self.name!r}: say why its second derivatives are meaningless")
        if not (self.learning_rate_factor > 0 and math.isfinite(self.learning_rate_factor)):
            raise ValueError(f"family {self.name!r}: the learning-rate factor must be positive, "
                             f"got {self.learning_rate_factor!r}")

    def rate_factor(self, width: int | None = None) -> float:
        """The family's learning rate over a SIREN's, for a network of a given width.

        Args:
            width: The hidden width; `None` is the default network's.

        Returns:
            [`learning_rate_rule`][sirenkit.NetworkFamily.learning_rate_rule] of `width` where the
            family has one, [`learning_rate_factor`][sirenkit.NetworkFamily.learning_rate_factor]
            otherwise.
        """
        if width is None or self.learning_rate_rule is None:
            return self.learning_rate_factor
        return self.learning_rate_rule(width)

    @property
    def compiles_derivative_steps(self) -> bool:
        """Whether a step whose loss uses derivatives can be compiled:
        [`compiles_with_derivatives`][sirenkit.NetworkFamily.compiles_with_derivatives], or, where that
        is `None`, whether the derivatives are closed form.
        """
        if self.compiles_with_derivatives is None:
            return self.derivatives is not None
        return self.compiles_with_derivatives

    def size_of(self, config: NetworkConfig) -> str:
        """Describe the size of a network in the family's terms.

        Args:
            config: The network's configuration.

        Returns:
            `256×3` (hidden width × layers) for an MLP, what
            [`describe_size`][sirenkit.NetworkFamily.describe_size] says otherwise.
        """
        if self.describe_size is not None:
            return self.describe_size(config)
        return f"{config.hidden_features}×{config.hidden_layers}"

    def count_parameters(self, config: NetworkConfig) -> int:
        """Count the trainable parameters of a network of the family without allocating its weights.

        Args:
            config: The network's configuration.

        Returns:
            [`parameter_count`][sirenkit.NetworkFamily.parameter_count]'s answer, or the count of a
            network built on PyTorch's `meta` device.
        """
        if self.parameter_count is not None:
            return self.parameter_count(config)
        with torch.device("meta"):
            module = self.build(config)
        return sum(p.numel() for p in module.parameters() if p.requires_grad)


def mlp_parameter_count(config: NetworkConfig) -> int:
    """Parameters of a plain MLP of `config`'s sizes (`in → width × layers → out`, each layer with
    its bias): a family built of `Linears` counts in closed form, even for sizes no machine holds."""
    width = config.hidden_features
    return ((config.in_features + 1) * width + (config.hidden_layers - 1) * (width + 1) * width
            + (width + 1) * config.out_features)


def family_of(model: nn.Module) -> NetworkFamily | None:
    """Find the family of a network.

    Args:
        model: Any network.

    Returns:
        The family of a network built by sirenkit (by its `config.model`); `None` for a module of
        your own, which generic code treats through autograd.
    """
    from sirenkit.networks.config import NetworkConfig

    config = getattr(model, "config", None)
    if isinstance(config, NetworkConfig):
        return FAMILIES.get(config.model)
    return None


def closest_size(count: Callable[[int], int], parameters: int, largest: int) -> int:
    """The size in `1 .. largest` whose `count` (growing with the size) comes closest to
    `parameters`: a bisection for the smallest size that reaches it, then the nearer of it and
    the one below (a hidden width, a hash table's entries)."""
    low, high = 1, largest
    while low < high:
        middle = (low + high) // 2
        if count(middle) >= parameters:
            high = middle
        else:
            low = middle + 1
    below = max(1, low - 1)
    return below if abs(count(below) - parameters) < abs(count(low) - parameters) else low
