"""WIRE's network with the image recipe: PSNR after a fixed number of steps, for the previous
defaults (a SIREN's four layers of 256, window s0 = 10), the authors' image network (three Gabor
layers of 181, s0 = 10) and sirenkit's defaults (three layers of 181, s0 = 20), with a SIREN of
the default recipe beside them, in one run.

Each fit takes the image recipe of its family (8,192 pixels per step, WIRE's rate ×3, the
recipe's cosine over the steps given, no time budget: the figures are in steps, so that a busy
machine does not change them; the stall check on, as a user's fit has it). Photos under
``--photos`` are those the defaults were chosen on; ``--held-out`` photos are checks. ``--jobs 2``
runs two fits at a time, one thread each.

    python benchmarks/wire_defaults.py [--photos camera,astronaut,coffee] [--held-out chelsea,rocket,TERRIER]
        [--sizes 128,256] [--steps 300] [--settings previous,authors,default,siren] [--jobs 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine  # noqa: E402

TERRIER = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "yorkshire_terrier.jpg")
SETTINGS = {
    "previous": {"hidden_layers": 4, "hidden_features": 256, "wire_scale": 10.0},
    "authors": {"hidden_layers": 3, "hidden_features": 181, "wire_scale": 10.0},
    "default": {},
}
"""WIRE's network settings over the family's defaults (``siren``: the default SIREN)."""


def fit_one(photo: str, size: int, steps: int, setting: str) -> dict:
    import torch

    from sirenkit.engine.config import at_family_rate
    from sirenkit.signals.image.data import load_image
    from sirenkit.signals.image.fit import fit_image
    from sirenkit.signals.image.kind import ImageKind

    torch.set_num_threads(1)
    signal = load_image(photo, size=size)
    kind = ImageKind.describe(signal)
    model = "siren" if setting == "siren" else "wire"
    network = kind.network(model, **SETTINGS.get(setting, {}))
    train = at_family_rate(kind.train_config(), model, network.hidden_features)
    train = replace(train, steps=steps, time_budget=None, log_every=25, checkpoint_every=0, threads=1)
    fitted = fit_image(signal, network=network, train=train, progress=False,
                       frequency="auto" if model == "siren" else None)
    metrics = fitted.metrics
    return {"photo": Path(photo).name, "size": size, "setting": setting,
            "layers": network.hidden_layers, "width": network.hidden_features,
            "wire_scale": network.wire_scale if model == "wire" else None, "parameters": metrics["parameters"],
            "rate": train.learning_rate, "steps": steps, "psnr": metrics["psnr"],
            "stalled_at": metrics.get("stalled_at"),
            "curve": [[row["step"], row["psnr"]] for row in fitted.history if "psnr" in row]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="camera,astronaut,coffee")
    parser.add_argument("--held-out", default=f"chelsea,rocket,{TERRIER}")
    parser.add_argument("--sizes", default="128,256")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--settings", default="previous,authors,default,siren")
    parser.add_argument("--jobs", type=int, default=1, help="fits at a time, one thread each")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", nargs=4, metavar=("PHOTO", "SIZE", "STEPS", "SETTING"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a single fit, in its own process
        photo, size, steps, setting = args.one
        print(json.dumps(fit_one(photo, int(size), int(steps), setting)))
        return
    held_out = [p for p in args.held_out.split(",") if p]
    photos = [p for p in args.photos.split(",") if p] + held_out
    jobs = [(photo, size, setting) for photo in photos for size in map(int, args.sizes.split(","))
            for setting in args.settings.split(",")]

    def run(job: tuple[str, int, str]) -> dict:
        photo, size, setting = job
        out = subprocess.run([sys.executable, __file__, "--one", photo, str(size), str(args.steps), setting],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"}).stdout
        row = json.loads(out.strip().splitlines()[-1])
        row["held_out"] = photo in held_out
        print(f"{row['photo']:>18} {size:>4} {setting:>9}: {row['psnr']:6.2f} dB"
              + (f" (stalled at {row['stalled_at']})" if row["stalled_at"] else ""), flush=True)
        return row

    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run, jobs))
    settings = args.settings.split(",")
    print(f"\n{'photo':>24} {'size':>4} " + " ".join(f"{s:>9}" for s in settings))
    for photo in photos:
        for size in map(int, args.sizes.split(",")):
            cells = {r["setting"]: r["psnr"] for r in rows if r["photo"] == Path(photo).name and r["size"] == size}
            row = " ".join(f"{cells.get(s, float('nan')):9.2f}" for s in settings)
            print(f"{Path(photo).name:>24} {size:>4} {row}")
    if args.json:
        import torch

        record = {"machine": machine(), "capability": torch.backends.cpu.get_cpu_capability(),
                  "date": time.strftime("%Y-%m-%d"), "steps": args.steps, "settings": SETTINGS, "rows": rows}
        args.json.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
