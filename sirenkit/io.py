"""Files written whole or not at all: atomic writes (a temporary file renamed into place) and
strict JSON (NaN written as null). Saved models are `sirenkit.engine.models`'s, checkpoints
`sirenkit.engine.checkpoint`'s.

A folder may be *recorded*: then every file this module writes into it is noted by name, as it is
written, in the folder's journal (`WRITTEN_NAME`), so that a run knows its own files by name
rather than by time: `--overwrite` removes those and nothing a user put beside them.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

WRITTEN_NAME = ".sirenkit.written"
"""A recorded folder's journal: one name per line of the files written into it."""

_recorded: set[str] = set()


def record_writes(folder: str | Path, on: bool = True) -> None:
    """Start (or, with `on` false, stop) noting in `folder`'s journal every file written into it."""
    key = os.path.abspath(folder)
    if on:
        _recorded.add(key)
    else:
        _recorded.discard(key)


def recorded_names(folder: str | Path) -> list[str]:
    """The names a folder's journal holds, each once, in the order first written; empty without one."""
    try:
        lines = (Path(folder) / WRITTEN_NAME).read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError:
        return []
    return list(dict.fromkeys(line for line in lines if line))


def _note_written(path: Path) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if folder in _recorded and not path.name.startswith("."):
        with open(os.path.join(folder, WRITTEN_NAME), "a", encoding="utf-8", errors="surrogateescape") as journal:
            journal.write(path.name + "\n")


def _usual_permissions(path: str) -> None:
    """`mkstemp` makes files only their owner can read; give them what `open` would."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write a file through a temporary file in the same folder, renamed into place only when
    complete, so that a crash or Ctrl-C never leaves a half-written file.

    Args:
        path: The file to write; its folder is created if missing.
        write: Called with the open temporary file (binary) to write the content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        _note_written(path)  # before the file: a crash between the two leaves a name with no file, never the reverse
        _usual_permissions(temporary)
        os.replace(temporary, path)
        _sync_folder(path.parent)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (a power cut after it keeps the new file)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # folders cannot be opened on some systems (Windows): nothing to sync there
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _sync_file(path: str | Path) -> None:
    with open(path, "rb") as stream:
        os.fsync(stream.fileno())


def atomic_write_path(path: str | Path, write: Callable[[Path], Any]) -> None:
    """Like [`atomic_write`][sirenkit.io.atomic_write], for writers that take a file name rather
    than a stream; the temporary name keeps the suffix, so that format detection by extension still
    works.

    Args:
        path: The file to write; its folder is created if missing.
        write: Called with the temporary file's path to write the content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.part.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        _sync_file(temporary)
        _note_written(path)  # before the file: a crash between the two leaves a name with no file, never the reverse
        _usual_permissions(temporary)
        os.replace(temporary, path)
        _sync_folder(path.parent)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def strict_json(values: Any) -> Any:
    """Replace NaN and infinities by `None`: JSON has no such numbers, and a file that holds them (as
    Python writes them by default) is refused by other readers.

    Args:
        values: Numbers, dictionaries, lists and tuples, nested.

    Returns:
        The same values with every non-finite float as `None` (tuples as lists).
    """
    if isinstance(values, float):
        return values if math.isfinite(values) else None
    if isinstance(values, dict):
        return {key: strict_json(value) for key, value in values.items()}
    if isinstance(values, (list, tuple)):
        return [strict_json(value) for value in values]
    return values


def write_json(path: str | Path, values: Any, default: Callable[[Any], Any] | None = None) -> None:
    """Atomically write values as indented, standard JSON (non-finite numbers as `null`).

    Args:
        path: The file to write.
        values: What to write.
        default: Turns what JSON cannot hold into what it can, as in `json.dumps`.
    """
    text = json.dumps(strict_json(values), indent=2, sort_keys=False, allow_nan=False, default=default) + "\n"
    atomic_write(path, lambda stream: stream.write(text.encode()))
