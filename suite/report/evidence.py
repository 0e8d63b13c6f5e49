"""Intervals, paired comparisons and rank groups of a run's variants, from its files alone.

Per-image results (``correct.csv``: which evaluation images each unit got right) make every
comparison paired: the same seeds and the same images. A run without them (written before they
were stored) falls back to seed-only intervals from ``metrics.csv``, labelled so, with no paired
table and no ranks. The estimators are in :mod:`suite.report.stats`.
"""

from __future__ import annotations

import itertools
import math
import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd

from suite.correctness import decode
from suite.errors import BadRunFile
from suite.report.results import RunResults, table_path
from suite.report.stats import MIN_SEEDS, Interval, holm, rank_groups, seed_interval, two_way_interval

C4 = (0, 90, 180, 270)
CUBE_ROTATIONS = range(24)  # acc_o's angle column: the index of each of the cube's rotations
# a measure: what a score per image is. "c4_mean": the share of the four quarter turns it got right;
# "o_mean": of the cube's 24 rotations (runs on volumes)
MEASURES = {
    "c4_mean": ("C4-mean", "acc_c4_mean"),
    "o_mean": ("O-mean", "acc_o_mean"),
    "random": ("random-angle", "acc_random"),
}


@dataclass(frozen=True)
class GroupMeasure:
    """A run's group-mean measure and its names: the four quarter turns of a digit (C4), or the
    cube's 24 rotations of a volume (O)."""

    measure: str  # c4_mean | o_mean (a key of MEASURES; study.csv's column)
    group: str  # C4 | O
    elements: int  # its rotations: 4 | 24
    label: str  # how tables head it
    curve: str  # its per-epoch validation column in history.csv
    exact_claims: tuple[str, ...]  # the claims that make a model invariant to it by construction
    augmented: str  # the augmented baseline the exact models are compared with


C4_MEASURE = GroupMeasure("c4_mean", "C4", 4, "C4 mean", "val_acc_c4_mean", ("C4", "D4"), "cnn-aug")
O_MEASURE = GroupMeasure("o_mean", "O", 24, "O mean", "val_acc_o_mean", ("O", "Oh"), "cnn3d-aug")


def group_measure(r: RunResults) -> GroupMeasure:
    """The group mean a run is measured by: O where it measured volumes, C4 otherwise."""
    return O_MEASURE if (r.metrics.metric == "acc_o_mean").any() else C4_MEASURE


def run_measures(r: RunResults) -> tuple[str, str]:
    """The two measures a run is ranked by: the group mean of its data (C4 for images, O for
    volumes) and the random-angle accuracy."""
    return (group_measure(r).measure, "random")


@dataclass(frozen=True)
class Condition:
    """One measured condition of per-image results: a metric, an angle, an epoch (curves)."""

    metric: str  # acc | acc_random | val_acc
    angle: float | None = None
    epoch: int | None = None


def measure_conditions(measure: str, curve_epoch: int | None = None) -> list[Condition]:
    """The conditions whose mean is one per-image score of ``measure`` (c4_mean, random, or an
    angle such as ``"90"``); a validation curve's epoch reads the curve's conditions."""
    if curve_epoch is not None and measure == "o_mean":
        return [Condition("val_acc_o", i, curve_epoch) for i in CUBE_ROTATIONS]
    if curve_epoch is not None:
        return [
            Condition("val_acc", a, curve_epoch) for a in (C4 if measure == "c4_mean" else (float(measure),))
        ]
    if measure == "c4_mean":
        return [Condition("acc", a) for a in C4]
    if measure == "o_mean":
        return [Condition("acc_o", i) for i in CUBE_ROTATIONS]
    if measure == "random":
        return [Condition("acc_random")]
    if measure.startswith("o:"):  # one of the cube's rotations, by index ("o:0": upright)
        return [Condition("acc_o", float(measure[2:]))]
    return [Condition("acc", float(measure))]


class ImageScores:
    """Per-image scores of a run's units (which evaluation images each got right), keyed by
    variant, seed, grid point and condition; empty for a run written before they were stored."""

    def __init__(self, r: RunResults, axis: str | None = None):
        self.r = r
        self.axis = axis
        self.bits: dict[tuple, np.ndarray] = {}
        frame = r.correct
        if frame.empty:
            return
        for row in frame.itertuples(index=False):
            key = (
                row.variant,
                int(row.seed),
                self._point(getattr(row, axis)) if axis else None,
                Condition(
                    row.metric,
                    None if pd.isna(row.angle) or row.angle == "" else float(row.angle),
                    None if pd.isna(row.epoch) or row.epoch == "" else int(row.epoch),
                ),
            )
            try:
                self.bits[key] = decode(row.bits, int(row.images))
            except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
                path = table_path(r.dir, "correct.csv")
                raise BadRunFile(path, f"holds an unreadable row of {row.variant} ({exc})",
                                 "resume the run to rebuild it from units/") from None  # fmt: skip

    @staticmethod
    def _point(value: object) -> float | None:
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)

    @property
    def per_image(self) -> bool:
        return bool(self.bits)

    def seeds(self, variant: str, point: float | None = None) -> list[int]:
        return sorted({s for (v, s, p, _c) in self.bits if v == variant and p == self._point(point)})

    def scores(
        self,
        variant: str,
        measure: str,
        point: float | None = None,
        seeds: list[int] | None = None,
        curve_epoch: int | None = None,
    ) -> np.ndarray | None:
        """``(seeds, images)`` per-image scores in [0, 1]; None where a seed lacks a condition."""
        seeds = self.seeds(variant, point) if seeds is None else seeds
        rows = []
        for seed in seeds:
            parts = [self.bits.get((variant, seed, self._point(point), c))
                     for c in measure_conditions(measure, curve_epoch)]  # fmt: skip
            if not parts or any(p is None for p in parts):
                return None
            rows.append(np.mean(parts, axis=0))
        return np.array(rows) if rows else None


