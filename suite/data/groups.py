"""The symmetry groups the suite measures, each as its exact elements: index operations on a batch.

A group is what a data set declares (a run's ``group`` setting) and what a variant claims. Its
elements act on ``(B, C, H, W)`` images (C4, D4) or ``(B, C, D, H, W)`` volumes (O, the cube's 24
rotations; Oh, its 48 symmetries: the rotations, and the rotations after one mirror) by ``rot90``
and flips only: no interpolation, so invariance can be checked to float
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

    metric: str  # "acc"/"acc_mirror": a rotation/reflection of the plane; "acc_o"/"acc_o_mirror" in 3-D
    angle: int  # its quarter turn in degrees (2-D), or its index among the cube's rotations (3-D)
    act: Action

    @property
    def mirror(self) -> bool:
        """Whether it reverses handedness: a reflection of the plane, a mirror image of a volume."""
        return self.metric.endswith("_mirror")


@dataclass(frozen=True)
class Group:
    """A finite group of exact grid symmetries; ``elements[0]`` is the identity."""

    name: str
    elements: tuple[Element, ...]
    dims: int = 2  # the spatial axes it acts on: the last two (images) or three (volumes)

    @property
    def mirrors(self) -> tuple[Element, ...]:
        return tuple(e for e in self.elements if e.mirror)


def _apply(turns: Turns, mirror: bool = False) -> Action:
    """The quarter turns ``turns`` (after a mirror of the last axis when ``mirror``)."""
    if mirror:
        return lambda x: apply_turns(x.flip(-1), turns)
    return lambda x: apply_turns(x, turns)


C4 = Group("C4", tuple(Element("acc", 90 * k, _turn(k)) for k in range(4)))
D4 = Group("D4", C4.elements + tuple(Element("acc_mirror", 90 * k, _mirror_turn(k)) for k in range(4)))
CUBE = Group("O", tuple(Element("acc_o", i, _apply(t)) for i, t in enumerate(CUBE_TURNS)), dims=3)
CUBE_MIRRORS = tuple(Element("acc_o_mirror", i, _apply(t, mirror=True)) for i, t in enumerate(CUBE_TURNS))
FULL_CUBE = Group("Oh", CUBE.elements + CUBE_MIRRORS, dims=3)  # each rotation after one mirror: all 48
GROUPS = {group.name.upper(): group for group in (C4, D4, CUBE, FULL_CUBE)}


def get_group(name: str) -> Group:
    """The group called ``name`` (``C4``, ``D4``, ``O``, ``Oh``; any case)."""
    group = GROUPS.get(str(name).upper())
    if group is None:
        known = ", ".join(g.name for g in GROUPS.values())
        raise UsageError(f"{name!r}: unknown group; known: {known}", param="group")
    return group
