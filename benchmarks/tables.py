"""The Benchmarks pages of the documentation (docs/benchmarks/*.md), written from benchmarks/results/*.json.

Every table on those pages is computed here from the stored results, so that a number on a page
cannot drift from its measurement: rerun a benchmark, then ``make bench-pages``. Each table is
preceded by one line naming the machine (normalised: :func:`machine_of`), the date (the result's
``date`` field, else the date of the last commit that touched the file) and the command that
produced it (:data:`COMMANDS`), and, where it helps, by one line reading it, computed from the data.
Every results file is used by some table or listed in :data:`SUPERSEDED` with the file that replaces it.

    python benchmarks/tables.py            # write the pages
    python benchmarks/tables.py --check    # exit 1, with one line, if a page differs from what it would write
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGES = ROOT / "docs" / "benchmarks"

XEON = "a 2-core Intel Xeon"
EPYC_BF16 = "a 2-core AMD EPYC with native bfloat16 (AVX-512 BF16)"
EPYC_AVX2 = "a 2-core AMD EPYC, AVX2 only"
H200 = "an NVIDIA H200"
MACHINES = (XEON, EPYC_BF16, EPYC_AVX2, H200)
"""The machines the results come from, named alike on every page."""

UNNAMED_MACHINES = {
    # The first benchmarks wrote no machine. Their runs are the project's 2-core Intel Xeon's: every
    # result of those days that names its machine names it, and the pages of the time said so.
    "steps-cpu.json": XEON, "time_to_quality-cpu.json": XEON, "sweep-cpu.json": XEON, "shapes-cpu.json": XEON,
    "meshing-cpu.json": XEON, "signals-cpu.json": XEON,
    "steps-cpu-avx2.json": EPYC_AVX2,  # steps.py left its bfloat16 path out there: bfloat16 is emulated
}

TERRIER = "yorkshire_terrier.jpg"
"""How a command names the terrier photo: a file (not a bundled scikit-image name); give its path."""

COMMANDS = {
    "steps-cpu.json": "python benchmarks/steps.py --json benchmarks/results/steps-cpu.json",
    "steps-cpu-avx2.json": "python benchmarks/steps.py --json benchmarks/results/steps-cpu-avx2.json",
    "time_to_quality-cpu.json": "python benchmarks/time_to_quality.py "
                                "--json benchmarks/results/time_to_quality-cpu.json",
    "sweep-cpu.json": f"python benchmarks/sweep.py --images camera,astronaut,brick,{TERRIER} "
                      "--json benchmarks/results/sweep-cpu.json",
    "init-scale-256-cpu.json": f"python benchmarks/init_scale.py --photos '' --held-out chelsea,rocket,{TERRIER} "
                               "--settings 1:auto,2:auto --json benchmarks/results/init-scale-256-cpu.json",
    "until-256-cpu.json": f"python benchmarks/init_scale.py --until --photos '' --held-out chelsea,rocket,{TERRIER} "
                          "--json benchmarks/results/until-256-cpu.json",
    "pdes-cpu.json": "python benchmarks/pdes.py --problems burgers,poisson,heat,wave,helmholtz,allen-cahn,"
                     "burgers-held,poisson-held,heat-held,wave-held,helmholtz-held,allen-cahn-held "
                     "--budget 90 --json benchmarks/results/pdes-cpu.json",
    "wire-defaults-cpu.json": "python benchmarks/wire_defaults.py --jobs 2 "
                              "--json benchmarks/results/wire-defaults-cpu.json",
    "busy-cpu.json": "python benchmarks/busy.py --steps 300 --from 100 --json benchmarks/results/busy-cpu.json",
    "omega-256-57s-cpu.json": "python benchmarks/omega.py --photos camera,chelsea "
                              "--json benchmarks/results/omega-256-57s-cpu.json",
    "omega-256-57s-more-cpu.json": f"python benchmarks/omega.py --photos rocket,astronaut,{TERRIER} "
                                   "--json benchmarks/results/omega-256-57s-more-cpu.json",
    "omega-256-57s-texture-cpu.json": "python benchmarks/omega.py --photos grass,brick,coins "
                                      "--json benchmarks/results/omega-256-57s-texture-cpu.json",
    "omega-256-57s-grass-seeds-cpu.json": "python benchmarks/omega.py --photos grass --values 30,90 --seeds 0,1,2 "
                                          "--json benchmarks/results/omega-256-57s-grass-seeds-cpu.json",
    "omega-512-57s-cpu.json": f"python benchmarks/omega.py --photos camera,grass,{TERRIER} --size 512 "
                              "--values 30,90 --json benchmarks/results/omega-512-57s-cpu.json",
    "omega-audio-60s-cpu.json": "python benchmarks/omega.py --audio tests/data/speech.wav,music --time 60 "
                                "--json benchmarks/results/omega-audio-60s-cpu.json",
    "zoo-256-198k-60s-cpu.json": f"python benchmarks/zoo.py --photos camera,grass,{TERRIER} "
                                 "--rates 3e-4,1e-3,3e-3 --figure docs/zoo-camera.png "
                                 "--json benchmarks/results/zoo-256-198k-60s-cpu.json",
    "zoo-256-198k-60s-wire-fixed-cpu.json": f"python benchmarks/zoo.py --photos camera,grass,{TERRIER} "
                                            "--models wire "
                                            "--json benchmarks/results/zoo-256-198k-60s-wire-fixed-cpu.json",
    "zoo-256-198k-60s-sirenauto-cpu.json": f"python benchmarks/zoo.py --photos camera,grass,{TERRIER} "
                                           "--models siren@auto --rate-of siren@auto=1e-3 "
                                           "--json benchmarks/results/zoo-256-198k-60s-sirenauto-cpu.json",
    "zoo-256-198k-60s-more-cpu.json": "python benchmarks/zoo.py --photos brick,rocket,text,immunohistochemistry "
                                      "--models siren@auto,finer,wire,gauss,hash-grid,grid "
                                      "--rate-of siren@auto=1e-3,finer=3e-4,wire=3e-3,gauss=3e-3,hash-grid=0.027,"
                                      "grid=0.081 --json benchmarks/results/zoo-256-198k-60s-more-cpu.json",
    "zoo-256-198k-60s-rerun-cpu.json": "python benchmarks/zoo.py --photos astronaut,chelsea,coins "
                                       "--models siren@auto,finer,wire,gauss,hash-grid,grid "
                                       "--rate-of siren@auto=1e-3,finer=3e-4,wire=3e-3,gauss=3e-3,hash-grid=0.027,"
                                       "grid=0.081 --json benchmarks/results/zoo-256-198k-60s-rerun-cpu.json",
    "zoo-256-198k-60s-wire-s30-cpu.json": f"python benchmarks/zoo.py --photos camera,grass,{TERRIER} --models wire "
                                          "--rate-of wire=3e-3 --setting wire_scale=30 "
                                          "--json benchmarks/results/zoo-256-198k-60s-wire-s30-cpu.json",
    "zoo-256-198k-1000steps-camera-cpu.json": "python benchmarks/zoo.py --photos camera "
                                              "--models siren@auto,finer,wire,gauss,hash-grid,grid "
                                              "--rate-of siren@auto=1e-3,finer=3e-4,wire=3e-3,gauss=3e-3,"
                                              "hash-grid=0.027,grid=0.081 --steps 1000 --time 0 "
                                              "--json benchmarks/results/zoo-256-198k-1000steps-camera-cpu.json",
    "zoo-256-198k-1000steps-more-cpu.json": "python benchmarks/zoo.py --photos astronaut,chelsea,brick,grass,rocket,"
                                            f"text,immunohistochemistry,coins,{TERRIER} "
                                            "--models siren@auto,finer,wire,gauss,hash-grid,grid "
                                            "--rate-of siren@auto=1e-3,finer=3e-4,wire=3e-3,gauss=3e-3,"
                                            "hash-grid=0.027,grid=0.081 --steps 1000 --time 0 "
                                            "--json benchmarks/results/zoo-256-198k-1000steps-more-cpu.json",
    "zoo-512-198k-60s-cpu.json": f"python benchmarks/zoo.py --photos camera,{TERRIER} --size 512 "
                                 "--models siren@auto,finer,wire,gauss,hash-grid,grid "
                                 "--rate-of siren@auto=1e-3,finer=3e-4,wire=3e-3,gauss=3e-3,hash-grid=0.027,grid=0.081 "
                                 "--json benchmarks/results/zoo-512-198k-60s-cpu.json",
    "zoo-512-198k-60s-ten-cpu.json": "python benchmarks/zoo.py --photos camera,astronaut,brick,grass,rocket,"
                                     f"immunohistochemistry,moon,hubble_deep_field,retina,{TERRIER} --size 512 "
                                     "--models siren@auto,finer,wire,gauss,hash-grid,grid "
                                     "--rate-of siren@auto=1e-3,finer=3e-4,wire=3e-3,gauss=3e-3,hash-grid=0.027,"
                                     "grid=0.081 --figure docs/zoo-512-camera.png "
                                     "--json benchmarks/results/zoo-512-198k-60s-ten-cpu.json",
    "zoo-512-198k-1000steps-cpu.json": "python benchmarks/zoo.py --photos camera,astronaut,brick,grass,rocket,"
                                       f"immunohistochemistry,moon,hubble_deep_field,retina,{TERRIER} --size 512 "
                                       "--models siren@auto,finer,wire,gauss,hash-grid,grid "
                                       "--rate-of siren@auto=1e-3,finer=3e-4,wire=3e-3,gauss=3e-3,hash-grid=0.027,"
                                       "grid=0.081 --steps 1000 --time 0 "
                                       "--json benchmarks/results/zoo-512-198k-1000steps-cpu.json",
    "zoo-256-20k-60s-cpu.json": "python benchmarks/zoo.py --photos camera,grass --siren-width 80 "
                                "--models siren,finer,gauss,hash-grid,grid --rates 3e-4,1e-3,3e-3 "
                                "--json benchmarks/results/zoo-256-20k-60s-cpu.json",
    "zoo-256-20k-60s-ten-cpu.json": "python benchmarks/zoo.py --siren-width 80 "
                                    "--models siren@auto,finer,wire,gauss,hash-grid,grid --sweep-photos coffee,moon "
                                    "--rates 3e-4,1e-3,3e-3,1e-2 --figure docs/zoo-20k-camera.png "
                                    "--json benchmarks/results/zoo-256-20k-60s-ten-cpu.json",
    "zoo-256-20k-1000steps-cpu.json": "python benchmarks/zoo.py --siren-width 80 "
                                      "--models siren@auto,finer,wire,gauss,hash-grid --rate-of siren@auto=1e-3,"
                                      "finer=1e-3,wire=1e-2,gauss=1e-2,hash-grid=0.03 --steps 1000 --time 0 "
                                      "--json benchmarks/results/zoo-256-20k-1000steps-cpu.json; then "
                                      "--models grid --sweep-photos coffee,moon --rates 3e-3,1e-2,3e-2,0.081 "
                                      "--sweep-steps 1000 and zoo.py --merge",
    "zoo-512-20k-60s-ten-cpu.json": "python benchmarks/zoo.py --photos camera,astronaut,brick,grass,rocket,"
                                    f"immunohistochemistry,gravel,hubble_deep_field,retina,{TERRIER} --size 512 "
                                    "--siren-width 80 --models siren@auto,finer,wire,gauss,hash-grid,grid "
                                    "--rate-of siren@auto=1e-3,finer=1e-3,wire=1e-2,gauss=1e-2,hash-grid=0.03,"
                                    "grid=3e-3 --log-every 200 --figure docs/zoo-512-20k-camera.png "
                                    "--json benchmarks/results/zoo-512-20k-60s-ten-cpu.json",
    "zoo-512-20k-1000steps-cpu.json": "python benchmarks/zoo.py --photos camera,astronaut,brick,grass,rocket,"
                                      f"immunohistochemistry,gravel,hubble_deep_field,retina,{TERRIER} --size 512 "
                                      "--siren-width 80 --models siren@auto,finer,wire,gauss,hash-grid,grid "
                                      "--rate-of siren@auto=1e-3,finer=1e-3,wire=1e-2,gauss=1e-2,hash-grid=0.03,"
                                      "grid=1e-2 --steps 1000 --time 0 "
                                      "--json benchmarks/results/zoo-512-20k-1000steps-cpu.json",
    "finer-rate-by-width-cpu.json": "python benchmarks/zoo.py --siren-width W --models siren,finer "
                                    "--sweep-photos coffee,moon --rates 3e-4,1e-3,3e-3 (W = 48, 128, 256); "
                                    "python benchmarks/zoo.py --siren-width W --models finer --rate-of finer=R "
                                    "--steps 1000 --time 0",
    "zoo-audio-198k-60s-cpu.json": "python benchmarks/zoo_kinds.py --kind audio "
                                   "--json benchmarks/results/zoo-audio-198k-60s-cpu.json",
    "zoo-audio-12k-60s-cpu.json": "python benchmarks/zoo_kinds.py --kind audio --siren-width 64 "
                                  "--json benchmarks/results/zoo-audio-12k-60s-cpu.json",
    "zoo-audio-finer-omega100-12k-60s-cpu.json": "python benchmarks/zoo_kinds.py --kind audio --siren-width 64 "
                                                 "--models finer "
                                                 "--json benchmarks/results/zoo-audio-finer-omega100-12k-60s-cpu.json",
    "zoo-shape-198k-60s-cpu.json": "python benchmarks/zoo_kinds.py --kind shape --no-sweep --mesh-resolution 128 "
                                   "--metric-samples 50000 --json benchmarks/results/zoo-shape-198k-60s-cpu.json",
    "zoo-shape-finer-1e-4-60s-cpu.json": "python benchmarks/zoo_kinds.py --kind shape --models finer "
                                         "--rate-of finer=1e-4 --mesh-resolution 128 --metric-samples 50000 "
                                         "--json benchmarks/results/zoo-shape-finer-1e-4-60s-cpu.json",
    "zoo-shape-finer-bias1-60s-cpu.json": "python benchmarks/zoo_kinds.py --kind shape --models finer "
                                          "--rate-of finer=1e-4 --mesh-resolution 128 --metric-samples 50000 "
                                          "--json benchmarks/results/zoo-shape-finer-bias1-60s-cpu.json",
    "zoo-shape-gauss-wire-1e-4-60s-cpu.json": "python benchmarks/zoo_kinds.py --kind shape --models gauss,wire "
                                              "--rate-of gauss=1e-4,wire=1e-4 --mesh-resolution 128 "
                                              "--metric-samples 50000 "
                                              "--json benchmarks/results/zoo-shape-gauss-wire-1e-4-60s-cpu.json",
    "zoo-shape-gauss-s6-60s-cpu.json": "python benchmarks/zoo_kinds.py --kind shape --models gauss --no-sweep "
                                       "--mesh-resolution 128 --metric-samples 50000 "
                                       "--json benchmarks/results/zoo-shape-gauss-s6-60s-cpu.json",
    "zoo-shape-siren-avx2-60s-cpu.json": "python benchmarks/zoo_kinds.py --kind shape --models siren --no-sweep "
                                         "--mesh-resolution 128 --metric-samples 50000 "
                                         "--json benchmarks/results/zoo-shape-siren-avx2-60s-cpu.json",
    "zoo-poisson-198k-60s-cpu.json": "python benchmarks/zoo_kinds.py --kind poisson "
                                     "--json benchmarks/results/zoo-poisson-198k-60s-cpu.json",
    "derivatives-float32-360s-cpu.json": "python benchmarks/derivatives.py --photos camera,astronaut,coffee,brick,"
                                         f"gravel --held-out {TERRIER},immunohistochemistry,grass --time 360 "
                                         "--json benchmarks/results/derivatives-float32-360s-cpu.json",
    "derivatives-float32-360s-chelsea-rocket-cpu.json": "python benchmarks/derivatives.py --photos chelsea,rocket "
                                                        "--held-out '' --time 360 --json "
                                                        "benchmarks/results/derivatives-float32-360s-chelsea-rocket-"
                                                        "cpu.json",
    "derivatives-laplacian-float32-360s-cpu.json": "python benchmarks/derivatives.py --source laplacian "
                                                   "--photos camera,grass,chelsea,astronaut,coffee "
                                                   f"--held-out {TERRIER} --time 360 --json "
                                                   "benchmarks/results/derivatives-laplacian-float32-360s-cpu.json",
    "shapes-cpu.json": "python benchmarks/shapes.py --json benchmarks/results/shapes-cpu.json",
    "meshing-cpu.json": "python benchmarks/meshing.py runs/bunny --json benchmarks/results/meshing-cpu.json",
    "signals-cpu.json": "python benchmarks/signals.py --json benchmarks/results/signals-cpu.json",
    "codec-0.3bpp-150s-cpu.json": "python benchmarks/codec.py --rates 0.3 "
                                  "--json benchmarks/results/codec-0.3bpp-150s-cpu.json",
    "codec-rd-150s-cpu.json": "python benchmarks/codec.py --rates 0.1,0.2,0.5,1.0 --photos astronaut,yorkshire_terrier"
                              " --json benchmarks/results/codec-rd-150s-cpu.json",
    "codec-rd-150s-more-cpu.json": "python benchmarks/codec.py --rates 0.1,0.2,0.5,1.0 --photos coffee,rocket,"
                                   "immunohistochemistry,hubble_deep_field,retina,grace_hopper "
                                   "--json benchmarks/results/codec-rd-150s-more-cpu.json",
    "many-small-cpu.json": "python benchmarks/many.py --networks small --steps 200 "
                           "--json benchmarks/results/many-small-cpu.json",
    "many-paper-cpu.json": "python benchmarks/many.py --networks paper --steps 100 "
                           "--json benchmarks/results/many-paper-cpu.json",
    "many-768x512-gpu.json": "python benchmarks/many.py --size 768x512 --device cuda "
                             "--json benchmarks/results/many-768x512-gpu.json",
    "device-check-cpu.json": "python benchmarks/device_check.py --device cpu "
                             "--json benchmarks/results/device-check-cpu.json",
    "device-check-gpu.json": "python benchmarks/device_check.py --device cuda "
                             "--json benchmarks/results/device-check-gpu.json",
    "protocol-finer-gpu.json": f"python benchmarks/protocols.py --paper finer --photos camera,astronaut,{TERRIER} "
                               "--compile auto --device cuda --json benchmarks/results/protocol-finer-gpu.json",
    "meta-gpu.json": "python benchmarks/meta.py --device cuda --widths 24,30,38,48 --meta-steps 100000 --seconds 22 "
                     "--tasks-per-step 32 --meta-rate 1.0 --inner-optimizer sgd --inner-rate 1e-2 "
                     "--probe-steps 50,300,2000 --json benchmarks/results/meta-gpu.json",
}
"""The command behind each results file, from its script's options and the parameters the file records."""

