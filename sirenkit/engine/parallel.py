"""Past one process, on `torch.distributed`: the process group, and one network trained on several.

Under `torchrun` (`WORLD_SIZE` > 1) every process joins the default process group (NCCL on
GPUs, each rank on its `LOCAL_RANK`'s device; gloo on CPUs). Two ways to use it:

- a folder of signals is shared out, signal i to rank i mod world (`sirenkit.engine.folders`);
- **one large signal** (a 4096² image, an hour of audio) is fitted by all ranks together, data
  parallel ([`DataParallel`][sirenkit.DataParallel]): each rank holds the same network and draws its step's points
  from its own share of the signal's points (rank r takes points r, r + world, ...; domains that
  draw fresh random points each step, such as the free space around a shape, draw them from the
  rank's own random stream), the gradients are averaged over the ranks after every backward pass,
  and every rank then takes the same Adam step. `--batch-size` is per process: N ranks see N
  times the points per step of one. With every point in each step, two ranks give what one rank
  gives with both halves (tested).

Why not `torch.nn.parallel.DistributedDataParallel` itself: its reducer needs the loss to go
through the wrapped module's `forward`, and a derivative constraint (Poisson, an SDF's eikonal
term) evaluates the network through its family's derivative engine instead. The averaging here is
what DDP's does (one `all_reduce` of the flattened gradients, divided by the world size) without
overlapping it with the backward pass, and it holds for every constraint.

Decisions stay in step: the clock readings that the time budget and the learning-rate schedule are
computed from, and a stop request (Ctrl-C, SIGTERM, a scheduler's time limit), are agreed on before
each step (the slowest rank's readings; any rank's request stops all of them at the same step
boundary), logged losses are the ranks' averages, and the metrics that decide
`--until` are measured on rank 0 and sent to the others. Only rank 0 writes the run folder and its
checkpoints; resuming reads rank 0's checkpoint on every rank (the other ranks' random streams
restart from a seed of the step, so a resumed multi-process run does not repeat the uninterrupted
one point for point, as a single process's does).

When a rank ends in the middle of a fit (killed, crashed, stopped by its scheduler), the
collective call each other rank waits in fails at once (its connections close): the others stop
with `RankLost`, and the run folder keeps the last checkpoint
rank 0 wrote, which `--resume` continues from. A rank that hangs instead is given up after
`GROUP_TIMEOUT`.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import torch
from torch import nn

from sirenkit.problems.constraints import Problem

RANK_SEED_STRIDE = 1_000_003
"""Rank r > 0 draws its random points from seed `seed + r × RANK_SEED_STRIDE` (rank 0 keeps the
run's seed, so that one rank is exactly an ordinary fit)."""


GROUP_TIMEOUT = datetime.timedelta(minutes=30)
"""How long a collective call waits for the other ranks before it fails: far longer than a rank
waits for the others in a fit (rank 0 evaluating the metrics, writing a checkpoint or a run folder,
a rank compiling its step), so that only a rank that hangs (stopped, on a machine that went away)
runs it out. A rank that dies is noticed at once, whatever this is: its connections close."""


class RankLost(RuntimeError):
    """Another rank of a data-parallel fit ended (killed, crashed, stopped) or stopped answering
    for `GROUP_TIMEOUT`: the collective call this rank
    waited in failed, and the fit cannot go on with a rank fewer. Rank 0 writes checkpoints whole or
    not at all, so the run folder keeps the last one, and `--resume` continues from it.

    Attributes:
        rank: This rank.
        world: The ranks the fit began with.
        reason: The communication library's reason, on one line.
    """

    def __init__(self, rank: int, world: int, reason: str) -> None:
        super().__init__(f"rank {rank} of {world} stopped: another rank ended or stopped answering ({reason}); "
                         f"any checkpoint written stays in the run folder, and --resume continues from it")
        self.rank, self.world, self.reason = rank, world, reason


_FAILED_CALLS: list[BaseException] = []
"""The errors of failed collective calls, kept (with their tracebacks, whose frames hold the calls'
tensors) for as long as the process lives. A gloo worker thread lets go of a failed call's tensors
a moment after the call returns; if Python had let go first, the worker frees them, which takes
the GIL, and if the interpreter is shutting down by then the process aborts ("terminate called
without an active exception") instead of exiting with its code. Held here, the last reference is
always Python's."""


def _reason(error: BaseException) -> str:
    """`error`'s first sentence on one line, without the source location gloo starts it with
    (`[.../tcp/pair.cc:537] Read error [127.0.0.1]:5004: Connection reset by peer. This is
    typically caused by ...` gives `Read error [127.0.0.1]:5004: Connection reset by peer`)."""
    text = re.sub(r"^\[[^\]]*\]\s*", "", " ".join(str(error).split()))
    return text.split(". ")[0][:200] or type(error).__name__


def distributed_world() -> tuple[int, int]:
    """`(rank, world size)` of this process: under `torchrun` (`WORLD_SIZE` > 1) the default
    process group is joined (NCCL where there are GPUs, each rank on its `LOCAL_RANK`'s GPU; gloo
    on CPUs); otherwise `(0, 1)`."""
    import torch.distributed as dist

    if not dist.is_available():
        return 0, 1
    if not dist.is_initialized():
        if launched_world() <= 1:
            return 0, 1
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, timeout=GROUP_TIMEOUT)
    return dist.get_rank(), dist.get_world_size()


