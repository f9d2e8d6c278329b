"""The logged history of a fit (`history.json`): one quantity's series, and how often it was logged."""

from __future__ import annotations


def history_series(history: list[dict[str, float]], key: str) -> tuple[list[float], list[float]]:
    """`(steps, values)` of one logged quantity."""
    rows = [row for row in history if key in row]
    return [row["step"] for row in rows], [row[key] for row in rows]


def logged_every(history: list[dict[str, float]], key: str) -> str:
    """How often `key` was logged, for a figure's title: "every 25 steps" (the most common
    interval between the first and the last log, which fall at the fit's first and last steps),
    or the steps themselves when there are three or fewer: "at steps 1, 25 and 30"."""
    steps = sorted({int(row["step"]) for row in history if key in row})
    if not steps:
        return "never logged"
    if len(steps) <= 3:
        listed = [f"{step:,}" for step in steps]
        return f"at step{'s' if len(steps) > 1 else ''} " + (
            f"{', '.join(listed[:-1])} and {listed[-1]}" if len(listed) > 1 else listed[0])
    inner = steps[1:-1]
    gaps = [later - earlier for earlier, later in zip(inner, inner[1:])] or [inner[0] - steps[0]]
    gap = max(set(gaps), key=lambda value: (gaps.count(value), value))
    return "every step" if gap == 1 else f"every {gap:,} steps"
