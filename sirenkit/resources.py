"""Memory checks before large allocations: one typo (`--fps 1e9`, `--resolution 3000`) must end
in a message naming the option, not in a machine that swaps until it is killed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MEMORY_FRACTION = 0.8
"""Share of the available memory one allocation may plan to use."""


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (`MemAvailable` on Linux, free physical
    pages elsewhere), or None where the system does not say."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def readable_bytes(count: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count / 1e3:.0f} kB"


def check_memory(needed: float, what: str, advice: str, *, available: int | None = None) -> None:
    """A `ValueError` when `what` would need more than `MEMORY_FRACTION` of the memory
    available: `"<what> needs ~34 GB; this machine has 22 GB available; <advice>"`."""
    available = available_memory() if available is None else available
    if available is not None and needed > MEMORY_FRACTION * available:
        raise ValueError(f"{what} needs ~{readable_bytes(needed)}; this machine has {readable_bytes(available)} "
                         f"available; {advice}")


def release_free_memory() -> None:
    """Give the memory freed by a loop of large, short-lived arrays back to the system.

    glibc serves arrays below its adaptive threshold (up to 32 MB) from the heap; when long-lived
    small arrays land between them, the freed gaps are too small for the next ones and the heap
    only grows (meshing a 1024³ grid in slabs of three planes: 3.2 GB resident instead of 0.6).
    `malloc_trim` returns the free pages; elsewhere than glibc this does nothing.
    """
    global _malloc_trim
    if _malloc_trim is None:
        import ctypes
        import ctypes.util

        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None
