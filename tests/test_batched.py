"""The batched engine (sirenkit.engine.stacked): K networks trained as one give what K separate fits give,
for an image, a Poisson and an SDF problem; each signal keeps its own clipping, stall check and
end; a problem that cannot be batched is refused."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

import sirenkit as sk
from sirenkit.engine.loop import FitResult, TrainingDiverged
from sirenkit.engine.single import fit
from sirenkit.engine.stacked import _Adam, fit_batched
from sirenkit.metrics import Metric
from sirenkit.problems.constraints import Constraint, Problem
from sirenkit.problems.domains import Box, PointSet

CONFIG = sk.TrainConfig(steps=25, learning_rate=1e-3, compile=False, precision="float32", log_every=10,
                        checkpoint_every=0, warmup_steps=3)


def network(inputs=2, outputs=1, **settings):
    settings = {"hidden_features": 24, "hidden_layers": 3, **settings}
    return sk.NetworkConfig(in_features=inputs, out_features=outputs, **settings)


def pictures(count, size=12, seed=0):
    """``count`` different smooth-and-sharp test pictures of ``size``² pixels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]
    return [np.sin(3 * rng.uniform(0.5, 2) * x + rng.uniform(0, 3)) * np.cos(2 * y) + (x * y > rng.uniform(-0.3, 0.3))
            for _ in range(count)]


def image_problem(picture, batch=None):
    size = picture.shape[0]
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    coords = torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)
    target = torch.from_numpy(picture.reshape(-1, 1)).float()
    domain = PointSet(coords, {"target": target}, batch_size=batch)
    return Problem([Constraint("image", lambda f: f.value - f.data["target"], domain)],
                   evaluate=None, metadata={"baseline_loss": float(target.var())})


def gradient_problem(picture, batch=64):
    """Poisson from gradients: the network's Jacobian against the picture's gradient."""
    size = picture.shape[0]
    gy, gx = np.gradient(picture, 2 / (size - 1))
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    coords = torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)
    gradient = torch.from_numpy(np.stack([gx, gy], -1).reshape(-1, 1, 2)).float()
    domain = PointSet(coords, {"gradient": gradient}, batch_size=batch)
    return Problem([Constraint("gradient", lambda f: (f.jacobian - f.data["gradient"]).reshape(len(f.points), -1),
                               domain, needs=("jacobian",))])


def sphere_problem(radius, batch=64):
    """An SDF of a sphere of ``radius``: zero with the normal's direction on the surface, eikonal
    in a box around it (the SDF task's terms, on a shape with a known answer)."""
    generator = torch.Generator().manual_seed(int(radius * 100))
    normals = torch.nn.functional.normalize(torch.randn(500, 3, generator=generator), dim=1)
    surface = PointSet(normals * radius, {"normal": normals}, batch_size=batch)
    free = Box([-1, -1, -1], [1, 1, 1], batch)
    return Problem([
        Constraint("surface", lambda f: f.value, surface, weight=30.0),
        Constraint("normal", lambda f: 1 - torch.nn.functional.cosine_similarity(f.jacobian[:, 0], f.data["normal"]),
                   surface, needs=("jacobian",)),
        Constraint("eikonal", lambda f: f.jacobian[:, 0].norm(dim=1) - 1, free, needs=("jacobian",)),
    ])


def separate_and_batched(config, network_config, problems):
    separate = []
    for problem in problems:
        model = sk.build_network(network_config, seed=config.seed)
        separate.append((model, fit(model, problem, config, progress=False)))
    models = [sk.build_network(network_config, seed=config.seed) for _ in problems]
    batched = fit_batched(models, problems, config, progress=False)
    return separate, models, batched


def assert_same_weights(first, second, tolerance=2e-5):
    for (name, a), b in zip(first.named_parameters(), second.parameters()):
        assert torch.allclose(a, b, atol=tolerance, rtol=tolerance), (name, float((a - b).abs().max()))


