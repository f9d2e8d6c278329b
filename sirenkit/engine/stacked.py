"""K networks of one architecture trained as one: the batched engine behind `fit_many`.

A 198k-parameter network cannot fill a GPU, and on a CPU every step of a small network is mostly
overhead; fitting a folder one signal after another pays both once per signal. Here the K
networks' weights are stacked (`(K, ...)` per tensor) and one step evaluates every signal's loss
at once with `torch.func.vmap` over `torch.func.functional_call`, so that every layer is one
batched matrix product.

Nothing else is shared: each signal draws its own points from its own generator (seeded as its own
fit would be), has its own Adam moments, its own gradient clipping, its own stall check and its own
end (a target reached, a divergence), exactly as K calls of [`sirenkit.fit`][sirenkit.fit] with the
same configuration would; the tests check this for an image, a Poisson and an SDF problem.

What can be batched: the problems must state the same constraints (names, norms, weights,
derivatives) with per-step batches of the same shapes, and their residuals must read what differs
between signals from their batches (`fields.data`), not from tensors they hold themselves; the
first step checks this against the per-signal losses and refuses a problem that breaks it. Derivative
constraints need a closed-form derivative engine (SIREN, FINER, Gauss): nested autograd cannot run
inside `vmap`. Signals that cannot share a batch are grouped apart by the caller.

`Stacked` is a step strategy of the one loop (`sirenkit.engine.loop.train`): the time
budget, the schedule, targets, divergence, the stall check, checkpoints and stop requests are the
loop's, exactly as for one signal.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, vmap

from sirenkit.config import to_dict
from sirenkit.engine.checkpoint import CHECKPOINT_NAME, save_checkpoint_file
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.loop import (
    FitResult,
    Steps,
    Track,
    _loss_terms_in,
    train,
)
from sirenkit.engine.policy import _use_compile, compiled, resolve_precision, warn_if_emulated
from sirenkit.networks.config import NetworkConfig, network_to_dict
from sirenkit.problems.constraints import Problem

logger = logging.getLogger("sirenkit")

ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8
"""`torch.optim.Adam`'s defaults, which [`sirenkit.fit`][sirenkit.fit] uses."""


class _Loss(nn.Module):
    """A problem's loss terms as a module of the network, so that `functional_call` can swap in
    one signal's weights."""

    def __init__(self, model: nn.Module, terms: Callable) -> None:
        super().__init__()
        self.model = model
        self.terms = terms

    def forward(self, batches: list) -> dict[str, torch.Tensor]:
        return self.terms(self.model, batches)


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
    `ValueError` where two signals drew batches of different shapes."""
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
    `torch.optim.Adam` (its single-tensor path, default betas and epsilon), slice by slice."""

    def __init__(self, params: dict[str, torch.Tensor]) -> None:
        self.params = params
        self.step_count = 0
        self.exp_avg = {name: torch.zeros_like(p) for name, p in params.items()}
        self.exp_avg_sq = {name: torch.zeros_like(p) for name, p in params.items()}

    @torch.no_grad()
    def step(self, rates: torch.Tensor) -> None:
        """One step; `rates (K,)`: each signal's learning rate."""
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
        """Only the signals `rows` go on, with `params` (their slices) as the new leaves."""
        self.params = params
        self.exp_avg = {name: value[rows] for name, value in self.exp_avg.items()}
        self.exp_avg_sq = {name: value[rows] for name, value in self.exp_avg_sq.items()}


def _clip(params: dict[str, torch.Tensor], max_norm: float) -> None:
    """Each signal's gradient scaled to norm at most `max_norm` (`clip_grad_norm_` per signal)."""
    grads = [p.grad for p in params.values() if p.grad is not None]
    if not grads:
        return
    norms = torch.stack([g.reshape(g.shape[0], -1).norm(dim=1) for g in grads], dim=1).norm(dim=1)  # (K,)
    coefficient = torch.clamp(max_norm / (norms + 1e-6), max=1.0)
    for grad in grads:
        grad.mul_(coefficient.view(-1, *([1] * (grad.ndim - 1))))


