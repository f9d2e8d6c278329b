import math

import pytest
import torch
from scipy import stats

import sirenkit as sk
from sirenkit.engine.policy import resolve_precision
from sirenkit.networks.build import MLP, Siren, build_network, count_parameters, nyquist_frequencies, width_for_budget
from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.registry import unregister_family

from conftest import smooth_image


def arcsine_ks(values: torch.Tensor) -> float:
    """Kolmogorov-Smirnov distance to the arcsine distribution on [-1, 1]."""
    return stats.kstest(values.flatten()[::17].numpy(), stats.arcsine(loc=-1, scale=2).cdf).statistic


def normal_ks(values: torch.Tensor) -> float:
    """Kolmogorov-Smirnov distance of the standardised values to N(0, 1)."""
    standard = (values - values.mean()) / values.std()
    return stats.kstest(standard.flatten()[::17].numpy(), "norm").statistic


def layer_statistics(net: Siren, points: int = 4096):
    """Per hidden layer: ``ω0 W h`` (weight part), ``ω0 (W h + b)`` and ``sin(ω0 (W h + b))``."""
    hidden = torch.rand(points, net.config.in_features) * 2 - 1
    rows = []
    with torch.no_grad():
        for omega, layer in zip(net.omegas(), net.layers):
            weighted = omega * torch.nn.functional.linear(hidden, layer.weight)
            pre = weighted + omega * layer.bias
            hidden = torch.sin(pre)
            rows.append((weighted, pre, hidden))
    return rows


def test_initialisation_statistics_hold_at_every_layer_of_a_deep_siren():
    """Paper Sec. 3.2 and supplement Sec. 1: with the SIREN initialisation, ω0 W h is N(0, 1) and
    the activations follow the arcsine distribution at every layer of a deep network."""
    torch.manual_seed(1)
    width, omega = 1024, 30.0
    net = Siren(NetworkConfig(in_features=2, out_features=1, hidden_features=width, hidden_layers=10))
    rows = layer_statistics(net)
    # the first layer spans several periods over [-1, 1]: its sines are arcsine distributed
    assert arcsine_ks(rows[0][2]) < 0.02
    for index, (weighted, pre, activation) in enumerate(rows[1:], start=1):
        assert abs(float(weighted.mean())) < 0.1, f"layer {index}"
        assert abs(float(weighted.std()) - 1.0) < 0.1, f"layer {index}: std {float(weighted.std()):.3f}"
        assert normal_ks(weighted) < 0.02, f"layer {index}: ω0 W h not normal"
        # PyTorch's default bias adds the variance of ω0 U(-1/√n, 1/√n): ω0² / (3 n)
        expected_std = (1.0 + omega**2 / (3 * width)) ** 0.5
        assert abs(float(pre.std()) / expected_std - 1.0) < 0.1, f"layer {index}: pre-activation std"
        assert normal_ks(pre) < 0.02, f"layer {index}: pre-activation not normal"
        assert arcsine_ks(activation) < 0.05, f"layer {index}: activations not arcsine"


def test_initialisation_statistics_fail_without_the_siren_initialisation():
    """The statistical checks can fail: weights too large give pre-activations far wider than
    N(0, 1) (high-frequency noise); weights too small collapse the activations towards 0."""
    torch.manual_seed(1)
    net = Siren(NetworkConfig(in_features=2, out_features=1, hidden_features=1024, hidden_layers=10))
    for layer in net.layers:
        layer.reset_parameters()  # PyTorch's Kaiming-uniform default instead of the SIREN bounds
    assert min(float(pre.std()) for _, pre, _ in layer_statistics(net)[1:]) > 5.0
    net.reset_parameters()
    with torch.no_grad():
        for layer in net.layers[1:]:
            layer.weight /= 10.0
            layer.bias /= 10.0
    assert max(arcsine_ks(activation) for _, _, activation in layer_statistics(net)[2:]) > 0.15


def test_siren_initialisation_bounds_follow_the_reference_code():
    net = Siren(NetworkConfig(in_features=3, out_features=2, hidden_features=64, hidden_layers=3))
    assert net.layers[0].weight.abs().max() <= 1 / 3
    bound = math.sqrt(6 / 64) / 30
    for layer in list(net.layers[1:]) + [net.output]:
        assert layer.weight.abs().max() <= bound
        assert layer.weight.abs().max() > 0.9 * bound  # uniform, not shrunk further
    # ω0 multiplies the bias too: sin(ω0 (W x + b))
    x = torch.zeros(1, 3)
    first = net.layers[0]
    with torch.no_grad():
        expected = torch.sin(30.0 * first.bias)
        assert torch.allclose(torch.sin(30.0 * first(x))[0], expected)


