"""Many signals at once: `sirenkit fit KIND FOLDER_OR_FILES...` and [`fit_many`][sirenkit.fit_many].

Every signal's fit is planned by its own task ([`FitPlan`][sirenkit.FitPlan]) and
prepared (its checks, its network, its `--omega auto` choice, its run folder) exactly as a
single fit is; the prepared fits that share a network, a recipe and the shapes of their per-step
batches are trained together by [`sirenkit.fit_batched`][sirenkit.fit_batched], `group` at a time,
each group as soon as it is prepared (a folder is never held in memory whole); each then gets its
ordinary run folder (loadable, renderable, resumable), and the folder above them `summary.csv`,
`summary.json` (one row per signal: status, metrics, steps, seconds, run folder, error) and, for
kinds with pictures (images, sounds, shapes), `contact.png` (`sirenkit.engine.folder_summary`).

Nothing here knows a particular kind: the kind says which files a folder contributes
([`input_suffixes`][sirenkit.SignalKind.input_suffixes]), which scores a row keeps and how its
runs look on the contact sheet, and `register_plan` says which
function plans the fit of one signal of it.

A signal that cannot be read or fails is listed with its error and the others go on. With
`resume`, a signal whose run finished is kept as it is, one with a checkpoint is continued
alone, and the rest are fitted: a rerun finishes only what is unfinished.
"""

from __future__ import annotations

import copy
import importlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from sirenkit.config import to_dict
from sirenkit.engine.checkpoint import CHECKPOINT_NAME
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.folder_summary import contact_sheet, gather_rows, one_line, scores, write_summary
from sirenkit.engine.kinds import KINDS, SignalKind, plan_function
from sirenkit.engine.loop import FitResult, TrainingDiverged, TrainingInterrupted
from sirenkit.engine.parallel import alone, distributed_world, local_world
from sirenkit.engine.runs import FitPlan, PreparedFit, clear_run, finish_fit, holds_a_run, prepare
from sirenkit.engine.single import fit
from sirenkit.networks.config import network_to_dict
from sirenkit.problems.constraints import Problem
from sirenkit.problems.domains import points_per_step
from sirenkit.resources import MEMORY_FRACTION, available_memory
from sirenkit.text import printable

logger = logging.getLogger("sirenkit")

PlanOne = Callable[[str, Path, bool], FitPlan]
"""`plan_one(source, run_folder, resume)`: one signal's fit, planned by its task ([`FitPlan`][sirenkit.FitPlan])."""


