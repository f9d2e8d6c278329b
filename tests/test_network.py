import math

import pytest
import torch
from scipy import stats

from sirenkit.config import NetworkConfig
from sirenkit.network import MLP, Siren, build_network, count_parameters, nyquist_frequencies, width_for_budget


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


@pytest.mark.parametrize("model", ["siren", "relu", "relu-pe", "rff", "tanh"])
def test_every_model_maps_coordinates_to_outputs(model):
    config = NetworkConfig(in_features=2, out_features=3, model=model, hidden_features=32, hidden_layers=3)
    net = build_network(config)
    out = net(torch.rand(10, 2) * 2 - 1)
    assert out.shape == (10, 3)
    assert torch.isfinite(out).all()
    assert isinstance(net, Siren if model == "siren" else MLP)


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
