"""`sirenkit fit KIND`, for every registered kind that plans its fits and has no command of its
own: the kinds that plugins add (docs/extending.md, "Plugins"), with the options every fit shares.

The command plans each fit with the kind's plan function (`register_plan`:
`plan(source, *, model, out, resume, overwrite, progress) -> FitPlan`), then sets the plan's
network (the kind's for the signal, with the settings given: `--width`, `--omega`, ...) and its
training (the kind's recipe for the signal under `--steps`, `--time`, `--until`, `--lr`,
...; with `--resume`, the run's own). Several sources, or a folder (its files of the
kind's `input_suffixes`), go through the folder engine
(`sirenkit.engine.folders`), as `fit image` does with a folder of images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import sirenkit.signals  # noqa: F401  (every kind registered, the plugins' included)
from sirenkit.cli.options import (
    default_out,
    fit_several,
    group_option,
    print_metrics,
    training_options,
    with_options,
)
from sirenkit.engine.kinds import KINDS, PLANS, SignalKind, article, plan_function
from sirenkit.engine.runs import FitPlan


def add_kind_commands(group: click.Group) -> None:
    """Add `fit KIND SOURCES...` to `group` for every registered kind with a plan function and
    no command of that name in `group` yet (the built-in kinds have their own)."""
    for name, kind in KINDS.items():
        if name in PLANS and name not in group.commands:
            group.add_command(kind_command(name, kind))


def kind_command(name: str, kind: type[SignalKind]) -> click.Command:
    """The `fit NAME` command of a kind (see the module docstring)."""
    about = (kind.__doc__ or "").strip().splitlines()[0].replace("`", "") if kind.__doc__ else ""
    files = f" ({', '.join(kind.input_suffixes)} files)" if kind.input_suffixes else ""
    scores = ", ".join(metric.name for metric in kind.metrics) or "loss"

    @click.command(name, help=f"Fit {article(name)} {name}: {about}\n\nSOURCES: files, or folders{files}, fitted "
                              f"together in batches. Writes a run folder per signal (model, metrics.json with "
                              f"{scores}, history.json, the kind's files); for several, summary.csv and "
                              f"summary.json beside them. --until refers to {kind.target_metric}.")
    @click.argument("sources", nargs=-1, required=True)
    @group_option()
    @training_options()
    def command(sources: tuple[str, ...], group: int | None, **options: Any) -> None:
        fit_kind(name, sources, group, options)

    return command


def fit_kind(name: str, sources: tuple[str, ...], group: int | None, options: dict[str, Any]) -> None:
    """Fit `sources` as kind `name` with the parsed `options` and print what came out."""
    planned, kind = plan_function(name), KINDS[name]
    several = len(sources) > 1 or Path(sources[0]).is_dir()

    def plan_one(source: str, out: Path, resume: bool) -> FitPlan:
        given = {**options, "resume": resume}
        plan = planned(source, model=options["model"], out=out, resume=resume, overwrite=options["overwrite"],
                       progress=not options["quiet"] and not several)
        return with_options(plan, given, plan.kind.train_config())

    if fit_several(name, sources, group, options, plan_one):
        return
    out = options["out"] or default_out(name, sources[0])
    fitted = plan_one(sources[0], out, options["resume"]).run()
    print_metrics(fitted, (*(kind.score_names or (kind.target_metric,)), "steps", "seconds", "parameters"), out)


__all__ = ["add_kind_commands", "fit_kind", "kind_command"]
