import pytest
import torch

from sirenkit.config import NetworkConfig
from sirenkit.derivatives import adjoint_derivatives, autograd_derivatives, derivatives, forward_derivatives
from sirenkit.network import Siren, build_network


def random_siren(dims: int, outputs: int, *, width: int = 32, layers: int = 3, seed: int = 0) -> Siren:
    torch.manual_seed(seed)
    net = build_network(NetworkConfig(in_features=dims, out_features=outputs, hidden_features=width,
                                      hidden_layers=layers))
    with torch.no_grad():  # random biases of the output too, so nothing is trivially zero
        net.output.bias.uniform_(-1, 1)
    return net.double()


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("outputs", [1, 3])
def test_forward_derivatives_match_nested_autograd_in_float64(dims, outputs):
    net = random_siren(dims, outputs, seed=dims * 10 + outputs)
    points = torch.rand(64, dims, dtype=torch.float64) * 2 - 1
    fast = forward_derivatives(net, points, jacobian=True, laplacian=True, hessian=True)
    reference = autograd_derivatives(net, points, jacobian=True, laplacian=True, hessian=True)
    for name in ("value", "jacobian", "laplacian", "hessian"):
        got, expected = getattr(fast, name), getattr(reference, name)
        assert got.shape == expected.shape, name
        scale = expected.abs().max().item()
        assert torch.allclose(got, expected, rtol=1e-10, atol=1e-10 * scale), name


@pytest.mark.parametrize("dims", [2, 3])
def test_each_derivative_alone_matches_autograd(dims):
    net = random_siren(dims, 2, seed=7)
    points = torch.rand(32, dims, dtype=torch.float64) * 2 - 1
    reference = autograd_derivatives(net, points, jacobian=True, laplacian=True, hessian=True)
    only_laplacian = forward_derivatives(net, points, laplacian=True)
    assert only_laplacian.jacobian is None and only_laplacian.hessian is None
    assert torch.allclose(only_laplacian.laplacian, reference.laplacian, rtol=1e-10, atol=1e-9)
    only_jacobian = forward_derivatives(net, points, jacobian=True)
    assert only_jacobian.laplacian is None
    assert torch.allclose(only_jacobian.jacobian, reference.jacobian, rtol=1e-10, atol=1e-12)
    # a Laplacian over some axes only (the spatial part of a space-time problem)
    partial = derivatives(net, points, laplacian=True, laplacian_axes=range(1, dims))
    expected = sum(reference.hessian[:, :, i, i] for i in range(1, dims))
    assert torch.allclose(partial.laplacian, expected, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("outputs", [1, 3])
def test_the_adjoint_jacobian_matches_nested_autograd_in_float64(dims, outputs):
    net = random_siren(dims, outputs, seed=dims + 5 * outputs)
    points = torch.rand(40, dims, dtype=torch.float64) * 2 - 1
    fast = adjoint_derivatives(net, points)
    reference = autograd_derivatives(net, points, jacobian=True)
    assert torch.allclose(fast.value, reference.value, rtol=1e-12, atol=1e-12)
    assert torch.allclose(fast.jacobian, reference.jacobian, rtol=1e-10, atol=1e-10 * reference.jacobian.abs().max().item())
    # the Jacobian alone takes the adjoint path by default, and the weight gradients through it agree
    def weight_gradients(compute):
        net.zero_grad()
        compute(net, points, jacobian=True).jacobian.sin().sum().backward()
        return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in net.parameters()]

    for mine, theirs in zip(weight_gradients(derivatives), weight_gradients(autograd_derivatives)):
        assert torch.allclose(mine, theirs, rtol=1e-9, atol=1e-12)


def test_weight_gradients_through_forward_derivatives_match_autograd():
    """Training differentiates the loss on derivatives with respect to the weights."""
    net = random_siren(2, 1, seed=3)
    points = torch.rand(16, 2, dtype=torch.float64) * 2 - 1

    def weight_gradients(method):
        net.zero_grad()
        fields = derivatives(net, points, jacobian=True, laplacian=True, method=method)
        loss = fields.laplacian.square().mean() + fields.jacobian.square().mean()
        loss.backward()
        return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in net.parameters()]

    for fast, reference in zip(weight_gradients("forward"), weight_gradients("autograd")):
        assert torch.allclose(fast, reference, rtol=1e-9, atol=1e-12)


