"""What a variant is built for: a data set's input shape, channels, classes and measured group.

Models see the task through the registry's factories (``factory(budget=..., task=...)``), so it
lives at the registry's level: no torch, no data code.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from suite.errors import UsageError

GROUP_NAMES = ("C4", "D4", "O", "Oh")  # the groups a task can declare (suite.data.groups: their elements)


def group_name(text: str) -> str:
    """``text`` as the group name it spells in any case (``oh`` → ``Oh``); unknown text unchanged."""
    return {name.upper(): name for name in GROUP_NAMES}.get(text.upper(), text)


@dataclass(frozen=True)
class Task:
    """Inputs ``(B, channels, *spatial)`` floats in [0, 1] → ``(B, classes)`` logits; ``group``
    is the symmetry the suite measures on the data (not a model's claim)."""

    spatial: tuple[int, ...] = (28, 28)
    channels: int = 1
    classes: int = 10
    group: str = "C4"

    @classmethod
    def from_dict(cls, fields: dict) -> Task:
        """From ``dataclasses.asdict`` of a task (as a manifest stores it)."""
        spatial = tuple(int(s) for s in fields["spatial"])
        return cls(spatial, int(fields["channels"]), int(fields["classes"]), str(fields["group"]))

    @property
    def kind(self) -> str:
        """``2d`` for images, ``3d`` for volumes: the task kinds a variant declares it serves."""
        return f"{len(self.spatial)}d"

    @property
    def is_tutorial(self) -> bool:
        """The seeds' task: 28×28 gray digits in ten classes (where stored widths apply)."""
        return self.spatial == (28, 28) and self.channels == 1 and self.classes == 10

    def describe(self) -> str:
        """``28×28×1, 10 classes, C4``."""
        return f"{'×'.join(map(str, self.spatial))}×{self.channels}, {self.classes} classes, {self.group}"


TUTORIAL = Task()

Turns = tuple[tuple[int, tuple[int, int]], ...]  # quarter turns, each (k, the plane's two axes)
PLANES = ((-3, -2), (-2, -1))  # two planes of the cube whose quarter turns generate its 24 rotations


def apply_turns(x, turns: Turns):  # noqa: ANN001, ANN201 - a torch.Tensor (no torch import here)
    """``x`` turned by each quarter turn of ``turns`` in order (``Tensor.rot90``: exact)."""
    for k, plane in turns:
        x = x.rot90(k, plane)
    return x


@functools.cache
def cube_rotations() -> tuple[Turns, ...]:
    """The 24 rotations of the cube, each as the shortest composition of quarter turns in
    ``PLANES`` (found breadth-first on a cube of distinct labels), the identity first. Applied
    with ``torch.rot90(x, k, dims=plane)`` in order, they act exactly on ``(..., D, H, W)``."""
    probe = np.arange(27).reshape(3, 3, 3)

    def apply(turns: Turns) -> np.ndarray:
        x = probe
        for k, plane in turns:
            x = np.rot90(x, k, axes=plane)
        return x

    found: dict[bytes, Turns] = {probe.tobytes(): ()}
    frontier: list[Turns] = [()]
    while frontier:
        grown = []
        for turns in frontier:
            for plane in PLANES:
                longer = (*turns, (1, plane))
                key = np.ascontiguousarray(apply(longer)).tobytes()
                if key not in found:
                    found[key] = longer
                    grown.append(longer)
        frontier = grown
    return tuple(found.values())


def nearest_sizes(size: int, multiple: int, smallest: int) -> tuple[int, ...]:
    """The sizes next to ``size`` that are multiples of ``multiple`` and at least ``smallest``."""
    below = max(smallest, size - size % multiple)
    above = max(smallest, below + multiple if below < size else below)
    return tuple(sorted({below, above} - {size})) or (smallest,)


def require_side(task: Task, variant: str, dims: int, multiple: int, smallest: int) -> int:
    """The side of ``task``'s square images (``dims`` 2) or cubic volumes (3), or one line saying
    why ``variant`` cannot take them: its two 2× poolings keep the grid's quarter turns exact on
    sides that are multiples of ``multiple``, and its read-out needs at least ``smallest``."""
    shape, what = task.spatial, ("images", "volumes")[dims - 2]
    shown = "×".join(map(str, shape))
    if len(shape) != dims or len(set(shape)) != 1:
        raise UsageError(
            f"{variant} needs {('square 2-D', 'cubic 3-D')[dims - 2]} {what}; this data set's are {shown} "
            f"(crop or pad them)"
        )
    side = shape[0]
    if side % multiple or side < smallest:
        sizes = " or ".join(str(s) for s in nearest_sizes(side, multiple, smallest))
        raise UsageError(
            f"{variant} keeps exact quarter turns only on sides that are multiples of {multiple} and at "
            f"least {smallest} (its pooling must map the grid onto itself); {shown} is not: "
            f"resize or pad the {what} to {sizes}"
        )
    return side


def require_cube_size(task: Task, variant: str) -> int:
    """Volumes: 16 → 8 → 4 → a 4×4×4 read-out (the cube's rotations exact on multiples of 4)."""
    return require_side(task, variant, 3, 4, 16)


def require_square_size(task: Task, variant: str) -> int:
    """Images: 28 → 14 → 7 → a 7×7 read-out; every side that passes keeps exact C4 (tests check
    32 and 48)."""
    return require_side(task, variant, 2, 4, 28)
