import json
import logging
import math
import os
import signal as signals

import numpy as np
import pytest
import torch

import sirenkit as sk
from sirenkit.engine.checkpoint import load_checkpoint_file
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.loop import TrainingDiverged, TrainingInterrupted
from sirenkit.engine.policy import compiler_available
from sirenkit.engine.schedule import learning_rate
from sirenkit.engine.single import fit
from sirenkit.networks.build import build_network
from sirenkit.networks.config import NetworkConfig, network_config_from_dict
from sirenkit.problems.constraints import Constraint, Problem
from sirenkit.problems.domains import PointSet
from sirenkit.signals.image.data import ImageSignal, coordinate_grid

from conftest import smooth_image


def tiny_signal(height=24, width=32, channels=1) -> ImageSignal:
    pixels = smooth_image(height, width, channels)
    return ImageSignal(pixels=pixels, name="smooth", mode={1: "L", 3: "RGB"}[channels],
                       original_shape=(height, width))


def image_network(signal: ImageSignal, model: str = "siren", **settings) -> NetworkConfig:
    """The image recipe's network shape for ``signal`` (2 → C), with ``settings``."""
    return NetworkConfig(in_features=2, out_features=signal.channels, model=model, pe_sidelength=max(signal.shape),
                         **settings)


def small_network(signal, model="siren"):
    return image_network(signal, model, hidden_features=48, hidden_layers=3)


