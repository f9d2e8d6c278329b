"""Typed configuration: one dataclass for the network, one for training.

Every run folder holds the resolved configuration (``config.json``), so a result can be
reproduced from it; :func:`to_dict` and :func:`network_config_from_dict` are the round trip.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import math
import re
import textwrap
from dataclasses import dataclass
from typing import Any, Literal

ModelName = str
"""The name of a registered network family (:mod:`sirenkit.families`)."""
MODEL_NAMES: tuple[str, ...] = ("siren", "relu", "relu-pe", "rff", "tanh")
"""The built-in families; :func:`sirenkit.families.model_names` lists every registered one."""


def check_positive(name: str, value: float) -> None:
    """A ``ValueError`` naming ``name`` unless ``value`` is a finite number above 0 (NaN and
    infinity are not: they would train nothing, or diverge, under a misleading message)."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number above 0, got {value}")


@dataclass(frozen=True)
class NetworkConfig:
    """A coordinate network: ``in_features`` coordinates in, ``out_features`` values out."""

    in_features: int
    """Dimension of the coordinates (2 for images, 1 for audio, 3 for video and shapes)."""
    out_features: int
    """Number of output values per point (1 for grey, 3 for RGB, ...)."""
    model: ModelName = "siren"
    """Network family, any registered one (:mod:`sirenkit.families`): ``siren`` (sine
    activations), or one of the paper's baselines: ``relu`` (plain ReLU MLP), ``relu-pe`` (ReLU on
    NeRF-style positional encoding), ``rff`` (ReLU on Gaussian random Fourier features), ``tanh``."""
    hidden_features: int = 256
    """Width of every hidden layer."""
    hidden_layers: int = 4
    """Number of hidden (non-linear) layers, the first one, which takes the coordinates,
    included. A linear output layer follows. The paper's image network has 4."""
    first_omega: float = 30.0
    """SIREN and FINER: ω0 of the first layer, ``sin(ω0 (W x + b))``. Signal dependent: 30 for
    images on [-1, 1]; the paper's audio recipe is equivalent to 3000."""
    hidden_omega: float = 30.0
    """SIREN and FINER: ω0 of the hidden layers. Keep 30 (see DESIGN.md §1)."""
    pe_frequencies: int = 0
    """``relu-pe`` only: number of octaves ``k`` of ``sin(2^k π x), cos(2^k π x)``.
    0 picks the Nyquist rule of the paper's code from ``pe_sidelength``."""
    pe_sidelength: int = 256
    """Number of samples along the longest axis: ``relu-pe`` sets its octaves from it when
    ``pe_frequencies`` is 0, ``hash-grid`` its finest level, ``grid`` its resolution when
    ``grid_resolution`` is 0."""
    rff_features: int = 256
    """``rff`` only: number of random frequencies (the encoding has twice as many features)."""
    rff_scale: float = 10.0
    """``rff`` only: standard deviation σ of the random frequencies ``B ~ N(0, σ²)``."""
    rff_seed: int = 0
    """``rff`` only: seed of the random frequencies, so that a saved model rebuilds exactly."""
    first_bias_scale: float = 20.0
    """``finer`` only: the first layer's biases are drawn from ``U(−k, k)`` with this ``k``, which
    spreads the first layer's local frequencies ``ω0 (2|z| + 1)`` (Liu et al. 2024)."""
    gauss_scale: float = 10.0 * math.sqrt(2.0)
    """``gauss`` only: ``s`` of the activation ``exp(−(s z)² / 2)``; the default is WIRE's benchmark
    setting ``exp(−(10 z)²)``."""
    wire_omega: float = 20.0
    """``wire`` only: ω0 of the Gabor wavelet ``exp(i ω0 z − |s0 z|²)`` (the authors' default)."""
    wire_scale: float = 10.0
    """``wire`` only: s0 of the Gabor wavelet, its Gaussian window (the authors' default)."""
    first_scale: float = 1.0
    """``gauss`` and ``wire`` only: the first layer's pre-activation ``W x + b`` is multiplied by it,
    the part ω0 plays in a SIREN's first layer (their own frequency, ``gauss_scale`` or
    ``wire_omega``, acts on every layer alike). 1: the authors' networks. On 3 s of music, the
    SIREN's stretch (100) made WIRE worse and Gauss no better, so no task sets it."""
    grid_levels: int = 16
    """``hash-grid`` only: number of resolution levels, from ``grid_base_resolution`` to the
    signal's sample count (``pe_sidelength``) in a geometric progression."""
    grid_features: int = 2
    """``hash-grid`` only: features per level."""
    grid_table_size: int = 2**14
    """``hash-grid`` only: entries of each level's table; a level with fewer grid nodes indexes
    them directly instead of hashing."""
    grid_base_resolution: int = 16
    """``hash-grid`` only: cells along each axis of the coarsest level."""
    grid_resolution: int = 0
    """``grid`` only: nodes along each axis of the dense grid; 0: one per sample
    (``pe_sidelength``)."""

    def __post_init__(self) -> None:
        from .families import get_family

        get_family(self.model)  # an unknown name is a ValueError listing the registered ones
        for name in ("in_features", "out_features", "hidden_features", "hidden_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("first_omega", "hidden_omega", "rff_scale", "first_bias_scale", "gauss_scale", "wire_omega",
                     "wire_scale", "first_scale"):
            check_positive(name, getattr(self, name))
        for name in ("grid_levels", "grid_features", "grid_table_size", "grid_base_resolution"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.grid_resolution < 0 or self.grid_resolution == 1:
            raise ValueError(f"grid_resolution must be 0 (one node per sample) or at least 2, "
                             f"got {self.grid_resolution}")
        if self.pe_frequencies < 0 or self.pe_sidelength < 1:
            raise ValueError(f"pe_frequencies must be 0 or more and pe_sidelength at least 1, "
                             f"got {self.pe_frequencies} and {self.pe_sidelength}")


@dataclass(frozen=True)
class TrainConfig:
    """How a network is fitted to a set of constraints."""

    steps: int = 300
    """Number of optimiser steps (at most, with a time budget or a target)."""
    time_budget: float | None = None
    """Seconds of fitting, compilation included and evaluations excluded: the run stops when they
    are spent, and the learning-rate schedule runs over them, so that it has annealed when the
    budget ends. With ``steps``, whichever comes first."""
    until: float | None = None
    """Stop at the first evaluation (every ``log_every`` steps) at which ``until_metric`` reaches
    this value."""
    until_metric: str | None = None
    """The logged figure ``until`` is compared with; None: the signal kind's main metric (PSNR for
    images and video, SNR for audio, the surface distance for shapes, the loss for a problem of your
    own). Lower is better for the loss, its terms and distances, higher for the others."""
    learning_rate: float = 1e-3
    """Peak learning rate of Adam."""
    schedule: Literal["cosine", "constant"] = "cosine"
    """Learning-rate schedule after warm-up: cosine decay to ``final_lr_fraction`` of the
    peak, or constant."""
    warmup_steps: int = 10
    """Linear warm-up from a tenth of the peak rate, steps."""
    final_lr_fraction: float = 0.05
    """Cosine schedule: learning rate at the last step, as a fraction of the peak."""
    batch_size: int | None = None
    """Points per step drawn from each domain that has no batch size of its own (a domain's own
    batch size wins); None uses every point of such a domain every step."""
    seed: int = 0
    """Seed of the initial weights and of the sampling."""
    device: str = "auto"
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    compile: bool | Literal["auto"] = "auto"
    """Compile the loss computation with ``torch.compile``: ``auto`` compiles where a compiler is
    available and the run is long enough to repay the compilation time (200 steps or more of enough
    points, and no time budget under a minute); eager otherwise."""
    precision: Literal["float32", "bfloat16", "auto"] = "float32"
    """Arithmetic of the training step: ``bfloat16`` runs the hidden layers' matrix products under
    autocast (about 3× the float32 rate on CPUs with AVX-512 BF16 or AMX and on GPUs from Ampere
    on); the first layer, weights, optimiser and evaluation stay float32. ``auto`` chooses
    bfloat16 where the hardware has it natively, float32 elsewhere."""
    log_every: int = 25
    """Steps between evaluations (PSNR etc.) written to the history."""
    checkpoint_every: int = 100
    """Steps between checkpoints; 0 writes one only at the end or on interruption."""
    checkpoint_seconds: float = 300.0
    """Seconds between checkpoints as well, so that a slow fit never goes long without one."""
    clip_grad_norm: float | None = None
    """Clip the norm of the weight gradient to this value; ``None`` does not clip."""
    divergence_factor: float = 1e4
    """Stop when the loss exceeds this factor times the first step's loss."""
    stall_check: int = 0
    """At this step (0: never), a fit whose loss over the last steps is still within
    ``sirenkit.training.STALL_GAIN_DB`` of its problem's baseline (the loss of the best constant,
    for a problem that states one in ``metadata["baseline_loss"]``) has stalled at too high a
    learning rate: the rest of the run goes on at ``STALL_LR_FACTOR`` of the schedule."""
    snapshots: tuple[int, ...] = ()
    """Steps at which the fit is pictured: ``progress.png`` in the run folder shows it at each of
    them beside the ground truth, with its score (a picture for images, the middle frame for video,
    the waveform for sound, a slice of the distance field for shapes)."""
    tensorboard: bool = False
    """Write a TensorBoard log into the run folder's ``tensorboard/``: the loss, each loss term and
    the learning rate at every step, the metrics at every logged step, and a picture of the fit
    every ``image_every`` steps (``pip install sirenkit[tensorboard]``)."""
    image_every: int = 100
    """Steps between the pictures of a TensorBoard log."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "snapshots", tuple(sorted({int(step) for step in self.snapshots})))
        if any(step < 1 for step in self.snapshots):
            raise ValueError(f"snapshot steps must be at least 1, got {list(self.snapshots)}")
        if self.image_every < 1:
            raise ValueError(f"image_every must be at least 1, got {self.image_every}")
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if self.time_budget is not None and not (math.isfinite(self.time_budget) and self.time_budget > 0):
            raise ValueError(f"the time budget must be a positive number of seconds, got {self.time_budget}")
        if self.until is not None and not math.isfinite(self.until):
            raise ValueError(f"the target (until) must be a finite number, got {self.until}")
        check_positive("learning_rate", self.learning_rate)
        if self.clip_grad_norm is not None:
            check_positive("clip_grad_norm", self.clip_grad_norm)
        if not (math.isfinite(self.divergence_factor) and self.divergence_factor > 1):
            raise ValueError(f"divergence_factor must be a finite number above 1, got {self.divergence_factor}")
        if not 0 <= self.final_lr_fraction <= 1:
            raise ValueError(f"final_lr_fraction must be between 0 and 1, got {self.final_lr_fraction}")
        if self.stall_check < 0:
            raise ValueError(f"stall_check must be 0 or more, got {self.stall_check}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be 0 or more, got {self.warmup_steps}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"unknown schedule {self.schedule!r}; expected cosine or constant")
        if self.precision not in ("float32", "bfloat16", "auto"):
            raise ValueError(f"unknown precision {self.precision!r}; expected float32, bfloat16 or auto")
        if self.log_every < 1:
            raise ValueError(f"log_every must be at least 1, got {self.log_every}")
        if self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be 0 or more, got {self.checkpoint_every}")
        check_positive("checkpoint_seconds", self.checkpoint_seconds)


@functools.cache
def field_docs(config_class: type) -> dict[str, str]:
    """The docstring written under each field of a configuration dataclass, on one line each: what
    ``--help`` shows, so that an option is documented in one place. Read from the source; empty
    where the source is not installed."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(config_class)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for node, following in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant) and isinstance(following.value.value, str)):
            text = re.sub(r":\w+:`~?([^`]*)`", r"\1", following.value.value).replace("``", "")
            docs[node.target.id] = " ".join(text.split())  # plain text: reST roles and literals unwrapped
    return docs


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dictionary of a configuration dataclass."""
    return dataclasses.asdict(config)


def network_config_from_dict(values: dict[str, Any]) -> NetworkConfig:
    """Rebuild a :class:`NetworkConfig`; unknown keys are an error, not silently dropped."""
    known = {f.name for f in dataclasses.fields(NetworkConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown network settings: {', '.join(unknown)}")
    return NetworkConfig(**values)


def replace(config: Any, **changes: Any) -> Any:
    """A copy of a frozen configuration with some fields changed."""
    return dataclasses.replace(config, **changes)


__all__ = [
    "MODEL_NAMES",
    "ModelName",
    "field_docs",
    "NetworkConfig",
    "TrainConfig",
    "network_config_from_dict",
    "replace",
    "to_dict",
]
