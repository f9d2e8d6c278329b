"""Many signals at once: ``sirenkit fit image FOLDER_OR_FILES...`` and :func:`fit_many`.

Every signal is prepared by its own task function (its checks, its network, its ``--omega auto``
choice, its run folder), exactly as a single fit is; the prepared fits that share a network, a
recipe and the shapes of their per-step batches are trained together by
:func:`sirenkit.engine.stacked.fit_batched`, ``group`` at a time, each group as soon as it is prepared (a
folder is never held in memory whole); each then gets its ordinary run folder
(loadable, renderable, resumable), and the folder above them ``summary.csv``, ``summary.json``
(one row per signal: status, metrics, steps, seconds, run folder, error) and, for images and
sounds, ``contact.png`` (each ground truth over its fit, with its score).

A signal that cannot be read or fails is listed with its error and the others go on. With
``resume``, a signal whose run finished is kept as it is, one with a checkpoint is continued
alone, and the rest are fitted: a rerun finishes only what is unfinished.
"""

from __future__ import annotations

import copy
import csv
import functools
import io as _io
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import torch

from sirenkit.config import to_dict
from sirenkit.engine.checkpoint import CHECKPOINT_NAME
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.kinds import Fitted
from sirenkit.engine.loop import FitResult, TrainingDiverged, TrainingInterrupted, fit
from sirenkit.engine.parallel import alone, distributed_world, local_world
from sirenkit.engine.runs import PreparedFit, clear_run, finish_fit, holds_a_run, prepare_only
from sirenkit.figures import envelope, thumbnail
from sirenkit.io import atomic_write, write_json
from sirenkit.problems.constraints import Problem
from sirenkit.problems.domains import points_per_step
from sirenkit.resources import MEMORY_FRACTION, available_memory

logger = logging.getLogger("sirenkit")

SUFFIXES = {
    "image": (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"),
    "audio": (".wav", ".flac", ".ogg"),
    "sdf": (".obj", ".ply", ".stl", ".off", ".glb", ".xyz", ".npy"),
}
"""The files a folder contributes, per kind of fit (other files in it are left alone)."""

FitOne = Callable[[str, Path, bool], Fitted]
"""``fit_one(source, run_folder, resume)``: one signal's fit through its task function."""


@dataclass
class ManyResult:
    """What :func:`fit_many` did: one row per signal (``summary.json``'s), and where."""

    out: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    primary: bool = True
    """False on a torchrun rank other than 0: ``rows`` are that rank's own, and rank 0 wrote the summary."""

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["status"] == "failed"]


