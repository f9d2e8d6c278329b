"""The documentation site: docs/*.md and the API reference from the docstrings build with
``mkdocs build --strict`` (any warning fails it: a broken link or anchor, a page left out of the
nav, a docstring mkdocstrings cannot read), every page and figure is there, and README.md stays a
short front page that links to every page."""

from __future__ import annotations

import html as html_lib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_of_the_repository, page_html

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
README = ROOT / "README.md"
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")


def test_the_pages_are_there():
    names = {page.name for page in PAGES}
    assert {"index.md", "getting-started.md", "command-line.md", "python.md", "your-own-problem.md",
            "cli-reference.md", "design-notes.md", "examples.md", "changelog.md"} <= names, names
    assert (DOCS / "api" / "index.md").is_file() and (DOCS / "benchmarks" / "index.md").is_file()


def nav_pages(section: str | None = None) -> list[Path]:
    """The pages of mkdocs.yml's navigation, or of one of its sections ("How-to")."""
    import yaml

    def pages(entries) -> list[str]:
        found: list[str] = []
        for entry in entries:
            for value in (entry.values() if isinstance(entry, dict) else [entry]):
                found += pages(value) if isinstance(value, list) else [value]
        return found

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    if section is not None:
        nav = next(entry[section] for entry in nav if isinstance(entry, dict) and section in entry)
    return [DOCS / name for name in pages(nav)]


ALL_PAGES = sorted(path for path in DOCS.rglob("*.md"))
LONG_PAGES_ALLOWED = {DOCS / "design-notes.md", *DOCS.glob("benchmarks/*.md")}
"""The pages that hold results and their story; every other page is read, not searched."""


def test_every_page_is_in_the_navigation_and_short():
    in_nav = set(nav_pages())
    for page in ALL_PAGES:
        assert page in in_nav, f"{page.relative_to(DOCS)} is not in mkdocs.yml's nav"
        if page not in LONG_PAGES_ALLOWED:
            lines = len(page.read_text().splitlines())
            assert lines <= 250, f"{page.relative_to(DOCS)} has {lines} lines: a user page holds at most 250"


WORK_WORDS = re.compile(r"\bissues?\b|\bsessions?\b|\.\./shared|shared/data|\bwe tried\b|\bof ours\b", re.I)


def test_the_pages_speak_to_users_only():
    """No page speaks of how the work was organised, nor of files a clone does not have."""
    import json

    texts = {page: page.read_text() for page in [*ALL_PAGES, README]}
    for notebook in DOCS.glob("*.ipynb"):
        texts[notebook] = "\n".join("".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"])
    for page, text in texts.items():
        for number, line in enumerate(text.splitlines(), 1):
            match = WORK_WORDS.search(line)
            assert match is None, f"{page.relative_to(ROOT)}:{number} says {match.group(0)!r}: {line.strip()[:100]}"


def test_every_how_to_page_opens_with_its_command():
    pages = nav_pages("How-to")
    assert len(pages) >= 9, pages
    for page in pages:
        assert first_command(page)[:1] == ["sirenkit"], f"{page.name} does not open with a sirenkit command"


def test_every_page_is_built_with_its_tables(site):
    for page in PAGES:
        html = page_html(site, page)
        assert html.is_file(), f"{page.name} was not built"
        text = html.read_text()
        if re.search(r"^\s*\|[-| :]+\|\s*$", page.read_text(), re.M):
            assert "<table>" in text, f"{page.name}: its tables were not rendered"


def test_every_figure_a_page_shows_exists():
    for page in [*PAGES, README]:
        for target in IMAGE_LINK.findall(page.read_text()):
            if not target.startswith(("http://", "https://")):
                assert (page.parent / target).is_file(), f"{page.name} shows {target}, which does not exist"


def test_the_readme_is_a_short_front_page_linking_every_page():
    text = README.read_text()
    assert len(text) < 8_000, len(text)
    assert text.startswith("# sirenkit\n\n```sh\nmake demo   #"), "the README must open with make demo / make test"
    assert "\nmake test   #" in text
    links = set(re.findall(r"\]\((docs/[^)#\s]+\.md)\)", text))
    for page in PAGES:
        assert f"docs/{page.name}" in links, f"README.md does not link docs/{page.name}"
    for link in links:
        assert (ROOT / link).is_file(), f"README.md links {link}, which does not exist"


def all_commands(group, prefix: str = "sirenkit"):
    """Every command of the command line with its full name (``sirenkit fit image``), groups included."""
    import click

    yield prefix, group
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            yield from all_commands(command, f"{prefix} {name}")


def test_the_generated_cli_reference_has_every_command_and_option(site):
    """Generated from the click commands themselves, so that it cannot drift from --help."""
    from sirenkit.cli import app

    page = page_html(site, DOCS / "cli-reference.md").read_text()
    headings = list(re.finditer(r'<h\d id="(sirenkit[^"]*)"', page))
    sections = {match.group(1): html_lib.unescape(page[match.end():following.start() if following else len(page)])
                for match, following in zip(headings, [*headings[1:], None])}
    for name, command in all_commands(app):
        anchor = name.replace(" ", "-")
        assert anchor in sections, f"{name} is not in the CLI reference"
        for parameter in command.params:
            for option in getattr(parameter, "opts", []):
                if option.startswith("-"):  # in the command's own section, not another's
                    assert option in sections[anchor], f"{name} {option} is not in its CLI reference section"


def first_command(page: Path) -> list[str]:
    """The first ``sirenkit`` line of a page's first ```sh block, as arguments."""
    import shlex

    block = re.search(r"^```(?:sh|bash|console)\n(.*?)^```", page.read_text(), re.M | re.S)
    assert block, f"{page.name} has no sh block"
    line = next((line for line in block.group(1).splitlines() if line.startswith("sirenkit ")), "")
    return shlex.split(line, comments=True)


TINY_OPTIONS = (("--size", "32"), ("--seconds", "0.2"), ("--steps", "3"), ("--surface-points", "512"),
                ("--free-points", "512"), ("--resolution", "16"), ("--models", "siren,relu-pe"), ("--tiny", None),
                ("-q", None))
"""Appended to a page's command where the command has them (click keeps an option's last value)."""


def tiny(arguments: list[str]) -> list[str]:
    from sirenkit.cli import app

    command, rest = app, list(arguments[1:])
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    options = {option for parameter in command.params for option in getattr(parameter, "opts", [])}
    extra = [part for option, value in TINY_OPTIONS if option in options
             for part in ([option] if value is None else [option, value])]
    return [*arguments[1:], *extra, "--device", "cpu"] if "--device" in options else [*arguments[1:], *extra]


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    return copy_of_the_repository(tmp_path_factory.mktemp("clone") / "sirenkit")


@pytest.mark.parametrize("page", [page.name for page in nav_pages("How-to")])
def test_each_how_to_pages_first_command_runs_from_a_clone_at_a_tiny_size(page, clone):
    arguments = tiny(first_command(DOCS / page))
    result = subprocess.run([sys.executable, "-m", "sirenkit", *arguments], cwd=clone, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert result.returncode == 0, f"sirenkit {' '.join(arguments)} (from {page}): {result.stderr[-2000:]}"
