"""Signed distance functions from oriented point clouds and meshes: load the input,
fit with the shape kind's recipe (`sirenkit.signals.shape.kind`), mesh the zero level set, measure
the mesh against the input and write the run folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from sirenkit.config import to_dict
from sirenkit.engine.config import TrainConfig
from sirenkit.engine.kinds import Fitted, register_plan
from sirenkit.engine.runs import FitPlan
from sirenkit.networks.config import NetworkConfig
from sirenkit.signals.shape.data import PointCloud, load_point_cloud
from sirenkit.signals.shape.kind import (
    SUPPORT_FILE,
    FreeSpace,
    Mesh,
    SdfConfig,
    ShapeKind,
    reference_surface,
    sdf_problem,
    slices_figure,
    support_points,
)

if TYPE_CHECKING:
    from sirenkit.engine.kinds import Fitted
from sirenkit.signals.shape.mesh import save_mesh

__all__ = [
    "SUPPORT_FILE", "FreeSpace", "SdfConfig", "SdfFit", "fit_sdf", "mesh_in_input_frame", "reference_surface",
    "sdf_network", "sdf_problem", "sdf_train_config", "slices_figure", "support_points",
]

SdfFit = Fitted
"""The result of [`fit_sdf`][sirenkit.fit_sdf]: `products["reconstruction"]` is the mesh `(vertices, faces,
pieces dropped)`, vertices in the input's coordinates."""

_DEFAULT_KIND = ShapeKind(source="", center=(0.0, 0.0, 0.0), scale=1.0)


def sdf_network(model: str = "siren", **settings: Any) -> NetworkConfig:
    """The paper's SDF network: 3 → 256 × 4 → 1 (a baseline of the same size for other models)."""
    return _DEFAULT_KIND.network(model, **settings)


def sdf_train_config() -> TrainConfig:
    """The default training of an SDF fit ([`ShapeKind.train_config`][sirenkit.ShapeKind.train_config])."""
    return _DEFAULT_KIND.train_config()


def mesh_in_input_frame(model: nn.Module, cloud: PointCloud | ShapeKind, resolution: int, *,
                        support: np.ndarray | None = None) -> Mesh:
    """Marching cubes of the zero level set on a `resolution³` grid, in the input's coordinates
    ([`ShapeKind.render`][sirenkit.ShapeKind.render])."""
    kind = cloud if isinstance(cloud, ShapeKind) else ShapeKind.describe(cloud)
    return kind.render(model, resolution=resolution, support=support)


