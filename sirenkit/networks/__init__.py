"""Networks: the families (SIREN and the others), their configuration, their derivatives with
respect to the coordinates, and their evaluation at many points. Nothing here knows what a
signal is; a family registers itself on import ([`register_family`][sirenkit.register_family]).
"""

# the built-in families register themselves, in the order --help lists them
from sirenkit.networks import siren  # noqa: F401, I001
from sirenkit.networks import mlp  # noqa: F401
from sirenkit.networks import finer  # noqa: F401
from sirenkit.networks import gauss  # noqa: F401
from sirenkit.networks import wire  # noqa: F401
from sirenkit.networks import grids  # noqa: F401
from sirenkit.networks.build import build_network, count_parameters, network_for_budget, parameter_count
from sirenkit.networks.config import MODEL_NAMES, NetworkConfig, network_config_from_dict
from sirenkit.networks.derivatives import Derivatives, autograd_derivatives, derivatives
from sirenkit.networks.evaluate import evaluate_points
from sirenkit.networks.family import NetworkFamily, family_of
from sirenkit.networks.registry import (
    FAMILIES,
    get_family,
    load_plugins,
    model_names,
    register_family,
    unregister_family,
)


def _register_plugin_family(loaded: object) -> bool:
    """Register a plugin's [`NetworkFamily`][sirenkit.NetworkFamily] (unless it is registered already)."""
    if not isinstance(loaded, NetworkFamily):
        return False
    if FAMILIES.get(loaded.name) is not loaded:
        register_family(loaded)  # a name taken is a ValueError: the plugin is refused
    return True


# third-party families, after the built-ins (which they may not replace): entry points of the group
# sirenkit.families (docs/extending.md, "Plugins")
load_plugins("sirenkit.families", [FAMILIES], _register_plugin_family)

__all__ = [
    "FAMILIES", "MODEL_NAMES", "Derivatives", "NetworkConfig", "NetworkFamily", "autograd_derivatives", "build_network",
    "count_parameters", "derivatives", "evaluate_points", "family_of", "get_family", "model_names",
    "network_config_from_dict", "network_for_budget", "parameter_count", "register_family", "unregister_family",
]
