"""The symmetry groups the suite measures, each as its exact elements: index operations on a batch.

A group is what a data set declares (a run's ``group`` setting) and what a variant claims. Its
elements act on ``(B, C, H, W)`` images (C4, D4) or ``(B, C, D, H, W)`` volumes (O, the cube's 24
rotations) by ``rot90`` and flips only: no interpolation, so invariance can be checked to float
rounding. Evaluation, invariance error and the conformance checks read the group's elements;
nothing else knows which group a run is about.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from suite.data.rotations import CUBE as CUBE_TURNS
from suite.data.rotations import rot90
from suite.errors import UsageError
from suite.task import Turns, apply_turns

Action = Callable[[torch.Tensor], torch.Tensor]


def _turn(k: int) -> Action:
    return lambda x: rot90(x, k)


def _mirror_turn(k: int) -> Action:
    """A left-right mirror, then ``k`` quarter turns: the four reflections of the square."""
    return lambda x: rot90(x.flip(-1), k)


@dataclass(frozen=True)
class Element:
    """One group element: how the CSVs name it (metric and angle) and how it acts."""

    metric: str  # "acc" for a rotation of the plane, "acc_mirror" for a reflection, "acc_o" in 3-D
    angle: int  # its quarter turn in degrees (2-D), or its index among the cube's rotations (3-D)
    act: Action


@dataclass(frozen=True)
class Group:
    """A finite group of exact grid symmetries; ``elements[0]`` is the identity."""

    name: str
    elements: tuple[Element, ...]
    dims: int = 2  # the spatial axes it acts on: the last two (images) or three (volumes)

    @property
    def mirrors(self) -> tuple[Element, ...]:
        return tuple(e for e in self.elements if e.metric == "acc_mirror")


def _apply(turns: Turns) -> Action:
    return lambda x: apply_turns(x, turns)


C4 = Group("C4", tuple(Element("acc", 90 * k, _turn(k)) for k in range(4)))
D4 = Group("D4", C4.elements + tuple(Element("acc_mirror", 90 * k, _mirror_turn(k)) for k in range(4)))
CUBE = Group("O", tuple(Element("acc_o", i, _apply(t)) for i, t in enumerate(CUBE_TURNS)), dims=3)
GROUPS = {group.name: group for group in (C4, D4, CUBE)}


def get_group(name: str) -> Group:
    """The group called ``name`` (``C4``, ``D4``, ``O``; any case)."""
    group = GROUPS.get(str(name).upper())
    if group is None:
        raise UsageError(f"{name!r}: unknown group; known: {', '.join(GROUPS)}", param="group")
    return group
