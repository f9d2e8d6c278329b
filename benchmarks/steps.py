"""Seconds per training step with the loss on the value, the gradient or the Laplacian of camera
256² (every pixel), and with the paper's SDF loss on a point cloud: the paper's recipe
(benchmarks/reference.py: eager, nested autograd) against sirenkit's paths, in the same process,
repetitions interleaved so that a machine slowing down affects every path alike.

Beside each time: the arithmetic the step does (matrix products, counted by the PyTorch profiler), the rate it
achieves and that rate as a fraction of the matrix-product rate measured here at the start (the
floor no step can beat). Peak memory is measured for each case in a fresh process, where it is the
case's own.

    python benchmarks/steps.py [--size 256] [--repeats 5] [--device cpu] [--json out.json]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import PaperSiren, image_loss, sdf_loss  # noqa: E402

# every case compiles the same step function anew; the default limit of 8 versions per function
# would leave the later cases silently eager
torch._dynamo.config.recompile_limit = 64

REFERENCE = "paper's recipe: nested autograd, eager"
PATHS = [  # (label, compiled, precision, derivative method)
    ("sirenkit, eager", False, "float32", "auto"),
    ("sirenkit, compiled", True, "float32", "auto"),
    ("sirenkit, compiled, bfloat16", True, "bfloat16", "auto"),
    ("sirenkit forward streams, compiled", True, "float32", "forward"),  # the adjoint's predecessor
]
FIRST_ORDER = ("gradient", "sdf")  # where auto takes the adjoint pass and forward streams differ
LOSSES = ("value", "gradient", "laplacian", "sdf")
SDF_POINTS = 16384  # surface points per step, and as many free points


def matmul_rate(device: torch.device, dtype: torch.dtype, repeats: int = 10) -> float:
    """GFLOP/s of a (65536 × 256) · (256 × 256) matrix product, the shape of a hidden layer."""
    a = torch.randn(65536, 256, device=device, dtype=dtype)
    b = torch.randn(256, 256, device=device, dtype=dtype)
    times = []
    for _ in range(repeats + 2):
        started = time.perf_counter()
        torch.mm(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return 2 * 65536 * 256 * 256 / statistics.median(times[2:]) / 1e9


def problem_data(loss: str, size: int, device: torch.device) -> dict:
    """Inputs and targets of one step; the same for every path."""
    from sirenkit.signals.image.data import coordinate_grid, load_image
    from sirenkit.studies.poisson import derivative_targets

    if loss == "sdf":
        generator = torch.Generator().manual_seed(0)
        directions = torch.randn(SDF_POINTS, 3, generator=generator)
        normals = directions / directions.norm(dim=-1, keepdim=True)
        free = torch.rand(SDF_POINTS, 3, generator=generator) * 2 - 1
        return {"surface": (0.6 * normals).to(device), "normals": normals.to(device), "free": free.to(device)}
    signal = load_image("camera", size=size)
    coords = coordinate_grid(signal.shape, device=device)
    if loss == "value":
        target = torch.from_numpy(signal.pixels.reshape(-1, 1)) * 2 - 1
    else:
        target = 2 * torch.from_numpy(derivative_targets(signal.pixels, loss).reshape(len(coords), -1))
    return {"coords": coords, "target": target.to(device)}


def sirenkit_loss(loss: str, method: str = "auto") -> Callable:
    """The loss of ``loss`` on sirenkit's derivative engine."""
    from sirenkit.networks.derivatives import derivatives

    def image_step(model, data):
        fields = derivatives(model, data["coords"], jacobian=loss == "gradient", laplacian=loss == "laplacian",
                             method=method)
        predicted = {"value": fields.value, "gradient": fields.jacobian, "laplacian": fields.laplacian}[loss]
        return (predicted.reshape(data["target"].shape) - data["target"]).square().mean()

    def sdf_step(model, data):
        surface = len(data["surface"])
        fields = derivatives(model, torch.cat([data["surface"], data["free"]]), jacobian=True, method=method)
        value, grad = fields.value, fields.jacobian[:, 0]  # (N, 1), (N, 3)
        cosine = torch.nn.functional.cosine_similarity(grad[:surface], data["normals"], dim=-1)
        return (3e3 * value[:surface].abs().mean() + 1e2 * torch.exp(-1e2 * value[surface:].abs()).mean()
                + 1e2 * (1 - cosine).mean() + 5e1 * (grad.norm(dim=-1) - 1).abs().mean())

    return sdf_step if loss == "sdf" else image_step


def reference_loss(loss: str) -> Callable:
    if loss == "sdf":
        return lambda model, data: sdf_loss(model, data["surface"], data["normals"], data["free"])
    return lambda model, data: image_loss(model, data["coords"], data["target"], loss)


