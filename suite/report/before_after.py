"""One recorded setting changed between two runs of the same units (variants, seeds, data,
recipe otherwise): the change's effect, paired per seed and evaluation image, and whether
training itself was the same (its per-epoch losses), so the effect is the setting's alone."""

from __future__ import annotations

import pandas as pd

from suite.report.comparisons import cell
from suite.report.evidence import Evidence, ImageScores
from suite.report.results import RunResults
from suite.report.stats import Interval, two_way_interval


def changed_settings(before: RunResults, after: RunResults) -> dict[str, tuple]:
    """The recipe settings whose recorded values differ (a missing one as None); ``recipe`` is
    the recipe's name (``tuned``: each variant's own lr, weight decay and schedule)."""

    def settings(r: RunResults) -> dict:
        config = r.manifest.get("config", {})
        return {**config.get("recipe", {}), "recipe": config.get("recipe_name")}

    old, new = settings(before), settings(after)
    return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def paired_change(before: ImageScores, after: ImageScores, variant: str, measure: str) -> Interval | None:
    """``after`` minus ``before`` in points, over the seeds both ran, per evaluation image; None
    where either lacks per-image results or the two evaluated different images."""
    seeds = sorted(set(before.seeds(variant)) & set(after.seeds(variant)))
    old = before.scores(variant, measure, seeds=seeds) if seeds else None
    new = after.scores(variant, measure, seeds=seeds) if seeds else None
    if old is None or new is None or old.shape != new.shape:
        return None
    return two_way_interval(100 * (new - old))


def same_training(before: RunResults, after: RunResults, variant: str) -> bool:
    """Whether every epoch's training loss, at every seed both ran, is the same in both runs."""
    columns = ["seed", "epoch", "loss"]
    old, new = (r.history[r.history.variant == variant][columns] for r in (before, after))
    joined = old.merge(new, on=["seed", "epoch"], suffixes=("_before", "_after"))
    return not joined.empty and bool((joined.loss_before == joined.loss_after).all())


def before_after_table(
    before: RunResults, after: RunResults, variants: list[str], measure: str
) -> pd.DataFrame:
    """Each variant's ``measure`` in both runs with intervals, the paired change, and whether its
    training was the same."""
    old, new = Evidence.of(before), Evidence.of(after)  # decoded once per run
    rows = []
    for v in variants:
        change = paired_change(old, new, v, measure)
        rows.append({
            "variant": f"`{v}`", "before": cell(old, v, measure), "after": cell(new, v, measure),
            "after minus before, paired": "–" if change is None else change.text(),
            "decided at 95%": "–" if change is None else decided(change),
            "same training losses": "yes" if same_training(before, after, v) else "no",
        })  # fmt: skip
    return pd.DataFrame(rows)


def decided(change: Interval) -> str:
    """higher / lower where the interval excludes zero, else not decided; a change of exactly
    zero everywhere (the setting did not act) reads "no change"."""
    if change.low == change.high == change.mean == 0:
        return "no change"
    if not change.decided:
        return f"no verdict ({change.seeds} seed(s))"
    if change.low > 0:
        return "higher"
    if change.high < 0:
        return "lower"
    return "not decided"
