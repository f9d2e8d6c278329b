"""Grids: a multiresolution hash encoding with a small MLP (Müller et al., "Instant Neural Graphics
Primitives with a Multiresolution Hash Encoding", SIGGRAPH 2022), and a plain dense grid.

Both interpolate values stored at grid nodes multilinearly, so they are continuous and
differentiable once; their derivatives go through autograd. Inside a cell the interpolation is
linear along each axis, so a Laplacian is zero there, and the hash grid's ReLU head is piecewise
linear: both refuse constraints on second derivatives, as the ReLU baselines do.

The hash grid is plain PyTorch (no CUDA extension), so it runs on a CPU and on any GPU. Level
`l` of `L` has `N_l = ⌊N_min b^l⌋` cells along each axis, `b` chosen so that the finest
level has one cell per sample ([`pe_sidelength`][sirenkit.NetworkConfig.pe_sidelength]); a level
whose `(N_l + 1)^d` nodes fit in its table of `T` entries indexes them directly, the others
hash a node's integer coordinates with the paper's XOR of products with large primes, modulo
`T`. Each entry holds `F` features, initialised `U(−10⁻⁴, 10⁻⁴)` as in the paper; the
`L·F` features of a point feed a ReLU MLP (the paper's: 2 hidden layers of 64).

The dense grid is the reference that "grids often win" asks for: one learned value per output
channel at each of `R^d` nodes, nothing else, starting from zero.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable

import torch
from torch import nn

from sirenkit.networks.config import NetworkConfig
from sirenkit.networks.family import Linears, NetworkFamily, closest_size
from sirenkit.networks.registry import get_family, register_family

PRIMES = (1, 2654435761, 805459861, 3674653429)
"""The hash's per-axis multipliers (Müller et al. 2022, after Teschner et al. 2003)."""


def cell_corners(coords: torch.Tensor, cells: int) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
    """For `coords: (N, d)` in [-1, 1] on a grid of `cells` cells per axis: the lower node
    `(N, d)` of each point's cell and, for each of the `2^d` corners, its node offset
    `(d,)` and multilinear weight `(N,)`. Points outside extrapolate from the border cell."""
    position = (coords + 1) * (cells / 2)
    lower = position.detach().floor().clamp(0, cells - 1)
    fraction = position - lower
    corners = []
    for offset in itertools.product((0, 1), repeat=coords.shape[1]):
        step = torch.tensor(offset, device=coords.device)
        weight = torch.where(step.bool(), fraction, 1 - fraction).prod(dim=1)
        corners.append((step, weight))
    return lower.long(), corners


