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

from suite.report.results import RunResults

HOLDS, FAILS = "holds", "fails"
NOT_SHOWN = "not shown by this run (train longer to decide)"
TARGET_C4_MEAN = 95.0  # validation accuracy target of the augmentation-vs-equivariance claim (history.csv)
CURVE = "val_acc_c4_mean"  # per-epoch accuracy on validation images: runs on the validation split only


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
C4_WITHOUT_AUGMENTATION = Select(symmetry=("C4", "D4"), augment=("none",))

# decide(run, {role: [variants]}) -> (measured evidence, verdict)
Decide = Callable[[RunResults, Mapping[str, list[str]]], tuple[str, str]]


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


def accuracy_at(r: RunResults, variant: str, angle: float) -> float:
    """Seed-mean test accuracy (%) of ``variant`` at ``angle`` degrees; NaN if not measured."""
    try:
        return float(r.by_angle().loc[(variant, float(angle)), "mean"])
    except KeyError:
        return float("nan")


def epochs_to_target(history: pd.DataFrame, variant: str, target: float) -> tuple[float, float, int]:
    """(first epoch, training seconds) at which the seed-mean C4 validation accuracy reaches
    ``target``; NaN if never, and the number of epochs trained."""
    if CURVE not in history.columns:
        return float("nan"), float("nan"), 0
    h = history[history.variant == variant].dropna(subset=[CURVE])
    if h.empty:
        return float("nan"), float("nan"), 0
    curve = h.groupby("epoch")[[CURVE, "wall_s"]].mean().sort_index()
    reached = curve[curve[CURVE] >= target]
    if reached.empty:
        return float("nan"), float("nan"), int(curve.index.max())
    return float(reached.index[0]), float(reached.wall_s.iloc[0]), int(curve.index.max())


# --- the claims ---------------------------------------------------------------------------------


def upright_equals_rotated(r: RunResults, picked: Mapping[str, list[str]]) -> tuple[str, str]:
    models = picked["equivariant"]
    gaps = {v: abs(accuracy_at(r, v, 90) - accuracy_at(r, v, 0)) for v in models}
    worst = max(gaps.values())
    evidence = "; ".join(f"`{v}` {accuracy_at(r, v, 0):.2f} vs {accuracy_at(r, v, 90):.2f}" for v in models)
    return (
        f"upright vs 90° accuracy: {evidence}; largest gap {worst:.2f} points",
        HOLDS if worst <= 0.1 else FAILS,
    )


def compute_ratio(r: RunResults, picked: Mapping[str, list[str]]) -> tuple[str, str]:
    plain, stack = picked["plain"][0], picked["stack"][0]
    flops = r.throughput.groupby("variant")["flops"].first()
    ratio = flops[stack] / flops[plain]
    speed = (r.infer_throughput(plain) or float("nan")) / (r.infer_throughput(stack) or float("nan"))
    return (
        f"FLOPs ratio {stack} / {plain} = {ratio:.2f}; inference throughput ratio "
        f"{plain} / {stack} = {speed:.2f} at the largest batch",
        HOLDS if 3.5 <= ratio <= 4.5 else FAILS,
    )


def training_to_match(r: RunResults, picked: Mapping[str, list[str]]) -> tuple[str, str]:
    augmented = picked["augmented"][0]
    if CURVE not in r.history.columns or r.history[CURVE].isna().all():
        return (
            "no validation curves in this run (a final run trains on every training image); "
            "the compute study measures it, or a run on the validation split",
            NOT_SHOWN,
        )
    aug_epoch, aug_s, aug_trained = epochs_to_target(r.history, augmented, TARGET_C4_MEAN)
    parts, verdicts = [], []
    for v in picked["equivariant"]:
        eq_epoch, eq_s, _ = epochs_to_target(r.history, v, TARGET_C4_MEAN)
        if math.isnan(eq_epoch):
            parts.append(f"`{v}` never reached it")
            continue
        if math.isnan(aug_epoch):
            bound = aug_trained / eq_epoch
            parts.append(
                f"`{v}` at epoch {eq_epoch:.0f} ({eq_s:.0f} s); `{augmented}` not within "
                f"{aug_trained} epochs, so ≥ {bound:.0f}× the epochs"
            )
            verdicts.append(HOLDS if bound > 10 else "not shown")
        else:
            ratio = aug_epoch / eq_epoch
            parts.append(
                f"`{v}` at epoch {eq_epoch:.0f} ({eq_s:.0f} s) vs `{augmented}` at "
                f"{aug_epoch:.0f} ({aug_s:.0f} s): {ratio:.1f}× the epochs"
            )
            verdicts.append(HOLDS if ratio > 10 else FAILS)
    return (
        f"epochs until the C4-mean accuracy first reaches {TARGET_C4_MEAN:.0f}% "
        f"(seed mean, first 2,000 validation images): " + "; ".join(parts),
        combine_verdicts(verdicts),
    )


def combine_verdicts(verdicts: list[str]) -> str:
    """One verdict from several comparisons: holds if all hold, fails if any fails, else not shown."""
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    return FAILS if FAILS in verdicts else NOT_SHOWN


CLAIMS: list[Claim] = [
    Claim(
        statement="A C4 model is as accurate at 90° as upright without augmentation",
        compares={"equivariant": C4_WITHOUT_AUGMENTATION},
        decide=upright_equals_rotated,
    ),
    Claim(
        statement="The rotated stack costs about 4× the compute of the plain CNN",
        compares={"plain": named("cnn"), "stack": named("stack-c4")},
        decide=compute_ratio,
        needs=("throughput",),
    ),
    Claim(
        statement="Training with augmentation needs more than 10× the training to match an equivariant model",
        compares={"augmented": named("cnn-aug"), "equivariant": C4_WITHOUT_AUGMENTATION},
        decide=training_to_match,
        needs=("history",),
    ),
]


def claims_table(r: RunResults, claims: Sequence[Claim] | None = None) -> pd.DataFrame:
    """One row per claim whose variants are in the run: the claim, the evidence, the verdict."""
    rows = []
    for claim in CLAIMS if claims is None else claims:
        picked = claim.variants(r)
        if picked is not None:
            rows.append((claim.statement, *claim.decide(r, picked)))
    return pd.DataFrame(rows, columns=["claim", "measured evidence", "verdict"])
