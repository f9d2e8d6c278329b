"""The fast paths compute what the paper's plain recipe computes, and the benchmarks that time them
keep working."""

from __future__ import annotations

import inspect
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from sirenkit.engine.config import TrainConfig
from sirenkit.engine.kinds import EVALUATION_SHARE
from sirenkit.engine.policy import resolve_precision
from sirenkit.networks.build import Siren, build_network
from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.derivatives import derivatives
from sirenkit.signals.image.data import ImageSignal
from sirenkit.signals.image.fit import IMAGE_BATCH, image_train_config
from sirenkit.signals.image.kind import IMAGE_BATCH_FLOAT32

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import time_to_quality  # noqa: E402

import reference  # noqa: E402
import steps as step_bench  # noqa: E402


def paired_networks(dims: int) -> tuple[Siren, reference.PaperSiren]:
    torch.manual_seed(3)
    siren = build_network(NetworkConfig(in_features=dims, out_features=1, hidden_features=24, hidden_layers=3))
    plain = reference.PaperSiren(dims, 1, width=24, sine_layers=3).copy_weights_from(siren)
    return siren.double(), plain.double()


def sirenkit_loss(model, coords, target, source):
    fields = derivatives(model, coords, jacobian=source == "gradient", laplacian=source == "laplacian")
    predicted = {"value": fields.value, "gradient": fields.jacobian, "laplacian": fields.laplacian}[source]
    return (predicted.reshape(target.shape) - target).square().mean()


@pytest.mark.parametrize("source", ["value", "gradient", "laplacian"])
def test_sirenkit_loss_and_weight_gradients_equal_the_papers_plain_recipe(source):
    siren, plain = paired_networks(2)
    coords = torch.rand(50, 2, dtype=torch.float64) * 2 - 1
    target = torch.randn(50, 2 if source == "gradient" else 1, dtype=torch.float64)
    ours = sirenkit_loss(siren, coords, target, source)
    theirs = reference.image_loss(plain, coords, target, source)
    ours.backward()
    theirs.backward()
    assert torch.allclose(ours, theirs, rtol=1e-10)
    plain_linears = [m.linear for m in plain.net[:-1]] + [plain.net[-1]]
    def grads(module):  # a derivative loss does not depend on the output bias: no gradient there
        return [torch.zeros_like(p) if p.grad is None else p.grad for p in (module.weight, module.bias)]

    for mine, other in zip(list(siren.layers) + [siren.output], plain_linears):
        for a, b in zip(grads(mine), grads(other)):
            assert torch.allclose(a, b, rtol=1e-8, atol=1e-10)


def test_the_benchmarks_sdf_loss_on_the_fast_engine_equals_the_papers():
    siren, plain = paired_networks(3)
    generator = torch.Generator().manual_seed(0)
    normals = torch.nn.functional.normalize(torch.randn(40, 3, generator=generator, dtype=torch.float64), dim=-1)
    data = {"surface": 0.5 * normals, "normals": normals,
            "free": torch.rand(40, 3, generator=generator, dtype=torch.float64) * 2 - 1}
    ours = step_bench.sirenkit_loss("sdf")(siren, data)
    theirs = reference.sdf_loss(plain, data["surface"], data["normals"], data["free"])
    assert torch.allclose(ours, theirs, rtol=1e-10)


def test_the_first_layer_stays_float32_under_autocast():
    siren, _ = paired_networks(2)
    siren = siren.float()
    coords = torch.rand(64, 2) * 2 - 1
    exact = siren(coords)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        reduced = siren(coords)
    assert reduced.dtype == torch.bfloat16  # the hidden layers are in bfloat16
    # bfloat16 hidden layers alone cost about 2-3 significant digits, not the phase of every sine
    assert (reduced.float() - exact).abs().max() < 0.05 * exact.abs().max()
    from sirenkit.networks.build import first_layer
    with torch.autocast("cpu", dtype=torch.bfloat16):
        kept = first_layer(siren.layers[0], coords)
    assert kept.dtype == torch.float32
    assert torch.equal(kept, siren.layers[0](coords))


@pytest.fixture
def hardware(monkeypatch):
    """``hardware(native)``: a machine whose bfloat16 matrix products are native or not."""
    import sirenkit.engine.policy as policy

    return lambda native: monkeypatch.setattr(policy, "native_bfloat16", lambda device: native)


