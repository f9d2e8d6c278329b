"""Images as small files: a SIREN fitted to the image, its weights quantised and entropy-coded.

A ``.sirk`` file holds a function, not pixels: :func:`decompress` renders it at the original size
or any other. :func:`compress` makes one in four steps (each measured in the docs,
"Compression"):

1. **The network for the rate.** ``bits = bpp · pixels`` buys about ``bits / BITS_PER_PARAMETER``
   parameters; the width follows at a depth of :data:`HIDDEN_LAYERS` (COIN, Dupont et al. 2021,
   chose width and depth per rate the same way).
2. **The fit**: sirenkit's image recipe (random pixels per step, Adam, cosine decay) for most of
   the time budget.
3. **Bits per tensor.** Each weight tensor ``l`` gets a quantisation step
   ``Δ_l = range_l / (2^b_l − 1)``; its cost ``R_l(b)`` is the exact length of its range-coded
   symbols and its harm ``D_l(b)`` the image error with that tensor alone quantised. The bit widths
   minimise ``Σ D_l + λ Σ R_l`` tensor by tensor, ``λ`` bisected until the file fits the rate (the
   classical Lagrangian bit allocation, Shoham & Gersho 1988). With ``params`` instead of a rate,
   ``λ`` is bisected to the largest one whose quantisation costs at most
   :data:`PARAMS_QUALITY_LOSS` dB.
4. **Quantisation-aware fine-tuning**: the rest of the budget trains the network through the
   rounding, ``w_q = w + stopgrad(round(w / Δ) Δ − w)`` (straight-through, as Strümpler et al.
   2022), so the weights settle where rounding them costs least. In float32 whatever the fit's
   precision: bfloat16's 8-bit mantissa is coarser than the steps, and would hide them.

The symbols ``round(w / Δ)`` of each tensor are range-coded (``constriction``) under whichever of
three models codes them shortest: uniform over their range, a quantised Gaussian or a quantised
Laplacian, fitted to them; the model's two numbers go in the file.

File format, version 1 (little-endian)::

    offset  bytes  field
         0      4  magic  b"SIRK"
         4      1  format version (1)
         5      1  mode: 0 L, 1 LA, 2 RGB, 3 RGBA (8 bits per channel)
         6      2  width in pixels
         8      2  height in pixels
        10      2  hidden width
        12      1  hidden layers
        13      4  first-layer ω0 (float32)
        17      4  hidden ω0 (float32)
        21      4  initialisation id: 0, the weights as they are; n > 0, the weights less the
                   initialisation set n holds for this architecture (:mod:`sirenkit.codec.meta`)
        25  15 × T per tensor, in the network's parameter order: step Δ (float32), entropy model
                   (uint8: 0 uniform, 1 Gaussian, 2 Laplacian), lowest and highest symbol (int16
                   each), the model's location and scale (float16 each)
         …  4 × n  the range coder's words (uint32)
     end−4      4  CRC-32 of every byte before it

``bpp = 8 × file bytes / (width × height)``, header and checksum included.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import struct
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from sirenkit.codec import meta
from sirenkit.engine.config import TrainConfig
from sirenkit.io import atomic_write
from sirenkit.metrics import psnr
from sirenkit.networks.build import build_network, count_parameters, parameter_count
from sirenkit.networks.config import NetworkConfig
from sirenkit.signals.image.data import ImageSignal, coordinate_grid, image_extent, load_image
from sirenkit.signals.image.kind import ImageKind

logger = logging.getLogger("sirenkit")

MAGIC = b"SIRK"
FORMAT_VERSION = 1
SUFFIX = ".sirk"
MODES = ("L", "LA", "RGB", "RGBA")
_HEADER = struct.Struct("<4sBBHHHBffI")
_TENSOR = struct.Struct("<fBhhee")
_CHECKSUM = struct.Struct("<I")
ENTROPY_MODELS = ("uniform", "gaussian", "laplacian")

HIDDEN_LAYERS = 5
"""Hidden layers of the network :func:`compress` builds for a rate."""
BITS_PER_PARAMETER = 7.0
"""Coded bits a parameter is expected to cost: the rate's budget over this is the network's size."""
LEAST_WIDTH = 8
FEWEST_BITS, MOST_BITS = 2, 14
"""Bit widths the allocation chooses from (14 keeps every symbol within int16)."""
PREFERRED_SPREAD = 0.8
"""A network with a shared initialisation is taken if its size is within this factor of the rate's
(0.8: from 80 % to 125 % of it): the initialisation is worth more than a fifth of the parameters."""
PARAMS_QUALITY_LOSS = 0.1
"""With a parameter count instead of a rate: the largest PSNR loss (dB) quantisation may cost."""
DISTORTION_PIXELS = 1 << 14
"""Pixels the allocation measures the error of a quantisation on (all of a smaller image)."""
LAMBDA_RANGE = (1e-18, 1e6)
"""The Lagrange multipliers searched (squared error per bit; errors are ~1e-3, tensors ~1e3 bits)."""
NEGLIGIBLE_ERROR = 1e-3
"""A quantisation that raises the measured squared error by less than this fraction costs nothing."""
QAT_SHARE = 0.25
"""Part of the time budget spent on quantisation-aware fine-tuning."""
QAT_LEARNING_RATE = 1e-4
LOG_EVERY = 250
"""Steps between the progress bar's measurements (each renders the image: not counted in the budget,
but part of the encoding's time)."""
DEFAULT_SECONDS = 150.0
"""Time budget of :func:`compress` (fit and fine-tuning, compilation included)."""


