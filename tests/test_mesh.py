"""Meshes out of signed distance functions (sirenkit/signals/shape/mesh.py): the coarse-to-fine grid against the
dense one, marching cubes in the grid's own coordinates, files, and the error where there is no
surface. (test_sdf.py checks a centred sphere at bound 1 and the fitted shapes.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import trimesh
from torch import nn

from sirenkit.signals.shape.mesh import extract_surface, marching_cubes, save_mesh, sdf_grid, sdf_slabs


class Spheres(nn.Module):
    """The exact SDF of a union of spheres, ``(N, 3) -> (N, 1)``."""

    def __init__(self, centres, radii, *, steepness: float = 1.0) -> None:
        super().__init__()
        self.centres = torch.tensor(centres, dtype=torch.float32)
        self.radii = torch.tensor(radii, dtype=torch.float32)
        self.steepness = steepness  # 1: a distance; more: not an SDF (|∇Φ| > 1), for the negative control
        self.dummy = nn.Parameter(torch.zeros(1))  # sdf_grid asks the parameters for the device

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        distances = (points[:, None, :] - self.centres).norm(dim=-1) - self.radii  # (N, spheres)
        return self.steepness * distances.min(dim=1, keepdim=True).values + 0 * self.dummy


def test_coarse_to_fine_equals_the_dense_grid_near_the_surface_and_in_sign_everywhere():
    """Two spheres, one off-centre, on [-1.5, 1.5]³ at a resolution that the blocks do not divide,
    evaluated in chunks smaller than a slab."""
    shape = Spheres([[0.3, -0.2, 0.1], [-0.9, 0.8, -0.6]], [0.6, 0.3])
    dense = sdf_grid(shape, 90, bound=1.5, block=None, chunk=7000)
    banded = sdf_grid(shape, 90, bound=1.5, block=8, chunk=7000)
    assert dense.shape == banded.shape == (90, 90, 90) and banded.dtype == np.float32
    axis = np.linspace(-1.5, 1.5, 90)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    exact = np.minimum(np.sqrt((x - 0.3) ** 2 + (y + 0.2) ** 2 + (z - 0.1) ** 2) - 0.6,
                       np.sqrt((x + 0.9) ** 2 + (y - 0.8) ** 2 + (z + 0.6) ** 2) - 0.3)
    assert np.allclose(dense, exact, atol=1e-5)  # indexed [x, y, z] over [-bound, bound]
    assert np.array_equal(np.sign(dense), np.sign(banded))
    near = np.abs(dense) < 0.1
    assert np.array_equal(dense[near], banded[near])
    assert (banded != dense).mean() > 0.2  # far from the surface it did interpolate
    dense_vertices, dense_faces, _ = marching_cubes(dense, bound=1.5)
    banded_vertices, banded_faces, _ = marching_cubes(banded, bound=1.5)
    assert np.array_equal(dense_faces, banded_faces) and np.allclose(dense_vertices, banded_vertices)


def test_the_dense_comparison_catches_a_surface_the_coarse_grid_misses():
    """Negative control: where Φ is not a distance (10 |∇Φ|), a sphere smaller than a coarse cell
    stays far from zero at every coarse corner and the coarse-to-fine grid loses it; the
    comparison above would show it."""
    small = Spheres([[0.0, 0.0, 0.0]], [0.06], steepness=10.0)  # amid a coarse cell, 0.16 from its corners
    dense = sdf_grid(small, 90, block=None)
    banded = sdf_grid(small, 90, block=8)
    assert (dense < 0).any() and not (banded < 0).any()
    assert (sdf_grid(Spheres([[0.0, 0.0, 0.0]], [0.06]), 90, block=8) < 0).any()  # as a distance, it is found


def test_marching_cubes_puts_an_off_centre_sphere_where_it_is_and_any_level_set_too():
    bound, centre, radius = 2.0, np.array([0.5, -0.3, 0.2]), 0.8
    axis = np.linspace(-bound, bound, 81)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1)
    values = (np.linalg.norm(grid - centre, axis=-1) - radius).astype(np.float32)
    for level in (0.0, 0.3):
        vertices, faces, normals = marching_cubes(values, bound=bound, level=level)
        mesh = trimesh.Trimesh(vertices, faces, process=False)
        distance = np.linalg.norm(vertices - centre, axis=1)
        assert np.abs(distance - (radius + level)).max() < 0.01, level  # in coordinates, not grid units
        assert mesh.area == pytest.approx(4 * math.pi * (radius + level) ** 2, rel=0.01)
        assert mesh.volume == pytest.approx(4 / 3 * math.pi * (radius + level) ** 3, rel=0.01)  # wound outward
        assert np.mean(np.einsum("ij,ij->i", normals, vertices - centre) > 0) > 0.99  # towards positive Φ


def test_sdf_grid_refuses_a_grid_of_one_point():
    with pytest.raises(ValueError, match="resolution of at least 2"):
        sdf_grid(Spheres([[0, 0, 0]], [0.5]), 1)


@pytest.mark.parametrize("suffix", [".ply", ".obj", ".off"])
def test_save_mesh_round_trip_keeps_vertices_and_faces(tmp_path, suffix):
    values = sdf_grid(Spheres([[0.0, 0.0, 0.0]], [0.5]), 20)
    vertices, faces, _ = marching_cubes(values)
    path = save_mesh(tmp_path / f"ball{suffix}", vertices, faces)
    back = trimesh.load(path, process=False)
    assert np.allclose(back.vertices, vertices, atol=1e-5)
    assert np.array_equal(back.faces, faces)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"ball{suffix}"]  # no temporary files left


def test_save_mesh_refuses_an_unknown_format_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"ball\.xyz: unsupported mesh format"):
        save_mesh(tmp_path / "ball.xyz", np.zeros((3, 3)), np.array([[0, 1, 2]]))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("values, level, side", [
    (np.full((8, 8, 8), 0.4, np.float32), 0.0, "positive"),
    (np.full((8, 8, 8), -0.4, np.float32), 0.0, "negative"),
    (np.linspace(0.0, 1.0, 512, dtype=np.float32).reshape(8, 8, 8), 0.0, "positive"),  # touches 0, never crosses
    (np.linspace(-1.0, 1.0, 512, dtype=np.float32).reshape(8, 8, 8), 2.0, "negative"),  # a level outside the range
])
def test_no_surface_at_the_level_set_is_a_clear_error_not_an_empty_mesh(values, level, side):
    with pytest.raises(ValueError, match="level set") as raised:
        marching_cubes(values, level=level)
    message = str(raised.value)
    assert side in message and "\n" not in message


@pytest.mark.parametrize("block, planes", [(None, 2), (None, 7), (8, 3), (8, 90)])
def test_meshing_slab_by_slab_gives_the_mesh_of_the_whole_grid(block, planes):
    """Marching cubes per slab, the slabs' shared planes merged: the vertices of the whole grid's
    mesh, as many faces, watertight (no seam left open, no vertex doubled)."""
    shape = Spheres([[0.3, -0.2, 0.1], [-0.9, 0.8, -0.6]], [0.6, 0.3])
    whole_vertices, whole_faces, _ = marching_cubes(sdf_grid(shape, 90, bound=1.5, block=block), bound=1.5)
    vertices, faces, normals = extract_surface(shape, 90, bound=1.5, block=block, planes=planes)
    assert len(faces) == len(whole_faces) and len(vertices) == len(whole_vertices) == len(normals)
    assert np.allclose(np.unique(vertices.round(5), axis=0), np.unique(whole_vertices.round(5), axis=0), atol=1e-5)
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    assert mesh.is_watertight and len(mesh.split(only_watertight=False)) == 2
    assert mesh.volume == pytest.approx(trimesh.Trimesh(whole_vertices, whole_faces, process=False).volume, rel=1e-6)
    centres = np.where(np.linalg.norm(vertices - [0.3, -0.2, 0.1], axis=1, keepdims=True) < 0.7,
                       [[0.3, -0.2, 0.1]], [[-0.9, 0.8, -0.6]])
    assert np.mean(np.einsum("ij,ij->i", normals, vertices - centres) > 0) > 0.99  # outward


def test_slabs_share_their_boundary_plane_and_cover_the_grid():
    shape = Spheres([[0.0, 0.0, 0.0]], [0.5])
    firsts, sizes = [], []
    previous = None
    for first, slab in sdf_slabs(shape, 40, planes=6):
        if previous is not None:
            assert np.array_equal(slab[0], previous)
        firsts.append(first)
        sizes.append(len(slab))
        previous = slab[-1]
    assert firsts == [0, 5, 10, 15, 20, 25, 30, 35] and firsts[-1] + sizes[-1] == 40


def test_the_mesh_of_a_grid_larger_than_memory_is_refused_before_its_slabs(monkeypatch):
    """Slabs keep the grid within memory at any resolution; the mesh itself is estimated from the
    coarse grid and refused with the resolution that fits, before any slab is evaluated."""
    import sirenkit.resources as resources
    import sirenkit.signals.shape.mesh as mesh_module

    shape = Spheres([[0.0, 0.0, 0.0]], [0.5])
    monkeypatch.setattr(resources, "available_memory", lambda: 4 * 10**6)
    assert mesh_module.slab_planes(90) == 3  # a quarter of 4 MB in planes of 90² × 32 bytes
    vertices, faces, _ = extract_surface(shape, 90)
    assert trimesh.Trimesh(vertices, faces, process=False).is_watertight
    monkeypatch.setattr(mesh_module, "MESH_BYTES_PER_FACE", 10_000)
    with pytest.raises(ValueError, match=r"the mesh at 90³ \(~[\d,]+ faces\) needs ~.*use --resolution \d+ or less"):
        extract_surface(shape, 90)
    monkeypatch.setattr(resources, "available_memory", lambda: 10**5)
    with pytest.raises(ValueError, match=r"a slab of a 90³ grid needs"):
        extract_surface(shape, 90)
