"""Learning-rate schedules, defined in fractions of training so they stretch with its length.

A schedule is a factor of the recipe's rate at each optimizer step, a pure function of the step and
the total: a unit resumed from a checkpoint after epoch k continues at step k × steps-per-epoch with
exactly the rate an uninterrupted one would have had (no scheduler state to save or restore).
"""

from __future__ import annotations

import math

import torch

from suite.errors import UsageError

SCHEDULES = ("constant", "cosine")
WARMUP_FRACTION = 0.05  # cosine: the first 5% of the steps warm up linearly from 1/warm-up steps to 1


def check_schedule(name: str) -> str:
    if name not in SCHEDULES:
        raise UsageError(f"{name!r}: expected one of {', '.join(SCHEDULES)}", param="schedule")
    return name


def lr_factor(schedule: str, step: int, total: int) -> float:
    """The rate's factor at optimizer step ``step`` (0-based) of ``total``: 1 for ``constant``;
    for ``cosine``, a linear warm-up over the first ``WARMUP_FRACTION`` of the steps, then a
    half cosine from 1 down towards 0 at the last step."""
    if schedule == "constant":
        return 1.0
    warmup = max(1, round(WARMUP_FRACTION * total))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def set_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
