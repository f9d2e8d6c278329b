"""One writer per run folder: a lock file naming the process that writes the folder.

A second fit into a folder another live process is writing is refused with one line, before it
touches anything. The lock is released when the fit ends, and at the latest when the process exits;
a lock left by a process that died (killed, power lost) is recognised as stale and taken over.
The same process may take its own lock again (a library user fitting into one folder twice).
While the lock is held, the files written into the folder are recorded by name (`sirenkit.io`).
"""

from __future__ import annotations

import atexit
import os
import socket
from pathlib import Path

from sirenkit.io import record_writes

LOCK_NAME = ".sirenkit.lock"
"""The lock file in a run folder: `PID HOST` of the process writing it (hidden, never a run's file)."""

_held: set[Path] = set()


def _owner(lock: Path) -> tuple[int, str] | None:
    """The process and host a lock names, or None for a lock that cannot be read as one."""
    try:
        pid, host = lock.read_text().split(maxsplit=1)
        return int(pid), host.strip()
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def refuse_if_written(folder: Path) -> None:
    """A `ValueError` if another live process holds `folder`'s lock (cheap: made before a fit's
    preparation, and again when the lock is taken).

    Raises:
        ValueError: Another live process on this host writes the folder (or one on another host
            does, as far as can be told: a lock from another host is never taken over).
    """
    owner = _owner(folder / LOCK_NAME)
    me = (os.getpid(), socket.gethostname())
    if owner is not None and owner != me and (owner[1] != me[1] or _alive(owner[0])):
        raise ValueError(f"{folder}: another sirenkit process (pid {owner[0]} on {owner[1]}) is writing "
                         f"this run folder; wait for it to end or choose another --out")


def hold_run_folder(folder: Path) -> None:
    """Take `folder`'s lock for this process, or raise a `ValueError` naming the process that holds it.

    Args:
        folder: An existing run folder.

    Raises:
        ValueError: Another live process writes the folder (see `refuse_if_written`).
    """
    lock = folder / LOCK_NAME
    me = (os.getpid(), socket.gethostname())
    for _ in range(3):  # a stale lock removed, or a race lost: look again
        try:
            descriptor = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if _owner(lock) == me:
                _held.add(lock)
                record_writes(folder)
                return
            refuse_if_written(folder)
            lock.unlink(missing_ok=True)  # stale: its process is gone (or the file is not a lock)
            continue
        with os.fdopen(descriptor, "w") as file:
            file.write(f"{me[0]} {me[1]}\n")
        _held.add(lock)
        record_writes(folder)
        return
    raise ValueError(f"{folder}: could not take the run folder's lock {lock}")


def release_run_folder(folder: Path) -> None:
    """Give `folder`'s lock back, if this process holds it."""
    lock = folder / LOCK_NAME
    if lock in _held:
        _held.discard(lock)
        record_writes(folder, on=False)
        if _owner(lock) == (os.getpid(), socket.gethostname()):
            lock.unlink(missing_ok=True)


@atexit.register
def _release_all() -> None:
    for lock in list(_held):
        release_run_folder(lock.parent)
