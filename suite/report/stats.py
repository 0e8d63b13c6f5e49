"""The estimators behind every interval, test and rank group of a report (NumPy and SciPy only).

An accuracy is a mean over seeds and evaluation images, and both are samples: another seed gives
another model, other images another score. :func:`two_way_interval` treats a ``(seeds, images)``
matrix of per-image scores as a two-way layout and estimates the variance of its grand mean as

    Var ≈ s²(seed means) / S + s²(image means) / N

(the seed term carries the between-seed spread, the image term the spread of difficulty across
images; the interaction is counted in both, so the estimate errs on the wide side), with a
Student-t quantile at S − 1 degrees of freedom (the seed term's: with 3 seeds the
Welch–Satterthwaite df covered only 91% of simulated runs, S − 1 covers 97%; 5 seeds: 95 / 97%). A paired
difference (same seeds, same images) is the same estimator applied to the difference matrix.
Without per-image data the seed term alone is used (a t-interval over seed means).
Its coverage is checked on simulated runs in ``tests/test_evidence.py``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

LEVEL = 0.95
MIN_SEEDS = 3  # fewer seeds: intervals are shown, but no rank and no verdict is drawn
TWO_WAY = "two-way t-interval (variance over seeds and images, seeds − 1 df)"
IMAGES_ONLY = "images only (one seed: the seed-to-seed spread is not measured)"
SEEDS_ONLY = "seeds only (t-interval over seed means; this run stored no per-image data)"


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% interval; ``df`` inf for a variance of zero; ``method`` names it."""

    mean: float
    low: float
    high: float
    seeds: int
    images: int
    method: str
    se: float = 0.0
    df: float = math.inf

    @property
    def decided(self) -> bool:
        """Enough seeds to rank or decide on (intervals are shown either way)."""
        return self.seeds >= MIN_SEEDS

    def scaled(self, factor: float) -> Interval:
        return Interval(self.mean * factor, self.low * factor, self.high * factor, self.seeds,
                        self.images, self.method, self.se * factor, self.df)  # fmt: skip

    def clipped(self, low: float, high: float) -> Interval:
        """The interval within what the quantity can be (an accuracy lies in [0, 100])."""
        if math.isnan(self.low):
            return self
        return replace(self, low=max(self.low, low), high=min(self.high, high))

    def p_value(self) -> float:
        """Two-sided p-value of "the mean is 0" (for a difference)."""
        if self.se == 0:
            return 1.0 if self.mean == 0 else 0.0
        return float(2 * stats.t.sf(abs(self.mean) / self.se, self.df))

    def text(self, digits: int = 2) -> str:
        """``98.68 [98.52, 98.81]``; a missing bound is shown as –."""
        if math.isnan(self.low):
            return f"{self.mean:.{digits}f} [–]"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def _interval(mean: float, variance: float, df: float, seeds: int, images: int, method: str) -> Interval:
    """A t-interval around ``mean`` from the variance of the mean and its degrees of freedom."""
    if variance <= 0:
        return Interval(mean, mean, mean, seeds, images, method)
    se = math.sqrt(variance)
    half = float(stats.t.ppf(0.5 + LEVEL / 2, df)) * se
    return Interval(mean, mean - half, mean + half, seeds, images, method, se, df)


def two_way_interval(scores: np.ndarray) -> Interval:
    """The mean of a ``(seeds, images)`` matrix of per-image scores and its 95% interval."""
    scores = np.asarray(scores, dtype=float)
    seeds, images = scores.shape
    mean = float(scores.mean())
    variance = float(scores.mean(axis=0).var(ddof=1)) / images if images > 1 else 0.0
    if seeds > 1:
        variance += float(scores.mean(axis=1).var(ddof=1)) / seeds
        return _interval(mean, variance, seeds - 1, seeds, images, TWO_WAY)
    return _interval(mean, variance, images - 1, seeds, images, IMAGES_ONLY)


def seed_interval(values: np.ndarray) -> Interval:
    """A t-interval over per-seed values (no per-image data); no interval from one seed."""
    values = np.asarray(values, dtype=float)
    seeds = len(values)
    mean = float(values.mean()) if seeds else math.nan
    if seeds < 2:
        return Interval(mean, math.nan, math.nan, seeds, 0, SEEDS_ONLY, math.nan, math.nan)
    return _interval(mean, float(values.var(ddof=1)) / seeds, seeds - 1, seeds, 0, SEEDS_ONLY)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: each p-value corrected for the number of comparisons."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def rank_groups(names: list[str], differs: dict[frozenset, bool]) -> dict[str, str]:
    """Letters for ``names`` (sorted best first): two variants share a letter exactly when
    ``differs`` does not separate them, so a letter apart always means a difference at 95%.
    A compact letter display by insert-and-absorb (Piepho 2004): start from one group of all;
    each separated pair splits every group holding both (one copy without each), and a group
    inside another is dropped. Letters go in the order of each group's best member. (Groups of
    consecutive variants alone would show two variants apart whose pair the test did not
    separate, when a variant between them, with a tighter interval, is separated from one.)"""
    groups: list[set[int]] = [set(range(len(names)))]
    for i, j in itertools.combinations(range(len(names)), 2):
        if not differs.get(frozenset((names[i], names[j])), False):
            continue
        split = [g for g in groups if i in g and j in g]
        groups = [g for g in groups if not (i in g and j in g)]
        for group in split:
            groups.extend([group - {i}, group - {j}])
        groups = [g for g in groups if not any(g < other for other in groups)]
        groups = [g for n, g in enumerate(groups) if g not in groups[:n]]
    groups.sort(key=lambda g: sorted(g))
    letters = {name: "" for name in names}
    for index, group in enumerate(groups):
        for member in sorted(group):
            letters[names[member]] += chr(ord("a") + index) if index < 26 else f"({index})"
    return letters
