"""The one training loop: sample, compute the loss terms, step, log, checkpoint.

Every task builds a :class:`~sirenkit.problems.constraints.Problem` and calls :func:`fit`. A checkpoint
holds what resuming needs (weights, optimiser state, step, configuration, random state, history),
is taken at a step boundary and written atomically (safetensors + JSON: loading one runs no code);
Ctrl-C or SIGTERM lets the step in progress finish, writes one and stops cleanly (a second Ctrl-C
stops at once, keeping the last checkpoint); a loss that becomes NaN or explodes stops the run
with a message instead of writing a useless model.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from sirenkit.config import to_dict
from sirenkit.engine.checkpoint import (
    CHECKPOINT_NAME,
    check_checkpoint_exists,
    check_state_fits,
    load_checkpoint_file,
    save_checkpoint_file,
)
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.policy import _use_compile, resolve_precision, warn_if_emulated
from sirenkit.engine.schedule import learning_rate, run_progress
from sirenkit.engine.watch import Watcher
from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.family import family_of
from sirenkit.problems.constraints import Problem

STALL_GAIN_DB, STALL_LR_FACTOR, STALL_WINDOW = 2.0, 0.3, 25
"""The stall check (``TrainConfig.stall_check``): a fit whose mean loss over the last
``STALL_WINDOW`` steps is less than ``STALL_GAIN_DB`` below its problem's baseline has learnt
little beyond the best constant, and continues at ``STALL_LR_FACTOR`` of its learning rate. Chosen
on images (docs, "The default image recipe"): at Adam 1e-3, 100 steps in, a texture-dominated
photo (grass, gravel) stood 0 to 0.9 dB above the constant and went on stalling; a photo that
went on to 36 to 52 dB stood 2.8 dB (brick) to 15 dB above it."""


logger = logging.getLogger("sirenkit")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite, or grew far beyond its first value."""


class TrainingInterrupted(RuntimeError):
    """The run was interrupted (Ctrl-C or SIGTERM); its last checkpoint holds ``step``."""

    def __init__(self, step: int, checkpoint: Path | None, signal_number: int = signal.SIGINT) -> None:
        where = f"; checkpoint at step {step} in {checkpoint}, continue with --resume" if checkpoint else ""
        name = signal.Signals(signal_number).name
        super().__init__(f"interrupted ({name}) at step {step}{where}")
        self.step = step
        self.checkpoint = checkpoint
        self.signal_number = int(signal_number)


