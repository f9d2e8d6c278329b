"""The registry of network families, by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sirenkit.networks.family import NetworkFamily


FAMILIES: dict[str, NetworkFamily] = {}
"""Every registered family, by name, in the order of registration."""


def register_family(family: NetworkFamily, *, replace: bool = False) -> NetworkFamily:
    """Add ``family`` to the registry (``replace=True`` to redefine a name) and return it."""
    if family.name in FAMILIES and not replace:
        raise ValueError(f"a network family named {family.name!r} is already registered")
    FAMILIES[family.name] = family
    return family


def unregister_family(name: str) -> None:
    """Remove a family (a test's own, say) from the registry."""
    FAMILIES.pop(name, None)


def get_family(name: str) -> NetworkFamily:
    """The family registered as ``name``; a ``ValueError`` listing the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(FAMILIES)}") from None


def model_names() -> tuple[str, ...]:
    """Names of the registered families."""
    return tuple(FAMILIES)