def test_single_sine_layer_has_the_analytic_derivatives_of_sin():
    """y = sin(ω x): dy/dx = ω cos(ω x), d²y/dx² = −ω² sin(ω x)."""
    omega = 30.0
    net = Siren(NetworkConfig(in_features=1, out_features=1, hidden_features=1, hidden_layers=1,
                              first_omega=omega)).double()
    with torch.no_grad():
        net.layers[0].weight.fill_(1.0)
        net.layers[0].bias.zero_()
        net.output.weight.fill_(1.0)
        net.output.bias.zero_()
    x = torch.linspace(-1, 1, 101, dtype=torch.float64)[:, None]
    fields = derivatives(net, x, jacobian=True, laplacian=True)
    assert torch.allclose(fields.value, torch.sin(omega * x))
    assert torch.allclose(fields.gradient, omega * torch.cos(omega * x))
    assert torch.allclose(fields.laplacian, -(omega**2) * torch.sin(omega * x))


@pytest.mark.parametrize("model", ["relu-pe", "tanh", "rff"])
def test_baselines_use_autograd_and_agree_with_torch_func(model):
    config = NetworkConfig(in_features=2, out_features=1, model=model, hidden_features=16,
                           hidden_layers=2, pe_sidelength=32, rff_features=8)
    torch.manual_seed(0)
    net = build_network(config).double()
    points = torch.rand(8, 2, dtype=torch.float64) * 2 - 1
    fields = derivatives(net, points, jacobian=True, laplacian=True)
    single = lambda p: net(p[None])[0, 0]  # noqa: E731
    for index in range(points.shape[0]):
        hessian = torch.func.hessian(single)(points[index])
        gradient = torch.func.grad(single)(points[index])
        assert torch.allclose(fields.gradient[index], gradient, atol=1e-10)
        assert torch.allclose(fields.laplacian[index, 0], torch.trace(hessian), atol=1e-8)


def test_divergence_is_the_trace_of_the_jacobian():
    net = random_siren(3, 3, seed=5)
    points = torch.rand(10, 3, dtype=torch.float64) * 2 - 1
    fields = derivatives(net, points, jacobian=True)
    expected = fields.jacobian[:, 0, 0] + fields.jacobian[:, 1, 1] + fields.jacobian[:, 2, 2]
    assert torch.allclose(fields.divergence(), expected)


def test_no_grad_results_carry_no_graph():
    net = random_siren(2, 1)
    points = torch.rand(4, 2, dtype=torch.float64)
    with torch.no_grad():
        for method in ("forward", "autograd"):
            fields = derivatives(net, points, jacobian=True, laplacian=True, method=method)
            assert not fields.laplacian.requires_grad and not fields.jacobian.requires_grad
        assert not derivatives(net, points, jacobian=True, method="adjoint").jacobian.requires_grad


def test_bad_requests_raise_clear_errors():
    net = random_siren(2, 2)
    with pytest.raises(ValueError, match=r"expected \(N, d\) coordinates"):
        derivatives(net, torch.rand(4, 2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="laplacian_axes"):
        derivatives(net, torch.rand(4, 2, dtype=torch.float64), laplacian=True, laplacian_axes=(2,))
    relu = build_network(NetworkConfig(in_features=2, out_features=1, model="relu", hidden_features=4))
    with pytest.raises(ValueError, match="forward derivatives need a Siren"):
        derivatives(relu, torch.rand(4, 2), jacobian=True, method="forward")
    with pytest.raises(ValueError, match="Jacobian only"):
        derivatives(net, torch.rand(4, 2, dtype=torch.float64), laplacian=True, method="adjoint")
    fields = derivatives(net, torch.rand(4, 2, dtype=torch.float64), jacobian=True)
    with pytest.raises(ValueError, match="single output"):
        fields.gradient