def launched_world() -> int:
    """The world size torchrun launched this process into (1 when it was not)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def launched_rank() -> int:
    """This process's rank as torchrun numbered it (0 when it was not launched by torchrun)."""
    return int(os.environ.get("RANK", "0"))


def local_world() -> int:
    """Processes of this job on this machine (torchrun's `LOCAL_WORLD_SIZE`): on CPUs they share
    its memory, so each sizes its batches for its share."""
    return 1 if torch.cuda.is_available() else max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


class DataParallel:
    """One network trained by every rank of the process group: what
    [`data_parallel`][sirenkit.data_parallel] yields. [`fit`][sirenkit.fit] calls it at the points
    where the ranks must agree (the seed, the points each draws, the gradients, the clock, a stop).
    """

    def __init__(self) -> None:
        import torch.distributed as dist

        self.rank, self.world = distributed_world()
        self._dist = dist

    @property
    def primary(self) -> bool:
        """Rank 0: the one that writes."""
        return self.rank == 0

    @contextlib.contextmanager
    def _together(self) -> Iterator[None]:
        """Around a collective call: a failure of the call (gloo's are `RuntimeError`s, NCCL's
        `DistBackendError`s) means another rank ended or hung, and is a `RankLost`."""
        try:
            yield
        except RuntimeError as error:
            _FAILED_CALLS.append(error)
            raise RankLost(self.rank, self.world, _reason(error)) from error

    def seed(self, seed: int, step: int = 0) -> int:
        """This rank's seed for its random stream (the run's own on rank 0; on the others, at
        `step` > 0, a fresh one for a resumed run)."""
        if self.rank == 0:
            return seed
        return seed + self.rank * RANK_SEED_STRIDE + step

    def shard(self, problem: Problem) -> Problem:
        """`problem` with each fixed set of points cut to this rank's share (points r, r + world,
        ...); a domain that draws fresh points each step is kept (its points come from this rank's
        random stream)."""
        if self.world == 1:
            return problem
        return problem._with_domains({key: domain.shard(self.rank, self.world) if hasattr(domain, "shard") else domain
                                      for key, domain in problem.domains.items()})

    def broadcast_parameters(self, model: nn.Module) -> None:
        """Rank 0's weights on every rank (they start equal by their seed; this makes sure)."""
        if self.world == 1:
            return
        with torch.no_grad(), self._together():
            for tensor in [*model.parameters(), *model.buffers()]:
                self._dist.broadcast(tensor.data, src=0)

    def average(self, model: nn.Module, values: list[torch.Tensor]) -> list[float]:
        """Average the gradients of `model` and the scalars `values` (the loss and its terms)
        over the ranks, in one `all_reduce`; returns the averaged scalars."""
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        device = grads[0].device if grads else values[0].device
        scalars = torch.stack([v.detach().float().reshape(()) for v in values]).to(device)
        if self.world == 1:
            return scalars.tolist()
        flat = torch.cat([*(g.reshape(-1).float() for g in grads), scalars])
        with self._together():
            self._dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for grad in grads:
            count = grad.numel()
            grad.copy_(flat[offset:offset + count].view_as(grad))
            offset += count
        return flat[offset:].tolist()

    def agree(self, clock: list[float], stop: bool, device: torch.device) -> tuple[list[float], bool]:
        """Before a step: the largest of each of the ranks' `clock` readings (elapsed time, the last
        step's time, the timed total: what the time budget and the schedule are computed from, so
        that every rank computes the same), and whether any rank was asked to stop."""
        if self.world == 1:
            return clock, stop
        state = torch.tensor([*clock, float(stop)], dtype=torch.float64, device=device)
        with self._together():
            self._dist.all_reduce(state, op=self._dist.ReduceOp.MAX)
        values = state.tolist()
        return values[:-1], values[-1] > 0

    def check_in_step(self, model: nn.Module) -> None:
        """A `RuntimeError` if the ranks' networks differ (they take the same steps from the same
        weights, so they should not by a bit): a divergence is never written as a result."""
        if self.world == 1:
            return
        with torch.no_grad():
            total = sum(float(p.double().sum()) + float(p.double().abs().sum()) for p in model.parameters())
        device = next(model.parameters()).device
        state = torch.tensor([total, -total], dtype=torch.float64, device=device)
        with self._together():
            self._dist.all_reduce(state, op=self._dist.ReduceOp.MAX)
        largest, smallest = float(state[0]), -float(state[1])
        if abs(largest - smallest) > 1e-9 * max(abs(largest), 1.0):
            raise RuntimeError(f"the processes' networks drifted apart during data-parallel training (weight sums "
                               f"{smallest:.12g} to {largest:.12g}); please report this")

    def decide(self, flag: bool, device: torch.device) -> bool:
        """Rank 0's `flag` on every rank (a stop on a metric only rank 0 measured)."""
        if self.world == 1:
            return flag
        state = torch.tensor([float(flag)], dtype=torch.float64, device=device)
        with self._together():
            self._dist.broadcast(state, src=0)
        return bool(state[0] > 0)

    def share(self, value: Any) -> Any:
        """Rank 0's `value` (any picklable object: a chosen network) on every rank."""
        if self.world == 1:
            return value
        box = [value]
        with self._together():
            self._dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.world > 1:
            with self._together():
                self._dist.barrier()


