"""Quantisation: the bits each weight tensor gets, and fine-tuning the network through the rounding.

**Bits per tensor.** Each weight tensor `l` gets a quantisation step `Δ_l = range_l / (2^b_l − 1)`;
its cost `R_l(b)` is the exact length of its range-coded symbols (`sirenkit.codec.format.tensor_code`)
and its harm `D_l(b)` the image error with that tensor alone quantised. The bit widths minimise
`Σ D_l + λ Σ R_l` tensor by tensor, `λ` bisected until the file fits the rate (the classical
Lagrangian bit allocation, Shoham & Gersho 1988). With `params` instead of a rate, `λ` is bisected
to the largest one whose quantisation costs at most `sirenkit.codec.weights.PARAMS_QUALITY_LOSS`
dB (`BitAllocator`).

**Quantisation-aware fine-tuning** (`fine_tune_quantised`): the network is trained through the
rounding, `w_q = w + stopgrad(round(w / Δ) Δ − w)` (straight-through, as Strümpler et al. 2022), so
the weights settle where rounding them costs least. In float32 whatever the fit's precision:
bfloat16's 8-bit mantissa is coarser than the steps, and would hide them.

With a shared initialisation ([`sirenkit.codec.meta`][sirenkit.codec.meta]) what is rounded is each weight's
difference from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from sirenkit.codec.format import CodecError, tensor_code
from sirenkit.engine.config import TrainConfig
from sirenkit.signals.image.data import ImageSignal
from sirenkit.signals.image.kind import ImageKind

FEWEST_BITS, MOST_BITS = 2, 14
"""Bit widths the allocation chooses from (14 keeps every symbol within int16)."""
DISTORTION_PIXELS = 1 << 14
"""Pixels the allocation measures the error of a quantisation on (all of a smaller image)."""
LAMBDA_RANGE = (1e-18, 1e6)
"""The Lagrange multipliers searched (squared error per bit; errors are ~1e-3, tensors ~1e3 bits)."""
NEGLIGIBLE_ERROR = 1e-3
"""A quantisation that raises the measured squared error by less than this fraction costs nothing."""


class _Rounding(nn.Module):
    """Straight-through rounding of `weight − base` to multiples of `step`: the value is
    rounded, the gradient passes as if it were not."""

    base: torch.Tensor

    def __init__(self, step: float, base: torch.Tensor | None = None) -> None:
        super().__init__()
        self.step = step
        self.register_buffer("base", base if base is not None else torch.zeros(()), persistent=False)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        rounded = self.base + torch.round((weight - self.base) / self.step) * self.step
        return weight + (rounded - weight).detach()


def quantisation_steps(bits: list[int], ranges: list[float]) -> list[float]:
    """`Δ_l = range_l / (2^b_l − 1)` (1 for a constant tensor)."""
    return [span / (2**b - 1) if span > 0 else 1.0 for b, span in zip(bits, ranges, strict=True)]


def quantised(parameters: list[torch.Tensor], steps: list[float],
              base: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """Each tensor rounded to its base (0 without one) plus a multiple of its step."""
    base = base if base is not None else [torch.zeros(())] * len(parameters)
    return [b + torch.round((p - b) / s) * s for p, s, b in zip(parameters, steps, base, strict=True)]


@dataclass
class Allocation:
    """Bit widths per tensor, chosen for the network's current weights."""

    bits: list[int]
    steps: list[float]
    payload_bits: int
    """Coded bits of all tensors at these widths (the coder adds at most one word)."""
    error: float
    """Mean squared error (network units) on the measured pixels with every tensor quantised."""