def _load(model: nn.Module, params: dict[str, torch.Tensor], row: int) -> None:
    """Signal `row`'s slice of the stacked `params` into `model`'s own parameters."""
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
    """Fit `models[k]` to `problems[k]` for every k at once, as one batched network.

    The results are those [`fit`][sirenkit.fit] would give each, in float32 up to rounding (see
    the module [`sirenkit.engine.stacked`][sirenkit.engine.stacked]); one signal's failure does not
    stop the others. The models end with their fitted weights.

    Args:
        models: Networks of one architecture.
        problems: One problem per model, stating the same constraints with batches of the same
            shapes.
        config: The recipe they all follow.
        progress: Show a progress bar.
        on_log: `on_log(k, row)` is called with each logged row of signal k.
        checkpoint_dirs: Where signal k's checkpoint goes, as its own fit would write it (every
            `config.checkpoint_every` steps or `checkpoint_seconds` seconds, at its end and on
            Ctrl-C or SIGTERM, which stop the batch at a step boundary), so that an interrupted
            signal is resumed by [`fit`][sirenkit.fit] alone.
        network_configs: Recorded in each signal's checkpoint.

    Returns:
        One [`FitResult`][sirenkit.FitResult] per signal, or the exception that ended it
        ([`TrainingDiverged`][sirenkit.TrainingDiverged]).

    Raises:
        TrainingInterrupted: Ctrl-C or SIGTERM stopped the batch, after the checkpoints.
        ValueError: Networks of different architectures, or problems that cannot share a batch.
    """
    strategy = Stacked(models, problems, config, checkpoint_dirs=checkpoint_dirs, network_configs=network_configs)
    tracks = list(strategy.tracks)
    ending = train(strategy, config, progress=progress, on_log=on_log, description=f"{len(models)} signals")
    results: list[FitResult | Exception] = []
    for track, model in zip(tracks, models):
        if track.error is not None:
            results.append(track.error)
            continue
        reached = track.reached_at is not None
        steps, stopped_by = (track.reached_at or 0, "until") if reached else (ending.step, ending.stopped_by)
        results.append(FitResult(model=model, steps=steps, seconds=ending.seconds, history=track.history,
                                 compiled=strategy.compiled, precision=strategy.precision, stopped_by=stopped_by,
                                 stalled_at=track.stalled_at, threads=ending.threads))
    return results


