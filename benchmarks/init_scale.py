"""Weight-scaled initialisation (Yeom, Lee and Lee, ICLR 2025): seconds and steps to 30, 40 and
50 dB with sirenkit's default image recipe, the SIREN's weights (all but the output layer's)
multiplied by α at initialisation, against the paper's initialisation (α = 1), in one run.

Each setting is ``alpha:omega``: ``omega`` a number (the first layer's ω0), ``auto`` (chosen from
the photo's spectrum with networks of the paper's initialisation, then α applied: what the
default does) or ``auto-scaled`` (chosen among networks already scaled by α). The default
settings: the previous default (``1:auto``), the SIREN paper's network at ω0 = 30 (``1:30``), the
paper's weight scaling at ω0 = 30 (``2:30``) and sirenkit's default (``default``).

Each fit runs the default recipe (its batch, 1,500 steps and their cosine schedule, precision,
compilation; not its 85 s budget, so that the machine's speed does not change the schedule) and
stops at 50 dB; the PSNR of the whole image is evaluated every 25 steps,
outside the timed fitting, and a first fit, not shown, compiles the step that every fit then reuses.
Photos under ``--photos`` are the ones the factor was chosen on;
``--held-out`` photos are checks.

With ``--until``, the fits aim at 40 dB instead (``--until 40``, the plateau rule of
`TrainConfig.plateau_patience`), against the previous ``--until`` (no plateau rule: the schedule
over the 85 s budget) and against cosine schedules over fewer steps (what a shorter ``--time``
gives), the best of which stands for the best schedule:

    python benchmarks/init_scale.py [--photos camera,astronaut,coffee] [--held-out chelsea,rocket,...]
        [--settings 1:auto,1:30,2:30,default] [--until] [--size 256] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine  # noqa: E402

QUALITIES = (30.0, 40.0, 50.0)
UNTIL_SETTINGS = "previous,default,cosine:300,cosine:600"


def until_train(setting: str, recipe):
    """The training of an ``--until`` setting: the default recipe aiming at 40 dB, without the
    plateau rule (``previous``), or with a cosine schedule over ``cosine:STEPS`` steps."""
    aimed = replace(recipe, until=40.0, log_every=25, checkpoint_every=0)
    if setting == "previous":
        return replace(aimed, plateau_patience=0)
    if setting.startswith("cosine:"):
        return replace(aimed, steps=int(setting.split(":")[1]), time_budget=None, plateau_patience=0)
    return aimed


def fit_one(photo: str, setting: str, size: int, until: bool = False) -> dict:
    from sirenkit.engine.frequency import choose_frequency
    from sirenkit.signals.image.data import coordinate_grid, load_image
    from sirenkit.signals.image.fit import fit_image, image_network, image_train_config

    signal = load_image(photo, size=size)
    # the recipe's 1,500 steps without its 85 s budget (a machine's speed would change the schedule),
    # stopped at 50 dB without the plateau rule of a target: the schedule a budgeted fit follows
    train = replace(image_train_config(signal), until=max(QUALITIES), log_every=25, checkpoint_every=0,
                    time_budget=None, plateau_patience=0)
    if until:
        train = until_train(setting, image_train_config(signal))
        network, frequency = image_network(signal), "auto"  # as fit_image chooses it for the network it builds
    elif setting == "default":
        network, frequency = image_network(signal), "auto"
    else:
        alpha_text, omega = setting.split(":")
        network = image_network(signal, weight_scale=float(alpha_text))
        if omega == "auto":  # chosen with the paper's initialisation, as the default chooses it
            frequency = choose_frequency(image_network(signal, weight_scale=1.0), signal.pixels,
                                         coordinate_grid(signal.shape)).value
        else:
            frequency = "auto" if omega == "auto-scaled" else float(omega)
    started = time.perf_counter()
    fitted = fit_image(signal, network=network, train=train, frequency=frequency, progress=False)
    history = fitted.history
    row: dict = {"photo": photo, "setting": setting, "weight_scale": fitted.network.weight_scale,
                 "omega": fitted.network.first_omega, "final_psnr": history[-1]["psnr"],
                 "steps": fitted.metrics["steps"], "seconds": fitted.metrics["seconds"],
                 "compiled": fitted.metrics["compiled"], "precision": fitted.metrics["precision"],
                 "wall_seconds": round(time.perf_counter() - started, 1),
                 "history": [{k: r[k] for k in ("step", "seconds", "psnr")} for r in history]}
    for quality in QUALITIES:
        first = next((r for r in history if r["psnr"] >= quality), None)
        row[f"seconds_to_{quality:.0f}db"] = None if first is None else first["seconds"]
        row[f"steps_to_{quality:.0f}db"] = None if first is None else first["step"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default="camera,astronaut,coffee", help="Photos the factor was tuned on.")
    parser.add_argument("--held-out", default="chelsea,rocket,yorkshire_terrier.jpg",
                        help="Photos checked, not tuned on ('' for none).")
    parser.add_argument("--settings", default=None, help="[default: 1:auto,1:30,2:30,default; with --until "
                        f"{UNTIL_SETTINGS}]")
    parser.add_argument("--until", action="store_true", help="Aim at 40 dB with each schedule.")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    sets = [("tuning", p) for p in args.photos.split(",") if p] + [
        ("held out", p) for p in args.held_out.split(",") if p]
    rows = []
    if sets:  # compile once before the measured fits: later fits in the process reuse the compiled step
        fit_one(sets[0][1], "1:auto", args.size, args.until)
    for group, photo in sets:
        settings = args.settings or (UNTIL_SETTINGS if args.until else "1:auto,1:30,2:30,default")
        for setting in settings.split(","):
            row = {"set": group, **fit_one(photo, setting, args.size, args.until)}
            rows.append(row)
            shown = ", ".join(f"{q:.0f} dB: " + ("—" if row[f"seconds_to_{q:.0f}db"] is None else
                                                 f"{row[f'seconds_to_{q:.0f}db']:.1f} s ({row[f'steps_to_{q:.0f}db']})")
                              for q in QUALITIES)
            print(f"{group:8} {photo:24} {setting:12} α {row['weight_scale']:g} ω0 {row['omega']:g}: {shown}; "
                  f"final {row['final_psnr']:.2f} dB", flush=True)
    print()
    print("| photo | setting | s to 30 dB | s to 40 dB | s to 50 dB | 40 dB: previous default / this |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        base = next(r for r in rows if r["photo"] == row["photo"] and r["setting"] == rows[0]["setting"])
        ratio = "" if row["seconds_to_40db"] is None or base["seconds_to_40db"] is None else \
            f"{base['seconds_to_40db'] / row['seconds_to_40db']:.2f}×"
        cells = ["—" if row[f"seconds_to_{q:.0f}db"] is None else f"{row[f'seconds_to_{q:.0f}db']:.1f}"
                 for q in QUALITIES]
        print(f"| {row['photo']} | {row['setting']} | {' | '.join(cells)} | {ratio} |")
    if args.json:
        capability = torch.backends.cpu.get_cpu_capability()
        args.json.write_text(json.dumps({"machine": machine(), "cpu_capability": capability,
                                         "date": time.strftime("%Y-%m-%d"),
                                         "size": args.size, "until": args.until, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
