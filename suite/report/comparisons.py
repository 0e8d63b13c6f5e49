"""summary.md's evidence: interval cells, rank letters, the paired table and the note that says
how every interval was made (run reports and study reports share these)."""

from __future__ import annotations

import pandas as pd

from suite.report.evidence import MEASURES, Evidence, run_measures
from suite.report.formatting import markdown
from suite.report.stats import MIN_SEEDS, SEEDS_ONLY


def cell(evidence: Evidence, variant: str, measure: str, point: float | None = None) -> str:
    """``98.68 [98.52, 98.81]`` (or ``–`` where the variant has no result)."""
    interval = evidence.interval(variant, measure, point)
    return "–" if interval.seeds == 0 else interval.text()


def method_note(evidence: Evidence, variants: list[str], point: float | None = None) -> str:
    """How the intervals were made and what they allow: one paragraph."""
    if not variants:
        return ""
    group_mean = run_measures(evidence.r)[0]
    interval = evidence.interval(variants[0], group_mean, point)
    seeds = sorted({len(evidence.seeds(v, point)) or len(evidence.seed_values(v, group_mean, point))
                    for v in variants})  # fmt: skip
    seed_text = "seeds per variant: " + "/".join(str(s) for s in seeds)
    if interval.method == SEEDS_ONLY:
        return (f"Intervals: 95%, {SEEDS_ONLY}; {seed_text}. Without per-image "
                "results no paired comparison is made and no rank is drawn.")  # fmt: skip
    images = f"{interval.images:,}"
    text = (f"Intervals: 95%, {interval.method}, over the seeds and the same {images} evaluation "
            f"images for every variant ({seed_text}). ")  # fmt: skip
    if min(seeds) < MIN_SEEDS:
        return text + f"With fewer than {MIN_SEEDS} seeds no rank and no verdict is drawn."
    return text + (
        "*rank*: variants that share a letter are not distinguishable (paired differences over the "
        "same seeds and images, Holm-corrected for the number of pairs, 95%); `a` holds the best."
    )


def rank_column(evidence: Evidence, variants: list[str], measure: str, point: float | None = None) -> dict:
    ranks = evidence.ranks(variants, measure, point) or {}
    return {v: ranks.get(v, "–") for v in variants}


def pairwise_table(
    evidence: Evidence, variants: list[str], measure: str, point: float | None = None
) -> pd.DataFrame:
    """Every pair, best first: paired difference [95% CI], p, Holm p and what it decides."""
    table = evidence.pairwise(variants, measure, point)
    rows = []
    for row in table.itertuples(index=False):
        if not row.enough_seeds:
            decision = f"no test (fewer than {MIN_SEEDS} seeds)"
        elif row.differs:
            better = row.first if row.difference.mean > 0 else row.second
            decision = f"`{better}` better"
        else:
            decision = "not distinguishable"
        p, p_holm = (f"{row.p:.2g}", f"{row.p_holm:.2g}") if row.enough_seeds else ("–", "–")
        rows.append({"first": f"`{row.first}`", "second": f"`{row.second}`",
                     "difference (points)": row.difference.text(), "p": p, "p (Holm)": p_holm,
                     "at 95%": decision})  # fmt: skip
    return pd.DataFrame(rows)


def pairwise_section(
    evidence: Evidence, variants: list[str], heading: str = "##", point: float | None = None
) -> list[str]:
    """The paired tables of one run (or one study point), for C4-mean and random-angle accuracy."""
    if not evidence.per_image or len(variants) < 2:
        return []
    lines = [
        f"{heading} Paired comparisons",
        "",
        "First minus second, in accuracy points, over the seeds both have and the same images; "
        "*p*: two-sided t-test of no difference; *p (Holm)*: corrected for the number of pairs.",
        "",
    ]
    for measure in run_measures(evidence.r):
        label = MEASURES[measure][0]
        lines += [
            f"**{label} accuracy**",
            "",
            markdown(pairwise_table(evidence, variants, measure, point)),
            "",
        ]
    return lines


def leader_sentence(evidence: Evidence, variants: list[str], measure: str, point: float | None = None) -> str:
    """Who leads at 95%, or that the lead is not decided, with the top group named."""
    label = MEASURES[measure][0]
    ranks = evidence.ranks(variants, measure, point)
    if ranks is None:
        return f"{label}: no ranking (fewer than {MIN_SEEDS} seeds, or no per-image results)"
    leader = evidence.leader(variants, measure, point)
    if leader:
        return f"{label}: `{leader}` leads (better than every other variant at 95%)"
    top = [v for v, letters in ranks.items() if "a" in letters]
    return f"{label}: not decided at 95% among " + ", ".join(f"`{v}`" for v in top)
