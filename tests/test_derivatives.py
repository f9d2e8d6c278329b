"""Derivatives of networks with respect to their coordinates, each checked against a reference
written here, independent of sirenkit's engines: torch.func (reverse-mode Jacobian and Hessian of
one point at a time) in float64, or the analytic derivatives of a sine."""

import pytest
import torch

import sirenkit as sk


def random_siren(dims: int, outputs: int, *, width: int = 32, layers: int = 3, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = sk.build_network(sk.NetworkConfig(in_features=dims, out_features=outputs, hidden_features=width,
                                            hidden_layers=layers))
    with torch.no_grad():  # random biases everywhere, the output's too, so nothing is trivially zero
        for name, parameter in net.named_parameters():
            if name.endswith("bias"):
                parameter.uniform_(-1, 1)
    return net.double()


def reference(net: torch.nn.Module, points: torch.Tensor) -> dict[str, torch.Tensor]:
    """Value ``(N, m)``, Jacobian ``(N, m, d)``, Hessian ``(N, m, d, d)`` and Laplacian ``(N, m)``
    (the trace of this Hessian) by torch.func, point by point; differentiable in the weights."""
    def single(point):  # (d,) -> (m,)
        return net(point[None])[0]

    hessian = torch.func.vmap(torch.func.hessian(single))(points)
    return {
        "value": net(points),
        "jacobian": torch.func.vmap(torch.func.jacrev(single))(points),
        "hessian": hessian,
        "laplacian": hessian.diagonal(dim1=-2, dim2=-1).sum(-1),
    }


def close(got: torch.Tensor, expected: torch.Tensor, rtol: float = 1e-10) -> bool:
    """Equal to ``rtol`` of the reference's largest entry (float64 round-off grows with ω0²)."""
    assert got.shape == expected.shape, (got.shape, expected.shape)
    return bool((got - expected).abs().max() <= rtol * max(expected.abs().max().item(), 1.0))


def test_the_reference_tells_a_wrong_laplacian_from_the_right_one():
    """Negative control: the tolerance used below is far tighter than a small mistake, such as a
    Laplacian that misses one axis, the cross terms of the Hessian or ω0 in one layer."""
    net = random_siren(3, 1, seed=1)
    points = torch.rand(32, 3, dtype=torch.float64) * 2 - 1
    expected = reference(net, points)
    fields = sk.forward_derivatives(net, points, laplacian=True, hessian=True)
    assert close(fields.laplacian, expected["laplacian"])
    missing_axis = expected["hessian"][:, :, 0, 0] + expected["hessian"][:, :, 1, 1]
    assert not close(missing_axis, expected["laplacian"], rtol=1e-3)
    with_cross_terms = expected["hessian"].sum(dim=(-2, -1))
    assert not close(with_cross_terms, expected["laplacian"], rtol=1e-3)
    assert not close(fields.laplacian * 1.001, expected["laplacian"], rtol=1e-5)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("outputs", [1, 3])
def test_forward_and_autograd_derivatives_match_torch_func_in_float64(dims, outputs):
    net = random_siren(dims, outputs, seed=dims * 10 + outputs)
    points = torch.rand(64, dims, dtype=torch.float64) * 2 - 1
    expected = reference(net, points)
    for engine in (sk.forward_derivatives, sk.autograd_derivatives):
        fields = engine(net, points, jacobian=True, laplacian=True, hessian=True)
        for name in ("value", "jacobian", "laplacian", "hessian"):
            assert close(getattr(fields, name), expected[name]), (engine.__name__, name)


@pytest.mark.parametrize("dims", [2, 3])
def test_each_derivative_alone_matches_torch_func(dims):
    net = random_siren(dims, 2, seed=7)
    points = torch.rand(32, dims, dtype=torch.float64) * 2 - 1
    expected = reference(net, points)
    only_laplacian = sk.forward_derivatives(net, points, laplacian=True)
    assert only_laplacian.jacobian is None and only_laplacian.hessian is None
    assert close(only_laplacian.laplacian, expected["laplacian"])
    only_jacobian = sk.forward_derivatives(net, points, jacobian=True)
    assert only_jacobian.laplacian is None
    assert close(only_jacobian.jacobian, expected["jacobian"])
    # a Laplacian over some axes only (the spatial part of a space-time problem)
    for method in ("auto", "autograd"):
        partial = sk.derivatives(net, points, laplacian=True, laplacian_axes=range(1, dims), method=method)
        spatial = sum(expected["hessian"][:, :, i, i] for i in range(1, dims))
        assert close(partial.laplacian, spatial), method
        assert not close(partial.laplacian, expected["laplacian"], rtol=1e-3)  # the time axis is left out


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("outputs", [1, 3])
def test_the_adjoint_jacobian_and_its_weight_gradients_match_torch_func(dims, outputs):
    net = random_siren(dims, outputs, seed=dims + 5 * outputs)
    points = torch.rand(40, dims, dtype=torch.float64) * 2 - 1
    expected = reference(net, points)
    fast = sk.adjoint_derivatives(net, points)
    assert close(fast.value, expected["value"], rtol=1e-12)
    assert close(fast.jacobian, expected["jacobian"])

    # the Jacobian alone takes the adjoint path by default; the weight gradients through it agree
    def weight_gradients(jacobian_of):
        net.zero_grad()
        jacobian_of().sin().sum().backward()
        return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in net.parameters()]

    mine = weight_gradients(lambda: sk.derivatives(net, points, jacobian=True).jacobian)
    theirs = weight_gradients(lambda: reference(net, points)["jacobian"])
    for index, (a, b) in enumerate(zip(mine, theirs)):
        assert close(a, b, rtol=1e-9), index