def test_learning_rate_schedule_warms_up_then_decays_to_the_floor():
    config = TrainConfig(steps=101, learning_rate=1e-3, warmup_steps=10, final_lr_fraction=0.05)
    assert learning_rate(0, config) == pytest.approx(1e-4)
    assert learning_rate(10, config) == pytest.approx(1e-3)
    assert learning_rate(100, config) == pytest.approx(5e-5)
    rates = [learning_rate(step, config) for step in range(10, 101)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    constant = TrainConfig(steps=50, schedule="constant", warmup_steps=0)
    assert {learning_rate(s, constant) for s in range(50)} == {1e-3}


def test_a_small_image_is_fitted_to_a_stated_psnr():
    signal = tiny_signal()
    fitted = sk.fit_image(signal, network=small_network(signal),
                       train=TrainConfig(steps=150, compile=False, log_every=50), progress=False)
    assert fitted.metrics["psnr"] > 40.0
    assert fitted.metrics["steps"] == 150
    psnrs = [row["psnr"] for row in fitted.history]
    assert psnrs[-1] > psnrs[0] + 20


def test_random_subsets_per_step_also_fit():
    signal = tiny_signal()
    fitted = sk.fit_image(signal, network=small_network(signal),
                       train=TrainConfig(steps=200, batch_size=256, compile=False), progress=False)
    assert fitted.metrics["psnr"] > 35.0


def test_same_seed_same_run():
    signal = tiny_signal()
    train = TrainConfig(steps=20, batch_size=100, compile=False)
    a = sk.fit_image(signal, network=small_network(signal), train=train, progress=False)
    b = sk.fit_image(signal, network=small_network(signal), train=train, progress=False)
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_resume_after_k_steps_continues_the_same_run(tmp_path):
    """k steps, a checkpoint, then the rest: the same weights as an uninterrupted run."""
    signal = tiny_signal()
    network = small_network(signal)
    coords = coordinate_grid(signal.shape)
    pixels = torch.from_numpy(signal.pixels.reshape(-1, 1)) * 2 - 1
    problem = Problem([Constraint("image", lambda f: f.value - f.data["target"],
                                  PointSet(coords, {"target": pixels}, batch_size=200))])
    full = TrainConfig(steps=30, compile=False, checkpoint_every=10, log_every=10)
    straight = fit(build_network(network, seed=0), problem, full, network_config=network, progress=False)

    def interrupt(row):  # a Ctrl-C during step 10 (its evaluation): the step ends, then the run stops
        if row["step"] == 10:
            os.kill(os.getpid(), signals.SIGINT)

    with pytest.raises(TrainingInterrupted) as stopped:
        fit(build_network(network, seed=0), problem, full, network_config=network, checkpoint_dir=tmp_path,
            progress=False, on_log=interrupt)
    assert stopped.value.step == 10 and stopped.value.signal_number == signals.SIGINT
    assert (tmp_path / "checkpoint.safetensors").exists()
    # a fresh process would rebuild everything and resume
    resumed = fit(build_network(network, seed=1), problem, full, network_config=network, checkpoint_dir=tmp_path,
                  resume=True, progress=False)
    assert resumed.steps == 30
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(p, q, atol=1e-6), "the resumed run drifted from the uninterrupted one"


def tiny_problem(signal, batch_size=200):
    coords = coordinate_grid(signal.shape)
    pixels = torch.from_numpy(signal.pixels.reshape(-1, 1)) * 2 - 1
    return Problem([Constraint("image", lambda f: f.value - f.data["target"],
                               PointSet(coords, {"target": pixels}, batch_size=batch_size))])


def test_sigterm_stops_at_a_step_boundary_with_a_checkpoint(tmp_path):
    """A scheduler's time limit (SIGTERM) is handled like Ctrl-C: the step in progress ends, the
    checkpoint holds it, and the handlers are put back afterwards."""
    sample = tiny_signal()
    network = small_network(sample)
    config = TrainConfig(steps=50, compile=False, checkpoint_every=0, log_every=1)
    before = signals.getsignal(signals.SIGTERM)

    def terminate(row):
        if row["step"] == 7:
            os.kill(os.getpid(), signals.SIGTERM)

    with pytest.raises(TrainingInterrupted) as stopped:
        fit(build_network(network, seed=0), tiny_problem(sample), config, network_config=network,
            checkpoint_dir=tmp_path, progress=False, on_log=terminate)
    assert stopped.value.step == 7 and stopped.value.signal_number == signals.SIGTERM
    assert load_checkpoint_file(tmp_path / "checkpoint.safetensors")["step"] == 7
    assert signals.getsignal(signals.SIGTERM) is before


def test_a_second_interrupt_stops_at_once_keeping_the_last_checkpoint(tmp_path):
    """Two Ctrl-C: the second one stops in the middle of a step; what is saved is the last
    checkpoint taken at a step boundary, never half-updated weights under an old step number."""
    sample = tiny_signal()
    network = small_network(sample)
    config = TrainConfig(steps=50, compile=False, checkpoint_every=5, log_every=1)

    def twice(row):
        if row["step"] == 12:
            os.kill(os.getpid(), signals.SIGINT)
            os.kill(os.getpid(), signals.SIGINT)

    with pytest.raises(TrainingInterrupted) as stopped:
        fit(build_network(network, seed=0), tiny_problem(sample), config, network_config=network,
            checkpoint_dir=tmp_path, progress=False, on_log=twice)
    assert stopped.value.step == 10
    assert load_checkpoint_file(tmp_path / "checkpoint.safetensors")["step"] == 10


def test_checkpoints_are_also_taken_every_so_many_seconds(tmp_path, monkeypatch):
    sample = tiny_signal()
    network = small_network(sample)
    saved_steps = []
    import sirenkit.engine.single as training

    real_save = training.save_checkpoint_file
    monkeypatch.setattr(training, "save_checkpoint_file",
                        lambda path, state: (saved_steps.append(state["step"]), real_save(path, state)))
    config = TrainConfig(steps=6, compile=False, checkpoint_every=0, checkpoint_seconds=1e-9, log_every=1)
    fit(build_network(network, seed=0), tiny_problem(sample), config, network_config=network,
        checkpoint_dir=tmp_path, progress=False)
    assert saved_steps == [1, 2, 3, 4, 5, 6]


def test_a_diverging_run_stops_with_a_message():
    signal = tiny_signal()
    with pytest.raises(TrainingDiverged, match="diverged at step"):
        sk.fit_image(signal, network=small_network(signal, "relu"),
                  train=TrainConfig(steps=50, learning_rate=1e3, warmup_steps=0, compile=False),
                  progress=False)


def test_nan_loss_stops_the_run():
    points = torch.rand(16, 1)
    problem = Problem([Constraint("nan", lambda f: f.value * float("nan"), PointSet(points))])
    model = build_network(NetworkConfig(in_features=1, out_features=1, hidden_features=8))
    with pytest.raises(TrainingDiverged, match="loss nan"):
        fit(model, problem, TrainConfig(steps=5, compile=False), progress=False)


def test_several_constraints_are_logged_term_by_term():
    points = torch.linspace(-1, 1, 64)[:, None]
    target = torch.sin(3 * points)
    problem = Problem([
        Constraint("value", lambda f: f.value - f.data["target"], PointSet(points, {"target": target})),
        Constraint("slope", lambda f: f.gradient - 3 * torch.cos(3 * f.points), PointSet(points),
                   needs=("jacobian",), weight=0.01),
    ])
    torch.manual_seed(0)
    model = build_network(NetworkConfig(in_features=1, out_features=1, hidden_features=32, hidden_layers=2,
                                        first_omega=10))
    result = fit(model, problem, TrainConfig(steps=200, compile=False, log_every=50), progress=False)
    assert {"value", "slope", "loss"} <= set(result.history[-1])
    assert result.history[-1]["value"] < 1e-4
    assert result.history[-1]["slope"] < 1e-3


def test_a_scheduled_weight_follows_the_run_from_its_first_step_to_its_last():
    """A constraint's schedule multiplies its weight, called with the run's progress (0 at the first
    step, 1 at the last); a constant factor of 2 trains exactly as twice the weight does."""
    from sirenkit.engine.schedule import run_progress

    points = torch.linspace(-1, 1, 64)[:, None]
    target = torch.sin(3 * points)
    seen = []

    def problem(weight, schedule):
        return Problem([
            Constraint("value", lambda f: f.value - f.data["target"], PointSet(points, {"target": target})),
            Constraint("slope", lambda f: f.gradient - 3 * torch.cos(3 * f.points), PointSet(points),
                       needs=("jacobian",), weight=weight, schedule=schedule),
        ])

    def recorded(progress):
        seen.append(progress)
        return 2.0

    config = NetworkConfig(in_features=1, out_features=1, hidden_features=16, hidden_layers=2, first_omega=10)
    train = TrainConfig(steps=30, compile=False, log_every=10)
    scheduled = fit(build_network(config, seed=0), problem(0.01, recorded), train, progress=False).model
    doubled = fit(build_network(config, seed=0), problem(0.02, None), train, progress=False).model
    assert seen[0] == 0.0 and seen[-1] == 1.0 and len(seen) == 30
    assert all(later > earlier for earlier, later in zip(seen, seen[1:]))
    for a, b in zip(scheduled.parameters(), doubled.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert run_progress(0, train) == 0.0 and run_progress(29, train) == 1.0
    assert run_progress(9, train, total_steps=10.0) == 1.0  # a budget expected to allow 10 steps


def test_compiled_and_eager_steps_agree():
    """The compiled path is the default on long runs; it must compute what the eager one does."""
    pytest.importorskip("torch._inductor")
    if not compiler_available(torch.device("cpu")):
        pytest.skip("no C compiler (cc, gcc, g++) on this machine: torch.compile cannot build CPU kernels, "
                    "so the compiled run would be eager too and the comparison would prove nothing")
    signal = tiny_signal(12, 12)
    network = image_network(signal, hidden_features=16, hidden_layers=2)
    runs = {}
    for compiled in (False, True):
        fitted = sk.fit_image(signal, network=network, train=TrainConfig(steps=5, compile=compiled, log_every=1),
                           progress=False)
        runs[compiled] = fitted
    assert runs[True].metrics["compiled"] is True and runs[False].metrics["compiled"] is False
    losses = {c: np.array([row["loss"] for row in r.history]) for c, r in runs.items()}
    assert np.allclose(losses[True], losses[False], rtol=1e-3)
    for p, q in zip(runs[True].model.parameters(), runs[False].model.parameters()):
        assert torch.allclose(p, q, atol=1e-5)


# --- what happens when a compiled step raises -----------------------------------------------

def curve_problem(residual=None) -> Problem:
    """Fit sin(3x) at 16 points: a problem of a few milliseconds per step."""
    points = torch.linspace(-1, 1, 16)[:, None]
    residual = residual or (lambda f: f.value - f.data["target"])
    return Problem([Constraint("curve", residual, PointSet(points, {"target": torch.sin(3 * points)}))])


def curve_network() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_network(NetworkConfig(in_features=1, out_features=1, hidden_features=8, hidden_layers=2))


def fake_compile(monkeypatch, *, fails_on_call=None, error=None, on_call=None):
    """``torch.compile`` returning a wrapper that runs the function eagerly, except that its call
    number ``fails_on_call`` raises ``error``; ``on_call()`` runs first at every call. Returns the
    list of calls made to the wrappers."""
    calls = []

    def compile(function, *args, **kwargs):
        def compiled(*a, **k):
            calls.append(function)
            if on_call is not None:
                on_call()
            if len(calls) == fails_on_call:
                raise error
            return function(*a, **k)
        return compiled

    monkeypatch.setattr(torch, "compile", compile)
    return calls


def sirenkit_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.split(".")[0] == "sirenkit" and r.levelno >= logging.WARNING]


def test_a_compiler_that_fails_on_the_first_step_falls_back_to_the_eager_step(monkeypatch, caplog, capsys):
    """A real compiler failure (the first compiled step raises, the same step runs eagerly): the run
    goes on eagerly, says so once through the ``sirenkit`` logger, prints nothing, and gives the
    eager run's weights."""
    calls = fake_compile(monkeypatch, fails_on_call=1, error=RuntimeError("InductorError: no C compiler found"))
    with caplog.at_level(logging.WARNING, logger="sirenkit"):
        fallback = fit(curve_network(), curve_problem(), TrainConfig(steps=5, compile=True), progress=False)
    assert fallback.compiled is False and fallback.steps == 5
    assert len(calls) == 1  # the compiled step is not tried again
    messages = sirenkit_warnings(caplog)
    assert len(messages) == 1 and "no C compiler found" in messages[0], messages
    assert "no C compiler found" not in capsys.readouterr().err  # logged, not printed
    eager = fit(curve_network(), curve_problem(), TrainConfig(steps=5, compile=False), progress=False)
    for p, q in zip(fallback.model.parameters(), eager.model.parameters()):
        assert torch.equal(p, q)


class ResidualBug(Exception):
    """A mistake in a user's residual."""


@pytest.mark.parametrize("error", [ZeroDivisionError("division by zero"), ResidualBug("my residual is wrong"),
                                   RuntimeError("The size of tensor a (16) must match the size of tensor b (3)")])
def test_a_residual_that_fails_eagerly_too_raises_as_it_is(monkeypatch, caplog, capsys, error):
    """A user's bug fails the compiled step and the eager step alike: it is raised unchanged, and
    not reported as a compiler failure."""
    training = []

    def residual(fields):
        if training:  # armed by the first compiled call: Problem.check passes, every step fails
            raise error
        return fields.value - fields.data["target"]

    calls = fake_compile(monkeypatch, on_call=lambda: training.append(True))
    with caplog.at_level(logging.WARNING, logger="sirenkit"), pytest.raises(type(error)) as raised:
        fit(curve_network(), curve_problem(residual), TrainConfig(steps=5, compile=True), progress=False)
    assert type(raised.value) is type(error) and str(raised.value) == str(error)
    assert len(calls) == 1  # the step was compiled, and raised
    assert sirenkit_warnings(caplog) == []
    assert "torch.compile" not in capsys.readouterr().err


def test_an_error_at_a_later_compiled_step_is_raised_not_retried_eagerly(monkeypatch, caplog):
    """Out of memory at step 3 is not a compiler failure: the run stops with it."""
    calls = fake_compile(monkeypatch, fails_on_call=3, error=RuntimeError("CUDA out of memory (fake)"))
    with caplog.at_level(logging.WARNING, logger="sirenkit"), \
            pytest.raises(RuntimeError, match="out of memory") as raised:
        fit(curve_network(), curve_problem(), TrainConfig(steps=6, compile=True), progress=False)
    assert type(raised.value) is RuntimeError  # not wrapped, not TrainingDiverged
    assert len(calls) == 3
    assert sirenkit_warnings(caplog) == []


# --- run folders: resuming and reproducing ---------------------------------------------------

def tiny_png(folder, height=12, width=16):
    """A smooth grey PNG file: what a user fits."""
    from PIL import Image

    path = folder / "smooth.png"
    Image.fromarray(np.round(smooth_image(height, width)[..., 0] * 255).astype(np.uint8)).save(path)
    return path


def grey_network(width: int, **changes) -> NetworkConfig:
    return NetworkConfig(in_features=2, out_features=1, hidden_features=width, hidden_layers=2, **changes)


def test_resuming_with_another_network_configuration_is_refused(tmp_path):
    image = tiny_png(tmp_path)
    sk.fit_image(image, network=grey_network(16), train=TrainConfig(steps=4, compile=False, device="cpu"),
                 out=tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="network"):
        sk.fit_image(image, network=grey_network(24), train=TrainConfig(steps=8, compile=False, device="cpu"),
                     out=tmp_path / "run", resume=True, progress=False)


def test_a_refused_resume_leaves_the_run_folder_as_it_was(tmp_path):
    """config.json must keep describing the run the checkpoint belongs to."""
    image = tiny_png(tmp_path)
    sk.fit_image(image, network=grey_network(16), train=TrainConfig(steps=4, compile=False, device="cpu"),
                 out=tmp_path / "run", progress=False)
    before = {path.name: path.read_bytes() for path in (tmp_path / "run").iterdir()}
    with pytest.raises(ValueError):
        sk.fit_image(image, network=grey_network(24), train=TrainConfig(steps=8, compile=False, device="cpu"),
                     out=tmp_path / "run", resume=True, progress=False)
    after = {path.name: path.read_bytes() for path in (tmp_path / "run").iterdir()}
    assert after.keys() == before.keys()
    changed = sorted(name for name in before if after[name] != before[name])
    assert changed == [], f"a refused resume rewrote {changed}"


def test_a_run_is_reproduced_from_its_config_json(tmp_path):
    """The resolved configuration in config.json is enough to run the same fit again: the same
    seed gives the same PSNR; another seed (the negative control) does not."""
    image = tiny_png(tmp_path)
    sk.fit_image(image, network=grey_network(16, first_omega=20.0),
                 train=TrainConfig(steps=20, batch_size=64, seed=3, compile=False, device="cpu"),
                 out=tmp_path / "first", progress=False)
    config = json.loads((tmp_path / "first" / "config.json").read_text())
    network, train = network_config_from_dict(config["network"]), sk.TrainConfig(**config["train"])
    sk.fit_image(image, network=network, train=train, out=tmp_path / "again", progress=False)
    other_seed = sk.fit_image(image, network=network, train=TrainConfig(**{**config["train"], "seed": 4}),
                              out=tmp_path / "other", progress=False)
    psnr = {name: json.loads((tmp_path / name / "metrics.json").read_text())["psnr"]
            for name in ("first", "again", "other")}
    assert psnr["again"] == pytest.approx(psnr["first"], abs=1e-5)
    assert abs(psnr["other"] - psnr["first"]) > 1e-3
    assert other_seed.metrics["psnr"] == psnr["other"]


def test_bfloat16_steps_still_fit():
    signal = tiny_signal()
    fitted = sk.fit_image(signal, network=small_network(signal),
                       train=TrainConfig(steps=150, compile=False, precision="bfloat16"), progress=False)
    assert fitted.metrics["psnr"] > 30.0


@pytest.mark.parametrize("source", ["gradient", "laplacian"])
def test_bfloat16_steps_fit_derivative_constraints_like_float32(source):
    """Poisson from the gradient (the adjoint pass) or the Laplacian (forward streams) under
    bfloat16 autocast: the loss falls as in float32 and ends near it. Tiny on purpose: bfloat16 is
    emulated, and about 100 times slower, on CPUs without AVX-512 BF16 or AMX."""
    from sirenkit.studies.poisson import derivative_problem, derivative_targets

    target = derivative_targets(smooth_image(16, 16), source)  # 256 points
    runs = {}
    for precision in ("float32", "bfloat16"):
        problem = derivative_problem(target, source, batch_size=None, device=torch.device("cpu"))
        torch.manual_seed(0)
        network = build_network(NetworkConfig(in_features=2, out_features=1, hidden_features=16, hidden_layers=2,
                                              first_omega=10.0))
        runs[precision] = fit(network, problem, TrainConfig(steps=30, learning_rate=3e-3, compile=False,
                                                            precision=precision, log_every=1, device="cpu"),
                              progress=False)
    assert runs["bfloat16"].precision == "bfloat16"
    losses = {precision: [row["loss"] for row in run.history] for precision, run in runs.items()}
    assert losses["bfloat16"] != losses["float32"]  # the reduced precision did take effect
    # measured: both fall to 0.13 (gradient) and 0.12 (laplacian) of the first loss, within 0.1 % of each other
    assert losses["bfloat16"][-1] < 0.3 * losses["bfloat16"][0]
    assert losses["bfloat16"][-1] == pytest.approx(losses["float32"][-1], rel=0.05)


def test_constraints_on_one_domain_share_its_batch_and_one_evaluation(monkeypatch):
    import sirenkit.problems.constraints as constraints

    calls = []
    original = constraints.derivatives
    monkeypatch.setattr(constraints, "derivatives",
                        lambda *args, **kwargs: calls.append(kwargs) or original(*args, **kwargs))
    domain = PointSet(torch.rand(50, 2), batch_size=10)
    other = PointSet(torch.rand(50, 2), batch_size=10)
    problem = Problem([
        Constraint("value", lambda f: f.value, domain),
        Constraint("slope", lambda f: f.gradient, domain, needs=("jacobian",)),
        Constraint("elsewhere", lambda f: f.value, other),
    ]).to(torch.device("cpu"))
    batches = problem.sample(torch.Generator().manual_seed(0))
    assert batches[0][0] is batches[1][0] and batches[2][0] is not batches[0][0]
    assert problem.points_per_step == 20  # the shared domain's 10 points counted once
    net = build_network(NetworkConfig(in_features=2, out_features=1, hidden_features=8, hidden_layers=2))
    terms = problem.loss_terms(net, batches)
    assert set(terms) == {"value", "slope", "elsewhere"}
    assert [c["jacobian"] for c in calls] == [True, False]  # one evaluation per domain, with the union


def test_derivative_constraints_on_an_autograd_network_are_not_compiled(capsys):
    """torch.compile cannot differentiate twice: such a run goes eagerly from the start, quietly."""
    import sirenkit as sk

    problem = sk.Problem([sk.Constraint("slope", lambda f: f.gradient - 1.0, sk.Box([-1], [1], 8192),
                                        needs=("jacobian",))])
    network = sk.NetworkConfig(in_features=1, out_features=1, hidden_features=8, hidden_layers=2, model="tanh")
    solution = sk.solve(problem, network, TrainConfig(steps=200, device="cpu", log_every=200), progress=False)
    assert solution.metrics["compiled"] is False
    assert "torch.compile failed" not in capsys.readouterr().err


# --- budgets and targets: --time and --until -------------------------------------------------------

def test_the_schedule_runs_over_the_steps_a_budget_is_expected_to_allow():
    config = TrainConfig(steps=10**6, learning_rate=1e-3, warmup_steps=10, final_lr_fraction=0.05, time_budget=60.0)
    assert learning_rate(5, config, 100) == pytest.approx(learning_rate(5, TrainConfig(warmup_steps=10)))
    assert learning_rate(55, config, 101) == pytest.approx(1e-3 * (0.05 + 0.95 * 0.5), rel=1e-3)
    assert learning_rate(100, config, 101) == pytest.approx(5e-5)
    # where the steps end first, they set the schedule, exactly as without a budget
    both = TrainConfig(steps=111, learning_rate=1e-3, warmup_steps=10, time_budget=1000.0)
    plain = TrainConfig(steps=111, learning_rate=1e-3, warmup_steps=10)
    assert [learning_rate(s, both, 5000) for s in range(111)] == [learning_rate(s, plain) for s in range(111)]


@pytest.mark.parametrize("budget, steps", [
    (1.4, 11),  # 11 steps end 0.025 s short of it, a 12th would end 0.1 s past: 11
    (1.45, 12),  # 11 steps end 0.075 s short of it, 12 end 0.05 s past: 12
    (5.0, 40),
])
def test_a_budget_stops_at_the_step_boundary_nearest_it(budget, steps, monkeypatch):
    """Steps of exactly 1/8 s on a fake clock (no machine's speed in it): the run stops before the
    step that would end nearer past the budget than the last one ended before it."""
    from conftest import step_clock

    clock = step_clock(monkeypatch, 0.125)
    config = TrainConfig(steps=10**6, learning_rate=1e-3, time_budget=budget, compile=False, log_every=50)
    result = fit(curve_network(), curve_problem(), config, progress=False)
    assert result.stopped_by == "time"
    assert result.steps == clock.steps == steps
    assert result.seconds == steps * 0.125
    last = result.history[-1]
    assert last["step"] == steps and last["seconds"] == steps * 0.125  # the state the budget ended on is logged


def test_a_budgeted_fit_ends_annealed_on_the_steps_its_budget_allows(monkeypatch):
    """From 20 timed steps on, the schedule runs over the steps the budget is expected to allow (5 s
    of 1/8 s steps: 40), so that the last one is at the floor of the cosine, 5 % of the peak."""
    from conftest import step_clock

    step_clock(monkeypatch, 0.125)
    config = TrainConfig(steps=10**6, learning_rate=1e-3, time_budget=5.0, compile=False, log_every=1)
    result = fit(curve_network(), curve_problem(), config, progress=False)
    rates = {row["step"]: row["lr"] for row in result.history}
    assert result.steps == 40 and result.stopped_by == "time"
    # steps 1-21 (19 timed after the first, which may compile, then 20): over all 10**6 steps, at the peak
    assert rates[21] == pytest.approx(1e-3, rel=1e-6)
    # from step 22: 40 steps expected; the cosine runs over steps 10 to 39 (0-based) after the warm-up
    assert rates[22] == pytest.approx(1e-3 * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * 11 / 29))))
    assert rates[40] == pytest.approx(0.05 * 1e-3)  # annealed: the floor


