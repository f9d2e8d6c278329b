"""How a network is fitted: the training recipe as a frozen dataclass, written into every run folder."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

from sirenkit.config import check_positive
from sirenkit.networks.registry import get_family

UNLIMITED_STEPS = 2**31 - 1
"""The step limit of a run given a time budget and no step count: the budget decides."""


@dataclass(frozen=True)
class TrainConfig:
    """How a network is fitted to a set of constraints: the training recipe.

    A frozen dataclass, written into every run folder; each task has its own defaults (the image
    recipe is [`image_train_config`][sirenkit.image_train_config]), and the command line's options
    (`--steps`, `--time`, `--lr`, ...) set these fields.

    Raises:
        ValueError: A value out of range (a step count below 1, a learning rate that is not a
            positive number, an unknown schedule or precision, ...).

    Example:
        ```python
        from sirenkit import TrainConfig, fit_image

        fitted = fit_image("camera", train=TrainConfig(steps=2000, learning_rate=1e-4, batch_size=8192))
        ```
    """

    steps: int = 300
    """Number of optimiser steps (at most, with a time budget or a target)."""
    time_budget: float | None = None
    """Seconds of fitting, compilation included and evaluations excluded: the run stops when they
    are spent, and the learning-rate schedule runs over them, so that it has annealed when the
    budget ends. With `steps`, whichever comes first."""
    until: float | None = None
    """Stop at the first evaluation (every `log_every` steps) at which `until_metric` reaches
    this value."""
    until_metric: str | None = None
    """The logged figure `until` is compared with; None: the signal kind's main metric (PSNR for
    images and video, SNR for audio, the surface distance for shapes, the loss for a problem of your
    own). Lower is better for the loss, its terms and distances, higher for the others."""
    learning_rate: float = 1e-3
    """Peak learning rate of Adam."""
    plateau_patience: int = 0
    """With a target (`until`): evaluations in a row without a gain of 0.5 dB in the target's
    figure after which the learning rate is halved, once
    (`sirenkit.engine.schedule.Plateau`); 0: never. A schedule over a budget lowers the rate when
    the budget says; a fit aiming at a quality needs it lowered when it stops gaining."""
    schedule: Literal["cosine", "constant"] = "cosine"
    """Learning-rate schedule after warm-up: cosine decay to `final_lr_fraction` of the
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
    """`auto` (CUDA when present, else CPU), `cpu`, `cuda` or `cuda:N`."""
    compile: bool | Literal["auto"] = "auto"
    """Compile the loss computation with `torch.compile`: `auto` compiles where a compiler is
    available and the run is long enough to repay the compilation time (200 steps or more of enough
    points, and no time budget under a minute); eager otherwise."""
    threads: int | Literal["auto"] = "auto"
    """CPU compute threads: `auto` measures the step with each candidate count (the usable cores,
    then halves) and keeps the fastest, measuring again when the machine's load changes
    (`sirenkit.engine.threads`); a number fixes it (the same weights from the same seed on the
    same machine). A GPU's steps are left alone."""
    precision: Literal["float32", "bfloat16", "auto"] = "float32"
    """Arithmetic of the training step: `bfloat16` runs the hidden layers' matrix products under
    autocast, native on CPUs with AVX-512 BF16 or AMX and on GPUs from Ampere on (matrix products ran
    at about 3× the float32 rate on a 2-core AMD EPYC with native bfloat16 (AVX-512 BF16)); the first
    layer, weights, optimiser and evaluation stay float32. `auto` chooses bfloat16 where the hardware
    has it natively, float32 elsewhere.
    """
    lbfgs_steps: int = 0
    """Steps of L-BFGS after the Adam steps (however those ended, unless a target was met): the
    refinement physics-informed fits end with. Each is five iterations of `torch.optim.LBFGS` with
    a strong-Wolfe line search and a memory of 50, in float64, on one fixed draw of every domain's
    points (the quasi-Newton memory needs the same loss at every iteration), with no tolerance that
    stops it early. Not counted in `steps` or the time budget; a resumed phase starts its memory
    afresh on the same points. One network in one process only."""
    lbfgs_time: float | None = None
    """Seconds the L-BFGS phase may take at most (counted from where it starts or resumes); `None`:
    its steps alone end it."""
    balance: Literal["off", "gradients"] = "off"
    """Weights of the loss terms: `off` keeps the constraints' own; `gradients` balances them every
    `balance_every` steps so that each term's gradient has the mean norm (times the term's stated
    weight; a running average, `sirenkit.engine.balance`), the weighting physics-informed fits use
    when the terms' scales differ. One network in one process only."""
    balance_every: int = 100
    """Steps between the gradient measurements of `balance = "gradients"`."""
    log_every: int = 25
    """Steps between evaluations (PSNR etc.) written to the history."""
    checkpoint_every: int = 100
    """Steps between checkpoints; 0 writes one only at the end or on interruption."""
    checkpoint_seconds: float = 300.0
    """Seconds between checkpoints as well, so that a slow fit never goes long without one."""
    clip_grad_norm: float | None = None
    """Clip the norm of the weight gradient to this value; `None` does not clip."""
    divergence_factor: float = 1e4
    """Stop when the loss exceeds this factor times the first step's loss."""
    stall_check: int = 0
    """At this step (0: never), a fit whose loss over the last steps is still within
    `sirenkit.engine.loop.STALL_GAIN_DB` of its problem's baseline (the loss of the best constant,
    for a problem that states one in `metadata["baseline_loss"]`) has stalled at too high a
    learning rate: the rest of the run goes on at `STALL_LR_FACTOR` of the schedule."""
    snapshots: tuple[int, ...] = ()
    """Steps at which the fit is pictured: `progress.png` in the run folder shows it at each of
    them beside the ground truth, with its score (a picture for images, the middle frame for video,
    the waveform for sound, a slice of the distance field for shapes)."""
    tensorboard: bool = False
    """Write a TensorBoard log into the run folder's `tensorboard/`: the loss, each loss term and
    the learning rate at every step, the metrics at every logged step, and a picture of the fit
    every `image_every` steps (`pip install sirenkit[tensorboard]`)."""
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
        if self.plateau_patience < 0:
            raise ValueError(f"plateau_patience must be 0 or more, got {self.plateau_patience}")
        if self.lbfgs_time is not None:
            check_positive("lbfgs_time", self.lbfgs_time)
        if self.lbfgs_steps < 0:
            raise ValueError(f"lbfgs_steps must be 0 or more, got {self.lbfgs_steps}")
        if self.balance not in ("off", "gradients"):
            raise ValueError(f"unknown balance {self.balance!r}; expected off or gradients")
        if self.balance_every < 1:
            raise ValueError(f"balance_every must be at least 1, got {self.balance_every}")
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
        if self.threads != "auto" and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                       or self.threads < 1):
            raise ValueError(f"threads must be auto or a whole number of at least 1, got {self.threads!r}")


def at_family_rate(train: TrainConfig, model: str, width: int | None = None) -> TrainConfig:
    """`train`, a recipe made for a SIREN, at the learning rate of a `model` network of hidden
    `width` ([`NetworkFamily.rate_factor`][sirenkit.NetworkFamily.rate_factor] times the recipe's; `None`:
    the default width's)."""
    return dataclasses.replace(train, learning_rate=train.learning_rate * get_family(model).rate_factor(width))
