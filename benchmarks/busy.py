"""A fit on a busy machine: the seconds per step of the demo's fit (camera 256², the default image
recipe) while one single-threaded CPU-bound program runs beside it, against the same fit on the
quiet machine, with the thread count chosen from measured steps (``--threads auto``, the default)
and with PyTorch's own (one thread per core, sirenkit's behaviour before). A fair share of a
2-core machine would make a busy step 2× its quiet time.

The step time is that of steps ``--from`` to ``--steps`` (after compilation and warm-up), read from
each run's history (fitting seconds, evaluations excluded). Each run is a fresh process.

    python benchmarks/busy.py [--steps 400] [--from 100] [--compile on] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine  # noqa: E402

BUSY = "x = 0\nwhile True:\n    x = (x * 1103515245 + 12345) % 2147483648\n"
"""The program beside the fit: one thread of integer arithmetic, forever."""


def step_seconds(threads: str, args: argparse.Namespace, out: Path) -> dict:
    """One fit in a fresh process; its mean seconds per step over the measured steps."""
    command = [sys.executable, "-m", "sirenkit", "fit", "image", "camera", "--size", "256", "--steps",
               str(args.steps), "--threads", threads, "--compile", args.compile, "--omega", "30", "--out", str(out),
               "--overwrite", "-q"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    history = json.loads((out / "history.json").read_text())
    rows = history["rows"] if isinstance(history, dict) else history
    start = next(r for r in rows if r["step"] >= args.start)
    end = rows[-1]
    metrics = json.loads((out / "metrics.json").read_text())
    return {"seconds_per_step": (end["seconds"] - start["seconds"]) / (end["step"] - start["step"]),
            "threads_used": metrics.get("threads"), "thread_choices": metrics.get("thread_choices", [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--from", dest="start", type=int, default=100)
    parser.add_argument("--compile", choices=("on", "off"), default="on")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for threads in ("auto", str(cores)):
            quiet = step_seconds(threads, args, Path(folder) / f"quiet-{threads}")
            beside = subprocess.Popen([sys.executable, "-c", BUSY])
            try:
                time.sleep(1.0)
                busy = step_seconds(threads, args, Path(folder) / f"busy-{threads}")
            finally:
                beside.kill()
                beside.wait()
            rows.append({"threads": threads, "quiet": quiet, "busy": busy,
                         "ratio": busy["seconds_per_step"] / quiet["seconds_per_step"]})
            print(f"--threads {threads}: quiet {1000 * quiet['seconds_per_step']:.1f} ms/step "
                  f"({quiet['threads_used']} threads), busy {1000 * busy['seconds_per_step']:.1f} ms/step "
                  f"({busy['threads_used']} threads), ratio {rows[-1]['ratio']:.2f}×", flush=True)
    print()
    print("| threads | quiet ms/step | busy ms/step | busy / quiet |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['threads']} | {1000 * row['quiet']['seconds_per_step']:.1f} | "
              f"{1000 * row['busy']['seconds_per_step']:.1f} | {row['ratio']:.2f}× |")
    if args.json:
        capability = torch.backends.cpu.get_cpu_capability()
        args.json.write_text(json.dumps({"machine": machine(), "cpu_capability": capability,
                                         "date": time.strftime("%Y-%m-%d"),
                                         "cores": cores, "steps": args.steps, "from": args.start,
                                         "compile": args.compile, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
