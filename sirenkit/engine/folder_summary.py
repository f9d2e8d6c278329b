"""What a folder fit (`sirenkit.engine.folders`) leaves beside its run folders: every
signal's row, gathered from every process; `summary.json` and `summary.csv` (one row per
signal: status, the kind's scores, steps, seconds, run folder, error); and `contact.png`, each
finished run's pictures side by side. What a row keeps and what a picture shows are the kind's
([`score_names`][sirenkit.SignalKind.score_names],
[`contact_pictures`][sirenkit.SignalKind.contact_pictures],
[`draw_contact`][sirenkit.SignalKind.draw_contact])."""

from __future__ import annotations

import csv
import io as _io
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sirenkit.engine.kinds import SignalKind
from sirenkit.figures import new_figure, save_figure
from sirenkit.io import atomic_write, write_json
from sirenkit.text import figure_text, printable

logger = logging.getLogger("sirenkit")

RUN_FIGURES = ("steps", "seconds", "parameters", "stopped_by")
"""What a summary row keeps of every run's `metrics.json` besides its kind's scores."""


def scores(metrics: dict[str, Any], score_names: Sequence[str]) -> dict[str, Any]:
    """The numbers of a run's `metrics.json` that a summary row keeps: the kind's
    `score_names`, then `RUN_FIGURES`, those that are there."""
    return {key: metrics[key] for key in (*score_names, *RUN_FIGURES) if key in metrics}


def columns(score_names: Sequence[str]) -> tuple[str, ...]:
    """`summary.csv`'s columns, in order (those no row has are left out)."""
    return ("signal", "status", *score_names, *RUN_FIGURES, "run", "source", "error")


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def gather_rows(rows: dict[int, dict[str, Any]], sources: Sequence[str], names: Sequence[str], out: Path, rank: int,
                world: int) -> list[dict[str, Any]]:
    """Every signal's row, in the order given. Alone: this process's rows. Under torchrun: each
    rank writes its rows to `out/.rows-<rank>.json` and waits for the others; rank 0 reads them
    all, and a signal whose rank wrote nothing (it died, or was stopped) is listed as `missing`
    (its run folder, if any, is left for `--resume`). Other ranks return their own rows."""
    if world == 1:
        return [rows[i] for i in range(len(sources))]
    import torch.distributed as dist

    write_json(out / f".rows-{rank}.json", {str(index): row for index, row in rows.items()})
    try:
        dist.barrier()
    except RuntimeError as error:  # a rank died: the others still report what they have
        logger.warning("not every process reached the end (%s)", one_line(error))
    if rank != 0:
        _leave(dist)
        return [rows[i] for i in sorted(rows)]
    merged: dict[int, dict[str, Any]] = {}
    for other in range(world):
        part = out / f".rows-{other}.json"
        try:
            merged.update({int(k): v for k, v in json.loads(part.read_text()).items()})
            part.unlink()
        except (OSError, ValueError):
            pass
    _leave(dist)  # every rank's part is read: nothing more is said between them
    return [merged.get(i) or {"signal": names[i], "source": sources[i], "run": str(out / names[i]),
                              "status": "missing",
                              "error": f"rank {i % world} did not report (it stopped or failed); rerun with --resume"}
            for i in range(len(sources))]


def _leave(dist: Any) -> None:
    """Leave the process group; after a rank died this may fail, and nothing depends on it."""
    try:
        dist.destroy_process_group()
    except (RuntimeError, ValueError) as error:
        logger.warning("leaving the process group: %s", one_line(error))


def write_summary(out: Path, rows: Sequence[dict[str, Any]], score_names: Sequence[str]) -> None:
    """`summary.json` and `summary.csv` in the runs' folder `out`, each written whole or not at all.
    They are for people and other programs to read: their texts (names, paths, errors) are written as
    `sirenkit.text.printable` shows them (a file name that is not valid UTF-8 as `caf\\xe9.png`,
    not as a lone surrogate that strict JSON readers refuse)."""
    rows = [{key: printable(value) if isinstance(value, str) else value for key, value in row.items()}
            for row in rows]
    failed = sum(row.get("status") == "failed" for row in rows)
    write_json(out / "summary.json", {"signals": len(rows), "failed": failed, "rows": rows})
    present = [c for c in columns(score_names) if any(c in row for row in rows)]
    text = _io.StringIO()
    writer = csv.DictWriter(text, fieldnames=present, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(row.get(key)) for key in present})
    data = text.getvalue().encode()
    atomic_write(out / "summary.csv", lambda stream: stream.write(data))


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return "" if value is None else value


def contact_sheet(rows: Sequence[dict[str, Any]], kind: type[SignalKind], path: Path, limit: int = 48) -> None:
    """`contact.png` from the run folders (whichever process or earlier run made them): each of
    the first `limit` signals that have a run, as `kind` shows it
    ([`contact_pictures`][sirenkit.SignalKind.contact_pictures]; images: each photo over its fit
    with its PSNR; sounds: each waveform with its fit's over it and its SNR; shapes: each run's
    `mesh.png` with its Chamfer-L1). Nothing for a kind without pictures."""
    pairs: list[tuple[dict[str, Any], np.ndarray, np.ndarray]] = []
    for row in rows:
        if row.get("status") in ("fitted", "resumed", "done earlier") and len(pairs) < limit:
            try:
                pictures = kind.contact_pictures(Path(row["run"]), row["source"])
            except (OSError, ValueError, KeyError) as error:  # a run folder changed since: left out, said
                logger.warning("contact sheet: %s left out (%s)", printable(row["signal"]), one_line(error))
                continue
            if pictures is None:
                return
            pairs.append((row, *pictures))
    if not pairs:
        return
    across = min(8, len(pairs))
    blocks = math.ceil(len(pairs) / across)
    rows_per = kind.contact_rows
    figure, axes = new_figure(blocks * rows_per, across, figsize=(2.2 * across, 2.3 * blocks * rows_per),
                              squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for place, (row, truth, fitted) in enumerate(pairs):
        block, column = divmod(place, across)
        shown = {**row, "signal": figure_text(row["signal"])}  # the kind titles its pictures with the name
        kind.draw_contact(list(axes[block * rows_per:(block + 1) * rows_per, column]), shown, truth, fitted)
    figure.suptitle(f"{len(pairs)} of {len(rows)} signals: {kind.contact_title}", fontsize=9)
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.3 / figure.get_figheight()))  # the title's 0.3 inch kept clear
    save_figure(figure, path)