class _StopRequests:
    """SIGINT and SIGTERM while the loop runs: the first is noted and the loop stops at the next
    step boundary (a scheduler's time limit and Ctrl-C alike get a consistent checkpoint); a
    second one stops at once. Handlers are installed only from the main thread, and restored."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequests:
        if threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                self.previous[number] = signal.signal(number, self._note)
        return self

    def _note(self, number: int, frame: Any) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = number

    def __exit__(self, *exc: Any) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)


@dataclass
class FitResult:
    """The fitted model and what happened on the way."""

    model: nn.Module
    steps: int
    seconds: float
    """Wall-clock seconds spent in the loop (this run and any resumed ones)."""
    history: list[dict[str, float]] = field(default_factory=list)
    """One row per logged step: ``step``, ``seconds``, ``loss``, each term, each metric."""
    compiled: bool = False
    precision: str = "float32"
    """The arithmetic the steps ran in (``auto`` resolved)."""
    stopped_by: str = "steps"
    """Why the run ended: ``steps``, ``time`` (the budget was spent) or ``until`` (the target was
    reached)."""
    stalled_at: int | None = None
    """The step at which the stall check found the fit stalled and lowered its learning rate by
    ``STALL_LR_FACTOR``, if it did (``TrainConfig.stall_check``)."""

    @property
    def final(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


def fit(
    model: nn.Module,
    problem: Problem,
    config: TrainConfig,
    *,
    network_config: NetworkConfig | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    on_log: Callable[[dict[str, float]], None] | None = None,
    watchers: Sequence[Watcher] = (),
) -> FitResult:
    """Fit ``model`` to ``problem``: Adam with the schedule of ``config``.

    ``model`` must already be initialised and on its device; the problem is moved there.
    With ``checkpoint_dir``, checkpoints go to ``checkpoint_dir/checkpoint.safetensors`` every
    ``config.checkpoint_every`` steps or ``config.checkpoint_seconds`` seconds, whichever comes
    first, at the end and on Ctrl-C or SIGTERM; ``resume=True`` continues from it. ``watchers``
    (:mod:`sirenkit.engine.watch`) see every step, outside the time budget.
    """
    from sirenkit.engine.parallel import active

    device = next(model.parameters()).device
    parallel = active()
    primary = parallel is None or parallel.primary
    problem = problem.to(device)
    if parallel is not None:
        problem = parallel.shard(problem)
    if config.batch_size is not None:
        problem = problem.with_batch_size(config.batch_size)
    problem.check(model)
    checkpoint_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(config.seed if parallel is None else parallel.seed(config.seed))
    start_step, elapsed, history = 0, 0.0, []
    stalled_at: int | None = None
    if resume:
        if checkpoint_path is None:
            raise ValueError("no run folder: no checkpoint to resume from")
        check_checkpoint_exists(checkpoint_path)
        state = load_checkpoint_file(checkpoint_path)
        check_state_fits(state, checkpoint_path, network_config)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        start_step, elapsed, history = state["step"], state["seconds"], state["history"]
        stalled_at = state.get("stalled_at")
        if parallel is not None and not primary:  # the checkpoint holds rank 0's random stream
            generator.manual_seed(parallel.seed(config.seed, start_step))
    if parallel is not None:
        parallel.broadcast_parameters(model)

    family = family_of(model)
    with_derivatives = any(c.needs for c in problem.constraints)
    double_backward = with_derivatives and not (family is not None and family.compiles_derivative_steps)
    compiled = _use_compile(config, device, problem.points_per_step, derivatives=with_derivatives,
                            double_backward=double_backward)
    precision = resolve_precision(config, device, model)
    if primary:
        warn_if_emulated(precision, device)
    eager_terms = _loss_terms_in(problem, device, precision)
    loss_terms = torch.compile(eager_terms) if compiled else eager_terms

    saved = {"step": start_step, "at": time.perf_counter()}

    def save(step: int) -> None:
        saved.update(step=step, at=time.perf_counter())
        if checkpoint_path is None or not primary:
            return
        state = {
            "format": "sirenkit-checkpoint",
            "version": 1,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "seconds": elapsed,
            "history": history,
            "generator": generator.get_state(),
            "stalled_at": stalled_at,
            "train_config": to_dict(config),
            "network_config": to_dict(network_config) if network_config is not None else None,
        }
        save_checkpoint_file(checkpoint_path, state)

    def log(step: int, loss: float, terms: dict[str, float]) -> dict[str, float]:
        row = {"step": step, "seconds": round(elapsed, 3), "lr": optimizer.param_groups[0]["lr"], "loss": loss, **terms}
        if problem.evaluate is not None and primary:  # the metrics of a data-parallel run: rank 0's
            model.eval()
            with torch.no_grad():
                row.update(problem.evaluate(model))
            model.train()
        history.append(row)
        if on_log is not None:
            on_log(row)
        return row

    first_loss = history[0]["loss"] if history else None
    bar = tqdm(
        total=config.steps if config.steps < 10**7 else None, initial=start_step, disable=not progress or not primary,
        unit="step", dynamic_ncols=True, mininterval=0.5, leave=True,
    )
    step = start_step
    last_row: dict[str, float] = history[-1] if history else {}
    stopped_by, step_seconds = "steps", 0.0
    timed_seconds, timed_steps = 0.0, 0  # the steps of this run after its first (which may compile)
    lower_is_better = {"loss", *(c.name for c in problem.constraints)}
    baseline = problem.metadata.get("baseline_loss") if config.stall_check else None
    recent: deque[float] = deque(maxlen=STALL_WINDOW)
    stops = _StopRequests()
    try:
        with stops:
            while step < config.steps:
                if parallel is not None:  # every rank schedules and stops on the same clock (the slowest)
                    clock, stop = parallel.agree([elapsed, step_seconds, timed_seconds], stops.received is not None,
                                                 device)
                    elapsed, step_seconds, timed_seconds = clock
                    if stop and stops.received is None:
                        stops.received = signal.SIGTERM  # another rank was asked to stop
                if stops.received is not None:
                    break
                # stop when the next step would end nearer past the budget than before it
                if config.time_budget is not None and elapsed + 0.5 * step_seconds >= config.time_budget:
                    stopped_by = "time"
                    break
                tick = time.perf_counter()
                expected = None  # the steps the budget will allow, from the measured step times
                if config.time_budget is not None and timed_steps >= 20:
                    expected = step + max(config.time_budget - elapsed, 0.0) * timed_steps / timed_seconds
                    if expected >= 0.98 * config.steps:
                        expected = None  # the steps end first: their own schedule, exactly
                scale = 1.0 if stalled_at is None else STALL_LR_FACTOR
                for group in optimizer.param_groups:
                    group["lr"] = scale * learning_rate(step, config, expected)
                factors = problem.schedule_factors(run_progress(step, config, expected))
                batches = problem.sample(generator)
                optimizer.zero_grad(set_to_none=True)
                if compiled and step == start_step:
                    compiled, loss_terms, terms, loss = _first_compiled_step(loss_terms, eager_terms, model, batches,
                                                                             optimizer, factors)
                else:
                    terms, loss = _forward_backward(loss_terms, model, batches, factors)
                if parallel is not None:  # the ranks' gradients, loss and terms averaged
                    averaged = parallel.average(model, [loss, *terms.values()])
                    loss = torch.tensor(averaged[0])
                    terms = dict(zip(terms, map(torch.tensor, averaged[1:])))
                if config.clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
                loss_value = float(loss.detach())
                if first_loss is None:
                    first_loss = loss_value
                if not math.isfinite(loss_value) or loss_value > config.divergence_factor * max(first_loss, 1e-12):
                    raise TrainingDiverged(
                        f"training diverged at step {step + 1}: loss {loss_value:.4g} "
                        f"(first {first_loss:.4g}); try a lower learning rate"
                    )
                optimizer.step()
                step += 1
                recent.append(loss_value)
                if step == config.stall_check and baseline and stalled_at is None and _stalled(recent, baseline):
                    stalled_at = step
                    logger.warning("step %d: the loss is still within %.0f dB of the best constant's; going on at "
                                   "%.2g of the learning rate", step, STALL_GAIN_DB, STALL_LR_FACTOR)
                step_seconds = time.perf_counter() - tick
                elapsed += step_seconds
                if step > start_step + 1:
                    timed_seconds, timed_steps = timed_seconds + step_seconds, timed_steps + 1
                bar.update(1)
                logged = None
                logging_now = step % config.log_every == 0 or step == config.steps or step == 1
                watching = bool(watchers) and primary
                values = _term_values(terms) if logging_now or watching else {}
                if logging_now:
                    last_row = logged = log(step, loss_value, values)
                    bar.set_postfix(_postfix(last_row), refresh=False)
                if watching:
                    scalars = {"loss": loss_value, "lr": optimizer.param_groups[0]["lr"], **values}
                    for watcher in watchers:
                        watcher.after_step(step, model, scalars, logged)
                if logged is not None and config.until is not None and _decided(
                        primary and _reached(logged, config, lower_is_better), parallel, device):
                    stopped_by = "until"
                    break
                due = (config.checkpoint_every and step % config.checkpoint_every == 0) or (
                    time.perf_counter() - saved["at"] >= config.checkpoint_seconds)
                if due and step < config.steps:
                    save(step)
            if stopped_by == "time" and step > start_step and last_row.get("step") != step:
                last_row = log(step, loss_value, _term_values(terms))  # the state the budget ended on
    except KeyboardInterrupt:  # a second signal, in the middle of a step: the last checkpoint stands
        bar.close()
        raise TrainingInterrupted(int(saved["step"]), _existing(checkpoint_path)) from None
    finally:
        bar.close()
    if parallel is not None:
        parallel.check_in_step(model)
    if stops.received is not None:  # stopped at a step boundary: a consistent checkpoint
        save(step)
        raise TrainingInterrupted(step, checkpoint_path, stops.received)
    save(step)
    return FitResult(model=model, steps=step, seconds=elapsed, history=history, compiled=compiled,
                     precision=precision, stopped_by=stopped_by, stalled_at=stalled_at)


def _decided(flag: bool, parallel: Any, device: torch.device) -> bool:
    """``flag`` as rank 0 decided it, on every rank of a data-parallel fit."""
    return flag if parallel is None else parallel.decide(flag, device)


def _stalled(recent: deque[float], baseline: float) -> bool:
    """Whether the mean of the ``recent`` losses is less than ``STALL_GAIN_DB`` below ``baseline``."""
    return sum(recent) / len(recent) > baseline * 10 ** (-STALL_GAIN_DB / 10)


def _existing(path: Path | None) -> Path | None:
    return path if path is not None and path.exists() else None


def _term_values(terms: dict[str, torch.Tensor]) -> dict[str, float]:
    """The loss terms to log: each by name when there are several (one is the loss itself)."""
    return {name: float(value.detach()) for name, value in terms.items()} if len(terms) > 1 else {}


def _reached(row: dict[str, float], config: TrainConfig, lower_is_better: set[str]) -> bool:
    """Whether the logged ``row`` meets ``config.until`` on ``config.until_metric``."""
    metric = config.until_metric or "loss"
    if metric not in row:
        raise ValueError(f"--until compares {metric!r}, which this run does not measure "
                         f"(it logs {', '.join(key for key in row if key not in ('step', 'seconds', 'lr'))})")
    assert config.until is not None
    better_low = metric in lower_is_better or "distance" in metric or "chamfer" in metric
    return row[metric] <= config.until if better_low else row[metric] >= config.until


def _loss_terms_in(problem: Problem, device: torch.device, precision: str) -> Callable:
    """The problem's loss terms, computed in the requested arithmetic."""
    if precision == "float32":
        return problem.loss_terms

    def reduced(model: nn.Module, batches: list) -> dict[str, torch.Tensor]:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            return problem.loss_terms(model, batches)

    return reduced


