"""`README.md` in every run folder: what was fitted and how, the result and why the fit stopped,
what each file is, and how to render, inspect and continue it; for a person who opens the folder
later, or receives it."""

from __future__ import annotations

from pathlib import Path

from sirenkit.engine.kinds import Fitted
from sirenkit.io import atomic_write
from sirenkit.networks.build import count_parameters
from sirenkit.networks.registry import get_family
from sirenkit.text import printable

README_NAME = "README.md"

FILE_ROLES = {
    "model.safetensors": "the network's weights",
    "model.json": "the network and the signal it represents (read by `sirenkit.load`)",
    "config.json": "the resolved configuration: task, inputs (by content hash), network, training, machine",
    "checkpoint.safetensors": "what continuing the fit needs (weights, optimiser state, step, random state)",
    "metrics.json": "the result's figures and how they are measured, and why the fit stopped",
    "history.json": "the logged steps: loss, loss terms, learning rate, figures",
    "progress.png": "the fit at the snapshot steps beside the signal",
    "support.npy": "where the input has points: mesh pieces far from all of them are dropped",
}


def run_readme(fitted: Fitted, version: str, files: list[str]) -> str:
    """The text of a run folder's `README.md` (see the module docstring); `files`: what the fit
    wrote there. Names and texts from outside (the source's name, the folder's) are written as
    `sirenkit.text.printable` shows them: a name that is not valid UTF-8 as `caf\\xe9.png`."""
    kind, network, metrics = fitted.kind, fitted.network, fitted.metrics
    folder = printable(fitted.out if fitted.out is not None else Path("."))
    units = {metric.name: metric.unit for metric in kind.metrics}
    figures = [f"{metric.name} {metrics[metric.name]:.4g}{' ' + units[metric.name] if units[metric.name] else ''}"
               for metric in kind.metrics if isinstance(metrics.get(metric.name), (int, float))]
    steps = metrics.get("steps")
    seconds = metrics.get("seconds")
    ran = f"{steps:,} steps" if isinstance(steps, int) else "its steps"
    if isinstance(seconds, (int, float)):
        ran += f" in {seconds:.1f} s"
    reason = metrics.get("stop_reason")
    lines = [
        f"# {kind.name}: {printable(kind.source)}",
        "",
        f"A {network.model} network ({get_family(network.model).size_of(network)}, "
        f"{count_parameters(fitted.model):,} parameters) fitted to {printable(kind.source)} by sirenkit {version}.",
        "",
        f"**Result**: {', '.join(figures) or 'see metrics.json'} after {ran}"
        + (f"; {printable(reason)}." if isinstance(reason, str) else "."),
        "",
        "## Files",
        "",
        *[f"- `{printable(name)}`: {_role(name)}" for name in sorted(set(files) - {README_NAME})],
        "",
        "## Using it",
        "",
        "```sh",
        f"sirenkit info {folder}",
        *([f"sirenkit render {folder} --out rendering{kind.suffixes[0]}"] if kind.suffixes else []),
        "```",
        "",
        f'In Python: `sirenkit.load("{folder}")` returns the network with what its output means; '
        "`.render()` renders it at any sampling.",
        "",
        "To train further, run the command that made this folder again with `--resume` (and more `--steps` "
        "or a longer `--time`): it continues from `checkpoint.safetensors`.",
        "",
    ]
    return "\n".join(lines)


def write_run_readme(fitted: Fitted, version: str, files: list[str]) -> None:
    """Write `run_readme` into the fitted run's folder, whole or not at all."""
    assert fitted.out is not None
    data = run_readme(fitted, version, files).encode()
    atomic_write(fitted.out / README_NAME, lambda stream: stream.write(data))


def _role(name: str) -> str:
    if name in FILE_ROLES:
        return FILE_ROLES[name]
    if name.startswith("reconstruction."):
        return "the fitted signal, at the input's sampling"
    if name.startswith("mesh.") and not name.endswith(".png"):
        return "the surface the network found, in the input's coordinates"
    if name.endswith(".png"):
        return "a figure of the fit"
    return "written by the fit"


__all__ = ["README_NAME", "run_readme", "write_run_readme"]
