"""The Benchmarks pages (docs/benchmarks/*.md) are what benchmarks/tables.py writes from
benchmarks/results/*.json, so that no number on them drifts from its measurement: every table names
its machine, date and command, every results file is used, and every command is one its script takes."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
# loaded by its path under its own name: "tables" is also a PyPI package's name (PyTables)
_spec = importlib.util.spec_from_file_location("benchmark_tables", BENCHMARKS / "tables.py")
assert _spec is not None and _spec.loader is not None
tables = importlib.util.module_from_spec(_spec)
sys.modules["benchmark_tables"] = tables  # dataclasses look their module up by name
_spec.loader.exec_module(tables)

SOURCE_LINE = re.compile(r"^\*Machines?:\* (?P<machines>.+?) · \*dates?:\* (?P<dates>.+?) · \*commands?:\* "
                         r"(?P<commands>`.+`.*)\.$")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}|undated")


def in_a_git_checkout() -> bool:
    if shutil.which("git") is None:
        return False
    found = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True, text=True)
    return found.returncode == 0 and found.stdout.strip() == "true"


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return tables.build()


def tables_with_their_sources(text: str) -> list[tuple[str, str | None]]:
    """Each table's header line and the source line before it in its section (None if there is none)."""
    found, source, previous = [], None, ""
    for line in text.splitlines():
        if line.startswith("#"):
            source = None
        elif SOURCE_LINE.match(line):
            source = line
        elif line.startswith("|") and not previous.startswith("|"):
            found.append((line, source))
        previous = line
    return found


def test_the_committed_pages_are_the_generators_output(pages):
    if not in_a_git_checkout():
        pytest.skip("the pages' dates come from git: run the tests in a git checkout")
    assert set(pages) == {path.name for path in tables.PAGES.glob("*.md")}, "a page is missing or left over"
    stale = tables.differing(pages)
    assert not stale, f"docs/benchmarks/{stale} differ from benchmarks/results/: run `make bench-pages`"


def test_every_table_is_preceded_by_its_machine_date_and_command(pages):
    counted = 0
    for name, text in pages.items():
        for header, source in tables_with_their_sources(text):
            counted += 1
            assert source is not None, f"{name}: the table {header[:60]!r} names no machine, date and command"
            parts = SOURCE_LINE.match(source)
            assert parts is not None
            assert any(machine in parts["machines"] for machine in tables.MACHINES), source[:120]
            assert DATE.search(parts["dates"]), source[:120]
            assert "python benchmarks/" in parts["commands"], source[:120]
    assert counted > 30  # every page's tables were seen, not none


def test_a_table_without_its_source_is_caught():
    text = "# A page\n\nSome words.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert tables_with_their_sources(text) == [("| a | b |", None)]


def test_every_results_file_is_used_or_replaced_by_one_that_is():
    tables.build()  # fills tables.USED
    files = {path.name for path in tables.RESULTS.glob("*.json")}
    assert files <= tables.USED | set(tables.SUPERSEDED), sorted(files - tables.USED - set(tables.SUPERSEDED))
    for old, (new, _) in {**tables.SUPERSEDED, **tables.SUPERSEDED_ROWS}.items():
        assert old in files and new in tables.USED, (old, new)
    assert set(tables.COMMANDS) == files, "a results file without its command, or a command without its file"


def test_an_unused_results_file_fails_the_build(monkeypatch, tmp_path):
    for path in tables.RESULTS.glob("*.json"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "steps-extra-cpu.json").write_text('{"machine": "Intel(R) Xeon(R) Processor, 2 threads", "rows": []}')
    monkeypatch.setattr(tables, "RESULTS", tmp_path)
    tables.load.cache_clear()
    try:
        with pytest.raises(ValueError, match="steps-extra-cpu.json"):
            tables.build()
    finally:
        tables.load.cache_clear()


def test_every_command_uses_options_its_script_has():
    for name, command in tables.COMMANDS.items():
        scripts = re.findall(r"benchmarks/(\w+)\.py", command)
        assert scripts, name
        for script in set(scripts):
            assert (BENCHMARKS / f"{script}.py").is_file(), (name, script)
        known = {option for script in scripts
                 for option in re.findall(r"add_argument\(\"(--[\w-]+)\"", (BENCHMARKS / f"{script}.py").read_text())}
        known.add("--merge")  # zoo.py's own mode
        used = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", command))
        assert used <= known, (name, sorted(used - known))
        assert f"benchmarks/results/{name}" in command or "--json" not in command, name


def test_machines_are_named_alike():
    assert tables.normalise_machine("Intel(R) Xeon(R) Processor, 2 threads, PyTorch 2.13.0+cpu", "AVX512") \
        == tables.XEON
    assert tables.normalise_machine("AMD EPYC, 2 threads, PyTorch 2.13.0+cpu", "AVX512") == tables.EPYC_BF16
    assert tables.normalise_machine("AMD EPYC, 1 threads, PyTorch 2.13.0+cpu", "AVX2") == tables.EPYC_AVX2
    assert tables.normalise_machine("AMD EPYC, 2 cores, AVX2 only, PyTorch 2.13.0+cpu") == tables.EPYC_AVX2
    assert tables.normalise_machine("NVIDIA H200, PyTorch 2.11.0+cu130", "AVX512") == tables.H200
    with pytest.raises(ValueError, match="unknown machine"):
        tables.normalise_machine("Apple M3, 8 threads")


def test_check_finds_a_page_that_differs(pages, tmp_path, capsys):
    for name, text in pages.items():
        (tmp_path / name).write_text(text)
    assert tables.differing(pages, tmp_path) == []
    (tmp_path / "images.md").write_text(pages["images.md"].replace("24.5×", "25.0×"))
    assert tables.differing(pages, tmp_path) == ["images.md"]
    (tmp_path / "gpu.md").unlink()
    assert tables.differing(pages, tmp_path) == ["images.md", "gpu.md"]
