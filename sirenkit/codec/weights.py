"""Images as small files: a SIREN fitted to the image, its weights quantised and entropy-coded.

A `.sirk` file holds a function, not pixels: [`decompress`][sirenkit.decompress] renders it at the original size
or any other. [`compress`][sirenkit.compress] makes one in four steps (each measured in the docs,
"Compression"):

1. **The network for the rate** (`network_for_rate`). `bits = bpp · pixels` buys about
   `bits / BITS_PER_PARAMETER` parameters; the width follows at a depth of `HIDDEN_LAYERS`
   (COIN, Dupont et al. 2021, chose width and depth per rate the same way).
2. **The fit**: sirenkit's image recipe (random pixels per step, Adam, cosine decay) for most of
   the time budget.
3. **Bits per tensor**: the Lagrangian bit allocation of
   [`sirenkit.codec.quantise`][sirenkit.codec.quantise], to the rate, or with `params` instead of a rate to
   a quantisation that costs at most `PARAMS_QUALITY_LOSS` dB.
4. **Quantisation-aware fine-tuning** through the rounding
   ([`sirenkit.codec.quantise`][sirenkit.codec.quantise]) for the rest of the budget.

The symbols are then range-coded into the file that [`sirenkit.codec.format`][sirenkit.codec.format] describes.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sirenkit.codec import meta
from sirenkit.codec.format import (
    FORMAT_VERSION,
    CodecError,
    Header,
    TensorCode,
    decode_symbols,
    encode_file,
    header_bytes,
    read_file,
    read_header,
    tensor_code,
)

# MAGIC, SUFFIX and file_header: re-exported, the CLI reads them from here
from sirenkit.codec.format import MAGIC as MAGIC
from sirenkit.codec.format import SUFFIX as SUFFIX
from sirenkit.codec.format import file_header as file_header
from sirenkit.codec.quantise import DISTORTION_PIXELS, BitAllocator, fine_tune_quantised, quantised, train_in_place
from sirenkit.io import atomic_write
from sirenkit.metrics import psnr
from sirenkit.networks.build import build_network, count_parameters, parameter_count
from sirenkit.networks.config import NetworkConfig
from sirenkit.signals.image.data import ImageSignal, coordinate_grid, load_image
from sirenkit.signals.image.kind import ImageKind

logger = logging.getLogger("sirenkit")

HIDDEN_LAYERS = 5
"""Hidden layers of the network [`compress`][sirenkit.compress] builds for a rate."""
BITS_PER_PARAMETER = 7.0
"""Coded bits a parameter is expected to cost: the rate's budget over this is the network's size."""
LEAST_WIDTH = 8
PREFERRED_SPREAD = 0.8
"""A network with a shared initialisation is taken if its size is within this factor of the rate's
(0.8: from 80 % to 125 % of it): the initialisation is worth more than a fifth of the parameters."""
PARAMS_QUALITY_LOSS = 0.1
"""With a parameter count instead of a rate: the largest PSNR loss (dB) quantisation may cost."""
QAT_SHARE = 0.25
"""Part of the time budget spent on quantisation-aware fine-tuning."""
QAT_LEARNING_RATE = 1e-4
LOG_EVERY = 250
"""Steps between the progress bar's measurements (each renders the image: not counted in the budget,
but part of the encoding's time)."""
DEFAULT_SECONDS = 150.0
"""Time budget of [`compress`][sirenkit.compress] (fit and fine-tuning, compilation included)."""


@dataclass
class Compressed:
    """What [`compress`][sirenkit.compress] made: the file and how it came about."""

    path: Path | None
    """Where the file was written; `None` without `out`."""
    data: bytes
    """The file's bytes."""
    header: Header
    """The file's header: image size and mode, the network's shape, the initialisation."""
    bpp: float
    """Bits per pixel of the file, header and checksum included."""
    psnr: float
    """PSNR (dB) of the decoded image, 8 bits per channel, against the input."""
    stages: dict[str, float]
    """PSNR after each step: `fit` (float weights), `quantised` (rounded before fine-tuning),
    `file` (the decoded file, fine-tuned where it was)."""
    bits: list[int]
    """Each tensor's bit width: its step is its range over `2^bits − 1`."""
    fixed_length_bytes: int
    """The coded words' size had each symbol been stored in its tensor's bit width instead."""
    parameters: int
    """The network's number of parameters."""
    seconds: float
    """Wall-clock seconds the compression took."""