class Stacked(Steps):
    """The step of K networks of one architecture, their weights stacked, as one (module docstring)."""

    def __init__(self, models: Sequence[nn.Module], problems: Sequence[Problem], config: TrainConfig, *,
                 checkpoint_dirs: Sequence[str | Path | None] | None = None,
                 network_configs: Sequence[NetworkConfig | None] | None = None) -> None:
        if config.lbfgs_steps:
            raise ValueError("the L-BFGS phase (lbfgs_steps) takes one network at a time, not a batched fit")
        if config.balance != "off":
            raise ValueError("balancing the loss terms (balance) takes one network at a time, not a batched fit")
        if any(problem.adaptive for problem in problems):
            raise ValueError("adaptive sampling (Adaptive domains) takes one network at a time, not a batched fit")
        if any(problem.unknowns for problem in problems):
            raise ValueError("unknown coefficients (Problem.unknowns) take one network at a time, not a batched fit")
        if not models or len(models) != len(problems):
            raise ValueError(f"fit_batched needs one problem per model, got {len(models)} models and "
                             f"{len(problems)} problems")
        device = next(models[0].parameters()).device
        problems = [problem.to(device) for problem in problems]
        if config.batch_size is not None:
            problems = [problem.with_batch_size(config.batch_size) for problem in problems]
        self.problem = problems[0]
        if any(_signature(problem) != _signature(self.problem) for problem in problems[1:]):
            raise ValueError("fit_batched needs problems with the same constraints (names, derivatives, weights, "
                             "norms)")
        for model, problem in zip(models, problems):
            problem.check(model)
        self.config, self.device = config, device
        self.params = stack_parameters(models)
        self.precision = resolve_precision(config, device, models[0])
        warn_if_emulated(self.precision, device)
        loss = _Loss(models[0], _loss_terms_in(self.problem, device, self.precision))
        self.eager_terms = vmap(lambda p, b: functional_call(loss, {f"model.{n}": v for n, v in p.items()}, (b,)))
        with_derivatives = any(c.needs for c in self.problem.constraints)
        self.compiled = _use_compile(config, device, len(models) * self.problem.points_per_step,
                                     derivatives=with_derivatives)
        self.batched_terms = compiled(self.eager_terms, self.device) if self.compiled else self.eager_terms
        self.optimizer = _Adam(self.params)
        folders = list(checkpoint_dirs) if checkpoint_dirs is not None else [None] * len(models)
        networks = list(network_configs) if network_configs is not None else [None] * len(models)
        baseline = (lambda problem: problem.metadata.get("baseline_loss")) if config.stall_check else (lambda _: None)
        self.tracks = [Track(index=k, baseline=baseline(problem)) for k, problem in enumerate(problems)]
        self.models, self.problems = list(models), problems
        self.generators = [torch.Generator().manual_seed(config.seed) for _ in models]
        self.checkpoints = [None if folder is None else Path(folder) / CHECKPOINT_NAME for folder in folders]
        self.networks = networks
        self.rows = list(range(len(models)))
        """The signal (index into `models`) of each row of the stacked weights."""

    def forward_backward(self, step: int, factors: dict[str, float]) -> tuple[list[float], dict[str, torch.Tensor]]:
        drawn = [self.problems[k].sample(self.generators[k]) for k in self.rows]
        for p in self.params.values():
            p.grad = None
        stacked = _stack_batches(drawn)
        if self.compiled and step == 0:
            self.compiled, self.batched_terms, terms = _first_compiled_terms(self.batched_terms, self.eager_terms,
                                                                             self.params, stacked)
        else:
            terms = self.batched_terms(self.params, stacked)
        terms = {name: value.float() * factors[name] if name in factors else value.float()
                 for name, value in terms.items()}
        losses = sum(terms.values())  # (K,)
        assert isinstance(losses, torch.Tensor)
        if step == 0:
            _check_batched([self.models[k] for k in self.rows], [self.problems[k] for k in self.rows], drawn, terms,
                           factors, lambda problem: _loss_terms_in(problem, self.device, self.precision),
                           tolerance=1e-3 if self.precision == "float32" else 3e-2)
        losses.sum().backward()
        if self.config.clip_grad_norm is not None:
            _clip(self.params, self.config.clip_grad_norm)
        return losses.detach().tolist(), {name: value.detach() for name, value in terms.items()}

    def update(self, rates: list[float]) -> None:
        self.optimizer.step(torch.tensor(rates, dtype=torch.float64))

    def evaluate(self, row: int) -> dict[str, float]:
        problem = self.problems[self.rows[row]]
        if problem.evaluate is None:
            return {}
        model = self.model(row)
        model.eval()
        with torch.no_grad():
            values = problem.evaluate(model)
        model.train()
        return values

    def model(self, row: int) -> nn.Module:
        model = self.models[self.rows[row]]
        _load(model, self.params, row)
        return model

    def save(self, rows: Sequence[int], step: int, elapsed: float, config: TrainConfig) -> None:
        """Each signal's checkpoint as [`sirenkit.fit`][sirenkit.fit] writes one (its weights, its
        Adam state in `torch.optim.Adam`'s form, its step, history and generator), so that the
        signal can be resumed alone."""
        for row in rows:
            k, track = self.rows[row], self.tracks[row]
            path = self.checkpoints[k]
            if path is None:
                continue
            model = self.model(row)
            rate = track.last[2] if math.isfinite(track.last[2]) else config.learning_rate
            adam = torch.optim.Adam(model.parameters(), lr=rate)
            for name, parameter in model.named_parameters():
                adam.state[parameter] = {"step": torch.tensor(float(self.optimizer.step_count)),
                                         "exp_avg": self.optimizer.exp_avg[name][row].detach().clone(),
                                         "exp_avg_sq": self.optimizer.exp_avg_sq[name][row].detach().clone()}
            network = self.networks[k]
            save_checkpoint_file(path, {
                "format": "sirenkit-checkpoint",
                "version": 1,
                "model": model.state_dict(),
                "optimizer": adam.state_dict(),
                "step": step,
                "seconds": elapsed,
                "history": track.history,
                "generator": self.generators[k].get_state(),
                "stalled_at": track.stalled_at,
                "train_config": to_dict(config),
                "network_config": network_to_dict(network) if network is not None else None,
            })

    def drop(self, rows: Sequence[int]) -> None:
        """Rows `rows` leave the batch: their weights go to their models and the others go on
        with their own slices of weights and Adam state."""
        for row in rows:
            _load(self.models[self.rows[row]], self.params, row)
        keep = torch.tensor([row for row in range(len(self.rows)) if row not in rows], dtype=torch.long)
        kept = {}
        for name, value in self.params.items():
            kept[name] = value.detach()[keep].clone().requires_grad_(True)
            if value.grad is not None:  # a signal failed mid-step: the others' step goes on
                kept[name].grad = value.grad[keep].clone()
        self.optimizer.keep(keep, kept)
        self.params = kept
        self.rows = [k for row, k in enumerate(self.rows) if row not in rows]
        self.tracks[:] = [track for row, track in enumerate(self.tracks) if row not in rows]

    def finish(self) -> None:
        for row in range(len(self.rows)):
            _load(self.models[self.rows[row]], self.params, row)