def test_a_target_stops_at_the_first_evaluation_that_reaches_it():
    signal = tiny_signal(16, 16)
    config = TrainConfig(steps=2000, until=30.0, compile=False, log_every=10)
    fitted = sk.fit_image(signal, network=small_network(signal), train=config, progress=False)
    psnrs = [row["psnr"] for row in fitted.history]
    assert fitted.metrics["stopped_by"] == "until" and fitted.metrics["steps"] < 2000
    assert psnrs[-1] >= 30.0 and all(value < 30.0 for value in psnrs[:-1])


@pytest.mark.parametrize("config, stopped_by", [
    (TrainConfig(steps=5, time_budget=100.0, until=1e-12, compile=False), "steps"),
    (TrainConfig(steps=10**6, time_budget=0.5, until=1e-12, compile=False, log_every=5), "time"),
    (TrainConfig(steps=10**6, time_budget=100.0, until=0.5, compile=False, log_every=5), "until"),
])
def test_steps_time_and_target_combine_whichever_comes_first(config, stopped_by):
    result = fit(curve_network(), curve_problem(), replace_until_metric(config), progress=False)
    assert result.stopped_by == stopped_by


def replace_until_metric(config: TrainConfig) -> TrainConfig:
    from dataclasses import replace

    return replace(config, until_metric="loss")