class CodecError(ValueError):
    """A ``.sirk`` file that cannot be decoded, or a request no file can meet."""


# --- the file ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorCode:
    """How one parameter tensor is coded: ``w = Δ · q`` with ``q`` in ``[low, high]``."""

    step: float
    model: str
    low: int
    high: int
    location: float
    scale: float


@dataclass(frozen=True)
class Header:
    """Everything a ``.sirk`` file says before its coded weights."""

    version: int
    mode: str
    width: int
    height: int
    hidden_features: int
    hidden_layers: int
    first_omega: float
    hidden_omega: float
    initialisation: int
    tensors: tuple[TensorCode, ...]

    @property
    def channels(self) -> int:
        return len(self.mode)

    @property
    def network(self) -> NetworkConfig:
        return NetworkConfig(in_features=2, out_features=self.channels, model="siren",
                             hidden_features=self.hidden_features, hidden_layers=self.hidden_layers,
                             first_omega=self.first_omega, hidden_omega=self.hidden_omega)

    @property
    def kind(self) -> ImageKind:
        shape = (self.height, self.width)
        return ImageKind(source="", shape=shape, channels=self.channels, mode=self.mode, extent=image_extent(shape))

    def size(self) -> int:
        """Bytes of the header and the checksum, i.e. of the file besides the coded words."""
        return header_bytes(self.hidden_layers)

    def describe(self) -> dict[str, Any]:
        """The header as plain values (``sirenkit info``)."""
        values = dataclasses.asdict(self)
        values["tensors"] = [dataclasses.asdict(t) for t in self.tensors]
        return values


def tensor_count(hidden_layers: int) -> int:
    """Parameter tensors of a SIREN: weight and bias of each hidden layer and of the output layer."""
    return 2 * (hidden_layers + 1)


def header_bytes(hidden_layers: int) -> int:
    """Bytes of a file besides its coded words: the header, a code per tensor, the checksum."""
    return _HEADER.size + _TENSOR.size * tensor_count(hidden_layers) + _CHECKSUM.size


def encode_file(header: Header, symbols: list[np.ndarray]) -> bytes:
    """The bytes of a ``.sirk`` file: ``header`` and the range-coded ``symbols`` of each tensor."""
    import constriction

    if len(symbols) != len(header.tensors):
        raise ValueError(f"{len(header.tensors)} tensor codes for {len(symbols)} tensors")
    encoder = constriction.stream.queue.RangeEncoder()
    parts = [_HEADER.pack(MAGIC, header.version, MODES.index(header.mode), header.width, header.height,
                          header.hidden_features, header.hidden_layers, header.first_omega, header.hidden_omega,
                          header.initialisation)]
    for code, values in zip(header.tensors, symbols, strict=True):
        parts.append(_TENSOR.pack(code.step, ENTROPY_MODELS.index(code.model), code.low, code.high, code.location,
                                  code.scale))
        if code.high > code.low:
            flat = np.ascontiguousarray(values, dtype=np.int32).ravel()
            encoder.encode(flat - np.int32(_first_symbol(code)), _entropy_model(code))
    parts.append(encoder.get_compressed().astype("<u4").tobytes())
    body = b"".join(parts)
    return body + _CHECKSUM.pack(zlib.crc32(body))


