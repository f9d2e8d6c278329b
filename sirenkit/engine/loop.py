"""The one training loop: sample, compute the loss terms, step, log, checkpoint.

Every task builds a [`Problem`][sirenkit.Problem] and calls [`fit`][sirenkit.fit]. The loop
(`train`) owns what every fit shares, written once: the time budget and the schedule over
it, the divergence and stall checks, targets (`until`), the checkpoint cadence and stop
requests. How a step is taken is a `Steps` strategy: one signal
(`sirenkit.engine.single.OneSignal`, data-parallel over ranks or not) or K stacked signals
([`sirenkit.fit_batched`][sirenkit.fit_batched]), each signal followed by its own `Track`. A checkpoint
holds what resuming needs (weights, optimiser state, step, configuration, random state, history),
is taken at a step boundary and written atomically (safetensors + JSON: loading one runs no code);
Ctrl-C or SIGTERM lets the step in progress finish, writes one and stops cleanly (a second Ctrl-C
stops at once, keeping the last checkpoint); a loss that becomes NaN or explodes stops the run
with a message instead of writing a useless model. After the Adam steps, a fit may take
L-BFGS iterations on fixed points (`TrainConfig.lbfgs_steps`), logged and checkpointed alike.
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

from sirenkit.engine.config import UNLIMITED_STEPS, TrainConfig
from sirenkit.engine.schedule import Plateau, learning_rate, run_progress
from sirenkit.engine.threads import ThreadChooser
from sirenkit.engine.watch import Watcher
from sirenkit.metrics import Metric
from sirenkit.problems.constraints import Problem

STALL_GAIN_DB, STALL_LR_FACTOR, STALL_WINDOW = 2.0, 0.3, 25
"""The stall check (`TrainConfig.stall_check`): a fit whose mean loss over the last
`STALL_WINDOW` steps is less than `STALL_GAIN_DB` below its problem's baseline has learnt
little beyond the best constant, and continues at `STALL_LR_FACTOR` of its learning rate. Chosen
on images (docs, "The default image recipe"): at Adam 1e-3, 100 steps in, a texture-dominated
photo (grass, gravel) stood 0 to 0.9 dB above the constant and went on stalling; a photo that
went on to 36 to 52 dB stood 2.8 dB (brick) to 15 dB above it."""

LBFGS_FROM, LBFGS_RATE = "lbfgs_from", 1.0
"""The L-BFGS phase (`TrainConfig.lbfgs_steps`): the key of its first history row, the step it
began at (what a resumed run goes on from), and the rate its rows log (L-BFGS's own, its line
search choosing the step length)."""

logger = logging.getLogger("sirenkit")

_now = time.perf_counter
"""The loop's clock (seconds): the time budget, the schedule over it and the checkpoint cadence read it."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite, or grew far beyond its first value (the command line exits
    with code 3)."""


class TrainingInterrupted(RuntimeError):
    """The run was interrupted (Ctrl-C or SIGTERM); its last checkpoint holds `step`.

    The loop stops at the next step boundary and writes a checkpoint first, so that the run
    continues with `resume=True` (`--resume`).

    Args:
        step: The step the checkpoint holds.
        checkpoint: Where the checkpoint is; `None` for a run without a run folder.
        signal_number: The signal that stopped it (`SIGINT` for Ctrl-C, `SIGTERM`).
    """

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
    """The fitted model and what happened on the way: what [`fit`][sirenkit.fit] and
    [`fit_batched`][sirenkit.fit_batched] return.
    """

    model: nn.Module
    """The model, with its fitted weights."""
    steps: int
    """The steps taken (this run and any resumed ones)."""
    seconds: float
    """Wall-clock seconds spent in the loop (this run and any resumed ones)."""
    history: list[dict[str, float]] = field(default_factory=list)
    """One row per logged step: `step`, `seconds`, `loss`, each term, each metric."""
    compiled: bool = False
    """Whether the step ran compiled (`torch.compile`)."""
    precision: str = "float32"
    """The arithmetic the steps ran in (`auto` resolved)."""
    stopped_by: str = "steps"
    """Why the run ended: `steps`, `time` (the budget was spent) or `until` (the target was
    reached)."""
    stalled_at: int | None = None
    """The step at which the stall check found the fit stalled and lowered its learning rate by
    `STALL_LR_FACTOR`, if it did (`TrainConfig.stall_check`)."""
    threads: dict[str, Any] = field(default_factory=dict)
    """The CPU compute threads the steps ended with, and each count chosen on the way
    (`sirenkit.engine.threads`); empty on a GPU."""

    @property
    def final(self) -> dict[str, float]:
        """The last logged row of the history (empty without one)."""
        return self.history[-1] if self.history else {}


@dataclass
class Track:
    """What the loop follows of one signal: its history, first loss, recent losses (the stall
    check), and how it ended."""

    index: int = 0
    """The signal's position among those the strategy started with."""
    history: list[dict[str, float]] = field(default_factory=list)
    first_loss: float | None = None
    baseline: float | None = None
    """The loss of the best constant, where the problem states one (the stall check's reference)."""
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=STALL_WINDOW))
    stalled_at: int | None = None
    reached_at: int | None = None
    """The step at which it met the target (`until`) and left the loop."""
    error: Exception | None = None
    """What ended it otherwise ([`TrainingDiverged`][sirenkit.TrainingDiverged])."""
    last: tuple[float, dict[str, torch.Tensor], float] = (math.nan, {}, math.nan)
    """The last step's loss, loss terms and learning rate."""
    plateau: Plateau | None = None
    """The plateau rule of a run with a target (`TrainConfig.plateau_patience`)."""

    @property
    def lr_scale(self) -> float:
        stall = 1.0 if self.stalled_at is None else STALL_LR_FACTOR
        return stall * (1.0 if self.plateau is None else self.plateau.scale)


