"""K networks of one architecture trained as one: the batched engine behind ``fit_many``.

A 198k-parameter network cannot fill a GPU, and on a CPU every step of a small network is mostly
overhead; fitting a folder one signal after another pays both once per signal. Here the K
networks' weights are stacked (``(K, ...)`` per tensor) and one step evaluates every signal's loss
at once with ``torch.func.vmap`` over :func:`torch.func.functional_call`, so that every layer is one
batched matrix product.

Nothing else is shared: each signal draws its own points from its own generator (seeded as its own
fit would be), has its own Adam moments, its own gradient clipping, its own stall check and its own
end (a target reached, a divergence), exactly as K calls of :func:`sirenkit.engine.loop.fit` with the
same configuration would; the tests check this for an image, a Poisson and an SDF problem.

What can be batched: the problems must state the same constraints (names, norms, weights,
derivatives) with per-step batches of the same shapes, and their residuals must read what differs
between signals from their batches (``fields.data``), not from tensors they hold themselves; the
first step checks this against the per-signal losses and refuses a problem that breaks it. Derivative
constraints need a closed-form derivative engine (SIREN, FINER, Gauss): nested autograd cannot run
inside ``vmap``. Signals that cannot share a batch are grouped apart by the caller.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, vmap
from tqdm import tqdm

from sirenkit.config import to_dict
from sirenkit.engine.checkpoint import CHECKPOINT_NAME, save_checkpoint_file
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.loop import (
    STALL_LR_FACTOR,
    STALL_WINDOW,
    FitResult,
    TrainingDiverged,
    TrainingInterrupted,
    _loss_terms_in,
    _reached,
    _stalled,
    _StopRequests,
    _term_values,
)
from sirenkit.engine.policy import _use_compile, resolve_precision, warn_if_emulated
from sirenkit.engine.schedule import learning_rate, run_progress
from sirenkit.networks.config import NetworkConfig
from sirenkit.problems.constraints import Problem

logger = logging.getLogger("sirenkit")

ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8
"""``torch.optim.Adam``'s defaults, which :func:`sirenkit.engine.loop.fit` uses."""


class _Loss(nn.Module):
    """A problem's loss terms as a module of the network, so that ``functional_call`` can swap in
    one signal's weights."""

    def __init__(self, model: nn.Module, terms: Callable) -> None:
        super().__init__()
        self.model = model
        self.terms = terms

    def forward(self, batches: list) -> dict[str, torch.Tensor]:
        return self.terms(self.model, batches)


@dataclass
class _Slot:
    """One signal of the batch: its model, problem, generator and what its own fit would track."""

    index: int
    model: nn.Module
    problem: Problem
    generator: torch.Generator
    history: list[dict[str, float]]
    first_loss: float | None = None
    stalled_at: int | None = None
    recent: list[float] | None = None
    lr_scale: float = 1.0
    checkpoint: Path | None = None
    network: NetworkConfig | None = None


def _signature(problem: Problem) -> list[tuple]:
    """What must be equal between problems trained as one: each constraint's name, derivatives,
    weight, norm and Laplacian axes (a callable norm by identity)."""
    return [(c.name, c.needs, c.weight, c.norm if isinstance(c.norm, str) else id(c.norm), c.laplacian_axes)
            for c in problem.constraints]


def stack_parameters(models: Sequence[nn.Module]) -> dict[str, torch.Tensor]:
    """Each parameter of the K models stacked along a new first axis, as leaf tensors that train."""
    names = [name for name, _ in models[0].named_parameters()]
    for model in models[1:]:
        shapes = {name: parameter.shape for name, parameter in model.named_parameters()}
        if list(shapes) != names or any(shapes[n] != p.shape for n, p in models[0].named_parameters()):
            raise ValueError("fit_batched needs networks of one architecture (the same parameters and shapes)")
    return {name: torch.stack([dict(model.named_parameters())[name].detach() for model in models])
            .requires_grad_(True) for name in names}


