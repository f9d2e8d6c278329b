"""Compressed images: a fitted network's weights quantised and entropy-coded into a `.sirk` file."""

from sirenkit.codec.weights import CodecError, Compressed, compress, decompress

__all__ = ["CodecError", "Compressed", "compress", "decompress"]
