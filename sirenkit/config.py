"""What every configuration dataclass shares: checks of its values, the field docstrings that
`--help` shows, and the round trip to the JSON of a run folder.

The configurations themselves live with what they configure: the network's in
`sirenkit.networks.config`, training's in `sirenkit.engine.config`.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import math
import re
import textwrap
from typing import Any


def check_positive(name: str, value: float) -> None:
    """A `ValueError` naming `name` unless `value` is a finite number above 0 (NaN and
    infinity are not: they would train nothing, or diverge, under a misleading message)."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number above 0, got {value}")


@functools.cache
def field_docs(config_class: type) -> dict[str, str]:
    """The docstring written under each field of a configuration dataclass, on one line each: what
    `--help` shows, so that an option is documented in one place. Read from the source; empty
    where the source is not installed."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(config_class)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for node, following in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant) and isinstance(following.value.value, str)):
            text = re.sub(r"\[([^\]]*)\]\[[\w.]*\]", r"\1", following.value.value).replace("`", "")
            docs[node.target.id] = " ".join(text.split())  # plain text: Markdown links and code unwrapped
    return docs


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dictionary of a configuration dataclass."""
    return dataclasses.asdict(config)


def replace(config: Any, **changes: Any) -> Any:
    """A copy of a frozen configuration with some fields changed."""
    return dataclasses.replace(config, **changes)


__all__ = ["check_positive", "field_docs", "replace", "to_dict"]
