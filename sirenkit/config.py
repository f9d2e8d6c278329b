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
import types
import typing
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


def check_field_types(config_class: type, values: dict[str, Any], what: str) -> None:
    """A `ValueError` naming the first field of `values` whose value is not of its type in the
    dataclass `config_class`, before any is used: a received description is checked field by
    field. Numbers must be finite; where the type is not one of the plain ones (`int`, `float`,
    `str`, `bool`, tuples and lists of them, `X | None`), any value passes.

    Args:
        config_class: The dataclass the values are for.
        values: Field name → value, as read from JSON (lists where the type says tuple).
        what: What the values describe, for the message (`"image description"`).
    """
    hints = _field_hints(config_class)
    for name, value in values.items():
        if name in hints and not _matches(value, hints[name]):
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            raise ValueError(f"{what}: {name} {shown} is not {_type_name(hints[name])}")


@functools.cache
def _field_hints(config_class: type) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(config_class)
    except (NameError, TypeError):  # a plugin's annotation that cannot be resolved: no check
        return {}
    return {f.name: hints[f.name] for f in dataclasses.fields(config_class) if f.name in hints}


def _matches(value: Any, hint: Any) -> bool:
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, argument) for argument in arguments)
    if hint is type(None):
        return value is None
    if origin in (tuple, list):
        if not isinstance(value, (tuple, list)):
            return False
        if origin is list or (len(arguments) == 2 and arguments[1] is Ellipsis):
            return all(_matches(item, arguments[0]) for item in value) if arguments else True
        return len(value) == len(arguments) and all(map(_matches, value, arguments))
    return True


def _type_name(hint: Any) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a finite number", str: "text"}
    if hint in names:
        return names[hint]
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _type_name(a) for a in arguments)
    if origin in (tuple, list) and arguments and arguments[-1] is not Ellipsis:
        return f"a list of {len(arguments)} values ({', '.join(_type_name(a) for a in arguments)})"
    if origin in (tuple, list) and arguments:
        return f"a list of values ({_type_name(arguments[0])})"
    return str(hint)


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dictionary of a configuration dataclass."""
    return dataclasses.asdict(config)


def replace(config: Any, **changes: Any) -> Any:
    """A copy of a frozen configuration with some fields changed."""
    return dataclasses.replace(config, **changes)


__all__ = ["check_field_types", "check_positive", "field_docs", "replace", "to_dict"]
