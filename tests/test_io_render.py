import json
import re

import numpy as np
import pytest
import torch

from sirenkit.engine.checkpoint import load_checkpoint_file
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.models import load
from sirenkit.io import atomic_write
from sirenkit.networks.derivatives import derivatives
from sirenkit.networks.evaluate import evaluate_points
from sirenkit.signals.image.data import ImageSignal, coordinate_grid
from sirenkit.signals.image.fit import fit_image, image_network
from sirenkit.signals.image.kind import ImageKind, render_image

from conftest import smooth_image


@pytest.fixture(scope="module")
def fitted_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    pixels = smooth_image(16, 24, channels=3)
    signal = ImageSignal(pixels=pixels, name="smooth", mode="RGB", original_shape=(16, 24))
    network = image_network(signal, hidden_features=32, hidden_layers=2)
    fitted = fit_image(signal, network=network, train=TrainConfig(steps=40, compile=False), out=out,
                       progress=False)
    return fitted, out


def test_run_folder_holds_the_promised_files(fitted_run):
    _, out = fitted_run
    for name in ("model.safetensors", "model.json", "config.json", "metrics.json", "history.json",
                 "reconstruction.png", "figure.png", "psnr.png", "checkpoint.safetensors"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"psnr", "ssim", "steps", "seconds", "parameters"} <= set(metrics)
    assert not list(out.glob(".*part*")), "temporary files left behind"


def test_save_load_gives_identical_output(fitted_run):
    fitted, out = fitted_run
    device = next(fitted.model.parameters()).device
    loaded = load(out, device=device)
    coords = torch.rand(100, 2, device=device) * 2 - 1
    with torch.no_grad():
        assert torch.equal(loaded.model(coords), fitted.model(coords))
    assert isinstance(loaded.kind, ImageKind)  # typed, not a dict
    assert loaded.kind.shape == (16, 24) and loaded.kind.channels == 3 and loaded.kind.mode == "RGB"
    assert loaded.metrics["psnr"] == fitted.metrics["psnr"]  # the run folder's metrics come with it
    assert load(out / "model.json").network == load(out / "model.safetensors").network


def test_render_at_the_original_size_reproduces_the_reconstruction(fitted_run):
    fitted, out = fitted_run
    from PIL import Image

    saved = np.asarray(Image.open(out / "reconstruction.png")).astype(np.float32) / 255
    assert np.abs(render_image(load(out)) - saved).max() <= 0.5 / 255 + 1e-6


def test_render_at_twice_the_size_samples_the_same_continuous_function(fitted_run):
    fitted, out = fitted_run
    loaded = load(out)
    big = render_image(loaded, size=(47, 31))  # 2× − 1: every other sample is an original pixel
    small = render_image(loaded)
    assert big.shape == (31, 47, 3)
    assert np.allclose(big[::2, ::2], small, atol=1e-5)
    # in-between samples interpolate smoothly: close to the mean of their neighbours
    between = big[1::2, ::2]
    neighbours = 0.5 * (small[:-1] + small[1:])
    assert np.abs(between - neighbours).mean() < 0.02


def test_rendered_derivatives_are_the_network_derivatives_in_intensity_units(fitted_run):
    fitted, out = fitted_run
    loaded = load(out)
    coords = coordinate_grid((16, 24), loaded.kind.extent)
    fields = derivatives(loaded.model, coords, jacobian=True, laplacian=True)
    gradient = render_image(loaded, what="gradient")
    laplacian = render_image(loaded, what="laplacian")
    assert np.allclose(gradient.reshape(-1, 3, 2), fields.jacobian.detach().numpy() / 2, atol=1e-5)
    assert np.allclose(laplacian.reshape(-1, 3), fields.laplacian.detach().numpy() / 2, rtol=1e-4, atol=1e-3)


def test_chunked_evaluation_equals_one_piece(fitted_run):
    fitted, _ = fitted_run
    coords = torch.rand(1000, 2) * 2 - 1
    whole = evaluate_points(fitted.model, coords, "laplacian", chunk_size=1000)
    pieces = evaluate_points(fitted.model, coords, "laplacian", chunk_size=97)
    assert torch.allclose(whole, pieces, atol=1e-4)


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "file.bin"

    def fail(stream):
        stream.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert list(tmp_path.iterdir()) == []


