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
