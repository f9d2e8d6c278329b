"""Plugins through entry points: the example package ``examples/plugin`` (the kind ``curve``, the
family ``sinc``) installed into a temporary folder without network access and used through the
command line with no change to sirenkit; and an entry point that fails, or that would replace a
built-in, refused with one warning while sirenkit goes on."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "plugin"

# the commands on stdin, one a line, run as `sirenkit` runs them, in one interpreter (the imports paid once)
DRIVER = """
import sys
from sirenkit.cli import main

for line in sys.stdin.read().splitlines():
    code = main(line.split())
    print(f"exit {code}: {line}", flush=True)
    if code:
        sys.exit(code)
"""


def run_python(code: str, path: Path, cwd: Path, stdin: str = "", timeout: float = 300) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter with ``path`` first on ``sys.path``; the thread budget of the tests."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), str(ROOT)]), "OMP_NUM_THREADS": "2",
           "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin installed with pip into a folder of its own (a copy is built, so that
    nothing is written into the repository); no network: no build isolation, no dependencies."""
    base = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(PLUGIN, base / "source", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = base / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(target), str(source)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return target


def write_curve(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["time", "level"])
        writer.writerows(zip(x.tolist(), y.tolist()))


def not_blank(path: Path) -> bool:
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    return pixels.std() > 5


def test_the_plugin_adds_a_kind_and_a_family_to_the_command_line(installed: Path, tmp_path: Path) -> None:
    x = np.linspace(0.0, 10.0, 40)
    write_curve(tmp_path / "data.csv", x, 100 + 20 * np.sin(x) * np.exp(-x / 5))
    folder = tmp_path / "curves"
    folder.mkdir()
    write_curve(folder / "a.csv", x, np.cos(x))
    write_curve(folder / "b.csv", x[:20], x[:20] ** 2)
    (folder / "notes.txt").write_text("not a curve")
    small = "-q --device cpu --width 32 --layers 2"
    commands = f"""
        fit curve data.csv --steps 60 --out runs/one {small}
        fit image camera --size 32 --steps 5 --model sinc --out runs/sinc {small}
        fit curve data.csv --until 2.0 --steps 3000 --out runs/until {small}
        fit curve curves --steps 20 --out runs/many {small}
        render runs/one --size 17 --out rendered.csv
        render runs/one --size 300 --out rendered.png
    """
    done = run_python(DRIVER, installed, tmp_path, stdin=textwrap.dedent(commands).strip())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not loaded" not in done.stderr

    one = tmp_path / "runs" / "one"
    metrics, history = (json.loads((one / name).read_text()) for name in ("metrics.json", "history.json"))
    errors = [row["rmse"] for row in history if "rmse" in row]
    assert errors[-1] < errors[0] / 3 and metrics["rmse"] < errors[0] / 3  # in the file's units (levels 88 to 115)
    with (one / "curve.csv").open() as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["time", "level"] and len(rows) == 1 + 40
    assert {"model.safetensors", "model.json", "metrics.json", "history.json", "curve.png"} <= set(metrics["files"])
    assert not_blank(one / "curve.png")

    assert json.loads((tmp_path / "runs" / "sinc" / "model.json").read_text())["network"]["model"] == "sinc"

    until = json.loads((tmp_path / "runs" / "until" / "metrics.json").read_text())
    assert until["stopped_by"] == "until" and until["rmse"] <= 2.0 and until["steps"] < 3000  # lower is better

    summary = json.loads((tmp_path / "runs" / "many" / "summary.json").read_text())
    rows_many = summary["rows"] if isinstance(summary, dict) else summary
    assert sorted(row["signal"] for row in rows_many) == ["a", "b"]
    assert all(row["status"] == "fitted" and row["rmse"] > 0 for row in rows_many), rows_many
    assert not_blank(tmp_path / "runs" / "many" / "contact.png")  # the kind's picture hook

    with (tmp_path / "rendered.csv").open() as file:
        rendered = list(csv.reader(file))
    assert len(rendered) == 1 + 17 and float(rendered[1][0]) == 0.0 and float(rendered[-1][0]) == 10.0
    assert not_blank(tmp_path / "rendered.png")


def test_a_curve_file_that_breaks_a_rule_is_one_line_naming_it(installed: Path, tmp_path: Path) -> None:
    files = {"ragged.csv": "x,y\n1,2\n3,4,5\n", "text.csv": "1,2\n3,four\n", "nan.csv": "1,2\n3,nan\n",
             "short.csv": "x,y\n1,2\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    code = """
import sys
from sirenkit_curve.data import load_curve
for name in sys.argv[1:]:
    try:
        load_curve(name)
    except ValueError as error:
        print(error)
"""
    done = run_python(code.replace("sys.argv[1:]", repr(list(files))), installed, tmp_path)
    lines = done.stdout.splitlines()
    assert len(lines) == 4, done.stdout + done.stderr
    assert lines[0].startswith("ragged.csv, row 3:") and lines[1].startswith("text.csv, row 2:")
    assert lines[2].startswith("nan.csv, row 2:") and lines[3].startswith("short.csv:")


BAD_PLUGINS = '''
from dataclasses import dataclass
from typing import ClassVar

from sirenkit.engine.kinds import SignalKind
from sirenkit.networks.family import NetworkFamily
from sirenkit.networks.siren import Siren


@dataclass(frozen=True, kw_only=True)
class Imposter(SignalKind):
    name: ClassVar[str] = "image"


@dataclass(frozen=True, kw_only=True)
class Good(SignalKind):
    name: ClassVar[str] = "good"


FAKE_SIREN = NetworkFamily("siren", build=Siren, summary="not the built-in")
'''

SNEAKY_MODULE = '''
from dataclasses import dataclass
from typing import ClassVar

from sirenkit.engine.kinds import SignalKind, register_kind
from sirenkit.networks.family import NetworkFamily
from sirenkit.networks.registry import register_family
from sirenkit.networks.siren import Siren

register_family(NetworkFamily("sneaky", build=Siren, summary="registered, then undone"))
register_family(NetworkFamily("relu", build=Siren, summary="not the built-in"), replace=True)


@register_kind
@dataclass(frozen=True, kw_only=True)
class Audio(SignalKind):
    name: ClassVar[str] = "audio"
'''

BAD_ENTRY_POINTS = """
[sirenkit.kinds]
missing = no_such_module_anywhere
imposter = bad_plugins:Imposter
good = bad_plugins:Good

[sirenkit.families]
fake-siren = bad_plugins:FAKE_SIREN
sneaky = sneaky_plugin
"""


def test_a_broken_entry_point_is_one_warning_and_sirenkit_goes_on(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "bad_plugins-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(BAD_ENTRY_POINTS)
    (site / "bad_plugins.py").write_text(BAD_PLUGINS)
    (site / "sneaky_plugin.py").write_text(SNEAKY_MODULE)  # its import replaces two built-ins: all of it undone
    code = """
import sirenkit
from sirenkit.networks.siren import Siren

print(sorted(sirenkit.KINDS), sirenkit.get_family("siren").build is Siren and sirenkit.get_family("relu").build is
      sirenkit.MLP, sirenkit.KINDS["image"] is sirenkit.ImageKind and sirenkit.KINDS["audio"] is sirenkit.AudioKind,
      "fake-siren" in sirenkit.FAMILIES or "sneaky" in sirenkit.FAMILIES)
model = sirenkit.build_network(sirenkit.NetworkConfig(2, 1, hidden_features=8, hidden_layers=1))
print(tuple(model(__import__("torch").zeros(3, 2)).shape))
"""
    done = run_python(code, site, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['audio', 'good', 'image', 'problem', 'sdf', 'video'] True True False",
                                        "(3, 1)"]
    warnings = [line for line in done.stderr.splitlines() if "not loaded" in line]
    assert len(warnings) == 4, done.stderr
    for name, why in (("missing", "ModuleNotFoundError"), ("imposter", "'image'"), ("fake-siren", "'siren'"),
                      ("sneaky", "'relu'")):
        assert sum(f"plugin {name} " in line and why in line for line in warnings) == 1, warnings