def test_precision_auto_follows_the_hardware(hardware):
    config = TrainConfig(precision="auto")
    hardware(True)
    assert resolve_precision(config, torch.device("cpu")) == "bfloat16"
    hardware(False)
    assert resolve_precision(config, torch.device("cpu")) == "float32"
    assert resolve_precision(TrainConfig(precision="bfloat16"), torch.device("cpu")) == "bfloat16"
    with pytest.raises(ValueError, match="expected float32, bfloat16 or auto"):
        TrainConfig(precision="half")


@pytest.mark.parametrize("flags, native", [
    ("fpu sse avx2 avx512f", False),  # AVX2 and AVX-512 without BF16: bfloat16 is emulated
    ("fpu sse avx2 avx512f avx512_bf16", True),
    ("fpu sse avx2 amx_tile amx_bf16", True),
    ("", False),
])
def test_native_bfloat16_on_a_cpu_is_read_from_its_flags(flags, native, monkeypatch):
    import io

    import sirenkit.engine.policy as policy

    cpuinfo = f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n"
    monkeypatch.setattr(policy, "open", lambda path: io.StringIO(cpuinfo), raising=False)
    assert policy.native_bfloat16(torch.device("cpu")) is native


@pytest.mark.parametrize("capability, native", [((7, 5), False), ((8, 0), True), ((9, 0), True)])
def test_native_bfloat16_on_a_gpu_is_ampere_on(capability, native, monkeypatch):
    import sirenkit.engine.policy as policy

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert policy.native_bfloat16(torch.device("cuda", 0)) is native


def test_precision_auto_keeps_float32_for_a_family_that_excludes_bfloat16(hardware):
    hardware(True)
    config = TrainConfig(precision="auto")
    siren = build_network(NetworkConfig(in_features=2, out_features=1, hidden_features=8, hidden_layers=1))
    gauss = build_network(NetworkConfig(in_features=2, out_features=1, hidden_features=8, hidden_layers=1,
                                        model="gauss"))
    assert resolve_precision(config, torch.device("cpu"), siren) == "bfloat16"
    assert resolve_precision(config, torch.device("cpu"), gauss) == "float32"


def image_of(height: int, width: int) -> ImageSignal:
    return ImageSignal(np.zeros((height, width, 1), np.float32), "x", "L", 8)


# The documented rule (ImageKind.train_config): 8,192 random pixels per step where bfloat16 is
# native, 4,096 in float32, every pixel when the image has no more than that.
@pytest.mark.parametrize("height, width, native, batch", [
    (32, 32, True, None), (32, 32, False, None),
    (64, 64, False, None),  # 4,096 pixels: exactly one float32 batch
    (65, 65, False, 4096),  # 4,225 pixels
    (65, 65, True, None),
    (90, 91, True, None),  # 8,190 pixels
    (91, 91, True, 8192),  # 8,281 pixels
    (256, 256, True, 8192), (256, 256, False, 4096),
])
def test_the_default_image_recipe_batch_for_stated_hardware_and_sizes(height, width, native, batch, hardware):
    hardware(native)
    recipe = image_train_config(image_of(height, width))  # precision auto, resolved on the stated hardware
    assert recipe.batch_size == batch
    assert recipe.precision == "auto" and recipe.learning_rate == 1e-3  # not the paper's 1e-4


def test_an_asked_precision_sets_the_batch_whatever_the_hardware(hardware):
    for native in (True, False):
        hardware(native)
        assert image_train_config(image_of(256, 256), precision="bfloat16").batch_size == 8192
        assert image_train_config(image_of(256, 256), precision="float32").batch_size == 4096
    assert (IMAGE_BATCH, IMAGE_BATCH_FLOAT32) == (8192, 4096)


# Evaluations at most a quarter of the steps' time, an evaluation costing a third of a step per
# batch of pixels (EVALUATION_SHARE, evaluation_interval): 25 steps, or the smallest multiple of 25
# at least side² / (3 × batch) / 0.25. For example 512² in float32: 262,144 / 12,288 / 0.25 = 85.3,
# so 100; in bfloat16 42.7, so 50.
@pytest.mark.parametrize("side, float32_every, bfloat16_every", [
    (256, 25, 25), (300, 50, 25), (512, 100, 50), (700, 175, 100), (1024, 350, 175), (2048, 1375, 700),
])
def test_large_images_are_evaluated_less_often_so_evaluations_stay_a_small_share_of_the_wait(
        side, float32_every, bfloat16_every):
    assert EVALUATION_SHARE == 0.25
    assert image_train_config(image_of(side, side), precision="float32").log_every == float32_every
    assert image_train_config(image_of(side, side), precision="bfloat16").log_every == bfloat16_every


