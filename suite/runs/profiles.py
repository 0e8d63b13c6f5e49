"""Run profiles: how much data, how many epochs and seeds, per kind of data.

Volumes cost far more per example than digits (a 16³ volume is 4,096 voxels, and every test volume
is measured under the cube's 24 rotations, against 4 quarter turns of a digit), so the 3-D track
has its own sizes under the same three names.
"""

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
    batch_size: int | None = None  # the kind's default batch (None: the recipe's, 64)
    lr: float | None = None  # the kind's default learning rate (None: the tutorial's, 5e-4)


PROFILES = {
    "smoke": Profile("smoke", 1, 1, 512, 256, 64, "a few hundred digits, one epoch: seconds", 45),
    "quick": Profile("quick", 5, 1, None, None, 500, "all of MNIST, the tutorial's 5 epochs, 1 seed", 30),
    "full": Profile(
        "full", 10, 5, None, None, 1000, "all of MNIST, 10 epochs, 5 seeds: the reference", 15, "all"
    ),
}


# A few thousand training volumes give few steps per epoch at the 2-D batch of 64, and at the
# tutorial's rate a 3-D model barely leaves chance in 10 epochs: volumes train at batch 16 and a
# rate of 1e-3 unless a recipe says otherwise. At 3e-3 gcnn-o stayed at chance (loss ln 29 = 3.37
# for 6 epochs on 2,900 polycubes) where at 1e-3 it reached 43% validation accuracy.
VOLUME_RECIPE = {"batch_size": 16, "lr": 1e-3}
PROFILES_3D = {
    "smoke": Profile(
        "smoke", 1, 1, 64, 8, 2, "64 volumes, one epoch, 8 test volumes: a pipeline check", **VOLUME_RECIPE
    ),
    "quick": Profile(
        "quick",
        5,
        1,
        3_000,
        580,
        32,
        "up to 3,000 training volumes, 5 epochs, 580 test volumes, 1 seed",
        **VOLUME_RECIPE,
    ),
    "full": Profile(
        "full", 10, 5, None, None, 64, "every volume, 10 epochs, 5 seeds", variants="all", **VOLUME_RECIPE
    ),
}
BY_KIND = {"2d": PROFILES, "3d": PROFILES_3D}


def get_profile(name: str, kind: str = "2d") -> Profile:
    """The profile ``name`` for data of ``kind`` (``2d`` images, ``3d`` volumes)."""
    if name not in PROFILES:
        raise UsageError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return BY_KIND[kind][name]