def build_step(loss: str, label: str, size: int, device: torch.device) -> tuple[Callable, Callable]:
    """A training step of ``label``'s path and the un-compiled loss it runs (for counting)."""
    from sirenkit.networks.build import Siren
    from sirenkit.networks.config import NetworkConfig

    torch.manual_seed(0)
    in_features = 3 if loss == "sdf" else 2
    siren = Siren(NetworkConfig(in_features=in_features, out_features=1)).to(device)
    if label == REFERENCE:
        model: torch.nn.Module = PaperSiren(in_features, 1).copy_weights_from(siren).to(device)
        compute, compiled, precision = reference_loss(loss), False, "float32"
    else:
        _, compiled, precision, method = next(p for p in PATHS if p[0] == label)
        model, compute = siren, sirenkit_loss(loss, method)

    def in_precision(model, data):
        if precision == "float32":
            return compute(model, data)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            return compute(model, data).float()

    runner = torch.compile(in_precision) if compiled else in_precision
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    data = problem_data(loss, size, device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        runner(model, data).backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    def count() -> int:
        """Floating-point operations of the matrix products of one step, forward and backward,
        as the PyTorch profiler counts them (the eager version of the same arithmetic)."""
        with profile(activities=[ProfilerActivity.CPU], with_flops=True) as profiler:
            optimizer.zero_grad(set_to_none=True)
            in_precision(model, data).backward()
        optimizer.zero_grad(set_to_none=True)
        return int(sum(event.flops for event in profiler.key_averages()))

    return step, count


def peak_resident_bytes() -> int:
    """This process's peak resident memory. Linux's ``ru_maxrss`` would count the parent's memory at
    the fork; ``VmHWM`` belongs to the address space ``exec`` made new."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_memory(loss: str, label: str, size: int, device: str) -> int:
    """Peak bytes of two steps of one case in a fresh process."""
    command = [sys.executable, __file__, "--memory", loss, label, "--size", str(size), "--device", device]
    return int(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip())


def measure(loss: str, size: int, repeats: int, device: torch.device, *, bfloat16: bool = True) -> list[dict]:
    """``bfloat16`` False leaves the bfloat16 path out (where it is emulated, tens of times slower)."""
    labels = [REFERENCE] + [p[0] for p in PATHS if (p[3] == "auto" or loss in FIRST_ORDER)
                            and (bfloat16 or p[2] != "bfloat16")]
    steps, counts, first = {}, {}, {}
    for label in labels:
        step, count = build_step(loss, label, size, device)
        counts[label] = count()
        started = time.perf_counter()
        step()  # compiles, where compiled
        first[label] = time.perf_counter() - started
        step()
        steps[label] = step
    times: dict[str, list[float]] = {label: [] for label in labels}
    for _ in range(repeats):
        for label in labels:
            started = time.perf_counter()
            steps[label]()
            times[label].append(time.perf_counter() - started)
    rows = []
    for label in labels:
        seconds = statistics.median(times[label])
        rows.append({"loss": loss, "path": label, "seconds": seconds, "first_step": first[label],
                     "gflop": counts[label] / 1e9, "gflops": counts[label] / seconds / 1e9,
                     "peak_bytes": peak_memory(loss, label, size, device.type)})
        print(f"  {loss:<9} {label:<40} {seconds:.3f} s/step", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict], rates: dict[str, float]) -> str:
    lines = ["| loss on | path | s/step | ratio | GFLOP/step | GFLOP/s | of matmul rate | peak memory |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        reference = next(r for r in rows if r["loss"] == row["loss"] and r["path"] == REFERENCE)
        rate = rates["bfloat16" if "bfloat16" in row["path"] else "float32"]
        lines.append(
            f"| {row['loss']} | {row['path']} | {row['seconds']:.3f} | {reference['seconds'] / row['seconds']:.2f}× | "
            f"{row['gflop']:.1f} | {row['gflops']:.0f} | {row['gflops'] / rate:.0%} | "
            f"{row['peak_bytes'] / 2**20:,.0f} MiB |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--losses", default=",".join(LOSSES))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--memory", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.memory:
        step, _ = build_step(*args.memory, args.size, device)
        step()
        step()
        print(torch.cuda.max_memory_allocated() if device.type == "cuda" else peak_resident_bytes())
        return
    from sirenkit.engine.policy import native_bfloat16

    native = native_bfloat16(device)
    rates = {"float32": matmul_rate(device, torch.float32)}
    if native:
        rates["bfloat16"] = matmul_rate(device, torch.bfloat16)
    described = ", ".join(f"{rate:.0f} GFLOP/s {dtype}" for dtype, rate in rates.items())
    print(f"  matrix product (65536×256)·(256×256): {described}", file=sys.stderr, flush=True)
    rows = [row for loss in args.losses.split(",")
            for row in measure(loss, args.size, args.repeats, device, bfloat16=native)]
    where = args.device if device.type == "cuda" else f"cpu ({torch.backends.cpu.get_cpu_capability()})"
    print(f"\nTraining step, paper's network (256 × 4), {where}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats} interleaved repetitions; image losses on camera {args.size}² (every pixel), "
          f"SDF loss on {SDF_POINTS} surface + {SDF_POINTS} free points. Matrix-product rate here: {described}."
          + ("" if native else " bfloat16 left out: emulated here, not native (no AVX-512 BF16 or AMX)."))
    print(table(rows, rates))
    if args.json:
        from sirenkit.io import write_json

        write_json(args.json, {"matmul_gflops": rates, "rows": rows})


if __name__ == "__main__":
    main()