def expand_sources(sources: Sequence[str | Path], kind: str) -> list[str]:
    """Files and folders (a folder: its files of the kind, sorted by name) and bundled names, in
    the order given; a ``ValueError`` for a folder with none, or for nothing at all."""
    suffixes = SUFFIXES[kind]
    found: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
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
    (``a/cat.png``, ``b/cat.png``), then its file name (``cat.png``, ``cat.jpg``), then its position."""
    names = [Path(source).stem or f"signal-{i}" for i, source in enumerate(sources)]
    for rename in (lambda path: f"{path.parent.name}-{path.stem}", lambda path: path.name.replace(".", "_")):
        names = [name if names.count(name) == 1 else rename(Path(source)) for name, source in zip(names, sources)]
    return [name if names.count(name) == 1 else f"{name}-{i}" for i, name in enumerate(names)]


def finished(folder: Path) -> bool:
    """Whether ``folder`` holds a run that ended (its ``metrics.json`` written last)."""
    try:
        return "steps" in json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError, TypeError):
        return False


def batch_key(prepared: PreparedFit) -> str:
    """What fits trained together must share: the network, the recipe, the device and the shapes
    of each step's batches (every domain's points per step)."""
    device = next(prepared.model.parameters()).device
    shapes = [points_per_step(domain) for domain in prepared.problem.domains.values()]
    return json.dumps([to_dict(prepared.network), to_dict(prepared.train), str(device), shapes], sort_keys=True,
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
    """How many fits like ``prepared`` one batch holds: as many as this process's share of the free
    memory (``sharing`` processes on the machine) takes at :data:`~sirenkit.resources.MEMORY_FRACTION`,
    twice each one's measured :func:`step_memory` (room for the step's temporaries), at most ``count``."""
    device = next(prepared.model.parameters()).device
    free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else available_memory()
    if free is None:
        return count
    return max(1, min(count, int(MEMORY_FRACTION * free / sharing // (2 * step_memory(prepared)))))


def fit_all(sources: Sequence[str], fit_one: FitOne, *, out: str | Path, kind: str, group: int | None = None,
            resume: bool = False, progress: bool = True) -> ManyResult:
    """Fit every source (see the module docstring); ``fit_one`` is one signal's task call. Under
    torchrun the signals are shared out, each fitted by one rank (never data parallel)."""
    with alone():
        return _fit_all(sources, fit_one, out=out, kind=kind, group=group, resume=resume, progress=progress)


def _fit_all(sources: Sequence[str], fit_one: FitOne, *, out: str | Path, kind: str, group: int | None,
             resume: bool, progress: bool) -> ManyResult:
    if group is not None and group < 1:
        raise ValueError(f"--group must be at least 1, got {group}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: is a file, not a folder for the runs")
    rank, world = distributed_world()
    result = ManyResult(out, primary=rank == 0)
    names = run_names(sources)
    mine = [index for index in range(len(sources)) if index % world == rank]  # signal i goes to rank i mod world
    rows = {index: {"signal": names[index], "source": sources[index], "run": str(out / names[index])}
            for index in mine}
    batches = _Batches(rows, names, group, len(mine), progress)
    try:
        for index in mine:
            folder = out / names[index]
            row = rows[index]
            try:
                if resume and finished(folder):
                    row.update(status="done earlier", **_scores(json.loads((folder / "metrics.json").read_text())))
                elif resume and (folder / CHECKPOINT_NAME).exists():
                    batches.training = {index}  # continued alone, from its checkpoint
                    row.update(status="resumed", **_scores(fit_one(sources[index], folder, True).metrics))
                else:
                    if resume and holds_a_run(folder):
                        clear_run(folder)  # prepared once (its config.json) but never trained: start it afresh
                    batches.add(index, prepare_only(functools.partial(fit_one, sources[index], folder, False)))
            except (ValueError, OSError, RuntimeError) as error:
                row.update(status="failed", error=_one_line(error))
        batches.finish()
    except TrainingInterrupted:
        for index, row in rows.items():
            if "status" not in row:
                row.update(status="interrupted",
                           error="stopped with a checkpoint in its run folder; rerun with --resume"
                           if index in batches.training else "not started; rerun with --resume")
        raise
    finally:
        out.mkdir(parents=True, exist_ok=True)
        result.rows = gather_rows(rows, sources, names, out, rank, world)
        if result.primary:
            write_summary(result)
    if result.primary:
        contact_sheet(result, kind, out / "contact.png")
    return result


class _Batches:
    """Prepared fits waiting for their batch, trained as soon as one is full, so that a folder is
    held in memory a group at a time, not whole (1,000 photos of 256² are ~1.3 GB of targets):
    fits that can share a batch (:func:`batch_key`) gather until their group is full; when more
    fits wait than the largest group holds (signals of many different shapes), the largest waiting
    set is trained as it is. Each group's size is decided by its first fit (``group``, or as many
    as fit in memory), and whether batching pays here by the first batch of more than one."""

    def __init__(self, rows: dict[int, dict[str, Any]], names: Sequence[str], group: int | None, count: int,
                 progress: bool) -> None:
        self.rows, self.names, self.group, self.count, self.progress = rows, names, group, count, progress
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
                            ", ".join(self.names[i] for i in members))
                size = self.sizes[key] = 1
        for start in range(0, len(members), size):
            chunk = members[start:start + size]
            self.training = set(chunk)
            outcomes = _train([self.ready[i] for i in chunk], self.progress)
            for index, outcome in zip(chunk, outcomes):
                prepared = self.ready.pop(index)  # released: its signal, problem and network
                row = self.rows[index]
                if isinstance(outcome, Exception):
                    row.update(status="failed", error=_one_line(outcome))
                    continue
                try:
                    row.update(status="fitted", **_scores(finish_fit(prepared, outcome).metrics))
                except (ValueError, OSError, RuntimeError) as error:
                    row.update(status="failed", error=_one_line(error))


def gather_rows(rows: dict[int, dict[str, Any]], sources: Sequence[str], names: Sequence[str], out: Path, rank: int,
                world: int) -> list[dict[str, Any]]:
    """Every signal's row, in the order given. Alone: this process's rows. Under torchrun: each
    rank writes its rows to ``out/.rows-<rank>.json`` and waits for the others; rank 0 reads them
    all, and a signal whose rank wrote nothing (it died, or was stopped) is listed as ``missing``
    (its run folder, if any, is left for ``--resume``). Other ranks return their own rows."""
    if world == 1:
        return [rows[i] for i in range(len(sources))]
    import torch.distributed as dist

    write_json(out / f".rows-{rank}.json", {str(index): row for index, row in rows.items()})
    try:
        dist.barrier()
    except RuntimeError as error:  # a rank died: the others still report what they have
        logger.warning("not every process reached the end (%s)", _one_line(error))
    if rank != 0:
        _leave(dist)
        return [rows[i] for i in sorted(rows)]
    merged: dict[int, dict[str, Any]] = {}
    for other in range(world):
        part = out / f".rows-{other}.json"
        try:
            merged.update({int(k): v for k, v in json.loads(part.read_text()).items()})
            part.unlink()
        except (OSError, ValueError):
            pass
    _leave(dist)  # every rank's part is read: nothing more is said between them
    return [merged.get(i) or {"signal": names[i], "source": sources[i], "run": str(out / names[i]),
                              "status": "missing",
                              "error": f"rank {i % world} did not report (it stopped or failed); rerun with --resume"}
            for i in range(len(sources))]


def _leave(dist: Any) -> None:
    """Leave the process group; after a rank died this may fail, and nothing depends on it."""
    try:
        dist.destroy_process_group()
    except (RuntimeError, ValueError) as error:
        logger.warning("leaving the process group: %s", _one_line(error))


def batching_pays(models: Sequence[torch.nn.Module], problems: Sequence[Problem], train: TrainConfig, *,
                  steps: int = 4, most: int = 8) -> bool:
    """Whether training ``models`` on ``problems`` together is faster than one by one, measured. On a GPU, always (a
    small network leaves most of it idle). On a CPU a large network's step is already bound by its
    arithmetic, and a stacked product runs slower per signal than a single one (the paper's 256 × 4
    network at 4,096 points, 2-core Xeon: 76 ms per signal batched, 42 ms alone), while a small
    network's step is mostly overhead that batching removes: ``steps`` eager steps of copies of
    (at most ``most`` of) the group against as many of one copy alone, the first (which checks and
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
                       _one_line(error))
        return [_fit_alone(p, progress) for p in batch]


