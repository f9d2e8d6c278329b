"""The registry of network families, by name."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sirenkit.networks.family import NetworkFamily


logger = logging.getLogger("sirenkit")

FAMILIES: dict[str, NetworkFamily] = {}
"""Every registered family, by name, in the order of registration: the built-in ones (`siren`,
`relu`, `relu-pe`, `rff`, `tanh`, `finer`, `gauss`, `wire`, `hash-grid`, `grid`) and those
that plugins add. Filled when sirenkit is imported; use [`get_family`][sirenkit.get_family] and
[`register_family`][sirenkit.register_family] rather than changing it.
"""


def register_family(family: NetworkFamily, *, replace: bool = False) -> NetworkFamily:
    """Add a family to the registry, so that `model=` and `--model` know its name.

    Args:
        family: The family.
        replace: Redefine a name that is already registered.

    Returns:
        `family`, so that a module can keep it.

    Raises:
        ValueError: The name is taken and `replace` is not set.
    """
    if family.name in FAMILIES and not replace:
        raise ValueError(f"a network family named {family.name!r} is already registered")
    FAMILIES[family.name] = family
    return family


def unregister_family(name: str) -> None:
    """Remove a family (a test's own, say) from the registry.

    Args:
        name: The family's name; an unknown name is ignored.
    """
    FAMILIES.pop(name, None)


def get_family(name: str) -> NetworkFamily:
    """Look a family up by name.

    Args:
        name: The family's name (`siren`, `relu`, ...).

    Returns:
        The registered family.

    Raises:
        ValueError: An unknown name; the message lists the known ones.
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(FAMILIES)}") from None


def model_names() -> tuple[str, ...]:
    """Name the registered families.

    Returns:
        The names, in the order of registration.
    """
    return tuple(FAMILIES)


def load_plugins(group: str, registries: Sequence[dict[str, Any]], accept: Callable[[Any], bool]) -> None:
    """Load the entry points of `group` that installed packages declare (`sirenkit.families`,
    `sirenkit.kinds`), so that a third-party package adds a family or a kind with no change to
    sirenkit, as nerfstudio finds its methods.

    Loading an entry point imports its module and returns its object: `accept(object)` registers
    it where it is a thing of the group's own type (a family, a kind class) and says so; otherwise a
    module (its import registered what it holds) is taken as it is and a plain function is called
    with no arguments (a `register()` hook). An entry point that fails (its import, its object,
    its registration) or that would replace a name of `registries` registered before it (a
    built-in's, or an earlier plugin's) is refused: `registries` are put back as they were, one
    warning line names the entry point and the error, and sirenkit goes on without it."""
    from importlib.metadata import entry_points

    seen: set[tuple[str, str]] = set()
    for point in entry_points(group=group):
        if (point.name, point.value) in seen:  # one distribution on the path twice
            continue
        seen.add((point.name, point.value))
        before = [dict(registry) for registry in registries]
        try:
            loaded = point.load()
            if not accept(loaded):
                if inspect.isfunction(loaded):
                    loaded()
                elif not inspect.ismodule(loaded):
                    raise TypeError(f"expected a module, a function or a {group.rpartition('.')[2][:-1]}, "
                                    f"got {type(loaded).__name__}")
            replaced = sorted(name for registry, earlier in zip(registries, before)
                              for name in earlier if registry.get(name) is not earlier[name])
            if replaced:
                raise ValueError(f"it would replace {', '.join(map(repr, replaced))}, registered before it")
        except Exception as error:  # noqa: BLE001 (a plugin must not break sirenkit, whatever it raises)
            for registry, earlier in zip(registries, before):
                registry.clear()
                registry.update(earlier)
            message = " ".join(str(error).split()) or type(error).__name__
            logger.warning("plugin %s (%s = %s) not loaded: %s: %s", point.name, group, point.value,
                           type(error).__name__, message)
