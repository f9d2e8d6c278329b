import numpy as np
import pytest
import torch

from conftest import smooth_image
from sirenkit.config import NetworkConfig, TrainConfig
from sirenkit.constraints import Constraint, PointSet, Problem
from sirenkit.image import ImageSignal
from sirenkit.network import build_network
from sirenkit.tasks.image import fit_image, image_network
from sirenkit.tasks.common import build_on_device
from sirenkit.tasks.image import image_problem
from sirenkit.training import TrainingDiverged, TrainingInterrupted, compiler_available, fit, learning_rate


def tiny_signal(height=24, width=32, channels=1) -> ImageSignal:
    pixels = smooth_image(height, width, channels)
    return ImageSignal(pixels=pixels, name="smooth", mode={1: "L", 3: "RGB"}[channels],
                       original_shape=(height, width))


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
    fitted = fit_image(signal, network=small_network(signal),
                       train=TrainConfig(steps=150, compile=False, log_every=50), progress=False)
    assert fitted.metrics["psnr"] > 40.0
    assert fitted.metrics["steps"] == 150
    psnrs = [row["psnr"] for row in fitted.history]
    assert psnrs[-1] > psnrs[0] + 20


def test_random_subsets_per_step_also_fit():
    signal = tiny_signal()
    fitted = fit_image(signal, network=small_network(signal),
                       train=TrainConfig(steps=200, batch_size=256, compile=False), progress=False)
    assert fitted.metrics["psnr"] > 35.0


def test_same_seed_same_run():
    signal = tiny_signal()
    train = TrainConfig(steps=20, batch_size=100, compile=False)
    a = fit_image(signal, network=small_network(signal), train=train, progress=False)
    b = fit_image(signal, network=small_network(signal), train=train, progress=False)
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)


def test_resume_after_k_steps_continues_the_same_run(tmp_path):
    """k steps, a checkpoint, then the rest: the same weights as an uninterrupted run."""
    signal = tiny_signal()
    network = small_network(signal)
    full = TrainConfig(steps=30, batch_size=200, compile=False, checkpoint_every=10)
    straight = fit_image(signal, network=network, train=full, out=tmp_path / "straight", progress=False)

    # run 1: interrupted right after step 10 (a Ctrl-C in the middle of the run)
    problem_signal = tiny_signal()
    model, device = build_on_device(network, full)
    problem = image_problem(problem_signal, batch_size=full.batch_size, device=device)

    def interrupt(row):
        if row["step"] >= 10:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted) as stopped:
        fit(model, problem, TrainConfig(**{**full.__dict__, "log_every": 10}), network_config=network,
            checkpoint_dir=tmp_path / "resumed", progress=False, on_log=interrupt)
    assert stopped.value.step == 10
    assert (tmp_path / "resumed" / "checkpoint.pt").exists()
    # run 2: a fresh process would rebuild everything and resume
    resumed = fit_image(problem_signal, network=network, train=full, out=tmp_path / "resumed",
                        resume=True, progress=False)
    assert resumed.metrics["steps"] == 30
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(p, q, atol=1e-6), "the resumed run drifted from the uninterrupted one"


def test_a_diverging_run_stops_with_a_message():
    signal = tiny_signal()
    with pytest.raises(TrainingDiverged, match="diverged at step"):
        fit_image(signal, network=small_network(signal, "relu"),
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


def test_compiled_and_eager_steps_agree():
    """The compiled path is the default on long runs; it must compute what the eager one does."""
    pytest.importorskip("torch._inductor")
    signal = tiny_signal(12, 12)
    network = image_network(signal, hidden_features=16, hidden_layers=2)
    runs = {}
    for compiled in (False, True):
        fitted = fit_image(signal, network=network, train=TrainConfig(steps=5, compile=compiled, log_every=1),
                           progress=False)
        runs[compiled] = fitted
    assert runs[True].metrics["compiled"] == compiler_available(torch.device("cpu"))
    losses = {c: np.array([row["loss"] for row in r.history]) for c, r in runs.items()}
    assert np.allclose(losses[True], losses[False], rtol=1e-3)
    for p, q in zip(runs[True].model.parameters(), runs[False].model.parameters()):
        assert torch.allclose(p, q, atol=1e-5)


def test_a_compiler_that_fails_falls_back_to_the_eager_step(monkeypatch, capsys):
    def broken_compile(function, *args, **kwargs):
        def fail(*a, **k):
            raise RuntimeError("no C compiler")
        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    signal = tiny_signal(12, 12)
    network = image_network(signal, hidden_features=16, hidden_layers=2)
    fallback = fit_image(signal, network=network, train=TrainConfig(steps=5, compile=True), progress=False)
    eager = fit_image(signal, network=network, train=TrainConfig(steps=5, compile=False), progress=False)
    assert fallback.metrics["compiled"] is False
    assert "running eagerly" in capsys.readouterr().err
    for p, q in zip(fallback.model.parameters(), eager.model.parameters()):
        assert torch.equal(p, q)


def test_bfloat16_steps_still_fit():
    signal = tiny_signal()
    fitted = fit_image(signal, network=small_network(signal),
                       train=TrainConfig(steps=150, compile=False, precision="bfloat16"), progress=False)
    assert fitted.metrics["psnr"] > 30.0


def test_constraints_on_one_domain_share_its_batch_and_one_evaluation(monkeypatch):
    import sirenkit.constraints as constraints

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
