"""Run the quickstart notebook (docs/quickstart.ipynb) at its own sizes and store it with its
outputs as docs/notebook.ipynb, the page the documentation site renders (``make gallery``).

The notebook a reader downloads stays without outputs; this copy shows what it prints and draws
when run from top to bottom, and records the machine and how long it took. It takes a few minutes
on a 2-core CPU: run it on a quiet machine, since the notebook prints its fits' times.

    .venv/bin/python examples/notebook.py
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "docs" / "quickstart.ipynb"
TARGET = ROOT / "docs" / "notebook.ipynb"
PAGE_LINK = re.compile(r"\]\(([\w-]+)\.md(#[\w-]*)?\)")


def machine() -> str:
    """The machine as the gallery records it (examples/gallery/build.py's `machine`)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gallery_build", ROOT / "examples" / "gallery" / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build.machine()


def run_notebook(source: Path, target: Path, *, timeout: int = 3600) -> float:
    """Execute ``source`` in a fresh working directory with a kernel on this interpreter, write it
    with its outputs to ``target``; the seconds it took."""
    import nbclient
    import nbformat

    notebook = nbformat.read(source, as_version=4)
    with tempfile.TemporaryDirectory() as scratch:
        spec = Path(scratch) / "jupyter" / "kernels" / "python3"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3", "language": "python"}))
        os.environ["JUPYTER_PATH"] = str(Path(scratch) / "jupyter")
        work = Path(scratch) / "work"
        work.mkdir()
        start = time.perf_counter()
        nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}}).execute()
        seconds = time.perf_counter() - start
    errors = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if output.output_type == "error"]
    if errors:
        raise SystemExit(f"{source}: a cell failed: {errors[0].get('ename')}: {errors[0].get('evalue')}")
    notebook.metadata["sirenkit"] = {"machine": machine(), "seconds": round(seconds, 1)}
    for cell in notebook.cells:  # the site's pages are folders: docs/x.md is ../x/ from this page
        if cell.cell_type == "markdown":
            cell.source = PAGE_LINK.sub(r"](../\1/\2)", cell.source)
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(
        f"*This page is the notebook [`quickstart.ipynb`](../quickstart.ipynb) run from top to bottom on "
        f"{machine()} in {seconds / 60:.0f} min; download it to run it yourself.*"))
    partial = target.with_name(target.name + ".partial")
    nbformat.write(notebook, partial)
    partial.replace(target)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=TARGET, help="where the executed notebook goes")
    arguments = parser.parse_args()
    seconds = run_notebook(SOURCE, arguments.out)
    print(f"{arguments.out}: {seconds:.0f} s")


if __name__ == "__main__":
    main()
