"""Seconds of fitting to reach 30 and 40 dB on camera, and the PSNR after 60 seconds: the paper's
recipe (benchmarks/reference.py: eager, Adam at 1e-4, every pixel every step) against sirenkit's
default image recipe, in the same process, from the same initial weights.

The reference runs once (it takes about 20 minutes on a 2-core CPU to reach 40 dB) and stops at 40 dB
or at ``--reference-budget`` seconds; sirenkit's recipe runs ``--repeats`` times and the medians are
reported. Evaluations (the PSNR of the whole image every few steps) are not counted as fitting time.

    python benchmarks/time_to_quality.py [--size 256] [--repeats 3] [--reference-budget 1800] [--json out.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import PaperSiren, image_loss  # noqa: E402

QUALITIES = (30.0, 40.0)
AT_SECONDS = 60.0


def reference_run(signal, initial_state: dict, *, budget: float, evaluate_every: int, device) -> list[dict]:
    """Fit with the paper's recipe; rows of (step, seconds, psnr)."""
    from sirenkit.networks.build import Siren
    from sirenkit.signals.image.data import coordinate_grid
    from sirenkit.signals.image.fit import image_network

    template = Siren(image_network(signal))
    template.load_state_dict(initial_state)
    model = PaperSiren(2, signal.channels).copy_weights_from(template).to(device)
    coords = coordinate_grid(signal.shape, device=device)
    target = torch.from_numpy(signal.pixels.reshape(-1, signal.channels)).to(device) * 2 - 1
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    rows, seconds, step = [], 0.0, 0
    while True:
        started = time.perf_counter()
        for _ in range(evaluate_every):
            optimizer.zero_grad()
            image_loss(model, coords, target, "value").backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - started
        step += evaluate_every
        with torch.no_grad():
            mse = float((model(coords).clamp(-1, 1) - target).square().mean()) / 4
        rows.append({"step": step, "seconds": seconds, "psnr": -10 * torch.log10(torch.tensor(mse)).item()})
        print(f"  reference: step {step}, {seconds:.0f} s, {rows[-1]['psnr']:.2f} dB", file=sys.stderr, flush=True)
        if (rows[-1]["psnr"] >= max(QUALITIES) and seconds >= AT_SECONDS) or seconds >= budget:
            return rows


def sirenkit_run(signal, device) -> tuple[list[dict], dict, dict]:
    """sirenkit's default image recipe; its history, initial weights and the recipe."""
    from sirenkit.config import replace, to_dict
    from sirenkit.networks.build import build_network
    from sirenkit.signals.image.fit import fit_image, image_network, image_train_config

    network = image_network(signal)
    train = replace(image_train_config(signal), log_every=10, checkpoint_every=0, device=device.type)
    torch.manual_seed(train.seed)
    initial = build_network(network).state_dict()
    fitted = fit_image(signal, network=network, train=train, progress=False)
    return fitted.history, initial, to_dict(train)


def first_time(rows: list[dict], quality: float) -> tuple[float, int] | None:
    """Seconds and steps at the first evaluation reaching ``quality`` dB."""
    return next(((r["seconds"], r["step"]) for r in rows if r["psnr"] >= quality), None)


def psnr_at(rows: list[dict], seconds: float) -> float | None:
    """Best PSNR evaluated within the first ``seconds`` of fitting."""
    reached = [r["psnr"] for r in rows if r["seconds"] <= seconds]
    return max(reached) if reached else None


def summarise(rows: list[dict]) -> dict:
    summary = {f"seconds_to_{q:.0f}db": (first_time(rows, q) or (None, None))[0] for q in QUALITIES}
    summary.update({f"steps_to_{q:.0f}db": (first_time(rows, q) or (None, None))[1] for q in QUALITIES})
    summary[f"psnr_after_{AT_SECONDS:.0f}s"] = psnr_at(rows, AT_SECONDS)
    summary["final_psnr"] = rows[-1]["psnr"]
    summary["final_seconds"] = rows[-1]["seconds"]
    return summary


def median(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if len(known) == len(values) else None


def table(reference: dict, ours: dict, budget: float) -> str:
    lines = ["| figure | paper's recipe | sirenkit default | ratio |", "|---|---|---|---|"]
    for quality in QUALITIES:
        key = f"seconds_to_{quality:.0f}db"
        ref, mine = reference[key], ours[key]
        ref_text = f"{ref:.0f} s" if ref is not None else f"> {budget:.0f} s"
        mine_text = f"{mine:.1f} s" if mine is not None else "not reached"
        if ref is not None and mine is not None:
            ratio = f"{ref / mine:.1f}×"
        elif mine is not None:
            ratio = f"> {budget / mine:.1f}×"
        else:
            ratio = "–"
        lines.append(f"| seconds to {quality:.0f} dB | {ref_text} | {mine_text} | {ratio} |")
    for quality in QUALITIES:
        key = f"steps_to_{quality:.0f}db"
        ref, mine = reference[key], ours[key]
        lines.append(f"| steps to {quality:.0f} dB | {ref if ref is not None else '–'} | "
                     f"{mine if mine is not None else '–'} | |")
    key = f"psnr_after_{AT_SECONDS:.0f}s"
    ref, mine = reference[key], ours[key]
    gain = f"+{mine - ref:.1f} dB" if ref is not None and mine is not None else "–"
    ref_text = f"{ref:.2f} dB" if ref is not None else "–"
    mine_text = f"{mine:.2f} dB" if mine is not None else "–"
    lines.append(f"| PSNR after {AT_SECONDS:.0f} s | {ref_text} | {mine_text} | {gain} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference-budget", type=float, default=1800.0,
                        help="Seconds after which the reference run stops even below 40 dB.")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from sirenkit.signals.image.data import load_image

    device = torch.device(args.device)
    signal = load_image("camera", size=args.size)
    runs, initial, recipe = [], None, None
    for repeat in range(args.repeats):
        history, initial, recipe = sirenkit_run(signal, device)
        runs.append(summarise(history))
        print(f"  sirenkit run {repeat + 1}: {runs[-1]}", file=sys.stderr, flush=True)
    ours = {key: median([run[key] for run in runs]) for key in runs[0]}
    reference = summarise(reference_run(signal, initial, budget=args.reference_budget,
                                        evaluate_every=10, device=device))
    print(f"\nTime to quality, camera {args.size}², paper's image network (2 → 256 × 4 → 1), {args.device}, "
          f"{torch.get_num_threads()} threads; sirenkit: median of {args.repeats} runs of its default recipe "
          f"(batch {recipe['batch_size']}, {recipe['steps']} steps, Adam {recipe['learning_rate']:g} cosine, "
          f"{recipe['precision']}); paper's recipe: one run")
    print(table(reference, ours, args.reference_budget))
    if args.json:
        from sirenkit.io import write_json

        write_json(args.json, {"reference": reference, "sirenkit": ours, "sirenkit_runs": runs,
                               "recipe": recipe, "size": args.size})


if __name__ == "__main__":
    main()