def _stack_batches(per_signal: list[list[tuple[torch.Tensor, dict[str, torch.Tensor]]]]) -> list:
    """The per-signal batches of one step, each tensor stacked along a new first axis; a
    ``ValueError`` where two signals drew batches of different shapes."""
    stacked = []
    for position, first in enumerate(per_signal[0]):
        points = [batches[position][0] for batches in per_signal]
        datas = [batches[position][1] for batches in per_signal]
        if any(p.shape != first[0].shape for p in points) or any(d.keys() != first[1].keys() for d in datas):
            raise ValueError("the signals drew batches of different shapes (sizes below the batch size?); "
                             "fit them in separate groups")
        data = {}
        for name in first[1]:
            values = [d[name] for d in datas]
            if any(v.shape != values[0].shape for v in values):
                raise ValueError(f"the signals' data {name!r} differ in shape; fit them in separate groups")
            data[name] = torch.stack(values)
        stacked.append((torch.stack(points), data))
    return stacked


class _Adam:
    """Adam over stacked parameters with a learning rate per signal: the arithmetic of
    ``torch.optim.Adam`` (its single-tensor path, default betas and epsilon), slice by slice."""

    def __init__(self, params: dict[str, torch.Tensor]) -> None:
        self.params = params
        self.step_count = 0
        self.exp_avg = {name: torch.zeros_like(p) for name, p in params.items()}
        self.exp_avg_sq = {name: torch.zeros_like(p) for name, p in params.items()}

    @torch.no_grad()
    def step(self, rates: torch.Tensor) -> None:
        """One step; ``rates (K,)``: each signal's learning rate."""
        beta1, beta2 = ADAM_BETAS
        self.step_count += 1
        correction1 = 1 - beta1 ** self.step_count
        correction2_sqrt = (1 - beta2 ** self.step_count) ** 0.5  # as torch.optim.Adam rounds it
        uniform = bool((rates == rates[0]).all())
        for name, param in self.params.items():
            grad = param.grad
            if grad is None:
                continue
            exp_avg, exp_avg_sq = self.exp_avg[name], self.exp_avg_sq[name]
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / correction2_sqrt).add_(ADAM_EPS)
            if uniform:
                param.addcdiv_(exp_avg, denom, value=-float(rates[0]) / correction1)
            else:
                step_size = (-rates / correction1).to(param.dtype).view(-1, *([1] * (param.ndim - 1)))
                param.add_(step_size * exp_avg / denom)

    def keep(self, rows: torch.Tensor, params: dict[str, torch.Tensor]) -> None:
        """Only the signals ``rows`` go on, with ``params`` (their slices) as the new leaves."""
        self.params = params
        self.exp_avg = {name: value[rows] for name, value in self.exp_avg.items()}
        self.exp_avg_sq = {name: value[rows] for name, value in self.exp_avg_sq.items()}


def _clip(params: dict[str, torch.Tensor], max_norm: float) -> None:
    """Each signal's gradient scaled to norm at most ``max_norm`` (``clip_grad_norm_`` per signal)."""
    grads = [p.grad for p in params.values() if p.grad is not None]
    if not grads:
        return
    norms = torch.stack([g.reshape(g.shape[0], -1).norm(dim=1) for g in grads], dim=1).norm(dim=1)  # (K,)
    coefficient = torch.clamp(max_norm / (norms + 1e-6), max=1.0)
    for grad in grads:
        grad.mul_(coefficient.view(-1, *([1] * (grad.ndim - 1))))