_ACTIVE: ContextVar[DataParallel | None] = ContextVar("sirenkit_data_parallel", default=None)


@contextlib.contextmanager
def data_parallel() -> Iterator[DataParallel]:
    """Train one network on every rank of the process group, within a `with` block.

    Every fit within it ([`fit`][sirenkit.fit], and every task through it) trains one network on
    all ranks: each rank draws its points from its own share, the gradients are averaged, and only
    rank 0 writes (see the module [`sirenkit.engine.parallel`][sirenkit.engine.parallel]). Outside
    torchrun it is one process, an ordinary fit.

    Yields:
        The process group's view of this rank.

    Example:
        ```python
        # torchrun --nproc_per_node=4 script.py
        import sirenkit

        with sirenkit.data_parallel():
            sirenkit.fit_image("large.png", out="runs/large")
        ```
    """
    token = _ACTIVE.set(DataParallel())
    try:
        yield _ACTIVE.get()  # type: ignore[misc]
    finally:
        _ACTIVE.reset(token)


@contextlib.contextmanager
def alone() -> Iterator[None]:
    """Within it, each fit is one process's own (signals shared out among the ranks are)."""
    token = _ACTIVE.set(None)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def writes_here() -> bool:
    """Whether this process writes results: alone, or rank 0 of a data-parallel fit."""
    parallel = _ACTIVE.get()
    return parallel is None or parallel.primary


def active() -> DataParallel | None:
    """The data-parallel group fits use now, or None (each process fits alone; so does one process
    inside [`data_parallel`][sirenkit.data_parallel], as an ordinary fit)."""
    parallel = _ACTIVE.get()
    return parallel if parallel is not None and parallel.world > 1 else None
