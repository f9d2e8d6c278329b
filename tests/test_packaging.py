"""Packaging: ``python -m build`` makes a wheel and an sdist of the working tree that hold every
module and data file of the package, carry the version written in ``sirenkit.__version__`` and the
extras, and that, installed on their own (``pip install --no-deps --target``, first on the path, run
outside the repository), fit an image from the command line.

The heavy dependencies (PyTorch, ...) come from this environment rather than from a download: the
installed copy of sirenkit is put ahead of everything on ``PYTHONPATH``, and each run checks that
``sirenkit.__file__`` lies in it, not in the repository that this environment installs in editable
mode."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import sirenkit

from conftest import running_in_ci

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sirenkit"
VERSION = sirenkit.__version__


def package_files() -> set[str]:
    """Every file of the package in the working tree, as ``sirenkit/...`` paths (no bytecode)."""
    return {path.relative_to(ROOT).as_posix() for path in PACKAGE.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo")
            and not path.name.startswith(".")}


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, command))}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """A wheel and an sdist of a copy of the working tree (the build writes its build/ and
    .egg-info beside the sources: into the copy, not the repository)."""
    if importlib.util.find_spec("build") is None:
        message = "the build package is not installed: pip install -e '.[test]'"
        if running_in_ci():
            pytest.fail(f"{message} (CI is set: the package must build)", pytrace=False)
        pytest.skip(message)
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / "sirenkit", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # --no-isolation: the build backend (setuptools) comes from this environment, no download
    run([sys.executable, "-m", "build", "--wheel", "--sdist", "--no-isolation", "--outdir", str(tmp / "dist"),
         str(source)], cwd=tmp)
    return tmp / "dist"


def only(folder: Path, pattern: str) -> Path:
    found = list(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def test_the_wheel_holds_the_package_its_version_extras_and_command(dist):
    wheel = only(dist, f"sirenkit-{VERSION}-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"sirenkit-{VERSION}.dist-info"
        metadata = archive.read(f"{info}/METADATA").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    missing = package_files() - names
    assert not missing, f"the wheel lacks {sorted(missing)}"
    assert {"sirenkit/__init__.py", "sirenkit/__main__.py", "sirenkit/cli/__init__.py",
            "sirenkit/signals/image/fit.py", "sirenkit/signals/shape/kind.py",
            "sirenkit/networks/siren.py", "sirenkit/studies/examples/wave.py"} <= names
    assert not any(name.startswith(("tests/", "docs/", "benchmarks/")) for name in names), names
    assert f"\nVersion: {VERSION}\n" in metadata
    for extra in ("test", "docs", "tensorboard"):
        assert f"\nProvides-Extra: {extra}\n" in metadata, extra
    assert 'Requires-Dist: tensorboard>=2.14; extra == "tensorboard"' in metadata
    assert "sirenkit = sirenkit.cli:run" in entry_points


def test_the_sdist_holds_the_sources(dist):
    sdist = only(dist, f"sirenkit-{VERSION}.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for name in ("pyproject.toml", "README.md", "PKG-INFO", "sirenkit/__init__.py", "sirenkit/cli/__init__.py"):
        assert name in names, name
    missing = package_files() - names
    assert not missing, f"the sdist lacks {sorted(missing)}"


@pytest.mark.parametrize("form", ["wheel", "sdist"])
def test_the_installed_package_fits_an_image_from_the_command_line(dist, form, tmp_path):
    archive = only(dist, "*.whl" if form == "wheel" else "*.tar.gz")
    site = tmp_path / "site"
    run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-compile",
         "--disable-pip-version-check", "--target", str(site), str(archive)], cwd=tmp_path)
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1", "MPLCONFIGDIR": str(tmp_path / "mpl")}

    where = json.loads(run([sys.executable, "-c", "import json, sirenkit; "
                            "print(json.dumps([sirenkit.__file__, sirenkit.__version__]))"], cwd=tmp_path, env=env))
    assert Path(where[0]).resolve().is_relative_to(site.resolve()), f"{where[0]} is not the installed copy"
    assert where[1] == VERSION

    command = site / "bin" / "sirenkit"  # the console script pip wrote, on this interpreter
    assert command.is_file()
    assert VERSION in run([sys.executable, str(command), "--version"], cwd=tmp_path, env=env)
    run([sys.executable, str(command), "fit", "image", "camera", "--steps", "5", "--size", "32", "--omega", "30",
         "--compile", "off", "--out", "run", "-q"], cwd=tmp_path, env=env)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["steps"] == 5 and metrics["psnr"] > 5, metrics
