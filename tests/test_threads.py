"""Compute threads chosen from measured step times (`sirenkit.engine.threads`): the rules, on
step times made up for each thread count, never on this machine's speed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sirenkit as sk
from sirenkit.engine import threads as threads_module
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.threads import ThreadChooser, candidate_counts, usable_cores


class Machine:
    """A made-up machine: the step time of each thread count, which a test changes as its load
    changes; records every count set."""

    def __init__(self, times: dict[int, float]) -> None:
        self.times = dict(times)
        self.threads = max(times)
        self.set: list[int] = []

    def setter(self, count: int) -> None:
        self.threads = count
        self.set.append(count)

    def run(self, chooser: ThreadChooser, steps: int) -> list[int]:
        """`steps` steps; the count each ran with."""
        used = []
        for _ in range(steps):
            used.append(self.threads)
            chooser.after_step(self.times[self.threads])
        return used


def chooser_on(machine: Machine, cores: int = 2, threads: int | str = "auto") -> ThreadChooser:
    return ThreadChooser(threads, cores=cores, setter=machine.setter)


def test_candidate_counts_halve_down_to_one():
    assert candidate_counts(1) == [1]
    assert candidate_counts(2) == [2, 1]
    assert candidate_counts(6) == [6, 3, 1]
    assert candidate_counts(16) == [16, 8, 4, 2, 1]


def test_a_quiet_machine_keeps_every_core_after_trying_fewer():
    machine = Machine({2: 0.05, 1: 0.09})
    chooser = chooser_on(machine)
    used = machine.run(chooser, 40)
    assert 1 in used  # it measured one thread
    assert used[-20:] == [2] * 20  # and went back to two
    assert chooser.summary()["threads"] == 2


def test_a_busy_machine_drops_to_the_count_that_steps_fastest():
    machine = Machine({2: 0.17, 1: 0.10})  # two threads wait for each other: slower than one
    chooser = chooser_on(machine)
    used = machine.run(chooser, 30)
    assert used[-15:] == [1] * 15
    assert chooser.summary() == {"threads": 1, "thread_choices": [1]}


def test_a_change_of_load_is_measured_again():
    machine = Machine({2: 0.05, 1: 0.09})
    chooser = chooser_on(machine)
    machine.run(chooser, 30)
    assert machine.threads == 2
    machine.times = {2: 0.17, 1: 0.10}  # another program starts: the step slows by more than DRIFT
    used = machine.run(chooser, 40)
    assert used[-10:] == [1] * 10
    machine.times = {2: 0.05, 1: 0.09}  # it ends; one thread does not drift, the periodic check finds it
    seconds = 0.0
    while seconds < threads_module.RECHECK_SECONDS + 2:
        machine.run(chooser, 1)
        seconds += machine.times[machine.threads]
    machine.run(chooser, 20)
    assert machine.threads == 2
    assert chooser.summary()["thread_choices"][-1] == 2


def test_short_steps_and_one_core_are_left_alone():
    machine = Machine({2: 0.001, 1: 0.002})
    chooser = chooser_on(machine)
    machine.run(chooser, 50)
    assert machine.set == [] or set(machine.set) == {2}
    single = Machine({1: 0.2})
    machine.run(chooser_on(single, cores=1), 20)
    assert single.set == []


def test_a_fixed_count_is_set_once_and_close_gives_the_callers_count_back():
    machine = Machine({2: 0.17, 1: 0.10, 3: 0.2})
    chooser = chooser_on(machine, threads=3)
    machine.run(chooser, 30)
    assert machine.set == [3]
    chooser.close()
    assert machine.set[-1] == torch.get_num_threads()
    assert chooser.summary() == {"threads": 3}


def test_usable_cores_reads_the_cgroup_quota(tmp_path):
    assert usable_cores(tmp_path) >= 1  # no cgroup files: the affinity mask
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert usable_cores(tmp_path) == 1  # one and a half CPUs' worth: one thread
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert usable_cores(tmp_path) >= 1
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert usable_cores(tmp_path) == 1


def test_threads_option_is_checked_and_recorded():
    with pytest.raises(ValueError, match="threads"):
        TrainConfig(threads=0)
    with pytest.raises(ValueError, match="threads"):
        TrainConfig(threads="many")  # type: ignore[arg-type]
    before = torch.get_num_threads()
    pixels = np.random.default_rng(0).random((16, 16, 1), dtype=np.float32)
    signal = sk.ImageSignal(pixels=pixels, name="noise", mode="L", original_shape=(16, 16))
    fitted = sk.fit_image(signal, train=TrainConfig(steps=3, threads=1, compile=False), frequency=30.0,
                          progress=False)
    assert fitted.metrics["threads"] == 1
    assert torch.get_num_threads() == before


def test_a_gpu_recipe_takes_every_point_that_half_the_free_memory_holds():
    from sirenkit.engine.policy import gpu_points

    cuda = torch.device("cuda")
    assert gpu_points(512 * 512, 1000, torch.device("cpu"), free_bytes=10**12) is None  # the CPU's batch holds
    assert gpu_points(512 * 512, 1000, cuda, free_bytes=10**9) is None  # 262,144 points of 1 kB in 0.5 GB
    assert gpu_points(2048 * 2048, 1000, cuda, free_bytes=10**9) == 2**18  # the largest power of two that fits
    assert gpu_points(2048 * 2048, 1000, cuda, free_bytes=0) == 1