def read_header(data: bytes, name: str = "the file") -> tuple[Header, bytes]:
    """The header of a ``.sirk`` file's bytes and its coded words; a :class:`CodecError` naming
    ``name`` for anything that is not a whole, intact file of this version."""
    if data[:len(MAGIC)] != MAGIC:
        raise CodecError(f"{name}: not a .sirk file (it does not start with {MAGIC!r})")
    if len(data) < _HEADER.size + _CHECKSUM.size:
        raise CodecError(f"{name}: truncated ({len(data)} bytes, less than a header)")
    (_, version, mode, width, height, hidden_features, hidden_layers, first_omega, hidden_omega,
     initialisation) = _HEADER.unpack_from(data)
    if version != FORMAT_VERSION:
        raise CodecError(f"{name}: .sirk format version {version}; this sirenkit reads version {FORMAT_VERSION}")
    (checksum,) = _CHECKSUM.unpack_from(data, len(data) - _CHECKSUM.size)
    if zlib.crc32(data[:-_CHECKSUM.size]) != checksum:
        raise CodecError(f"{name}: corrupt or truncated (its checksum does not match)")
    if mode >= len(MODES) or width < 1 or height < 1 or hidden_features < 1 or hidden_layers < 1:
        raise CodecError(f"{name}: corrupt header (mode {mode}, {width}×{height}, {hidden_layers}×{hidden_features})")
    if initialisation and not meta.available(initialisation):  # 0: no shared initialisation
        raise CodecError(f"{name}: made from shared initialisation {initialisation}, which this sirenkit does not "
                         "have")
    count = tensor_count(hidden_layers)
    start = _HEADER.size
    end = header_bytes(hidden_layers) - _CHECKSUM.size
    words = len(data) - _CHECKSUM.size - end
    if words < 0 or words % 4:
        raise CodecError(f"{name}: corrupt (a {hidden_layers}-layer network's header does not fit its size)")
    tensors = []
    for index in range(count):
        step, model, low, high, location, scale = _TENSOR.unpack_from(data, start + index * _TENSOR.size)
        if model >= len(ENTROPY_MODELS) or low > high or not (math.isfinite(step) and step > 0):
            raise CodecError(f"{name}: corrupt tensor code {index}")
        tensors.append(TensorCode(step, ENTROPY_MODELS[model], low, high, float(location), float(scale)))
    header = Header(version, MODES[mode], width, height, hidden_features, hidden_layers, first_omega, hidden_omega,
                    initialisation, tuple(tensors))
    return header, data[end:len(data) - _CHECKSUM.size]


def decode_symbols(header: Header, words: bytes, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """The integer symbols of each tensor, of ``shapes``; a :class:`CodecError` where the stream
    does not end with the last symbol (a word too many or too few: most such streams, 353 of 400
    in a test of truncated ones; the file's checksum is what catches damage)."""
    import constriction

    decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(words, dtype="<u4").astype(np.uint32))
    symbols = []
    for code, shape in zip(header.tensors, shapes, strict=True):
        count = math.prod(shape)
        if code.high == code.low:
            values = np.full(count, code.low, dtype=np.int64)
        else:
            values = decoder.decode(_entropy_model(code), count).astype(np.int64) + _first_symbol(code)
        symbols.append(values.reshape(shape))
    if not decoder.maybe_exhausted():  # an intact stream ends where its last symbol does
        raise CodecError("the coded weights do not end where the last tensor does")
    return symbols


def _first_symbol(code: TensorCode) -> int:
    """What the coder's symbol 0 stands for: the lowest symbol under the uniform model (constriction's
    is over 0 … n − 1); the quantised models take the symbols as they are."""
    return code.low if code.model == "uniform" else 0


def _entropy_model(code: TensorCode) -> Any:
    import constriction

    models = constriction.stream.model
    if code.model == "uniform":
        return models.Uniform(code.high - code.low + 1)
    if code.model == "gaussian":
        return models.QuantizedGaussian(code.low, code.high, code.location, code.scale)
    return models.QuantizedLaplace(code.low, code.high, code.location, code.scale)