def _fit_alone(prepared: PreparedFit, progress: bool) -> FitResult | Exception:
    try:
        return fit(prepared.model, prepared.problem, prepared.train, network_config=prepared.network,
                   checkpoint_dir=prepared.out, progress=progress, watchers=prepared.watchers)
    except TrainingDiverged as error:
        return error


def _scores(metrics: dict[str, Any]) -> dict[str, Any]:
    """The numbers of a run's ``metrics.json`` that a summary row keeps."""
    keep = ("psnr", "ssim", "snr", "chamfer_l1", "fscore", "normal_consistency", "steps", "seconds", "parameters",
            "stopped_by")
    return {key: metrics[key] for key in keep if key in metrics}


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


COLUMNS = ("signal", "status", "psnr", "ssim", "snr", "chamfer_l1", "fscore", "normal_consistency", "steps",
           "seconds", "parameters", "stopped_by", "run", "source", "error")


def write_summary(result: ManyResult) -> None:
    """``summary.json`` and ``summary.csv`` in the runs' folder, each written whole or not at all."""
    write_json(result.out / "summary.json", {"signals": len(result.rows), "failed": len(result.failed),
                                             "rows": result.rows})
    present = [c for c in COLUMNS if any(c in row for row in result.rows)]
    text = _io.StringIO()
    writer = csv.DictWriter(text, fieldnames=present, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in result.rows:
        writer.writerow({key: _cell(row.get(key)) for key in present})
    data = text.getvalue().encode()
    atomic_write(result.out / "summary.csv", lambda stream: stream.write(data))


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return "" if value is None else value


def contact_sheet(result: ManyResult, kind: str, path: Path, limit: int = 48) -> None:
    """``contact.png`` from the run folders (whichever process or earlier run made them): for
    images, each photo over its fit with its PSNR; for sounds, each waveform with its fit's over
    it and its SNR; for shapes, each run's ``mesh.png`` with its Chamfer-L1; the first ``limit``
    signals that have a run."""
    if kind not in ("image", "audio", "sdf"):
        return
    pairs: list[tuple[dict[str, Any], np.ndarray, np.ndarray]] = []
    for row in result.rows:
        if row["status"] in ("fitted", "resumed", "done earlier") and len(pairs) < limit:
            try:
                pairs.append((row, *_truth_and_fit(row, kind)))
            except (OSError, ValueError, KeyError) as error:  # a run folder changed since: left out, said
                logger.warning("contact sheet: %s left out (%s)", row["signal"], _one_line(error))
    if not pairs:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sirenkit.figures import save_figure

    columns = min(8, len(pairs))
    blocks = math.ceil(len(pairs) / columns)
    rows_per = 2 if kind == "image" else 1
    figure, axes = plt.subplots(blocks * rows_per, columns, figsize=(2.2 * columns, 2.3 * blocks * rows_per),
                                squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for place, (row, truth, fitted) in enumerate(pairs):
        block, column = divmod(place, columns)
        if kind == "image":
            grey = truth.shape[-1] == 1
            for offset, picture in enumerate((truth, fitted)):
                ax = axes[block * 2 + offset, column]
                ax.imshow(picture[..., 0] if grey else np.clip(picture, 0, 1), cmap="gray" if grey else None,
                          vmin=0, vmax=1)
            axes[block * 2, column].set_title(row["signal"], fontsize=8)
            axes[block * 2 + 1, column].set_title(f"fit {row.get('psnr', float('nan')):.1f} dB", fontsize=8)
        elif kind == "sdf":
            axes[block, column].imshow(truth)
            axes[block, column].set_title(f"{row['signal']}: Chamfer {row.get('chamfer_l1', float('nan')):.4f}",
                                          fontsize=8)
        else:
            ax = axes[block, column]
            ax.axis("on")
            ax.plot(truth, lw=0.4, color="0.5")
            ax.plot(fitted, lw=0.4, color="tab:red", alpha=0.7)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{row['signal']}: {row.get('snr', float('nan')):.1f} dB", fontsize=8)
    title = {"image": "ground truth (top) and fit (below)", "audio": "sound (grey) and fit (red)",
             "sdf": "each fitted mesh (Chamfer-L1 against its input)"}[kind]
    figure.suptitle(f"{len(pairs)} of {len(result.rows)} signals: {title}", fontsize=9)
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.3 / figure.get_figheight()))  # the title's 0.3 inch kept clear
    save_figure(figure, path)
    plt.close(figure)