class Steps:
    """How the loop takes a step: a strategy over `tracks` (the signals still training, in the
    strategy's row order). The loop calls `forward_backward`, checks the losses, then
    `update`; it never touches a model or an optimiser itself."""

    tracks: list[Track]
    primary: bool = True
    """Whether this process writes (checkpoints, logs): rank 0 of a data-parallel fit."""
    compiled: bool = False
    precision: str = "float32"
    device: torch.device = torch.device("cpu")
    checkpoint: Path | None = None
    """Where an interrupted single fit's checkpoint is (named in
    [`TrainingInterrupted`][sirenkit.TrainingInterrupted])."""
    problem: Problem

    def agree(self, clock: list[float], stop: bool) -> tuple[list[float], bool]:
        """Every rank's clock and stop request made one (data-parallel); as they are otherwise."""
        return clock, stop

    def decide(self, flag: bool) -> bool:
        """The primary's `flag` everywhere (data-parallel); as it is otherwise."""
        return flag

    def forward_backward(self, step: int, factors: dict[str, float]) -> tuple[list[float], dict[str, torch.Tensor]]:
        """Draw the points, compute the loss terms and the gradients (clipped); return each
        track's loss and the terms, each a `(len(tracks),)` tensor."""
        raise NotImplementedError

    def update(self, rates: list[float]) -> None:
        """The optimiser's step, at each track's learning rate."""
        raise NotImplementedError

    def refine(self, factors: dict[str, float]) -> tuple[list[float], dict[str, torch.Tensor]]:
        """One iteration of the L-BFGS phase (`TrainConfig.lbfgs_steps`), gradients and update
        together; each track's loss and the terms before it, as `forward_backward` returns them."""
        raise NotImplementedError

    def revert(self) -> None:
        """Put back the weights from before the `refine` step whose result the last one found
        diverged."""
        raise NotImplementedError

    def evaluate(self, row: int) -> dict[str, float]:
        """The problem's metrics of track `row`'s network, under `no_grad`."""
        raise NotImplementedError

    def model(self, row: int) -> nn.Module:
        """Track `row`'s network, its weights up to date."""
        raise NotImplementedError

    def save(self, rows: Sequence[int], step: int, elapsed: float, config: TrainConfig) -> None:
        """The checkpoints of tracks `rows`."""
        raise NotImplementedError

    def drop(self, rows: Sequence[int]) -> None:
        """Tracks `rows` leave the loop (a target met, a divergence); their weights go to their networks."""
        raise NotImplementedError

    def finish(self) -> None:
        """After the loop: every network holds its weights (and the ranks agree on them)."""


