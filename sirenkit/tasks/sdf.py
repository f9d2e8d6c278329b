"""Signed distance functions from oriented point clouds (DESIGN.md §4): the paper's four loss
terms as constraints on two domains, the surface samples and free space.

- ``surface``: ``|Φ| = 0`` on the surface (weight 3e3);
- ``normal``: ``1 − cos(∇Φ, n) = 0`` on the surface (1e2);
- ``off-surface``: ``exp(−100 |Φ|)`` small away from it (1e2), so that no spurious zero appears;
- ``eikonal``: ``‖∇Φ‖ = 1`` on both sets (5e1 over their union, split by their point counts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import NetworkConfig, TrainConfig, to_dict
from ..constraints import Constraint, PointSet, Problem
from ..figures import curve_figure, new_figure, save_figure
from ..io import LoadedModel, atomic_write_path, save_model, write_json
from ..mesh import marching_cubes, render_mesh, save_mesh, sdf_grid, supported_components
from ..metrics import SURFACE_METRIC_CONVENTIONS, compare_meshes, surface_distances
from ..pointcloud import PointCloud, load_point_cloud
from ..training import FitResult
from .common import fit_summary, history_series, run_recipe
from .image import save_png


@dataclass(frozen=True)
class SdfConfig:
    """Sampling, loss weights and meshing of an SDF fit."""

    surface_points: int = 8192
    """Surface samples per step (with their normals)."""
    free_points: int = 8192
    """Free-space points per step, uniform in [-1, 1]³ (or partly near the surface)."""
    near_surface_fraction: float = 0.0
    """Fraction of the free points drawn near the surface (a surface sample plus Gaussian noise)
    instead of uniformly; 0 is the paper's recipe."""
    near_surface_sigma: float = 0.02
    """Standard deviation of that noise, in the normalised frame."""
    surface_weight: float = 3e3
    normal_weight: float = 1e2
    off_surface_weight: float = 1e2
    eikonal_weight: float = 5e1
    samples: int = 250_000
    """Points drawn on a mesh input's surface (the training set)."""
    margin: float = 0.1
    """Free border around the shape in [-1, 1]³."""
    mesh_resolution: int = 256
    """Grid of the mesh the fit writes (``sirenkit mesh`` makes others)."""
    metric_samples: int = 200_000
    """Samples per surface for Chamfer distance and F-score."""
    keep_unsupported: bool = False
    """Keep mesh pieces that no input point supports (a void inside the solid, a blob in free
    space); by default they are dropped (:func:`sirenkit.mesh.supported_components`)."""

    def __post_init__(self) -> None:
        if self.surface_points < 1 or self.free_points < 1:
            raise ValueError("surface_points and free_points must be at least 1")
        if not 0.0 <= self.near_surface_fraction <= 1.0:
            raise ValueError(f"near_surface_fraction must be in [0, 1], got {self.near_surface_fraction}")
        if self.mesh_resolution < 8:
            raise ValueError(f"mesh_resolution must be at least 8, got {self.mesh_resolution}")


class FreeSpace:
    """Points uniform in ``[-1, 1]^3``, a fraction of them instead near the surface samples."""

    def __init__(self, surface: torch.Tensor, batch_size: int, *, near_fraction: float = 0.0,
                 sigma: float = 0.02) -> None:
        self.surface = surface
        self.batch_size = batch_size
        self.near_fraction = near_fraction
        self.sigma = sigma

    @property
    def size(self) -> int:
        return self.batch_size

    def to(self, device: torch.device) -> "FreeSpace":
        return FreeSpace(self.surface.to(device), self.batch_size, near_fraction=self.near_fraction, sigma=self.sigma)

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        near = int(round(self.batch_size * self.near_fraction))
        uniform = torch.rand(self.batch_size - near, 3, generator=generator) * 2 - 1
        parts = [uniform.to(self.surface.device)]
        if near:
            index = torch.randint(len(self.surface), (near,), generator=generator).to(self.surface.device)
            noise = torch.randn(near, 3, generator=generator).to(self.surface.device) * self.sigma
            parts.append((self.surface[index] + noise).clamp(-1, 1))
        return torch.cat(parts), {}


def sdf_network(model: str = "siren", **settings: Any) -> NetworkConfig:
    """The paper's SDF network: 3 → 256 × 4 → 1 (a baseline of the same size for other models)."""
    return NetworkConfig(in_features=3, out_features=1, model=model, pe_sidelength=256, **settings)


def sdf_train_config() -> TrainConfig:
    """Default training of an SDF fit: Adam at 1e-4 (the paper's) with a cosine decay,
    gradient-norm clipping at 1, 4,000 steps, bfloat16 hidden layers where the hardware has them
    (an SDF step is 5× faster than the paper's that way on the 2-core CPU: README, "Speed")."""
    return TrainConfig(steps=4000, learning_rate=1e-4, warmup_steps=10, clip_grad_norm=1.0, precision="auto",
                       divergence_factor=1e6, log_every=50, checkpoint_every=200)


