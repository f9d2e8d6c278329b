"""The Stanford bunny fitted with the SDF defaults, measured against the input mesh, beside the
ReLU + positional-encoding baseline fitted in the same run for the same fitting time; then meshing
time and peak memory of the SIREN fit at 256³ and 512³ (benchmarks/meshing.py).

Quality is Chamfer-L1 and F-score at 1 % of the input's bounding-box diagonal, and normal
consistency (sirenkit.metrics), of the mesh the fit writes (pieces the data does not support
dropped) and of the raw zero level set beside it. The baseline gets as many steps as fit in SIREN's
fitting time, at its own measured seconds per step, with the same loss, schedule and points.

    python benchmarks/shapes.py [--steps 4000] [--resolutions 256,512] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import meshing  # noqa: E402

BUNNY = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "stanford-bunny.obj"


def seconds_per_step(model: str, cloud, probe_steps: int = 40) -> float:
    """Steady-state seconds per step of ``model`` on the SDF problem (compilation excluded)."""
    from sirenkit.engine.policy import resolve_device
    from sirenkit.engine.single import fit
    from sirenkit.networks.build import build_network
    from sirenkit.signals.shape.fit import SdfConfig, sdf_network, sdf_problem, sdf_train_config

    # compiled as a real run is (a run of fewer than 200 steps would not be by default)
    train = replace(sdf_train_config(), steps=probe_steps, log_every=10, checkpoint_every=0, compile=True)
    device = resolve_device(train.device)
    net = build_network(sdf_network(model)).to(device)
    history = fit(net, sdf_problem(cloud, SdfConfig(), device), train, progress=False).history
    first, last = history[1], history[-1]  # from step 10: compilation is in the first steps
    return (last["seconds"] - first["seconds"]) / (last["step"] - first["step"])


def fit_and_measure(model: str, steps: int, cloud, out: Path) -> dict:
    import trimesh

    from sirenkit.metrics import compare_meshes
    from sirenkit.signals.shape.fit import SdfConfig, fit_sdf, mesh_in_input_frame, reference_surface, sdf_train_config

    config = SdfConfig()
    fitted = fit_sdf(cloud, model=model, train=replace(sdf_train_config(), steps=steps), config=config, out=out,
                     overwrite=True, progress=False)
    vertices, faces, _ = mesh_in_input_frame(fitted.model, cloud, config.mesh_resolution)  # nothing dropped
    raw = compare_meshes(trimesh.Trimesh(vertices, faces, process=False), reference_surface(cloud),
                         samples=config.metric_samples)
    row = {key: fitted.metrics[key] for key in ("chamfer_l1", "fscore", "fscore_precision", "normal_consistency",
                                                 "pieces_dropped", "steps", "seconds", "precision", "compiled")}
    return {"model": model, **row, "raw_chamfer_l1": raw["chamfer_l1"], "raw_fscore": raw["fscore"],
            "raw_normal_consistency": raw["normal_consistency"]}


def quality_table(rows: list[dict]) -> str:
    siren = rows[0]
    lines = ["| network | steps | fitting | Chamfer-L1 | F-score@1 % | normal consistency | pieces dropped | "
             "raw level set: Chamfer-L1 / F-score | Chamfer vs SIREN |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['steps']:,} | {row['seconds']:.0f} s ({row['precision']}) | "
            f"{100 * row['chamfer_l1']:.3f} % | {row['fscore']:.3f} | {row['normal_consistency']:.3f} | "
            f"{row['pieces_dropped']} | {100 * row['raw_chamfer_l1']:.3f} % / {row['raw_fscore']:.3f} | "
            f"{row['chamfer_l1'] / siren['chamfer_l1']:.2f}× |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None, help="SIREN's steps [default: the SDF default, 4,000].")
    parser.add_argument("--baseline", default="relu-pe", help="Baseline network ('none' to skip).")
    parser.add_argument("--resolutions", default="256,512", help="Meshing grids ('' to skip meshing).")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from sirenkit.signals.shape.data import load_point_cloud
    from sirenkit.signals.shape.fit import SdfConfig, sdf_train_config

    config = SdfConfig()
    cloud = load_point_cloud(BUNNY, samples=config.samples, margin=config.margin)
    steps = args.steps or sdf_train_config().steps
    with tempfile.TemporaryDirectory() as folder:
        rows = [fit_and_measure("siren", steps, cloud, Path(folder) / "siren")]
        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
        if args.baseline != "none":
            per_step = seconds_per_step(args.baseline, cloud)
            baseline_steps = max(1, round(rows[0]["seconds"] / per_step))
            print(f"  {args.baseline}: {per_step:.3f} s/step → {baseline_steps} steps", file=sys.stderr, flush=True)
            rows.append(fit_and_measure(args.baseline, baseline_steps, cloud, Path(folder) / args.baseline))
            print(f"  {rows[-1]}", file=sys.stderr, flush=True)
        resolutions = [int(r) for r in args.resolutions.split(",") if r]
        meshes = meshing.measure(Path(folder) / "siren", resolutions) if resolutions else []
    print(f"\nStanford bunny ({BUNNY.name}, {len(cloud.points):,} surface samples), SDF defaults "
          f"(8,192 surface + 8,192 free points per step, Adam 1e-4 cosine), {torch.get_num_threads()} threads; "
          f"the baseline gets SIREN's fitting time")
    print(quality_table(rows))
    if meshes:
        print("\n" + meshing.table(Path("the SIREN fit"), meshes))
    if args.json:
        from sirenkit.io import write_json

        write_json(args.json, {"fits": rows, "meshing": meshes})


if __name__ == "__main__":
    main()