@dataclass
class Ending:
    """How `train` ended: the step, the seconds spent in steps, and why (`steps`, `time`, `until`)."""

    step: int
    seconds: float
    stopped_by: str
    threads: dict[str, Any] = field(default_factory=dict)


def train(strategy: Steps, config: TrainConfig, *, start_step: int = 0, elapsed: float = 0.0, progress: bool = True,
          on_log: Callable[[int, dict[str, float]], None] | None = None, watchers: Sequence[Watcher] = (),
          description: str | None = None) -> Ending:
    """The loop: until the steps, the time budget or every track's target ends it, take a step of
    `strategy` at the scheduled learning rate; check each track's loss (a divergence ends that
    track), its stall and, at every `config.log_every` steps, its metrics and target; checkpoint
    every `config.checkpoint_every` steps or `config.checkpoint_seconds` seconds. A first
    SIGINT or SIGTERM stops at the next step boundary, with every live track's checkpoint written
    ([`TrainingInterrupted`][sirenkit.TrainingInterrupted]); a second stops at once, keeping the last checkpoints.
    `on_log(index, row)` sees each logged row; `watchers` see every step of a one-track run."""
    template = strategy.problem
    target = target_metric(template, config)
    tracks = strategy.tracks
    step, stopped_by = start_step, "steps"
    step_seconds, timed_seconds, timed_steps = 0.0, 0.0, 0  # the steps of this run after its first (which may compile)
    saved = {"step": start_step, "at": _now()}
    primary = strategy.primary

    def save(rows: Sequence[int]) -> None:
        saved.update(step=step, at=_now())
        if primary and rows:
            strategy.save(rows, step, elapsed, config)

    def log(row: int, loss: float, terms: dict[str, float], lr: float) -> dict[str, float]:
        track = tracks[row]
        entry = {"step": step, "seconds": round(elapsed, 3), "lr": lr, "loss": loss, **terms}
        if primary:  # the metrics of a data-parallel run: rank 0's
            entry.update(strategy.evaluate(row))
        track.history.append(entry)
        if on_log is not None:
            on_log(track.index, entry)
        return entry

    bar = tqdm(total=config.steps + config.lbfgs_steps if config.steps < 10**7 else None, initial=start_step,
               unit="step", disable=not progress or not primary, dynamic_ncols=True, mininterval=0.5, leave=True,
               desc=description)
    stops = _StopRequests()
    rate = learning_rate(start_step, config)
    if target is not None and config.plateau_patience:
        for track in tracks:  # a resumed run replays its history, to go on at the same rate
            track.plateau = Plateau(config.plateau_patience, target.higher_is_better)
            for entry in track.history:
                if target.name in entry:
                    track.plateau.observe(entry[target.name])
    threads = ThreadChooser(config.threads, active=strategy.device.type == "cpu")
    # a resumed run that was in its L-BFGS phase goes on there: the phase's first row says where it began
    phase_from = next((int(entry[LBFGS_FROM]) for track in tracks for entry in track.history if LBFGS_FROM in entry),
                      None)
    try:
        with stops:
            while tracks and step < config.steps and phase_from is None:
                clock, stop = strategy.agree([elapsed, step_seconds, timed_seconds], stops.received is not None)
                elapsed, step_seconds, timed_seconds = clock
                if stop and stops.received is None:
                    stops.received = signal.SIGTERM  # another rank was asked to stop
                if stops.received is not None:
                    break
                # stop when the next step would end nearer past the budget than before it
                if config.time_budget is not None and elapsed + 0.5 * step_seconds >= config.time_budget:
                    stopped_by = "time"
                    break
                tick = _now()
                expected = None  # the steps the budget will allow, from the measured step times
                if config.time_budget is not None and timed_steps >= 20:
                    expected = step + max(config.time_budget - elapsed, 0.0) * timed_steps / timed_seconds
                    if expected >= 0.98 * config.steps:
                        expected = None  # the steps end first: their own schedule, exactly
                rate = learning_rate(step, config, expected)
                losses, terms = strategy.forward_backward(step, template.schedule_factors(
                    run_progress(step, config, expected)))
                failed = []
                for row, (track, loss) in enumerate(zip(tracks, losses)):
                    if track.first_loss is None:
                        track.first_loss = loss
                    if not math.isfinite(loss) or loss > config.divergence_factor * max(track.first_loss, 1e-12):
                        track.error = TrainingDiverged(f"training diverged at step {step + 1}: loss {loss:.4g} "
                                                       f"(first {track.first_loss:.4g}); try a lower learning rate")
                        failed.append(row)
                if failed:
                    strategy.drop(failed)
                    if not tracks:
                        break
                    keep = [row for row in range(len(losses)) if row not in failed]
                    losses = [losses[row] for row in keep]
                    terms = {name: value[keep] for name, value in terms.items()}
                rates = [rate * track.lr_scale for track in tracks]
                strategy.update(rates)
                step += 1
                for track, loss in zip(tracks, losses):
                    track.recent.append(loss)
                    if (step == config.stall_check and track.baseline and track.stalled_at is None
                            and _stalled(track.recent, track.baseline)):
                        track.stalled_at = step  # every rank decides alike (their losses are averaged); one says so
                        if primary:
                            logger.warning("step %d: the loss is still within %.0f dB of the best constant's; going "
                                           "on at %.2g of the learning rate", step, STALL_GAIN_DB, STALL_LR_FACTOR)
                step_seconds = _now() - tick
                elapsed += step_seconds
                threads.after_step(step_seconds)
                if step > start_step + 1:
                    timed_seconds, timed_steps = timed_seconds + step_seconds, timed_steps + 1
                bar.update(1)
                logging_now = step % config.log_every == 0 or step == config.steps or step == 1
                watching = bool(watchers) and primary and len(tracks) == 1
                reached = []
                for row, (track, loss, track_rate) in enumerate(zip(tracks, losses, rates)):
                    track.last = (loss, {name: value[row] for name, value in terms.items()}, track_rate)
                    values = _term_values(track.last[1]) if logging_now or watching else {}
                    logged = log(row, loss, values, track_rate) if logging_now else None
                    if len(tracks) == 1:  # the loss at every step, the metrics as last measured
                        shown = _postfix(loss, logged or (track.history[-1] if track.history else {}))
                        if config.time_budget is not None:
                            shown["budget left"] = f"{max(config.time_budget - elapsed, 0.0):.0f}s"
                        bar.set_postfix(shown, refresh=False)
                    if watching:
                        scalars = {"loss": loss, "lr": track_rate, **values}
                        for watcher in watchers:
                            watcher.after_step(step, strategy.model(row), scalars, logged)
                    if logged is not None and track.plateau is not None and target is not None:
                        track.plateau.observe(logged.get(target.name, math.nan))
                    if logged is not None and target is not None and strategy.decide(
                            primary and _reached(logged, config, target)):
                        reached.append(row)
                if reached:
                    save(reached)
                    for row in reached:
                        tracks[row].reached_at = step
                    strategy.drop(reached)
                    if not tracks:
                        stopped_by = "until"
                        break
                due = (config.checkpoint_every and step % config.checkpoint_every == 0) or (
                    _now() - saved["at"] >= config.checkpoint_seconds)
                if due and step < config.steps:
                    save(range(len(tracks)))
            if config.lbfgs_steps and tracks and stops.received is None and stopped_by != "until":
                phase_from = step if phase_from is None else phase_from
                factors = template.schedule_factors(1.0)
                phase_start = elapsed
                while tracks and step < phase_from + config.lbfgs_steps and stops.received is None and (
                        config.lbfgs_time is None or elapsed - phase_start < config.lbfgs_time):
                    tick = _now()
                    losses, terms = strategy.refine(factors)
                    loss = losses[0]
                    if not math.isfinite(loss) or loss > config.divergence_factor * max(tracks[0].first_loss or loss,
                                                                                        1e-12):
                        strategy.revert()  # the phase ends; the fit keeps what it had
                        logger.warning("the L-BFGS phase diverged at step %d (loss %.4g); keeping the weights of the "
                                       "step before", step + 1, loss)
                        break
                    step += 1
                    elapsed += _now() - tick
                    bar.update(1)
                    tracks[0].last = (loss, {name: value[0] for name, value in terms.items()}, LBFGS_RATE)
                    if step % config.log_every == 0 or step in (phase_from + 1, phase_from + config.lbfgs_steps):
                        entry = log(0, loss, _term_values(tracks[0].last[1]), LBFGS_RATE)
                        if step == phase_from + 1:
                            entry[LBFGS_FROM] = phase_from
                        bar.set_postfix(_postfix(loss, entry), refresh=False)
                    if _now() - saved["at"] >= config.checkpoint_seconds or (
                            config.checkpoint_every and step % config.checkpoint_every == 0):
                        save([0])
                if tracks and tracks[0].history and tracks[0].history[-1]["step"] != step:  # ended by its time
                    log(0, tracks[0].last[0], _term_values(tracks[0].last[1]), LBFGS_RATE)
            if stopped_by == "time" and step > start_step:
                for row, track in enumerate(tracks):
                    if track.history and track.history[-1]["step"] != step:  # the state the budget ended on
                        log(row, track.last[0], _term_values(track.last[1]), track.last[2])
    except KeyboardInterrupt:  # a second signal, in the middle of a step: the last checkpoints stand
        bar.close()
        checkpoint = strategy.checkpoint if strategy.checkpoint is not None and strategy.checkpoint.exists() else None
        raise TrainingInterrupted(int(saved["step"]), checkpoint) from None
    finally:
        bar.close()
        threads.close()
    if stopped_by == "time" and primary and step < config.steps < UNLIMITED_STEPS:  # said below the closed bar
        logger.info("the time budget of %g s ended the fit at step %d of %d (the schedule annealed over the steps "
                    "it allowed)", config.time_budget, step, config.steps)
    strategy.finish()
    save(range(len(tracks)))
    if stops.received is not None:  # stopped at a step boundary: consistent checkpoints
        raise TrainingInterrupted(step, strategy.checkpoint, stops.received)
    return Ending(step, elapsed, stopped_by, threads.summary() if strategy.device.type == "cpu" else {})