def sdf_problem(cloud: PointCloud, config: SdfConfig, device: torch.device) -> Problem:
    """The paper's four loss terms (module docstring) on ``cloud``'s normalised points."""
    points = torch.from_numpy(cloud.points).to(device)
    normals = torch.from_numpy(cloud.normals).to(device)
    surface = PointSet(points, {"normal": normals}, batch_size=min(config.surface_points, len(points)))
    free = FreeSpace(points, config.free_points, near_fraction=config.near_surface_fraction,
                     sigma=config.near_surface_sigma)
    surface_share = surface.batch_size / (surface.batch_size + free.batch_size)

    def normal_residual(fields):
        return 1 - nn.functional.cosine_similarity(fields.gradient, fields.data["normal"], dim=-1)

    def eikonal_residual(fields):
        return fields.gradient.norm(dim=-1) - 1

    constraints = [
        Constraint("surface", lambda f: f.value, surface, weight=config.surface_weight, norm="l1"),
        Constraint("normal", normal_residual, surface, needs=("jacobian",), weight=config.normal_weight, norm="l1"),
        Constraint("eikonal-surface", eikonal_residual, surface, needs=("jacobian",),
                   weight=config.eikonal_weight * surface_share, norm="l1"),
        Constraint("off-surface", lambda f: torch.exp(-100 * f.value.abs()), free,
                   weight=config.off_surface_weight, norm="l1"),
        Constraint("eikonal-free", eikonal_residual, free, needs=("jacobian",),
                   weight=config.eikonal_weight * (1 - surface_share), norm="l1"),
    ]
    probe = points[torch.randperm(len(points), generator=torch.Generator().manual_seed(1))[:4096].to(device)]

    def evaluate(model: nn.Module) -> dict[str, float]:
        """Mean |Φ| on surface samples, as a fraction of the bounding-box diagonal of [-1, 1]³."""
        value = model(probe)
        return {"surface_distance": float(value.abs().mean()) / (2 * np.sqrt(3))}

    return Problem(constraints, evaluate=evaluate)


def signal_description(cloud: PointCloud) -> dict[str, Any]:
    """What ``model.json`` records to turn the network back into the input's coordinates."""
    return {"kind": "sdf", "source": cloud.name, **cloud.transform, "bound": 1.0,
            "normals_estimated": cloud.normals_estimated}


@dataclass
class SdfFit:
    """The outcome of :func:`fit_sdf`."""

    model: nn.Module
    network: NetworkConfig
    cloud: PointCloud
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    out: Path | None = None
    vertices: np.ndarray | None = None
    """Mesh vertices in the input's coordinates."""
    faces: np.ndarray | None = None
    pieces_dropped: int = 0
    """Mesh pieces without support in the input, left out of ``vertices``/``faces``."""


