"""The shape kind: a network `(x, y, z) → Φ`, the signed distance to a surface.

Coordinates are the input's, normalised into [-1, 1]³ (`original = normalised · scale + center`,
stored); the fitted signal of an oriented point cloud or a mesh. Fitting is the paper's four loss
terms as constraints on two domains, the surface samples and free space:

- `surface`: `|Φ| = 0` on the surface (weight 3e3);
- `normal`: `1 − cos(∇Φ, n) = 0` on the surface (1e2);
- `off-surface`: `exp(−100 |Φ|)` small away from it (1e2), so that no spurious zero appears;
- `eikonal`: `‖∇Φ‖ = 1` on both sets (5e1 over their union, split by their point counts).

Its rendering is a mesh of the zero level set in the input's coordinates
([`sirenkit.extract_mesh`][sirenkit.extract_mesh] writes one from a run folder).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from sirenkit.engine.config import TrainConfig
from sirenkit.engine.kinds import PROMISED_SECONDS, Fitted, SignalKind, register_kind
from sirenkit.metrics import METRIC_SAMPLES, SURFACE_METRIC_CONVENTIONS, Metric, compare_meshes, surface_distances
from sirenkit.networks.config import NetworkConfig
from sirenkit.pictures import save_png
from sirenkit.problems.constraints import Constraint, Problem
from sirenkit.problems.domains import PointSet
from sirenkit.signals.shape.data import SUFFIXES, PointCloud
from sirenkit.signals.shape.mesh import extract_surface, render_mesh, save_mesh, supported_components

LOSS_TERMS = ("surface", "normal", "eikonal-surface", "off-surface", "eikonal-free")


@dataclass(frozen=True)
class SdfConfig:
    """Sampling, loss weights and meshing of a signed distance fit (`fit_sdf`'s `config`).

    The loss is the paper's: the distance on the surface, the normals' agreement there, a penalty
    on small distances off the surface, and the eikonal term `|∇Φ| = 1`, each with its weight.

    Raises:
        ValueError: Fewer than one point per step, a near-surface fraction outside [0, 1], or a
            mesh resolution below 8.
    """

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
    """Weight of `Φ = 0` on the surface samples."""
    normal_weight: float = 1e2
    """Weight of the agreement of `∇Φ` with the surface normals."""
    off_surface_weight: float = 1e2
    """Weight of the penalty on distances near 0 away from the surface."""
    eikonal_weight: float = 5e1
    """Weight of `|∇Φ| = 1` everywhere."""
    samples: int = 250_000
    """Points drawn on a mesh input's surface (the training set)."""
    margin: float = 0.1
    """Free border around the shape in [-1, 1]³."""
    mesh_resolution: int = 256
    """Grid of the mesh the fit writes (`sirenkit mesh` makes others)."""
    metric_samples: int = METRIC_SAMPLES
    """Samples per surface for Chamfer distance and F-score."""
    keep_unsupported: bool = False
    """Keep mesh pieces that no input point supports (a void inside the solid, a blob in free
    space); by default they are dropped (`sirenkit.signals.shape.mesh.supported_components`)."""

    def __post_init__(self) -> None:
        if self.surface_points < 1 or self.free_points < 1:
            raise ValueError("surface_points and free_points must be at least 1")
        if not 0.0 <= self.near_surface_fraction <= 1.0:
            raise ValueError(f"near_surface_fraction must be in [0, 1], got {self.near_surface_fraction}")
        if self.mesh_resolution < 8:
            raise ValueError(f"mesh_resolution must be at least 8, got {self.mesh_resolution}")


class FreeSpace:
    """Points uniform in `[-1, 1]^3`, a fraction of them instead near the surface samples."""

    def __init__(self, surface: torch.Tensor, batch_size: int, *, near_fraction: float = 0.0,
                 sigma: float = 0.02) -> None:
        self.surface = surface
        self.batch_size = batch_size
        self.near_fraction = near_fraction
        self.sigma = sigma

    @property
    def size(self) -> int:
        return self.batch_size

    def to(self, device: torch.device) -> FreeSpace:
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


def sdf_problem(cloud: PointCloud, config: SdfConfig, device: torch.device) -> Problem:
    """The paper's four loss terms (module docstring) on `cloud`'s normalised points."""
    points = torch.from_numpy(cloud.points).to(device)
    normals = torch.from_numpy(cloud.normals).to(device)
    surface = PointSet(points, {"normal": normals}, batch_size=min(config.surface_points, len(points)))
    free = FreeSpace(points, config.free_points, near_fraction=config.near_surface_fraction,
                     sigma=config.near_surface_sigma)
    surface_count = min(config.surface_points, len(points))
    surface_share = surface_count / (surface_count + free.batch_size)

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
    return Problem(constraints)



Mesh = tuple[np.ndarray, np.ndarray, int]
"""`(vertices (V, 3) in the input's coordinates, faces (F, 3), pieces dropped)`."""


@register_kind
@dataclass(frozen=True, kw_only=True)
class ShapeKind(SignalKind):
    """The signed distance function of a shape, in a frame normalised into [-1, 1]³:
    `original = normalised · scale + center`.
    """

    name: ClassVar[str] = "sdf"
    in_features: ClassVar[int] = 3
    target_metric: ClassVar[str] = "surface_distance"
    """Logged at every evaluation (the Chamfer distance needs a mesh, made once at the end)."""
    metrics: ClassVar[tuple[Metric, ...]] = (
        Metric("surface_distance", higher_is_better=False),
        Metric("chamfer_l1", higher_is_better=False),
        Metric("fscore", higher_is_better=True),
        Metric("normal_consistency", higher_is_better=True),
        Metric("iou", higher_is_better=True),
    )
    render_hint: ClassVar[str] = "for an SDF: sirenkit mesh, or sirenkit.extract_mesh"
    input_suffixes: ClassVar[tuple[str, ...]] = SUFFIXES  # what the reader reads: no .glb, no .npy
    score_names: ClassVar[tuple[str, ...]] = ("chamfer_l1", "fscore", "normal_consistency")
    contact_title: ClassVar[str] = "each fitted mesh (Chamfer-L1 against its input)"

    center: tuple[float, float, float]
    """Where the input's bounding-box centre went: `original = normalised · scale + center`."""
    scale: float
    """The normalising scale: `original = normalised · scale + center`."""
    bound: float = 1.0
    """The network's domain is `[-bound, bound]³`."""
    normals_estimated: bool = False
    """Whether the input's normals were estimated (a point cloud without them)."""

    @classmethod
    def describe(cls, cloud: PointCloud) -> ShapeKind:
        x, y, z = (float(c) for c in cloud.center)
        return cls(source=cloud.name, center=(x, y, z), scale=float(cloud.scale),
                   normals_estimated=cloud.normals_estimated)

    @property
    def out_features(self) -> int:
        return 1

    def network(self, model: str = "siren", **settings: Any) -> NetworkConfig:
        """The paper's SDF network: 3 → 256 × 4 → 1 (a baseline of the same size for other models)."""
        settings.setdefault("pe_sidelength", 256)
        return super().network(model, **settings)

    def train_config(self) -> TrainConfig:
        """Default training of an SDF fit: Adam at 1e-4 (the paper's) with a cosine decay,
        gradient-norm clipping at 1, 4,000 steps, bfloat16 hidden layers where the hardware has them
        (an SDF step is 5× faster than the paper's that way on the 2-core CPU: docs, "Benchmarks")."""
        return TrainConfig(steps=4000, learning_rate=1e-4, warmup_steps=10, clip_grad_norm=1.0, precision="auto",
                           divergence_factor=1e6, log_every=50, checkpoint_every=200,
                           time_budget=PROMISED_SECONDS["sdf"])

    def problem(self, signal: PointCloud, *, batch_size: int | None, device: torch.device) -> Problem:
        """The paper's four loss terms with [`SdfConfig`][sirenkit.SdfConfig]'s defaults."""
        return sdf_problem(signal, SdfConfig(), device)

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """Map normalised points to the input's coordinates.

        Args:
            points: `(..., 3)` points in the normalised frame.

        Returns:
            The same points in the input's coordinates.
        """
        return points * self.scale + np.asarray(self.center)

    def render(self, model: nn.Module, *, resolution: int = 256, support: np.ndarray | None = None) -> Mesh:
        """Extract the surface: marching cubes of the zero level set, in the input's coordinates.

        Args:
            model: The fitted network.
            resolution: Grid points along each axis.
            support: Input surface points in the normalised frame; with them, the pieces the data do
                not support are dropped (`sirenkit.signals.shape.mesh.supported_components`).

        Returns:
            `(vertices, faces, pieces dropped)`.
        """
        vertices, faces, _ = extract_surface(model, resolution, bound=self.bound)
        dropped = 0
        if support is not None:
            vertices, faces, dropped = supported_components(vertices, faces, support)
        return self.to_original(vertices), faces, dropped

    def measure(self, rendered: Mesh, signal: PointCloud, *, final: bool = True,
                samples: int = METRIC_SAMPLES) -> dict[str, Any]:
        """Chamfer distances, F-score and normal consistency of the mesh against the input mesh
        (uniform samples), or against the input points and normals for a point cloud."""
        import trimesh

        vertices, faces, dropped = rendered
        estimate = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
        reference = reference_surface(signal)
        if reference is not None:
            quality = compare_meshes(estimate, reference, samples=samples)
            against = "the input mesh (uniform surface samples)"
        else:  # a point cloud: its own points and normals are the reference samples
            original = signal.to_original(signal.points)
            diagonal = float(np.linalg.norm(original.max(axis=0) - original.min(axis=0)))
            points, sampled = trimesh.sample.sample_surface(estimate, samples, seed=0)
            quality = surface_distances(points, estimate.face_normals[sampled], original, signal.normals,
                                        diagonal=diagonal)
            quality["diagonal"] = diagonal
            against = "the input points and normals"
        return {**quality, "against": against, "conventions": SURFACE_METRIC_CONVENTIONS,
                "vertices": int(len(vertices)), "faces": int(len(faces)), "watertight": bool(estimate.is_watertight),
                "pieces_dropped": dropped}

    def preview(self, model: nn.Module | None, signal: PointCloud) -> np.ndarray:
        """The slice z = 0 of the normalised frame: the signed distance on a 128² grid, or (for the
        signal) its points within 1 % of the slice, as `(N, 2)`."""
        if model is None:
            points = signal.points
            return np.ascontiguousarray(points[np.abs(points[:, 2]) < 0.02, :2], dtype=np.float32)
        side = np.linspace(-1, 1, 128, dtype=np.float32)
        y, x = np.meshgrid(side[::-1], side, indexing="ij")  # rows from the top: y falls
        grid = np.stack([x.ravel(), y.ravel(), np.zeros(x.size, np.float32)], axis=1)
        device = next(model.parameters()).device
        with torch.no_grad():
            values = model(torch.from_numpy(grid).to(device)).float().cpu().numpy()
        return values.reshape(128, 128)

    def draw_preview(self, ax: Any, preview: np.ndarray, *, truth: bool) -> None:
        if truth:
            ax.scatter(preview[:, 0], preview[:, 1], s=0.5, color="0.2")
            ax.set_title("input points near z = 0")
        else:
            bound = max(float(np.abs(preview).max()), 1e-6)
            ax.imshow(preview, cmap="coolwarm", vmin=-bound, vmax=bound, extent=(-1, 1, -1, 1))
            ax.contour(np.linspace(-1, 1, preview.shape[1]), np.linspace(1, -1, preview.shape[0]), preview,
                       levels=[0.0], colors="k", linewidths=0.8)
        ax.set_xlim(-1, 1)
        ax.set_ylim(-1, 1)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])

    def progress(self, model: nn.Module, signal: PointCloud) -> dict[str, float]:
        """Mean |Φ| on 4,096 surface samples, as a fraction of the bounding-box diagonal of
        [-1, 1]³ (meshing at every logged step would cost more than the fit)."""
        probe = signal.points[torch.randperm(len(signal.points), generator=torch.Generator().manual_seed(1))[:4096]]
        device = next(model.parameters()).device
        value = model(torch.from_numpy(np.ascontiguousarray(probe)).to(device))
        return {"surface_distance": float(value.abs().mean()) / (2 * np.sqrt(3))}

    def summary(self, signal: PointCloud, history: list[dict[str, float]], network: NetworkConfig) -> dict[str, Any]:
        return {"shape": [len(signal.points)], "channels": 1}

    def write_run(self, fitted: Fitted, signal: PointCloud, out: Path) -> None:
        """`mesh.ply`, `support.npy`, `mesh.png`, `slices.png`, `loss.png`, metrics
        and history."""
        from sirenkit.engine.history import history_series, logged_every
        from sirenkit.figures import curve_figure
        from sirenkit.io import atomic_write_path, write_json

        vertices, faces, _ = fitted.products["reconstruction"]
        save_mesh(out / "mesh.ply", vertices, faces)
        atomic_write_path(out / SUPPORT_FILE, lambda temporary: np.save(temporary, support_points(signal)))
        save_png(out / "mesh.png", render_mesh(vertices, faces))
        slices_figure(fitted.model, out / "slices.png")
        curve_figure({name: history_series(fitted.history, name) for name in LOSS_TERMS}, out / "loss.png",
                     xlabel="step", ylabel="weighted loss term", log_y=True,
                     title=f"SDF loss terms, {logged_every(fitted.history, LOSS_TERMS[0])} "
                           f"({fitted.metrics['steps']:,} steps, {fitted.metrics['seconds']:.0f} s)")
        write_json(out / "history.json", fitted.history)
        write_json(out / "metrics.json", fitted.metrics)

    @classmethod
    def contact_pictures(cls, run: Path, source: str) -> tuple[np.ndarray, np.ndarray]:
        """The run's own picture of its mesh (`mesh.png`), and nothing beside it: the shape's
        truth is a point cloud, and its distance to the fit is the caption."""
        import imageio.v3 as iio

        return np.asarray(iio.imread(run / "mesh.png")), np.zeros(0)

    @classmethod
    def draw_contact(cls, axes: Sequence[Any], row: dict[str, Any], truth: np.ndarray, fitted: np.ndarray) -> None:
        """The fitted mesh, captioned with its Chamfer-L1 distance to the input."""
        axes[0].imshow(truth)
        axes[0].set_title(f"{row['signal']}: Chamfer {row.get('chamfer_l1', float('nan')):.4f}", fontsize=8)