def network_for_rate(signal: ImageSignal, *, bpp: float | None = None, params: int | None = None,
                     hidden_layers: int = HIDDEN_LAYERS, bits_per_parameter: float = BITS_PER_PARAMETER,
                     preferred: Sequence[int] = ()) -> NetworkConfig:
    """The SIREN [`compress`][sirenkit.compress] fits: `params` parameters, or as many as `bpp` buys at
    `bits_per_parameter`; a [`CodecError`][sirenkit.CodecError] for a rate below the least network's.

    `preferred` widths (those with a shared initialisation) are taken where one is within
    `PREFERRED_SPREAD` of that parameter count (with `params`: at most it): the nearest;
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
    """Compress an image to a `.sirk` file.

    The file holds a SIREN fitted to the image, its weights quantised and entropy-coded (the
    module [`sirenkit.codec.weights`][sirenkit.codec.weights] describes the four steps). This is
    `sirenkit compress`.

    Args:
        source: An image file, a bundled image name or an [`ImageSignal`][sirenkit.ImageSignal].
        out: The `.sirk` file to write (atomically); `None` writes nothing.
        bpp: The rate: at most this many bits per pixel. Give `bpp` or `params`, not both.
        params: The network's number of parameters instead of a rate; the quantisation then costs
            at most `PARAMS_QUALITY_LOSS` dB.
        seconds: The time budget of the fit and the fine-tuning, compilation included (the bit
            allocation and the coding come on top, a few seconds).
        steps: A number of steps instead of a time budget: then the same image, seed and settings
            make the same file on one machine (a time budget's step count depends on the
            machine's load).
        hidden_layers: Depth of the network for a rate (`network_for_rate`).
        bits_per_parameter: Bits each parameter is expected to cost, which sets the width for a
            rate.
        fine_tune: The part of the budget spent fine-tuning through the rounding (0: none).
        precision: `auto`, `float32` or `bfloat16`: the arithmetic of the fit.
        device: `auto`, `cpu` or `cuda`.
        seed: The random seed of the fit (the initialisation, the pixels drawn each step).
        initialise: Start a network of a size sirenkit ships a meta-learned initialisation for
            ([`sirenkit.codec.meta`][sirenkit.codec.meta]) from it, and code the difference;
            without, or where there is none near the rate's size, from a random one.
        progress: Show a progress bar.

    Returns:
        What was made: the file's bytes, its rate, PSNR, bits per tensor and timings.

    Raises:
        CodecError: Both or neither of `bpp` and `params`, a rate too low or too high for any
            network, an image too large for the format, or a budget out of range.

    Example:
        ```python
        import sirenkit

        made = sirenkit.compress("camera", "camera.sirk", bpp=2.0)
        print(made.bpp, made.psnr)
        ```
    """
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
        train_in_place(model, kind, signal, train, progress)
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
    """`network` built with these parameters."""
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
    """The network a `.sirk` file's bytes hold."""
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


def decompress(path: str | Path, out: str | Path | None = None, *,
               size: tuple[int, int] | None = None) -> np.ndarray | None:
    """Decode a `.sirk` file, at its own size or any other.

    This is `sirenkit decompress`.

    Args:
        path: The `.sirk` file.
        out: A PNG to write, band by band (any size within memory for one band; atomically);
            `None` returns the pixels instead.
        size: `(width, height)` to render at; `None` is the original size.

    Returns:
        Without `out`, the `(H, W, C)` intensities in [0, 1]; with `out`, `None`.

    Raises:
        CodecError: The file is not a `.sirk` file, is damaged (every read checks it whole), or
            needs an initialisation this installation does not have.
    """
    header, model = _decode(read_file(path), str(path))
    kind = header.kind
    if out is not None:
        kind.render_file(model, Path(out), size=size)
        return None
    return kind.render(model, size=size)