@pytest.mark.parametrize("model", ["siren", "finer"])
def test_weight_scaling_multiplies_the_hidden_weights_only(model):
    """Weight scaling (Yeom et al. 2025): from the same seed, the hidden layers' weights are α times
    the paper's; the first layer (ω0's part), every bias and the output layer are the paper's; the
    hidden pre-activations ω0 W h are N(0, α²)."""
    paper = build_network(NetworkConfig(2, 1, model=model, hidden_features=512, hidden_layers=4), seed=3)
    scaled = build_network(NetworkConfig(2, 1, model=model, hidden_features=512, hidden_layers=4,
                                         weight_scale=2.5), seed=3)
    assert torch.equal(scaled.layers[0].weight, paper.layers[0].weight)
    for ours, theirs in zip(scaled.layers[1:], paper.layers[1:]):
        assert torch.allclose(ours.weight, 2.5 * theirs.weight)
        assert torch.equal(ours.bias, theirs.bias)
    assert torch.equal(scaled.output.weight, paper.output.weight)
    if model == "siren":
        torch.manual_seed(0)
        weighted = layer_statistics(scaled)[2][0]
        assert abs(float(weighted.std()) / 2.5 - 1.0) < 0.1
    with pytest.raises(ValueError, match="weight_scale"):
        NetworkConfig(2, 1, weight_scale=0.0)
    with pytest.raises(ValueError, match="weight_scale is not a setting of a tanh network"):
        NetworkConfig(2, 1, model="tanh", weight_scale=2.0)


@pytest.mark.parametrize("model", ["siren", "relu", "relu-pe", "rff", "tanh"])
def test_every_model_maps_coordinates_to_outputs(model):
    config = NetworkConfig(in_features=2, out_features=3, model=model, hidden_features=32, hidden_layers=3)
    net = build_network(config)
    out = net(torch.rand(10, 2) * 2 - 1)
    assert out.shape == (10, 3)
    assert torch.isfinite(out).all()
    assert isinstance(net, Siren if model == "siren" else MLP)
    assert sk.family_of(net).name == model


def test_positional_encoding_matches_the_paper_nyquist_rule():
    assert nyquist_frequencies(256) == 6
    config = NetworkConfig(in_features=2, out_features=1, model="relu-pe", hidden_features=16, pe_sidelength=256)
    net = build_network(config)
    assert net.encoding.out_features == 2 * (1 + 2 * 6)
    x = torch.tensor([[0.5, -0.25]])
    encoded = net.encoding(x)
    assert torch.allclose(encoded[0, :2], x[0])
    assert torch.allclose(encoded[0, 2], torch.sin(torch.tensor(math.pi * 0.5)))


def test_random_fourier_features_rebuild_identically_from_their_seed():
    config = NetworkConfig(in_features=2, out_features=1, model="rff", hidden_features=16, rff_features=8)
    a, b = build_network(config), build_network(config)
    assert torch.equal(a.encoding.frequencies, b.encoding.frequencies)
    assert a.encoding.frequencies.std() > 3  # σ = 10


@pytest.mark.parametrize("model", ["relu", "relu-pe", "rff", "tanh"])
def test_width_for_budget_matches_the_siren_parameter_count(model):
    siren = NetworkConfig(in_features=2, out_features=3, hidden_features=128, pe_sidelength=128)
    budget = count_parameters(build_network(siren))
    other = NetworkConfig(**{**siren.__dict__, "model": model})
    width = width_for_budget(other, budget)
    matched = count_parameters(build_network(NetworkConfig(**{**other.__dict__, "hidden_features": width})))
    assert abs(matched - budget) / budget < 0.01


def test_bad_configuration_is_rejected_with_a_clear_message():
    with pytest.raises(ValueError, match="unknown model 'sine'"):
        NetworkConfig(in_features=2, out_features=1, model="sine")
    with pytest.raises(ValueError, match="hidden_features must be at least 1"):
        NetworkConfig(in_features=2, out_features=1, hidden_features=0)


# --- a family defined and registered here only, used through the public API ----------------------

