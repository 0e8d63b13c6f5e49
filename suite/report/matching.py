"""How much more training an augmented model needs to match an equivariant one, with bounds.

From per-epoch validation curves stored per image (``val_acc`` rows of ``correct.csv``): the
target is the equivariant model's final validation accuracy; at each epoch of the augmented
model the paired difference (augmented − target, same seeds and images) gets a 95% interval.

- *earliest*: the first epoch whose interval reaches 0 (before it, the augmented model is below
  the target at 95%): the number of epochs needed is at least this (one-sided 97.5%).
- *surely*: the first epoch whose interval lies at or above 0: at most this many are needed.

The ratios to the equivariant model's epochs bound the factor; "needs more than F×" *holds* when
the lower bound exceeds F, *fails* when the upper bound is at most F, and is *not decided*
otherwise. A target never plausibly reached within the epochs trained gives "> N×".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from suite.report.evidence import Evidence
from suite.report.stats import MIN_SEEDS, Interval, two_way_interval

HOLDS, FAILS, UNDECIDED = "holds", "fails", "not decided at 95%"
CURVE_METRICS = ("val_acc", "val_acc_o")  # per-epoch validation rows: quarter turns; the cube's rotations
ABOUT = 2.0  # "about F×" means between F / ABOUT and F × ABOUT


@dataclass(frozen=True)
class Match:
    """The augmented model's epochs against one equivariant model's."""

    model: str
    model_epochs: int
    target: Interval  # the model's final validation accuracy (%)
    earliest: int | None  # first epoch not below the target at 95%
    surely: int | None  # first epoch at or above the target at 95%
    trained: int  # the augmented model's epochs
    seeds: int

    @property
    def low(self) -> float:
        """Lower bound on the factor (epochs); trained / model epochs when never reached."""
        return (self.earliest if self.earliest else self.trained) / self.model_epochs

    @property
    def high(self) -> float | None:
        return self.surely / self.model_epochs if self.surely else None

    def verdict(self, factor: float, scale: float = 1.0, about: bool = False) -> str:
        """ "Needs more than ``factor``×" (or, ``about``, "about ``factor``×": between
        ``factor / ABOUT`` and ``factor × ABOUT``), decided from the epoch bounds scaled by
        ``scale`` (1: epochs; a model's seconds or FLOPs per epoch ratio: the same rule in that unit)."""
        if self.seeds < MIN_SEEDS:
            return f"no verdict (fewer than {MIN_SEEDS} seeds)"
        low, high = self.low * scale, self.high * scale if self.high is not None else None
        if about:
            return about_verdict(low, high, self.earliest is None, factor)
        if low > factor or (self.earliest is None and low >= factor):
            return HOLDS
        if high is not None and high <= factor:
            return FAILS
        return UNDECIDED

    def ratio_text(self) -> str:
        if self.earliest is None:
            return f"> {self.low:.1f}× (not reached in {self.trained} epochs)"
        high = f"{self.high:.1f}×" if self.high is not None else f"not surely within {self.trained} epochs"
        return f"[{self.low:.1f}×, {high}]"


def about_verdict(low: float, high: float | None, never_reached: bool, factor: float) -> str:
    """ "About ``factor``×" from bounds on the factor: fails when the need is surely below
    ``factor / ABOUT`` or above ``factor × ABOUT``; holds when both bounds lie between them."""
    if (high is not None and high < factor / ABOUT) or low > factor * ABOUT:
        return FAILS
    if not never_reached and high is not None and low >= factor / ABOUT and high <= factor * ABOUT:
        return HOLDS
    return UNDECIDED


def curve_epochs(evidence: Evidence, variant: str) -> list[int]:
    return sorted({c.epoch for (v, _s, _p, c) in evidence.bits if v == variant and c.metric in CURVE_METRICS})


def match(evidence: Evidence, augmented: str, model: str, measure: str = "c4_mean") -> Match | None:
    """Bounds on the epochs ``augmented`` needs to reach ``model``'s final validation accuracy
    (``measure``: the group mean, C4 on digits, O on volumes); None without per-image curves for both."""
    model_epochs, aug_epochs = curve_epochs(evidence, model), curve_epochs(evidence, augmented)
    if not model_epochs or not aug_epochs:
        return None
    seeds = sorted(set(evidence.seeds(model)) & set(evidence.seeds(augmented)))
    final = model_epochs[-1]
    target = evidence.scores(model, measure, seeds=seeds, curve_epoch=final)
    if target is None:
        return None
    earliest = surely = None
    below = 0  # the last measured epoch surely below the target (a sparse curve: the crossing is after it)
    for epoch in aug_epochs:
        scores = evidence.scores(augmented, measure, seeds=seeds, curve_epoch=epoch)
        if scores is None:
            continue
        diff = two_way_interval(scores - target)
        if earliest is None and diff.high >= 0:
            earliest = below + 1
        elif earliest is None:
            below = epoch
        if diff.low >= 0:
            surely = epoch
            break
    accuracy = two_way_interval(target).scaled(100).clipped(0, 100)  # an accuracy lies in [0, 100]
    return Match(model, final, accuracy, earliest, surely, aug_epochs[-1], len(seeds))


def seconds_at(history: pd.DataFrame, variant: str, epoch: int) -> float:
    """Seed-mean cumulative training seconds of ``variant`` at ``epoch`` (NaN if not recorded)."""
    rows = history[(history.variant == variant) & (history.epoch == epoch)]
    return float(rows.wall_s.mean()) if not rows.empty else math.nan
