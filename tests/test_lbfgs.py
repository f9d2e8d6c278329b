"""The L-BFGS phase after Adam (`TrainConfig.lbfgs_steps`): it lowers the error of a solved
equation well past what as many more Adam steps give, keeps going to its last step, leaves the
weights in float32, resumes where an interruption stopped it, and is refused where it cannot run."""

from __future__ import annotations

import math

import pytest
import torch

import sirenkit as sk

from conftest import interrupt_at

DISK = sk.Disk([0.0, 0.0], 1.0)
NETWORK = sk.NetworkConfig(in_features=2, out_features=1, hidden_features=32, hidden_layers=3, first_omega=3.0)


def poisson() -> sk.Problem:
    """−Δu = 1 in the unit disk, u = 0 on the circle: u = (1 − r²)/4."""
    return sk.Problem([
        sk.Constraint("equation", lambda f: f.laplacian + 1.0, sk.Interior(DISK, 512), needs=("laplacian",)),
        sk.dirichlet(sk.Boundary(DISK, 256), 0.0, name="circle", weight=10.0),
    ])


def error(model: torch.nn.Module) -> float:
    points = DISK.sample_interior(2000, torch.Generator().manual_seed(5))
    exact = (1 - points.square().sum(dim=1)) / 4
    with torch.no_grad():
        return float((model(points)[:, 0] - exact).norm() / exact.norm())


def train(**settings) -> sk.TrainConfig:
    return sk.TrainConfig(**{"learning_rate": 1e-3, "log_every": 10, "seed": 0, "compile": False, "threads": 1,
                             **settings})


def test_lbfgs_after_adam_beats_as_many_more_adam_steps_and_runs_to_its_end():
    adam = sk.fit(sk.build_network(NETWORK, seed=0), poisson(), train(steps=150), progress=False)
    refined = sk.fit(sk.build_network(NETWORK, seed=0), poisson(), train(steps=100, lbfgs_steps=50), progress=False)
    assert refined.steps == 150
    assert error(refined.model) < error(adam.model) / 3, (error(refined.model), error(adam.model))
    assert all(p.dtype == torch.float32 for p in refined.model.parameters())
    phase = [row for row in refined.history if row["step"] > 100]
    assert phase[0]["step"] == 101 and phase[0]["lbfgs_from"] == 100 and phase[-1]["step"] == 150
    assert all(row["lr"] == 1.0 for row in phase)
    assert phase[-1]["loss"] < phase[0]["loss"] / 10  # it kept going: no tolerance stopped it at its first steps


def test_an_interrupted_phase_resumes_on_its_points_without_more_adam_steps(tmp_path):
    config = train(steps=60, lbfgs_steps=30, checkpoint_every=5)

    with pytest.raises(sk.TrainingInterrupted) as stopped:
        sk.fit(sk.build_network(NETWORK, seed=0), poisson(), config, network_config=NETWORK, checkpoint_dir=tmp_path,
               progress=False, on_log=interrupt_at(70))
    assert stopped.value.step == 70
    resumed = sk.fit(sk.build_network(NETWORK, seed=1), poisson(), config, network_config=NETWORK,
                     checkpoint_dir=tmp_path, resume=True, progress=False)
    assert resumed.steps == 90
    after = [row for row in resumed.history if row["step"] > 70]
    assert after and all(row["lr"] == 1.0 for row in after)  # still L-BFGS, not Adam again
    assert [row["lbfgs_from"] for row in resumed.history if "lbfgs_from" in row] == [60]
    assert after[-1]["loss"] < next(row["loss"] for row in resumed.history if row["step"] == 70)


def test_the_phase_is_refused_where_it_cannot_run():
    with pytest.raises(ValueError, match="lbfgs_steps must be 0 or more"):
        sk.TrainConfig(lbfgs_steps=-1)
    with pytest.raises(ValueError, match="one network at a time, not a batched fit"):
        sk.fit_batched([sk.build_network(NETWORK, seed=k) for k in range(2)], [poisson(), poisson()],
                       train(steps=2, lbfgs_steps=2), progress=False)


def test_the_phase_ends_at_its_time_and_logs_where_it_ended():
    fitted = sk.fit(sk.build_network(NETWORK, seed=0), poisson(), train(steps=20, lbfgs_steps=10 ** 6, lbfgs_time=1.0,
                                                                      log_every=10 ** 6), progress=False)
    assert 20 < fitted.steps < 10 ** 6
    assert fitted.history[-1]["step"] == fitted.steps and fitted.history[-1]["lr"] == 1.0
    with pytest.raises(ValueError, match="lbfgs_time must be a finite number above 0"):
        sk.TrainConfig(lbfgs_time=0.0)


def test_a_diverging_phase_ends_and_keeps_the_weights_from_before():
    calls = {"n": 0}

    def equation(f):
        calls["n"] += 1
        residual = f.laplacian + 1.0
        return residual * float("nan") if calls["n"] > LATE else residual

    problem = sk.Problem([
        sk.Constraint("equation", equation, sk.Interior(DISK, 256), needs=("laplacian",)),
        sk.dirichlet(sk.Boundary(DISK, 128), 0.0, name="circle", weight=10.0),
    ])
    # 30 Adam steps, then L-BFGS until the residual turns to NaN (a call count past the first steps)
    adam_only = sk.fit(sk.build_network(NETWORK, seed=0), poisson(), train(steps=30), progress=False)
    fitted = sk.fit(sk.build_network(NETWORK, seed=0), problem, train(steps=30, lbfgs_steps=50), progress=False)
    assert 30 <= fitted.steps < 80
    assert all(torch.isfinite(p).all() for p in fitted.model.parameters())
    assert all(p.dtype == torch.float32 for p in fitted.model.parameters())
    assert error(fitted.model) < error(adam_only.model)  # what the phase gained before it went wrong is kept
    assert math.isfinite(fitted.history[-1]["loss"])


LATE = 30 + 3 * 6  # the Adam steps' calls, then a few L-BFGS steps' (each evaluates the loss about five times)