@dataclass
class ManyResult:
    """What [`fit_many`][sirenkit.fit_many] did: one row per signal (`summary.json`'s), and where."""

    out: Path
    """The folder that holds the run folders and the summaries."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    """One row per signal, in the order given: its name, `status` (`fitted`, `resumed`, `done
    earlier`, `failed`, `interrupted`), its scores, steps, seconds and run folder."""
    primary: bool = True
    """False on a torchrun rank other than 0: `rows` are that rank's own, and rank 0 wrote the summary."""

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The rows of the signals whose fit failed."""
        return [row for row in self.rows if row["status"] == "failed"]


def signal_kind(name: str) -> type[SignalKind]:
    """The registered kind called `name`; a `ValueError` naming those there are."""
    if name not in KINDS:  # the built-in kinds register themselves when imported (by name: no arrow up)
        importlib.import_module("sirenkit.signals")
    if name not in KINDS:
        raise ValueError(f"unknown kind {name!r}; expected one of {', '.join(KINDS)}")
    return KINDS[name]


def expand_sources(sources: Sequence[str | Path], kind: str) -> list[str]:
    """Files and folders (a folder: its files of the kind, sorted by name) and bundled names, in
    the order given; a `ValueError` for a folder with none, or for nothing at all."""
    suffixes = signal_kind(kind).input_suffixes
    found: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            if not suffixes:
                raise ValueError(f"{path}: {kind} signals are not fitted from a folder; give them one by one")
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
            if not files:
                raise ValueError(f"{path}: no {kind} files in it (looked for {', '.join(suffixes)})")
            found.extend(str(p) for p in files)
        else:
            found.append(str(source))
    if not found:
        raise ValueError("no signals given")
    return found


def run_names(sources: Sequence[str]) -> list[str]:
    """A run folder name per source: its stem; where two collide, its folder's name and its stem
    (`a/cat.png`, `b/cat.png`), then its file name (`cat.png`, `cat.jpg`), then its position. A
    name is taken as `sirenkit.text.printable` shows it (`caf\\xe9` for a file name that is not
    valid UTF-8): the run folder is named as the summary names the signal, and any tool opens it."""
    names = [printable(Path(source).stem) or f"signal-{i}" for i, source in enumerate(sources)]
    for rename in (lambda path: printable(f"{path.parent.name}-{path.stem}"),
                   lambda path: printable(path.name.replace(".", "_"))):
        names = [name if names.count(name) == 1 else rename(Path(source)) for name, source in zip(names, sources)]
    return [name if names.count(name) == 1 else f"{name}-{i}" for i, name in enumerate(names)]


def finished(folder: Path) -> bool:
    """Whether `folder` holds a run that ended (its `metrics.json` written last)."""
    try:
        return "steps" in json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError, TypeError):
        return False


def batch_key(prepared: PreparedFit) -> str:
    """What fits trained together must share: the network, the recipe, the device and the shapes
    of each step's batches (every domain's points per step)."""
    device = next(prepared.model.parameters()).device
    shapes = [points_per_step(domain) for domain in prepared.problem.domains.values()]
    return json.dumps([network_to_dict(prepared.network), to_dict(prepared.train), str(device), shapes], sort_keys=True,
                      default=str)


def step_memory(prepared: PreparedFit) -> int:
    """Bytes one signal adds to a batch: what its step keeps for the backward pass (measured by
    running its loss once and adding up the tensors autograd saves), its weights four times
    (weights, gradients, two Adam moments) and its data."""
    saved = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += tensor.numel() * tensor.element_size()
        return tensor

    problem = prepared.problem
    if prepared.train.batch_size is not None:
        problem = problem.with_batch_size(prepared.train.batch_size)
    batches = problem.sample(torch.Generator().manual_seed(0))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        problem.loss_terms(prepared.model, batches)
    weights = sum(p.numel() * p.element_size() for p in prepared.model.parameters())
    data = sum(t.numel() * t.element_size() for points, values in batches for t in (points, *values.values()))
    return saved + 4 * weights + data


def group_size(prepared: PreparedFit, count: int, *, sharing: int = 1) -> int:
    """How many fits like `prepared` one batch holds: as many as this process's share of the free
    memory (`sharing` processes on the machine) takes at `MEMORY_FRACTION`,
    twice each one's measured `step_memory` (room for the step's temporaries), at most `count`."""
    device = next(prepared.model.parameters()).device
    free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else available_memory()
    if free is None:
        return count
    return max(1, min(count, int(MEMORY_FRACTION * free / sharing // (2 * step_memory(prepared)))))


def fit_all(sources: Sequence[str], plan_one: PlanOne, *, out: str | Path, kind: str, group: int | None = None,
            resume: bool = False, progress: bool = True) -> ManyResult:
    """Fit every source (see the module docstring); `plan_one` plans one signal's fit. Under
    torchrun the signals are shared out, each fitted by one rank (never data parallel)."""
    with alone():
        return _fit_all(sources, plan_one, out=out, kind=kind, group=group, resume=resume, progress=progress)


def _fit_all(sources: Sequence[str], plan_one: PlanOne, *, out: str | Path, kind: str, group: int | None,
             resume: bool, progress: bool) -> ManyResult:
    if group is not None and group < 1:
        raise ValueError(f"--group must be at least 1, got {group}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: is a file, not a folder for the runs")
    spec = signal_kind(kind)
    rank, world = distributed_world()
    result = ManyResult(out, primary=rank == 0)
    names = run_names(sources)
    mine = [index for index in range(len(sources)) if index % world == rank]  # signal i goes to rank i mod world
    rows = {index: {"signal": names[index], "source": sources[index], "run": str(out / names[index])}
            for index in mine}
    batches = _Batches(rows, names, group, len(mine), progress, spec.score_names)
    try:
        for index in mine:
            folder = out / names[index]
            row = rows[index]
            try:
                if resume and finished(folder):
                    metrics = json.loads((folder / "metrics.json").read_text())
                    row.update(status="done earlier", **scores(metrics, spec.score_names))
                elif resume and (folder / CHECKPOINT_NAME).exists():
                    batches.training = {index}  # continued alone, from its checkpoint
                    metrics = plan_one(sources[index], folder, True).run().metrics
                    row.update(status="resumed", **scores(metrics, spec.score_names))
                else:
                    if resume and holds_a_run(folder):
                        clear_run(folder)  # prepared once (its config.json) but never trained: start it afresh
                    batches.add(index, prepare(plan_one(sources[index], folder, False)))
            except (ValueError, OSError, RuntimeError) as error:
                row.update(status="failed", error=one_line(error))
        batches.finish()
    except BaseException as error:  # interrupted, or failed unforeseen: the summary still says where each signal is
        for index, row in rows.items():
            if "status" not in row and isinstance(error, (TrainingInterrupted, KeyboardInterrupt)):
                row.update(status="interrupted",
                           error="stopped with a checkpoint in its run folder; rerun with --resume"
                           if index in batches.training else "not started; rerun with --resume")
            elif "status" not in row:
                row.update(status="failed", error=f"the folder's fit stopped ({type(error).__name__}: "
                                                  f"{one_line(error)}); rerun with --resume")
        raise
    finally:
        out.mkdir(parents=True, exist_ok=True)
        result.rows = gather_rows(rows, sources, names, out, rank, world)
        if result.primary:
            write_summary(out, result.rows, spec.score_names)
    if result.primary:
        contact_sheet(result.rows, spec, out / "contact.png")
    return result


class _Batches:
    """Prepared fits waiting for their batch, trained as soon as one is full, so that a folder is
    held in memory a group at a time, not whole (1,000 photos of 256² are ~1.3 GB of targets):
    fits that can share a batch (`batch_key`) gather until their group is full; when more
    fits wait than the largest group holds (signals of many different shapes), the largest waiting
    set is trained as it is. Each group's size is decided by its first fit (`group`, or as many
    as fit in memory), and whether batching pays here by the first batch of more than one."""

    def __init__(self, rows: dict[int, dict[str, Any]], names: Sequence[str], group: int | None, count: int,
                 progress: bool, score_names: Sequence[str]) -> None:
        self.rows, self.names, self.group, self.count, self.progress = rows, names, group, count, progress
        self.score_names = score_names
        self.ready: dict[int, PreparedFit] = {}
        self.pending: dict[str, list[int]] = {}
        self.sizes: dict[str, int] = {}
        self.probed: set[str] = set()
        self.training: set[int] = set()
        """The fits in training now (stopped, they leave a checkpoint)."""

    def add(self, index: int, prepared: PreparedFit) -> None:
        key = batch_key(prepared)
        self.ready[index] = prepared
        if key not in self.sizes:
            watched = prepared.train.snapshots or prepared.train.tensorboard  # the batched loop has no watchers
            self.sizes[key] = 1 if watched else self.group or group_size(prepared, self.count, sharing=local_world())
        members = self.pending.setdefault(key, [])
        members.append(index)
        if len(members) >= self.sizes[key]:
            self.train(key)
        elif sum(map(len, self.pending.values())) > max(self.sizes.values()):
            self.train(max(self.pending, key=lambda other: len(self.pending[other])))

    def finish(self) -> None:
        for key in list(self.pending):
            self.train(key)

    def train(self, key: str) -> None:
        members = self.pending.pop(key)
        size = self.sizes[key]
        if self.group is None and len(members) > 1 and key not in self.probed:
            self.probed.add(key)
            chosen = [self.ready[i] for i in members]
            if not batching_pays([p.model for p in chosen], [p.problem for p in chosen], chosen[0].train):
                logger.info("%s: one after another (measured faster than batched here)",
                            printable(", ".join(self.names[i] for i in members)))
                size = self.sizes[key] = 1
        for start in range(0, len(members), size):
            chunk = members[start:start + size]
            self.training = set(chunk)
            outcomes = _train([self.ready[i] for i in chunk], self.progress)
            for index, outcome in zip(chunk, outcomes):
                prepared = self.ready.pop(index)  # released: its signal, problem and network
                row = self.rows[index]
                if isinstance(outcome, Exception):
                    row.update(status="failed", error=one_line(outcome))
                    continue
                try:
                    row.update(status="fitted", **scores(finish_fit(prepared, outcome).metrics, self.score_names))
                except (ValueError, OSError, RuntimeError) as error:
                    row.update(status="failed", error=one_line(error))


def batching_pays(models: Sequence[torch.nn.Module], problems: Sequence[Problem], train: TrainConfig, *,
                  steps: int = 4, most: int = 8) -> bool:
    """Whether training `models` on `problems` together is faster than one by one, measured. On a GPU, always (a
    small network leaves most of it idle). On a CPU a large network's step is already bound by its
    arithmetic, and a stacked product runs slower per signal than a single one (the paper's 256 × 4
    network at 4,096 points, 2-core Xeon: 76 ms per signal batched, 42 ms alone), while a small
    network's step is mostly overhead that batching removes: `steps` eager steps of copies of
    (at most `most` of) the group against as many of one copy alone, the first (which checks and
    warms up) left out; a second or two. Nothing is trained."""
    device = next(models[0].parameters()).device
    if device.type != "cpu" or len(models) < 2:
        return True
    models, problems = models[:most], problems[:most]
    from sirenkit.engine.stacked import fit_batched

    probe = replace(train, steps=steps, time_budget=None, until=None, log_every=10**9, checkpoint_every=0,
                    compile=False, stall_check=0)

    def per_step(history: list[dict[str, float]]) -> float:  # logged at step 1 and at the last
        return (history[-1]["seconds"] - history[0]["seconds"]) / max(history[-1]["step"] - history[0]["step"], 1)

    try:
        together = fit_batched([copy.deepcopy(model) for model in models], problems, probe, progress=False)
        alone = fit(copy.deepcopy(models[0]), problems[0], probe, progress=False)
    except (ValueError, RuntimeError):
        return True  # the real run says what is wrong (and falls back to one by one)
    ends = [end for end in together if isinstance(end, FitResult)]
    if not ends:
        return True
    return per_step(ends[0].history) / len(models) < per_step(alone.history)


def _train(batch: list[PreparedFit], progress: bool) -> list[FitResult | Exception]:
    """One group's fits trained together (alone: the ordinary loop); a group that turns out not to
    be batchable (a residual holding per-signal data) is trained one by one instead."""
    from sirenkit.engine.stacked import fit_batched

    first = batch[0]
    if len(batch) == 1:
        return [_fit_alone(first, progress)]
    train = first.train
    if train.time_budget is not None:  # a budget is per signal: the group shares the sum
        train = replace(train, time_budget=train.time_budget * len(batch))
    try:
        return fit_batched([p.model for p in batch], [p.problem for p in batch], train, progress=progress,
                           checkpoint_dirs=[p.out for p in batch], network_configs=[p.network for p in batch])
    except TrainingInterrupted:
        raise
    except (ValueError, RuntimeError) as error:
        logger.warning("these %d fits cannot share a batch (%s); fitting them one by one", len(batch),
                       one_line(error))
        return [_fit_alone(p, progress) for p in batch]


def _fit_alone(prepared: PreparedFit, progress: bool) -> FitResult | Exception:
    try:
        return fit(prepared.model, prepared.problem, prepared.train, network_config=prepared.network,
                   checkpoint_dir=prepared.out, progress=progress, watchers=prepared.watchers)
    except TrainingDiverged as error:
        return error


def fit_many(sources: Sequence[str | Path], *, kind: str = "image", out: str | Path = "runs/many",
             group: int | None = None, resume: bool = False, overwrite: bool = False, progress: bool = True,
             **options: Any) -> ManyResult:
    """Fit every signal of `sources`, each into its own run folder, in batches where they can share one.

    Signals that can share a batch are trained together (`group` at a time; by default as many as
    fit in memory). Each run folder is what the kind's own fit writes; `out` also gets
    `summary.csv`, `summary.json` and `contact.png`. One signal's failure does not stop the others.
    This is `sirenkit fit KIND` with several sources.

    Args:
        sources: Files, folders (their files of the kind) and bundled names.
        kind: The signal kind: `image`, `audio`, `sdf`, or a plugin's kind with a planned fit
            (`register_plan`).
        out: The folder that holds one run folder per signal (`out/<name>`) and the summaries.
        group: The most signals trained together; `None` chooses from the memory.
        resume: Continue the runs saved in `out`; the finished ones are kept.
        overwrite: Replace the runs already in `out`.
        progress: Show a progress bar.
        **options: Go to the kind's plan: [`fit_image`][sirenkit.fit_image]'s `size`, `network`,
            `train`, `model`, ...

    Returns:
        One row per signal (`summary.json`'s) and where they were written.

    Raises:
        ValueError: An unknown kind, no signals, a folder without files of the kind, or both
            `resume` and `overwrite`.

    Example:
        ```python
        import sirenkit

        result = sirenkit.fit_many(["photos/"], kind="image", out="runs/photos", size=256)
        ```
    """
    plan = plan_function(kind)
    if resume and overwrite:
        raise ValueError("resume continues runs and overwrite replaces them: pass one of them")

    def plan_one(source: str, folder: Path, resume_one: bool) -> FitPlan:
        return plan(source, out=folder, resume=resume_one, overwrite=overwrite, progress=False, **options)

    started = time.perf_counter()
    result = fit_all(expand_sources(sources, kind), plan_one, out=out, kind=kind, group=group, resume=resume,
                     progress=progress)
    logger.info("%d signals in %.1f s: %d failed", len(result.rows), time.perf_counter() - started,
                len(result.failed))
    return result


__all__ = ["ManyResult", "batching_pays", "expand_sources", "fit_all", "fit_many"]
