"""The claims summary.md checks, declared as data: which variants each compares, what decides it.

A claim is one :class:`Claim` in :data:`CLAIMS`. It names the variants it compares by role
(``compares``), each chosen by a :class:`Select`: explicit names, or every variant of the run whose
manifest entry matches (its claimed symmetry, its augmentation), so that a new variant is covered
without editing any claim. A claim is reported only when every role has a variant in the run, with
the data it ``needs``; its ``decide`` turns those variants into (measured evidence, verdict).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from suite.report.evidence import C4_MEASURE, O_MEASURE, Evidence
from suite.report.matching import FAILS, HOLDS, UNDECIDED, match
from suite.report.results import RunResults
from suite.report.stats import MIN_SEEDS, Interval

NOT_SHOWN = "not shown by this run (train longer to decide)"
TARGET_C4_MEAN = 95.0  # validation accuracy target of the augmentation-vs-equivariance claim (history.csv)
EQUIVALENCE_MARGIN = 0.5  # points: "as accurate at 90° as upright" holds when 90° − 0° lies within ±this
ABOUT_COPIES = 0.125  # "about k×" for a stack of k copies: the FLOPs ratio within k·(1 ± this): 3.5–4.5 for 4


@dataclass(frozen=True)
class Select:
    """Variants of a run: those named (in that order), or those whose manifest ``claims`` is one of
    ``symmetry`` and whose ``augment`` is one of ``augment`` (in the run's order; empty: any)."""

    names: tuple[str, ...] = ()
    symmetry: tuple[str, ...] = ()
    augment: tuple[str, ...] = ()

    def pick(self, r: RunResults, among: Sequence[str] | None = None) -> list[str]:
        among = r.variants if among is None else among
        if self.names:
            return [v for v in self.names if v in among]
        return [
            v
            for v in among
            if (not self.symmetry or r.info(v, "claims") in self.symmetry)
            and (not self.augment or r.info(v, "augment") in self.augment)
        ]


def named(*names: str) -> Select:
    return Select(names=names)


# Every variant that claims quarter-turn invariance by construction (C4, or D4 which contains it).
C4_WITHOUT_AUGMENTATION = Select(symmetry=C4_MEASURE.exact_claims, augment=("none",))
# ... and, on volumes, every variant invariant to the cube's rotations by construction (O, or Oh).
O_WITHOUT_AUGMENTATION = Select(symmetry=O_MEASURE.exact_claims, augment=("none",))

# decide(run, {role: [variants]}, evidence) -> (measured evidence, verdict)
Decide = Callable[[RunResults, Mapping[str, list[str]], Evidence], tuple[str, str]]


@dataclass(frozen=True)
class Claim:
    statement: str
    compares: Mapping[str, Select]
    decide: Decide
    # RunResults tables the claim reads; a role's variants must have rows in each of them
    needs: tuple[str, ...] = ()

    def variants(self, r: RunResults) -> dict[str, list[str]] | None:
        """The variants of each role in this run, or None when a role has none (claim not shown)."""
        among = list(r.variants)
        for table in self.needs:
            frame = getattr(r, table)
            present = set() if frame.empty else set(frame.variant)
            among = [v for v in among if v in present]
        picked = {role: select.pick(r, among) for role, select in self.compares.items()}
        return picked if all(picked.values()) else None


def upright_equals_rotated(r: RunResults, picked: Mapping[str, list[str]], ev: Evidence) -> tuple[str, str]:
    """An equivalence test: the paired 90° − 0° difference within ±EQUIVALENCE_MARGIN points."""
    return _equivalent(picked["equivariant"], ev, ("90", "0"), "90° minus upright accuracy")


def turned_equals_upright(r: RunResults, picked: Mapping[str, list[str]], ev: Evidence) -> tuple[str, str]:
    """On volumes: the mean over the cube's 24 rotations minus upright, within the same margin."""
    return _equivalent(picked["equivariant"], ev, ("o_mean", "o:0"), "O-mean minus upright accuracy")


def _equivalent(variants: list[str], ev: Evidence, measures: tuple[str, str], what: str) -> tuple[str, str]:
    parts, verdicts = [], []
    for v in variants:
        diff = ev.contrast(v, *measures)
        parts.append(f"`{v}` {diff.text()} ({diff.seeds} seeds)")
        verdicts.append(equivalence(diff, EQUIVALENCE_MARGIN))
    return (
        f"{what}, points [95% CI], paired over seeds and images; equivalent when the interval lies "
        f"within ±{EQUIVALENCE_MARGIN}: " + "; ".join(parts),
        combine_verdicts(verdicts),
    )


def equivalence(diff: Interval, margin: float) -> str:
    if diff.seeds < MIN_SEEDS or math.isnan(diff.low):
        return f"no verdict (fewer than {MIN_SEEDS} seeds)"
    if -margin <= diff.low and diff.high <= margin:
        return HOLDS
    if diff.low > margin or diff.high < -margin:
        return FAILS
    return UNDECIDED


def non_inferiority(diff: Interval, margin: float) -> str:
    """ "At least as accurate": holds when the paired difference's lower bound is above −margin
    (worse by less than the margin, at 95%), fails when its upper bound is below −margin."""
    if diff.seeds < MIN_SEEDS or math.isnan(diff.low):
        return f"no verdict (fewer than {MIN_SEEDS} seeds)"
    if diff.low > -margin:
        return HOLDS
    if diff.high < -margin:
        return FAILS
    return UNDECIDED


def at_least_as_accurate(r: RunResults, picked: Mapping[str, list[str]], ev: Evidence) -> tuple[str, str]:
    """The ``model`` role's C4-mean accuracy against the ``reference`` role's, paired per image."""
    model, reference = picked["model"][0], picked["reference"][0]
    diff = ev.difference(model, reference, C4_MEASURE.measure)
    if diff is None:
        return "no per-image results for both in this run", "not shown by this run (no per-image results)"
    return (
        f"C4-mean accuracy `{model}` − `{reference}`, points [95% CI], paired over {diff.seeds} seeds "
        f"and {diff.images:,} images: {diff.mean:.2f} [{diff.low:.2f}, {diff.high:.2f}]; at least as "
        f"accurate when the lower bound is above −{EQUIVALENCE_MARGIN}",
        non_inferiority(diff, EQUIVALENCE_MARGIN),
    )


def stack_ratio(copies: int) -> Decide:
    """ "The stack costs about ``copies``× the plain model", decided by FLOPs (exact counts, no
    seeds involved); measured time is reported beside. ``copies``: the rotations the stack
    turns its input by, as the claim states it (4 in the plane, 24 for the cube)."""
    low, high = copies * (1 - ABOUT_COPIES), copies * (1 + ABOUT_COPIES)

    def decide(r: RunResults, picked: Mapping[str, list[str]], ev: Evidence) -> tuple[str, str]:
        plain, stack = picked["plain"][0], picked["stack"][0]
        flops = r.throughput.groupby("variant")["flops"].first()
        ratio = flops[stack] / flops[plain]
        speed = (r.infer_throughput(plain) or float("nan")) / (r.infer_throughput(stack) or float("nan"))
        return (
            f"FLOPs ratio {stack} / {plain} = {ratio:.2f} (exact counts; about {copies}× means "
            f"{low:g}–{high:g}); "
            f"measured inference time per image {stack} / {plain} = {speed:.2f} at the largest batch",
            HOLDS if low <= ratio <= high else FAILS,
        )

    return decide


def training_to_match(r: RunResults, picked: Mapping[str, list[str]], ev: Evidence) -> tuple[str, str]:
    augmented = picked["augmented"][0]
    found = [m for v in picked["equivariant"] if (m := match(ev, augmented, v)) is not None]
    if not found:
        return (
            "no per-image validation curves in this run (a final run trains on every training "
            "image); the compute study measures it, or a run on the validation split",
            NOT_SHOWN,
        )
    parts = [f"`{m.model}` ({m.model_epochs} epochs): {m.ratio_text()}" for m in found]
    return (
        f"epochs `{augmented}` needs to reach each model's final C4-mean validation accuracy, as "
        f"a multiple of that model's, 95% bounds over {found[0].seeds} seeds: " + "; ".join(parts),
        combine_verdicts([m.verdict(10) for m in found]),
    )


def combine_verdicts(verdicts: list[str]) -> str:
    """One verdict from several: holds if all hold, fails if any fails, else not decided (or no
    verdict, when too few seeds left every part undecided)."""
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    if FAILS in verdicts:
        return FAILS
    if verdicts and all(v.startswith("no verdict") for v in verdicts):
        return verdicts[0]
    return UNDECIDED


CLAIMS: list[Claim] = [
    Claim(
        statement="A C4 model is as accurate at 90° as upright without augmentation",
        compares={"equivariant": C4_WITHOUT_AUGMENTATION},
        decide=upright_equals_rotated,
    ),
    Claim(
        statement="The rotated stack costs about 4× the compute of the plain CNN",
        compares={"plain": named("cnn"), "stack": named("stack-c4")},
        decide=stack_ratio(4),
        needs=("throughput",),
    ),
    Claim(
        statement="An O model is as accurate under every rotation of the cube as upright (no augmentation)",
        compares={"equivariant": O_WITHOUT_AUGMENTATION},
        decide=turned_equals_upright,
    ),
    Claim(
        statement="The rotated stack over the cube costs about 24× the compute of the plain 3-D CNN",
        compares={"plain": named("cnn3d"), "stack": named("stack-o")},
        decide=stack_ratio(24),
        needs=("throughput",),
    ),
    Claim(
        statement="e3nn's C4 model is at least as accurate as escnn-c4 at the same budget and recipe",
        compares={"model": named("e3nn-so2"), "reference": named("escnn-c4")},
        decide=at_least_as_accurate,
    ),
    Claim(
        statement="Training with augmentation needs more than 10× the training to match an equivariant model",
        compares={"augmented": named("cnn-aug"), "equivariant": C4_WITHOUT_AUGMENTATION},
        decide=training_to_match,
        needs=("history",),
    ),
]


def claims_table(
    r: RunResults, claims: Sequence[Claim] | None = None, evidence: Evidence | None = None
) -> pd.DataFrame:
    """One row per claim whose variants are in the run: the claim, the evidence, the verdict."""
    evidence = evidence or Evidence.of(r)
    rows = []
    for claim in CLAIMS if claims is None else claims:
        picked = claim.variants(r)
        if picked is not None:
            rows.append((claim.statement, *claim.decide(r, picked, evidence)))
    return pd.DataFrame(rows, columns=["claim", "measured evidence", "verdict"])
