"""The winner among a variant's finalists: its best trials re-run at several seeds, compared by
paired per-image intervals (the same seeds, the same validation images).

The finalist with the highest mean leads; another whose paired difference to it is not decided at
95% (Holm-corrected over the comparisons with the leader, and never with fewer than
``MIN_SEEDS`` seeds) ties with it. A tie goes, in this order, to the constant schedule, the
tutorial's weight decay, then the smaller learning rate (:data:`TIE_RULES`), and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from suite.correctness import decode
from suite.report.evidence import measure_conditions
from suite.report.stats import MIN_SEEDS, Interval, holm, two_way_interval

TUTORIAL_WEIGHT_DECAY = 0.01
# (what the table calls it, the key that orders the tied finalists: the smallest wins)
TIE_RULES = (
    ("constant schedule", lambda f: f.schedule != "constant"),
    ("weight decay 0.01", lambda f: f.weight_decay != TUTORIAL_WEIGHT_DECAY),
    ("smaller lr", lambda f: f.lr),
)


@dataclass(frozen=True)
class Finalist:
    """One configuration and its ``(seeds, images)`` per-image validation scores in [0, 1]."""

    lr: float
    weight_decay: float
    schedule: str
    scores: np.ndarray

    @property
    def interval(self) -> Interval:
        """Validation accuracy (%) with its 95% interval over seeds and images."""
        return two_way_interval(self.scores).scaled(100).clipped(0, 100)

    def preference(self) -> tuple:
        return tuple(key(self) for _name, key in TIE_RULES)

    def values(self) -> dict:
        """What a tuned-recipe file keeps of it."""
        i = self.interval
        return {
            "lr": self.lr, "weight_decay": self.weight_decay, "schedule": self.schedule,
            "validation_c4_mean": round(i.mean, 2),
            "validation_interval": [round(i.low, 2), round(i.high, 2)], "seeds": int(self.scores.shape[0]),
        }  # fmt: skip


@dataclass(frozen=True)
class Choice:
    """The winner, the runner-up (the best other mean), and the tie rule that decided, if any."""

    winner: Finalist
    runner_up: Finalist | None
    tie_rule: str | None  # None: the winner's mean is ahead of every other finalist at 95%
    tied: int  # how many finalists shared the lead (1: no tie)


def choose_finalist(finalists: list[Finalist]) -> Choice:
    """The winner among ``finalists`` (all with the same seeds and images), by the rules above."""
    ordered = sorted(finalists, key=lambda f: -float(f.scores.mean()))
    leader, others = ordered[0], ordered[1:]
    differences = [two_way_interval(f.scores - leader.scores) for f in others]
    adjusted = holm([d.p_value() for d in differences])
    tied = [leader] + [
        f for f, d, p in zip(others, differences, adjusted, strict=True) if d.seeds < MIN_SEEDS or p >= 0.05
    ]
    by_preference = sorted(tied, key=Finalist.preference)  # stable: the higher mean first among equals
    winner, rule = by_preference[0], None
    if len(tied) > 1:
        rest = by_preference[1]
        rule = next((name for name, key in TIE_RULES if key(winner) != key(rest)), "higher mean")
    runner_up = next((f for f in ordered if f is not winner), None)
    return Choice(winner, runner_up, rule, len(tied))


def unit_point(frame: pd.DataFrame, lr: float, weight_decay: float, schedule: str) -> pd.DataFrame:
    """The rows of ``correct.csv`` (one variant's) at one configuration."""
    return frame[
        np.isclose(frame.lr.astype(float), lr, rtol=1e-9, atol=0)
        & np.isclose(frame.weight_decay.astype(float), weight_decay, rtol=1e-9, atol=0)
        & (frame.schedule.astype(str) == schedule)
    ]


def finalist_scores(rows: pd.DataFrame, measure: str, seeds: list[int]) -> np.ndarray | None:
    """``(seeds, images)`` per-image scores of one configuration's final measurement; None when a
    seed or a condition is missing."""
    final = rows[pd.to_numeric(rows.epoch, errors="coerce").isna()]  # not a curve's epoch
    matrix = []
    for seed in seeds:
        parts = []
        for condition in measure_conditions(measure):
            match = final[(final.seed.astype(int) == seed) & (final.metric == condition.metric)]
            if condition.angle is not None:
                match = match[np.isclose(match.angle.astype(float), condition.angle)]
            if match.empty:
                return None
            parts.append(decode(match.bits.iloc[0], int(match.images.iloc[0])))
        matrix.append(np.mean(parts, axis=0))
    return np.array(matrix)


def tie_text(choice: Choice) -> str:
    """How the table says the choice was made."""
    if choice.tie_rule is None:
        return "by the mean" if choice.runner_up is not None else "only finalist"
    return f"tie of {choice.tied}: {choice.tie_rule}"


def variant_choice(correct: pd.DataFrame, trials: pd.DataFrame, units: list[str], measure: str,
                   seeds: list[int]) -> tuple[Choice, int] | None:  # fmt: skip
    """A variant's choice among its finalists (their seed-0 units, as the search named them) and
    the winner's trial; None when no finalist has every seed measured."""
    finalists, numbers = [], {}
    for unit in units:
        trial = trials[trials.unit == unit]
        if trial.empty or correct.empty:
            continue
        t = trial.iloc[0]
        rows = correct[correct.variant == t.variant]
        rows = unit_point(rows, float(t.lr), float(t.weight_decay), str(t.schedule))
        scores = finalist_scores(rows, measure, seeds)
        if scores is not None:
            finalists.append(Finalist(float(t.lr), float(t.weight_decay), str(t.schedule), scores))
            numbers[id(finalists[-1])] = int(t.trial)
    if not finalists:
        return None
    choice = choose_finalist(finalists)
    return choice, numbers[id(choice.winner)]


def choice_values(choice: Choice, trial: int) -> dict:
    """A choice as a tuned-recipe file keeps it: the winner, how it won, the runner-up."""
    values = {**choice.winner.values(), "trial": trial, "choice": tie_text(choice)}
    if choice.runner_up is not None:
        values["runner_up"] = choice.runner_up.values()
    return values
