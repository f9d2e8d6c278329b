"""Meshing a fitted SDF: seconds and peak memory at 256³ and 512³, each in a fresh process so that
its peak memory is its own: sirenkit's coarse-to-fine grid against every grid point evaluated (in
chunks; the paper's code evaluated it in one piece, whose activations alone would need the memory
printed beside it).

    python benchmarks/meshing.py RUN_DIR [--resolutions 256,512] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from steps import peak_resident_bytes  # noqa: E402


def one(run: Path, resolution: int, dense: bool) -> dict:
    from sirenkit.engine.models import load
    from sirenkit.signals.shape.mesh import marching_cubes, sdf_grid

    model = load(run).model
    started = time.perf_counter()
    values = sdf_grid(model, resolution, block=None if dense else 8)
    evaluated = time.perf_counter() - started
    vertices, faces, _ = marching_cubes(values)
    total = time.perf_counter() - started
    peak = peak_resident_bytes()
    return {"resolution": resolution, "path": "every point" if dense else "coarse to fine",
            "evaluate_seconds": evaluated, "total_seconds": total, "peak_bytes": peak,
            "faces": int(len(faces)), "one_piece_activation_bytes": resolution**3 * 256 * 4 * 2}


def measure(run: Path, resolutions: list[int], dense_up_to: int = 256) -> list[dict]:
    """Rows of :func:`one` for each resolution (and every point evaluated up to ``dense_up_to``),
    each in a fresh process."""
    rows = []
    for resolution in resolutions:
        for dense in ((1, 0) if resolution <= dense_up_to else (0,)):
            output = subprocess.run([sys.executable, __file__, str(run), "--one", str(resolution), str(dense)],
                                    check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(output))
            print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    return rows


def table(run: Path, rows: list[dict]) -> str:
    lines = [f"Meshing {run} (3 → 256 × 4 → 1), CPU, {torch.get_num_threads()} threads; chunks of "
             "262,144 points under no_grad, then scikit-image marching cubes",
             "| grid | path | evaluate | total with marching cubes | peak memory "
             "| one-piece activations (paper's code) | faces |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['resolution']}³ | {row['path']} | {row['evaluate_seconds']:.1f} s | "
                     f"{row['total_seconds']:.1f} s | {row['peak_bytes'] / 2**30:.2f} GiB | "
                     f"{row['one_piece_activation_bytes'] / 2**30:,.0f} GiB | {row['faces']:,} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="A fitted SDF run folder (sirenkit fit sdf).")
    parser.add_argument("--resolutions", default="256,512")
    parser.add_argument("--dense-up-to", type=int, default=256,
                        help="Also time every point evaluated, up to this resolution (512³ takes minutes).")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--one", nargs=2, type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.run, args.one[0], bool(args.one[1]))))
        return
    rows = measure(args.run, [int(r) for r in args.resolutions.split(",")], args.dense_up_to)
    print("\n" + table(args.run, rows))
    if args.json:
        from sirenkit.io import write_json

        write_json(args.json, rows)


if __name__ == "__main__":
    main()
