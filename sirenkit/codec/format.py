"""The `.sirk` file: its format, the entropy coding of each tensor's symbols, and its checks.

A file holds a SIREN's weights as integer symbols `q = round(w / Δ)`, a step `Δ` per tensor
(chosen by [`sirenkit.codec.quantise`][sirenkit.codec.quantise]). The symbols of each tensor are range-coded
(`constriction`) under whichever of three models codes them shortest: uniform over their range, a
quantised Gaussian or a quantised Laplacian, fitted to them; the model's two numbers go in the file.
Reading a file checks it whole (magic, version, checksum, header) and names the file in every
[`CodecError`][sirenkit.CodecError].

File format, version 1 (little-endian):

```text
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
               initialisation set n holds for this architecture (sirenkit.codec.meta)
    25  13 × T per tensor, in the network's parameter order: step Δ (float32), entropy model
               (uint8: 0 uniform, 1 Gaussian, 2 Laplacian), lowest and highest symbol (int16
               each), the model's location and scale (float16 each)
     …  4 × n  the range coder's words (uint32)
 end−4      4  CRC-32 of every byte before it
```

`bpp = 8 × file bytes / (width × height)`, header and checksum included.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sirenkit.codec import meta
from sirenkit.networks.config import NetworkConfig
from sirenkit.signals.image.data import image_extent
from sirenkit.signals.image.kind import ImageKind

MAGIC = b"SIRK"
FORMAT_VERSION = 1
SUFFIX = ".sirk"
MODES = ("L", "LA", "RGB", "RGBA")
_HEADER = struct.Struct("<4sBBHHHBffI")
_TENSOR = struct.Struct("<fBhhee")
_CHECKSUM = struct.Struct("<I")
ENTROPY_MODELS = ("uniform", "gaussian", "laplacian")


class CodecError(ValueError):
    """A `.sirk` file that cannot be decoded, or a request no file can meet. A `ValueError`; its
    message names the file.
    """


@dataclass(frozen=True)
class TensorCode:
    """How one parameter tensor is coded: `w = Δ · q` with `q` in `[low, high]`."""

    step: float
    model: str
    low: int
    high: int
    location: float
    scale: float


@dataclass(frozen=True)
class Header:
    """Everything a `.sirk` file says before its coded weights."""

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
        """The header as plain values (`sirenkit info`)."""
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
    """The bytes of a `.sirk` file: `header` and the range-coded `symbols` of each tensor."""
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
    """The header of a `.sirk` file's bytes and its coded words; a [`CodecError`][sirenkit.CodecError] naming
    `name` for anything that is not a whole, intact file of this version."""
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
    _check_sizes(name, width, height, hidden_features, hidden_layers, len(MODES[mode]))
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
        if model and low < high and not (math.isfinite(location) and math.isfinite(scale) and scale > 0):
            raise CodecError(f"{name}: corrupt tensor code {index} (a {ENTROPY_MODELS[model]} of location "
                             f"{location} and scale {scale})")  # the coder would abort the process
        tensors.append(TensorCode(step, ENTROPY_MODELS[model], low, high, float(location), float(scale)))
    header = Header(version, MODES[mode], width, height, hidden_features, hidden_layers, first_omega, hidden_omega,
                    initialisation, tuple(tensors))
    return header, data[end:len(data) - _CHECKSUM.size]


DECODE_BYTES_PER_PARAMETER = 32
"""Memory that decoding one weight takes at its peak (its symbol, its float, the coder's copies)."""


def _check_sizes(name: str, width: int, height: int, hidden_features: int, hidden_layers: int, channels: int) -> None:
    """Sizes a header states, bounded before anything is built from them: the image at most
    `MAX_OUTPUT_PIXELS`, the network in the memory this process may use."""
    from sirenkit.networks.build import parameter_count
    from sirenkit.resources import MAX_OUTPUT_PIXELS, check_declared

    count = parameter_count(NetworkConfig(in_features=2, out_features=channels, model="siren",
                                          hidden_features=hidden_features, hidden_layers=hidden_layers))
    try:
        check_declared(name, f"image of {width}×{height}: pixels", width * height, 0, most=MAX_OUTPUT_PIXELS)
        check_declared(name, f"network of {hidden_layers} layers of width {hidden_features}: parameters", count,
                       count * DECODE_BYTES_PER_PARAMETER, advice="the file is damaged or was made elsewhere "
                       "for a larger machine")
    except ValueError as error:
        raise CodecError(str(error)) from None


def decode_symbols(header: Header, words: bytes, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """The integer symbols of each tensor, of `shapes`; a [`CodecError`][sirenkit.CodecError] where the stream
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
    """The entropy model that codes `symbols` shortest, and their length in bits under it."""
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


def read_file(path: str | Path) -> bytes:
    """The bytes of a `.sirk` file; a [`CodecError`][sirenkit.CodecError] for a folder or a missing file."""
    path = Path(path)
    if path.is_dir():
        raise CodecError(f"{path}: is a folder, not a .sirk file")
    if not path.is_file():
        raise CodecError(f"{path}: no such file")
    return path.read_bytes()


def file_header(path: str | Path) -> Header:
    """The header of a `.sirk` file (checked whole: magic, version, checksum)."""
    return read_header(read_file(path), str(path))[0]