def _float16(value: float) -> float:
    return float(np.float16(value))


def tensor_code(symbols: np.ndarray, step: float) -> tuple[TensorCode, int]:
    """The entropy model that codes ``symbols`` shortest, and their length in bits under it."""
    import constriction

    values = symbols.astype(np.int32).ravel()
    low, high = int(values.min()), int(values.max())
    if low == high:
        return TensorCode(step, "uniform", low, high, 0.0, 1.0), 0
    mean, deviation = float(values.mean()), float(values.std())
    candidates = [
        TensorCode(step, "uniform", low, high, 0.0, 1.0),
        TensorCode(step, "gaussian", low, high, _float16(mean), _float16(max(deviation, 0.05))),
        TensorCode(step, "laplacian", low, high, _float16(float(np.median(values))),
                   _float16(max(float(np.abs(values - np.median(values)).mean()), 0.05))),
    ]
    best: tuple[TensorCode, int] | None = None
    for code in candidates:
        encoder = constriction.stream.queue.RangeEncoder()
        encoder.encode(values - np.int32(_first_symbol(code)), _entropy_model(code))
        bits = int(encoder.num_bits())
        if best is None or bits < best[1]:
            best = (code, bits)
    assert best is not None
    return best


# --- quantisation --------------------------------------------------------------------------------


class _Rounding(nn.Module):
    """Straight-through rounding of ``weight − base`` to multiples of ``step``: the value is
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
    """``Δ_l = range_l / (2^b_l − 1)`` (1 for a constant tensor)."""
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
        """``R[l, b]`` coded bits and ``D[l, b]`` error with tensor ``l`` alone quantised to ``b`` bits,
        and the unquantised network's error.
        Widths are tried from the fewest up; once a tensor's error is within
        :data:`NEGLIGIBLE_ERROR` of the unquantised network's, wider ones are taken to be too."""
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
        """The widths minimising ``D + λ R`` per tensor with the largest ``λ`` (fewest bits) whose
        total rate is within ``payload_bits``, or whose predicted error is within ``error_bound``."""
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
    """Train ``model`` through straight-through rounding to ``base`` (zeros without one) plus
    multiples of ``steps`` (in place; the rounding is removed again, the weights left unrounded)."""
    parameters = list(model.named_parameters())
    device = parameters[0][1].device
    base = base if base is not None else [torch.zeros(())] * len(parameters)
    for (name, _), step, origin in zip(parameters, steps, base, strict=True):
        owner, attribute = _owner(model, name)
        parametrize.register_parametrization(owner, attribute, _Rounding(step, origin.to(device)))
    try:
        _train(model, kind, signal, train, progress)
    finally:
        for name, _ in parameters:
            owner, attribute = _owner(model, name)
            parametrize.remove_parametrizations(owner, attribute, leave_parametrized=False)


def _train(model: nn.Module, kind: ImageKind, signal: ImageSignal, train: TrainConfig, progress: bool) -> None:
    """``model`` (on its device) fitted to ``signal`` with ``train``, in place."""
    from sirenkit.engine.loop import fit

    problem = kind.problem(signal, batch_size=train.batch_size, device=next(model.parameters()).device)
    fit(model, problem, train, progress=progress)


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    path, _, attribute = name.rpartition(".")
    return (model.get_submodule(path) if path else model), attribute


# --- compress and decompress ---------------------------------------------------------------------


@dataclass
class Compressed:
    """What :func:`compress` made."""

    path: Path | None
    data: bytes
    header: Header
    bpp: float
    psnr: float
    """PSNR (dB) of the decoded image, 8 bits per channel, against the input."""
    stages: dict[str, float]
    """PSNR after each step: ``fit`` (float weights), ``quantised`` (rounded before fine-tuning),
    ``file`` (the decoded file, fine-tuned where it was)."""
    bits: list[int]
    """Each tensor's bit width: its step is its range over ``2^bits − 1``."""
    fixed_length_bytes: int
    """The coded words' size had each symbol been stored in its tensor's bit width instead."""
    parameters: int
    seconds: float