def sum_over_corners(corners: list[tuple[torch.Tensor, torch.Tensor]],
                     rows_at: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """`Σ_corners weight · rows_at(offset)`: the multilinear interpolation of the rows
    `(N, F)` that `rows_at` gathers for each corner offset."""
    total = torch.zeros(())
    for index, (step, weight) in enumerate(corners):
        term = weight[:, None] * rows_at(step).to(weight.dtype)
        total = term if index == 0 else total + term
    return total


class HashGrid(nn.Module):
    """Multiresolution hash encoding into a ReLU MLP (see the module docstring)."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        if config.model != "hash-grid":
            raise ValueError(f"HashGrid needs model='hash-grid', got {config.model!r}")
        self.config = config
        dims, levels = config.in_features, config.grid_levels
        finest = max(config.pe_sidelength, config.grid_base_resolution)
        growth = math.exp(math.log(finest / config.grid_base_resolution) / (levels - 1)) if levels > 1 else 1.0
        self.resolutions = [int(math.floor(config.grid_base_resolution * growth**level)) for level in range(levels)]
        self.dense = [(cells + 1) ** dims <= config.grid_table_size for cells in self.resolutions]
        self.tables = nn.ParameterList(
            nn.Parameter(torch.empty((cells + 1) ** dims if dense else config.grid_table_size, config.grid_features))
            for cells, dense in zip(self.resolutions, self.dense))
        sizes = [levels * config.grid_features] + [config.hidden_features] * config.hidden_layers
        self.layers = Linears.of_sizes(sizes)
        self.output = nn.Linear(config.hidden_features, config.out_features)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Table entries `U(−10⁻⁴, 10⁻⁴)`; the MLP PyTorch's default."""
        with torch.no_grad():
            for table in self.tables:
                table.uniform_(-1e-4, 1e-4)
            for layer in [*self.layers, self.output]:
                layer.reset_parameters()

    def node_index(self, level: int, nodes: torch.Tensor) -> torch.Tensor:
        """Row of `nodes: (N, d)` (integer coordinates) in level `level`'s table."""
        cells, size = self.resolutions[level], self.tables[level].shape[0]
        if self.dense[level]:
            strides = torch.tensor([(cells + 1) ** axis for axis in range(nodes.shape[1])], device=nodes.device)
            return (nodes * strides).sum(dim=1)
        hashed = nodes[:, 0] * PRIMES[0]
        for axis in range(1, nodes.shape[1]):
            hashed = torch.bitwise_xor(hashed, nodes[:, axis] * PRIMES[axis % len(PRIMES)])
        return hashed % size

    def encode(self, coords: torch.Tensor) -> torch.Tensor:
        """`(N, d)` coordinates → `(N, L·F)` interpolated features."""
        features = []
        for level, cells in enumerate(self.resolutions):
            lower, corners = cell_corners(coords, cells)
            features.append(sum_over_corners(corners, functools.partial(self.level_rows, level, lower)))
        return torch.cat(features, dim=1)

    def level_rows(self, level: int, lower: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """The table rows of the nodes `lower + step` in level `level`."""
        return self.tables[level][self.node_index(level, lower + step)]

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        hidden = self.encode(coords)
        for layer in self.layers:
            hidden = torch.relu(layer(hidden))
        return self.output(hidden)


def grid_nodes(config: NetworkConfig) -> int:
    """Nodes along each axis of a dense grid."""
    return config.grid_resolution or max(config.pe_sidelength, 2)


class DenseGrid(nn.Module):
    """Learned values at `R^d` nodes spanning [-1, 1]^d, interpolated multilinearly."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        if config.model != "grid":
            raise ValueError(f"DenseGrid needs model='grid', got {config.model!r}")
        self.config = config
        self.nodes = grid_nodes(config)
        self.values = nn.Parameter(torch.zeros(self.nodes**config.in_features, config.out_features))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        lower, corners = cell_corners(coords, self.nodes - 1)
        strides = torch.tensor([self.nodes**axis for axis in range(coords.shape[1])], device=coords.device)
        return sum_over_corners(corners, lambda step: self.values[((lower + step) * strides).sum(dim=1)])


def hash_grid_for_budget(config: NetworkConfig, parameters: int) -> NetworkConfig:
    """The table size that brings a hash grid closest to `parameters` (its MLP as configured)."""
    family = get_family("hash-grid")

    def count(size: int) -> int:
        return family.count_parameters(dataclasses.replace(config, grid_table_size=size))

    return dataclasses.replace(config, grid_table_size=closest_size(count, parameters, 1 << 26))


def dense_grid_for_budget(config: NetworkConfig, parameters: int) -> NetworkConfig:
    """The resolution whose `R^d × C` values come closest to `parameters`."""
    nodes = max(2, round((parameters / config.out_features) ** (1 / config.in_features)))
    return dataclasses.replace(config, grid_resolution=nodes)


def hash_grid_size(config: NetworkConfig) -> str:
    """`T=2^14 ×16 + 64×2`: the table size per level, the levels, the head's width × layers."""
    table = config.grid_table_size
    shown = f"2^{table.bit_length() - 1}" if table & (table - 1) == 0 else str(table)
    return f"T={shown}×{config.grid_levels} + {config.hidden_features}×{config.hidden_layers}"


def dense_grid_size(config: NetworkConfig) -> str:
    """`445^2 nodes`."""
    return f"{grid_nodes(config)}^{config.in_features} nodes"


LINEAR_CELLS = "are zero inside every cell along each axis (multilinear interpolation)"

register_family(NetworkFamily(
    "hash-grid", build=HashGrid, summary="multiresolution hash encoding + ReLU MLP (Müller et al. 2022)",
    second_derivatives=False, why_no_second_derivatives=LINEAR_CELLS + " and its ReLU head is piecewise linear",
    bfloat16=False, defaults={"hidden_features": 64, "hidden_layers": 2}, for_budget=hash_grid_for_budget,
    describe_size=hash_grid_size, learning_rate_factor=27.0,
    settings=("grid_levels", "grid_features", "grid_table_size", "grid_base_resolution"),
    config_fields=("grid_levels", "grid_features", "grid_table_size", "grid_base_resolution")))
register_family(NetworkFamily(
    "grid", build=DenseGrid, summary="a plain learned grid, multilinear interpolation",
    second_derivatives=False, why_no_second_derivatives=LINEAR_CELLS, bfloat16=False,
    for_budget=dense_grid_for_budget, describe_size=dense_grid_size, settings=("grid_resolution",),
    config_fields=("grid_resolution",),
    learning_rate_factor=81.0))
