"""The symmetry groups the suite measures, each as its exact elements: index operations on a batch.

A group is what a data set declares (a run's ``group`` setting) and what a variant claims. Its elements act on
``(B, C, H, W)`` by ``rot90`` and flips only: no interpolation, so invariance can be checked to
float rounding. Evaluation, invariance error and the conformance checks read the group's
elements; nothing else knows which group a run is about. The 3-D track adds the cube's rotations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from suite.data.rotations import rot90
from suite.errors import UsageError

Action = Callable[[torch.Tensor], torch.Tensor]


def _turn(k: int) -> Action:
    return lambda x: rot90(x, k)


def _mirror_turn(k: int) -> Action:
    """A left-right mirror, then ``k`` quarter turns: the four reflections of the square."""
    return lambda x: rot90(x.flip(-1), k)


@dataclass(frozen=True)
class Element:
    """One group element: how the CSVs name it (metric and angle) and how it acts."""

    metric: str  # "acc" for a rotation, "acc_mirror" for a reflection
    angle: int  # its quarter turn in degrees
    act: Action


@dataclass(frozen=True)
class Group:
    """A finite group of exact grid symmetries; ``elements[0]`` is the identity."""

    name: str
    elements: tuple[Element, ...]

    @property
    def rotations(self) -> tuple[Element, ...]:
        return tuple(e for e in self.elements if e.metric == "acc")

    @property
    def mirrors(self) -> tuple[Element, ...]:
        return tuple(e for e in self.elements if e.metric != "acc")


C4 = Group("C4", tuple(Element("acc", 90 * k, _turn(k)) for k in range(4)))
D4 = Group("D4", C4.elements + tuple(Element("acc_mirror", 90 * k, _mirror_turn(k)) for k in range(4)))
GROUPS = {group.name: group for group in (C4, D4)}


def get_group(name: str) -> Group:
    """The group called ``name`` (``C4``, ``D4``; any case)."""
    group = GROUPS.get(str(name).upper())
    if group is None:
        raise UsageError(f"{name!r}: unknown group; known: {', '.join(GROUPS)}", param="group")
    return group