SUPERSEDED = {
    "zoo-256-20k-60s-cpu.json": (
        "zoo-256-20k-60s-ten-cpu.json",
        "a first run on two photos, each family's rate swept on coffee alone: those rates did not carry over at "
        "this size (SIREN at the {rate} it chose ended camera at {psnr:.1f} dB), so the rates were swept again on "
        "two photos and all ten photos rerun"),
    "zoo-512-198k-60s-cpu.json": (
        "zoo-512-198k-60s-ten-cpu.json",
        "a first run on two photos on another machine; the ten-photo run measures every photo on one machine"),
}
"""Results files no table shows: the file that replaces each, and why."""

SUPERSEDED_ROWS = {
    "zoo-256-198k-60s-cpu.json": (
        "zoo-256-198k-60s-wire-fixed-cpu.json",
        "WIRE's rows: WIRE's window once let its exponent overflow; the fixed network was swept and run again"),
    "omega-256-57s-texture-cpu.json": (
        "omega-256-57s-grass-seeds-cpu.json",
        "grass's row is shown beside three seeds of the two values that matter, which replace its single runs"),
}
"""Results files some of whose rows a later run replaces (the rest are shown)."""

LABELS = {"siren@auto": "SIREN (ω0 chosen)", "siren": "SIREN", "finer": "FINER", "wire": "WIRE", "gauss": "Gauss",
          "hash-grid": "hash grid", "grid": "dense grid", "relu-pe": "ReLU + PE"}
FAMILIES = ("siren@auto", "finer", "wire", "gauss", "hash-grid", "grid")
PHOTO_NAMES = {"yorkshire_terrier": "the terrier", "yorkshire_terrier.jpg": "the terrier",
               "stanford-bunny": "bunny", "spot": "Spot"}


# --- reading the results -------------------------------------------------------------------------


@functools.cache
def load(name: str):
    """A results file's JSON (a dict or, from the first benchmarks, a list)."""
    return json.loads((RESULTS / name).read_text())


def machine_of(name: str) -> str:
    """The machine a results file was measured on, named as on every page."""
    data = load(name)
    text = data.get("machine") if isinstance(data, dict) else None
    if text is None:
        if name not in UNNAMED_MACHINES:
            raise ValueError(f"{name} names no machine: add it to UNNAMED_MACHINES in benchmarks/tables.py")
        return UNNAMED_MACHINES[name]
    return normalise_machine(text, data.get("capability", ""))


def normalise_machine(text: str, capability: str = "") -> str:
    """``machine`` (and ``capability``) as a results file records them → the machine's name on the pages.
    An EPYC that names no capability is the one with AVX-512 BF16, the project's other 2-core CPU."""
    if text.startswith("NVIDIA H200"):
        return H200
    if text.startswith("NVIDIA"):
        return "an " + text.split(",")[0]
    if "Xeon" in text:
        return XEON
    if "EPYC" in text:
        return EPYC_AVX2 if "AVX2" in capability or "AVX2 only" in text else EPYC_BF16
    raise ValueError(f"an unknown machine: {text!r}; name it in benchmarks/tables.py")