class BitAllocator:
    """The Lagrangian bit allocation of the module docstring for one fitted network. The ranges
    (hence the candidate steps) are fixed at construction, so that the steps chosen before the
    fine-tuning and after it belong to one family."""

    def __init__(self, model: nn.Module, coords: torch.Tensor, targets: torch.Tensor,
                 base: list[torch.Tensor] | None = None) -> None:
        self.model = model
        self.names = [name for name, _ in model.named_parameters()]
        self.coords, self.targets = coords, targets
        self.base = base if base is not None else [torch.zeros(())] * len(self.names)
        """What the file codes each tensor's difference from (an initialisation; zeros without one)."""
        # a tensor's span, or its largest magnitude where that is more (a single bias has no span)
        self.ranges = [max(float(d.max() - d.min()), float(d.abs().max())) for d in self.offsets()]
        self.widths = list(range(FEWEST_BITS, MOST_BITS + 1))

    def offsets(self) -> list[torch.Tensor]:
        """What is coded: each parameter less its base."""
        return [p - b for p, b in zip(self.parameters(), self.base, strict=True)]

    def parameters(self) -> list[torch.Tensor]:
        return [p.detach() for p in self.model.parameters()]

    def error(self, values: list[torch.Tensor]) -> float:
        """Mean squared error of the network with these parameters on the measured pixels."""
        with torch.no_grad():
            output = torch.func.functional_call(self.model, dict(zip(self.names, values, strict=True)), (self.coords,))
        return float(((output.float() - self.targets) ** 2).mean())

    def tables(self) -> tuple[np.ndarray, np.ndarray, float]:
        """`R[l, b]` coded bits and `D[l, b]` error with tensor `l` alone quantised to `b` bits,
        and the unquantised network's error.
        Widths are tried from the fewest up; once a tensor's error is within
        `NEGLIGIBLE_ERROR` of the unquantised network's, wider ones are taken to be too."""
        parameters = self.parameters()
        base = self.error(parameters)  # the unquantised network's
        rates = np.zeros((len(parameters), len(self.widths)))
        errors = np.full_like(rates, base)
        for index, (offset, span) in enumerate(zip(self.offsets(), self.ranges, strict=True)):
            settled = False
            for column, width in enumerate(self.widths):
                (step,) = quantisation_steps([width], [span])
                symbols = torch.round(offset / step)
                rates[index, column] = tensor_code(symbols.numpy(), step)[1]
                if not settled:
                    values = list(parameters)
                    values[index] = self.base[index] + symbols * step
                    errors[index, column] = self.error(values)
                    settled = errors[index, column] <= base * (1 + NEGLIGIBLE_ERROR)
        return rates, errors, base

    def allocate(self, *, payload_bits: int | None = None, error_bound: float | None = None) -> Allocation:
        """The widths minimising `D + λ R` per tensor with the largest `λ` (fewest bits) whose
        total rate is within `payload_bits`, or whose predicted error is within `error_bound`."""
        rates, errors, base = self.tables()
        rows = np.arange(len(rates))

        def choice(weight: float) -> np.ndarray:
            return np.argmin(errors + weight * rates, axis=1)

        def fits(weight: float) -> bool:
            columns = choice(weight)
            if payload_bits is not None:
                return rates[rows, columns].sum() <= payload_bits
            assert error_bound is not None
            return base + (errors[rows, columns] - base).sum() <= error_bound

        # fewer bits as λ grows: the rate bound holds from some λ on, the error bound up to some λ
        low, high = LAMBDA_RANGE
        if payload_bits is not None and not fits(high):
            least = rates[:, 0].sum()
            raise CodecError(f"the network cannot be coded in {payload_bits} bits (its least is {least:.0f})")
        if payload_bits is None and fits(high):
            low = high
        elif payload_bits is not None and fits(low):
            high = low
        for _ in range(80):  # bisect log λ: the smallest that keeps the rate, the largest that keeps the error
            middle = math.sqrt(low * high)
            if (fits(middle) if payload_bits is not None else not fits(middle)):
                high = middle
            else:
                low = middle
        chosen = high if payload_bits is not None else low
        columns = choice(chosen)
        bits = [self.widths[c] for c in columns]
        steps = quantisation_steps(bits, self.ranges)
        error = self.error(quantised(self.parameters(), steps, self.base))
        return Allocation(bits, steps, int(rates[rows, columns].sum()), error)


def fine_tune_quantised(model: nn.Module, kind: ImageKind, signal: ImageSignal, steps: list[float],
                        train: TrainConfig, *, progress: bool, base: list[torch.Tensor] | None = None) -> None:
    """Train `model` through straight-through rounding to `base` (zeros without one) plus
    multiples of `steps` (in place; the rounding is removed again, the weights left unrounded)."""
    parameters = list(model.named_parameters())
    device = parameters[0][1].device
    base = base if base is not None else [torch.zeros(())] * len(parameters)
    for (name, _), step, origin in zip(parameters, steps, base, strict=True):
        owner, attribute = _owner(model, name)
        parametrize.register_parametrization(owner, attribute, _Rounding(step, origin.to(device)))
    try:
        train_in_place(model, kind, signal, train, progress)
    finally:
        for name, _ in parameters:
            owner, attribute = _owner(model, name)
            parametrize.remove_parametrizations(owner, attribute, leave_parametrized=False)


def train_in_place(model: nn.Module, kind: ImageKind, signal: ImageSignal, train: TrainConfig, progress: bool) -> None:
    """`model` (on its device) fitted to `signal` with `train`, in place."""
    from sirenkit.engine.single import fit

    problem = kind.problem(signal, batch_size=train.batch_size, device=next(model.parameters()).device)
    fit(model, problem, train, progress=progress)


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    path, _, attribute = name.rpartition(".")
    return (model.get_submodule(path) if path else model), attribute
