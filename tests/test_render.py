"""Evaluating fitted networks (sirenkit/render.py): chunked evaluation, its derivative quantities,
and images rendered at other sizes over the same area. (test_io_render.py covers the run folder
round trip, a 2×−1 rendering and the derivative maps in intensity units.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import sirenkit as sk

from conftest import smooth_image


def network(model: str = "siren", dims: int = 3, outputs: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    frequency = {"first_omega": 10.0} if model == "siren" else {}
    return sk.build_network(sk.NetworkConfig(in_features=dims, out_features=outputs, model=model,
                                             hidden_features=16, hidden_layers=2, **frequency))


@pytest.mark.parametrize("what", ["value", "gradient", "laplacian"])
def test_evaluation_in_chunks_equals_one_call(what):
    model = network()
    coords = torch.rand(1000, 3) * 2 - 1
    whole = sk.evaluate_points(model, coords, what, chunk_size=1000)
    shapes = {"value": (1000, 2), "gradient": (1000, 2, 3), "laplacian": (1000, 2)}
    assert whole.shape == shapes[what] and whole.device.type == "cpu" and not whole.requires_grad
    for chunk in (97, 1, None):
        pieces = sk.evaluate_points(model, coords, what, chunk_size=chunk)
        assert torch.allclose(pieces, whole, rtol=1e-5, atol=1e-5 * whole.abs().max().item()), chunk


@pytest.mark.parametrize("model", ["siren", "tanh"])
def test_evaluated_quantities_are_the_networks_derivatives(model):
    """What ``evaluate_points`` returns is :func:`sirenkit.networks.derivatives`' output, for a SIREN (closed
    form) and for a network that goes through autograd, although it evaluates under ``no_grad``."""
    net = network(model)
    coords = torch.rand(300, 3) * 2 - 1
    fields = sk.derivatives(net, coords, jacobian=True, laplacian=True)
    with torch.no_grad():
        assert torch.allclose(sk.evaluate_points(net, coords, "value", chunk_size=64), net(coords), atol=1e-6)
    gradient = sk.evaluate_points(net, coords, "gradient", chunk_size=64)
    laplacian = sk.evaluate_points(net, coords, "laplacian", chunk_size=64)
    assert torch.allclose(gradient, fields.jacobian.detach(), atol=1e-5 * fields.jacobian.abs().max().item())
    assert torch.allclose(laplacian, fields.laplacian.detach(), atol=1e-4 * fields.laplacian.abs().max().item())
    assert laplacian.abs().max() > 0  # a tanh network's Laplacian is not trivially zero


def test_an_unknown_quantity_is_refused():
    with pytest.raises(ValueError, match="unknown quantity 'curl'"):
        sk.evaluate_points(network(), torch.zeros(4, 3), "curl")


@pytest.fixture(scope="module")
def wide_image_run(tmp_path_factory):
    """A tiny colour PNG twice as wide as high (10 × 20), fitted for a few steps: the run folder and
    the image's pixels in [0, 1]."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("wide")
    pixels = np.round(smooth_image(10, 20, channels=3, seed=4) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(folder / "wide.png")
    network = sk.NetworkConfig(in_features=2, out_features=3, hidden_features=24, hidden_layers=2, first_omega=10.0)
    sk.fit_image(folder / "wide.png", network=network, train=sk.TrainConfig(steps=40, compile=False, device="cpu"),
                 out=folder / "run", progress=False)
    return folder / "run", pixels / 255.0


def test_the_render_at_the_original_size_is_what_the_run_measured(wide_image_run):
    out, pixels = wide_image_run
    rendered = sk.render_image(sk.load(out))
    assert rendered.shape == (10, 20, 3) and rendered.min() >= 0 and rendered.max() <= 1
    recorded = json.loads((out / "metrics.json").read_text())["psnr"]
    assert sk.psnr(rendered, pixels) == pytest.approx(recorded, abs=1e-6)


@pytest.mark.parametrize("size", [(7, 4), (12, 12), (41, 3)])
def test_a_render_at_another_size_covers_the_same_area(wide_image_run, size):
    """Whatever the size and aspect ratio asked for, the corner samples are the original's corner
    pixels: the render spans the image's own area, not the default area of its new shape."""
    out, _ = wide_image_run
    fitted = sk.load(out)
    original = sk.render_image(fitted)
    other = sk.render_image(fitted, size=size)
    width, height = size
    assert other.shape == (height, width, 3)
    for row, column in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        assert np.allclose(other[row, column], original[row, column], atol=1e-6), (row, column)
    # negative control: the default grid of a square shape reaches y = ±1, beyond this image's ±0.47,
    # where the network gives other values, so a render over the wrong area would fail the check above
    corner = sk.coordinate_grid((12, 12))[:1]
    own_corner = sk.coordinate_grid((10, 20))[:1]
    assert not torch.allclose(corner, own_corner)
    values = sk.evaluate_points(fitted.model, torch.cat([corner, own_corner]))
    assert (values[0] - values[1]).abs().max() > 1e-2


def test_rendering_a_model_that_is_not_an_image_is_refused(tmp_path):
    problem = sk.Problem([sk.Constraint("zero", lambda f: f.value, sk.Box([-1], [1], 16))])
    sk.solve(problem, sk.NetworkConfig(in_features=1, out_features=1, hidden_features=8, hidden_layers=2),
             sk.TrainConfig(steps=2, compile=False, device="cpu"), out=tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="not an image"):
        sk.render_image(sk.load(tmp_path / "run"))


@pytest.mark.parametrize("what", ["value", "gradient", "laplacian"])
def test_a_rendering_streamed_band_by_band_is_the_one_rendered_whole(wide_image_run, tmp_path, monkeypatch, what):
    """``sirenkit render`` writes the PNG a band of rows at a time (one row here), with the
    derivative map waiting for its colour scale in a temporary file: the pixels are those of the
    rendering made whole in memory, and nothing is left beside the file."""
    from PIL import Image

    import sirenkit.signals.image.kind as image_kind

    out, _ = wide_image_run
    fitted = sk.load(out)
    kind = fitted.kind
    whole, streamed = tmp_path / "whole.png", tmp_path / "streamed.png"
    kind.write_rendering(kind.render(fitted.model, size=(33, 17), what=what), whole, what=what)
    monkeypatch.setattr(image_kind, "RENDER_BAND_PIXELS", 40)  # one row of 33 pixels per band
    monkeypatch.setattr(image_kind, "MAP_IN_MEMORY_BYTES", 0)  # the map in a temporary file
    assert sk.render(fitted, streamed, size=(33, 17), what=what) == f"33×17 {what}"
    expected, got = (np.asarray(Image.open(path)).astype(int) for path in (whole, streamed))
    assert got.shape == expected.shape == ((17, 33, 3) if what != "gradient" else (17, 33))
    assert np.abs(got - expected).max() <= 1  # the streamed map is float32, the whole one float64
    assert (got == expected).mean() > 0.98
    assert sorted(p.name for p in tmp_path.iterdir()) == ["streamed.png", "whole.png"]


def test_the_colour_scale_of_a_large_map_comes_from_evenly_spaced_samples(wide_image_run, tmp_path, monkeypatch):
    from PIL import Image

    import sirenkit.signals.image.kind as image_kind

    out, _ = wide_image_run
    fitted = sk.load(out)
    sk.render(fitted, tmp_path / "all.png", size=(64, 32), what="gradient")
    monkeypatch.setattr(image_kind, "RENDER_BAND_PIXELS", 100)
    monkeypatch.setattr(image_kind, "SCALE_SAMPLES", 300)  # every 7th value
    sk.render(fitted, tmp_path / "sampled.png", size=(64, 32), what="gradient")
    exact, sampled = (np.asarray(Image.open(tmp_path / name)).astype(int) for name in ("all.png", "sampled.png"))
    assert np.abs(exact - sampled).mean() < 3 and np.median(np.abs(exact - sampled)) <= 2
