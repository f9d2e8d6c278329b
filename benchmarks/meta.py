"""Train the codec's shared initialisations (sirenkit.codec.meta) and measure what each one gives.

For every hidden width of ``--widths`` (5 hidden layers, the codec's ω0s) and channel count,
Reptile on the training photos (``sirenkit.codec.meta.TRAINING_PHOTOS``, none of the codec benchmark's);
the set is written to ``--out`` (by default where sirenkit reads it). Then, per width, the PSNR
after ``--probe-steps`` Adam steps (the codec's recipe: 1e-3, float32, random pixels) from the
initialisation against from a random one, on ``--probe`` photos that were not trained on, at the
size where the codec picks that width at 0.3 bpp.

    python benchmarks/meta.py [--widths 24,30,38,48,60,75,94] [--channels 3] [--meta-steps 600]
        [--inner-steps 16] [--meta-rate 0.1] [--batch 2048] [--tasks-per-step 1] [--seconds S]
        [--device auto] [--out sirenkit/initialisations/set-1.safetensors]
        [--probe coffee,yorkshire_terrier] [--probe-steps 50,300] [--json results.json]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from codec import load_photo  # noqa: E402
from run import machine  # noqa: E402

from sirenkit.codec import meta  # noqa: E402
from sirenkit.codec.weights import HIDDEN_LAYERS  # noqa: E402
from sirenkit.engine.policy import resolve_device  # noqa: E402
from sirenkit.io import write_json  # noqa: E402
from sirenkit.networks.build import build_network, parameter_count  # noqa: E402
from sirenkit.networks.config import NetworkConfig  # noqa: E402
from sirenkit.pictures import luminance  # noqa: E402

OMEGA = 30.0


def network(width: int, channels: int) -> NetworkConfig:
    return NetworkConfig(in_features=2, out_features=channels, model="siren", hidden_features=width,
                         hidden_layers=HIDDEN_LAYERS, first_omega=OMEGA, hidden_omega=OMEGA)


def probe(model: torch.nn.Module, pixels: np.ndarray, steps: int, batch: int, seed: int = 0,
          device: torch.device | str = "cpu") -> float:
    """PSNR (dB) of ``model`` after ``steps`` Adam steps at 1e-3 on ``batch`` random pixels."""
    coords, targets = (tensor.to(device) for tensor in meta.task_tensors(pixels))
    model = meta.adapt(copy.deepcopy(model).to(device), coords, targets, steps=steps, rate=1e-3, batch=batch,
                       generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        fitted = ((model(coords) + 1) / 2).clamp(0, 1).cpu().numpy().reshape(pixels.shape)
    return float(10 * np.log10(1 / np.mean((np.round(fitted * 255) / 255 - pixels) ** 2)))


def photo_for_width(name: str, width: int, channels: int) -> np.ndarray:
    """``name`` scaled so that the codec, at 0.3 bpp and 7 bits per parameter, builds about ``width``."""
    from skimage.transform import resize

    pixels = load_photo(name).astype(np.float32) / 255
    if channels == 1:
        pixels = luminance(pixels, "RGB")[..., None]
    wanted = parameter_count(network(width, channels)) * 7 / 0.3  # pixels
    scale = min(1.0, float(np.sqrt(wanted / (pixels.shape[0] * pixels.shape[1]))))
    shape = (max(16, round(pixels.shape[0] * scale)), max(16, round(pixels.shape[1] * scale)), channels)
    resized = resize(pixels, shape, anti_aliasing=True, preserve_range=True) if scale < 1 else pixels
    return np.round(resized.astype(np.float32) * 255) / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", default="24,30,38,48,60,75,94")
    parser.add_argument("--channels", default="3")
    parser.add_argument("--meta-steps", type=int, default=meta.MetaConfig.meta_steps)
    parser.add_argument("--inner-steps", type=int, default=meta.MetaConfig.inner_steps)
    parser.add_argument("--meta-rate", type=float, default=meta.MetaConfig.meta_rate)
    parser.add_argument("--batch", type=int, default=meta.MetaConfig.batch)
    parser.add_argument("--inner-rate", type=float, default=meta.MetaConfig.inner_rate)
    parser.add_argument("--inner-optimizer", choices=("adam", "sgd"), default=meta.MetaConfig.inner_optimizer)
    parser.add_argument("--tasks-per-step", type=int, default=meta.MetaConfig.tasks_per_step)
    parser.add_argument("--seconds", type=float, default=None, help="Wall-clock budget per initialisation.")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=str(meta.set_path()))
    parser.add_argument("--probe", default="coffee,yorkshire_terrier")
    parser.add_argument("--probe-steps", default="50,300", help="Adam steps of the probe fits (a list).")
    parser.add_argument("--json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = meta.MetaConfig(meta_steps=args.meta_steps, inner_steps=args.inner_steps, meta_rate=args.meta_rate,
                               batch=args.batch, inner_rate=args.inner_rate, inner_optimizer=args.inner_optimizer,
                               tasks_per_step=args.tasks_per_step, seconds=args.seconds)
    device = resolve_device(args.device)
    widths = [int(w) for w in args.widths.split(",")]
    channels = [int(c) for c in args.channels.split(",")]
    probes = [p for p in args.probe.split(",") if p]
    probe_steps = [int(steps) for steps in args.probe_steps.split(",")]
    models: dict[str, torch.nn.Module] = {}
    rows = []
    print(f"# {machine()}, {torch.backends.cpu.get_cpu_capability()}, {device}; "
          f"Reptile: {dataclasses.asdict(settings)}")
    print("| channels | width | parameters | meta-learning (s) | photo | size | probe steps | PSNR from random (dB) | "
          "from the initialisation (dB) | gain (dB) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for count in channels:
        photos = meta.training_photos(count)
        for width in widths:
            config = network(width, count)
            started = time.perf_counter()
            learned = meta.reptile(config, photos, settings, device=device)
            seconds = time.perf_counter() - started
            models[meta.key(config)] = learned
            note = f"Reptile {json.dumps(dataclasses.asdict(settings))} on {','.join(meta.TRAINING_PHOTOS)}"
            meta.save_set(models, Path(args.out), omegas=(OMEGA, OMEGA), note=note)
            for name in probes:
                pixels = photo_for_width(name, width, count)
                for steps in probe_steps:
                    plain = probe(build_network(config, seed=0), pixels, steps, 4096, device=device)
                    shared = probe(learned, pixels, steps, 4096, device=device)
                    row = dict(channels=count, width=width, parameters=parameter_count(config), seconds=seconds,
                               photo=name, size=f"{pixels.shape[1]}×{pixels.shape[0]}", steps=steps, random=plain,
                               initialised=shared)
                    rows.append(row)
                    print(f"| {count} | {width} | {row['parameters']:,} | {seconds:.0f} | {name} | {row['size']} | "
                          f"{steps} | {plain:.2f} | {shared:.2f} | {shared - plain:+.2f} |", flush=True)
            if args.json:  # after every width, atomically: a run stopped at a time limit keeps what it measured
                write_json(args.json, {"machine": machine(), "meta": dataclasses.asdict(settings),
                                       "probe_steps": probe_steps, "rows": rows})


if __name__ == "__main__":
    main()