def test_a_target_on_a_figure_the_run_does_not_log_is_refused():
    with pytest.raises(ValueError, match="'psnr', which this run does not measure"):
        fit(curve_network(), curve_problem(), TrainConfig(steps=5, until=30.0, until_metric="psnr", compile=False),
            progress=False)


@pytest.mark.parametrize("budget", [0.0, -1.0, float("nan"), float("inf")])
def test_a_budget_that_is_not_a_positive_number_of_seconds_is_refused(budget):
    with pytest.raises(ValueError, match="time budget must be a positive number of seconds"):
        TrainConfig(time_budget=budget)


def test_a_target_past_what_an_8_bit_file_can_show_is_refused():
    signal = tiny_signal(8, 8)
    with pytest.raises(ValueError, match=r"more psnr than an image's written result can show \(58\.92\)"):
        sk.fit_image(signal, network=small_network(signal), train=TrainConfig(steps=5, until=70.0), progress=False)


def problem_with_baseline(signal, baseline):
    """``tiny_problem`` stating ``baseline`` as the loss of the best constant."""
    plain = tiny_problem(signal)
    return Problem(plain.constraints, metadata={"baseline_loss": baseline})


@pytest.mark.parametrize("baseline, stalls", [(1e9, False), (1e-9, True), (None, False)])
def test_the_stall_check_lowers_the_rate_only_for_a_fit_still_near_its_baseline(baseline, stalls, caplog):
    """At ``stall_check`` a fit whose recent loss is within 2 dB of the best constant's goes on at
    0.3 of the schedule (a baseline of 1e-9 is always out of reach, 1e9 always beaten); a problem
    without a baseline is never checked."""
    from sirenkit.engine.loop import STALL_LR_FACTOR

    signal = tiny_signal()
    config = TrainConfig(steps=40, learning_rate=1e-3, compile=False, log_every=1, stall_check=20)
    problem = problem_with_baseline(signal, baseline) if baseline is not None else tiny_problem(signal)
    result = fit(build_network(small_network(signal), seed=0), problem, config, progress=False)
    assert result.stalled_at == (20 if stalls else None)
    said = [record.getMessage() for record in caplog.records if "still within" in record.getMessage()]
    assert said == (["step 20: the loss is still within 2 dB of the best constant's; going on at 0.3 of the "
                     "learning rate"] if stalls else [])
    for row in result.history:  # a row's lr is the rate its step ran at (step - 1, 0-based)
        scale = STALL_LR_FACTOR if stalls and row["step"] > 20 else 1.0
        assert row["lr"] == pytest.approx(scale * learning_rate(row["step"] - 1, config))


