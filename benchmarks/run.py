"""`make bench`: every benchmark in one run; tables on stdout, numbers in benchmarks/results/."""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def machine() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, PyTorch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} threads, PyTorch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="Step timings only, without the time-to-quality runs (the reference takes ~20 min on a "
                             "CPU), the bunny fits (~25 min), the audio and video fits (~20 min) and the image codec "
                             "against JPEG, WebP, JPEG 2000 and AVIF (~25 min).")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"machine: {machine()}\n", flush=True)
    subprocess.run([sys.executable, str(HERE / "steps.py"), "--device", device,
                    "--json", str(RESULTS / f"steps-{device}.json")], check=True)
    if not args.quick:
        subprocess.run([sys.executable, str(HERE / "time_to_quality.py"), "--device", device,
                        "--json", str(RESULTS / f"time_to_quality-{device}.json")], check=True)
        subprocess.run([sys.executable, str(HERE / "shapes.py"), "--json", str(RESULTS / f"shapes-{device}.json")],
                       check=True)
        subprocess.run([sys.executable, str(HERE / "signals.py"), "--json", str(RESULTS / f"signals-{device}.json")],
                       check=True)
        subprocess.run([sys.executable, str(HERE / "codec.py"), "--rates", "0.3",  # ~25 min on a 2-core CPU
                        "--json", str(RESULTS / f"codec-0.3bpp-150s-{device}.json")], check=True)


if __name__ == "__main__":
    main()