def _truth_and_fit(row: dict[str, Any], kind: str) -> tuple[np.ndarray, np.ndarray]:
    """A run's signal as its fit saw it (its source at the size or length its ``config.json``
    records) and the fit's main file, read back, each shrunk for the contact sheet."""
    run = Path(row["run"])
    if kind == "sdf":  # the run's own rendering of its mesh
        return np.asarray(iio.imread(run / "mesh.png")), np.zeros(0)
    settings = json.loads((run / "config.json").read_text())[kind]
    if kind == "image":
        from sirenkit.signals.image.data import load_image

        truth = load_image(row["source"], size=settings.get("size")).pixels
        saved = iio.imread(run / "reconstruction.png")
        fitted = np.asarray(saved, dtype=np.float32) / np.iinfo(saved.dtype).max
        return thumbnail(truth), thumbnail(fitted.reshape(truth.shape))
    from sirenkit.signals.audio.data import load_audio

    sound = load_audio(row["source"], seconds=settings.get("seconds")).samples[:, 0]
    return envelope(sound), envelope(load_audio(run / "reconstruction.wav").samples[:, 0])


def fit_many(sources: Sequence[str | Path], *, kind: str = "image", out: str | Path = "runs/many",
             group: int | None = None, resume: bool = False, overwrite: bool = False, progress: bool = True,
             **options: Any) -> ManyResult:
    """Fit every signal of ``sources`` (files, folders, bundled names) as ``kind`` (``image``,
    ``audio``, ``sdf``), each into ``out/<name>``, the ones that can share a batch trained together
    (``group`` at a time; by default as many as fit in memory); ``options`` go to the task
    function (:func:`~sirenkit.fit_image`'s ``size``, ``network``, ``train``, ``model``, ...).
    Writes ``summary.csv``, ``summary.json`` and ``contact.png`` into ``out``."""
    from sirenkit.signals.audio.fit import fit_audio
    from sirenkit.signals.image.fit import fit_image
    from sirenkit.signals.shape.fit import fit_sdf

    tasks: dict[str, Callable[..., Fitted]] = {"image": fit_image, "audio": fit_audio, "sdf": fit_sdf}
    if kind not in tasks:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(tasks)}")
    if resume and overwrite:
        raise ValueError("resume continues runs and overwrite replaces them: pass one of them")
    task = tasks[kind]

    def fit_one(source: str, folder: Path, resume_one: bool) -> Fitted:
        return task(source, out=folder, resume=resume_one, overwrite=overwrite, progress=False, **options)

    started = time.perf_counter()
    result = fit_all(expand_sources(sources, kind), fit_one, out=out, kind=kind, group=group, resume=resume,
                     progress=progress)
    logger.info("%d signals in %.1f s: %d failed", len(result.rows), time.perf_counter() - started,
                len(result.failed))
    return result


__all__ = ["ManyResult", "expand_sources", "fit_all", "fit_many"]