def _load(model: nn.Module, params: dict[str, torch.Tensor], row: int) -> None:
    """Signal ``row``'s slice of the stacked ``params`` into ``model``'s own parameters."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.copy_(params[name][row])


def fit_batched(
    models: Sequence[nn.Module],
    problems: Sequence[Problem],
    config: TrainConfig,
    *,
    progress: bool = True,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
    checkpoint_dirs: Sequence[str | Path | None] | None = None,
    network_configs: Sequence[NetworkConfig | None] | None = None,
) -> list[FitResult | Exception]:
    """Fit ``models[k]`` to ``problems[k]`` for every k at once (see the module docstring): the
    results :func:`sirenkit.engine.loop.fit` would give each, in float32 up to rounding. Returns one
    :class:`~sirenkit.engine.loop.FitResult` per signal, or the exception that ended it
    (:class:`~sirenkit.engine.loop.TrainingDiverged`): one signal's failure does not stop the others.
    ``on_log(k, row)`` is called with each logged row of signal k. The models end with their fitted
    weights. With ``checkpoint_dirs``, signal k's checkpoint goes to ``checkpoint_dirs[k]`` as its
    own fit would write it (every ``config.checkpoint_every`` steps or ``checkpoint_seconds``
    seconds, at its end and on Ctrl-C or SIGTERM, which stop the batch at a step boundary with
    :class:`~sirenkit.engine.loop.TrainingInterrupted`), so that an interrupted signal is resumed by
    :func:`sirenkit.engine.loop.fit` alone; ``network_configs[k]`` is recorded in it."""
    if not models or len(models) != len(problems):
        raise ValueError(f"fit_batched needs one problem per model, got {len(models)} models and "
                         f"{len(problems)} problems")
    device = next(models[0].parameters()).device
    problems = [problem.to(device) for problem in problems]
    if config.batch_size is not None:
        problems = [problem.with_batch_size(config.batch_size) for problem in problems]
    template = problems[0]
    if any(_signature(problem) != _signature(template) for problem in problems[1:]):
        raise ValueError("fit_batched needs problems with the same constraints (names, derivatives, weights, "
                         "norms)")
    for model, problem in zip(models, problems):
        problem.check(model)
    params = stack_parameters(models)
    precision = resolve_precision(config, device, models[0])
    warn_if_emulated(precision, device)
    loss = _Loss(models[0], _loss_terms_in(template, device, precision))
    eager_terms = vmap(lambda p, b: functional_call(loss, {f"model.{n}": v for n, v in p.items()}, (b,)))
    with_derivatives = any(c.needs for c in template.constraints)
    compiled = _use_compile(config, device, len(models) * template.points_per_step, derivatives=with_derivatives)
    batched_terms = torch.compile(eager_terms) if compiled else eager_terms
    optimizer = _Adam(params)
    folders = list(checkpoint_dirs) if checkpoint_dirs is not None else [None] * len(models)
    networks = list(network_configs) if network_configs is not None else [None] * len(models)
    slots = [_Slot(k, model, problem, torch.Generator().manual_seed(config.seed), [], recent=[],
                   checkpoint=None if folder is None else Path(folder) / CHECKPOINT_NAME, network=network)
             for k, (model, problem, folder, network) in enumerate(zip(models, problems, folders, networks))]
    results: list[FitResult | Exception | None] = [None] * len(models)
    lower_is_better = {"loss", *(c.name for c in template.constraints)}
    elapsed, step, timed_seconds, timed_steps, step_seconds = 0.0, 0, 0.0, 0, 0.0
    stopped_by = "steps"
    saved_at = time.perf_counter()
    stops = _StopRequests()
    rate = learning_rate(0, config)

    def save_all(step: int) -> None:
        for row, slot in enumerate(slots):
            _save(slot, params, row, optimizer, step, elapsed, rate, config)

    bar = tqdm(total=config.steps if config.steps < 10**7 else None, disable=not progress, unit="step",
               dynamic_ncols=True, mininterval=0.5, desc=f"{len(models)} signals")
    try:
        with stops:
            while slots and step < config.steps and stops.received is None:
                if config.time_budget is not None and elapsed + 0.5 * step_seconds >= config.time_budget:
                    stopped_by = "time"
                    break
                tick = time.perf_counter()
                expected = None
                if config.time_budget is not None and timed_steps >= 20:
                    expected = step + max(config.time_budget - elapsed, 0.0) * timed_steps / timed_seconds
                    if expected >= 0.98 * config.steps:
                        expected = None
                rate = learning_rate(step, config, expected)
                factors = template.schedule_factors(run_progress(step, config, expected))
                drawn = [slot.problem.sample(slot.generator) for slot in slots]
                for p in params.values():
                    p.grad = None
                stacked = _stack_batches(drawn)
                if compiled and step == 0:
                    compiled, batched_terms, terms = _first_compiled_terms(batched_terms, eager_terms, params, stacked)
                else:
                    terms = batched_terms(params, stacked)
                terms = {name: value.float() * factors[name] if name in factors else value.float()
                         for name, value in terms.items()}
                losses = sum(terms.values())  # (K,)
                assert isinstance(losses, torch.Tensor)
                if step == 0:
                    _check_batched(slots, drawn, terms, factors,
                                   lambda problem: _loss_terms_in(problem, device, precision),
                                   tolerance=1e-3 if precision == "float32" else 3e-2)
                losses.sum().backward()
                if config.clip_grad_norm is not None:
                    _clip(params, config.clip_grad_norm)
                values = losses.detach().tolist()
                failed = []
                for row, (slot, value) in enumerate(zip(slots, values)):
                    if slot.first_loss is None:
                        slot.first_loss = value
                    if not math.isfinite(value) or value > config.divergence_factor * max(slot.first_loss, 1e-12):
                        results[slot.index] = TrainingDiverged(
                            f"training diverged at step {step + 1}: loss {value:.4g} (first {slot.first_loss:.4g}); "
                            f"try a lower learning rate")
                        failed.append(row)
                if failed:
                    params = _drop(slots, params, optimizer, failed)
                    if not slots:
                        break
                    values = [v for row, v in enumerate(values) if row not in failed]
                    terms = {name: value.detach()[[r for r in range(len(value)) if r not in failed]]
                             for name, value in terms.items()}
                optimizer.step(torch.tensor([rate * slot.lr_scale for slot in slots], dtype=torch.float64))
                step += 1
                for slot, value in zip(slots, values):
                    assert slot.recent is not None
                    slot.recent = (slot.recent + [value])[-STALL_WINDOW:]
                    baseline = slot.problem.metadata.get("baseline_loss") if config.stall_check else None
                    if step == config.stall_check and baseline and slot.stalled_at is None and _stalled(
                            slot.recent, baseline):  # type: ignore[arg-type]
                        slot.stalled_at, slot.lr_scale = step, STALL_LR_FACTOR
                step_seconds = time.perf_counter() - tick
                elapsed += step_seconds
                if step > 1:
                    timed_seconds, timed_steps = timed_seconds + step_seconds, timed_steps + 1
                bar.update(1)
                if step % config.log_every == 0 or step == config.steps or step == 1:
                    reached = _log(slots, params, terms, values, step, elapsed, rate, config, lower_is_better, on_log)
                    if reached:
                        for row in reached:
                            slot = slots[row]
                            _save(slot, params, row, optimizer, step, elapsed, rate, config)
                            results[slot.index] = FitResult(model=slot.model, steps=step, seconds=elapsed,
                                                            history=slot.history, precision=precision,
                                                            stopped_by="until", stalled_at=slot.stalled_at)
                        params = _drop(slots, params, optimizer, reached)
                due = (config.checkpoint_every and step % config.checkpoint_every == 0) or (
                    time.perf_counter() - saved_at >= config.checkpoint_seconds)
                if due and step < config.steps:
                    save_all(step)
                    saved_at = time.perf_counter()
            if slots and stopped_by == "time" and slots[0].history and slots[0].history[-1]["step"] != step:
                _log(slots, params, {}, [s.recent[-1] if s.recent else math.nan for s in slots], step, elapsed,
                     learning_rate(max(step - 1, 0), config), config, lower_is_better, on_log, check_until=False)
    finally:
        bar.close()
    save_all(step)
    if stops.received is not None:  # at a step boundary: every signal's checkpoint is consistent
        raise TrainingInterrupted(step, None, stops.received)
    for row, slot in enumerate(slots):
        _load(slot.model, params, row)
        results[slot.index] = FitResult(model=slot.model, steps=step, seconds=elapsed, history=slot.history,
                                        compiled=compiled, precision=precision, stopped_by=stopped_by,
                                        stalled_at=slot.stalled_at)
    return [result for result in results if result is not None]


def _first_compiled_terms(compiled_terms: Callable, eager_terms: Callable, params: dict[str, torch.Tensor],
                          stacked: list) -> tuple[bool, Callable, dict[str, torch.Tensor]]:
    """The first batched step's loss terms, where compilation happens; if the compiler fails (no C
    compiler, an operation it cannot trace under ``vmap``), say so and go on eagerly, as
    :func:`sirenkit.engine.loop.fit` does."""
    try:
        return True, compiled_terms, compiled_terms(params, stacked)
    except Exception as error:
        logger.warning("torch.compile failed on the batched step (%s: %s); running eagerly", type(error).__name__,
                       " ".join(str(error).split())[:300])
        return False, eager_terms, eager_terms(params, stacked)


def _save(slot: _Slot, params: dict[str, torch.Tensor], row: int, optimizer: _Adam, step: int, elapsed: float,
          rate: float, config: TrainConfig) -> None:
    """Signal ``row``'s checkpoint, as :func:`sirenkit.engine.loop.fit` writes one (its weights, its
    Adam state in ``torch.optim.Adam``'s form, its step, history and generator), so that the signal
    can be resumed alone."""
    if slot.checkpoint is None:
        return
    _load(slot.model, params, row)
    adam = torch.optim.Adam(slot.model.parameters(), lr=rate * slot.lr_scale)
    for name, parameter in slot.model.named_parameters():
        adam.state[parameter] = {"step": torch.tensor(float(optimizer.step_count)),
                                 "exp_avg": optimizer.exp_avg[name][row].detach().clone(),
                                 "exp_avg_sq": optimizer.exp_avg_sq[name][row].detach().clone()}
    save_checkpoint_file(slot.checkpoint, {
        "format": "sirenkit-checkpoint",
        "version": 1,
        "model": slot.model.state_dict(),
        "optimizer": adam.state_dict(),
        "step": step,
        "seconds": elapsed,
        "history": slot.history,
        "generator": slot.generator.get_state(),
        "stalled_at": slot.stalled_at,
        "train_config": to_dict(config),
        "network_config": to_dict(slot.network) if slot.network is not None else None,
    })


def _drop(slots: list[_Slot], params: dict[str, torch.Tensor], optimizer: _Adam,
          rows: list[int]) -> dict[str, torch.Tensor]:
    """Signals ``rows`` leave the batch (finished or failed): their weights go to their models and
    the others go on with their own slices of weights and Adam state."""
    for row in rows:
        _load(slots[row].model, params, row)
    keep = torch.tensor([row for row in range(len(slots)) if row not in rows], dtype=torch.long)
    kept = {}
    for name, value in params.items():
        kept[name] = value.detach()[keep].clone().requires_grad_(True)
        if value.grad is not None:  # a signal failed mid-step: the others' step goes on
            kept[name].grad = value.grad[keep].clone()
    optimizer.keep(keep, kept)
    slots[:] = [slot for row, slot in enumerate(slots) if row not in rows]
    return kept


def _log(slots: list[_Slot], params: dict[str, torch.Tensor], terms: dict[str, torch.Tensor], values: list[float],
         step: int, elapsed: float, rate: float, config: TrainConfig, lower_is_better: set[str],
         on_log: Callable[[int, dict[str, float]], None] | None, *, check_until: bool = True) -> list[int]:
    """A history row for every signal (its own metrics on its own model); the rows whose signal met
    ``config.until``."""
    reached = []
    for row, (slot, value) in enumerate(zip(slots, values)):
        entry = {"step": step, "seconds": round(elapsed, 3), "lr": rate * slot.lr_scale, "loss": value,
                 **(_term_values({name: term[row] for name, term in terms.items()}) if terms else {})}
        if slot.problem.evaluate is not None:
            _load(slot.model, params, row)
            slot.model.eval()
            with torch.no_grad():
                entry.update(slot.problem.evaluate(slot.model))
            slot.model.train()
        slot.history.append(entry)
        if on_log is not None:
            on_log(slot.index, entry)
        if check_until and config.until is not None and _reached(entry, config, lower_is_better):
            reached.append(row)
    return reached


def _check_batched(slots: list[_Slot], drawn: list, terms: dict[str, torch.Tensor], factors: dict[str, float],
                   terms_of: Callable[[Problem], Callable], *, tolerance: float) -> None:
    """The first step's batched loss terms against each signal's own, computed on its own model,
    to a relative ``tolerance`` (the arithmetic's: bfloat16 products differ in the third digit):
    a residual that holds per-signal tensors of its own (not in its batch) would silently use the
    first signal's, and is refused instead."""
    with torch.no_grad():
        for row, (slot, batches) in enumerate(zip(slots, drawn)):
            own = terms_of(slot.problem)(slot.model, batches)
            for name, value in own.items():
                expected = float(value) * factors.get(name, 1.0)
                got = float(terms[name][row])
                if not math.isclose(got, expected, rel_tol=tolerance, abs_tol=1e-6):
                    raise ValueError(f"constraint {name!r} cannot be batched: its residual reads per-signal data that "
                                     f"is not in its batch ({got:.6g} batched against {expected:.6g} alone)")