def test_a_run_resumed_after_its_stall_check_keeps_the_lowered_rate(tmp_path):
    signal = tiny_signal()
    network = small_network(signal)
    problem = problem_with_baseline(signal, 1e-9)
    config = TrainConfig(steps=30, compile=False, checkpoint_every=10, log_every=5, stall_check=5)
    straight = fit(build_network(network, seed=0), problem, config, network_config=network, progress=False)

    def interrupt(row):
        if row["step"] == 10:
            os.kill(os.getpid(), signals.SIGINT)

    with pytest.raises(TrainingInterrupted):
        fit(build_network(network, seed=0), problem, config, network_config=network, checkpoint_dir=tmp_path,
            progress=False, on_log=interrupt)
    resumed = fit(build_network(network, seed=1), problem, config, network_config=network, checkpoint_dir=tmp_path,
                  resume=True, progress=False)
    assert resumed.stalled_at == straight.stalled_at == 5
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_the_image_problem_states_the_loss_of_its_best_constant():
    """The baseline of the image recipe's stall check: each channel's variance in network units,
    which is the loss of a network that outputs each channel's mean."""
    from sirenkit.signals.image.kind import ImageKind

    signal = tiny_signal(channels=3)
    problem = ImageKind.describe(signal).problem(signal, batch_size=None, device=torch.device("cpu"))
    targets = signal.pixels.reshape(-1, 3).astype(np.float64) * 2 - 1
    assert problem.metadata["baseline_loss"] == pytest.approx(((targets - targets.mean(0)) ** 2).mean(), rel=1e-5)