def fit_sdf(
    source: str | Path | PointCloud,
    *,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    config: SdfConfig | None = None,
    model: str = "siren",
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> SdfFit:
    """Fit an SDF to an oriented point cloud or a mesh and, with ``out``, write the run folder:
    model, ``mesh.ply`` (input coordinates), ``mesh.png``, ``slices.png``, ``loss.png``,
    ``metrics.json`` (Chamfer, F-score, normal consistency against the input), ``history.json``,
    ``config.json``."""
    config = config or SdfConfig()
    cloud = source if isinstance(source, PointCloud) else load_point_cloud(source, samples=config.samples,
                                                                          margin=config.margin)
    network = network or sdf_network(model)
    if network.in_features != 3 or network.out_features != 1:
        raise ValueError(f"an SDF network maps 3 → 1, got {network.in_features} → {network.out_features}")
    train = train or sdf_train_config()
    run = run_recipe(network, train, lambda device: sdf_problem(cloud, config, device), task="sdf",
                     settings={"source": cloud.name, **to_dict(config)}, out=out, resume=resume, progress=progress)
    fitting = SdfFit(run.model, network, cloud, {}, run.result.history, run.out)
    support = None if config.keep_unsupported else support_points(cloud)
    fitting.vertices, fitting.faces, fitting.pieces_dropped = mesh_in_input_frame(
        run.model, cloud, config.mesh_resolution, support=support)
    fitting.metrics = _metrics(fitting, run.result, config, wall=time.perf_counter() - run.started)
    if run.out is not None:
        write_sdf_run(fitting, run.out)
    return fitting


def mesh_in_input_frame(model: nn.Module, cloud: PointCloud | dict, resolution: int, *,
                        support: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Marching cubes of the zero level set on a ``resolution³`` grid, in the input's coordinates:
    ``(vertices, faces, pieces dropped)``. With ``support`` (input surface points in the normalised
    frame), pieces the data does not support are dropped."""
    transform = cloud.transform if isinstance(cloud, PointCloud) else cloud
    vertices, faces, _ = marching_cubes(sdf_grid(model, resolution))
    dropped = 0
    if support is not None:
        vertices, faces, dropped = supported_components(vertices, faces, support)
    vertices = vertices * transform["scale"] + np.asarray(transform["center"])
    return vertices, faces, dropped


SUPPORT_FILE = "support.npy"
"""The run folder's subsample of the input's normalised surface points, for ``sirenkit mesh``."""


def support_points(cloud: PointCloud, count: int = 65_536) -> np.ndarray:
    """``(min(count, N), 3)`` float32 surface points of ``cloud`` (normalised frame), a fixed
    random subset: what decides which mesh pieces the data supports."""
    points = cloud.points
    if len(points) > count:
        points = points[np.random.default_rng(0).choice(len(points), count, replace=False)]
    return np.ascontiguousarray(points, dtype=np.float32)


def reference_surface(cloud: PointCloud):
    """The input as a ``trimesh.Trimesh`` when it was a mesh, else ``None``."""
    import trimesh

    if cloud.faces is None:
        return None
    return trimesh.Trimesh(vertices=cloud.vertices, faces=cloud.faces, process=False)


def _metrics(fitting: SdfFit, result: FitResult, config: SdfConfig, *, wall: float) -> dict[str, Any]:
    import trimesh

    estimate = trimesh.Trimesh(vertices=fitting.vertices, faces=fitting.faces, process=False)
    reference = reference_surface(fitting.cloud)
    if reference is not None:
        quality = compare_meshes(estimate, reference, samples=config.metric_samples)
        against = "the input mesh (uniform surface samples)"
    else:  # a point cloud: its own points and normals are the reference samples
        original = fitting.cloud.to_original(fitting.cloud.points)
        diagonal = float(np.linalg.norm(original.max(axis=0) - original.min(axis=0)))
        points, faces = trimesh.sample.sample_surface(estimate, config.metric_samples, seed=0)
        quality = surface_distances(points, estimate.face_normals[faces], original, fitting.cloud.normals,
                                    diagonal=diagonal)
        quality["diagonal"] = diagonal
        against = "the input points and normals"
    return {
        **quality,
        "against": against,
        "conventions": SURFACE_METRIC_CONVENTIONS,
        "mesh_resolution": config.mesh_resolution,
        "vertices": int(len(fitting.vertices)),
        "faces": int(len(fitting.faces)),
        "watertight": bool(estimate.is_watertight),
        "pieces_dropped": fitting.pieces_dropped,
        **fit_summary(result, wall, fitting.network, [len(fitting.cloud.points)], 1),
    }


def slices_figure(model: nn.Module, path: Path, *, resolution: int = 256) -> None:
    """Φ on the x = 0, y = 0 and z = 0 planes of the normalised frame, with the zero contour."""
    device = next(model.parameters()).device
    axis = torch.linspace(-1, 1, resolution, device=device)
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    zero = torch.zeros_like(a)
    planes = {"x = 0": (zero, a, b), "y = 0": (a, zero, b), "z = 0": (a, b, zero)}
    labels = {"x = 0": ("y", "z"), "y = 0": ("x", "z"), "z = 0": ("x", "y")}
    figure, axes = new_figure(1, 3, figsize=(13, 4.4))
    with torch.no_grad():
        for ax, (name, (x, y, z)) in zip(axes, planes.items()):
            values = model(torch.stack([x, y, z], -1).reshape(-1, 3)).reshape(resolution, resolution).float().cpu().numpy()
            limit = float(np.abs(values).max()) or 1.0
            shown = ax.imshow(values.T, origin="lower", extent=(-1, 1, -1, 1), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.contour(values.T, levels=[0.0], colors="k", linewidths=1.2, extent=(-1, 1, -1, 1), origin="lower")
            ax.contour(values.T, levels=np.linspace(-limit, limit, 21), colors="k", linewidths=0.3, alpha=0.4,
                       extent=(-1, 1, -1, 1), origin="lower")
            ax.set_title(f"Φ on {name}")
            ax.set_xlabel(labels[name][0])
            ax.set_ylabel(labels[name][1])
            figure.colorbar(shown, ax=ax, fraction=0.046)
    figure.tight_layout()
    save_figure(figure, path)


def write_sdf_run(fitting: SdfFit, out: Path) -> None:
    """Model, mesh, figures, metrics and history of an SDF fit."""
    save_model(out, fitting.model, fitting.network, signal_description(fitting.cloud))
    save_mesh(out / "mesh.ply", fitting.vertices, fitting.faces)
    atomic_write_path(out / SUPPORT_FILE, lambda temporary: np.save(temporary, support_points(fitting.cloud)))
    save_png(out / "mesh.png", render_mesh(fitting.vertices, fitting.faces))
    slices_figure(fitting.model, out / "slices.png")
    terms = ("surface", "normal", "eikonal-surface", "off-surface", "eikonal-free")
    curve_figure({name: history_series(fitting.history, name) for name in terms}, out / "loss.png",
                 xlabel="step", ylabel="weighted loss term", title="SDF loss terms per step", log_y=True)
    write_json(out / "history.json", fitting.history)
    write_json(out / "metrics.json", fitting.metrics)


def loaded_transform(loaded: LoadedModel) -> dict[str, Any]:
    """The normalising transform a saved SDF model records."""
    if loaded.signal.get("kind") != "sdf":
        raise ValueError(f"{loaded.path}: not an SDF model (it holds a {loaded.signal.get('kind')})")
    return {"center": loaded.signal["center"], "scale": loaded.signal["scale"]}