SUPPORT_FILE = "support.npy"
"""The run folder's subsample of the input's normalised surface points, for `sirenkit mesh`."""


def support_points(cloud: PointCloud, count: int = 65_536) -> np.ndarray:
    """`(min(count, N), 3)` float32 surface points of `cloud` (normalised frame), a fixed
    random subset: what decides which mesh pieces the data supports."""
    points = cloud.points
    if len(points) > count:
        points = points[np.random.default_rng(0).choice(len(points), count, replace=False)]
    return np.ascontiguousarray(points, dtype=np.float32)


def reference_surface(cloud: PointCloud):
    """The input as a `trimesh.Trimesh` when it was a mesh, else `None`."""
    import trimesh

    if cloud.faces is None:
        return None
    return trimesh.Trimesh(vertices=cloud.vertices, faces=cloud.faces, process=False)


def slices_figure(model: nn.Module, path: Path, *, resolution: int = 256) -> None:
    """Φ on the x = 0, y = 0 and z = 0 planes of the normalised frame, with the zero contour."""
    from sirenkit.figures import new_figure, save_figure

    device = next(model.parameters()).device
    axis = torch.linspace(-1, 1, resolution, device=device)
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    zero = torch.zeros_like(a)
    planes = {"x = 0": (zero, a, b), "y = 0": (a, zero, b), "z = 0": (a, b, zero)}
    labels = {"x = 0": ("y", "z"), "y = 0": ("x", "z"), "z = 0": ("x", "y")}
    figure, axes = new_figure(1, 3, figsize=(13, 4.4))
    with torch.no_grad():
        for ax, (name, (x, y, z)) in zip(axes, planes.items()):
            points = torch.stack([x, y, z], -1).reshape(-1, 3)
            values = model(points).reshape(resolution, resolution).float().cpu().numpy()
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