class Evidence(ImageScores):
    """Intervals, paired comparisons and rank groups of a run's variants: from their per-image
    scores where the run stored them, else from per-seed accuracies (``metrics.csv``)."""

    @classmethod
    def of(cls, r: RunResults, axis: str | None = None) -> Evidence:
        """The evidence of ``r``, decoded once per results object (a report's figures, tables and
        claims all read it)."""
        cached = _DECODED.get(r)
        if cached is None or cached.axis != axis:
            cached = _DECODED[r] = cls(r, axis)
        return cached

    # --- intervals ----------------------------------------------------------------------------

    def interval(self, variant: str, measure: str, point: float | None = None) -> Interval:
        """Accuracy (%) of ``variant`` under ``measure`` with its 95% interval."""
        scores = self.scores(variant, measure, point) if self.per_image else None
        if scores is not None:
            return two_way_interval(scores).scaled(100).clipped(0, 100)
        return seed_interval(self.seed_values(variant, measure, point)).clipped(0, 100)

    def seed_values(self, variant: str, measure: str, point: float | None = None) -> np.ndarray:
        """Per-seed accuracies from metrics.csv (runs without per-image data)."""
        m = self.r.metrics
        rows = m[m.variant == variant]
        if self.axis:
            rows = rows[pd.to_numeric(rows[self.axis], errors="coerce") == point]
        if measure in MEASURES:
            rows = rows[rows.metric == MEASURES[measure][1]]
        else:
            metric, angle = ("acc_o", measure[2:]) if measure.startswith("o:") else ("acc", measure)
            rows = rows[
                (rows.metric == metric) & (pd.to_numeric(rows.angle, errors="coerce") == float(angle))
            ]
        return rows.value.to_numpy(dtype=float)

    def difference(
        self, first: str, second: str, measure: str, point: float | None = None
    ) -> Interval | None:
        """``first`` minus ``second`` (points), paired over shared seeds and images; None without
        per-image data for both."""
        seeds = sorted(set(self.seeds(first, point)) & set(self.seeds(second, point)))
        a = self.scores(first, measure, point, seeds)
        b = self.scores(second, measure, point, seeds)
        if a is None or b is None or a.shape != b.shape:
            return None
        return two_way_interval(a - b).scaled(100)

    def contrast(self, variant: str, first: str, second: str, point: float | None = None) -> Interval:
        """``first`` minus ``second`` measure of one variant (e.g. 90° − 0°), paired over its seeds
        and images; from per-seed accuracies where the run has no per-image data."""
        a, b = self.scores(variant, first, point), self.scores(variant, second, point)
        if a is not None and b is not None:
            return two_way_interval(a - b).scaled(100)
        return seed_interval(
            self.seed_values(variant, first, point) - self.seed_values(variant, second, point)
        )

    # --- comparisons --------------------------------------------------------------------------

    def pairwise(self, variants: list[str], measure: str, point: float | None = None) -> pd.DataFrame:
        """Every pair (best first): paired difference, p-value, Holm-corrected p and the decision."""
        ordered = self.ordered(variants, measure, point)
        pairs = []
        for a, b in itertools.combinations(ordered, 2):
            diff = self.difference(a, b, measure, point)
            if diff is not None:
                pairs.append((a, b, diff))
        adjusted = holm([d.p_value() for _a, _b, d in pairs])
        rows = []
        for (a, b, diff), p_holm in zip(pairs, adjusted, strict=True):
            enough = diff.seeds >= MIN_SEEDS
            rows.append({"first": a, "second": b, "difference": diff, "p": diff.p_value(), "p_holm": p_holm,
                         "differs": enough and p_holm < 0.05, "enough_seeds": enough})  # fmt: skip
        return pd.DataFrame(rows, columns=["first", "second", "difference", "p", "p_holm", "differs",
                                           "enough_seeds"])  # fmt: skip

    def ordered(self, variants: list[str], measure: str, point: float | None = None) -> list[str]:
        means = {v: self.interval(v, measure, point).mean for v in variants}
        return sorted((v for v in variants if not math.isnan(means[v])), key=lambda v: -means[v])

    def ranks(self, variants: list[str], measure: str, point: float | None = None) -> dict[str, str] | None:
        """Rank letters (``a`` holds the best); None when any variant has fewer than 3 seeds or
        the run has no per-image data: then no rank is drawn."""
        ordered = self.ordered(variants, measure, point)
        if len(ordered) < 2 or not self.per_image:
            return None
        if any(len(self.seeds(v, point)) < MIN_SEEDS for v in ordered):
            return None
        table = self.pairwise(ordered, measure, point)
        differs = {frozenset((row.first, row.second)): bool(row.differs) for row in table.itertuples()}
        return rank_groups(ordered, differs)

    def leader(self, variants: list[str], measure: str, point: float | None = None) -> str | None:
        """The variant that beats every other at 95% (Holm), or None when none does (or when
        fewer than 3 seeds or no per-image data allow no ranking)."""
        ordered = self.ordered(variants, measure, point)
        if self.ranks(ordered, measure, point) is None:
            return None
        table = self.pairwise(ordered, measure, point)
        best = ordered[0]
        beaten = table[(table["first"] == best)]
        return best if len(beaten) == len(ordered) - 1 and beaten.differs.all() else None


_DECODED: weakref.WeakKeyDictionary[RunResults, Evidence] = weakref.WeakKeyDictionary()