def test_weight_gradients_through_forward_derivatives_match_torch_func():
    """Training differentiates the loss on derivatives with respect to the weights."""
    net = random_siren(2, 1, seed=3)
    points = torch.rand(16, 2, dtype=torch.float64) * 2 - 1

    def weight_gradients(fields):
        net.zero_grad()
        loss = fields()["laplacian"].square().mean() + fields()["jacobian"].square().mean()
        loss.backward()
        return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in net.parameters()]

    def fast():
        result = sk.derivatives(net, points, jacobian=True, laplacian=True, method="forward")
        return {"jacobian": result.jacobian, "laplacian": result.laplacian}

    for index, (a, b) in enumerate(zip(weight_gradients(fast), weight_gradients(lambda: reference(net, points)))):
        assert close(a, b, rtol=1e-9), index


@pytest.mark.parametrize("dims", [1, 3])
def test_a_single_sine_layer_has_the_analytic_derivatives(dims):
    """y = sin(ω (w·x + b)): ∇y = ω cos(·) w, ∇²y = −ω² sin(·) w wᵀ, Δy = −ω² |w|² sin(·)."""
    omega = 30.0
    net = sk.build_network(sk.NetworkConfig(in_features=dims, out_features=1, hidden_features=1, hidden_layers=1,
                                            first_omega=omega)).double()
    w = torch.tensor([1.0, -0.5, 0.25][:dims], dtype=torch.float64)
    first_weight, first_bias, output_weight, output_bias = net.parameters()  # one sine, then y = h
    with torch.no_grad():
        first_weight.copy_(w[None])
        first_bias.fill_(0.1)
        output_weight.fill_(1.0)
        output_bias.zero_()
    x = torch.rand(101, dims, dtype=torch.float64) * 2 - 1
    phase = omega * (x @ w + 0.1)[:, None]  # (N, 1)
    fields = sk.derivatives(net, x, jacobian=True, laplacian=True, hessian=True)
    assert torch.allclose(fields.value, torch.sin(phase))
    assert torch.allclose(fields.gradient, omega * torch.cos(phase) * w)
    assert torch.allclose(fields.laplacian, -(omega**2) * w.square().sum() * torch.sin(phase))
    expected_hessian = -(omega**2) * torch.sin(phase)[:, :, None, None] * torch.outer(w, w)
    assert torch.allclose(fields.hessian, expected_hessian)
    assert torch.allclose(sk.derivatives(net, x, jacobian=True).gradient, omega * torch.cos(phase) * w)  # adjoint


@pytest.mark.parametrize("model", ["relu-pe", "tanh", "rff"])
def test_baselines_use_autograd_and_agree_with_torch_func(model):
    own = {"rff_features": 8} if model == "rff" else {}  # another family's setting is refused
    config = sk.NetworkConfig(in_features=2, out_features=1, model=model, hidden_features=16,
                              hidden_layers=2, pe_sidelength=32, **own)
    torch.manual_seed(0)
    net = sk.build_network(config).double()
    points = torch.rand(8, 2, dtype=torch.float64) * 2 - 1
    fields = sk.derivatives(net, points, jacobian=True, laplacian=True)
    single = lambda p: net(p[None])[0, 0]  # noqa: E731
    for index in range(points.shape[0]):
        hessian = torch.func.hessian(single)(points[index])
        gradient = torch.func.grad(single)(points[index])
        assert torch.allclose(fields.gradient[index], gradient, atol=1e-10)
        assert torch.allclose(fields.laplacian[index, 0], torch.trace(hessian), atol=1e-8)


def test_divergence_is_the_trace_of_the_reference_jacobian():
    net = random_siren(3, 3, seed=5)
    points = torch.rand(10, 3, dtype=torch.float64) * 2 - 1
    jacobian = reference(net, points)["jacobian"]
    divergence = sk.derivatives(net, points, jacobian=True).divergence()
    assert close(divergence, jacobian[:, 0, 0] + jacobian[:, 1, 1] + jacobian[:, 2, 2])
    assert not close(divergence, jacobian[:, 0, 0] + jacobian[:, 1, 0] + jacobian[:, 2, 0], rtol=1e-3)


def test_no_grad_results_carry_no_graph():
    net = random_siren(2, 1)
    points = torch.rand(4, 2, dtype=torch.float64)
    with torch.no_grad():
        for method in ("forward", "autograd"):
            fields = sk.derivatives(net, points, jacobian=True, laplacian=True, method=method)
            assert not fields.laplacian.requires_grad and not fields.jacobian.requires_grad
        assert not sk.derivatives(net, points, jacobian=True, method="adjoint").jacobian.requires_grad


def test_bad_requests_raise_clear_errors():
    net = random_siren(2, 2)
    with pytest.raises(ValueError, match=r"expected \(N, d\) coordinates"):
        sk.derivatives(net, torch.rand(4, 2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="laplacian_axes"):
        sk.derivatives(net, torch.rand(4, 2, dtype=torch.float64), laplacian=True, laplacian_axes=(2,))
    relu = sk.build_network(sk.NetworkConfig(in_features=2, out_features=1, model="relu", hidden_features=4))
    with pytest.raises(ValueError, match="forward.*(Siren|not available)"):
        sk.derivatives(relu, torch.rand(4, 2), jacobian=True, method="forward")
    with pytest.raises(ValueError, match="Jacobian only"):
        sk.derivatives(net, torch.rand(4, 2, dtype=torch.float64), laplacian=True, method="adjoint")
    fields = sk.derivatives(net, torch.rand(4, 2, dtype=torch.float64), jacobian=True)
    with pytest.raises(ValueError, match="single output"):
        _ = fields.gradient
