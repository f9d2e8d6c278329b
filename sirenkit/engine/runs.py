"""The one fit for every signal kind: plan → prepare → train → finish ([`FitPlan`][sirenkit.FitPlan],
`prepare`, `train_prepared`, `finish_fit`), and the run folder's lifecycle.

Every run folder, for every kind, holds `config.json` (the resolved configuration),
`model.safetensors` + `model.json`, `metrics.json`, `history.json` and its main result
under one name (`reconstruction.png`, `.wav`, `.mp4` or `mesh.ply`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sirenkit.config import to_dict
from sirenkit.engine.checkpoint import (
    CHECKPOINT_NAME,
    OLD_CHECKPOINT_NAME,
    check_checkpoint,
    check_checkpoint_exists,
    check_state_fits,
    load_checkpoint_file,
)
from sirenkit.engine.config import TrainConfig, at_family_rate
from sirenkit.engine.history import history_series, logged_every  # noqa: F401  (their former home)
from sirenkit.engine.kinds import Fitted, SignalKind
from sirenkit.engine.lock import hold_run_folder, refuse_if_written, release_run_folder
from sirenkit.engine.loop import FitResult
from sirenkit.engine.models import MODEL_INFO, MODEL_WEIGHTS, save_model
from sirenkit.engine.parallel import active
from sirenkit.engine.policy import resolve_device
from sirenkit.engine.readme import write_run_readme
from sirenkit.engine.single import fit
from sirenkit.engine.watch import Watcher, watchers
from sirenkit.io import WRITTEN_NAME, recorded_names, strict_json, write_json
from sirenkit.networks.build import build_network, count_parameters
from sirenkit.networks.config import NetworkConfig, network_config_from_dict, network_to_dict
from sirenkit.problems.constraints import Problem
from sirenkit.version import __version__


def build_on_device(network: NetworkConfig, train: TrainConfig) -> tuple[nn.Module, torch.device]:
    """The freshly initialised network (seeded from `train.seed`) on the configured device."""
    device = resolve_device(train.device)
    return build_network(network, seed=train.seed).to(device), device


def environment(device: torch.device) -> dict[str, Any]:
    """Versions and hardware, recorded beside every result."""
    info = {
        "sirenkit": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    else:
        info["cpu"] = platform.processor() or platform.machine()
        info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return info


def write_config(out: Path, identity: dict[str, Any], device: torch.device) -> None:
    """`config.json`: everything needed to run the same fit again, and to check that a resumed
    run is the same one (its inputs by content hash)."""
    task = identity["task"]
    write_json(out / "config.json", {"task": task, task: identity["settings"], "inputs": identity["inputs"],
                                     "network": identity["network"], "train": identity["train"],
                                     "environment": environment(device)})


def stop_reason(result: FitResult, train: TrainConfig) -> str:
    """Why the fit ended, in words: the steps, the time budget or the target, and a stall."""
    if result.stopped_by == "time":
        reason = f"the time budget of {train.time_budget:g} s ended it after {result.steps:,} steps"
    elif result.stopped_by == "until":
        reason = f"{train.until_metric or 'the loss'} reached the target {train.until:g} at step {result.steps:,}"
    else:
        reason = f"all {result.steps:,} steps were taken"
    if result.stalled_at is not None:
        reason += f"; the stall check lowered the learning rate at step {result.stalled_at:,}"
    return reason


def fit_summary(result: FitResult, wall: float, network: NetworkConfig, train: TrainConfig) -> dict[str, Any]:
    """The entries every `metrics.json` shares: how long, how big, how it ran, why it stopped."""
    return {
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "wall_seconds": round(wall, 3),
        "parameters": count_parameters(result.model),
        "model": network.model,
        "compiled": result.compiled,
        "precision": result.precision,
        "stopped_by": result.stopped_by,
        "stop_reason": stop_reason(result, train),
        **({"stalled_at": result.stalled_at} if result.stalled_at is not None else {}),
        **result.threads,
    }


RUN_STATE_FILES = ("config.json", CHECKPOINT_NAME, OLD_CHECKPOINT_NAME, MODEL_WEIGHTS, MODEL_INFO, "metrics.json",
                   "history.json")
"""The files that make a folder a run folder: a new run never starts over them silently."""

RESUMABLE_CHANGES = frozenset({"steps", "time_budget", "until", "until_metric", "log_every", "checkpoint_every",
                               "checkpoint_seconds", "device", "compile", "snapshots", "tensorboard", "image_every",
                               "threads"})
"""Training settings a resumed run may change (when and how it stops, logs, saves, where it runs);
every other one changes the result and must match the run being continued."""


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (names and bytes, in sorted order)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file is not path:
            digest.update(os.fsencode(file.relative_to(path)) + b"\0")  # its bytes: any name hashes
        with open(file, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def input_fingerprints(kind: SignalKind, settings: dict[str, Any]) -> dict[str, Any]:
    """What the run was fitted to: every file or folder among the kind's source and the task's
    string settings (a second image, a mask), with its content hash; a name that is no file (a
    bundled sample) stands for itself."""
    named = {"source": getattr(kind, "source", None),
             **{key: value for key, value in settings.items() if key != "source"}}
    inputs: dict[str, Any] = {}
    for key, value in named.items():
        if isinstance(value, str) and value and Path(value).exists():
            inputs[key] = {"path": str(Path(value).resolve()), "sha256": file_digest(Path(value))}
        elif key == "source" and isinstance(value, str):
            inputs[key] = {"name": value}
    return inputs


def holds_a_run(folder: Path) -> bool:
    return folder.is_dir() and any((folder / name).exists() for name in RUN_STATE_FILES)


def _describe_run(folder: Path) -> str:
    try:
        saved = json.loads((folder / "config.json").read_text())
        source = saved.get("inputs", {}).get("source", {})
        return f" (task {saved.get('task')}, {source.get('path') or source.get('name') or 'unknown source'})"
    except (OSError, ValueError, AttributeError):
        return ""


def check_same_run(folder: Path, identity: dict[str, Any]) -> None:
    """A `ValueError` naming the first difference between the run saved in `folder` and the one
    about to continue it: task, inputs (by content), task settings, network, or a training setting
    that changes the result."""
    config_path = folder / "config.json"
    identity = json.loads(json.dumps(strict_json(identity)))  # as config.json holds it: lists, nulls
    try:
        saved = json.loads(config_path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{config_path}: missing, so the run cannot be checked before it is continued") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"{config_path}: not readable ({type(error).__name__})") from None

    def refuse(what: str, before: Any, now: Any) -> None:
        raise ValueError(f"{folder}: cannot resume: {what} was {before!r} in that run, now {now!r} "
                         f"(start a new run folder, or replace this one with --overwrite)")

    if saved.get("task") != identity["task"]:
        refuse("the task", saved.get("task"), identity["task"])
    before_inputs = saved.get("inputs")
    if before_inputs is not None:
        for key in sorted(set(before_inputs) | set(identity["inputs"])):
            was, now = before_inputs.get(key) or {}, identity["inputs"].get(key) or {}
            if was.get("sha256") != now.get("sha256") or was.get("name") != now.get("name"):
                refuse(f"the input {key!r}", was.get("path") or was.get("name"), now.get("path") or now.get("name"))
    paths = {key for key, value in identity["inputs"].items() if "path" in value}
    before_settings = saved.get(identity["task"], {})
    for key in sorted(set(before_settings) | set(identity["settings"])):
        if key not in paths and before_settings.get(key) != identity["settings"].get(key):
            refuse(f"the setting {key!r}", before_settings.get(key), identity["settings"].get(key))
    if "network" in saved:  # setting by setting, in whichever form the run wrote it (flat, or by family)
        try:
            before_network = dataclasses.asdict(network_config_from_dict(saved["network"]))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{config_path}: its network is not readable ({error})") from None
        now_network = dataclasses.asdict(network_config_from_dict(identity["network"]))
        for key, value in now_network.items():
            if before_network[key] != value:
                refuse(f"the network's {key}", before_network[key], value)
    for key, value in identity["train"].items():
        if key not in RESUMABLE_CHANGES and saved.get("train", {}).get(key, value) != value:
            refuse(f"the training setting {key}", saved["train"][key], value)


def prepare_run_folder(out: str | Path | None, resume: bool, network: NetworkConfig,
                       identity: dict[str, Any] | None = None, *, overwrite: bool = False,
                       unknowns: dict[str, torch.Tensor] | None = None) -> Path | None:
    """The run folder, created. A folder that holds a run is continued only with `resume` (its
    checkpoint must exist, and `identity` must match the saved run) and replaced only with
    `overwrite`; otherwise a `ValueError` says which to pass. Every check comes before anything
    is written, so a refused run leaves the folder as it was. `unknowns`: the problem's unknown
    coefficients, which the checkpoint must hold."""
    out_path = Path(out) if out is not None else None
    refuse_run_folder(out_path, resume, overwrite)
    if out_path is not None:
        if out_path.exists() and not out_path.is_dir():
            raise ValueError(f"{out_path}: is a file, not a run folder")
        out_path.mkdir(parents=True, exist_ok=True)
        hold_run_folder(out_path)  # before anything is read or removed: one writer per folder
    try:
        if resume:
            assert out_path is not None
            checkpoint = out_path / CHECKPOINT_NAME
            state = load_checkpoint_file(checkpoint)  # a corrupt file is named first
            if identity is not None:
                check_same_run(out_path, identity)
            check_state_fits(state, checkpoint, network)
            with torch.device("meta"):  # shapes only: the checks before anything is written
                check_checkpoint(state, checkpoint, build_network(network, seed=0), unknowns)
        elif out_path is not None and holds_a_run(out_path):
            clear_run(out_path)
    except BaseException:  # refused: the folder as it was, its lock included
        if out_path is not None:
            release_run_folder(out_path)
        raise
    return out_path


def refuse_run_folder(out: Path | None, resume: bool, overwrite: bool) -> None:
    """The refusals of `prepare_run_folder` that need nothing but the options: both of
    `resume` and `overwrite`, a resume with no checkpoint, a folder holding a run that is
    neither resumed nor replaced. Cheap, so a fit can make them before any costly preparation."""
    if resume and overwrite:
        raise ValueError("--resume continues a run and --overwrite replaces it: pass one of them")
    if out is not None and out.is_dir():
        refuse_if_written(out)
    if resume:
        if out is None:
            raise ValueError("no run folder: no checkpoint to resume from")
        check_checkpoint_exists(out / CHECKPOINT_NAME)
    elif out is not None and holds_a_run(out) and not overwrite:
        raise ValueError(f"{out}: holds a previous run{_describe_run(out)}; continue it with "
                         f"--resume or replace it with --overwrite")


def clear_run(folder: Path) -> None:
    """Remove a previous run from `folder`: its state files and the files it wrote, by name (its
    journal, or `metrics.json`'s `files` for runs of earlier versions); nothing else the folder
    holds is touched."""
    listed: list[str] = recorded_names(folder)
    try:
        listed += list(json.loads((folder / "metrics.json").read_text()).get("files", []))
    except (OSError, ValueError, AttributeError):
        pass
    for name in (*RUN_STATE_FILES, *listed):
        if isinstance(name, str) and name == Path(name).name and not name.startswith("."):
            (folder / name).unlink(missing_ok=True)
    (folder / WRITTEN_NAME).unlink(missing_ok=True)


@dataclass(frozen=True, kw_only=True)
class FitPlan:
    """One fit, planned but not begun; its fields are [`fit_signal`][sirenkit.fit_signal]'s arguments.
    [`run`][sirenkit.FitPlan.run] prepares, trains and finishes it; [`fit_many`][sirenkit.fit_many]
    prepares many and trains those that can share a batch together (a kind's `register_plan`)."""

    kind: SignalKind
    signal: Any
    network: NetworkConfig | None = None
    train: TrainConfig | None = None
    model: str = "siren"
    problem: Callable[[torch.device], Problem] | None = None
    sampling: dict[str, Any] | None = None
    measure: Callable[..., dict[str, Any]] | None = None
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None
    products: Callable[[Any], dict[str, Any]] | None = None
    write: Callable[[Fitted, Path], None] | None = None
    task: str | None = None
    settings: dict[str, Any] | None = None
    choose_network: Callable[[NetworkConfig], tuple[NetworkConfig, dict[str, Any]]] | None = None
    out: str | Path | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = True

    def run(self) -> Fitted:
        """Prepare, train and finish the fit: the fitted network, its run folder written (with `out`)."""
        prepared = prepare(self)
        try:
            return finish_fit(prepared, train_prepared(prepared))
        finally:  # ended, failed or interrupted: the folder is free for the next writer
            if prepared.out is not None and prepared.writes:
                release_run_folder(prepared.out)


def fit_signal(
    kind: SignalKind,
    signal: Any,
    *,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    model: str = "siren",
    problem: Callable[[torch.device], Problem] | None = None,
    sampling: dict[str, Any] | None = None,
    measure: Callable[..., dict[str, Any]] | None = None,
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
    products: Callable[[Any], dict[str, Any]] | None = None,
    write: Callable[[Fitted, Path], None] | None = None,
    task: str | None = None,
    settings: dict[str, Any] | None = None,
    choose_network: Callable[[NetworkConfig], tuple[NetworkConfig, dict[str, Any]]] | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Fitted:
    """Fit a network to a signal, described by its kind, and with `out` write the run folder.

    The defaults are the kind's (the recipe at the family's multiple of a SIREN's learning rate); a task that fits
    the same kind another way (an image from its gradients) passes its own. This is `FitPlan(...).run()`.

    Args:
        kind: What the signal is ([`ImageKind`][sirenkit.ImageKind], ...), described from it.
        signal: The signal, as the kind reads it.
        network: The network; `None` is the kind's default for `model`.
        train: The recipe; `None` is the kind's.
        model: The network family, used when `network` is `None`.
        problem: `problem(device)` builds the problem; `None` is the kind's.
        sampling: Keywords of [`SignalKind.render`][sirenkit.SignalKind.render] for the result.
        measure: `measure(rendered, *, final)`: the metrics (of the progress bar too, unless `evaluate`).
        evaluate: `evaluate(model)`: what to log while fitting.
        products: `products(rendered)`: what the result keeps (`{"reconstruction": rendered}`).
        write: `write(fitted, out)` writes the run folder instead of the kind.
        task: The task's name in `config.json` (the kind's name by default).
        settings: The task's options, recorded in `config.json` under `task`.
        choose_network: `(network) -> (network, record)`: a last, costly choice once options are checked.
        out: The run folder to write; `None` writes nothing.
        resume: Continue the run saved in `out` from its checkpoint.
        overwrite: Replace a run already in `out`.
        progress: Show a progress bar.

    Raises:
        ValueError: An option out of range, or a run in `out` without `resume` or `overwrite`.
        TrainingDiverged: The loss became NaN or infinite.
        TrainingInterrupted: Ctrl-C or SIGTERM stopped the fit; with `out`, its checkpoint is there.
    """
    return FitPlan(kind=kind, signal=signal, network=network, train=train, model=model, problem=problem,
                   sampling=sampling, measure=measure, evaluate=evaluate, products=products, write=write, task=task,
                   settings=settings, choose_network=choose_network, out=out, resume=resume, overwrite=overwrite,
                   progress=progress).run()


def prepare(plan: FitPlan) -> PreparedFit:
    """Everything before training: every check, the network (and its last choice, `--omega
    auto`), the problem on its device, the run folder up to `config.json`, the watchers."""
    kind, signal, out, resume = plan.kind, plan.signal, plan.out, plan.resume
    measure, evaluate = plan.measure, plan.evaluate
    network = plan.network or kind.network(plan.model)
    kind.check_network(network)
    recipe = plan.train or at_family_rate(kind.train_config(), network.model, network.hidden_features)
    train = kind.checked_train(recipe)
    report: dict[str, Any] = {}
    parallel = active()
    writes = parallel is None or parallel.primary
    # before a costly choice, and on every rank before any writes
    if plan.choose_network is not None or parallel is not None:
        refuse_run_folder(Path(out) if out is not None else None, resume, plan.overwrite)
    if parallel is not None:
        parallel.barrier()
    if plan.choose_network is not None:
        network, report = plan.choose_network(network)
        if parallel is not None:  # every rank trains rank 0's choice
            network, report = parallel.share((network, report))
        kind.check_network(network)
    sampling = dict(plan.sampling or {})
    net, device = build_on_device(network, train)
    built = (plan.problem(device) if plan.problem is not None
             else kind.problem(signal, batch_size=train.batch_size, device=device))
    if measure is None:
        def measure(rendered: Any, *, final: bool = True) -> dict[str, Any]:
            return kind.measure(rendered, signal, final=final)

        evaluate = evaluate or (lambda model: kind.progress(model, signal))
    elif evaluate is None:
        def evaluate(model: nn.Module) -> dict[str, float]:
            values = measure(kind.render(model, **sampling), final=False)
            return {key: value for key, value in values.items() if isinstance(value, (int, float))}
    if built.evaluate is None and signal is not None:
        built = built.replaced(evaluate=evaluate, metrics=())
    built = built.replaced(metrics=(*built.metrics, *kind.metrics))
    settings = plan.settings if plan.settings is not None else {"source": kind.source}
    identity = {"task": plan.task or kind.name, "settings": settings, "network": network_to_dict(network),
                "train": to_dict(train), "inputs": input_fingerprints(kind, settings) if out is not None else {}}
    if writes:
        out_path = prepare_run_folder(out, resume, network, identity, overwrite=plan.overwrite,
                                      unknowns=dict(built.coefficients))
        if out_path is not None:
            write_config(out_path, identity, device)
    else:  # another rank of a data-parallel fit: rank 0 writes the run folder; a resumed run is read from it
        out_path = Path(out) if out is not None else None
    if parallel is not None:
        parallel.barrier()
    watching = watchers(kind, signal, train, out_path, resume=resume) if writes else []
    return PreparedFit(kind, signal, network, train, net, built, out_path, sampling, measure, plan.products,
                       plan.write, report, time.perf_counter(), watching, resume=resume, progress=plan.progress,
                       writes=writes)


def train_prepared(prepared: PreparedFit) -> FitResult:
    """Train one prepared fit alone ([`sirenkit.fit`][sirenkit.fit]), resuming it where asked."""
    try:
        return fit(prepared.model, prepared.problem, prepared.train, network_config=prepared.network,
                   checkpoint_dir=prepared.out, resume=prepared.resume, progress=prepared.progress,
                   watchers=prepared.watchers)
    except BaseException:  # stopped or failed: what the TensorBoard log holds is flushed
        for watcher in prepared.watchers:
            watcher.close(None)
        raise


@dataclass
class PreparedFit:
    """A fit of [`fit_signal`][sirenkit.fit_signal] ready to train: its network on its device, its problem and its
    run folder written up to `config.json`; `finish_fit` does the rest once it is trained
    (by [`sirenkit.fit`][sirenkit.fit], or with others by [`sirenkit.fit_batched`][sirenkit.fit_batched])."""

    kind: SignalKind
    signal: Any
    network: NetworkConfig
    train: TrainConfig
    model: nn.Module
    problem: Problem
    out: Path | None
    sampling: dict[str, Any]
    measure: Callable[..., dict[str, Any]]
    products: Callable[[Any], dict[str, Any]] | None
    write: Callable[[Fitted, Path], None] | None
    report: dict[str, Any]
    started: float
    """When training began (`perf_counter`): `metrics.json`'s `wall_seconds` count from it (in a
    batch, the whole batch's training, which the signal shared)."""
    watchers: list[Watcher] = dataclasses.field(default_factory=list)
    """What watches the training (`sirenkit.engine.watch`): snapshots, a TensorBoard log."""
    resume: bool = False
    """Whether training continues from the run folder's checkpoint."""
    progress: bool = True
    writes: bool = True
    """Whether this process writes the run folder (rank 0 of a data-parallel fit)."""


def finish_fit(prepared: PreparedFit, result: FitResult) -> Fitted:
    """Everything after training: the model saved, rendered once, measured, the run folder's files."""
    kind, signal, net, network = prepared.kind, prepared.signal, prepared.model, prepared.network
    out_path = prepared.out if prepared.writes else None  # another rank of a data-parallel fit: rank 0 writes
    if out_path is not None:  # before any post-processing (meshing, figures) that could fail
        save_model(out_path, net, network, kind)
    rendered = kind.render(net, **prepared.sampling)  # once: metrics, files and figures share it
    metrics = {**prepared.measure(rendered, final=True), **kind.summary(signal, result.history, network)}
    wall = time.perf_counter() - prepared.started
    metrics = {**metrics, **fit_summary(result, wall, network, prepared.train), **kind.conventions(), **prepared.report}
    made = prepared.products(rendered) if prepared.products is not None else {"reconstruction": rendered}
    for watcher in prepared.watchers:  # progress.png, the TensorBoard log closed
        watcher.close(out_path)
    fitted = Fitted(net, network, kind, metrics, result.history, out_path, made)
    if out_path is not None:
        (prepared.write or (lambda done, folder: kind.write_run(done, signal, folder)))(fitted, out_path)
        write_run_readme(fitted, __version__, written_files(out_path))
        record_written_files(out_path)
        release_run_folder(out_path)
    return fitted


def record_written_files(folder: Path) -> None:
    """List in `metrics.json` (`files`) what this run wrote into `folder`, so that
    `--overwrite` removes exactly that and nothing a user put beside it."""
    path = folder / "metrics.json"
    metrics = json.loads(path.read_text()) if path.exists() else {}
    metrics["files"] = written_files(folder)
    write_json(path, metrics)


def written_files(folder: Path) -> list[str]:
    """The files the run in `folder` wrote (its journal), by name, those still there."""
    return sorted(name for name in recorded_names(folder) if (folder / name).is_file())