def test_a_large_image_fit_logs_at_the_recipes_interval():
    from sirenkit.signals.image.fit import fit_image

    image = ImageSignal(np.random.default_rng(0).random((512, 512, 1), dtype=np.float32), "noise", "L", 8)
    recipe = image_train_config(image, precision="float32")
    train = replace(recipe, steps=101, time_budget=None, stall_check=0, checkpoint_every=0, compile="off")
    network = NetworkConfig(in_features=2, out_features=1, hidden_features=8, hidden_layers=1)
    fitted = fit_image(image, network=network, train=train, progress=False)
    assert [row["step"] for row in fitted.history if "psnr" in row] == [1, 100, 101]


def run_benchmark_case(loss: str, label: str, monkeypatch) -> dict:
    """One case of ``benchmarks/steps.py`` as it builds it: its loss and weight gradients, the nested
    autograd calls the loss makes, its FLOP count, and whether a step moves the weights."""
    step, count = step_bench.build_step(loss, label, 12, torch.device("cpu"))
    parts = inspect.getclosurevars(step).nonlocals  # what the step runs: runner(model, data)
    model, data = parts["model"], parts["data"]
    nested = []
    grad = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: nested.append(1) or grad(*a, **k))
    model.zero_grad(set_to_none=True)
    value = parts["runner"](model, data)
    value.backward()
    monkeypatch.setattr(torch.autograd, "grad", grad)
    gradients = [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in model.parameters()]
    before = [p.detach().clone() for p in model.parameters()]
    step()
    moved = any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    return {"loss": float(value.detach()), "gradients": gradients, "nested": len(nested), "flops": count(),
            "moved": moved}


@pytest.mark.parametrize("loss", step_bench.LOSSES)
def test_the_step_benchmark_times_sirenkits_engine_on_the_papers_loss(loss, monkeypatch):
    """What the benchmark labels "sirenkit" must take sirenkit's closed-form derivatives (no nested
    autograd: a SIREN that fell back to autograd would time the reference twice) and compute what
    the paper's recipe computes, from the same weights on the same data."""
    monkeypatch.setattr(step_bench, "SDF_POINTS", 256)  # the SDF case at 2 × 256 points, not 2 × 16,384
    reference_case = run_benchmark_case(loss, step_bench.REFERENCE, monkeypatch)
    ours = run_benchmark_case(loss, "sirenkit, eager", monkeypatch)
    assert ours["loss"] == pytest.approx(reference_case["loss"], rel=1e-5)
    assert len(ours["gradients"]) == len(reference_case["gradients"])
    for index, (mine, theirs) in enumerate(zip(ours["gradients"], reference_case["gradients"])):
        assert mine.shape == theirs.shape, index  # the same layers, in the same order
        # float32, measured 1e-6 of the largest entry
        assert (mine - theirs).abs().max() <= 1e-4 * max(theirs.abs().max().item(), 1e-12), index
    assert ours["nested"] == 0
    assert reference_case["nested"] == {"value": 0, "gradient": 1, "laplacian": 3, "sdf": 1}[loss]
    # the closed form does no more arithmetic than nested autograd; for the Laplacian, a third less
    # (measured: 0.67 of the reference's FLOPs; equal to 0.5 % for the other losses)
    assert 0 < ours["flops"] <= 1.01 * reference_case["flops"]
    if loss == "laplacian":
        assert ours["flops"] < 0.8 * reference_case["flops"]
    assert ours["moved"] and reference_case["moved"]


def test_time_to_quality_summary_and_table():
    rows = [{"step": 10 * i, "seconds": 5.0 * i, "psnr": 20.0 + 2 * i} for i in range(1, 12)]
    summary = time_to_quality.summarise(rows)
    assert summary["seconds_to_30db"] == 25.0 and summary["steps_to_40db"] == 100
    assert summary["psnr_after_60s"] == 42.0
    slow = time_to_quality.summarise([{"step": 10, "seconds": 100.0, "psnr": 25.0}])
    text = time_to_quality.table(slow, summary, budget=100.0)
    assert "> 100 s" in text and "> 4.0×" in text

