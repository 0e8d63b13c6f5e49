"""Run profiles: how much data, how many epochs and seeds."""

from __future__ import annotations

from dataclasses import dataclass

from suite.errors import UsageError


@dataclass(frozen=True)
class Profile:
    name: str
    epochs: int
    seeds: int
    train_size: int | None  # None: all 60,000
    test_size: int | None  # None: all 10,000
    invariance_batch: int
    description: str
    sweep_step: int = 15  # degrees between the continuous test angles
    variants: str = "core"  # which variants run when none are chosen


PROFILES = {
    "smoke": Profile("smoke", 1, 1, 512, 256, 64, "a few hundred digits, one epoch: seconds", 45),
    "quick": Profile("quick", 5, 1, None, None, 500, "all of MNIST, the tutorial's 5 epochs, 1 seed", 30),
    "full": Profile(
        "full", 10, 5, None, None, 1000, "all of MNIST, 10 epochs, 5 seeds: the reference", 15, "all"
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise UsageError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