def _first_compiled_terms(compiled_terms: Callable, eager_terms: Callable, params: dict[str, torch.Tensor],
                          stacked: list) -> tuple[bool, Callable, dict[str, torch.Tensor]]:
    """The first batched step's loss terms, where compilation happens; if the compiler fails (no C
    compiler, an operation it cannot trace under `vmap`), say so and go on eagerly, as
    [`sirenkit.fit`][sirenkit.fit] does."""
    try:
        return True, compiled_terms, compiled_terms(params, stacked)
    except Exception as error:
        logger.warning("torch.compile failed on the batched step (%s: %s); running eagerly", type(error).__name__,
                       " ".join(str(error).split())[:300])
        return False, eager_terms, eager_terms(params, stacked)


def _check_batched(models: list[nn.Module], problems: list[Problem], drawn: list, terms: dict[str, torch.Tensor],
                   factors: dict[str, float], terms_of: Callable[[Problem], Callable], *, tolerance: float) -> None:
    """The first step's batched loss terms against each signal's own, computed on its own model,
    to a relative `tolerance` (the arithmetic's: bfloat16 products differ in the third digit):
    a residual that holds per-signal tensors of its own (not in its batch) would silently use the
    first signal's, and is refused instead."""
    with torch.no_grad():
        for row, (model, problem, batches) in enumerate(zip(models, problems, drawn)):
            own = terms_of(problem)(model, batches)
            for name, value in own.items():
                expected = float(value) * factors.get(name, 1.0)
                got = float(terms[name][row])
                if not math.isclose(got, expected, rel_tol=tolerance, abs_tol=1e-6):
                    raise ValueError(f"constraint {name!r} cannot be batched: its residual reads per-signal data that "
                                     f"is not in its batch ({got:.6g} batched against {expected:.6g} alone)")
