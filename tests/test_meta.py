"""Meta-learned initialisations (sirenkit.codec.meta) and the codec's files made from one: Reptile
against a random start on a family of signals, the stored set read back, the tasks, and a
``.sirk`` that codes the difference from an initialisation and decodes only where it is present."""

import copy
import dataclasses

import numpy as np
import pytest
import torch

from sirenkit.codec import meta
from sirenkit.codec.format import CodecError, read_header
from sirenkit.codec.weights import compress, decode_network, decompress, network_for_rate
from sirenkit.networks.build import build_network
from sirenkit.networks.config import NetworkConfig
from sirenkit.signals.image.data import coordinate_grid, load_image

from conftest import assert_one_line_error
from conftest import run_cli as run

NET = NetworkConfig(in_features=2, out_features=1, model="siren", hidden_features=16, hidden_layers=2,
                    first_omega=30.0, hidden_omega=30.0)


def family(count: int, size: int = 24, seed: int = 0) -> list[np.ndarray]:
    """Images that share a structure (a blob whose place and brightness vary): what an initialisation can learn."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]
    photos = []
    for _ in range(count):
        cx, cy, level = rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), rng.uniform(0.6, 0.9)
        blob = level * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.2) + 0.05
        photos.append(blob[..., None].astype(np.float32))
    return photos


def loss_after(model: torch.nn.Module, photo: np.ndarray, steps: int) -> float:
    coords = coordinate_grid(photo.shape[:2])
    targets = torch.from_numpy(photo.reshape(-1, 1)) * 2 - 1
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(steps):
        optimizer.zero_grad()
        ((model(coords) - targets) ** 2).mean().backward()
        optimizer.step()
    with torch.no_grad():
        return float(((model(coords) - targets) ** 2).mean())


@pytest.mark.parametrize("tasks_per_step", [1, 4])
def test_reptile_starts_closer_to_unseen_members_of_its_family(monkeypatch, tasks_per_step):
    monkeypatch.setattr(meta, "TASK_SIDES", (16, 24))
    learned = meta.reptile(NET, family(8), meta.MetaConfig(meta_steps=60, inner_steps=8, batch=256,
                                                           meta_rate=1.0, tasks_per_step=tasks_per_step))
    unseen = family(4, seed=1)
    for photo in unseen:
        start = loss_after(build_network(NET, seed=0), photo, 5)
        from_learned = loss_after(copy.deepcopy(learned), photo, 5)
        assert from_learned < 0.5 * start, (from_learned, start)


def test_a_set_is_stored_and_read_back_by_architecture(tmp_path, monkeypatch):
    monkeypatch.setattr(meta, "FOLDER", tmp_path)
    assert meta.widths(1, 2) == [] and meta.initialisation(NET) is None  # no set shipped in this folder
    wide = dataclasses.replace(NET, hidden_features=20)
    models = {meta.key(NET): build_network(NET, seed=3), meta.key(wide): build_network(wide, seed=4)}
    meta.save_set(models, meta.set_path(), omegas=(30.0, 30.0), note="test")
    assert meta.widths(1, 2) == [16, 20] and meta.widths(3, 2) == [] and meta.widths(1, 3) == []
    read = meta.initialisation(wide)
    assert read is not None
    for value, parameter in zip(read, models[meta.key(wide)].parameters()):
        assert torch.equal(value, parameter.detach())
    assert meta.initialisation(dataclasses.replace(NET, first_omega=60.0)) is None  # another ω0: not this set's
    assert meta.initialisation(dataclasses.replace(NET, hidden_features=18)) is None


def test_tasks_are_crops_of_the_sizes_the_codec_meets():
    rng = np.random.default_rng(0)
    photo = torch.from_numpy(np.random.default_rng(1).uniform(0, 1, (3, 900, 700)).astype(np.float32))
    for _ in range(20):
        task = meta.random_task(photo, rng)
        assert task.dtype == torch.float32 and task.shape[0] == 3
        assert meta.TASK_SIDES[0] <= max(task.shape[1:]) <= meta.TASK_SIDES[1]
        assert 0 <= task.min() and task.max() <= 1
    small = torch.zeros(1, 100, 60)
    assert max(meta.random_task(small, rng).shape[1:]) <= 100  # never enlarged
    ramp = torch.linspace(0, 1, 700).expand(1, 900, 700)  # a crop keeps the photo's content: a ramp stays a ramp
    task = meta.random_task(ramp, np.random.default_rng(3))[0]
    steps = task[:, 1:] - task[:, :-1]
    assert torch.all(steps.abs() > 0) and (torch.all(steps > 0) or torch.all(steps < 0))
    evaluated = ("astronaut", "coffee", "rocket", "ihc", "hubble", "retina", "grace_hopper", "terrier",
                 "microaneurysms")
    assert not [entry for entry in meta.TRAINING_PHOTOS if any(name in entry for name in evaluated)]
    assert all(meta.photo_path(entry).is_file() for entry in meta.TRAINING_PHOTOS)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_tasks_fitted_together_end_where_each_fitted_alone_would(optimizer):
    """The stacked fit (vmap over functional_call, one Adam over (K, ...) weights) against K plain
    fits (an nn.Module and torch.optim.Adam each) on the same pixels, drawn the same way."""
    model = build_network(NET, seed=2)
    tasks = [torch.rand(1, 9, 7, generator=torch.Generator().manual_seed(k)) for k in range(3)]
    tasks[1] = tasks[1][:, :5, :6]  # tasks of different sizes share one batch
    to_network = lambda values: values * 2 - 1
    coords, targets, counts = meta._packed(tasks, to_network)
    start = {name: value.detach().clone() for name, value in model.named_parameters()}
    together = meta.adapt_together(model, start, coords, targets, counts, steps=6, rate=1e-2, batch=16,
                                   generator=torch.Generator().manual_seed(5), optimizer=optimizer)
    draws = torch.rand(6, 3, 16, generator=torch.Generator().manual_seed(5))  # the same draws, step by step
    for k, task in enumerate(tasks):
        alone = copy.deepcopy(model)
        grid = coordinate_grid(tuple(task.shape[1:]))
        wanted = to_network(task.permute(1, 2, 0).reshape(-1, 1))
        plain = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[optimizer](alone.parameters(), lr=1e-2)
        for step in range(6):
            chosen = (draws[step, k] * len(grid)).long().clamp_max(len(grid) - 1)
            plain.zero_grad()
            ((alone(grid[chosen]) - wanted[chosen]) ** 2).mean().backward()
            plain.step()
        for name, value in alone.named_parameters():
            assert torch.allclose(together[name][k], value, atol=1e-5), name
            assert not torch.allclose(together[name][k], start[name], atol=1e-4)  # it did move


def test_the_network_for_a_rate_prefers_a_width_with_an_initialisation():
    camera = load_image("camera", size=48)
    plain = network_for_rate(camera, bpp=4.0)
    count = lambda width: sum(p.numel() for p in build_network(dataclasses.replace(plain, hidden_features=width),
                                                                 seed=0).parameters())
    near = plain.hidden_features + 1  # a few percent more parameters: taken
    assert network_for_rate(camera, bpp=4.0, preferred=[near]).hidden_features == near
    far = next(w for w in range(plain.hidden_features, 200) if count(w) > count(plain.hidden_features) * 1.4)
    assert network_for_rate(camera, bpp=4.0, preferred=[far]).hidden_features == plain.hidden_features
    # with a parameter count, never more than it
    assert network_for_rate(camera, params=count(plain.hidden_features), preferred=[near]).hidden_features \
        == plain.hidden_features


@pytest.fixture()
def shipped(tmp_path, monkeypatch):
    """A set holding an initialisation for the codec's network of camera 48² at 4 bpp (meta-learned
    on two other photos, briefly)."""
    monkeypatch.setattr(meta, "FOLDER", tmp_path / "sets")
    camera = load_image("camera", size=48)
    network = network_for_rate(camera, bpp=4.0)
    monkeypatch.setattr(meta, "TASK_SIDES", (32, 48))
    photos = [load_image(name, size=48).pixels for name in ("moon", "coins")]
    learned = meta.reptile(network, photos, meta.MetaConfig(meta_steps=10, inner_steps=4, batch=512))
    meta.save_set({meta.key(network): learned}, meta.set_path(), omegas=(network.first_omega, network.hidden_omega),
                  note="test")
    return camera, network, learned


def test_a_file_codes_the_difference_from_its_initialisation(shipped, tmp_path, monkeypatch, capsys):
    camera, network, learned = shipped
    out = tmp_path / "camera.sirk"
    done = compress(camera, out, bpp=4.0, steps=60, device="cpu", precision="float32", progress=False)
    header, _ = read_header(done.data)
    assert header.initialisation == meta.INITIALISATION_SET and header.hidden_features == network.hidden_features
    assert 8 * len(done.data) <= 4.0 * 48 * 48
    # the decoded weights are the initialisation plus each tensor's symbols times its step
    from sirenkit.codec.format import decode_symbols

    _, words = read_header(done.data)
    shapes = [tuple(p.shape) for p in learned.parameters()]
    symbols = decode_symbols(header, words, shapes)
    for parameter, base, values, code in zip(decode_network(done.data).parameters(), learned.parameters(), symbols,
                                             header.tensors):
        expected = base.detach() + torch.from_numpy(values).float() * code.step
        assert torch.allclose(parameter, expected, atol=1e-6)
    picture = decompress(out)
    assert picture.shape == (48, 48, 1)
    assert abs(done.psnr - _psnr(picture, camera.pixels)) < 0.05
    # without the initialisation, the same rate from a random start (id 0)
    plain = compress(camera, None, bpp=4.0, steps=60, device="cpu", precision="float32", progress=False,
                     initialise=False)
    assert read_header(plain.data)[0].initialisation == 0
    # a sirenkit without that initialisation refuses the file, in one line
    monkeypatch.setattr(meta, "FOLDER", tmp_path / "elsewhere")
    with pytest.raises(CodecError, match="shared initialisation 1"):
        decompress(out)
    code, _, err = run(["decompress", out, "-o", tmp_path / "x.png"], capsys)
    assert_one_line_error(code, err, "shared initialisation 1")
    assert not (tmp_path / "x.png").exists()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.round(a * 255) / 255, np.round(b * 255) / 255
    return float(10 * np.log10(1 / np.mean((a - b) ** 2)))


def test_meta_learned_start_on_camera_beats_a_random_one_at_equal_steps(shipped):
    """The point of it: from the initialisation the same few steps reach a closer fit."""
    camera, network, learned = shipped
    start = loss_after(build_network(network, seed=0), camera.pixels, 10)
    assert loss_after(copy.deepcopy(learned), camera.pixels, 10) < start