@pytest.mark.parametrize("case", ["image", "poisson", "sdf"])
def test_batched_fits_equal_separate_fits(case):
    if case == "image":
        problems, net = [image_problem(p, batch=64) for p in pictures(3)], network()
    elif case == "poisson":
        problems, net = [gradient_problem(p) for p in pictures(3, seed=1)], network()
    else:
        problems, net = [sphere_problem(r) for r in (0.3, 0.5, 0.7)], network(inputs=3)
    config = replace(CONFIG, clip_grad_norm=1.0 if case == "sdf" else None)
    separate, models, batched = separate_and_batched(config, net, problems)
    for (model, result), mine, fitted in zip(separate, models, batched):
        assert not isinstance(fitted, Exception)
        assert fitted.steps == result.steps == config.steps
        assert_same_weights(model, mine)
        assert [row["step"] for row in fitted.history] == [row["step"] for row in result.history]
        for own, batch_row in zip(result.history, fitted.history):
            assert math.isclose(own["loss"], batch_row["loss"], rel_tol=1e-4, abs_tol=1e-7)
    # the signals really differ: different weights at the end
    assert not torch.allclose(next(models[0].parameters()), next(models[1].parameters()))


def test_signals_of_different_sizes_share_a_batch_when_their_batches_match():
    problems = [image_problem(p, batch=32) for p in (pictures(1, size=10)[0], pictures(1, size=16, seed=3)[0])]
    separate, models, batched = separate_and_batched(CONFIG, network(), problems)
    for (model, _), mine in zip(separate, models):
        assert_same_weights(model, mine)


def test_each_signal_stops_on_its_own_target_and_the_others_go_on():
    problems = [image_problem(p) for p in pictures(3, size=8)]  # every pixel each step
    for problem in problems:
        batch = problem.sample(torch.Generator())
        problem.evaluate = lambda model, problem=problem, batch=batch: {
            "quality": -float(problem.loss_terms(model, batch)["image"])}
        problem.metrics = (Metric("quality", higher_is_better=True),)
    config = replace(CONFIG, steps=60, log_every=5)
    # a target the first signal reaches at step 20 of its own fit
    probe = fit(sk.build_network(network(), seed=0), problems[0], replace(config, steps=20), progress=False)
    config = replace(config, until=probe.history[-1]["quality"], until_metric="quality")
    separate = [fit(sk.build_network(network(), seed=0), problem, config, progress=False) for problem in problems]
    models = [sk.build_network(network(), seed=0) for _ in problems]
    batched = fit_batched(models, problems, config, progress=False)
    for own, mine in zip(separate, batched):
        assert not isinstance(mine, Exception)
        assert (mine.steps, mine.stopped_by) == (own.steps, own.stopped_by)
    assert len({result.steps for result in batched}) > 1  # they ended at different steps
    for own, model in zip(separate, models):
        assert_same_weights(own.model, model)


def test_a_stalled_signal_slows_alone():
    """The stall check lowers one signal's rate (a flat-noise picture stalls; a smooth one does not)."""
    rng = np.random.default_rng(0)
    flat_noise = rng.normal(0, 1, (12, 12))
    smooth = pictures(1)[0]
    problems = [image_problem(flat_noise, batch=64), image_problem(smooth, batch=64)]
    config = replace(CONFIG, steps=40, stall_check=30, learning_rate=1e-4)
    separate, models, batched = separate_and_batched(config, network(), problems)
    stalls = [result.stalled_at for _, result in separate]
    assert [r.stalled_at for r in batched] == stalls
    for (model, _), mine in zip(separate, models):
        assert_same_weights(model, mine)


def test_a_diverging_signal_fails_alone():
    """The second picture's loss rises past the limit at step 2 (checked on its own fit); in the
    batch it is reported with the same message and the others finish as on their own."""
    problems = [image_problem(p, batch=64) for p in pictures(4)]
    config = replace(CONFIG, divergence_factor=1.05, learning_rate=1e-2, warmup_steps=0)
    separate = []
    for problem in problems:
        try:
            separate.append(fit(sk.build_network(network(), seed=0), problem, config, progress=False))
        except TrainingDiverged as error:
            separate.append(error)
    assert [isinstance(result, TrainingDiverged) for result in separate] == [False, True, False, False]
    models = [sk.build_network(network(), seed=0) for _ in problems]
    batched = fit_batched(models, problems, config, progress=False)
    assert str(batched[1]) == str(separate[1])
    # the same batch without the limit: the survivors' arithmetic is unchanged by the drop
    unlimited = [sk.build_network(network(), seed=0) for _ in problems]
    fit_batched(unlimited, problems, replace(config, divergence_factor=1e4), progress=False)
    for own, mine, model, reference in zip(separate, batched, models, unlimited):
        if not isinstance(own, Exception):
            assert isinstance(mine, FitResult) and mine.steps == own.steps
            assert_same_weights(reference, model, tolerance=1e-7)
            assert_same_weights(own.model, model, tolerance=1e-3)  # 25 steps at 1e-2 amplify rounding


