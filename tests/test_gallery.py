"""The examples gallery (examples/gallery/): every script runs with ``--tiny`` from a copy of the
repository's files and writes its figure; docs/examples.md is what ``build.py --page-only`` writes
from docs/gallery/gallery.json and the scripts; every script has its entry and its figure there."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import copy_of_the_repository

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "examples" / "gallery"
DOCS = ROOT / "docs"
RECORD = DOCS / "gallery" / "gallery.json"
SCRIPTS = sorted(GALLERY.glob("[0-9][0-9]_*.py"))
NOT_BUILT = ("docs/gallery/gallery.json does not exist yet (`make gallery` runs every script at full size and "
             "writes it with docs/examples.md): nothing to compare with")


def build_module():
    """examples/gallery/build.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("gallery_build", GALLERY / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Each script run with --tiny from a copy of the repository's files (tracked, and new ones not
    ignored: what a clone has once they are committed), the copy's sirenkit imported, nothing else of
    the checkout reachable; two at a time, one thread each (tiny steps gain nothing from two)."""
    clone = copy_of_the_repository(tmp_path_factory.mktemp("gallery") / "sirenkit")
    environment = {**os.environ, "PYTHONPATH": str(clone), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    imported = subprocess.run([sys.executable, "-c", "import sirenkit; print(sirenkit.__file__)"], cwd=clone,
                              env=environment, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(imported).is_relative_to(clone), f"the scripts would import {imported}, not the copy's sirenkit"

    def run(script: Path) -> tuple[str, subprocess.CompletedProcess, Path]:
        out = clone.parent / "runs" / script.stem
        command = [sys.executable, str(clone / "examples" / "gallery" / script.name), "--tiny", "--out", str(out)]
        return script.stem, subprocess.run(command, cwd=clone, env=environment, capture_output=True, text=True,
                                           timeout=300), out

    with ThreadPoolExecutor(max_workers=2) as pool:
        return {name: (result, out) for name, result, out in pool.map(run, SCRIPTS)}


def test_the_gallery_has_five_to_seven_scripts():
    assert 5 <= len(SCRIPTS) <= 7, [script.name for script in SCRIPTS]


@pytest.mark.parametrize("name", [script.stem for script in SCRIPTS])
def test_each_script_runs_tiny_from_a_clone_and_writes_its_figure(name, tiny_runs):
    result, out = tiny_runs[name]
    assert result.returncode == 0, f"{name}.py --tiny failed:\n{result.stderr[-3000:]}"
    figure = out / "figure.png"
    assert figure.is_file(), f"{name}.py wrote no {figure.name}"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("script", SCRIPTS, ids=[script.stem for script in SCRIPTS])
def test_each_script_opens_with_a_title_and_a_description_and_stays_short(script):
    title, description = build_module().describe(script)
    assert title and not title.endswith("."), title
    assert 100 <= len(description) <= 600, description  # two to four sentences
    assert len(script.read_text().splitlines()) <= 70


def test_the_page_shows_every_script_with_its_figure_time_machine_and_source():
    """The source is included when the site is built (pymdownx.snippets), so it is always the script's own."""
    build = build_module()
    entries = [{"name": script.stem, "title": "", "seconds": 61.4, "machine": "AMD EPYC, 2 cores, AVX512, native "
                "bfloat16"} for script in SCRIPTS]
    page = build.page(entries)
    for script in SCRIPTS:
        title = build.describe(script)[0]
        assert f"## {title}\n" in page
        assert f"![{title}](gallery/{script.stem}.png)" in page
        assert f"*About 61 s on {build.EPYC_BF16}: `examples/gallery/{script.name}`.*" in page
        assert f'??? example "source"\n\n    ```python\n    --8<-- "examples/gallery/{script.name}"\n    ```\n' in page
    assert len(page.splitlines()) <= 250  # a user page's length (tests/test_docs.py)
    with pytest.raises(SystemExit, match=SCRIPTS[0].stem):
        build.page(entries[1:])


@pytest.mark.parametrize("recorded, name", [
    ("Intel(R) Xeon(R) Processor, 2 cores, AVX512", "a 2-core Intel Xeon"),
    ("AMD EPYC, 2 cores, AVX512, native bfloat16", "a 2-core AMD EPYC with native bfloat16 (AVX-512 BF16)"),
    ("AMD EPYC, 2 cores, AVX2", "a 2-core AMD EPYC, AVX2 only"),
    ("NVIDIA H200", "an NVIDIA H200"),
    ("Intel(R) Core(TM) i7-1165G7, 8 cores, AVX2", "an 8-core Intel(R) Core(TM) i7-1165G7 (AVX2)"),
])
def test_machines_are_named_as_on_every_other_page(recorded, name):
    assert build_module().machine_name(recorded) == name


def test_the_examples_page_is_what_build_writes_from_the_record():
    if not RECORD.is_file():
        pytest.skip(NOT_BUILT)
    written = build_module().page(json.loads(RECORD.read_text()))
    assert (DOCS / "examples.md").read_text() == written, (
        "docs/examples.md differs from what examples/gallery/build.py --page-only writes: run it (after a script "
        "changed: make gallery, or build.py --only NAME)")


def test_every_script_has_its_entry_and_figure_in_the_record():
    if not RECORD.is_file():
        pytest.skip(NOT_BUILT)
    from PIL import Image

    entries = {entry["name"]: entry for entry in json.loads(RECORD.read_text())}
    for script in SCRIPTS:
        assert script.stem in entries, f"{script.name} is not in {RECORD.name}: run build.py --only {script.stem}"
        assert set(entries[script.stem]) == {"name", "title", "seconds", "machine"}
        with Image.open(DOCS / "gallery" / f"{script.stem}.png") as figure:
            assert figure.width <= build_module().WIDTH
