"""Memory checks before large allocations: one typo (`--fps 1e9`, `--resolution 3000`) must end
in a message naming the option, not in a machine that swaps until it is killed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MEMORY_FRACTION = 0.8
"""Share of the available memory one allocation may plan to use."""


MAX_OUTPUT_PIXELS = 16384 * 16384
"""The most pixels an image (or one frame) may be asked to have, whatever the memory: `--size`,
a `.sirk` file's header, a saved model's description."""


def available_memory() -> int | None:
    """Bytes a new allocation may really use: the least of the machine's available memory
    (`MemAvailable` on Linux, free physical pages elsewhere), the room left under the process's
    address-space limit (`ulimit -v`) and under its control group's memory limit (a container's);
    None where none of them is known."""
    known = [room for room in (_machine_memory(), address_space_room(), cgroup_room()) if room is not None]
    return min(known) if known else None


def _machine_memory() -> int | None:
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


def address_space_room() -> int | None:
    """The address space left under `RLIMIT_AS` (its limit less the process's `VmSize`), or None
    without a limit."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return None
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(0, limit - int(line.split()[1]) * 1024)
        return int(limit)
    except (ImportError, OSError, ValueError, IndexError):
        return None


_NO_LIMIT = 1 << 60
"""A control group's limit at or above this (cgroup v1 writes 2^63 rounded to pages) means none."""


def cgroup_room(proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The memory left under this process's control group limit (cgroup v2 `memory.max` less
    `memory.current`, or v1 `memory.limit_in_bytes` less `memory.usage_in_bytes`), or None
    without a limit or where there is no control group."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    candidates: list[tuple[Path, str, str]] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        relative = parts[2].lstrip("/")
        if parts[0] == "0" and parts[1] == "":  # cgroup v2
            candidates += [(root / relative, "memory.max", "memory.current"), (root, "memory.max", "memory.current")]
        elif "memory" in parts[1].split(","):  # cgroup v1
            base = root / "memory"
            candidates += [(base / relative, "memory.limit_in_bytes", "memory.usage_in_bytes"),
                           (base, "memory.limit_in_bytes", "memory.usage_in_bytes")]
    for folder, limit_name, usage_name in candidates:
        try:
            limit_text = (folder / limit_name).read_text().strip()
            usage = int((folder / usage_name).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit_text == "max" or int(limit_text) >= _NO_LIMIT:
            continue
        return max(0, int(limit_text) - usage)
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


def check_declared(source: str | Path, field: str, value: Any, needed: float, *, most: float | None = None,
                   advice: str = "") -> None:
    """The one check of a size read from a file or an option before anything is built from it.

    Args:
        source: The file (or option) the size comes from, named first in the message.
        field: What the size is (`"hidden width"`, `"declared samples"`).
        value: The size as the file states it, shown as it is.
        needed: Bytes that building what it describes would take.
        most: A bound whatever the memory (`MAX_OUTPUT_PIXELS`), compared with `value`.
        advice: What to do instead, appended to the message.

    Raises:
        ValueError: `"<source>: <field> <value> is more than <most>"`, or `"<source>: <field>
            <value> needs ~X GB; this machine has Y GB available"` where `needed` is over
            `MEMORY_FRACTION` of [`available_memory`][sirenkit.resources.available_memory].
    """
    tail = f"; {advice}" if advice else ""
    if most is not None and value > most:
        raise ValueError(f"{source}: {field} {value:,} is more than {most:,}{tail}")
    check_memory(needed, f"{source}: {field} {value:,}" if isinstance(value, int) else f"{source}: {field} {value}",
                 advice or "it cannot be built here")


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