def _first_compiled_step(
    loss_terms: Callable, eager_terms: Callable, model: nn.Module, batches: list, optimizer: torch.optim.Optimizer,
    factors: dict[str, float],
) -> tuple[bool, Callable, dict[str, torch.Tensor], torch.Tensor]:
    """The first step of a compiled run, where compilation happens. If it fails and the same step
    runs eagerly, the compiler is what failed (no C compiler, an unsupported operation): say so and
    go on eagerly. If the eager step fails too, the error is the user's (a residual that raises,
    wrong shapes) and is raised as the eager step raised it. Later steps are never retried."""
    try:
        terms, loss = _forward_backward(loss_terms, model, batches, factors)
        return True, loss_terms, terms, loss
    except Exception as compile_error:
        optimizer.zero_grad(set_to_none=True)
        terms, loss = _forward_backward(eager_terms, model, batches, factors)  # raises the user's own error
        logger.warning("torch.compile failed (%s: %s); running eagerly", type(compile_error).__name__,
                       " ".join(str(compile_error).split())[:300])
        return False, eager_terms, terms, loss


def _forward_backward(loss_terms, model, batches, factors: dict[str, float]):
    """The loss terms (each scheduled one times its factor, outside anything compiled, so that a
    changing weight does not recompile) and their sum, differentiated."""
    terms = {name: value.float() * factors[name] if name in factors else value.float()
             for name, value in loss_terms(model, batches).items()}
    loss = sum(terms.values())
    loss.backward()
    return terms, loss


def _postfix(row: dict[str, Any]) -> dict[str, str]:
    shown = {"loss": f"{row['loss']:.3g}"}
    for key in ("psnr", "snr"):
        if key in row:
            shown[key] = f"{row[key]:.2f}"
    return shown