def _stalled(recent: deque[float], baseline: float) -> bool:
    """Whether the mean of the `recent` losses is less than `STALL_GAIN_DB` below `baseline`."""
    return sum(recent) / len(recent) > baseline * 10 ** (-STALL_GAIN_DB / 10)


def _term_values(terms: dict[str, torch.Tensor]) -> dict[str, float]:
    """The loss terms to log: each by name when there are several (one is the loss itself)."""
    return {name: float(value.detach()) for name, value in terms.items()} if len(terms) > 1 else {}


def target_metric(problem: Problem, config: TrainConfig) -> Metric | None:
    """The figure `config.until` is compared with, and its direction: the loss and each
    constraint's term are errors; any other figure must be one of the problem's
    [`metrics`][sirenkit.Problem.metrics] (a `ValueError` before training
    otherwise: a target is never compared in a guessed direction). None without a target."""
    if config.until is None:
        return None
    name = config.until_metric or "loss"
    if name == "loss" or name in (c.name for c in problem.constraints):
        return Metric(name, higher_is_better=False)
    known = {metric.name: metric for metric in problem.metrics}
    if name not in known:
        listed = ", ".join(["loss", *(c.name for c in problem.constraints), *known])
        raise ValueError(f"--until compares {name!r}, which this run does not measure with a known direction "
                         f"(it knows {listed})")
    return known[name]


def _reached(row: dict[str, float], config: TrainConfig, metric: Metric | None) -> bool:
    """Whether the logged `row` meets `config.until` on `metric` (`target_metric`)."""
    if metric is None or config.until is None:
        return False
    if metric.name not in row:
        raise ValueError(f"--until compares {metric.name!r}, which this run does not measure "
                         f"(it logs {', '.join(key for key in row if key not in ('step', 'seconds', 'lr'))})")
    return metric.reached(row[metric.name], config.until)


def _loss_terms_in(problem: Problem, device: torch.device, precision: str) -> Callable:
    """The problem's loss terms, computed in the requested arithmetic."""
    if precision == "float32":
        return problem.loss_terms

    def reduced(model: nn.Module, batches: list) -> dict[str, torch.Tensor]:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            return problem.loss_terms(model, batches)

    return reduced


def _postfix(loss: float, row: dict[str, Any]) -> dict[str, str]:
    shown = {"loss": f"{loss:.3g}"}
    for key in ("psnr", "snr"):
        if key in row:
            shown[key] = f"{row[key]:.2f}"
    return shown