def test_a_residual_holding_its_own_data_is_refused():
    """A residual that reads a tensor of its own (here each signal's level), not its batch's data,
    would silently see the first signal's under vmap: the first step finds it out."""
    problems = []
    for level in (torch.tensor(0.2), torch.tensor(0.7)):
        domain = PointSet(torch.rand(50, 2) * 2 - 1)  # no per-point data
        problems.append(Problem([Constraint("level", lambda f, level=level: f.value - level, domain)]))
    models = [sk.build_network(network(), seed=0) for _ in problems]
    with pytest.raises(ValueError, match="cannot be batched"):
        fit_batched(models, problems, CONFIG, progress=False)


def test_mismatched_problems_and_networks_are_refused():
    problems = [image_problem(p, batch=64) for p in pictures(2)]
    with pytest.raises(ValueError, match="one architecture"):
        fit_batched([sk.build_network(network()), sk.build_network(network(hidden_layers=2))], problems, CONFIG)
    with pytest.raises(ValueError, match="one problem per model"):
        fit_batched([sk.build_network(network())], problems, CONFIG)
    small = [image_problem(pictures(1, size=6)[0]), image_problem(pictures(1, size=7)[0])]  # every pixel: 36 and 49
    with pytest.raises(ValueError, match="different shapes"):
        fit_batched([sk.build_network(network()) for _ in small], small, CONFIG, progress=False)


def test_adam_matches_torch_adam_slice_by_slice():
    torch.manual_seed(0)
    weights = [torch.randn(5, 4) for _ in range(3)]
    grads = [[torch.randn(5, 4) for _ in range(3)] for _ in range(6)]
    rates = torch.tensor([1e-3, 3e-4, 1e-2], dtype=torch.float64)
    stacked = {"w": torch.stack(weights).clone().requires_grad_(True)}
    mine = _Adam(stacked)
    theirs = [torch.nn.Parameter(w.clone()) for w in weights]
    optimizers = [torch.optim.Adam([p], lr=float(r)) for p, r in zip(theirs, rates)]
    for step in grads:
        stacked["w"].grad = torch.stack(step)
        mine.step(rates)
        for p, g, optimizer in zip(theirs, step, optimizers):
            p.grad = g.clone()
            optimizer.step()
    for row, p in enumerate(theirs):
        assert torch.allclose(stacked["w"][row], p, atol=1e-7, rtol=1e-6)


def test_each_signal_checkpoints_as_its_own_fit_and_resumes_alone(tmp_path):
    """A batch writes every signal's checkpoint in the single fit's format: 20 batched steps, then
    10 more of one signal alone (``fit(resume=True)``), end where 30 steps of its own fit end."""
    problems = [image_problem(p, batch=64) for p in pictures(2)]
    config = replace(CONFIG, schedule="constant", warmup_steps=0, steps=20, checkpoint_every=7)
    folders = [tmp_path / "a", tmp_path / "b"]
    net = network()
    models = [sk.build_network(net, seed=0) for _ in problems]
    fit_batched(models, problems, config, progress=False, checkpoint_dirs=folders, network_configs=[net, net])
    for folder, problem in zip(folders, problems):
        resumed = fit(sk.build_network(net, seed=0), problem, replace(config, steps=30), network_config=net,
                      checkpoint_dir=folder, resume=True, progress=False)
        whole = fit(sk.build_network(net, seed=0), problem, replace(config, steps=30), progress=False)
        assert resumed.steps == 30
        assert_same_weights(whole.model, resumed.model)
        assert [row["step"] for row in resumed.history] == [row["step"] for row in whole.history]


def test_bfloat16_where_it_is_emulated_is_warned_of_once_for_the_batch(monkeypatch, caplog):
    import logging

    from sirenkit.engine import policy as training

    monkeypatch.setattr(training, "native_bfloat16", lambda device: False)
    problems = [image_problem(p) for p in pictures(2, size=8)]
    models = [sk.build_network(network(), seed=0) for _ in problems]
    with caplog.at_level(logging.WARNING, logger="sirenkit"):
        fit_batched(models, problems, replace(CONFIG, steps=2, precision="bfloat16"), progress=False)
    assert sum("emulated" in record.getMessage() for record in caplog.records) == 1