def network_for_rate(signal: ImageSignal, *, bpp: float | None = None, params: int | None = None,
                     hidden_layers: int = HIDDEN_LAYERS, bits_per_parameter: float = BITS_PER_PARAMETER,
                     preferred: Sequence[int] = ()) -> NetworkConfig:
    """The SIREN :func:`compress` fits: ``params`` parameters, or as many as ``bpp`` buys at
    ``bits_per_parameter``; a :class:`CodecError` for a rate below the least network's.

    ``preferred`` widths (those with a shared initialisation) are taken where one is within
    :data:`PREFERRED_SPREAD` of that parameter count (with ``params``: at most it): the nearest;
    the bit allocation then spends the rate on the network's actual size."""
    if (bpp is None) == (params is None):
        raise CodecError("give either a rate (--bpp) or a parameter count (--params), not both" if bpp is not None
                         else "give a rate (--bpp) or a parameter count (--params)")
    kind = ImageKind.describe(signal)
    base = kind.network("siren", hidden_layers=hidden_layers)
    pixels = signal.shape[0] * signal.shape[1]
    header_bits = 8 * header_bytes(hidden_layers)
    if bpp is not None:
        if not (math.isfinite(bpp) and bpp > 0):
            raise CodecError(f"--bpp must be a positive number, got {bpp}")
        params = int((bpp * pixels - header_bits) / bits_per_parameter)
    assert params is not None

    def count(width: int) -> int:
        return parameter_count(dataclasses.replace(base, hidden_features=width))

    width = LEAST_WIDTH
    while count(width + 1) <= params:
        width += 1
    fewest, most = PREFERRED_SPREAD * params, params if bpp is None else params / PREFERRED_SPREAD
    near = [w for w in preferred if fewest <= count(w) <= most]
    if near:
        return dataclasses.replace(base, hidden_features=min(near, key=lambda w: abs(math.log(count(w) / params))))
    if count(width) > params:
        least = (header_bits + bits_per_parameter * count(LEAST_WIDTH)) / pixels
        raise CodecError(f"{'--bpp ' + format(bpp, 'g') if bpp is not None else '--params ' + str(params)} is too "
                         f"little for any network on {signal.shape[1]}×{signal.shape[0]} pixels: the least is about "
                         f"{least:.3f} bpp ({count(LEAST_WIDTH)} parameters)")
    return dataclasses.replace(base, hidden_features=width)