class CosineNet(torch.nn.Module):
    """``cos(ω0 (W x + b))`` layers with SIREN's initialisation: a family sirenkit does not ship."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.inner = Siren(NetworkConfig(**{**config.__dict__, "model": "siren"}))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        hidden = coords
        for omega, layer in zip(self.inner.omegas(), self.inner.layers):
            hidden = torch.cos(omega * layer(hidden))
        return self.inner.output(hidden)


class CountingEngine:
    """A closed-form engine stand-in: autograd, counting its calls (the family's own engine must be
    the one generic code uses)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, model, coords, *, jacobian, laplacian, hessian, axes, method):
        self.calls += 1
        return sk.autograd_derivatives(model, coords, jacobian=jacobian, laplacian=laplacian, hessian=hessian,
                                       axes=axes)


@pytest.fixture
def cosine_family():
    engine = CountingEngine()
    family = sk.register_family(sk.NetworkFamily("cosine-test", build=CosineNet, summary="cosine layers",
                                                 derivatives=engine, compiles_with_derivatives=False,
                                                 bfloat16=False))
    yield family, engine
    unregister_family("cosine-test")


def test_a_family_registered_in_a_test_fits_an_image_and_a_poisson_problem(cosine_family, tmp_path):
    family, engine = cosine_family
    assert "cosine-test" in sk.model_names()
    image = sk.ImageSignal(pixels=smooth_image(16, 16), name="smooth", mode="L")
    network = NetworkConfig(in_features=2, out_features=1, model="cosine-test", hidden_features=32, hidden_layers=2)
    assert sk.parameter_count(network) == sk.count_parameters(sk.build_network(network))
    fitted = sk.fit_image(image, network=network, train=sk.TrainConfig(steps=150, compile=False), progress=False)
    assert fitted.metrics["psnr"] > 30 and fitted.metrics["model"] == "cosine-test"
    assert engine.calls == 0  # value-only steps never ask for derivatives
    sk.fit_image(image, network=network, train=sk.TrainConfig(steps=1, compile=False), out=tmp_path / "image",
                 progress=False)
    assert sk.load(tmp_path / "image").network.model == "cosine-test"  # saved and rebuilt by its family
    engine.calls = 0

    from sirenkit.studies.poisson import fit_poisson

    poisson = fit_poisson(image, "gradient", network=network, segment_weight=0.0,
                          train=sk.TrainConfig(steps=150, learning_rate=1e-3, compile=False), progress=False)
    assert engine.calls >= 150  # the family's engine computed every step's Jacobian
    assert poisson.metrics["psnr"] > 17  # from gradients only, 150 steps: ~20 dB measured
    assert poisson.history[-1]["psnr"] > poisson.history[0]["psnr"] + 5
    # the precision policy and the compile policy come from the family, not from a type test
    cpu = torch.device("cpu")
    assert resolve_precision(sk.TrainConfig(precision="auto"), cpu, sk.build_network(network)) == "float32"
    assert not family.compiles_derivative_steps


def test_a_family_without_second_derivatives_refuses_a_laplacian_constraint():
    sk.register_family(sk.NetworkFamily("step-test", build=CosineNet, summary="piecewise",
                                        second_derivatives=False, why_no_second_derivatives="are zero here"))
    try:
        network = sk.build_network(NetworkConfig(in_features=1, out_features=1, model="step-test", hidden_features=8))
        problem = sk.Problem([sk.Constraint("curved", lambda f: f.laplacian, sk.Box([-1], [1], 8),
                                            needs=("laplacian",))])
        with pytest.raises(ValueError, match="second derivatives of a step-test network are zero here"):
            problem.check(network)
    finally:
        unregister_family("step-test")
    with pytest.raises(ValueError, match="unknown model 'step-test'"):
        NetworkConfig(in_features=1, out_features=1, model="step-test")


def test_families_count_their_parameters_without_building_the_weights():
    for name in sk.MODEL_NAMES:
        config = NetworkConfig(in_features=3, out_features=2, model=name, hidden_features=24, hidden_layers=3)
        assert sk.parameter_count(config) == sk.count_parameters(sk.build_network(config)), name
    huge = NetworkConfig(in_features=2, out_features=1, hidden_features=100_000, hidden_layers=3)
    assert sk.parameter_count(huge) == 2 * 100_000 + 100_000 + 2 * (100_000**2 + 100_000) + 100_000 + 1


def test_a_seeded_build_leaves_the_global_random_state_alone():
    state = torch.get_rng_state()
    first = sk.build_network(NetworkConfig(in_features=2, out_features=1, hidden_features=8), seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    again = sk.build_network(NetworkConfig(in_features=2, out_features=1, hidden_features=8), seed=5)
    other = sk.build_network(NetworkConfig(in_features=2, out_features=1, hidden_features=8), seed=6)
    assert torch.equal(first.layers[0].weight, again.layers[0].weight)
    assert not torch.equal(first.layers[0].weight, other.layers[0].weight)