@register_plan("sdf")
def plan_sdf(
    source: str | Path | PointCloud,
    *,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    config: SdfConfig | None = None,
    model: str = "siren",
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> FitPlan:
    """The fit of [`fit_sdf`][sirenkit.fit_sdf], planned ([`FitPlan`][sirenkit.FitPlan]): the input read and
    checked, nothing trained or written yet; `plan.run()` is [`fit_sdf`][sirenkit.fit_sdf]."""
    config = config or SdfConfig()
    cloud = source if isinstance(source, PointCloud) else load_point_cloud(source, samples=config.samples,
                                                                          margin=config.margin)
    kind = ShapeKind.describe(cloud)
    support = None if config.keep_unsupported else support_points(cloud)

    def measure(mesh: Mesh, *, final: bool = True) -> dict[str, Any]:
        return {**kind.measure(mesh, cloud, samples=config.metric_samples), "mesh_resolution": config.mesh_resolution}

    return FitPlan(kind=kind, signal=cloud, network=network, train=train, model=model,
                   problem=lambda device: sdf_problem(cloud, config, device),
                   sampling={"resolution": config.mesh_resolution, "support": support}, measure=measure,
                   evaluate=lambda net: kind.progress(net, cloud), task="sdf",
                   settings={"source": cloud.name, **to_dict(config)}, out=out, resume=resume, overwrite=overwrite,
                   progress=progress)


def fit_sdf(
    source: str | Path | PointCloud,
    *,
    network: NetworkConfig | None = None,
    train: TrainConfig | None = None,
    config: SdfConfig | None = None,
    model: str = "siren",
    out: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Fitted:
    """Fit a signed distance function to an oriented point cloud or a mesh and, with `out`, write
    the run folder.

    The run folder holds the model, `mesh.ply` (in the input's coordinates), `mesh.png`,
    `slices.png`, `loss.png`, `metrics.json` (Chamfer distance, F-score and normal consistency
    against the input), `history.json` and `config.json`. This is `sirenkit fit sdf`.

    Args:
        source: A point cloud (`.xyz`, with or without normals, or a point-cloud `.ply`), a mesh
            (`.ply`, `.obj`, `.off`, `.stl`), or a point cloud already loaded
            ([`load_point_cloud`][sirenkit.load_point_cloud]).
        network: The network to fit; `None` builds the shape default of `model`.
        train: The training recipe; `None` is sirenkit's shape recipe.
        config: Sampling, loss weights and meshing; `None` is [`SdfConfig`][sirenkit.SdfConfig]'s
            defaults.
        model: The network family, used when `network` is `None`.
        out: The run folder to write; `None` writes nothing.
        resume: Continue the run saved in `out` from its checkpoint.
        overwrite: Replace a run already in `out`.
        progress: Show a progress bar.

    Returns:
        The fitted network with its kind and metrics; `products["reconstruction"]` is the mesh
        `(vertices, faces, pieces dropped)`.

    Raises:
        ValueError: The input cannot be read, an option is out of range, or `out` holds a run that
            neither `resume` nor `overwrite` was given for.
        TrainingDiverged: The loss became NaN or infinite.
        TrainingInterrupted: Ctrl-C or SIGTERM stopped the fit; with `out`, its checkpoint is there.
    """
    return plan_sdf(source, network=network, train=train, config=config, model=model, out=out, resume=resume,
                    overwrite=overwrite, progress=progress).run()




def extract_mesh(source: str | Path | Fitted, out: str | Path, *, resolution: int = 256,
                 keep_unsupported: bool = False, device: str = "auto") -> str:
    """Extract the surface of a fitted signed distance function and write it as a mesh.

    The zero level set is found on a `resolution³` grid in the input's coordinates. Pieces that no
    input point supports are dropped where the run folder holds `support.npy`, unless
    `keep_unsupported`. This is `sirenkit mesh`.

    Args:
        source: A run folder, its model files, or a [`Fitted`][sirenkit.Fitted] shape.
        out: The mesh file to write: `.ply`, `.obj`, `.stl` or `.off`.
        resolution: Grid points along each axis (at least 8).
        keep_unsupported: Keep the pieces no input point supports.
        device: Where to evaluate the network: `auto`, `cpu` or `cuda`.

    Returns:
        A one-line summary: vertices, faces and pieces dropped.

    Raises:
        ValueError: A resolution below 8, or a model that is not a signed distance function.
    """
    from sirenkit.engine.models import load
    from sirenkit.engine.policy import resolve_device
    from sirenkit.signals.shape.kind import SUPPORT_FILE, ShapeKind

    if resolution < 8:
        raise ValueError(f"the mesh resolution must be at least 8, got {resolution}")
    fitted = source if not isinstance(source, (str, Path)) else load(source, device=resolve_device(device))
    if not isinstance(fitted.kind, ShapeKind):
        raise ValueError(f"{fitted.out}: not an SDF model (it holds a {fitted.kind.name})")
    folder = None if fitted.out is None else (fitted.out if fitted.out.is_dir() else fitted.out.parent)
    support_file = None if folder is None else folder / SUPPORT_FILE
    support = None
    if not keep_unsupported and support_file is not None and support_file.is_file():
        support = np.load(support_file, allow_pickle=False)
    vertices, faces, dropped = fitted.kind.render(fitted.model, resolution=resolution, support=support)
    save_mesh(out, vertices, faces)
    note = f" ({dropped} unsupported piece{'s' * (dropped != 1)} dropped)" if dropped else ""
    return f"{len(vertices):,} vertices, {len(faces):,} faces{note}"
