"""One signal's step, for the loop of `sirenkit.engine.loop`: Adam on one network, its loss
compiled where that repays itself (then, where asked, L-BFGS iterations in float64), and, inside
[`sirenkit.data_parallel`][sirenkit.data_parallel], its points shared out between ranks whose
gradients are averaged at every step.

Resuming reads the run's checkpoint (weights, optimiser state, step, seconds, history, random
state) after checking that it was made for this network; a data-parallel rank other than 0 draws
from a fresh stream of its own (the checkpoint holds rank 0's).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from sirenkit.config import to_dict
from sirenkit.engine.balance import Balance
from sirenkit.engine.checkpoint import (
    CHECKPOINT_NAME,
    check_checkpoint_exists,
    check_state_fits,
    load_checkpoint_file,
    restore_checkpoint,
    save_checkpoint_file,
)
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.loop import FitResult, Steps, Track, _loss_terms_in, train
from sirenkit.engine.parallel import DataParallel, active
from sirenkit.engine.policy import _use_compile, compiled, resolve_precision, warn_if_emulated
from sirenkit.engine.watch import Watcher
from sirenkit.networks.config import NetworkConfig, network_to_dict
from sirenkit.networks.family import family_of
from sirenkit.problems.constraints import Problem

logger = logging.getLogger("sirenkit")

LBFGS_SEED = 7919
"""Added to the run's seed for the stream that draws the L-BFGS phase's fixed points."""
LBFGS_ITERATIONS = 5
"""L-BFGS iterations per step of the phase (`max_iter` of each `LBFGS.step` call). One per call
made no progress after two calls on a Poisson problem (PyTorch 2.13: the strong-Wolfe search
returned a zero step every call after), where two to twenty per call went on to the same loss."""


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
    """Fit a model to a problem: Adam with the schedule of `config`. The one training loop every task
    runs.

    Inside [`data_parallel`][sirenkit.data_parallel] each rank trains on its share of the points.

    Args:
        model: Any network, already initialised and on its device; the problem is moved there.
        problem: The constraints to fit.
        config: The recipe (steps, time budget, learning rate, precision, checkpoints, ...).
        network_config: The network's configuration, recorded in the checkpoint and checked on
            resume.
        checkpoint_dir: Write `checkpoint.safetensors` here every `config.checkpoint_every`
            steps or `config.checkpoint_seconds` seconds, whichever comes first, at the end and on
            Ctrl-C or SIGTERM; `None` writes none.
        resume: Continue from the checkpoint in `checkpoint_dir`.
        progress: Show a progress bar.
        on_log: Called with each logged row of the history.
        watchers: See every step, outside the time budget (`sirenkit.engine.watch`: progress
            snapshots, TensorBoard).

    Returns:
        The fitted model, the steps taken and the history.

    Raises:
        TrainingDiverged: The loss became NaN or infinite, or grew far beyond its first value.
        TrainingInterrupted: Ctrl-C or SIGTERM stopped the fit, after a checkpoint.
        ValueError: The problem does not fit the model, or the checkpoint is not this run's.

    Example:
        ```python
        import sirenkit

        network = sirenkit.build_network(sirenkit.NetworkConfig(in_features=2, out_features=1), seed=0)
        result = sirenkit.fit(network, problem, sirenkit.TrainConfig(steps=500))
        ```
    """
    parallel = active()
    strategy = (OneSignal(model, problem, config, network_config=network_config, checkpoint_dir=checkpoint_dir,
                          resume=resume) if parallel is None else
                RankShare(model, problem, config, parallel, network_config=network_config,
                          checkpoint_dir=checkpoint_dir, resume=resume))
    track = strategy.tracks[0]
    ending = train(strategy, config, start_step=strategy.start_step, elapsed=strategy.start_seconds,
                   progress=progress, on_log=None if on_log is None else (lambda index, row: on_log(row)),
                   watchers=watchers)
    if track.error is not None:
        raise track.error
    return FitResult(model=model, steps=ending.step, seconds=ending.seconds, history=track.history,
                     compiled=strategy.compiled, precision=strategy.precision, stopped_by=ending.stopped_by,
                     stalled_at=track.stalled_at, threads=ending.threads)


class OneSignal(Steps):
    """The step of one network on one problem, in this process."""

    parallel: DataParallel | None = None

    def __init__(self, model: nn.Module, problem: Problem, config: TrainConfig, *,
                 network_config: NetworkConfig | None = None, checkpoint_dir: str | Path | None = None,
                 resume: bool = False) -> None:
        self.net = model
        self.config = config
        self.network_config = network_config
        self.device = next(model.parameters()).device
        self.primary = self.parallel is None or self.parallel.primary
        problem = problem.to(self.device)
        if self.parallel is not None:
            problem = self.parallel.shard(problem)
        if config.batch_size is not None:
            problem = problem.with_batch_size(config.batch_size)
        problem.check(model)
        self.problem = problem
        self.checkpoint = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
        self.unknowns = problem.coefficients  # an inverse problem's coefficients, fitted with the network
        with torch.no_grad():  # every fit starts them where the problem says (a resumed one: where it stopped)
            for name, value in self.unknowns.items():
                value.fill_(float(problem.unknowns[name]))
        self.optimizer = torch.optim.Adam([*model.parameters(), *self.unknowns.values()], lr=config.learning_rate)
        seed = config.seed if self.parallel is None else self.parallel.seed(config.seed)
        self.generator = torch.Generator().manual_seed(seed)
        track = Track(baseline=problem.metadata.get("baseline_loss") if config.stall_check else None)
        self.tracks = [track]
        self.start_step, self.start_seconds = 0, 0.0
        self.balance = (Balance({c.name: c.weight for c in problem.constraints}, config.balance_every)
                        if config.balance == "gradients" else None)
        if resume:
            self._resume(track)
        if self.parallel is not None:
            self.parallel.broadcast_parameters(model)
        family = family_of(model)
        with_derivatives = any(c.needs for c in problem.constraints)
        double_backward = with_derivatives and not (family is not None and family.compiles_derivative_steps)
        self.compiled = _use_compile(config, self.device, problem.points_per_step, derivatives=with_derivatives,
                                     double_backward=double_backward)
        self.precision = resolve_precision(config, self.device, model)
        if self.primary:
            warn_if_emulated(self.precision, self.device)
        self.eager_terms = _loss_terms_in(problem, self.device, self.precision)
        self.loss_terms = compiled(self.eager_terms, self.device) if self.compiled else self.eager_terms
        self.first_step = True
        self.adaptive = problem.adaptive
        self.lbfgs: torch.optim.LBFGS | None = None
        self.fixed: list = []
        self.good: list[torch.Tensor] = []  # the weights before the L-BFGS step before the last
        self.start: list[torch.Tensor] = []  # the weights before the last L-BFGS step

    def _resume(self, track: Track) -> None:
        if self.checkpoint is None:
            raise ValueError("no run folder: no checkpoint to resume from")
        check_checkpoint_exists(self.checkpoint)
        state = load_checkpoint_file(self.checkpoint)
        check_state_fits(state, self.checkpoint, self.network_config)
        self.start_step, self.start_seconds, track.history, track.stalled_at = restore_checkpoint(
            state, self.checkpoint, self.net, self.optimizer, self.generator, dict(self.unknowns))
        if self.balance is not None and state.get("balance") is not None:
            self.balance.load(state["balance"], self.checkpoint)
        track.first_loss = track.history[0].get("loss") if track.history else None
        if self.parallel is not None and not self.primary:  # the checkpoint holds rank 0's random stream
            self.generator.manual_seed(self.parallel.seed(self.config.seed, self.start_step))

    # --- the step ---------------------------------------------------------------------------------

    def forward_backward(self, step: int, factors: dict[str, float]) -> tuple[list[float], dict[str, torch.Tensor]]:
        if self.adaptive:
            self.problem.adapt(self.net, step, self.generator)
        batches = self.problem.sample(self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        if self.balance is not None and self.balance.due(step):
            self._balance(batches, factors)
        if self.balance is not None:
            factors = self.balance.times(factors)
        if self.compiled and self.first_step:
            terms, loss = self._first_compiled_step(batches, factors)
        else:
            terms, loss = _forward_backward(self.loss_terms, self.net, batches, factors)
        if self.balance is not None:  # reported as the constraints weight them, comparable from step to step
            terms = {name: value.detach() / self.balance.factors[name] for name, value in terms.items()}
            loss = torch.stack(list(terms.values())).sum()
        self.first_step = False
        terms, loss = self.combined(terms, loss)
        if self.config.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.config.clip_grad_norm)
        return [float(loss.detach())], {name: value.detach().reshape(1) for name, value in terms.items()}

    def combined(self, terms: dict[str, torch.Tensor], loss: torch.Tensor
                 ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The step's loss terms and loss as the update uses them (this process's own)."""
        return terms, loss

    def _first_compiled_step(self, batches: list, factors: dict[str, float]
                             ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The first step of a compiled run, where compilation happens. If it fails and the same
        step runs eagerly, the compiler is what failed (no C compiler, an unsupported operation): say
        so and go on eagerly. If the eager step fails too, the error is the user's (a residual that
        raises, wrong shapes) and is raised as the eager step raised it. Later steps are never retried."""
        try:
            return _forward_backward(self.loss_terms, self.net, batches, factors)
        except Exception as compile_error:
            self.optimizer.zero_grad(set_to_none=True)
            terms, loss = _forward_backward(self.eager_terms, self.net, batches, factors)  # the user's own error
            logger.warning("torch.compile failed (%s: %s); running eagerly", type(compile_error).__name__,
                           " ".join(str(compile_error).split())[:300])
            self.compiled, self.loss_terms = False, self.eager_terms
            return terms, loss

    def _balance(self, batches: list, factors: dict[str, float]) -> None:
        """Measure each term's gradient for the balance (eagerly: a compiled graph is not kept for a
        second backward pass)."""
        assert self.balance is not None
        terms = {name: value.float() * factors.get(name, 1.0)
                 for name, value in self.eager_terms(self.net, batches).items()}
        self.balance.measure(terms, self.net.parameters())

    def update(self, rates: list[float]) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = rates[0]
        self.optimizer.step()

    # --- the L-BFGS phase ---------------------------------------------------------------------------

    def refine(self, factors: dict[str, float]) -> tuple[list[float], dict[str, torch.Tensor]]:
        """One step of the L-BFGS phase (`TrainConfig.lbfgs_steps`), `LBFGS_ITERATIONS` iterations,
        in float64 on the phase's fixed points,
        drawn at its start from a stream of their own (`seed + LBFGS_SEED`), so that a resumed
        phase has the same ones; returns the loss and terms before the iteration."""
        if self.lbfgs is None:
            self.net.double()
            self.unknowns.double()
            stream = torch.Generator().manual_seed(self.config.seed + LBFGS_SEED)
            self.fixed = [(points.double(), {name: values.double() if values.is_floating_point() else values
                                             for name, values in data.items()})
                          for points, data in self.problem.sample(stream)]
            self.lbfgs = torch.optim.LBFGS([*self.net.parameters(), *self.unknowns.values()], lr=1.0,
                                           max_iter=LBFGS_ITERATIONS, history_size=50, line_search_fn="strong_wolfe",
                                           tolerance_grad=0.0, tolerance_change=0.0)
        first: dict[str, torch.Tensor] = {}
        if self.balance is not None:  # the balance as the Adam steps left it
            factors = self.balance.times(factors)

        def closure() -> torch.Tensor:
            assert self.lbfgs is not None
            self.lbfgs.zero_grad(set_to_none=True)
            terms = {name: value * factors.get(name, 1.0)
                     for name, value in self.problem.loss_terms(self.net, self.fixed).items()}
            loss = sum(terms.values())
            assert isinstance(loss, torch.Tensor)
            loss.backward()
            if not first:
                first.update({name: value.detach() for name, value in terms.items()})
            return loss

        # the loss a step returns is that of the weights it starts from, those the step before made: if
        # the loop finds it diverged, the weights to go back to are those from before that step
        self.good, self.start = self.start, [parameter.detach().clone() for parameter in self._refined()]
        loss = self.lbfgs.step(closure)
        return [float(loss.detach())], {name: value.float().reshape(1) for name, value in first.items()}

    def _refined(self) -> list[torch.Tensor]:
        return [*self.net.parameters(), *self.unknowns.values()]

    def revert(self) -> None:
        with torch.no_grad():  # the first step of the phase has nothing to go back to: Adam's weights stay
            for parameter, value in zip(self._refined(), self.good):
                parameter.copy_(value)

    def finish(self) -> None:
        if self.lbfgs is not None:  # the weights go back to the precision they are kept in
            self.net.float()
            self.unknowns.float()

    def _in_float32(self) -> nn.Module:
        """The network as every caller knows it: during the L-BFGS phase, a float32 copy."""
        return self.net if self.lbfgs is None else copy.deepcopy(self.net).float()

    # --- what the loop asks of the network -------------------------------------------------------

    def evaluate(self, row: int) -> dict[str, float]:
        found = {name: float(value.detach()) for name, value in self.unknowns.items()}
        if self.problem.evaluate is None:
            return found
        network = self._in_float32()
        network.eval()
        with torch.no_grad():
            values = self.problem.evaluate(network)
        network.train()
        return {**values, **found}

    def model(self, row: int) -> nn.Module:
        return self._in_float32()

    def save(self, rows: Sequence[int], step: int, elapsed: float, config: TrainConfig) -> None:
        if self.checkpoint is None or not self.tracks:
            return
        track = self.tracks[0]
        save_checkpoint_file(self.checkpoint, {
            "format": "sirenkit-checkpoint",
            "version": 1,
            "model": {name: value.float() for name, value in self.net.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "step": step,
            "seconds": elapsed,
            "history": track.history,
            "generator": self.generator.get_state(),
            "stalled_at": track.stalled_at,
            "unknowns": {name: float(value.detach()) for name, value in self.unknowns.items()},
            "balance": None if self.balance is None else self.balance.state(),
            "train_config": to_dict(config),
            "network_config": (network_to_dict(self.network_config) if self.network_config is not None
                               else None),
        })

    def drop(self, rows: Sequence[int]) -> None:
        self.dropped = [self.tracks[row] for row in rows]
        self.tracks[:] = [track for row, track in enumerate(self.tracks) if row not in rows]



class RankShare(OneSignal):
    """One network trained by every rank of a data-parallel fit, each on its share of the points
    ([`DataParallel.shard`][sirenkit.DataParallel.shard]): the ranks start from rank 0's weights, average
    their gradients, loss and terms at every step, schedule and stop on the slowest rank's clock, stop on rank 0's
    metrics, and check that their networks agree at the end. Rank 0 writes."""

    def __init__(self, model: nn.Module, problem: Problem, config: TrainConfig, parallel: DataParallel, *,
                 network_config: NetworkConfig | None = None, checkpoint_dir: str | Path | None = None,
                 resume: bool = False) -> None:
        if config.lbfgs_steps or problem.unknowns or config.balance != "off":
            raise ValueError("the L-BFGS phase (lbfgs_steps), unknown coefficients and balanced terms (balance) "
                             "take one network in one process, not a data-parallel fit")
        self.parallel = self.ranks = parallel
        super().__init__(model, problem, config, network_config=network_config, checkpoint_dir=checkpoint_dir,
                         resume=resume)

    def agree(self, clock: list[float], stop: bool) -> tuple[list[float], bool]:
        return self.ranks.agree(clock, stop, self.device)

    def decide(self, flag: bool) -> bool:
        return self.ranks.decide(flag, self.device)

    def combined(self, terms: dict[str, torch.Tensor], loss: torch.Tensor
                 ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        averaged = self.ranks.average(self.net, [loss, *terms.values()])
        return dict(zip(terms, map(torch.tensor, averaged[1:]))), torch.tensor(averaged[0])

    def finish(self) -> None:
        self.ranks.check_in_step(self.net)


def _forward_backward(loss_terms: Callable, model: nn.Module, batches: list, factors: dict[str, float]
                      ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The loss terms (each scheduled one times its factor, outside anything compiled, so that a
    changing weight does not recompile) and their sum, differentiated."""
    terms = {name: value.float() * factors[name] if name in factors else value.float()
             for name, value in loss_terms(model, batches).items()}
    loss = sum(terms.values())
    assert isinstance(loss, torch.Tensor)
    loss.backward()
    return terms, loss
