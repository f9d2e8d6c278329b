"""Time per training step with the loss on the value, the gradient or the Laplacian, for
sirenkit's forward-propagated derivatives and for nested autograd (the paper's code), on the same
data in the same run. Each case runs in a fresh subprocess so that its peak memory is its own.

    python benchmarks/derivative_steps.py [--size 256] [--repeats 5] [--device cpu] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REFERENCE = "nested autograd, eager"
CASES = [  # (label, derivative method, compiled, precision)
    (REFERENCE, "autograd", False, "float32"),
    ("sirenkit forward, eager", "forward", False, "float32"),
    ("sirenkit forward, compiled", "forward", True, "float32"),
    ("sirenkit forward, compiled, bfloat16", "forward", True, "bfloat16"),
]
SOURCES = ("value", "gradient", "laplacian")


def one_case(source: str, method: str, compiled: bool, precision: str, size: int, repeats: int,
             device: str) -> dict:
    """Median seconds per Adam step on camera at ``size``², and the peak memory."""
    from sirenkit.image import load_image
    from sirenkit.network import build_network
    from sirenkit.tasks.image import image_network, image_problem
    from sirenkit.tasks.poisson import derivative_problem, derivative_targets

    torch.manual_seed(0)
    dev = torch.device(device)
    signal = load_image("camera", size=size)
    net = build_network(image_network(signal)).to(dev)
    if source == "value":
        problem = image_problem(signal, batch_size=None, device=dev)
    else:
        problem = derivative_problem(derivative_targets(signal.pixels, source), source, batch_size=None, device=dev)
    constraint = problem.constraints[0]
    points, data = constraint.domain.sample(torch.Generator())

    from sirenkit.derivatives import derivatives

    def loss_fn(model, points, data):
        fields = derivatives(model, points, jacobian=source == "gradient", laplacian=source == "laplacian",
                             method=method if source != "value" else "auto")
        predicted = {"value": fields.value, "gradient": fields.jacobian, "laplacian": fields.laplacian}[source]
        return (predicted - data["target"]).square().mean()

    def bfloat16_loss(model, points, data):
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            return loss_fn(model, points, data).float()

    chosen = bfloat16_loss if precision == "bfloat16" else loss_fn
    step_loss = torch.compile(chosen) if compiled else chosen
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        step_loss(net, points, data).backward()
        optimizer.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()

    started = time.perf_counter()
    step()  # compiles, when compiled
    first = time.perf_counter() - started
    step()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    peak = (torch.cuda.max_memory_allocated() if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"seconds": statistics.median(times), "first_step": first, "peak_bytes": peak}


def run_all(size: int, repeats: int, device: str) -> list[dict]:
    rows = []
    for source in SOURCES:
        for label, method, compiled, precision in CASES:
            command = [sys.executable, __file__, "--case", source, method, str(int(compiled)), precision,
                       "--size", str(size), "--repeats", str(repeats), "--device", device]
            result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            rows.append({"loss on": source, "path": label, **result})
            print(f"  {source:<9} {label:<28} {result['seconds']:.3f} s/step", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| loss on | path | s/step | ratio to nested autograd | peak memory |", "|---|---|---|---|---|"]
    for row in rows:
        reference = next(r for r in rows if r["loss on"] == row["loss on"] and r["path"] == REFERENCE)
        ratio = reference["seconds"] / row["seconds"]
        lines.append(f"| {row['loss on']} | {row['path']} | {row['seconds']:.3f} | {ratio:.2f}× | "
                     f"{row['peak_bytes'] / 2**20:,.0f} MiB |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--case", nargs=4, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        source, method, compiled, precision = args.case
        print(json.dumps(one_case(source, method, compiled == "1", precision, args.size, args.repeats, args.device)))
        return
    rows = run_all(args.size, args.repeats, args.device)
    print(f"\nTraining step, camera {args.size}², paper's image network, {args.device}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