def compress(
    source: str | Path | ImageSignal,
    out: str | Path | None = None,
    *,
    bpp: float | None = None,
    params: int | None = None,
    seconds: float = DEFAULT_SECONDS,
    steps: int | None = None,
    hidden_layers: int = HIDDEN_LAYERS,
    bits_per_parameter: float = BITS_PER_PARAMETER,
    fine_tune: float = QAT_SHARE,
    precision: str = "auto",
    device: str = "auto",
    seed: int = 0,
    initialise: bool = True,
    progress: bool = True,
) -> Compressed:
    """Compress an image (a file or a bundled name) to a ``.sirk`` file of at most ``bpp`` bits per
    pixel, or with a network of ``params`` parameters; with ``out``, write it (atomically).

    ``seconds`` bounds the fit and the fine-tuning (compilation included; the bit allocation and
    coding come on top, a few seconds); ``steps`` replaces it by a number of steps, and then the
    same image, seed and settings make the same file on one machine (a time budget's step count
    depends on the machine's load). ``fine_tune`` is the part of the budget spent fine-tuning
    through the rounding (0: none). ``hidden_layers`` and ``bits_per_parameter`` shape the network for a
    rate (:func:`network_for_rate`). With ``initialise``, a network of a size sirenkit ships a
    meta-learned initialisation for (:mod:`sirenkit.codec.meta`) starts from it, and the file codes the
    difference; without, or where there is none near the rate's size, from a random one."""
    from sirenkit.engine.policy import resolve_device
    from sirenkit.signals.image.fit import fit_image

    started = time.perf_counter()
    signal = source if isinstance(source, ImageSignal) else load_image(source)
    if signal.bit_depth != 8:
        logger.warning("%s: %d bits per channel; the .sirk file decodes to 8", signal.name, signal.bit_depth)
    if max(signal.shape) > 65535:
        raise CodecError(f"{signal.name}: {signal.shape[1]}×{signal.shape[0]} pixels; a .sirk file holds at most "
                         "65535 on a side")
    if not (math.isfinite(seconds) and seconds > 0):
        raise CodecError(f"the time budget must be positive, got {seconds}")
    if steps is not None and steps < 2:
        raise CodecError(f"--steps must be at least 2, got {steps}")
    if not 0 <= fine_tune < 1:
        raise CodecError(f"the fine-tuning's share of the time must be in [0, 1), got {fine_tune}")
    kind = ImageKind.describe(signal)
    shared = meta.widths(kind.channels, hidden_layers) if initialise else []
    network = network_for_rate(signal, bpp=bpp, params=params, hidden_layers=hidden_layers,
                               bits_per_parameter=bits_per_parameter, preferred=shared)
    base = meta.initialisation(network) if network.hidden_features in shared else None
    initialisation = meta.INITIALISATION_SET if base is not None else 0
    pixels = signal.shape[0] * signal.shape[1]
    recipe = kind.train_config(precision=precision, device=device)
    if steps is None:  # the budget: fitting, then fine-tuning
        fit_steps, fit_time = 10**6, seconds * (1 - fine_tune)
        tune_steps, tune_time = 10**6, seconds * fine_tune
    else:
        fit_steps, fit_time = max(1, round(steps * (1 - fine_tune))), None
        tune_steps, tune_time = max(1, steps - fit_steps), None
    train = dataclasses.replace(recipe, steps=fit_steps, time_budget=fit_time, seed=seed, checkpoint_every=0,
                                stall_check=0, log_every=LOG_EVERY)
    logger.info("compressing %s: %s parameters (%d × %d), %s, %s", signal.name,
                f"{parameter_count(network):,}", network.hidden_layers, network.hidden_features,
                f"{seconds:.0f} s" if steps is None else f"{steps} steps",
                "from the shared initialisation" if base is not None else "from a random initialisation")
    if base is None:
        model = fit_image(signal, network=network, train=train, frequency=None, progress=progress).model
    else:
        model = _with(network, base).to(resolve_device(recipe.device))
        _train(model, kind, signal, train, progress)
    model = model.float().cpu()
    stages = {"fit": _psnr(kind, model, signal)}

    coords, targets = _measured_pixels(kind, signal, seed)
    allocator = BitAllocator(model, coords, targets, base)
    if bpp is not None:
        # the coder may end on a part-filled word: 4 bytes kept for it
        payload = int(bpp * pixels / 8) - header_bytes(network.hidden_layers) - 4
        bound = None
        allocation = allocator.allocate(payload_bits=8 * payload)
    else:
        payload = None
        bound = allocator.error(allocator.parameters()) * 10 ** (PARAMS_QUALITY_LOSS / 10)
        allocation = allocator.allocate(error_bound=bound)
    stages["quantised"] = _psnr(kind, _with(network, quantised(allocator.parameters(), allocation.steps, base)),
                                signal)

    if fine_tune > 0:
        tune = dataclasses.replace(recipe, learning_rate=QAT_LEARNING_RATE, warmup_steps=0, seed=seed + 1,
                                   checkpoint_every=0, stall_check=0, compile=False, log_every=LOG_EVERY,
                                   precision="float32", steps=tune_steps, time_budget=tune_time)
        fine_tune_quantised(model.to(resolve_device(recipe.device)), kind, signal, allocation.steps, tune,
                            progress=progress, base=base)
        model = model.float().cpu()
    codes, symbols = _codes(allocator.offsets(), allocation.steps)
    if payload is not None and sum(bits for _, bits in codes) > 8 * payload:
        # the fine-tuned weights code a little longer: allocate again among the same steps
        allocation = allocator.allocate(payload_bits=8 * payload)
        codes, symbols = _codes(allocator.offsets(), allocation.steps)
    header = Header(FORMAT_VERSION, signal.mode, signal.shape[1], signal.shape[0], network.hidden_features,
                    network.hidden_layers, float(np.float32(network.first_omega)),
                    float(np.float32(network.hidden_omega)), initialisation, tuple(code for code, _ in codes))
    data = encode_file(header, symbols)
    decoded = decode_network(data, "the encoded file")
    result_psnr = _psnr(kind, decoded, signal)
    stages["file"] = result_psnr
    if bpp is not None and 8 * len(data) > bpp * pixels:
        raise AssertionError(f"coded {len(data)} bytes, over the rate's {bpp * pixels / 8:.0f}")  # allocation bug
    path = Path(out) if out is not None else None
    if path is not None:
        atomic_write(path, lambda stream: stream.write(data))
    fixed = sum(b * int(v.size) for b, v in zip(allocation.bits, symbols, strict=True)) // 8
    return Compressed(path, data, header, 8 * len(data) / pixels, result_psnr, stages, allocation.bits, fixed,
                      count_parameters(decoded), time.perf_counter() - started)


