"""One signal on several processes (sirenkit.engine.parallel): each rank's share of the points, the
gradients averaged over ranks; two ranks under torchrun end where one rank does with both halves
of every step's points (an image, and a Poisson fit through the derivative engine). A command
that is not distributed runs on rank 0 only; a rank that dies ends the others in one line each,
its run folder's checkpoint whole."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import sirenkit as sk
from sirenkit.engine.checkpoint import CHECKPOINT_NAME, load_checkpoint_file
from sirenkit.engine.models import load
from sirenkit.engine.parallel import RankLost
from sirenkit.problems.domains import GridSamples, PointSet

from conftest import run_cli as run

TINY = ["--width", "16", "--layers", "2", "--compile", "off", "--precision", "float32", "--omega", "30", "-q"]


def test_the_ranks_shares_of_a_point_set_and_a_grid_hold_every_point_once():
    points = torch.arange(14, dtype=torch.float32).reshape(7, 2)
    whole = PointSet(points, {"target": points[:, :1] * 10})
    shares = [whole.shard(rank, 2) for rank in range(2)]
    assert [share.size for share in shares] == [4, 3]
    together = torch.cat([share.points for share in shares])
    assert sorted(together[:, 0].tolist()) == points[:, 0].tolist()
    assert all(torch.equal(share.data["target"], share.points[:, :1] * 10) for share in shares)

    grid = GridSamples((3, 4), {"target": torch.arange(12.0)[:, None]})
    full_points, full_data = grid.sample(torch.Generator())
    drawn = [grid.shard(rank, 3).sample(torch.Generator()) for rank in range(3)]
    assert [len(p) for p, _ in drawn] == [4, 4, 4]
    rows = torch.cat([data["target"] for _, data in drawn])[:, 0].long()
    assert sorted(rows.tolist()) == list(range(12))
    for (share_points, data) in drawn:  # each share's coordinates are its own rows' grid positions
        assert torch.equal(share_points, full_points[data["target"][:, 0].long()])
    # a random batch from a share draws only that share's points
    share = grid.shard(1, 3).with_batch_size(50)
    _, data = share.sample(torch.Generator().manual_seed(0))
    assert set(data["target"][:, 0].long().tolist()) <= {1, 4, 7, 10}
    # a share of a share: positions within it, not within the whole grid
    _, data = grid.shard(1, 3).shard(0, 2).sample(torch.Generator())
    assert data["target"][:, 0].long().tolist() == [1, 7]
    with pytest.raises(ValueError, match="cannot be shared by 8 processes"):
        PointSet(points).shard(0, 8)


def test_data_parallel_in_one_process_is_an_ordinary_fit():
    image = sk.ImageSignal(pixels=np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8, 1), name="ramp", mode="L")
    train = sk.TrainConfig(steps=5, compile=False, precision="float32", log_every=5)
    network = sk.NetworkConfig(in_features=2, out_features=1, hidden_features=8, hidden_layers=1)
    alone = sk.fit_image(image, network=network, train=train, frequency=None, progress=False)
    with sk.data_parallel() as group:
        assert (group.rank, group.world, group.primary) == (0, 1, True)
        together = sk.fit_image(image, network=network, train=train, frequency=None, progress=False)
    for a, b in zip(alone.model.parameters(), together.model.parameters()):
        assert torch.equal(a, b)


def test_a_failed_collective_call_is_a_rank_lost_that_names_the_reason_in_one_sentence():
    class Broken:  # what gloo raises on the survivor when its peer is killed
        ReduceOp = torch.distributed.ReduceOp

        def all_reduce(self, tensor, op=None):
            raise RuntimeError("[/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error "
                               "[127.0.0.1]:5004: Connection reset by peer. This is typically caused by a remote "
                               "worker hanging or bugs in the application. GLHF!")

    group = sk.DataParallel()
    group.rank, group.world, group._dist = 1, 2, Broken()
    with pytest.raises(RankLost, match=r"^rank 1 of 2 stopped: another rank ended or stopped answering \(Read error "
                                       r"\[127\.0\.0\.1\]:5004: Connection reset by peer\); any checkpoint") as lost:
        group.agree([1.0, 0.1], False, torch.device("cpu"))
    assert isinstance(lost.value.__cause__, RuntimeError)


def torchrun(args, env=None):
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "sirenkit", *map(str, args)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


def weights(folder):
    return [p.detach().clone().numpy() for p in load(folder).model.parameters()]


def test_one_image_on_two_ranks_ends_as_one_rank_with_both_halves(tmp_path, capsys):
    """Every pixel each step (a 16² image is below the batch size): rank r takes pixels r, r + 2,
    ...; the averaged gradient is the gradient of the whole image's loss, so the weights match one
    process fitting every pixel, up to the order of the sums."""
    y, x = np.mgrid[0:1:16j, 0:1:16j]
    iio.imwrite(tmp_path / "photo.png", ((0.5 + 0.4 * np.sin(5 * x) * np.cos(3 * y)) * 255).astype(np.uint8))
    one, two = tmp_path / "one", tmp_path / "two"
    assert run(["fit", "image", tmp_path / "photo.png", "--steps", "25", *TINY, "--out", one], capsys)[0] == 0
    done = torchrun(["fit", "image", tmp_path / "photo.png", "--steps", "25", *TINY, "--out", two])
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count(str(two)) == 1  # rank 0 reports, once
    for a, b in zip(weights(two), weights(one)):
        assert np.allclose(a, b, atol=1e-4)
    metrics = json.loads((two / "metrics.json").read_text())
    assert metrics["steps"] == 25
    assert abs(metrics["psnr"] - json.loads((one / "metrics.json").read_text())["psnr"]) < 0.05


def test_a_poisson_fit_through_the_derivative_engine_is_data_parallel_too(tmp_path, capsys):
    """The gradient constraint evaluates the network through its derivative engine (not its
    forward): the averaging still gives the one-process result. (The multiscale segments are
    turned off: they are drawn at random each step, from each rank's own stream.)"""
    y, x = np.mgrid[0:1:16j, 0:1:16j]
    iio.imwrite(tmp_path / "photo.png", ((0.5 + 0.4 * np.sin(4 * x + 2 * y)) * 255).astype(np.uint8))
    one, two = tmp_path / "one", tmp_path / "two"
    options = ["--from", "gradient", "--segments", "0", "--steps", "20", *TINY]
    code, _, err = run(["poisson", tmp_path / "photo.png", *options, "--out", one], capsys)
    assert code == 0, err
    done = torchrun(["poisson", tmp_path / "photo.png", *options, "--out", two])
    assert done.returncode == 0, done.stderr[-3000:]
    for a, b in zip(weights(two), weights(one)):
        assert np.allclose(a, b, atol=1e-4)


def test_ranks_agree_on_the_time_budget_and_stop_at_the_same_step(tmp_path):
    """A time budget is decided on the slowest rank's clock, before every step: both ranks stop at
    the same step (a rank stopping alone would leave the other waiting in its all_reduce)."""
    y, x = np.mgrid[0:1:16j, 0:1:16j]
    iio.imwrite(tmp_path / "photo.png", ((0.5 + 0.4 * np.sin(5 * x) * np.cos(3 * y)) * 255).astype(np.uint8))
    done = torchrun(["fit", "image", tmp_path / "photo.png", "--time", "1.5", *TINY, "--out", tmp_path / "two"])
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["stopped_by"] == "time" and metrics["steps"] > 1


def photo(folder):
    y, x = np.mgrid[0:1:16j, 0:1:16j]
    iio.imwrite(folder / "photo.png", ((0.5 + 0.4 * np.sin(5 * x) * np.cos(3 * y)) * 255).astype(np.uint8))
    return folder / "photo.png"


SMALL = ["--width", "8", "--layers", "1", "--compile", "off", "--precision", "float32", "--omega", "30", "-q"]


@pytest.mark.parametrize("rank", [0, 1])
def test_a_command_that_is_not_distributed_runs_on_rank_0_alone_without_a_process_group(tmp_path, capsys,
                                                                                         monkeypatch, rank):
    """As torchrun starts rank 0 and rank 1 (its environment, no process group to join: joining
    would fail here): rank 1 ends at once, rank 0 renders alone and says so."""
    assert run(["fit", "image", photo(tmp_path), "--steps", "3", *SMALL, "--out", tmp_path / "run"], capsys)[0] == 0
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", str(rank))
    code, out, err = run(["render", tmp_path / "run", "--out", tmp_path / "x.png"], capsys)
    assert code == 0, err
    assert not torch.distributed.is_initialized()
    if rank == 1:
        assert (out, err) == ("", "")
        assert not (tmp_path / "x.png").exists()
    else:
        assert err == "sirenkit: render is not distributed: it runs on rank 0 only (the other ranks exit)\n"
        assert out.count("x.png") == 1 and (tmp_path / "x.png").exists()


def test_render_under_torchrun_writes_its_file_once_on_rank_0(tmp_path, capsys):
    assert run(["fit", "image", photo(tmp_path), "--steps", "3", *SMALL, "--out", tmp_path / "run"], capsys)[0] == 0
    done = torchrun(["render", tmp_path / "run", "--out", tmp_path / "x.png"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("render is not distributed: it runs on rank 0 only") == 1, done.stderr[-3000:]
    assert done.stdout.count("x.png") == 1
    assert iio.imread(tmp_path / "x.png").shape == (16, 16)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("victim", [0, 1])
def test_a_rank_that_dies_ends_the_other_in_one_line_and_its_checkpoint_resumes(tmp_path, capsys, victim):
    """Two ranks of a data-parallel fit, started with torchrun's environment but without its agent
    (which would end the survivor itself, hiding its exit code): once rank 0 has written a
    checkpoint, one rank is killed; the other ends in one line and exit code 4, and the fit
    resumes from the checkpoint in the folder."""
    out, source = tmp_path / "run", photo(tmp_path)
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()),
                   "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}
    command = [sys.executable, "-m", "sirenkit", "fit", "image", source, "--time", "600", *SMALL, "--out", out]
    logs = [tmp_path / f"rank-{rank}.err" for rank in range(2)]
    processes = []
    for rank, log in enumerate(logs):
        with log.open("w") as stderr:
            processes.append(subprocess.Popen(command, env={**environment, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                                              stdout=subprocess.DEVNULL, stderr=stderr))
    survivor = processes[1 - victim]
    try:
        deadline = time.monotonic() + 300
        while not (out / CHECKPOINT_NAME).exists():  # written whole (renamed into place) or not at all
            assert time.monotonic() < deadline and all(p.poll() is None for p in processes), \
                [log.read_text()[-2000:] for log in logs]
            time.sleep(0.05)
        processes[victim].send_signal(signal.SIGKILL)
        survivor.wait(timeout=300)
    finally:
        for process in processes:
            process.kill()
            process.wait()
    err = logs[1 - victim].read_text()
    assert survivor.returncode == 4, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith(f"sirenkit: error: rank {1 - victim} of 2 stopped: another "
                                                     f"rank ended"), err
    assert "--resume" in errors[0]
    step = load_checkpoint_file(out / CHECKPOINT_NAME)["step"]
    assert step > 0
    code, _, err = run(["fit", "image", source, "--steps", str(step + 5), *SMALL, "--out", out, "--resume"], capsys)
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["steps"] == step + 5