@functools.cache
def date_of(name: str) -> str:
    """The result's ``date``, else the date of the last commit that touched it; ``undated`` without git."""
    data = load(name)
    if isinstance(data, dict) and data.get("date"):
        return str(data["date"])
    try:
        found = subprocess.run(["git", "log", "-1", "--format=%cs", "--", f"benchmarks/results/{name}"], cwd=ROOT,
                               capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        found = ""
    return found or "undated"


def mean(values: Iterable[float]) -> float:
    return statistics.fmean(list(values))


# --- writing markdown ----------------------------------------------------------------------------


USED: set[str] = set()
"""Every results file a table has read (:func:`source`)."""


@dataclass(frozen=True)
class Source:
    """One results file behind a table, the command that made it and what part of the table it gives."""

    file: str
    part: str = ""


def source(*sources: Source | str) -> str:
    """The line before a table: machine(s), date(s) and command(s) of its results files."""
    items = [item if isinstance(item, Source) else Source(item) for item in sources]
    USED.update(item.file for item in items)
    machines = list(dict.fromkeys(machine_of(item.file) for item in items))
    dates = sorted({date_of(item.file) for item in items})
    if len(machines) == 1:
        machine_text = f"*Machine:* {machines[0]}"
    else:  # the machine of most sources is named alone, the others with the parts they gave
        counts = {m: sum(1 for i in items if machine_of(i.file) == m) for m in machines}
        main = max(machines, key=counts.__getitem__)
        if list(counts.values()).count(counts[main]) > 1:  # a tie: every machine with its parts
            main = ""
        parts = {m: ", ".join(i.part for i in items if machine_of(i.file) == m and i.part) for m in machines}
        machine_text = "*Machines:* " + "; ".join(
            f"{m} ({parts[m]})" if parts[m] and m != main else m for m in machines)
    date_text = f"*date:* {dates[0]}" if len(dates) == 1 else "*dates:* " + ", ".join(dates)
    commands = [f"`{COMMANDS[i.file]}`" + (f" ({i.part})" if i.part and len(items) > 1 else "") for i in items]
    command_text = ("*command:* " if len(commands) == 1 else "*commands:* ") + "; ".join(commands)
    return f"{machine_text} · {date_text} · {command_text}."


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def block(*parts: str | None) -> str:
    """Paragraphs, the ``None``s left out."""
    return "\n\n".join(part for part in parts if part)


def page(title: str, intro: str, *sections: str) -> str:
    return block(f"# {title}", GENERATED, intro, *sections) + "\n"


GENERATED = ("<!-- Generated by benchmarks/tables.py from benchmarks/results/*.json: do not edit by hand; "
             "run `make bench-pages`. -->")


def rate(value: float) -> str:
    """A learning rate as the pages write it: 1e-3, 2.7e-4, 0.027."""
    if value >= 0.01:
        return f"{value:.3g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


def photo(name: str) -> str:
    """A photo's name on the pages: a file by its name alone (a benchmark may read it from anywhere)."""
    name = Path(name).name
    return PHOTO_NAMES.get(name, name)


def bold(text: str, on: bool) -> str:
    return f"**{text}**" if on else text


def signed(value: float, digits: int = 2) -> str:
    return f"{value:+.{digits}f}".replace("-", "−")


def seconds(value: float) -> str:
    if value < 0.005:
        return "< 0.01 s"
    return f"{value:.2f} s" if value < 10 else f"{value:.0f} s"


def image(path: str, alt: str) -> str:
    return f"![{alt}](../{path})"


# --- images --------------------------------------------------------------------------------------


def time_to_quality() -> str:
    name = "time_to_quality-cpu.json"
    data = load(name)
    reference, ours, recipe = data["reference"], data["sirenkit"], data["recipe"]
    rows = []
    for quality in (30, 40):
        key = f"seconds_to_{quality}db"
        rows.append((f"seconds to {quality} dB", f"{reference[key]:,.0f} s", f"{ours[key]:.1f} s",
                     f"{reference[key] / ours[key]:.1f}×"))
    for quality in (30, 40):
        key = f"steps_to_{quality}db"
        rows.append((f"steps to {quality} dB", f"{reference[key]:,}", f"{ours[key]:,}", ""))
    rows.append(("PSNR after 60 s", f"{reference['psnr_after_60s']:.2f} dB", f"{ours['psnr_after_60s']:.2f} dB",
                 f"{signed(ours['psnr_after_60s'] - reference['psnr_after_60s'], 1)} dB"))
    ratio = reference["seconds_to_40db"] / ours["seconds_to_40db"]
    return block(
        "## Time to quality",
        f"Camera at {data['size']}², the paper's image network (2 → 256 × 4 → 1), from the same initial weights. "
        "The paper's recipe (`benchmarks/reference.py`: eager PyTorch, every pixel every step, Adam at 1e-4) runs "
        f"once, to 40 dB; sirenkit's default recipe ({recipe['batch_size']:,} random pixels per step, "
        f"{recipe['steps']:,} steps, Adam at {rate(recipe['learning_rate'])} with {recipe['schedule']} decay, "
        f"precision `{recipe['precision']}`, compile `{recipe['compile']}`) runs {len(data['sirenkit_runs'])} times, "
        "medians shown. The PSNR of the whole image is evaluated every 10 steps, outside the timed fitting.",
        source(name),
        f"sirenkit's default recipe reaches 40 dB {ratio:.1f}× sooner than the paper's recipe, in about as many "
        f"steps ({ours['steps_to_40db']:,} against {reference['steps_to_40db']:,}).",
        table(("figure", "paper's recipe", "sirenkit default", "ratio"), rows))


STEP_COLUMNS = ("loss on", "path", "s/step", "ratio", "GFLOP/step", "GFLOP/s", "of matmul rate", "peak memory")


def step_table(name: str) -> str:
    data = load(name)
    rates, rows = data["matmul_gflops"], data["rows"]
    reference = {row["loss"]: row for row in rows if row["path"].startswith("paper's recipe")}
    cells = []
    for row in rows:
        matmul = rates["bfloat16" if "bfloat16" in row["path"] else "float32"]
        cells.append((row["loss"], row["path"], f"{row['seconds']:.3f}",
                      f"{reference[row['loss']]['seconds'] / row['seconds']:.2f}×", f"{row['gflop']:.1f}",
                      f"{row['gflops']:.0f}", f"{row['gflops'] / matmul:.0%}", f"{row['peak_bytes'] / 2**20:,.0f} MiB"))

    def ratios(path: str) -> list[float]:
        return [reference[row["loss"]]["seconds"] / row["seconds"] for row in rows if row["path"] == path]

    compiled, bf16 = ratios("sirenkit, compiled"), ratios("sirenkit, compiled, bfloat16")
    described = ", ".join(f"{value:.0f} GFLOP/s in {dtype}" for dtype, value in rates.items())
    reading = (f"Compiled float32 steps run {min(compiled):.2f}× to {max(compiled):.2f}× faster than the paper's "
               "recipe" + (f"; with bfloat16 {min(bf16):.2f}× to {max(bf16):.2f}×" if bf16 else
                           "; bfloat16 is left out, emulated on this machine") +
               f". Matrix-product rate measured at the start of the run: {described}.")
    return block(source(name), reading, table(STEP_COLUMNS, cells))


def training_steps() -> str:
    return block(
        "## Training steps",
        "Seconds per Adam step of the paper's network (256 × 4), the median of 5 repetitions interleaved across "
        "the paths: image losses on camera 256² (every pixel), the SDF loss on 16,384 surface and 16,384 free "
        "points. GFLOP/step counts the matrix products of the eager version of each path (PyTorch profiler); "
        "\"of matmul rate\" divides the achieved rate by that of a (65536 × 256) · (256 × 256) product measured "
        "in the same run. Peak memory: each case alone in a fresh process. \"Forward streams\" is the forward-mode "
        "derivative pass the adjoint pass replaced for first derivatives.",
        step_table("steps-cpu.json"),
        step_table("steps-cpu-avx2.json"))


def sweep() -> str:
    name = "sweep-cpu.json"
    rows = load(name)
    images = list(dict.fromkeys(row["image"] for row in rows))
    settings = sorted(dict.fromkeys(row["settings"] for row in rows), key=setting_order)
    found = {(row["image"], row["settings"]): row for row in rows}

    def cell(row: dict | None) -> str:
        if row is None:
            return "not run"
        if "error" in row:
            return "diverged"
        reached = row["seconds_to_40db"]
        return f"{reached:.0f} s / {row['final_psnr']:.1f} dB" if reached is not None else \
            f"– / {row['final_psnr']:.1f} dB"

    everywhere = [label for label in settings if all(
        (image, label) in found and found[image, label].get("seconds_to_40db") is not None for image in images)]
    fastest = min(everywhere, key=lambda label: mean(found[i, label]["seconds_to_40db"] for i in images))
    reading = (f"Reached 40 dB on all {len(images)} photos: "
               + "; ".join(f"{label} (mean {mean(found[i, label]['seconds_to_40db'] for i in images):.0f} s)"
                           for label in everywhere)
               + f". The soonest, {fastest}, is the default recipe where bfloat16 is native.")
    return block(
        "## The default image recipe: the sweep",
        "Four photos at 256 px on the longer side, the paper's image network and the same seed; only the batch "
        "size, the steps, the peak learning rate (cosine decay) and the precision change (bfloat16 unless the "
        "row says float32). Each cell: seconds of fitting to 40 dB / PSNR at the end (\"–\": 40 dB not reached; "
        "\"not run\": a setting already broken on two photos was not repeated). One run per cell: differences of "
        "a few seconds are noise.",
        source(name),
        reading,
        table(["settings", *(photo(i) for i in images)], ([bold(label, label == fastest),
                                                            *(cell(found.get((i, label))) for i in images)]
                                                           for label in settings)))


def setting_order(label: str) -> tuple:
    """A sweep's settings as ``batch B, S steps, R[, float32]``: bfloat16 first, larger batches first."""
    parts = [part.strip() for part in label.split(",")]
    batch, rate_text = int(parts[0].split()[1]), parts[2]
    return ("float32" in parts[3:], -batch, float(rate_text), label)


OMEGA_GRID = ("10.0", "15.0", "20.0", "30.0", "45.0", "60.0", "90.0")


def omega_images() -> str:
    grid_files = ("omega-256-57s-cpu.json", "omega-256-57s-more-cpu.json", "omega-256-57s-texture-cpu.json")
    seeds_file = "omega-256-57s-grass-seeds-cpu.json"
    rows, gaps = [], []
    for name in grid_files:
        for row in load(name)["rows"]:
            single = row["photo"] == "grass"  # three seeds below replace its one run per value
            scores = [f"{row['scores'][value]:.2f}" for value in OMEGA_GRID]
            label = photo(row["photo"]) + (" (one run per value)" if single else "")
            rows.append((label, f"{row['auto']:.0f} ({row['auto_psnr']:.2f} dB)", f"{row['best']:.0f}",
                         f"{row['gap']:.2f} dB", " / ".join(scores)))
            if not single:
                gaps.append(row["gap"])
    for row in load(seeds_file)["rows"]:
        runs = row["runs"]
        scores = [f"{float(value):.0f}: {row['scores'][value]:.2f} ("
                  + " / ".join(f"{run:.2f}" for run in runs[value]) + ")" for value in row["scores"]]
        rows.append((f"{photo(row['photo'])} (mean of {len(row['seeds'])} seeds)",
                     f"{row['auto']:.0f} ({row['auto_psnr']:.2f} dB)", f"{row['best']:.0f}", f"{row['gap']:.2f} dB",
                     "; ".join(scores)))
        gaps.append(row["gap"])
    large = load("omega-512-57s-cpu.json")["rows"]
    chosen = ", ".join(sorted({f"{r['auto']:.0f}" for r in large}))
    large_rows = [(f"{photo(r['photo'])} 512 px", f"{r['auto']:.0f}",
                   " / ".join(bold(f"{r['scores'][v]:.2f}", float(v) == r["best"]) for v in ("30.0", "90.0")),
                   f"{r['gap']:.2f} dB") for r in large]
    return block(
        "## ω0 chosen from the photo",
        f"`--omega auto` against a grid search: the image recipe in float32 for 57 s per fit (on {XEON}, what a "
        "float32-only machine's 85 s allow) at every first-layer ω0 of the grid, against the value `--omega auto` "
        "picks before any fitting from the spectra of untrained networks. The gap is the grid's best PSNR less "
        "the chosen value's.",
        source(*(Source(name, "") for name in grid_files), Source(seeds_file, "")),
        f"Over {len(gaps)} photos at 256 px the chosen ω0 is {mean(gaps):.2f} dB from the grid's best on average, "
        f"{max(gaps):.2f} dB at most (grass's single runs left out: a time-budgeted fit of grass ends far apart "
        "from run to run, and the three seeds replace them).",
        table(("photo", "`--omega auto`", "grid's best", "gap", "PSNR (dB) per ω0: 10 / 15 / 20 / 30 / 45 / 60 / 90"),
              rows),
        source("omega-512-57s-cpu.json"),
        f"At 512 px, where a given ω0 is half the frequency per pixel, the choice is still {chosen}: the gap is "
        f"{mean(r['gap'] for r in large):.2f} dB on average, {max(r['gap'] for r in large):.2f} dB at most.",
        table(("photo", "`--omega auto`", "PSNR (dB) at ω0 30 / 90", "gap"), large_rows))


def first_times(row: dict, qualities: Sequence[int] = (30, 40, 50)) -> list[str]:
    """Seconds (steps) to each quality, or a dash where the fit did not reach it."""
    return ["—" if row[f"seconds_to_{q}db"] is None else
            f"{row[f'seconds_to_{q}db']:.1f} s ({row[f'steps_to_{q}db']:,})" for q in qualities]


def ratio_to(base: dict, row: dict, quality: int = 40) -> str:
    """``base``'s steps to ``quality`` over ``row``'s: a step costs the same under every setting
    compared, so on a quiet machine this is the ratio of times too."""
    key = f"steps_to_{quality}db"
    if base[key] is None or row[key] is None:
        return "—"
    return f"{base[key] / row[key]:.2f}×"


STEPS_NOTE = ("Every setting compared has the same step, so the ratios are those of steps, which equal those "
              "of time on a quiet machine; the seconds are as measured, while another program shared the machine, "
              "and vary more than the steps do.")


SCALE_SETTINGS = {"1:auto": "α = 1, ω0 chosen (the default)", "2:auto": "α = 2, ω0 chosen",
                  "1:30": "α = 1, ω0 = 30 (the paper's network)", "2:30": "α = 2, ω0 = 30",
                  "default": "the default"}


def weight_scaling() -> str:
    name = "init-scale-256-cpu.json"
    data = load(name)
    rows = data["rows"]
    base = {r["photo"]: r for r in rows if r["setting"] == "1:auto"}
    cells = [(r["set"], photo(r["photo"]), SCALE_SETTINGS.get(r["setting"], r["setting"]), f"{r['omega']:g}",
              *first_times(r), f"{r['final_psnr']:.2f} dB", ratio_to(base[r["photo"]], r)) for r in rows]
    scaled = [r for r in rows if r["setting"] == "2:auto"]
    ratios = [base[r["photo"]]["steps_to_40db"] / r["steps_to_40db"] for r in scaled
              if r["steps_to_40db"] and base[r["photo"]]["steps_to_40db"]]
    reading = (f"Weight scaling by α = 2 on top of the chosen ω0 reached 40 dB {min(ratios):.2f}× to "
               f"{max(ratios):.2f}× as fast as the paper's initialisation (mean {mean(ratios):.2f}×): a gain on "
               "some photos, a loss on others, so the default keeps α = 1 and `--weight-scale` is there to try.")
    return block(
        "## Weight-scaled initialisation",
        f"Seconds (steps) of fitting to 30, 40 and 50 dB at {data['size']}² with the default image recipe (its "
        "1,500 steps and their schedule, without the 85 s budget), the hidden layers' initial weights multiplied "
        "by α (`--weight-scale`; Yeom, Lee and Lee, ICLR 2025), against the paper's initialisation, in one run, "
        "on photos not used while trying α (on camera, coffee and astronaut, α = 2 reached 40 dB 1.9×, 1.16× and "
        "0.9× as soon; α = 2.5 and 3 stayed near the photo's mean for 100 steps, and α = 2.5 ended astronaut at "
        "26.6 dB). Each fit stops at 50 dB; the PSNR of the whole "
        "image is evaluated every 25 steps, outside the timed fitting. The ratio is the default's steps to "
        "40 dB over the row's.",
        source(name), STEPS_NOTE, reading,
        table(("set", "photo", "initialisation", "ω0", "to 30 dB", "to 40 dB", "to 50 dB", "end", "40 dB: ratio"),
              cells))


UNTIL_LABELS = {"previous": "`--until 40` without the plateau rule (before)", "default": "`--until 40` (the default)"}


def until_targets() -> str:
    name = "until-256-cpu.json"
    data = load(name)
    rows = data["rows"]
    cells, gaps = [], {30: [], 40: []}
    for r in rows:
        label = UNTIL_LABELS.get(r["setting"]) or f"cosine over {r['setting'].split(':')[-1]} steps"
        cells.append((r["set"], photo(r["photo"]), label, *first_times(r, (30, 40))))
    for photo_name in dict.fromkeys(r["photo"] for r in rows):
        mine = [r for r in rows if r["photo"] == photo_name]
        ours = next(r for r in mine if r["setting"] == "default")
        for quality in (30, 40):
            key = f"steps_to_{quality}db"
            reached = [r[key] for r in mine if r[key] is not None]
            if ours[key] is not None and reached:
                gaps[quality].append(ours[key] / min(reached))
    said = "; ".join(f"{q} dB within {max(g):.2f}× of the best schedule's steps (mean {mean(g):.2f}×)"
                     for q, g in gaps.items() if g)
    before = {r["photo"]: r for r in rows if r["setting"] == "previous"}
    gains = [before[r["photo"]]["steps_to_40db"] / r["steps_to_40db"] for r in rows
             if r["setting"] == "default" and r["steps_to_40db"] and before[r["photo"]]["steps_to_40db"]]
    return block(
        "## Aiming at a quality: `--until`",
        f"Seconds (steps) of fitting to 30 and 40 dB at {data['size']}², each fit aiming at 40 dB: `--until 40` "
        "with the plateau rule (the default: the rate is halved after two evaluations without a gain of 0.5 dB), "
        "without it (the schedule over the 85 s budget, as before), and cosine schedules over fewer steps, what a "
        "shorter `--time` gives; the soonest of all stands for the best schedule. ω0 chosen, evaluations every 25 "
        "steps outside the timed fitting.",
        source(name), STEPS_NOTE,
        f"With the rule, `--until` reached {said}; against the schedule over the budget alone, 40 dB came "
        f"{min(gains):.2f}× to {max(gains):.2f}× as soon on these photos.",
        table(("set", "photo", "schedule", "to 30 dB", "to 40 dB"), cells))


def busy_machine() -> str:
    name = "busy-cpu.json"
    data = load(name)
    def used(run: dict) -> str:
        return f"{1000 * run['seconds_per_step']:.1f} ms ({run['threads_used']} thread" + (
            "s)" if run["threads_used"] != 1 else ")")

    cells = [(f"`--threads {r['threads']}`", used(r["quiet"]), used(r["busy"]), f"{r['ratio']:.2f}×")
             for r in data["rows"]]
    auto = next(r for r in data["rows"] if r["threads"] == "auto")
    fixed = next(r for r in data["rows"] if r["threads"] != "auto")
    return block(
        "## A busy machine",
        f"Seconds per step of the demo's fit (camera 256², the default recipe at ω0 = 30, compile "
        f"`{data['compile']}`, steps {data['from']} to {data['steps']}) on the quiet machine and beside one "
        "single-threaded CPU-bound program, with the thread count chosen from measured steps (`--threads auto`, "
        f"the default) and with one thread per core ({data['cores']}, PyTorch's own count). A fair share of "
        f"{data['cores']} cores would make a busy step {data['cores'] / (data['cores'] - 1):.0f}× its quiet time.",
        source(name),
        f"Beside another program a step took {fixed['ratio']:.2f}× its quiet time with one thread per core and "
        f"{auto['ratio']:.2f}× with the chosen count.",
        table(("threads", "quiet step", "busy step", "busy / quiet"), cells))


def progress_figure() -> str:
    return block(
        "## A fit as it grows",
        "The terrier photo fitted by a SIREN (top) and by a ReLU network of the same size (bottom), after 5, 50 "
        "and 300 steps, each with its PSNR; made with `python benchmarks/progress.py` (no table: the figure is "
        "the result).",
        image("progress-terrier.png", "the terrier fitted by a SIREN and by a ReLU network after 5, 50 and 300 steps"))


def images_page() -> str:
    return page(
        "Images and speed",
        "How fast an image fit reaches a given quality, what a training step costs, and the measurements behind "
        "the default image recipe and `--omega auto`. Why the recipe is what it is: "
        "[Design notes](../design-notes.md).",
        time_to_quality(), training_steps(), sweep(), omega_images(), weight_scaling(), until_targets(),
        busy_machine(), progress_figure())


# --- networks ------------------------------------------------------------------------------------


def zoo_rows(*names: str, models: Sequence[str] | None = None) -> dict[tuple[str, str], dict]:
    """Rows by (photo, model) from ``names``, a later file's row replacing an earlier one's."""
    rows: dict[tuple[str, str], dict] = {}
    for name in names:
        for row in load(name)["rows"]:
            if models is None or row["model"] in models:
                rows[row["photo"], row["model"]] = row
    return rows


def photos_of(rows: dict[tuple[str, str], dict]) -> list[str]:
    return list(dict.fromkeys(p for p, _ in rows))


def photo_table(rows: dict[tuple[str, str], dict], models: Sequence[str], photos: Sequence[str], *,
                extra: Sequence[str] = (), digits: int = 2) -> str:
    """PSNR per photo and family, the best of ``models`` in bold; ``extra`` columns are not ranked."""
    cells = []
    for name in photos:
        values = {m: rows[name, m]["psnr"] for m in models if (name, m) in rows}
        best = max(values, key=values.__getitem__)
        cells.append([photo(name), *(bold(f"{values[m]:.{digits}f}", m == best) if m in values else "—"
                                     for m in models),
                      *(f"{rows[name, m]['psnr']:.{digits}f}" if (name, m) in rows else "—" for m in extra)])
    return table(["photo", *(LABELS[m] for m in models), *(EXTRA_LABELS.get(m, m) for m in extra)], cells)


EXTRA_LABELS = {"siren": "SIREN, ω0 = 30"}


def means(rows: dict[tuple[str, str], dict], models: Sequence[str], photos: Sequence[str]) -> dict[str, dict]:
    """Each family's mean PSNR, SSIM and derivative PSNRs over ``photos``, and on how many it is best."""
    result = {}
    for model in models:
        mine = [rows[p, model] for p in photos]
        result[model] = {key: mean(row[key] for row in mine)
                         for key in ("psnr", "ssim", "gradient_psnr", "laplacian_psnr")}
        result[model]["best_on"] = sum(1 for p in photos if max(models, key=lambda m: rows[p, m]["psnr"]) == model)
        result[model]["parameters"] = mine[0]["parameters"]
        result[model]["rate"] = mine[0]["rate"]
    return result


def means_table(rows: dict[tuple[str, str], dict], models: Sequence[str], photos: Sequence[str], *,
                steps_on: str | None = "camera", with_rate: bool = False, zero: dict | None = None) -> str:
    found = means(rows, models, photos)
    reference = found[models[0]]["psnr"]
    header = ["model", *(["parameters", "rate"] if with_rate else []), "mean PSNR (dB)", "against SIREN", "SSIM",
              "gradient PSNR", "Laplacian PSNR", "best on"]
    if steps_on:
        header.append(f"steps ({photo(steps_on)})")
    cells = []
    for model in models:
        mean_of = found[model]
        cell = [LABELS[model], *([f"{mean_of['parameters']:,}", rate(mean_of["rate"])] if with_rate else []),
                f"{mean_of['psnr']:.2f}", "" if model == models[0] else f"{signed(mean_of['psnr'] - reference)}",
                f"{mean_of['ssim']:.3f}", f"{mean_of['gradient_psnr']:.2f}", f"{mean_of['laplacian_psnr']:.2f}",
                str(mean_of["best_on"])]
        if steps_on:
            cell.append(f"{rows[steps_on, model]['steps']:,}")
        cells.append(cell)
    if zero:
        cells.append(["a field of zeros", *([""] * 2 if with_rate else []), "", "", "",
                      f"{zero['gradient_psnr']:.2f}", f"{zero['laplacian_psnr']:.2f}", "",
                      *([""] if steps_on else [])])
    return table(header, cells)


def zero_means(name: str, photos: Sequence[str]) -> dict[str, float]:
    """What a field of zeros scores on ``photos`` (the floor of the derivative columns), from ``name``."""
    zeros = {z["photo"]: z for z in load(name)["zero_fields"]}
    return {key: mean(zeros[p][key] for p in photos) for key in ("gradient_psnr", "laplacian_psnr")}


def ranking(found: dict[str, dict], models: Sequence[str]) -> str:
    order = sorted(models, key=lambda m: -found[m]["psnr"])
    return ", ".join(f"{LABELS[m]} {found[m]['psnr']:.2f}" for m in order)


def zoo_198k_256() -> str:
    parts = [Source("zoo-256-198k-60s-cpu.json", "camera, grass, the terrier"),
             Source("zoo-256-198k-60s-wire-fixed-cpu.json", "WIRE on those three"),
             Source("zoo-256-198k-60s-sirenauto-cpu.json", "SIREN with ω0 chosen on those three"),
             Source("zoo-256-198k-60s-more-cpu.json", "brick, rocket, text, immunohistochemistry"),
             Source("zoo-256-198k-60s-rerun-cpu.json", "astronaut, chelsea, coins")]
    rows = zoo_rows(*(part.file for part in parts))
    photos = ["camera", "astronaut", "chelsea", "brick", "grass", "rocket", "text", "immunohistochemistry", "coins",
              "yorkshire_terrier"]
    found = means(rows, FAMILIES, photos)
    zero = zero_means("zoo-256-20k-1000steps-cpu.json", photos)
    sweep_rows = [row for row in load("zoo-256-198k-60s-cpu.json")["sweep"] if row["model"] != "wire"]
    sweep_rows += load("zoo-256-198k-60s-wire-fixed-cpu.json")["sweep"]
    chosen = {**load("zoo-256-198k-60s-cpu.json")["rates"], **load("zoo-256-198k-60s-wire-fixed-cpu.json")["rates"]}
    s30 = zoo_rows("zoo-256-198k-60s-wire-s30-cpu.json")
    three = ["camera", "grass", "yorkshire_terrier"]
    return block(
        "## 198k parameters, 256 px, 60 s",
        "Every family at the parameter count of the paper's image network (198k), sirenkit's image recipe in "
        f"float32 with each family's own learning rate, 60 s of fitting per photo (on {XEON}, what a float32-only "
        "machine's 90 s allow). Each family's rate was swept on coffee, a photo not evaluated, in 20 s fits; the "
        "multiples of SIREN's rate it gave (FINER ×0.3, WIRE and Gauss ×3, hash grid ×27, dense grid ×81) are what "
        "`fit --model` and `compare` give each family by default. SIREN's first ω0 is chosen per photo as `fit "
        "image` chooses it; the paper's ω0 = 30 is shown where it was run. The gradient and Laplacian columns "
        "compare the network's derivatives with finite differences of the photo.",
        source(Source("zoo-256-198k-60s-cpu.json", "the sweep"), Source("zoo-256-198k-60s-wire-fixed-cpu.json",
                                                                          "WIRE's sweep")),
        table(("model", "PSNR (dB) on coffee at each rate, 20 s", "chosen"),
              ([LABELS.get(model, model), ", ".join(f"{rate(r['rate'])}: {r['psnr']:.2f}" for r in sorted(
                  sweep_rows, key=lambda r: r["rate"]) if r["model"] == model), rate(chosen[model])]
               for model in dict.fromkeys(r["model"] for r in sweep_rows))),
        source(*parts),
        "PSNR (dB) per photo, the best of the six families in bold:",
        photo_table(rows, FAMILIES, photos, extra=("siren",)),
        source(*parts, Source("zoo-256-20k-1000steps-cpu.json", "the field of zeros")),
        f"Mean PSNR over the ten photos: {ranking(found, FAMILIES)} dB. A field of zeros scores "
        f"{zero['gradient_psnr']:.2f} dB (gradient) and {zero['laplacian_psnr']:.2f} dB (Laplacian) on these photos: "
        "the floor the derivative columns must beat. Steps in 60 s vary with the machine's speed between runs: "
        "compare families within a photo.",
        means_table(rows, FAMILIES, photos, zero=zero),
        image("zoo-camera.png", "PSNR against seconds, camera, every family at 198k parameters"),
        source("zoo-256-198k-60s-wire-s30-cpu.json", Source("zoo-256-198k-60s-wire-fixed-cpu.json", "")),
        f"WIRE at the window its authors' code sets for images (`--setting wire_scale=30`) against its default "
        f"(s0 = 10): {signed(mean(s30[p, 'wire']['psnr'] - rows[p, 'wire']['psnr'] for p in three), 1)} dB on "
        "average, still far below every other family.",
        table(("photo", "WIRE, s0 = 10 (dB)", "WIRE, s0 = 30 (dB)", "steps at s0 = 30"),
              ([photo(p), f"{rows[p, 'wire']['psnr']:.2f}", f"{s30[p, 'wire']['psnr']:.2f}",
                f"{s30[p, 'wire']['steps']:,}"] for p in three)))


def zoo_steps_reading(rows: dict, photos: Sequence[str], models: Sequence[str]) -> str:
    found = means(rows, models, photos)
    return f"Mean PSNR after 1,000 steps: {ranking(found, models)} dB."


def zoo_198k_256_steps() -> str:
    camera, more = "zoo-256-198k-1000steps-camera-cpu.json", "zoo-256-198k-1000steps-more-cpu.json"
    rows = zoo_rows(camera, more)
    photos = photos_of(rows)
    timed = {row["model"]: row for row in load(camera)["rows"]}
    return block(
        "## 198k parameters, 256 px, 1,000 steps",
        "The same families and rates at a fixed number of steps instead of a fixed time. Step-counted: only "
        "camera's run was alone on its machine, so only its seconds are shown.",
        source(Source(camera, "camera"), Source(more, "the other nine photos")),
        zoo_steps_reading(rows, photos, FAMILIES) + " Camera's 1,000 steps took " + ", ".join(
            f"{LABELS[m]} {timed[m]['seconds']:.1f} s" for m in FAMILIES) + ".",
        photo_table(rows, FAMILIES, photos),
        means_table(rows, FAMILIES, photos, steps_on=None,
                    zero=zero_means("zoo-256-20k-1000steps-cpu.json", photos)))


def zoo_198k_512() -> str:
    name = "zoo-512-198k-60s-ten-cpu.json"
    rows = zoo_rows(name)
    photos = photos_of(rows)
    found = means(rows, FAMILIES, photos)
    best = max(FAMILIES, key=lambda m: found[m]["psnr"])
    return block(
        "## 198k parameters, 512 px, 60 s",
        "The same budget, rates and time on ten photos at least 512 px on their longer side (none enlarged): "
        "198k parameters are now fewer than a photo's 262k pixels.",
        source(name),
        f"Mean PSNR: {ranking(found, FAMILIES)} dB; the {LABELS[best]} is best on {found[best]['best_on']} photos "
        f"of {len(photos)}, with {rows['camera', best]['steps']:,} steps on camera against SIREN's "
        f"{rows['camera', 'siren@auto']['steps']:,}.",
        photo_table(rows, FAMILIES, photos),
        means_table(rows, FAMILIES, photos),
        image("zoo-512-camera.png", "PSNR against seconds, camera 512², every family at 198k parameters"))


def zoo_198k_512_steps() -> str:
    name = "zoo-512-198k-1000steps-cpu.json"
    rows = zoo_rows(name)
    photos = photos_of(rows)
    timed = zoo_rows("zoo-512-198k-60s-ten-cpu.json")
    steps, fixed = means(timed, FAMILIES, photos), means(rows, FAMILIES, photos)
    lead_time = steps["hash-grid"]["psnr"] - steps["siren@auto"]["psnr"]
    lead_steps = fixed["hash-grid"]["psnr"] - fixed["siren@auto"]["psnr"]
    return block(
        "## 198k parameters, 512 px, 1,000 steps",
        "The ten photos of the table above at a fixed number of steps (step-counted, not timed).",
        source(name, Source("zoo-512-198k-60s-ten-cpu.json", "the 60 s means")),
        zoo_steps_reading(rows, photos, FAMILIES) + f" The hash grid leads SIREN by {lead_steps:.1f} dB step for "
        f"step, against {lead_time:.1f} dB in 60 s: the rest of its lead in time is its cheaper step.",
        photo_table(rows, FAMILIES, photos),
        means_table(rows, FAMILIES, photos, steps_on=None))


def zoo_20k_256() -> str:
    name = "zoo-256-20k-60s-ten-cpu.json"
    data = load(name)
    rows = zoo_rows(name)
    photos = photos_of(rows)
    found = means(rows, FAMILIES, photos)
    zero = zero_means("zoo-256-20k-1000steps-cpu.json", photos)
    models = list(dict.fromkeys(r["model"] for r in data["sweep"]))
    return block(
        "## About 20k parameters, 256 px, 60 s",
        "`--siren-width 80`: about 20k parameters, a third of a 256 px photo's 65k pixels, 60 s per fit. Each "
        "family's rate was swept on two photos that are not evaluated, coffee and moon (the mean PSNR of 20 s "
        "fits).",
        source(Source(name, "the sweep")),
        table(("model", "PSNR (dB) on coffee and moon at each rate, 20 s", "chosen"),
              ([LABELS[m], ", ".join(f"{rate(r['rate'])}: {r['psnr']:.2f}" for r in data["sweep"] if r["model"] == m),
                rate(data["rates"][m])] for m in models)),
        source(name, Source("zoo-256-20k-1000steps-cpu.json", "the field of zeros")),
        f"Mean PSNR: {ranking(found, FAMILIES)} dB; SIREN is best on {found['siren@auto']['best_on']} photos of "
        f"{len(photos)}.",
        photo_table(rows, FAMILIES, photos),
        means_table(rows, FAMILIES, photos, with_rate=True, zero=zero),
        image("zoo-20k-camera.png", "PSNR against seconds, camera, every family at about 20k parameters"))


def zoo_20k_256_steps() -> str:
    name = "zoo-256-20k-1000steps-cpu.json"
    data = load(name)
    rows = zoo_rows(name)
    photos = photos_of(rows)
    return block(
        "## About 20k parameters, 256 px, 1,000 steps",
        "The same photos at 1,000 steps (step-counted, one thread per run with another run on the other core: not "
        "timed). The rates are the 20 s sweep's, except the dense grid's: a 20 s sweep runs some 10,000 of its "
        "cheap steps, so its rate was swept again at the table's own 1,000 steps on coffee and moon ("
        + ", ".join(f"{rate(r['rate'])}: {r['psnr']:.2f} dB" for r in data["sweep"]) + f"; chosen "
        f"{rate(data['rates']['grid'])}).",
        source(name),
        zoo_steps_reading(rows, photos, FAMILIES),
        photo_table(rows, FAMILIES, photos),
        means_table(rows, FAMILIES, photos, steps_on=None, zero=zero_means(name, photos)))


def zoo_20k_512() -> str:
    name = "zoo-512-20k-60s-ten-cpu.json"
    rows = zoo_rows(name)
    photos = photos_of(rows)
    found = means(rows, FAMILIES, photos)
    return block(
        "## About 20k parameters, 512 px, 60 s",
        "The 20k budget at 512 px: a thirteenth of a photo's 262k pixels, the rates of the 256 px sweep, gravel in "
        "place of moon (a photo of the sweep). The history's full-image PSNR was evaluated every 200 steps after "
        "camera (outside the 60 s).",
        source(name, Source("zoo-512-20k-1000steps-cpu.json", "the field of zeros")),
        f"Mean PSNR: {ranking(found, FAMILIES)} dB; SIREN is best on {found['siren@auto']['best_on']} photos of "
        f"{len(photos)}.",
        photo_table(rows, FAMILIES, photos),
        means_table(rows, FAMILIES, photos, zero=zero_means("zoo-512-20k-1000steps-cpu.json", photos)),
        image("zoo-512-20k-camera.png", "PSNR against seconds, camera 512², every family at about 20k parameters"))


def zoo_20k_512_steps() -> str:
    name = "zoo-512-20k-1000steps-cpu.json"
    rows = zoo_rows(name)
    photos = photos_of(rows)
    return block(
        "## About 20k parameters, 512 px, 1,000 steps",
        "The same photos at 1,000 steps, the dense grid at its 1,000-step rate (step-counted, one thread per run: "
        "not timed).",
        source(name),
        zoo_steps_reading(rows, photos, FAMILIES),
        photo_table(rows, FAMILIES, photos),
        means_table(rows, FAMILIES, photos, steps_on=None, zero=zero_means(name, photos)))


def finer_rate_by_width() -> str:
    name, twenty = "finer-rate-by-width-cpu.json", "zoo-256-20k-60s-ten-cpu.json"
    data = load(name)
    sweep_means = {(r["model"], r["width"], r["rate"]): mean(r["psnr"]) for r in data["sweep"]["rows"]}
    for r in load(twenty)["sweep"]:  # width 80: the 20k table's own sweep
        model = r["model"].partition("@")[0]
        if model in ("siren", "finer") and r["rate"] in (3e-4, 1e-3, 3e-3):
            sweep_means[model, 80, r["rate"]] = r["psnr"]
    widths = sorted({w for _, w, _ in sweep_means})
    rates_tried = (3e-4, 1e-3, 3e-3)
    parameters = {r["width"]: r["parameters"] for r in data["sweep"]["rows"]}
    parameters[80] = load(twenty)["rows"][0]["parameters"]

    def cells(model: str, width: int) -> list[str]:
        values = {r: sweep_means.get((model, width, r)) for r in rates_tried}
        known = {r: v for r, v in values.items() if v is not None}
        if not known:
            return ["—"] * len(rates_tried)
        best = max(known, key=known.__getitem__)
        return [bold(f"{v:.2f}", r == best) if v is not None else "—" for r, v in values.items()]

    def best_rate(model: str, width: int) -> float | None:
        known = {r: sweep_means[model, width, r] for r in rates_tried if (model, width, r) in sweep_means}
        return max(known, key=known.__getitem__) if known else None

    runs = data["held_out_check"]["runs"]
    checks = []
    for rows in runs.values():
        checks.append((f"width {width_of(rows[0]['parameters'])}, {rate(rows[0]['rate'])}",
                       ", ".join(photo(r["photo"]) for r in rows),
                       f"{mean(r['psnr'] for r in rows):.2f}"))
    finer_at_80 = zoo_rows("zoo-256-20k-1000steps-cpu.json", models=("finer",))
    checks.append((f"width 80, {rate(1e-3)} (the width rule)", "the same ten photos",
                   f"{mean(r['psnr'] for r in finer_at_80.values()):.2f}"))
    falling = ", ".join(f"{w}: {rate(best_rate('finer', w))}" for w in widths if best_rate("finer", w))
    return block(
        "## FINER's rate and its width",
        "FINER's best rate by hidden width, beside SIREN's: 20 s fits at 256 px in float32 on coffee and moon, "
        "mean PSNR in dB, the best rate of each row in bold. Width 80 is the 20k table's own sweep.",
        source(name, Source(twenty, "width 80")),
        f"FINER's best rate falls as the network widens ({falling}), where SIREN's stays near 1e-3: the rule "
        "`fit --model finer` follows is 0.3 × 256 / width of SIREN's rate, at most SIREN's own.",
        table(("hidden width (parameters)", "FINER at 3e-4", "FINER at 1e-3", "FINER at 3e-3",
               "SIREN at 3e-4", "SIREN at 1e-3", "SIREN at 3e-3"),
              ([f"{w} ({parameters[w]:,})", *cells("finer", w), *cells("siren", w)] for w in widths)),
        source(name, Source("zoo-256-20k-1000steps-cpu.json", "width 80 at 1e-3")),
        "Checked at 1,000 steps on photos the sweep did not use (mean PSNR in dB):",
        table(("FINER", "photos", "mean PSNR (dB)"), checks))


def width_of(parameters: int) -> int:
    """The SIREN width whose image network has about ``parameters`` (grey or colour): 80, 128, ..."""
    return min((48, 64, 80, 128, 256), key=lambda width: abs(parameters - (width * width * 3 + width * 7)))


def kind_rows(name: str) -> dict[tuple[str, str], dict]:
    return {(row["signal"], row["model"]): row for row in load(name)["rows"] if "error" not in row}


def zoo_audio() -> str:
    big, small, finer = ("zoo-audio-198k-60s-cpu.json", "zoo-audio-12k-60s-cpu.json",
                         "zoo-audio-finer-omega100-12k-60s-cpu.json")
    models = ("siren", "finer", "wire", "gauss", "hash-grid", "grid")
    big_rows, small_rows, finer_rows = kind_rows(big), kind_rows(small), kind_rows(finer)
    signals = ("music", "speech")

    def row_cells(rows: dict, model: str, label: str | None = None) -> list[str]:
        values = [rows[s, model]["snr"] for s in signals]
        return [label or LABELS[model], f"{rows['music', model]['parameters']:,}", rate(rows["music", model]["rate"]),
                *(f"{v:.2f}" for v in values), f"{mean(values):.2f}", f"{rows['music', model]['steps']:,}"]

    header = ("model", "parameters", "rate", "music (dB)", "speech (dB)", "mean (dB)", "steps in 60 s (music)")
    small_cells = [row_cells(small_rows, m, "FINER, first ω0 a SIREN's" if m == "finer" else None) for m in models]
    small_cells.insert(2, row_cells(finer_rows, "finer", "FINER, first ω0 a SIREN's / 30 (its sound default)"))
    small_means = {m: mean(small_rows[s, m]["snr"] for s in signals) for m in models}
    best_small = max(small_means, key=small_means.__getitem__)
    return block(
        "## Sound",
        "Every family on 3 s of synthesised music at 44.1 kHz and 1.97 s of speech at 22.05 kHz, the audio recipe "
        "in float32 for 60 s, SNR in dB. Each family's rate was swept ×⅓, ×1, ×3 around its image ratio to "
        "SIREN's on another piece of music. At the parameter count of SIREN's audio network (198k) a dense grid "
        "has more nodes than the clips have samples and stores them:",
        source(big),
        table(header, (row_cells(big_rows, m) for m in models)),
        "Below the sample count (`--siren-width 64`, about 12.7k parameters), where a network must compress:",
        source(Source(small, "every family"), Source(finer, "FINER at its sound default")),
        f"The best mean: {LABELS[best_small]} ({small_means[best_small]:.2f} dB). FINER at its sound default: "
        f"{mean(finer_rows[s, 'finer']['snr'] for s in signals):.2f} dB, against "
        f"{small_means['finer']:.2f} at a SIREN's first ω0 (its rows come from two machines: compare their SNR, "
        "not their steps).",
        table(header, small_cells))


SHAPE_VARIANTS = (  # (file, model, label)
    ("zoo-shape-198k-60s-cpu.json", "siren", "SIREN"),
    ("zoo-shape-siren-avx2-60s-cpu.json", "siren", "SIREN, rerun beside Gauss at s = 6"),
    ("zoo-shape-198k-60s-cpu.json", "finer", "FINER, first-layer bias U(−20, 20) (its image default)"),
    ("zoo-shape-finer-1e-4-60s-cpu.json", "finer", "FINER, the same at SIREN's rate"),
    ("zoo-shape-finer-bias1-60s-cpu.json", "finer", "FINER, first-layer bias U(−1, 1) (its shape default)"),
    ("zoo-shape-198k-60s-cpu.json", "wire", "WIRE"),
    ("zoo-shape-gauss-wire-1e-4-60s-cpu.json", "wire", "WIRE at SIREN's rate"),
    ("zoo-shape-198k-60s-cpu.json", "gauss", "Gauss, s = 10√2 (its image default)"),
    ("zoo-shape-gauss-wire-1e-4-60s-cpu.json", "gauss", "Gauss, s = 10√2 at SIREN's rate"),
    ("zoo-shape-gauss-s6-60s-cpu.json", "gauss", "Gauss, s = 6 (its shape default)"),
    ("zoo-shape-198k-60s-cpu.json", "hash-grid", "hash grid"),
    ("zoo-shape-198k-60s-cpu.json", "grid", "dense grid"),
)


def zoo_shapes() -> str:
    shapes = ("stanford-bunny", "spot")
    cells = []
    for name, model, label in SHAPE_VARIANTS:
        rows = kind_rows(name)
        cells.append([label, rate(rows[shapes[0], model]["rate"]),
                      *(f"{rows[s, model]['chamfer_l1']:#.3g} / {rows[s, model]['fscore']:.3f} / "
                        f"{rows[s, model]['normal_consistency']:.3f}" for s in shapes),
                      f"{rows[shapes[0], model]['steps']:,}"])
    siren = kind_rows("zoo-shape-198k-60s-cpu.json")
    ratios = {label: mean(kind_rows(name)[s, model]["chamfer_l1"] / siren[s, "siren"]["chamfer_l1"] for s in shapes)
              for name, model, label in SHAPE_VARIANTS if model != "siren"}
    closest = sorted(ratios, key=ratios.__getitem__)[:3]
    parts = [Source("zoo-shape-198k-60s-cpu.json", "the six families"),
             Source("zoo-shape-finer-1e-4-60s-cpu.json", "FINER at 1e-4"),
             Source("zoo-shape-finer-bias1-60s-cpu.json", "FINER with bias U(−1, 1)"),
             Source("zoo-shape-gauss-wire-1e-4-60s-cpu.json", "Gauss and WIRE at 1e-4"),
             Source("zoo-shape-gauss-s6-60s-cpu.json", "Gauss at s = 6"),
             Source("zoo-shape-siren-avx2-60s-cpu.json", "SIREN rerun")]
    return block(
        "## Shapes",
        "Every family on the Stanford bunny and Spot: the SDF recipe in float32, 60 s per fit, the 198k budget, "
        "each family at the SDF rate times its image ratio to SIREN's (not swept: a shape sweep meshes every "
        "trial), meshed at 128³. Each cell: Chamfer-L1 (lower is better) / F-score at 1 % of the diagonal / normal "
        "consistency of the fit's mesh against the input mesh, 50,000 points per surface. The rows come from three "
        "machines: compare their quality, not their steps.",
        source(*parts),
        "Closest to SIREN (Chamfer-L1 over SIREN's, the mean over both shapes): "
        + ", ".join(f"{label} {ratios[label]:.2f}×" for label in closest) + ".",
        table(("model", "rate", "bunny: Chamfer / F / normals", "Spot: Chamfer / F / normals", "steps in 60 s (bunny)"),
              cells))


def zoo_poisson() -> str:
    name = "zoo-poisson-198k-60s-cpu.json"
    rows = kind_rows(name)
    models = ("siren", "finer", "wire", "gauss", "hash-grid", "grid")
    signals = list(dict.fromkeys(s for s, _ in rows))
    averages = {m: mean(rows[s, m]["psnr"] for s in signals) for m in models}
    best = {s: max(models, key=lambda m: rows[s, m]["psnr"]) for s in signals}
    order = sorted(models, key=lambda m: -averages[m])
    return block(
        "## Poisson from gradients",
        "Each family fitted to a photo's gradient only (256 px, 60 s in float32), PSNR after the constant "
        "alignment; rates swept ×⅓ … ×3 on coffee for 20 s.",
        source(name),
        "Mean PSNR: " + ", ".join(f"{LABELS[m]} {averages[m]:.2f}" for m in order) + " dB.",
        table(("model", "rate", *(photo(s) for s in signals), "mean", "steps in 60 s (camera)"),
              ([LABELS[m], rate(rows[signals[0], m]["rate"]),
                *(bold(f"{rows[s, m]['psnr']:.2f}", best[s] == m) for s in signals), f"{averages[m]:.2f}",
                f"{rows['camera', m]['steps']:,}"] for m in models)))


WIRE_SHORT = {"previous": "before", "authors": "the authors' network", "default": "now", "siren": "SIREN"}
WIRE_SETTINGS = {"previous": "WIRE before: 256×4, s0 = 10", "authors": "authors' network: 181×3, s0 = 10",
                 "default": "WIRE now: 181×3, s0 = 20", "siren": "SIREN (default)"}


def wire_defaults() -> str:
    name = "wire-defaults-cpu.json"
    data = load(name)
    rows = data["rows"]
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    found = {(r["photo"], r["size"], r["setting"]): r for r in rows}
    cases = list(dict.fromkeys((r["photo"], r["size"], r["held_out"]) for r in rows))

    def cell(row: dict) -> str:
        return f"{row['psnr']:.2f}" + (" (stalled)" if row["stalled_at"] else "")

    cells = [("held out" if held else "tuning", photo(p), f"{size}²", *(cell(found[p, size, s]) for s in settings))
             for p, size, held in cases]
    gains = [found[p, size, "default"]["psnr"] - found[p, size, "previous"]["psnr"] for p, size, held in cases if held]
    held_new = [found[p, size, "default"]["psnr"] for p, size, held in cases if held]
    stalled = sum(1 for p, size, held in cases if found[p, size, "previous"]["stalled_at"])
    sizes = {r["setting"]: f"{r['parameters']:,}" for r in rows if r["photo"] == rows[0]["photo"]
             and r["size"] == rows[0]["size"]}
    return block(
        "## WIRE's network",
        f"PSNR after {data['steps']} steps of the image recipe (8,192 pixels per step, WIRE at three times SIREN's "
        "rate, the cosine over those steps, no time budget) for WIRE's previous defaults (a SIREN's four layers "
        "of 256 and the authors' window s0 = 10), the authors' image network (three Gabor layers of 181 = 256/√2, "
        "s0 = 10) and sirenkit's defaults now (181×3, s0 = 20), with the default SIREN beside them, in one run. "
        "Parameters: " + ", ".join(f"{n} ({WIRE_SHORT[s]})" for s, n in sizes.items()) + ". The figures are in "
        "steps, two fits at a time on one thread each. The WIRE rows of the tables above were measured with the "
        "previous defaults.",
        source(name),
        f"The previous network stalled (within 2 dB of a flat grey after 100 steps) in {stalled} of {len(cases)} "
        f"fits; the new defaults gained {min(gains):.1f} to {max(gains):.1f} dB on the held-out photos (mean "
        f"{mean(gains):.1f}), reaching {min(held_new):.1f} to {max(held_new):.1f} dB, still below SIREN.",
        table(("set", "photo", "size", *(WIRE_SETTINGS[s] for s in settings)), cells))


def networks_page() -> str:
    return page(
        "Networks",
        "SIREN against its successors (FINER, WIRE, Gauss) and the grids (a hash grid, a dense grid) at one "
        "parameter budget and one time, with sirenkit's recipes: images at two sizes and two budgets, by time and "
        "by steps, then sound, shapes and reconstruction from gradients. These are sirenkit's protocol, not each "
        "paper's; FINER's own protocol ran on a GPU ([GPU](gpu.md)). PSNR in dB; the best of each row in bold.",
        zoo_198k_256(), zoo_198k_256_steps(), zoo_198k_512(), zoo_198k_512_steps(), zoo_20k_256(),
        zoo_20k_256_steps(), zoo_20k_512(), zoo_20k_512_steps(), finer_rate_by_width(), wire_defaults(), zoo_audio(),
        zoo_shapes(), zoo_poisson())


# --- derivatives ---------------------------------------------------------------------------------


def shape_text(row: dict) -> str:
    return f"{row['shape']}, {'grey' if row['channels'] == 1 else 'colour'}"


def derivatives_page() -> str:
    gradient = ("derivatives-float32-360s-cpu.json", "derivatives-float32-360s-chelsea-rocket-cpu.json")
    rows = [row for name in gradient for row in load(name)["rows"]]
    lowest = min(rows, key=lambda row: row["psnr"])
    laplacian = "derivatives-laplacian-float32-360s-cpu.json"
    lap_rows = load(laplacian)["rows"]
    return page(
        "Derivatives",
        "Photos rebuilt from their derivatives only, with the default recipe of `sirenkit poisson`, under the "
        "budget a float32-only machine gets: reconstruction from derivatives runs in float32 everywhere, and 360 s "
        f"on {XEON} stand for the default 540 s on {EPYC_AVX2} (float32 runs about 1.5× slower there)."
        " 256 px on the longer side, colour "
        "photos rebuilt per channel. \"Classical\" is the DCT solution of the same discrete problem, exact up to "
        "the same freedom: the ceiling of the discrete problem, not a competitor. `make bench-derivatives` reruns "
        "the gradient table.",
        block(
            "## From the gradient",
            "PSNR after removing each channel's mean difference (a gradient fixes an image only up to a constant). "
            "\"Tuning\": photos the recipe was chosen on; \"held out\": photos it was checked on in this run.",
            source(Source(gradient[0], "eight photos"), Source(gradient[1], "chelsea and rocket")),
            f"The lowest of the {len(rows)} photos is {photo(lowest['photo'])} at {lowest['psnr']:.2f} dB. Chelsea "
            "and rocket ran with a small test run beside them for part of the time: their steps are lower bounds.",
            table(("photo", "set", "size", "steps in 360 s", "PSNR", "classical (DCT)"),
                  ([photo(r["photo"]), r["set"], shape_text(r), f"{r['steps']:,}", f"{r['psnr']:.2f} dB",
                    f"{r['classical_psnr']:.1f} dB"] for r in rows))),
        block(
            "## From the Laplacian",
            "PSNR after removing a least-squares plane `a + bx + cy` per channel (a Laplacian fixes an image only "
            "up to a harmonic function). \"Texture\" is the correlation of the reconstruction's high-pass "
            "`I − G_1.5 * I` with the photo's (1: all fine detail in place), `texture` in `metrics.json`.",
            source(laplacian),
            f"The texture is in place on all {len(lap_rows)} photos ({min(r['texture'] for r in lap_rows):.2f} to "
            f"{max(r['texture'] for r in lap_rows):.2f}); the PSNR, {min(r['psnr'] for r in lap_rows):.1f} to "
            f"{max(r['psnr'] for r in lap_rows):.1f} dB, is the slow shading of a fourth-order loss.",
            table(("photo", "set", "size", "steps in 360 s", "PSNR (plane)", "SSIM", "texture", "classical (DCT)"),
                  ([photo(r["photo"]), r["set"], shape_text(r), f"{r['steps']:,}", f"{r['psnr']:.2f} dB",
                    f"{r['ssim']:.2f}", f"{r['texture']:.2f}", f"{r['classical_psnr']:.1f} dB"] for r in lap_rows))))


# --- shapes --------------------------------------------------------------------------------------


def shapes_page() -> str:
    name = "shapes-cpu.json"
    data = load(name)
    fits = data["fits"]
    siren = fits[0]
    fit_cells = [[LABELS.get(f["model"], f["model"]), f"{f['steps']:,}", f"{f['seconds']:.0f} s ({f['precision']})",
                  f"{100 * f['chamfer_l1']:.3f} %", f"{f['fscore']:.3f}", f"{f['normal_consistency']:.3f}",
                  f"{f['pieces_dropped']:,}", f"{100 * f['raw_chamfer_l1']:.3f} % / {f['raw_fscore']:.3f}",
                  f"{f['chamfer_l1'] / siren['chamfer_l1']:.2f}×"] for f in fits]
    after_fit = {(m["resolution"], m["path"]): m for m in data["meshing"]}
    alone = {(m["resolution"], m["path"]): m for m in load("meshing-cpu.json")}
    mesh_cells = [[f"{r}³", p, f"{m['faces']:,}", f"{m['total_seconds']:.1f} s, {m['peak_bytes'] / 2**30:.2f} GiB",
                   f"{alone[r, p]['total_seconds']:.1f} s, {alone[r, p]['peak_bytes'] / 2**30:.2f} GiB"
                   if (r, p) in alone else "—", f"{m['one_piece_activation_bytes'] / 2**30:,.0f} GiB"]
                  for (r, p), m in after_fit.items()]
    dense, fine = after_fit[256, "every point"], after_fit[256, "coarse to fine"]
    return page(
        "Shapes",
        "Signed distance functions: the Stanford bunny fitted with the defaults of `sirenkit fit sdf` (the paper's "
        "network and loss, 4,000 steps), measured against the input mesh, and meshing the fit. Distances are "
        "divided by the input's bounding-box diagonal; 200,000 samples per surface.",
        block(
            "## SIREN against ReLU + positional encoding",
            "The baseline gets the same loss, points and schedule for the same fitting time (its own seconds per "
            "step measured first; it runs eagerly: `torch.compile` cannot differentiate twice through it). \"Raw "
            "level set\" is the mesh before the pieces the data does not support are dropped.",
            source(name),
            f"SIREN's written mesh is {fits[1]['chamfer_l1'] / siren['chamfer_l1']:.1f}× closer to the bunny than "
            f"the baseline's, with {siren['pieces_dropped']} unsupported piece dropped against "
            f"{fits[1]['pieces_dropped']:,}.",
            table(("network", "steps", "fitting", "Chamfer-L1", "F-score at 1 %", "normal consistency",
                   "pieces dropped", "raw level set: Chamfer-L1 / F-score", "Chamfer vs SIREN"), fit_cells)),
        block(
            "## Meshing",
            "The bunny's SIREN fit meshed at 256³ and 512³ by `benchmarks/shapes.py` after its fit and by "
            "`benchmarks/meshing.py` on a run folder alone, each case in a fresh process (its peak memory its own): "
            "every grid point evaluated in chunks, against the coarse-to-fine grid (the default). The last column "
            "is what the activations alone would need if the grid were evaluated in one piece.",
            source(Source(name, "after the fit"), Source("meshing-cpu.json", "meshing alone")),
            f"At 256³ coarse to fine takes {dense['total_seconds'] / fine['total_seconds']:.1f}× less time than "
            "every point, for the same faces.",
            table(("grid", "path", "faces", "after the fit: time, peak memory", "meshing alone: time, peak memory",
                   "in one piece"), mesh_cells)))


# --- audio and video -----------------------------------------------------------------------------


SIGNAL_NAMES = {"music.wav": "the music", "pan.mp4": "the clip"}
SIGNAL_INPUTS = {"music.wav": "3 s of 44.1 kHz music (WAV)", "pan.mp4": "24 frames of 80×64, colour (MP4)",
                 "no_time_for_that_tiny.gif": "`no_time_for_that_tiny.gif` (24 frames of 25×14)"}


def audio_video_page() -> str:
    name = "signals-cpu.json"
    rows = load(name)
    siren = {row["input"]: row for row in rows if row["model"] == "siren"}
    cells = [[SIGNAL_INPUTS.get(r["input"], r["input"]), LABELS.get(r["model"], r["model"]), f"{r['parameters']:,}",
              f"{r['steps']:,}", f"{r['seconds']:.0f} s", f"{r['snr']:.1f} dB" if r["snr"] is not None else "",
              f"{r['psnr']:.2f} dB",
              "" if r["model"] == "siren" else f"{signed(r['psnr'] - siren[r['input']]['psnr'])} dB"]
             for r in rows]
    gaps = [(r["input"], r["psnr"] - siren[r["input"]]["psnr"]) for r in rows if r["model"] != "siren"]
    omega = "omega-audio-60s-cpu.json"
    omega_rows = load(omega)["rows"]
    omega_cells, above_rule = [], 0
    for row in omega_rows:
        values = sorted(row["scores"], key=float)
        rule = values[len(values) // 2]  # the candidates are the rule times ⅓ … 3: the middle one is the rule
        above_rule += row["auto"] > float(rule)
        omega_cells.append([row["photo"], f"{row['auto']:,.0f} ({row['auto_psnr']:.2f} dB)", f"{row['best']:,.0f}",
                            f"{row['gap']:.2f} dB",
                            " / ".join(bold(f"{row['scores'][v]:.2f}", v == rule) for v in values)])
    return page(
        "Audio and video",
        "Sound and video fitted with the defaults, through the command line as a user runs them, beside the "
        "paper's ReLU + positional-encoding baseline with the same network size and steps.",
        block(
            "## Default fits",
            "The music is synthesised (`benchmarks/media.py`: a plucked-string arpeggio over a bass line with a "
            "kick drum and a noisy hi-hat); the clip is the terrier photo seen through a camera that glides and "
            "zooms, written as H.264. The ReLU + PE audio fit shared the machine with other work: its time is "
            "inflated.",
            source(name),
            "ReLU + PE against SIREN: " + ", ".join(f"{SIGNAL_NAMES.get(i, i)} {signed(g)} dB" for i, g in gaps)
            + ".",
            table(("input", "network", "parameters", "steps", "fitting", "SNR", "PSNR", "PSNR vs SIREN"), cells),
            image("audio-music.png", "music: waveform and spectrogram of ground truth, fit and error"),
            image("video-frames.png", "video: ground truth over fit")),
        block(
            "## ω0 for sound",
            "`--omega auto` on sound against a grid of first-layer ω0: the audio recipe in float32, 60 s per fit, "
            "the candidates the per-second rule (1,000 per second of audio, in bold) times ⅓ … 3.",
            source(omega),
            f"The chosen ω0 is {mean(r['gap'] for r in omega_rows):.2f} dB from the grid's best on average, and "
            f"above the per-second rule on {above_rule} of {len(omega_rows)} sounds.",
            table(("sound", "`--omega auto`", "grid's best", "gap", "SNR (dB) per first ω0, ⅓ … 3 × the rule"),
                  omega_cells)))


# --- compression ---------------------------------------------------------------------------------


CODECS = ("sirenkit", "JPEG", "WebP", "JPEG 2000", "AVIF")
CODEC_FILES = ("codec-0.3bpp-150s-cpu.json", "codec-rd-150s-cpu.json", "codec-rd-150s-more-cpu.json")


def codec_summary() -> str:
    name = CODEC_FILES[0]
    rows = load(name)["rows"]
    jpeg = {r["photo"]: r["psnr"] for r in rows if r["codec"] == "JPEG"}
    cells = []
    for codec in CODECS:
        mine = [r for r in rows if r["codec"] == codec]
        cells.append([bold(codec, codec == "sirenkit"), f"{mean(r['bpp'] for r in mine):.4f}",
                      f"{mean(r['psnr'] for r in mine):.2f}",
                      "0" if codec == "JPEG" else signed(mean(r["psnr"] - jpeg[r["photo"]] for r in mine)),
                      f"{mean(r['ms_ssim'] for r in mine):.4f}", seconds(mean(r["encode_seconds"] for r in mine)),
                      seconds(mean(r["decode_seconds"] for r in mine))])
    photos = list(dict.fromkeys(r["photo"] for r in rows))
    found = {(r["photo"], r["codec"]): r for r in rows}
    photo_cells = []
    for p in photos:
        ours = found[p, "sirenkit"]
        stages = ours["stages"]
        photo_cells.append([photo(p), ours["size"], *(f"{found[p, c]['psnr']:.2f}" if (p, c) in found else "—"
                                                      for c in CODECS),
                            f"{ours['layers']} × {ours['width']} ({ours['setting']:,}); {stages['fit']:.2f} → "
                            f"{stages['quantised']:.2f} → {stages['file']:.2f}"])
    ours_rows = [r for r in rows if r["codec"] == "sirenkit"]
    above_jpeg = sum(1 for r in ours_rows if r["psnr"] > jpeg[r["photo"]])
    rounding = mean(r["stages"]["fit"] - r["stages"]["quantised"] for r in ours_rows)
    tuning = mean(r["stages"]["file"] - r["stages"]["quantised"] for r in ours_rows)
    coder = mean(1 - r["bytes"] / r["fixed_length_bytes"] for r in ours_rows)
    return block(
        "## At 0.3 bits per pixel",
        "Eight photos, none used to tune the codec (it was tuned on chelsea and camera), the longer side scaled to "
        "at most 768 px. Each classical codec's quality (JPEG 4:2:0 with optimised tables, WebP method 6, JPEG "
        "2000 through OpenJPEG with the 9/7 wavelet and the colour transform, AVIF speed 4; all through Pillow) is "
        "bisected to the highest setting whose file is at most 0.3 bpp; sirenkit gets `--bpp 0.3 --time 150`, its "
        "fit in bfloat16 as `--precision auto` chooses there. PSNR in dB on 8-bit RGB, MS-SSIM, whole files.",
        source(name),
        f"sirenkit is above JPEG on {above_jpeg} photos of {len(ours_rows)}.",
        table(("codec", "mean bpp", "mean PSNR", "PSNR − JPEG's", "mean MS-SSIM", "encode", "decode"), cells),
        source(name),
        f"Each step of sirenkit's encoder, on average: rounding the fitted weights at the allocated widths costs "
        f"{rounding:.2f} dB, fine-tuning through the rounding gains {tuning:.2f} dB over the rounded network, and "
        f"the range coder's files are {coder:.1%} smaller than the same symbols at their fixed widths.",
        table(("photo", "size", *CODECS, "sirenkit: network (parameters); PSNR fitted → rounded → file"),
              photo_cells),
        image("codec-crops.png", "astronaut at 0.3 bpp: sirenkit, JPEG, WebP, JPEG 2000, AVIF"))


def codec_rates() -> str:
    rows = [row for name in CODEC_FILES for row in load(name)["rows"]]
    found = {(r["photo"], r["codec"], r["target"]): r for r in rows}
    photos = list(dict.fromkeys(r["photo"] for r in rows))
    cells = []
    for target in sorted({r["target"] for r in rows}):
        reached = [p for p in photos if (p, "JPEG", target) in found and (p, "sirenkit", target) in found]

        def mean_of(codec: str, target: float = target, reached: list[str] = reached) -> tuple[float | None, int]:
            mine = [found[p, codec, target]["psnr"] for p in reached if (p, codec, target) in found]
            return (mean(mine) if len(mine) == len(reached) else None), len(mine)

        values = {codec: mean_of(codec) for codec in CODECS}
        text = [f"{v:.2f}" if v is not None else f"({n} photos)" for v, n in values.values()]
        ours, jpeg, j2k = values["sirenkit"][0], values["JPEG"][0], values["JPEG 2000"][0]
        assert ours is not None and jpeg is not None
        cells.append([f"{target:.1f}", str(len(reached)), *text, bold(signed(ours - jpeg), ours > jpeg),
                      bold(signed(ours - j2k), ours > j2k) if j2k is not None else "—"])
    return block(
        "## Across rates",
        "All eight photos at 0.1, 0.2, 0.3, 0.5 and 1.0 bpp, the same 150 s at every rate; mean PSNR in dB over "
        "the photos JPEG can reach at that rate (a codec that misses some of them shows how many it reaches).",
        source(Source(CODEC_FILES[0], "0.3 bpp"), Source(CODEC_FILES[1], "astronaut, the terrier"),
               Source(CODEC_FILES[2], "the other six")),
        "sirenkit's margin over JPEG shrinks as the rate grows: a larger network takes fewer steps in the same "
        "150 s, while the classical codecs keep more coefficients.",
        table(("bpp", "photos", *CODECS, "sirenkit − JPEG", "sirenkit − JPEG 2000"), cells),
        image("codec-rd.png", "rate–distortion: sirenkit, JPEG, WebP, JPEG 2000, AVIF"))


def compression_page() -> str:
    return page(
        "Compression",
        "sirenkit's `.sirk` codec (`sirenkit compress`) against JPEG, WebP, JPEG 2000 and AVIF at equal rates "
        "(`benchmarks/codec.py`). Rates are whole files, header included: `8 × bytes / pixels`. A meta-learned "
        "initialisation for the codec was measured on a GPU: [GPU](gpu.md).",
        codec_summary(), codec_rates())


# --- many signals --------------------------------------------------------------------------------


NETWORK_NAMES = {"small": "10 × 28 (compression size)", "paper": "256 × 4 (the paper's)"}


def many_table(names: Sequence[str]) -> str:
    cells = []
    for name in names:
        data = load(name)
        work = data["count"] * data["steps"]
        for row in data["rows"]:
            how = {True: "compiled", False: "eager"}
            cells.append([NETWORK_NAMES.get(row["network"], row["network"]), f"{row['parameters']:,}",
                          f"{data['steps']:,}",
                          f"{work / row['sequential_seconds']:,.0f} ({how[row['compiled_alone']]})",
                          f"{work / row['batched_seconds']:,.0f} ({how[row['compiled_batched']]})",
                          f"{row['ratio']:.2f}×", f"{row['psnr_alone']:.2f} dB",
                          f"{signed(row['mean_psnr_difference'])}, {row['largest_psnr_difference']:.2f} dB",
                          f"{'batched' if row['folder_fit_batches'] else 'one after another'} "
                          f"(probe {row['probe_seconds']:.1f} s)"])
    return table(("network", "parameters", "steps", "one after another (signal-steps/s)", "batched (signal-steps/s)",
                  "ratio", "PSNR (mean)", "batched − alone: mean, largest", "`fit image FOLDER` chooses"), cells)


def many_gpu() -> str:
    name = "many-768x512-gpu.json"
    data = load(name)
    return block(
        f"{data['count']} grey photos of {data['size'].replace('x', '×')} (Kodak's size), {data['steps']} steps of "
        "4,096 random pixels each, float32, both ways eager:",
        source(name),
        "Batched against one after another: " + ", ".join(
            f"{NETWORK_NAMES[r['network']]} {r['ratio']:.1f}×" for r in data["rows"]) + ".",
        many_table([name]))


def many_page() -> str:
    cpu = ("many-small-cpu.json", "many-paper-cpu.json")
    sizes = {load(name)["size"] for name in cpu}
    ratios = {load(name)["rows"][0]["network"]: load(name)["rows"][0]["ratio"] for name in cpu}
    return page(
        "Many signals",
        "`benchmarks/many.py`: many photos fitted batched (`sirenkit.engine.stacked.fit_batched`, every network's "
        "layers as one batched product) against one after another with the ordinary loop, the same steps; "
        "signal-steps per second both ways, how far the batched fits' PSNR is from the single ones', and what "
        "`sirenkit fit image FOLDER` decides for such a group (it times a few eager steps both ways first).",
        block(
            "## On a CPU",
            f"{load(cpu[0])['count']} grey photos of {'/'.join(str(s) for s in sorted(sizes))}², 4,096 random "
            "pixels per step, float32.",
            source(*cpu),
            f"Batching pays for the small network ({ratios['small']:.2f}×) and loses for the paper's "
            f"({ratios['paper']:.2f}×): there a step is bound by its arithmetic, and the folder command fits one "
            "after another.",
            many_table(cpu)),
        block("## On a GPU", many_gpu()))


# --- GPU -----------------------------------------------------------------------------------------


CHECKS = {  # device_check.py's checks, as its script runs them
    "fit image (compiled)": "`fit image camera --size 256`, 300 steps, compiled",
    "fit image (terrier, full size)": "`fit image` the terrier, full size, 300 steps",
    "fit image FOLDER (batched)": "`fit image FOLDER` (4 photos, batched), 200 steps",
    "poisson from gradient": "`poisson --from gradient`, 128 px, 300 steps",
    "poisson from laplacian": "`poisson --from laplacian`, 128 px, 300 steps",
    "render 2× and the Laplacian": "`render --size 512 --what laplacian`",
    "compare (six families)": "`compare` (128 px, 200 steps), six families",
    "fit sdf (bunny)": "`fit sdf` the bunny, 500 steps, mesh at 128³",
    "fit audio": "`fit audio` (3 s of tones), 300 steps",
    "example helmholtz": "`example helmholtz`, 300 steps",
    "compress / decompress": "`compress coffee --bpp 0.3 --steps 600`, `decompress`",
}


def readable_figure(text: str) -> str:
    """device_check.py's figure of merit (``psnr 39.05``, ``finer 31.61, gauss 37.87, ...``) as a table cell."""
    pairs = [part.strip().rsplit(" ", 1) for part in text.split(",")]
    families = {name: value for name, value in (p for p in pairs if len(p) == 2) if name in LABELS}
    if len(families) > 1:
        return " / ".join(f"{LABELS[m]} {families[m]}" for m in ("siren", *FAMILIES[1:]) if m in families)
    first = text.split(",")[0].strip()
    for name, shown in (("chamfer_l1", "Chamfer-L1"), ("relative_error_vs_finite_differences", "error")):
        if first.startswith(name):
            return f"{shown} {first.split()[-1]}"
    return first.replace("mean psnr", "mean PSNR").replace("psnr ", "PSNR ")


def device_checks() -> str:
    cpu, gpu = "device-check-cpu.json", "device-check-gpu.json"
    cpu_rows = {row["check"]: row for row in load(cpu)["rows"]}
    gpu_rows = load(gpu)["rows"]

    def figure(row: dict | None) -> str:
        if row is None:
            return "—"
        return readable_figure(row["figure"]) if row["ok"] else "failed"

    cells = [[CHECKS.get(r["check"], r["check"]), figure(cpu_rows.get(r["check"])), figure(r),
              f"{r['seconds']:.1f}"]
             for r in gpu_rows]
    passed = sum(1 for r in gpu_rows if r["ok"])
    return block(
        "## Every command on the GPU",
        "`benchmarks/device_check.py` runs every command's main path as a user would, small and in one process, "
        "on the GPU and, for reference, on a CPU: float32 both, the same seeds and steps. The CPU's seconds are "
        "left out (that run shared its two cores with other work). The figures check that the GPU computes what "
        "the CPU computes; they do not rank families.",
        source(Source(cpu, "CPU"), Source(gpu, "GPU")),
        f"{passed} of {len(gpu_rows)} commands ran on CUDA; every figure agrees with the CPU's to what a few hundred "
        "Adam steps in another order of summation make of it.",
        table(("command", "CPU", "GPU", "GPU seconds"), cells))


def finer_protocol() -> str:
    name = "protocol-finer-gpu.json"
    data = load(name)
    rows = data["rows"]
    pairs = [(s, f) for s, f in zip(rows[0::2], rows[1::2])]
    cells = [[photo(s["photo"]), f"{s['psnr']:.2f}", f"{f['psnr']:.2f}", bold(signed(f["psnr"] - s["psnr"]),
                                                                            f["psnr"] > s["psnr"]),
              f"{s['ssim']:.3f} / {f['ssim']:.3f}", f"{s['seconds']:.0f} / {f['seconds']:.0f}"] for s, f in pairs]
    margin = mean(f["psnr"] - s["psnr"] for s, f in pairs)
    wins = sum(1 for s, f in pairs if f["psnr"] > s["psnr"])
    cells.append(["mean", f"{mean(s['psnr'] for s, _ in pairs):.2f}", f"{mean(f['psnr'] for _, f in pairs):.2f}",
                  bold(signed(margin), margin > 0), "", ""])
    eager = {(r["photo"], r["model"]): r for r in data.get("eager_run_sharing_the_gpu", {}).get("rows", [])}
    eager_text = None
    if ("camera", "siren") in eager and ("camera", "finer") in eager:
        eager_text = (f"The same protocol run eagerly while another process shared the GPU ended camera at "
                      f"{eager['camera', 'siren']['psnr']:.2f} dB (SIREN) and "
                      f"{eager['camera', 'finer']['psnr']:.2f} dB (FINER): two orders of summation over 5,000 Adam "
                      "steps move a photo's margin by a dB or more.")
    return block(
        "## FINER's own protocol",
        f"FINER's paper protocol: {rows[0]['parameters']:,}-parameter networks (3 hidden layers of 256), Adam at "
        f"{rate(rows[0]['rate'])} with a constant rate, {data['steps']:,} full-batch steps at {data['size']} px, "
        "float32, compiled; both networks at their papers' ω0 = 30. Full batches of 262,144 pixels are out of reach "
        "of a 2-core CPU (about three hours per fit). WIRE's own protocol (`benchmarks/protocols.py --paper wire`) "
        "has not been run on a GPU yet.",
        source(name),
        f"FINER above SIREN on {wins} photos of {len(pairs)}, by {signed(margin)} dB on average.",
        table(("photo (512 px)", "SIREN (dB)", "FINER (dB)", "FINER − SIREN", "SSIM: SIREN / FINER",
               "seconds: SIREN / FINER"), cells),
        eager_text)


def meta_learning() -> str:
    name = "meta-gpu.json"
    data = load(name)
    rows = data["rows"]
    settings = data["meta"]
    steps = sorted({r["steps"] for r in rows})
    keys = list(dict.fromkeys((r["width"], r["photo"]) for r in rows))
    found = {(r["width"], r["photo"], r["steps"]): r for r in rows}
    cells = []
    for width, name_of in keys:
        first = found[width, name_of, steps[0]]
        cells.append([str(width), f"{first['parameters']:,}", f"{photo(name_of)} {first['size']}",
                      f"{first['outer_steps']:,}",
                      *(f"{found[width, name_of, s]['random']:.2f} / {found[width, name_of, s]['initialised']:.2f}"
                        for s in steps)])
    gains = {s: mean(found[k[0], k[1], s]["initialised"] - found[k[0], k[1], s]["random"] for k in keys)
             for s in steps}
    return block(
        "## A meta-learned initialisation for the codec",
        f"`benchmarks/meta.py` learns a starting point per codec network width with Reptile: "
        f"{settings['tasks_per_step']} tasks per outer step, {settings['inner_steps']} "
        f"{settings['inner_optimizer'].upper()} "
        f"steps at {rate(settings['inner_rate'])} on {settings['batch']:,} pixels, outer step size "
        f"{settings['meta_rate']:g} decaying to 0, {settings['seconds_per_width']} s per width, while the GPU also ran "
        "another benchmark. The probe: PSNR after a number of Adam steps at 1e-3 (the codec's recipe) from a "
        "random initialisation and from the learned one, on coffee and the terrier (not trained on), at the size "
        "where the codec picks that width at 0.3 bpp.",
        source(name),
        "Mean gain of the learned start over the random one: " + ", ".join(
            f"{signed(gains[s])} dB after {s:,} steps" for s in steps)
        + ": the lead is gone by the few hundred steps the codec runs past, so no initialisation ships.",
        table(("width", "parameters", "photo", "outer steps", *(f"after {s:,} steps: random / learned (dB)"
                                                                 for s in steps)), cells))


def gpu_page() -> str:
    return page(
        "GPU",
        "Measurements on a GPU: every command's main path checked against the CPU, FINER's own image protocol, "
        "the codec's meta-learned initialisation and many signals batched. The GPU's PyTorch (2.11) is older than "
        "the project's pin (2.13): the code runs on both. Timings on a GPU for the other tables: not measured on a "
        "GPU yet.",
        device_checks(), finer_protocol(), meta_learning(), block("## Many signals at once", many_gpu()))


# --- the index -----------------------------------------------------------------------------------


PAGES_LIST = (  # (file, title, what it holds)
    ("images.md", "Images and speed", "time to quality against the paper's recipe, training steps, the sweep behind "
                                      "the default image recipe, `--omega auto`"),
    ("networks.md", "Networks", "every network family on images (two sizes, two budgets, by time and by steps), "
                                "sound, shapes and reconstruction from gradients"),
    ("derivatives.md", "Derivatives", "photos rebuilt from their gradient or their Laplacian only"),
    ("shapes.md", "Shapes", "the bunny with the SDF defaults against a ReLU baseline, and meshing"),
    ("audio-video.md", "Audio and video", "sound and video with the defaults, and ω0 for sound"),
    ("compression.md", "Compression", "the `.sirk` codec against JPEG, WebP, JPEG 2000 and AVIF"),
    ("many-signals.md", "Many signals", "batched fits against one after another, on a CPU and a GPU"),
    ("gpu.md", "GPU", "every command on a GPU, FINER's own protocol, the codec's meta-learned initialisation"),
    ("equations.md", "Differential equations", "PINNacle's problems and Allen–Cahn against the vanilla PINN of "
                                                 "PINNacle's protocol, in the same time budget"),
)

SCRIPTS = (  # (script, what it measures)
    ("steps.py", "seconds, arithmetic and memory of a training step, against the paper's recipe"),
    ("time_to_quality.py", "seconds to 30 and 40 dB on camera, against the paper's recipe"),
    ("init_scale.py", "weight-scaled initialisation, and `--until` against shorter schedules"),
    ("busy.py", "seconds per step beside a CPU-bound program, threads chosen or one per core"),
    ("sweep.py", "the study behind the default image recipe (`make sweep`)"),
    ("omega.py", "`--omega auto` against a grid search, on photos or sounds"),
    ("zoo.py", "every network family on images at one parameter budget"),
    ("zoo_kinds.py", "every network family on sound, shapes and reconstruction from gradients"),
    ("derivatives.py", "reconstruction from derivatives on ten photos (`make bench-derivatives`)"),
    ("shapes.py", "the bunny with the SDF defaults, the ReLU baseline, meshing"),
    ("meshing.py", "meshing a fitted SDF run folder at 256³ and 512³"),
    ("signals.py", "audio and video with the defaults, through the command line"),
    ("codec.py", "the image codec against the classical codecs"),
    ("many.py", "batched fits of many signals"),
    ("pdes.py", "differential equations against the vanilla PINN of PINNacle's protocol"),
    ("device_check.py", "every command's main path on one device"),
    ("protocols.py", "FINER's and WIRE's own image protocols (for a GPU)"),
    ("meta.py", "the codec's meta-learned initialisations"),
    ("progress.py", "the figure of a fit after a few steps"),
)


EQUATIONS = {  # problem: (what it is, its reference)
    "burgers": ("Burgers 1d-C (PINNacle), ν = 0.01/π", "exact (Cole–Hopf)"),
    "poisson": ("Poisson 2d-C (PINNacle): Laplace on a plate with four holes", "finite differences"),
    "heat": ("Heat 2d-MS (PINNacle): multi-scale, sin(20πx) sin(πy)", "exact"),
    "wave": ("Wave 1d-C (PINNacle): u_tt = 4 u_xx", "exact"),
    "helmholtz": ("Helmholtz 2D (PINNacle's helmholtz.py): sin(4πx) sin(4πy)", "exact"),
    "allen-cahn": ("Allen–Cahn 1D (jaxpi's statement)", "Fourier spectral, ETDRK4"),
    "burgers-held": ("Burgers, ν = 0.02/π", "exact (Cole–Hopf)"),
    "poisson-held": ("Laplace on a plate with three other holes", "finite differences"),
    "heat-held": ("Heat, sin(10πx) sin(2πy)", "exact"),
    "wave-held": ("Wave, second mode sin(3πx)", "exact"),
    "helmholtz-held": ("Helmholtz, sin(2πx) sin(6πy)", "exact"),
    "allen-cahn-held": ("Allen–Cahn from another initial state", "Fourier spectral, ETDRK4"),
}


def equation_rows(rows: Sequence[dict], problems: Sequence[str]) -> list[list[str]]:
    """One line per problem: each method's error, steps and seconds, and the ratio of the errors."""
    lines = []
    for problem in problems:
        found = {row["method"]: row for row in rows if row["problem"] == problem}
        if not found:
            continue
        cells = [EQUATIONS[problem][0], EQUATIONS[problem][1]]
        for method in ("vanilla", "sirenkit"):
            row = found.get(method)
            if row is None:
                cells += ["–", "–"]
                continue
            steps = f"{row['adam_steps']:,}" + (f" + {row['lbfgs_steps']:,} L-BFGS" if row["lbfgs_steps"] else "")
            cells += [f"{row['error']:.2e}", f"{steps} in {row['seconds']:.0f} s"]
        both = "vanilla" in found and "sirenkit" in found
        cells.append(f"{found['vanilla']['error'] / found['sirenkit']['error']:.1f}×" if both else "–")
        lines.append(cells)
    return lines


def equation_reading(rows: Sequence[dict], problems: Sequence[str]) -> str:
    """How many problems sirenkit's error is below the vanilla PINN's, and the ratios' range."""
    ratios = []
    for problem in problems:
        found = {row["method"]: row["error"] for row in rows if row["problem"] == problem}
        if "vanilla" in found and "sirenkit" in found:
            ratios.append(found["vanilla"] / found["sirenkit"])
    if not ratios:
        return ""
    below = sum(ratio > 1 for ratio in ratios)
    rates = [row["adam_steps"] / row["seconds"] for row in rows if row["problem"] in problems
             and row["method"] == "vanilla"]
    hours = 20_000 / min(rates) / 60, 20_000 / max(rates) / 60
    return (f"sirenkit's error is below the vanilla PINN's on {below} of {len(ratios)} problems, by "
            f"{min(ratios):.1f}× to {max(ratios):,.0f}×. In this budget the vanilla PINN takes "
            f"{min(rates):.1f} to {max(rates):.1f} steps a second: its protocol's 20,000 steps would take "
            f"{hours[1]:.0f} to {hours[0]:.0f} minutes here.")


def equations_page() -> str:
    name = "pdes-cpu.json"
    data = load(name)
    header = ("problem", "reference", "vanilla PINN: rel. L2", "steps", "sirenkit: rel. L2", "steps",
              "vanilla / sirenkit")
    tuned = [key for key in EQUATIONS if not key.endswith("-held")]
    held = [key for key in EQUATIONS if key.endswith("-held")]
    settings = data["settings"]
    return page(
        "Differential equations",
        "Problems of the PINNacle benchmark (Hao et al. 2024) and Allen–Cahn as jaxpi states it, solved by sirenkit "
        "and by the vanilla PINN of PINNacle's protocol in the same time budget, one after the other on the same "
        "machine: the relative L2 error against each problem's reference on a grid of test points. The vanilla PINN "
        "is a tanh network of five hidden layers of 100 with Glorot-normal weights, Adam at 10⁻³ for at most 20,000 "
        "steps on 8,192 points inside, 2,048 on the boundary and 2,048 at the start, drawn once, every term of "
        "weight 1. sirenkit's fit is its default recipe (`sirenkit.default_recipe`, what `solve` does given no "
        f"network): a SIREN of {settings['depth']} hidden layers of {settings['width']}, ω0 = {settings['omega']:g} on "
        "the domain scaled to [−1, 1] along each axis, 2,048 points inside and 512 "
        "on the boundary and at the start, drawn afresh every step, the terms balanced by their gradients, Adam at "
        f"{settings['learning_rate']:g} on a cosine schedule for {1 - settings['lbfgs_share']:.0%} of the budget, "
        f"then L-BFGS for the rest. Each fit had {data['budget']:.0f} s; the seconds shown include building the "
        "fit. The references are exact solutions or classical solvers of sirenkit's own, each tested against an "
        "independent one (`sirenkit.studies.exact`, `sirenkit.studies.references`).",
        block("## The problems the settings were chosen on", source(name),
              table(header, equation_rows(data["rows"], tuned)), equation_reading(data["rows"], tuned)),
        block("## Held out", "Variants nobody chose settings on: another viscosity, other holes, other modes, "
              "another initial state.", source(name),
              table(header, equation_rows(data["rows"], held)), equation_reading(data["rows"], held)),
    )


def index_page() -> str:
    counts: dict[str, int] = {}
    for name in sorted(p.name for p in RESULTS.glob("*.json")):
        counts[machine_of(name)] = counts.get(machine_of(name), 0) + 1
    machines = "\n".join(f"- **{m}**: {counts[m]} results files." for m in MACHINES if m in counts)
    superseded = "\n".join(f"- `{old}`: {why.format(**superseded_values(old))}; replaced by `{new}`."
                           for old, (new, why) in SUPERSEDED.items())
    partly = "\n".join(f"- `{old}`: {why}; replaced by `{new}`." for old, (new, why) in SUPERSEDED_ROWS.items())
    return page(
        "Benchmarks",
        "What sirenkit's speed and quality figures rest on. Every number on these pages is read from the "
        "measurements in `benchmarks/results/` by `benchmarks/tables.py`, which writes the pages: they are "
        "generated, not typed (do not edit them by hand; run `make bench-pages`). Above each table one line names "
        "the machine, the date and the command that produced it.",
        block("## The pages", "\n".join(f"- [{title}]({file}): {what}." for file, title, what in PAGES_LIST)),
        block(
            "## Rerunning them",
            "\n".join((
                "- `make bench`: step timings, time to quality against the paper's recipe, the bunny, audio and "
                "video, and the codec at 0.3 bpp (about 75 minutes on a 2-core CPU); `make bench-quick`: the step "
                "timings only.",
                "- `make bench-derivatives`: reconstruction from gradients on ten photos (about an hour).",
                "- `make sweep`: the study behind the default image recipe (about 30 minutes).",
                "- `make bench-pages`: these pages again, from what is in `benchmarks/results/`; "
                "`python benchmarks/tables.py --check` fails if a page differs from what it would write.")),
            "Every other table names its script's command. Each script writes its JSON where `--json` says; a "
            "results file belongs in `benchmarks/results/` once it should be on these pages. Run them with the "
            "project's environment (`.venv/bin/python`). In commands, `yorkshire_terrier.jpg` stands for the "
            "path of the terrier photo (a file; the other photos are scikit-image's bundled samples).",
            "\n".join(f"- `benchmarks/{script}`: {what}." for script, what in SCRIPTS)),
        block(
            "## The machines",
            "Timings compare within a table, not across machines; two runs on one machine also differ (these are "
            "shared machines whose speed drifts by up to a quarter between runs).",
            machines,
            "The CPUs ran PyTorch 2.13's CPU build; the GPU PyTorch 2.11 with CUDA 13. Where a machine has no "
            "native bfloat16, sirenkit's `--precision auto` runs float32."),
        block(
            "## Results no table shows",
            "Runs that a later run replaces, kept as measured:",
            superseded,
            "Runs some of whose rows a later run replaces (the other rows are shown):",
            partly))


def superseded_values(name: str) -> dict[str, object]:
    """The numbers a :data:`SUPERSEDED` reason quotes, read from its file."""
    if name == "zoo-256-20k-60s-cpu.json":
        row = next(r for r in load(name)["rows"] if r["photo"] == "camera" and r["model"] == "siren")
        return {"rate": rate(row["rate"]), "psnr": row["psnr"]}
    return {}


# --- the pages -----------------------------------------------------------------------------------


BUILDERS: dict[str, Callable[[], str]] = {
    "images.md": images_page, "networks.md": networks_page, "derivatives.md": derivatives_page,
    "shapes.md": shapes_page, "audio-video.md": audio_video_page, "compression.md": compression_page,
    "many-signals.md": many_page, "gpu.md": gpu_page, "equations.md": equations_page, "index.md": index_page,
}


def build() -> dict[str, str]:
    """Every page's text by file name, and a check that every results file is used or superseded."""
    USED.clear()
    pages = {name: builder() for name, builder in BUILDERS.items()}
    unused = sorted(p.name for p in RESULTS.glob("*.json") if p.name not in USED and p.name not in SUPERSEDED)
    if unused:
        raise ValueError(f"results files no page uses: {', '.join(unused)} (show them in benchmarks/tables.py, or "
                         "list them in SUPERSEDED)")
    return pages


def differing(pages: dict[str, str], folder: Path = PAGES) -> list[str]:
    """The pages whose file in ``folder`` is not ``pages``' text."""
    return [name for name, text in pages.items()
            if not (folder / name).is_file() or (folder / name).read_text() != text]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="Write nothing; exit 1 if a page differs from what this would write.")
    args = parser.parse_args(argv)
    pages = build()
    if args.check:
        stale = differing(pages)
        if stale:
            print(f"tables.py: docs/benchmarks/{', '.join(stale)} differ from benchmarks/results/; run "
                  "`make bench-pages`", file=sys.stderr)
            return 1
        return 0
    PAGES.mkdir(parents=True, exist_ok=True)
    for name, text in pages.items():
        (PAGES / name).write_text(text)
    print(f"wrote {len(pages)} pages to {PAGES.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