def _codes(parameters: list[torch.Tensor], steps: list[float]) -> tuple[list[tuple[TensorCode, int]],
                                                                          list[np.ndarray]]:
    """Each tensor's symbols at its step, with its entropy model and coded length."""
    symbols = [torch.round(p / s).to(torch.int64).numpy() for p, s in zip(parameters, steps, strict=True)]
    return [tensor_code(values, step) for values, step in zip(symbols, steps, strict=True)], symbols


def _measured_pixels(kind: ImageKind, signal: ImageSignal, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    coords = coordinate_grid(kind.shape)
    targets = kind.to_network(torch.from_numpy(signal.pixels.reshape(-1, kind.channels)).float())
    if len(coords) > DISTORTION_PIXELS:
        chosen = torch.randperm(len(coords), generator=torch.Generator().manual_seed(seed))[:DISTORTION_PIXELS]
        coords, targets = coords[chosen], targets[chosen]
    return coords, targets


def _with(network: NetworkConfig, values: list[torch.Tensor]) -> nn.Module:
    """``network`` built with these parameters."""
    copy = build_network(network, seed=0)
    with torch.no_grad():
        for target, value in zip(copy.parameters(), values, strict=True):
            target.copy_(value)
    return copy


def _psnr(kind: ImageKind, model: nn.Module, signal: ImageSignal) -> float:
    """PSNR of the 8-bit rendering against the 8-bit image."""
    rendered = np.round(kind.render(model) * 255) / 255
    original = np.round(signal.pixels * 255) / 255
    return psnr(rendered, original)


def decode_network(data: bytes, name: str = "the file") -> nn.Module:
    """The network a ``.sirk`` file's bytes hold."""
    return _decode(data, name)[1]


def _decode(data: bytes, name: str) -> tuple[Header, nn.Module]:
    header, words = read_header(data, name)
    shapes = [tuple(p.shape) for p in build_network(header.network, seed=0).parameters()]
    try:
        symbols = decode_symbols(header, words, shapes)
    except (ValueError, RuntimeError) as error:  # CodecError included
        raise CodecError(f"{name}: corrupt coded weights ({error})") from None
    weights = [torch.from_numpy(values).float() * code.step for values, code in zip(symbols, header.tensors,
                                                                                      strict=True)]
    if header.initialisation:
        base = meta.initialisation(header.network, header.initialisation)
        if base is None:
            raise CodecError(f"{name}: made from shared initialisation {header.initialisation}, which has no "
                             f"{header.channels}-channel {header.hidden_layers} × {header.hidden_features} "
                             "network here")
        weights = [b + w for b, w in zip(base, weights, strict=True)]
    return header, _with(header.network, weights).eval()


def read_file(path: str | Path) -> bytes:
    path = Path(path)
    if path.is_dir():
        raise CodecError(f"{path}: is a folder, not a .sirk file")
    if not path.is_file():
        raise CodecError(f"{path}: no such file")
    return path.read_bytes()


def file_header(path: str | Path) -> Header:
    """The header of a ``.sirk`` file (checked whole: magic, version, checksum)."""
    return read_header(read_file(path), str(path))[0]


def decompress(path: str | Path, out: str | Path | None = None, *,
               size: tuple[int, int] | None = None) -> np.ndarray | None:
    """Decode a ``.sirk`` file at its own size or at ``size = (width, height)``: without ``out``,
    the ``(H, W, C)`` intensities in [0, 1]; with ``out``, a PNG written band by band (any size
    within memory for one band; atomically) and ``None``."""
    header, model = _decode(read_file(path), str(path))
    kind = header.kind
    if out is not None:
        kind.render_file(model, Path(out), size=size)
        return None
    return kind.render(model, size=size)
