"""Fit a problem of the user's own: constraints in, a fitted network and its run folder out, with
the speed, progress display, checkpoints and figures of the built-in tasks (which are recipes on
the same [`sirenkit.fit`][sirenkit.fit]):

```python
problem = Problem([Constraint("pde", residual, Box(...), needs=("laplacian",)), ...])
result = solve(problem, NetworkConfig(in_features=2, out_features=1), TrainConfig(steps=2000),
               out="runs/mine")
```

The run folder holds `model.safetensors`/`model.json` (`sirenkit.load` reads it back),
`loss.png` (every named loss term per step), `history.json`, `metrics.json` (the last value
of every term, the figures of the problem's `evaluate`, time and size) and `config.json`.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

from sirenkit.config import to_dict
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.kinds import Fitted
from sirenkit.engine.runs import fit_signal
from sirenkit.networks.config import NetworkConfig
from sirenkit.problems.constraints import Problem
from sirenkit.signals.problem import ProblemKind
from sirenkit.studies.recipe import default_recipe

Solution = Fitted
"""Another name of [`Fitted`][sirenkit.Fitted], what [`solve`][sirenkit.solve] returns (one
result type for every fit).
"""


def solve(problem: Problem, network: NetworkConfig | None = None, train: TrainConfig | None = None, *,
          outputs: int = 1, name: str = "problem", out: str | Path | None = None, resume: bool = False,
          overwrite: bool = False, progress: bool = True, settings: dict[str, Any] | None = None) -> Fitted:
    """Fit a fresh network to a problem of your own and, with `out`, write its run folder.

    Given no network, the default recipe chooses one and the training
    ([`default_recipe`][sirenkit.default_recipe]): a SIREN on the domain scaled to [−1, 1], the loss
    terms balanced by their gradients, Adam then L-BFGS within a time budget (that of `train`
    where it states one, else five minutes); what it chose is logged and recorded in
    `config.json` under `recipe`.

    The problem is checked first ([`Problem.check`][sirenkit.Problem.check]). The run folder holds
    `model.safetensors` and `model.json` ([`load`][sirenkit.load] reads them back), `loss.png`
    (every named loss term per step), `history.json`, `metrics.json` (the last value of every term,
    the figures of the problem's `evaluate`, time and size) and `config.json`.

    Args:
        problem: The constraints to fit.
        network: The shape of the network (inputs, outputs, family, width, depth, ...); `None`:
            the default recipe's.
        train: The training recipe; `None` is the default recipe's without a network, else
            [`TrainConfig`][sirenkit.TrainConfig]'s defaults. Its `batch_size` sets the points per
            step of every domain that has no batch size of its own.
        outputs: Without a network: how many fields the recipe's network gives.
        name: The problem's name, recorded in the run folder.
        out: The run folder to write; `None` writes nothing.
        resume: Continue the run saved in `out` from its checkpoint.
        overwrite: Replace a run already in `out`.
        progress: Show a progress bar.
        settings: What to record in `config.json` and `model.json` beside the name (your own
            parameters, dataclasses included).

    Returns:
        The fitted network; its kind is a [`ProblemKind`][sirenkit.ProblemKind].

    Raises:
        ValueError: The problem does not fit the network (see
            [`Problem.check`][sirenkit.Problem.check]), or `out` holds a run that neither `resume`
            nor `overwrite` was given for.
        TrainingDiverged: The loss became NaN or infinite.
        TrainingInterrupted: Ctrl-C or SIGTERM stopped the fit; with `out`, its checkpoint is there.

    Example:
        ```python
        from sirenkit import Box, Constraint, NetworkConfig, Problem, TrainConfig, solve

        problem = Problem([Constraint("pde", residual, Box(...), needs=("laplacian",)), ...])
        result = solve(problem, NetworkConfig(in_features=2, out_features=1), TrainConfig(steps=2000),
                       out="runs/mine")
        ```
    """
    settings = to_dict_safe(settings)
    if network is None:
        recipe = default_recipe(problem, outputs=outputs, time_budget=train.time_budget if train else None)
        settings["recipe"] = recipe.say(network_only=train is not None)
        network, train = recipe.network, train or recipe.train
    kind = ProblemKind(source=name, title=name, terms=tuple(c.name for c in problem.constraints),
                       outputs=network.out_features, settings=settings)
    return fit_signal(kind, None, network=network, train=train or TrainConfig(), problem=lambda device: problem,
                      task=name, settings=settings, out=out, resume=resume, overwrite=overwrite, progress=progress)


def to_dict_safe(settings: dict[str, Any] | None) -> dict[str, Any]:
    """`settings` with dataclasses turned into dictionaries (JSON-ready)."""
    return {key: to_dict(value) if hasattr(value, "__dataclass_fields__") else value
            for key, value in (settings or {}).items()}


def load_problem_file(path: str | Path) -> tuple[Problem, NetworkConfig | None, TrainConfig | None, int]:
    """The problem a Python file defines, for `sirenkit solve FILE`: it runs the file and reads its
    `problem` (a [`Problem`][sirenkit.Problem]) and, if it has them, `network` (a
    [`NetworkConfig`][sirenkit.NetworkConfig]), `train` (a [`TrainConfig`][sirenkit.TrainConfig]) and
    `outputs` (the fields of the default recipe's network, 1 otherwise). A file with a network and
    no `train` gets 2,000 steps; one without a network, the default recipe.

    Args:
        path: The file.

    Returns:
        `(problem, network, train, outputs)`, `None` where the file defines none.

    Raises:
        ValueError: No such file, not a `.py` file, an error while running it (named with its
            type), or a name missing or of the wrong type.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.suffix != ".py":
        raise ValueError(f"{path}: expected a Python file (.py) that defines a problem")
    try:
        names = runpy.run_path(str(path), run_name="__sirenkit_problem__")
    except (Exception, SystemExit) as error:  # the user's code: its error, in one line
        raise ValueError(f"{path}: running it failed: {type(error).__name__}: {error}") from error
    problem = _defined(names, path, "problem", Problem)
    network = _defined(names, path, "network", NetworkConfig) if "network" in names else None
    train = _defined(names, path, "train", TrainConfig) if "train" in names else None
    if train is None and network is not None:
        train = TrainConfig(steps=2000)
    outputs = names.get("outputs", 1)
    if not isinstance(outputs, int) or isinstance(outputs, bool) or outputs < 1:
        raise ValueError(f"{path}: defines `outputs` as {outputs!r}, not a whole number of at least 1")
    return problem, network, train, outputs


def _defined(names: dict[str, Any], path: Path, name: str, kind: type[Any]) -> Any:
    """`names[name]`, which must be a `kind`."""
    if name not in names:
        raise ValueError(f"{path}: defines no `{name}` (a sirenkit.{kind.__name__})")
    if not isinstance(names[name], kind):
        raise ValueError(f"{path}: defines `{name}` as a {type(names[name]).__name__}, not a sirenkit.{kind.__name__}")
    return names[name]
