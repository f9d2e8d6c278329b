"""The API reference (docs/api/*.md, generated from the docstrings by mkdocstrings): every page is
built and readable, the docstrings render as Markdown (no reST roles, no ``double backtick``
literals left as text), each top-level function has its anchor, its parameters section and the
annotations of its signature, and every name `sirenkit` exports is documented somewhere."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from conftest import page_html

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api"
API_PAGES = sorted(API.glob("*.md"))
LARGEST_PAGE = 300_000
"""Bytes of HTML an API page may take: the whole package on one page was 870 KB, unreadable."""

COMMANDS = ("fit_image", "fit_audio", "fit_video", "fit_sdf", "fit_poisson", "fuse_images", "compare_models",
            "render", "extract_mesh", "load", "compress", "decompress", "fit_many", "solve", "run_example")
"""One function per command of the `sirenkit` tool, on the API's first page."""

ANCHOR = {"render": "sirenkit.render.render"}
"""Where a function's anchor is not `sirenkit.NAME`: the module `sirenkit/render.py` shares the
function's name, and the documentation tools read the name as the module."""

REST_ROLES = re.compile(r":(func|class|meth|data|mod|attr|exc|obj):`")


@pytest.fixture(scope="module")
def pages(site) -> dict[str, str]:
    """Each API page's HTML, by the name of its Markdown file."""
    return {page.name: page_html(site, page).read_text() for page in API_PAGES}


def object_section(html: str, anchor: str) -> str:
    """The HTML of one documented object: from its heading to the next heading of its level or above."""
    start = re.search(rf'<h(\d) id="{re.escape(anchor)}"', html)
    assert start is not None, f'no id="{anchor}"'
    level = int(start.group(1))
    following = re.compile(rf"<h[1-{level}][ >]").search(html, start.end())
    return html[start.start():following.start() if following else len(html)]


def test_the_api_pages_are_the_ones_the_nav_lists_and_the_old_page_is_gone():
    assert not (ROOT / "docs" / "api.md").exists(), "docs/api.md was split into docs/api/*.md"
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in API_PAGES:
        assert f"api/{page.name}" in nav, f"docs/api/{page.name} is not in the nav of mkdocs.yml"
    assert not re.search(r":\s*api\.md\s*$", nav, re.M), "mkdocs.yml still lists docs/api.md"


def test_every_api_page_is_built_and_readable(site, pages):
    assert {"index.md", "networks.md", "training.md", "problems.md", "signals.md", "codec.md"} <= set(pages)
    for name, html in pages.items():
        assert len(html.encode()) < LARGEST_PAGE, f"api/{name}: {len(html.encode()):,} bytes of HTML"
        assert 'class="doc doc-heading"' in html or name == "index.md", f"api/{name} documents nothing"


def test_the_docstrings_render_as_markdown(pages):
    for name, html in pages.items():
        roles = REST_ROLES.findall(html)
        assert not roles, f"api/{name}: reST roles shown as text: {sorted(set(roles))}"
        assert "``" not in html, f"api/{name}: a ``double backtick`` literal shown as text"
        assert "::</p>" not in html, f"api/{name}: a reST literal block left as text"


def test_each_command_has_its_function_with_parameters_and_annotations(pages):
    import sirenkit

    html = pages["index.md"]
    for name in COMMANDS:
        anchor = ANCHOR.get(name, f"sirenkit.{name}")
        section = object_section(html, anchor)
        signature = re.search(r'<div class="doc-signature highlight">(.*?)</div>', section, re.S)
        assert signature is not None, f"{anchor}: no signature"
        assert "-&gt;" in signature.group(1), f"{anchor}: the signature shows no return annotation"
        table = section.split('doc-section-title">Parameters:', 1)
        assert len(table) == 2, f"{anchor}: no Parameters section (a Google-style Args: section)"
        for parameter in inspect.signature(getattr(sirenkit, name)).parameters.values():
            annotated = rf'<span class="n">{parameter.name}</span><span class="p">:</span>'
            assert re.search(annotated, signature.group(1)), f"{anchor}: {parameter.name} has no annotation shown"
            stars = {parameter.VAR_POSITIONAL: "*", parameter.VAR_KEYWORD: "**"}.get(parameter.kind, "")
            assert f"<code>{stars}{parameter.name}</code>" in table[1], f"{anchor}: {parameter.name} is not described"
        assert 'doc-section-title">Returns:' in section, f"{anchor}: no Returns section"


def test_every_exported_name_is_documented(pages):
    import sirenkit

    everything = "".join(pages.values())
    for name in sirenkit.__all__:
        anchor = ANCHOR.get(name, f"sirenkit.{name}")
        assert f'id="{anchor}"' in everything, f"sirenkit.{name} is not in the API reference"
    for anchor in ("sirenkit.codec.weights", "sirenkit.networks.siren", "sirenkit.engine.kinds"):
        assert f'id="{anchor}"' in everything, anchor


def test_registries_are_described_not_shown_empty(pages):
    for anchor, page in (("sirenkit.FAMILIES", "networks.md"), ("sirenkit.KINDS", "kinds.md")):
        section = object_section(pages[page], anchor)
        assert "{}" not in section, f"{anchor} is shown as its empty source value"
        assert "registered" in section, f"{anchor}: its docstring does not say what it holds"


def test_the_old_alias_comes_last(pages):
    assert "LoadedModel" not in pages["index.md"]
    html = pages["fitted.md"]
    assert html.index('id="sirenkit.Fitted"') < html.index('id="sirenkit.LoadedModel"')
    headings = re.findall(r'<h\d id="(sirenkit\.[^"]+)"', html)
    assert headings[-1] == "sirenkit.LoadedModel", headings[-3:]
