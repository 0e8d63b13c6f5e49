"""Units as grid points: a unit is keyed by everything that changes its result.

A plain run's unit is (variant, seed); a tuning sweep or a study adds axes (learning rate, parameter
budget, training-set size, epochs). The key doubles as the unit's file name, so resume, weights and
checkpoints work the same for every kind of run::

    cnn__seed0                    a plain run's unit
    cnn__seed0__lr=0.003          one point of a learning-rate sweep
    cnn__seed0__lr=0.003__weight_decay=0__schedule=cosine   a tuning trial
    gcnn-c4__seed1__budget=30000  one point of the model-size study
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from suite.declared import AXES  # name -> Axis, in the order of unit names and CSV columns
from suite.errors import UsageError


def format_value(value: float | int | str) -> str:
    """A grid value as it appears in unit names and tables: ``0.003``, ``1e-05``, ``30000``, ``cosine``."""
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class UnitKey:
    """One unit: a variant, a seed and its values on the run's grid axes (in ``AXES`` order)."""

    variant: str
    seed: int
    point: tuple[tuple[str, float | int | str], ...] = ()

    @property
    def name(self) -> str:
        """The unit's name; variant names cannot contain ``__`` (suite.registry)."""
        axes = "".join(f"__{axis}={format_value(value)}" for axis, value in self.point)
        return f"{self.variant}__seed{self.seed}{axes}"

    def get(self, axis: str, default=None):  # noqa: ANN001, ANN201 - a value of any axis type
        return dict(self.point).get(axis, default)

    @classmethod
    def parse(cls, name: str) -> UnitKey:
        """The key of a :attr:`name`."""
        variant, rest = name.split("__seed", 1)
        seed, *axes = rest.split("__")
        point = []
        for part in axes:
            axis, _, value = part.partition("=")
            if axis not in AXES:
                raise ValueError(f"{name}: unknown grid axis {axis!r}")
            point.append((axis, AXES[axis].type(value)))
        return cls(variant, int(seed), tuple(point))


def check_grid(grid: Mapping[str, Sequence]) -> dict[str, list]:
    """``grid`` with each axis known, its values of the axis's type and distinct: positive numbers
    (or 0 where the axis allows it), whole where it counts, or one of a text axis's choices."""
    checked: dict[str, list] = {}
    for axis in AXES:  # the canonical order, whatever order the caller used
        if axis in grid:
            checked[axis] = _checked_values(axis, list(grid[axis]))
    unknown = set(grid) - set(AXES)
    if unknown:
        raise UsageError(f"unknown grid axis {sorted(unknown)}; known: {', '.join(AXES)}")
    return checked


def _checked_values(axis: str, values: list) -> list:
    spec = AXES[axis]
    if spec.choices:
        if not values or any(v not in spec.choices for v in values) or len(set(values)) != len(values):
            raise UsageError(f"{values}: expected distinct values of {', '.join(spec.choices)}", param=axis)
        return list(values)
    try:
        typed = [spec.type(v) for v in values]
    except (TypeError, ValueError):
        raise UsageError(f"{values}: expected numbers", param=axis) from None
    allowed = (lambda v: v >= 0) if spec.zero else (lambda v: v > 0)
    if not typed or any(not allowed(v) for v in typed) or len(set(typed)) != len(typed):
        what = "non-negative" if spec.zero else "positive"
        raise UsageError(f"{values}: expected distinct {what} values", param=axis)
    if spec.type is int and any(float(v) != float(w) for v, w in zip(values, typed, strict=True)):
        raise UsageError(f"{values}: expected whole numbers", param=axis)
    return typed


def unit_keys(variants: Sequence[str], seeds: Sequence[int], grid: Mapping[str, Sequence]) -> list[UnitKey]:
    """Every unit of a run: variants × seeds × the grid's points, variant-major."""
    axes = list(grid)
    points = list(itertools.product(*(grid[a] for a in axes)))
    return [
        UnitKey(variant, seed, tuple(zip(axes, values, strict=True)))
        for variant in variants
        for values in points
        for seed in seeds
    ]