def test_derivative_steps_are_compiled_from_half_the_points_of_value_steps(monkeypatch):
    """A point with derivatives costs several plain ones: the Laplacian recipe's 4,096 pixels and
    128 boxes (6,144 points) repay compiling, as many value-only points do not."""
    from sirenkit.engine import policy as training

    monkeypatch.setattr(training, "compiler_available", lambda device: True)
    config, cpu = TrainConfig(steps=6000), torch.device("cpu")
    assert training._use_compile(config, cpu, 6144, derivatives=True)
    assert not training._use_compile(config, cpu, 6144)
    assert training._use_compile(config, cpu, training.COMPILE_POINTS)
    assert not training._use_compile(config, cpu, 6144, derivatives=True, double_backward=True)
    assert not training._use_compile(TrainConfig(steps=100), cpu, 6144, derivatives=True)
    # a short time budget is not compiled: compiling would take much of it
    assert not training._use_compile(TrainConfig(steps=10**6, time_budget=20), cpu, training.COMPILE_POINTS)
    assert training._use_compile(TrainConfig(steps=10**6, time_budget=120), cpu, training.COMPILE_POINTS)


@pytest.mark.parametrize(("asked", "native", "warned"), [("bfloat16", False, True), ("bfloat16", True, False),
                                                         ("auto", False, False), ("float32", False, False)])
def test_bfloat16_asked_for_where_it_is_emulated_is_warned_of(monkeypatch, caplog, asked, native, warned):
    """On a CPU without AVX-512 BF16 or AMX a bfloat16 step is tens of times slower than float32
    (30 steps of camera 256²: 79 s against 1.5 s on an AVX2 EPYC): asked for there, the run says so."""
    from sirenkit.engine import policy as training

    monkeypatch.setattr(training, "native_bfloat16", lambda device: native)
    with caplog.at_level(logging.WARNING, logger="sirenkit"):
        result = fit(curve_network(), curve_problem(), TrainConfig(steps=2, precision=asked, compile=False),
                     progress=False)
    assert result.precision == (asked if asked != "auto" else "bfloat16" if native else "float32")
    emulated = [m for m in sirenkit_warnings(caplog) if "emulated" in m]
    assert len(emulated) == int(warned), emulated
    if warned:
        assert "this CPU (no AVX-512 BF16 or AMX)" in emulated[0] and "float32" in emulated[0]
