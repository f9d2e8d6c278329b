"""Audio and video with the default settings, through the command line as a user runs them, beside
the paper's baselines with the same steps, in the same run:

- 3 s of 44.1 kHz music (benchmarks/media.py, synthesised), written as a WAV file: SNR and PSNR;
- a 24-frame 80×64 colour clip (a camera gliding over the terrier photo), written as MP4: mean PSNR;
- the bundled clip (scikit-image's no_time_for_that_tiny.gif), SIREN only.

    python benchmarks/signals.py [--models siren,relu-pe] [--steps N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from media import music, panning_clip  # noqa: E402

PHOTO = HERE.parents[0] / ".." / "shared" / "data" / "yorkshire_terrier.jpg"


def run(kind: str, source: Path | None, model: str, out: Path, steps: int | None) -> dict:
    command = [sys.executable, "-m", "sirenkit", "fit", kind, *([str(source)] if source else []),
               "--model", model, "--out", str(out), "--overwrite", "-q"]
    if steps:
        command += ["--steps", str(steps)]
    subprocess.run(command, check=True)
    metrics = json.loads((out / "metrics.json").read_text())
    print(f"  {kind} {model}: {({k: metrics.get(k) for k in ('snr', 'psnr', 'seconds')})}", file=sys.stderr, flush=True)
    return {"task": kind, "input": source.name if source else "no_time_for_that_tiny.gif", "model": model,
            **{key: metrics.get(key) for key in ("snr", "psnr", "steps", "seconds", "wall_seconds", "parameters",
                                                 "precision")}}


def table(rows: list[dict]) -> str:
    lines = ["| input | network | steps | fitting | SNR | PSNR | PSNR vs SIREN |", "|---|---|---|---|---|---|---|"]
    siren = {row["input"]: row for row in rows if row["model"] == "siren"}
    for row in rows:
        snr = f"{row['snr']:.1f} dB" if row.get("snr") is not None else ""
        delta = row["psnr"] - siren[row["input"]]["psnr"] if row["input"] in siren else 0.0
        lines.append(f"| {row['input']} | {row['model']} | {row['steps']:,} | {row['seconds']:.0f} s | {snr} | "
                     f"{row['psnr']:.2f} dB | {delta:+.2f} dB |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="siren,relu-pe")
    parser.add_argument("--steps", type=int, default=None, help="[default: each task's]")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the inputs and run folders here.")
    args = parser.parse_args()
    from sirenkit.signals.audio.data import write_audio
    from sirenkit.signals.video.data import write_video

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        write_audio(folder / "music.wav", music(3.0, 44_100), 44_100)
        write_video(folder / "pan.mp4", panning_clip(PHOTO) / 255.0, 24.0)
        for model in models:
            rows.append(run("audio", folder / "music.wav", model, folder / f"audio-{model}", args.steps))
        for model in models:
            rows.append(run("video", folder / "pan.mp4", model, folder / f"video-{model}", args.steps))
        rows.append(run("video", None, "siren", folder / "video-tiny", args.steps))
    print(f"\nAudio and video, default settings, {torch.get_num_threads()} threads; baselines with the same "
          "network size and steps")
    print(table(rows))
    if args.json:
        from sirenkit.io import write_json

        write_json(args.json, rows)


if __name__ == "__main__":
    main()
