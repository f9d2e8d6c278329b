"""Compute threads on a shared machine: a CPU fit steps with the thread count that is fastest now.

PyTorch starts one compute thread per core, and those threads wait for each other at the end of
every operation. On a busy machine (a browser, a second fit, a test suite) the system deschedules
one of them now and then, and every other thread waits for it: on a 2-core machine with one
CPU-bound program beside it, a step took 3.4 times its quiet time with two threads, where one
thread takes about twice its quiet time, its fair share of the cores.

So a CPU fit measures its step with each candidate thread count (the cores it may use, then half,
a quarter, ... one), keeps the fastest, and measures again when the step time drifts from what
it measured (the machine's load changed) or after `RECHECK_SECONDS`. The cores it may use are
the fewest of the CPU affinity mask and the cgroup's CPU quota. Steps shorter than
`SHORTEST_STEP` are left alone: there the measurement would cost more than it could gain. A run
given a fixed count (`TrainConfig.threads`) uses exactly that.

The thread count changes the order in which a sum over the points is split among threads, so two
runs whose counts differ may differ in the last bits; a fixed count gives the same weights from
the same seed on the same machine.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
from collections.abc import Callable
from pathlib import Path

import torch

logger = logging.getLogger("sirenkit")

PROBE_STEPS = 4
"""Steps timed at each candidate count (after one step that lets the new count settle)."""
RECHECK_SECONDS = 20.0
"""Seconds of steps after which the counts are measured again, even if nothing drifted."""
DRIFT = 1.3
"""A median of recent steps this many times slower (or faster) than the chosen count measured
starts a new measurement: the machine's load has changed."""
RECENT = 8
"""Steps whose median is compared with the measurement."""
SHORTEST_STEP = 0.01
"""Seconds: a step faster than this (at the starting count) is not worth measuring."""
SKIP_FIRST = 2
"""Steps at the start that are not timed (the first may compile, the second warms caches)."""


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may use: its CPU affinity mask, capped by a cgroup (v2 `cpu.max`
    or v1 `cpu.cfs_quota_us`) quota, rounded down but at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_quota(cgroup)
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return max(1, cores)


def _cgroup_quota(root: Path) -> float | None:
    """CPUs' worth of time per period the cgroup allows, or None without a limit."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


def candidate_counts(cores: int) -> list[int]:
    """`cores`, then halves down to 1: `[2, 1]`, `[16, 8, 4, 2, 1]`, `[6, 3, 1]`."""
    counts, count = [], cores
    while count >= 1:
        counts.append(count)
        count = count // 2
    return counts


class ThreadChooser:
    """Chooses a CPU fit's compute threads from its measured step times (see the module).

    The loop calls `after_step(seconds)` with each step's time; the chooser may change
    `torch.set_num_threads` between steps, and `close()` gives the caller back its own count.

    Args:
        threads: `"auto"`, or a fixed count (which is set and never changed).
        active: Whether the steps run on the CPU (a GPU's steps are left alone).
        cores: The cores to choose among; `None` reads `usable_cores()`.
        setter: Sets the thread count (tests pass their own); `torch.set_num_threads` by default.
    """

    def __init__(self, threads: int | str = "auto", *, active: bool = True, cores: int | None = None,
                 setter: Callable[[int], None] = torch.set_num_threads) -> None:
        self.initial = torch.get_num_threads()
        self.setter = setter
        self.fixed = threads != "auto"
        self.counts = [] if not active or self.fixed else candidate_counts(cores or usable_cores())
        self.enabled = len(self.counts) > 1
        self.current = self.initial
        if active and self.fixed:
            self._use(int(threads))
        elif self.enabled:
            self._use(self.counts[0])
        self.skip = SKIP_FIRST
        self.queue: list[int] = []  # counts still to measure in this round
        self.samples: list[float] = []
        self.measured: dict[int, float] = {}
        self.recent: list[float] = []
        self.since_check = 0.0
        self.rounds = 0
        self.choices: list[int] = []
        self.final: int | None = None

    def _use(self, count: int) -> None:
        if count != self.current:
            self.setter(count)
            self.current = count

    def after_step(self, seconds: float) -> None:
        """Take one step's time into account; may change the thread count for the next step."""
        if not self.enabled:
            return
        if self.skip:
            self.skip -= 1
            return
        if not self.queue and not self.measured:  # the first timed step decides whether it is worth it
            if seconds < SHORTEST_STEP:
                self.enabled = False
                return
            self._start_round()
        if self.queue:
            self._measure(seconds)
            return
        self.since_check += seconds
        self.recent = (self.recent + [seconds])[-RECENT:]
        reference = self.measured[self.current]
        if len(self.recent) == RECENT:
            typical = statistics.median(self.recent)
            drifted = typical > DRIFT * reference or typical < reference / DRIFT
            if drifted or self.since_check >= RECHECK_SECONDS:
                self._start_round()

    def _start_round(self) -> None:
        # the count in use first (it needs no settling step), then the others
        self.queue = [self.current] + [count for count in self.counts if count != self.current]
        self.measured, self.samples, self.recent, self.since_check = {}, [], [], 0.0
        self.rounds += 1

    def _measure(self, seconds: float) -> None:
        self.samples.append(seconds)
        if len(self.samples) < PROBE_STEPS:
            return
        self.measured[self.queue.pop(0)] = statistics.median(self.samples)
        self.samples = []
        if self.queue:
            self._use(self.queue[0])
            self.skip = 1  # let the new count settle
            return
        best = min(self.measured, key=lambda count: self.measured[count])
        if best != self.current:
            self.skip = 1
        self._use(best)
        self.choices.append(best)
        if self.rounds > 1 and len(self.choices) > 1 and self.choices[-2] != best:
            logger.debug("compute threads: %d (step times %s)", best, self._shown())

    def _shown(self) -> str:
        return ", ".join(f"{count}: {1000 * value:.0f} ms" for count, value in sorted(self.measured.items()))

    def summary(self) -> dict[str, object]:
        """What `metrics.json` records: the threads used last and every count chosen, in order."""
        used = self.current if self.final is None else self.final
        return {"threads": used, "thread_choices": list(self.choices)} if self.choices else {"threads": used}

    def close(self) -> None:
        """Give the caller back the thread count it had."""
        self.final = self.current
        self._use(self.initial)
