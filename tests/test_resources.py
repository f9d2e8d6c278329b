"""The memory a check may plan for is the least of the machine's available memory, the room under
the process's address-space limit (`ulimit -v`) and under its control group's limit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sirenkit.resources import cgroup_room


def cgroup_tree(tmp_path, line: str, files: dict[str, str]):
    proc = tmp_path / "cgroup"
    proc.write_text(line + "\n")
    root = tmp_path / "sys"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + "\n")
    return proc, root


@pytest.mark.parametrize("line, files, room", [
    ("0::/user.slice/app", {"user.slice/app/memory.max": "1000000", "user.slice/app/memory.current": "250000"},
     750_000),
    ("0::/user.slice/app", {"user.slice/app/memory.max": "max", "user.slice/app/memory.current": "250000"}, None),
    ("0::/inside", {"memory.max": "4000", "memory.current": "5000"}, 0),  # a namespace's own root, over its limit
    ("4:memory:/docker/abc", {"memory/docker/abc/memory.limit_in_bytes": "500000000",
                              "memory/docker/abc/memory.usage_in_bytes": "100000000"}, 400_000_000),
    ("4:memory:/elsewhere", {"memory/memory.limit_in_bytes": "9223372036854771712",
                             "memory/memory.usage_in_bytes": "5"}, None),  # v1's "no limit"
    ("4:cpu,cpuacct:/x", {}, None),
])
def test_a_control_groups_limit_is_read_in_both_versions(tmp_path, line, files, room):
    proc, root = cgroup_tree(tmp_path, line, files)
    assert cgroup_room(proc, root) == room


def test_no_control_group_file_means_no_limit(tmp_path):
    assert cgroup_room(tmp_path / "missing", tmp_path) is None


def test_the_address_space_limit_bounds_what_a_check_allows():
    """Under `ulimit -v` (the process's VmSize plus 400 MB) the machine may have gigabytes free,
    yet a check plans for at most the 400 MB left, and refuses 2 GB in one message."""
    script = """
import resource
from pathlib import Path
from sirenkit import resources
lines = Path('/proc/self/status').read_text().splitlines()
size = next(int(l.split()[1]) * 1024 for l in lines if l.startswith('VmSize:'))
resource.setrlimit(resource.RLIMIT_AS, (size + 400 * 10**6, resource.getrlimit(resource.RLIMIT_AS)[1]))
room = resources.available_memory()
assert room is not None and 0 < room <= 400 * 10**6, room
try:
    resources.check_memory(2e9, "this render", "ask for less")
except ValueError as error:
    print(error)
"""
    if not sys.platform.startswith("linux"):
        pytest.skip("RLIMIT_AS and /proc/self/status are Linux's")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("this render needs ~2.0 GB; this machine has"), result.stdout
