"""A shape as a signed distance function

A SIREN of three inputs is fitted to points and normals on the surface of Spot the cow (the mesh
that ships with sirenkit): zero on the surface, its gradient the normal there, and a gradient of
length one everywhere, which makes it a signed distance. Left, the surface meshed from the network's
zero level set; right, the network's values on the plane through the cow's middle.
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d.art3d import Poly3DCollection

import sirenkit as sk

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", type=Path, default=Path("runs/gallery") / Path(__file__).stem, help="output folder")
parser.add_argument("--tiny", action="store_true", help="tiny sizes and steps: a check that runs in seconds")
args = parser.parse_args()

config = sk.SdfConfig(mesh_resolution=128, metric_samples=50_000)  # the default points per step, a coarser mesh
if args.tiny:
    config = sk.SdfConfig(mesh_resolution=32, samples=5_000, metric_samples=2_000, surface_points=256, free_points=256)
# the shape recipe (Adam at 1e-4, gradients clipped at 1), cut to 40 s
train = sk.TrainConfig(steps=5 if args.tiny else 4000, time_budget=None if args.tiny else 40.0, learning_rate=1e-4,
                       clip_grad_norm=1.0, precision="auto", divergence_factor=1e6, log_every=100)
network = sk.NetworkConfig(3, 1, hidden_features=32, hidden_layers=2) if args.tiny else None  # None: 3 → 256 × 4 → 1
fitted = sk.fit_sdf("spot", network=network, train=train, config=config)
vertices, faces, _ = fitted.products["reconstruction"]  # (V, 3), (F, 3): the mesh, in the input's coordinates

figure = Figure(figsize=(12, 5.2), layout="constrained")
mesh_ax = figure.add_subplot(1, 2, 1, projection="3d")
triangles = vertices[faces][:, :, [2, 0, 1]]  # (F, 3, 3); the cow's y is up, matplotlib's z is
normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
shade = 0.3 + 0.7 * np.abs(normals @ np.array([0.5, -0.4, 0.77]))  # a light from above, front left
mesh_ax.add_collection3d(Poly3DCollection(triangles, facecolors=shade[:, None] * [0.95, 0.85, 0.7], linewidths=0))
low, high = triangles.reshape(-1, 3).min(axis=0), triangles.reshape(-1, 3).max(axis=0)
mesh_ax.set(xlim=(low[0], high[0]), ylim=(low[1], high[1]), zlim=(low[2], high[2]))
mesh_ax.set_box_aspect(high - low)
mesh_ax.view_init(elev=15, azim=-55)
mesh_ax.set_axis_off()
mesh_ax.set_title(f"the zero level set meshed: {len(faces):,} faces\n"
                  f"{100 * fitted.metrics['chamfer_l1']:.2f} % of the diagonal from Spot (Chamfer-L1)")

# the plane x = 0 in the network's frame ([-1, 1]³): z runs along the cow, y up
count = 64 if args.tiny else 400
along, up = np.meshgrid(np.linspace(-1, 1, count), np.linspace(1, -1, count))
points = np.stack([np.zeros_like(along), up, along], axis=-1).reshape(-1, 3)
distance = sk.evaluate_points(fitted.model, torch.tensor(points, dtype=torch.float32)).numpy().reshape(count, count)
slice_ax = figure.add_subplot(1, 2, 2)
limit = np.abs(distance).max()
shown = slice_ax.imshow(distance, cmap="RdBu", vmin=-limit, vmax=limit, extent=(-1, 1, -1, 1))
slice_ax.contour(along, up, distance, levels=np.arange(-1, 1, 0.1), colors="k", linewidths=0.4, alpha=0.5)
slice_ax.contour(along, up, distance, levels=[0], colors="k", linewidths=2)
slice_ax.set(xlabel="z (along the cow)", ylabel="y (up)", title="the network on the plane x = 0: inside < 0 < outside")
figure.colorbar(shown, ax=slice_ax, label="signed distance (network's frame)")
args.out.mkdir(parents=True, exist_ok=True)
figure.savefig(args.out / "figure.png", dpi=110)
print(f"{args.out / 'figure.png'}: {len(faces):,} faces, Chamfer-L1 {fitted.metrics['chamfer_l1']:.5f} "
      f"after {fitted.metrics['steps']} steps")
