"""Cells and tables as summary.md writes them: ``mean ± std`` and GitHub Markdown."""

from __future__ import annotations

import math

import pandas as pd

EMPTY_TABLE = "_(no variant of this table in this run)_"


def pm(mean: float, std: float, digits: int = 2) -> str:
    """``mean ± std`` (std omitted for a single seed)."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _cell(value) -> str:
    """A table cell as written: one line, a literal '|' escaped so that it cannot end the cell."""
    return " ".join(str(value).split("\n")).replace("|", "\\|")


def markdown(frame: pd.DataFrame) -> str:
    """A GitHub Markdown table of ``frame``'s cells exactly as formatted here (numbers already are:
    no re-parsing, no padding), or a note when the run has no variant for it."""
    if frame.empty:
        return EMPTY_TABLE
    cells = frame.apply(lambda column: column.map(_cell)).rename(columns=_cell)
    return cells.to_markdown(index=False, disable_numparse=True, stralign=None, numalign=None)


def wall_time(manifest: dict) -> str:
    """A run's wall time as its manifest recorded it, e.g. ``2370.4 s``. A serial run whose units
    and benchmarks alone took longer (a session that was killed recorded no time of its own) is
    given as at least their sum."""
    recorded = manifest.get("wall_s")
    executors, jobs = manifest.get("executor") or {}, manifest.get("jobs") or {}
    serial = bool(executors or jobs) and all(e == "local" for e in executors.values())
    serial = serial and all(n == 1 for n in jobs.values())  # one unit at a time in every session
    parts = [*manifest.get("units", {}).values(), *manifest.get("bench", {}).values()]
    spent = sum(p.get("seconds") or 0 for p in parts if isinstance(p, dict))
    if recorded is None:
        return "? s"
    if serial and spent > recorded + 1:
        return f"at least {spent:.0f} s (its units' and benchmarks' seconds; a killed session recorded none)"
    return f"{recorded} s"
