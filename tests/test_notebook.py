"""The quickstart notebook (docs/quickstart.ipynb) is stored without outputs and runs from top to
bottom without an error: executed here with tiny sizes (its cell tagged ``parameters`` rewritten),
in a kernel on this interpreter, in a temporary working directory, and every cell that shows a
figure shows one."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from conftest import running_in_ci

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "quickstart.ipynb"

TINY = {"SIZE": 32, "STEPS": 5, "RENDER_SIZE": 64, "POISSON_STEPS": 5, "SDF_STEPS": 5, "SDF_RESOLUTION": 32,
        "PROBLEM_STEPS": 5, "COMPILE": False}
"""The values the test runs the notebook with; each must be a parameter the notebook has."""

ASSIGNMENT = re.compile(r"^(?P<name>[A-Z_][A-Z0-9_]*)\s*=")


def _needs(*modules: str) -> None:
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        message = f"{', '.join(missing)} not installed: pip install -e '.[test]'"
        if running_in_ci():
            pytest.fail(f"{message} (CI is set: the notebook must run)", pytrace=False)
        pytest.skip(message)


def with_parameters(source: str, values: dict[str, object]) -> str:
    """The parameters cell's source with each ``NAME = ...`` line of ``values`` set to its value."""
    lines, seen = [], set()
    for line in source.splitlines():
        match = ASSIGNMENT.match(line)
        if match and match["name"] in values:
            name = match["name"]
            line, seen = f"{name} = {values[name]!r}", seen | {name}
        lines.append(line)
    assert seen == set(values), f"the parameters cell lacks {sorted(set(values) - seen)}"
    return "\n".join(lines)


def parameters_cell(notebook):
    tagged = [cell for cell in notebook.cells if "parameters" in cell.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "the notebook needs exactly one cell tagged 'parameters'"
    assert tagged[0].cell_type == "code"
    return tagged[0]


def test_the_notebook_is_stored_without_outputs():
    _needs("nbformat")
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, \
                f"cell {number} keeps its outputs: clear them before committing"
    assert parameters_cell(notebook).source.splitlines()[0].startswith("#")
    assert notebook.metadata.kernelspec.name == "python3"


def test_the_parameters_are_the_notebooks_sizes():
    notebook = json.loads(NOTEBOOK.read_text())
    cell = next(c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", []))
    names = {m["name"] for line in "".join(cell["source"]).splitlines() if (m := ASSIGNMENT.match(line))}
    assert names == set(TINY), \
        f"the tiny values and the notebook's parameters differ: {sorted(names ^ set(TINY))}"


def test_the_notebook_runs_with_tiny_sizes(tmp_path, monkeypatch):
    _needs("nbformat", "nbclient", "ipykernel")
    import nbclient
    import nbformat

    # A kernel named python3 on this interpreter, found before any other (JUPYTER_PATH comes
    # first), with IPython's and Jupyter's own files kept in the temporary folder.
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (sirenkit tests)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "matplotlib"))
    work = tmp_path / "work"
    work.mkdir()

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cell = parameters_cell(notebook)
    cell.source = with_parameters(cell.source, TINY)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(work)}})
    client.execute()

    errors = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if output.output_type == "error"]
    assert not errors, errors
    figures = 0
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and "plt.show()" in cell.source:
            images = [o for o in cell.outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
            assert images, f"cell {number} shows no figure"
            figures += len(images)
    assert figures >= 6, figures
    # the run folders went into the working directory given, not the repository
    for run in ("camera", "camera-from-gradient", "torus", "my-poisson"):
        assert (work / "runs" / run / "metrics.json").is_file(), run
    assert sorted(path.name for path in work.iterdir()) == ["runs"]
    assert not (ROOT / "docs" / "runs").exists()


def test_the_site_shows_the_same_notebook_with_the_outputs_of_a_full_run():
    """docs/notebook.ipynb is what examples/notebook.py wrote from this notebook at its own sizes:
    the same code, every figure drawn, no error, the machine and the time recorded."""
    _needs("nbformat")
    import nbformat

    source = nbformat.read(NOTEBOOK, as_version=4)
    shown = nbformat.read(ROOT / "docs" / "notebook.ipynb", as_version=4)
    code = [cell.source for cell in source.cells if cell.cell_type == "code"]
    assert [cell.source for cell in shown.cells if cell.cell_type == "code"] == code, \
        "docs/notebook.ipynb is older than docs/quickstart.ipynb: run examples/notebook.py"
    assert parameters_cell(shown).source == parameters_cell(source).source, "not run at the notebook's own sizes"
    for number, cell in enumerate(shown.cells):
        if cell.cell_type == "code":
            assert not [o for o in cell.outputs if o.output_type == "error"], f"cell {number} failed"
            if "plt.show()" in cell.source:
                assert any("image/png" in o.get("data", {}) for o in cell.outputs), f"cell {number} shows no figure"
    assert shown.metadata.sirenkit.machine and shown.metadata.sirenkit.seconds > 0