def test_corrupt_and_foreign_files_are_refused_by_name(tmp_path, fitted_run):
    from safetensors.torch import load_file, save_file

    _, out = fitted_run
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.json").write_text((out / "model.json").read_text())
    (bad / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="model.safetensors: not a readable safetensors file"):
        load(bad)
    weights = load_file(str(out / "model.safetensors"))
    save_file(weights, str(bad / "model.safetensors"))  # as written before 0.2: no description inside
    (bad / "model.json").write_text("{not json")
    with pytest.raises(ValueError, match="model.json: not valid JSON"):
        load(bad)
    (bad / "model.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not a sirenkit model"):
        load(bad)
    info = json.loads((out / "model.json").read_text())
    info["network"]["hidden_features"] = 8
    save_file(weights, str(bad / "model.safetensors"), metadata={"format": "sirenkit-model", "info": json.dumps(info)})
    (bad / "model.json").unlink()  # the weights file alone is a whole model
    with pytest.raises(ValueError, match="weights do not match the configuration"):
        load(bad)
    with pytest.raises(ValueError, match="no such file"):
        load(tmp_path / "nowhere")
    (tmp_path / "checkpoint.safetensors").write_bytes(b"\x80garbage")
    with pytest.raises(ValueError, match="checkpoint.safetensors: not a readable sirenkit checkpoint"):
        load_checkpoint_file(tmp_path / "checkpoint.safetensors")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt: not a readable sirenkit checkpoint"):
        load_checkpoint_file(tmp_path / "other.pt")
    save_file({"x": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(ValueError, match="foreign.safetensors: not a readable sirenkit checkpoint"):
        load_checkpoint_file(tmp_path / "foreign.safetensors")


def test_weights_and_description_from_different_runs_are_refused(tmp_path, fitted_run):
    """model.safetensors carries its own description: a model.json from another run beside it
    (two runs on one folder, a file copied alone) is named, never silently combined."""
    import shutil

    _, out = fitted_run
    mixed = tmp_path / "mixed"
    shutil.copytree(out, mixed)
    info = json.loads((mixed / "model.json").read_text())
    info["signal"]["shape"] = [info["signal"]["shape"][0] * 2, info["signal"]["shape"][1]]
    (mixed / "model.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="model.json: does not describe model.safetensors"):
        load(mixed)
    (mixed / "model.json").unlink()
    assert load(mixed).kind.to_json() == json.loads((out / "model.json").read_text())["signal"]


def test_written_files_get_the_permissions_open_would_give(tmp_path):
    import os

    from sirenkit.io import atomic_write_path

    mask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.bin", lambda stream: stream.write(b"x"))
        atomic_write_path(tmp_path / "b.txt", lambda path: path.write_text("x"))
    finally:
        os.umask(mask)
    for name in ("a.bin", "b.txt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


def test_a_run_folder_written_before_signal_kinds_still_loads(fitted_run, tmp_path):
    """model.json as sirenkit wrote it before kinds were typed: the same fields, now read into a spec."""
    fitted, out = fitted_run
    old = tmp_path / "old"
    old.mkdir()
    from safetensors.torch import load_file, save_file

    save_file(load_file(str(out / "model.safetensors")), str(old / "model.safetensors"))  # no description inside
    network = json.loads((out / "model.json").read_text())["network"]
    info = {"format": "sirenkit-model", "version": 1, "network": network,
            "signal": {"kind": "image", "shape": [16, 24], "channels": 3, "mode": "RGB",
                       "extent": [1.0, 0.6521739130434783], "output_scale": 2.0, "output_offset": -1.0,
                       "source": "old.png", "bit_depth": 8}}
    (old / "model.json").write_text(json.dumps(info))
    loaded = load(old)
    assert loaded.kind == ImageKind(source="old.png", shape=(16, 24), channels=3, mode="RGB",
                                    extent=(1.0, 0.6521739130434783))
    assert np.array_equal(render_image(loaded), render_image(load(out)))


@pytest.mark.parametrize("signal, message", [
    ({"kind": "hologram"}, "unknown signal kind 'hologram'"),
    ({"kind": "image", "shape": [4, 4]}, "missing fields"),
    ({"kind": "image", "shape": [4, 4], "channels": 1, "mode": "L", "extent": [1, 1], "source": "x", "colour": 1},
     "unknown fields ['colour']"),
])
def test_a_model_json_with_a_foreign_signal_is_refused_naming_the_file(fitted_run, tmp_path, signal, message):
    fitted, out = fitted_run
    info = json.loads((out / "model.json").read_text())
    info["signal"] = signal
    (tmp_path / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes())
    (tmp_path / "model.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        load(tmp_path)
    assert str(tmp_path / "model.json") in str(error.value)
