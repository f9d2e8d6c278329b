"""The documentation site: docs/*.md and the API reference from the docstrings build with
``mkdocs build --strict`` (any warning fails it: a broken link or anchor, a page left out of the
nav, a docstring mkdocstrings cannot read), every page and figure is there, and README.md stays a
short front page that links to every page."""

from __future__ import annotations

import html as html_lib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import running_in_ci

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
README = ROOT / "README.md"
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")


def page_html(site: Path, page: Path) -> Path:
    """Where mkdocs writes a page, with its default directory URLs."""
    return site / "index.html" if page.stem == "index" else site / page.stem / "index.html"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings_handlers") is None:
        message = "mkdocs or mkdocstrings is not installed: pip install -e '.[docs]'"
        if running_in_ci():
            pytest.fail(f"{message} (CI is set: the docs must build)", pytrace=False)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out), "-f", str(ROOT / "mkdocs.yml")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return out


def test_the_pages_are_there():
    names = {page.name for page in PAGES}
    assert {"index.md", "getting-started.md", "command-line.md", "python.md", "your-own-problem.md",
            "api.md"} <= names, names


def test_every_page_is_built_with_its_tables(site):
    for page in PAGES:
        html = page_html(site, page)
        assert html.is_file(), f"{page.name} was not built"
        text = html.read_text()
        if re.search(r"^\s*\|[-| :]+\|\s*$", page.read_text(), re.M):
            assert "<table>" in text, f"{page.name}: its tables were not rendered"


def test_the_api_reference_documents_the_public_api(site):
    text = page_html(site, DOCS / "api.md").read_text()
    for name in ("sirenkit.fit_image", "sirenkit.compress", "sirenkit.decompress", "sirenkit.load", "sirenkit.fit_many",
                 "sirenkit.Constraint", "sirenkit.studies.solve.solve", "sirenkit.codec.weights",
                 "sirenkit.engine.folders.fit_many", "sirenkit.problems.domains.Box",
                 "sirenkit.networks.family.NetworkFamily",
                 "sirenkit.engine.kinds.SignalKind"):
        assert f'id="{name}"' in text, name


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
