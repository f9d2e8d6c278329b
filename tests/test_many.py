"""Many signals at once (sirenkit.engine.folders): a folder of images through ``fit image``, one run folder
each plus the summary and contact sheet; the same weights as fitting each alone; a failed file
listed while the others finish; ``--resume`` finishing only what is unfinished; bad input."""

import csv
import json

import imageio.v3 as iio
import numpy as np
import pytest

import sirenkit as sk
from sirenkit.engine.models import load

from conftest import assert_one_line_error
from conftest import run_cli as run

TINY = ["--steps", "6", "--width", "16", "--layers", "2", "--compile", "off", "--precision", "float32",
        "--omega", "30", "-q"]


def photos(folder, count=3, size=10):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:1:size * 1j, 0:1:size * 1j]
    for i in range(count):
        picture = 0.5 + 0.4 * np.sin(rng.uniform(2, 6) * x + rng.uniform(0, 3)) * np.cos(3 * y)
        iio.imwrite(folder / f"photo{i}.png", (picture * 255).astype(np.uint8))
    return sorted(folder.glob("*.png"))


def weights(run):
    return [p.detach().clone() for p in load(run).model.parameters()]


def test_a_folder_is_fitted_in_batches_each_run_as_its_own_fit(tmp_path, capsys):
    files = photos(tmp_path / "in")
    out = tmp_path / "runs"
    code, printed, err = run(["fit", "image", tmp_path / "in", *TINY, "--group", "2", "--out", out], capsys)
    assert code == 0, err
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [row["signal"] for row in rows] == ["photo0", "photo1", "photo2"]
    assert all(row["status"] == "fitted" and float(row["psnr"]) > 0 and row["steps"] == "6" for row in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["signals"] == 3 and summary["failed"] == 0
    assert (out / "contact.png").stat().st_size > 0
    for file in files:
        assert (out / file.stem / "metrics.json").is_file() and (out / file.stem / "reconstruction.png").is_file()
        # the same image fitted alone ends with the same weights (batched: stacked products, same arithmetic)
        alone = tmp_path / f"alone-{file.stem}"
        assert run(["fit", "image", file, *TINY, "--out", alone], capsys)[0] == 0
        for a, b in zip(weights(out / file.stem), weights(alone)):
            assert np.allclose(a.numpy(), b.numpy(), atol=2e-5), file.stem
    code, _, err = run(["render", out / "photo1", "--size", "20", "--out", tmp_path / "big.png"], capsys)
    assert code == 0, err


def test_a_broken_file_is_listed_and_the_others_finish_then_resume_finishes_the_rest(tmp_path, capsys):
    photos(tmp_path / "in", count=2)
    (tmp_path / "in" / "broken.png").write_bytes(b"not a png at all")
    out = tmp_path / "runs"
    code, printed, err = run(["fit", "image", tmp_path / "in", *TINY, "--out", out], capsys)
    assert code == 1
    assert "1 of 3 signals failed" in err and "Traceback" not in err
    rows = {row["signal"]: row for row in json.loads((out / "summary.json").read_text())["rows"]}
    assert rows["broken"]["status"] == "failed" and "broken.png" in rows["broken"]["error"]
    assert rows["photo0"]["status"] == rows["photo1"]["status"] == "fitted"
    # an unfinished run (its checkpoint but no metrics) is continued alone; finished ones are kept
    (out / "photo1" / "metrics.json").unlink()
    before = (out / "photo0" / "model.safetensors").stat().st_mtime_ns
    (tmp_path / "in" / "broken.png").unlink()
    code, printed, err = run(["fit", "image", tmp_path / "in", *TINY, "--out", out, "--resume"], capsys)
    assert code == 0, err
    rows = {row["signal"]: row["status"] for row in json.loads((out / "summary.json").read_text())["rows"]}
    assert rows == {"photo0": "done earlier", "photo1": "resumed"}
    assert (out / "photo0" / "model.safetensors").stat().st_mtime_ns == before
    assert (out / "photo1" / "metrics.json").is_file()


def test_the_python_api_fits_many_and_groups_what_can_share_a_batch(tmp_path):
    files = photos(tmp_path / "in", count=2, size=10) + photos(tmp_path / "other", count=1, size=12)
    train = sk.TrainConfig(steps=5, compile=False, precision="float32", checkpoint_every=0)
    network = sk.NetworkConfig(in_features=2, out_features=1, hidden_features=16, hidden_layers=2)
    result = sk.fit_many([str(f) for f in files], out=tmp_path / "runs", network=network, train=train,
                         frequency=None, progress=False)
    assert [row["status"] for row in result.rows] == ["fitted"] * 3
    assert [row["signal"] for row in result.rows] == ["in-photo0", "photo1", "other-photo0"]
    assert not result.failed
    # two sizes of image: the 10² pair shares a batch, the 12² one is fitted on its own; each as alone
    for file, row in zip(files, result.rows):
        alone = sk.fit_image(str(file), network=network, train=train, frequency=None, progress=False)
        for a, b in zip(load(row["run"]).model.parameters(), alone.model.parameters()):
            assert np.allclose(a.detach().numpy(), b.detach().numpy(), atol=2e-5), row["signal"]


def test_bad_input_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run(["fit", "image", tmp_path / "empty", *TINY, "--out", tmp_path / "r"], capsys)
    assert_one_line_error(code, err, "no image files")
    code, _, err = run(["fit", "image", "camera", *TINY, "--group", "2", "--out", tmp_path / "r"], capsys)
    assert_one_line_error(code, err, "--group is for several signals")
    code, _, err = run(["fit", "image", "camera", "coins", *TINY, "--group", "0", "--out", tmp_path / "r"], capsys)
    assert code == 2 and "--group" in err
    with pytest.raises(ValueError, match="unknown kind"):
        sk.fit_many(["camera"], kind="poem", out=tmp_path / "p")


def test_a_folder_fit_asks_the_kind_for_its_files_and_its_plan(tmp_path):
    """The folder engine knows no kind: the files a folder contributes are the kind's
    ``input_suffixes``, the fit is the one the kind planned, and a kind fitted only alone
    (video: no plan, no input suffixes) is refused."""
    from sirenkit.engine.folders import expand_sources
    from sirenkit.engine.kinds import plan_function
    from sirenkit.signals.audio.fit import plan_audio
    from sirenkit.signals.image.fit import plan_image
    from sirenkit.signals.shape.fit import plan_sdf

    assert (plan_function("image"), plan_function("audio"), plan_function("sdf")) == (plan_image, plan_audio,
                                                                                      plan_sdf)
    with pytest.raises(ValueError, match="unknown kind 'video'"):
        plan_function("video")
    with pytest.raises(ValueError, match="unknown kind 'video'"):
        sk.fit_many(["clip"], kind="video", out=tmp_path / "v")
    files = photos(tmp_path / "in", count=2)
    (tmp_path / "in" / "notes.txt").write_text("not a signal")
    (tmp_path / "in" / "tone.WAV").write_bytes(b"")
    assert expand_sources([tmp_path / "in"], "image") == [str(f) for f in files]
    assert expand_sources([tmp_path / "in"], "audio") == [str(tmp_path / "in" / "tone.WAV")]
    with pytest.raises(ValueError, match="not fitted from a folder"):
        expand_sources([tmp_path / "in"], "video")
    with pytest.raises(ValueError, match="unknown kind 'poem'"):
        expand_sources([tmp_path / "in"], "poem")


def test_torchrun_shares_a_folder_between_processes_with_the_same_results(tmp_path, capsys):
    """``torchrun --nproc_per_node=2 -m sirenkit fit image FOLDER`` (gloo on CPU): signal i goes to
    rank i mod 2, rank 0 writes the summary of all, and every run ends as in one process."""
    import os
    import subprocess
    import sys

    photos(tmp_path / "in", count=3)
    alone, shared = tmp_path / "one", tmp_path / "two"
    assert run(["fit", "image", tmp_path / "in", *TINY, "--out", alone], capsys)[0] == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "sirenkit", "fit", "image", str(tmp_path / "in"), *TINY, "--out", str(shared)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads((shared / "summary.json").read_text())["rows"]
    assert [(row["signal"], row["status"]) for row in rows] == [(f"photo{i}", "fitted") for i in range(3)]
    assert not list(shared.glob(".rows-*"))  # the ranks' parts were merged and removed
    assert (shared / "contact.png").is_file()
    for i in range(3):
        for a, b in zip(weights(shared / f"photo{i}"), weights(alone / f"photo{i}")):
            assert np.allclose(a.numpy(), b.numpy(), atol=2e-5), i


def test_a_folder_of_shapes_is_fitted_in_one_batch_with_its_contact_sheet(tmp_path, capsys):
    """``fit sdf FOLDER``: two shapes (point clouds of different sizes) share a batch through the
    derivative engine (normals, eikonal term) and end as each fitted alone."""
    import trimesh

    folder = tmp_path / "shapes"
    folder.mkdir()
    for name, radius, count in (("ball", 1.0, 600), ("egg", 1.5, 900)):
        sphere = trimesh.creation.icosphere(subdivisions=2, radius=radius)
        sphere.apply_scale([1.0, 1.0, 1.3] if name == "egg" else 1.0)
        points, faces = trimesh.sample.sample_surface(sphere, count, seed=0)
        np.savetxt(folder / f"{name}.xyz", np.concatenate([points, sphere.face_normals[faces]], axis=1))
    tiny = ["--steps", "5", "--width", "16", "--layers", "2", "--compile", "off", "--precision", "float32", "-q",
            "--surface-points", "256", "--free-points", "256", "--resolution", "16"]
    out = tmp_path / "runs"
    code, printed, err = run(["fit", "sdf", folder, *tiny, "--out", out], capsys)
    assert code == 0, err
    rows = json.loads((out / "summary.json").read_text())["rows"]
    assert [(row["signal"], row["status"]) for row in rows] == [("ball", "fitted"), ("egg", "fitted")]
    assert all(row["chamfer_l1"] > 0 for row in rows)
    assert (out / "contact.png").stat().st_size > 0
    alone = tmp_path / "alone"
    assert run(["fit", "sdf", folder / "egg.xyz", *tiny, "--out", alone], capsys)[0] == 0
    for a, b in zip(weights(out / "egg"), weights(alone)):
        assert np.allclose(a.numpy(), b.numpy(), atol=1e-4)


def probe_inputs(folder, count=2):
    """``count`` small networks and the problems of ``count`` photos: what ``batching_pays`` is given."""
    import torch

    files = photos(folder, count=count)
    kind = sk.ImageKind.describe(sk.load_image(str(files[0])))
    network = sk.NetworkConfig(in_features=2, out_features=1, hidden_features=8, hidden_layers=1)
    models = [sk.build_network(network, seed=0) for _ in range(count)]
    problems = [kind.problem(sk.load_image(str(file)), batch_size=None, device=torch.device("cpu")) for file in files]
    return models, problems, sk.TrainConfig(steps=100, compile=False, precision="float32")


def timed(model, milliseconds_per_step, steps=4):
    """A probe's result whose log says each step after the first took ``milliseconds_per_step``."""
    history = [{"step": 1, "seconds": 0.5}, {"step": steps, "seconds": 0.5 + (steps - 1) * milliseconds_per_step / 1e3}]
    return sk.FitResult(model=model, steps=steps, seconds=history[-1]["seconds"], history=history)


def test_batching_pays_when_a_batched_step_costs_less_per_signal_than_one_alone(tmp_path, monkeypatch):
    """The rule's inputs, set: on a CPU the probes' step times decide (a batched step of 8 signals
    at 40 ms is 5 ms a signal, against 10 ms alone: it pays; a batched step of 2 at 100 ms is 50 ms
    a signal, against 42 ms alone: it does not). The step times are given, not measured, because a
    shared 2-core machine's timings cannot be trusted to keep a margin; the probes themselves run
    for real below, on copies."""
    import torch

    import sirenkit.engine.folders as folders
    import sirenkit.engine.stacked

    models, problems, train = probe_inputs(tmp_path / "in", count=8)
    batched_ms, alone_ms = {}, {}
    monkeypatch.setattr(sirenkit.engine.stacked, "fit_batched", lambda models, problems, probe, progress: [
        timed(model, batched_ms["step"]) for model in models])
    monkeypatch.setattr(folders, "fit", lambda model, problem, probe, progress: timed(model, alone_ms["step"]))
    batched_ms["step"], alone_ms["step"] = 40.0, 10.0
    assert folders.batching_pays(models, problems, train) is True
    batched_ms["step"], alone_ms["step"] = 100.0, 42.0
    assert folders.batching_pays(models[:2], problems[:2], train) is False
    # negative control of the per-signal division: 8 signals at 100 ms are 12.5 ms each, under 42 ms
    assert folders.batching_pays(models, problems, train) is True

    # on another device than the CPU, and with nothing to batch, it pays without measuring
    def unmeasured(*args, **kwargs):
        raise AssertionError("measured although the rule needs no measurement")

    monkeypatch.setattr(sirenkit.engine.stacked, "fit_batched", unmeasured)
    monkeypatch.setattr(folders, "fit", unmeasured)
    elsewhere = [torch.nn.Linear(2, 1, device="meta") for _ in range(2)]
    assert folders.batching_pays(elsewhere, problems[:2], train) is True
    assert folders.batching_pays(models[:1], problems[:1], train) is True


def test_without_group_a_folder_is_batched_only_where_the_probe_measured_it_faster(tmp_path, capsys, monkeypatch):
    """``batching_pays`` times a few steps both ways on copies (the models are left untouched); where
    it says no, the folder is fitted one after another, each run as before; ``--group`` skips it."""
    import torch

    import sirenkit.engine.folders as folders
    import sirenkit.engine.stacked

    models, problems, train = probe_inputs(tmp_path / "probe")
    before = [p.detach().clone() for p in models[0].parameters()]
    folders.batching_pays(models, problems, train)
    assert all(torch.equal(a, b) for a, b in zip(before, models[0].parameters()))

    photos(tmp_path / "in", count=3)
    asked = []
    original = sirenkit.engine.stacked.fit_batched
    monkeypatch.setattr(folders, "batching_pays", lambda models, problems, train: asked.append(len(models)) or False)

    def batched(*args, **kwargs):
        raise AssertionError("trained batched although the probe said no")

    monkeypatch.setattr(sirenkit.engine.stacked, "fit_batched", batched)
    code, _, err = run(["fit", "image", tmp_path / "in", *TINY, "--out", tmp_path / "runs"], capsys)
    assert code == 0, err
    assert asked == [3]
    rows = json.loads((tmp_path / "runs" / "summary.json").read_text())["rows"]
    assert [row["status"] for row in rows] == ["fitted"] * 3
    monkeypatch.setattr(sirenkit.engine.stacked, "fit_batched", original)
    asked.clear()
    code, _, err = run(["fit", "image", tmp_path / "in", *TINY, "--group", "3", "--out", tmp_path / "grouped"], capsys)
    assert code == 0 and asked == [], err


def test_a_folder_is_prepared_a_group_at_a_time_and_each_fit_released(tmp_path, capsys, monkeypatch):
    """A large folder is not held in memory whole: each group trains as soon as it is prepared
    (at most ``--group`` signals wait), and a finished fit's network and data are let go."""
    import gc
    import weakref

    import sirenkit.engine.folders as folders

    photos(tmp_path / "in", count=5)
    prepared, seen, alive = [], [], []
    original_prepare, original_train = folders.prepare, folders._train

    def prepare(plan):
        made = original_prepare(plan)
        prepared.append(weakref.ref(made.model))
        return made

    def train(batch, progress):
        seen.append((len(prepared), len(batch)))
        gc.collect()
        alive.append(sum(ref() is not None for ref in prepared))
        return original_train(batch, progress)

    monkeypatch.setattr(folders, "prepare", prepare)
    monkeypatch.setattr(folders, "_train", train)
    code, _, err = run(["fit", "image", tmp_path / "in", *TINY, "--group", "2", "--out", tmp_path / "runs"], capsys)
    assert code == 0, err
    assert seen == [(2, 2), (4, 2), (5, 1)]  # prepared, then trained, two by two (all at once before: 5, 5, 5)
    assert alive == [2, 2, 1]  # the fits of earlier groups were released
    rows = json.loads((tmp_path / "runs" / "summary.json").read_text())["rows"]
    assert [row["status"] for row in rows] == ["fitted"] * 5 and all(row["psnr"] > 0 for row in rows)


def test_signals_of_many_shapes_wait_no_more_than_a_group(tmp_path, monkeypatch):
    """Fits that cannot share a batch (images of different sizes, full batches) do not pile up
    waiting for partners: once more wait than a group holds, the largest waiting set is trained."""
    import sirenkit.engine.folders as folders

    files = [photos(tmp_path / f"in{i}", count=1, size=size)[0] for i, size in enumerate((8, 9, 8, 10, 11, 12))]
    trained = []
    original = folders._train
    monkeypatch.setattr(folders, "_train",
                        lambda batch, progress: trained.append(len(batch)) or original(batch, progress))
    train = sk.TrainConfig(steps=3, compile=False, precision="float32", checkpoint_every=0)
    network = sk.NetworkConfig(in_features=2, out_features=1, hidden_features=8, hidden_layers=1)
    result = sk.fit_many([str(f) for f in files], out=tmp_path / "runs", network=network, train=train, group=3,
                         frequency=None, progress=False)
    assert [row["status"] for row in result.rows] == ["fitted"] * 6
    # the 10² photo makes four waiting: the two 8² ones go first, together; then one at a time
    assert trained == [2, 1, 1, 1, 1]


def test_the_contact_sheet_holds_each_signal_shrunk():
    """Photos are shrunk (anti-aliased) to the sheet's tile and sounds to their envelope as they
    are read: the sheet's memory does not grow with the signals' size."""
    from sirenkit.figures import PREVIEW_SIDE, envelope, thumbnail

    rng = np.random.default_rng(0)
    photo = rng.uniform(0, 1, (1000, 600, 3))
    small = thumbnail(photo)
    assert small.shape == (PREVIEW_SIDE, round(600 * PREVIEW_SIDE / 1000), 3) and small.dtype == np.float32
    assert abs(small.mean() - photo.mean()) < 1e-3 and small.std() < photo.std() / 3  # averaged, not picked
    assert thumbnail(photo[:100, :50]).shape == (100, 50, 3)  # a small one is kept as it is
    sound = np.sin(np.linspace(0, 2000, 441_000)) * np.linspace(0, 1, 441_000)
    drawn = envelope(sound)
    assert len(drawn) == 2 * PREVIEW_SIDE
    assert drawn.max() == np.float32(sound.max()) and drawn.min() == np.float32(sound.min())
    assert np.allclose(drawn[1::2], [part.max() for part in np.array_split(sound, PREVIEW_SIDE)], atol=1e-6)
    assert np.array_equal(envelope(sound[:100]), sound[:100].astype(np.float32))
