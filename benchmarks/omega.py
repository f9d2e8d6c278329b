"""``--omega auto`` against a grid search: for each photo, the image recipe is fitted under ``--time``
seconds at each first-layer ω0 of the grid {10, 15, 20, 30, 45, 60, 90} (the default 30 times
:data:`sirenkit.engine.frequency.RATIOS`), and the value ``--omega auto`` picks (from the spectra of
untrained networks, before any fitting) is compared with the best of the grid. The choice has
no setting tuned on any photo; all photos here are checks.

    python benchmarks/omega.py [--photos camera,chelsea,rocket] [--size 256] [--time 57] [--model siren]
        [--values 30,90] [--seeds 0,1,2] [--precision float32] [--json out.json]

``--values`` keeps part of the grid (the choice is still made over all of it and reported; its gap
then counts only where it picked a kept value); ``--seeds`` fits each value once per seed (the
network's initialisation and the sampled pixels) and scores the mean, to tell a real best from a
lucky run.

A float32-only machine runs float32 about 1.5× slower than an AVX-512 Xeon: 57 s here stands for
the 85 s an image fit is given there.

With ``--audio`` the same is done for sounds instead (files, or ``music`` for benchmarks/media.py's
synthesised piece), around the per-second rule (ω0 = 1000 per second of audio, times the same
ratios), with the audio recipe under ``--time`` seconds, scored by SNR; ``--seconds`` keeps the
first seconds of each clip:

    python benchmarks/omega.py --audio tests/data/speech.wav,music --seconds 1 --time 90
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import machine  # noqa: E402

PHOTOS = ("camera", "chelsea", "rocket")


def image_case(photo: str, args):
    """A photo: the signal, its default network, values and coordinates, recipe, fit and score."""
    from sirenkit.signals.image.data import coordinate_grid, load_image
    from sirenkit.signals.image.fit import fit_image, image_network, image_train_config

    signal = load_image(photo, size=args.size)
    return (signal, image_network(signal, args.model), signal.pixels, coordinate_grid(signal.shape),
            image_train_config(signal), fit_image, "psnr")


def audio_case(clip: str, args):
    """A sound (a file, or ``music``): as :func:`image_case`, scored by SNR."""
    from sirenkit.signals.audio.data import load_audio, time_coordinates, write_audio
    from sirenkit.signals.audio.fit import audio_network, audio_train_config, fit_audio

    if clip == "music":
        from media import music

        path = Path(tempfile.mkdtemp()) / "music.wav"
        write_audio(path, music(3.0, 44_100), 44_100)
        clip = str(path)
    signal = load_audio(clip, seconds=args.seconds)
    return (signal, audio_network(signal, args.model), signal.samples, time_coordinates(len(signal.samples)),
            audio_train_config(signal), fit_audio, "snr")


def main() -> None:
    from sirenkit.engine.frequency import choose_frequency, with_frequency
    from sirenkit.networks.registry import get_family

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default=",".join(PHOTOS))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--time", type=float, default=57.0)
    parser.add_argument("--model", default="siren")
    parser.add_argument("--audio", default=None, help="Sounds instead of photos: files, or 'music'.")
    parser.add_argument("--seconds", type=float, default=None, help="Keep the first seconds of each sound.")
    parser.add_argument("--values", default=None, help="Fit only these values of the grid.")
    parser.add_argument("--seeds", default="0", help="Fit each value once per seed; the mean is its score.")
    parser.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="float32")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    kept = None if args.values is None else [float(v) for v in args.values.split(",") if v]
    seeds = [int(s) for s in args.seeds.split(",") if s]

    print(f"machine: {machine()}, CPU capability {torch.backends.cpu.get_cpu_capability()}", flush=True)
    setting = get_family(args.model).frequency
    assert setting is not None, f"{args.model} has no frequency"
    rows = []
    unit = "SNR" if args.audio else "PSNR"
    print(f"\n| {'sound' if args.audio else 'photo'} | --omega auto | its {unit} (dB) | grid's best "
          f"| best {unit} (dB) | gap (dB) | grid: {setting} → {unit} |")
    print("|---|---|---|---|---|---|---|", flush=True)
    for photo in [p for p in (args.audio or args.photos).split(",") if p]:
        signal, network, values, coords, train, fit, score = (audio_case if args.audio else image_case)(photo, args)
        choice = choose_frequency(network, values, coords)
        train = replace(train, precision=args.precision, time_budget=args.time, steps=10**6, checkpoint_every=0)
        scores, runs = {}, {}
        for value in choice.distances:
            if kept is not None and not any(abs(value - k) < 1e-6 * k for k in kept):
                continue
            runs[value] = [fit(signal, network=with_frequency(network, value), train=replace(train, seed=seed),
                               progress=False).metrics[score] for seed in seeds]
            scores[value] = sum(runs[value]) / len(runs[value])
        best = max(scores, key=lambda value: scores[value])
        auto_psnr = scores.get(choice.value)
        row = {"photo": Path(photo).stem, "auto": choice.value, "auto_psnr": auto_psnr, "best": best,
               "best_psnr": scores[best], "gap": None if auto_psnr is None else scores[best] - auto_psnr,
               "scores": scores, "runs": runs, "seeds": seeds, "distances": choice.distances,
               "choice_seconds": choice.seconds}
        rows.append(row)
        grid = ", ".join(f"{value:g}: {psnr:.2f}" + (f" ({' / '.join(f'{r:.2f}' for r in runs[value])})"
                                                      if len(seeds) > 1 else "") for value, psnr in scores.items())
        shown = "—" if auto_psnr is None else f"{auto_psnr:.2f}"
        gap = "—" if row["gap"] is None else f"{row['gap']:.2f}"
        print(f"| {row['photo']} | {choice.value:g} | {shown} | {best:g} | {row['best_psnr']:.2f} | {gap} | {grid} |",
              flush=True)
    gaps = [row["gap"] for row in rows if row["gap"] is not None]
    if gaps:
        print(f"\nmean gap {sum(gaps) / len(gaps):.2f} dB, largest {max(gaps):.2f} dB over {len(gaps)} "
              f"(goal: within 0.5 dB on average, never more than 2 dB)")
    if args.json:
        from sirenkit.io import write_json

        write_json(args.json, {"machine": machine(), "capability": torch.backends.cpu.get_cpu_capability(),
                               "size": args.size, "time": args.time, "model": args.model,
                               "audio": args.audio, "seconds": args.seconds, "seeds": seeds,
                               "precision": args.precision, "rows": rows}, default=str)


if __name__ == "__main__":
    main()
