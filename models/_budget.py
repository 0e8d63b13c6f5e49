"""Parameter budgets: scale a variant's channel widths until its parameter count fits."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import nn

from suite.registry import count_params

TUTORIAL_PARAMS = 13_978  # the tutorial's plain CNN: 1→8→16→16 channels, dense 16→10

Widths = tuple[int, ...]


def count_on_meta(build: Callable[[], nn.Module]) -> int:
    """Trainable parameters of the module ``build()`` returns, built on the meta device: exact
    shapes, no memory allocated and no initialisation run, so no count is kept by hand."""
    with torch.device("meta"):
        model = build()
    return count_params(model)


def scale_widths(base: Widths, factor: float) -> Widths:
    return tuple(max(1, round(w * factor)) for w in base)


def fit_widths(
    base: Widths,
    count: Callable[[Widths], int],
    budget: int,
    max_factor: float = 64.0,
) -> Widths:
    """The scaled ``base`` widths whose parameter count is closest to ``budget``.

    ``count`` must grow with the widths; a bisection on the common scale factor finds where the
    count crosses the budget, then the nearest of the candidates around it wins.
    """
    cache: dict[Widths, int] = {}

    def params(widths: Widths) -> int:
        if widths not in cache:
            cache[widths] = count(widths)
        return cache[widths]

    low, high = 1.0 / 64, max_factor
    for _ in range(40):
        middle = (low * high) ** 0.5
        if params(scale_widths(base, middle)) < budget:
            low = middle
        else:
            high = middle
        if high / low < 1.0005:
            break
    candidates = {scale_widths(base, low), scale_widths(base, high)}
    return min(candidates, key=lambda w: (abs(params(w) - budget), w))


def fit_fields_nearby(base: Widths, count: Callable[[Widths], int], budget: int) -> Widths:
    """Widths whose count lands closest to ``budget``: the common scale factor first
    (:func:`fit_widths`), then each layer one more or one less. For widths in group fields (24 or
    48 channels each in 3-D) one field is a coarse step, so a common factor alone lands far."""
    scaled = fit_widths(base, count, budget)
    nearby = {tuple(max(1, w + d) for w, d in zip(scaled, step, strict=True))
              for step in itertools.product((-1, 0, 1), repeat=len(scaled))}  # fmt: skip
    return min(nearby, key=lambda widths: (abs(count(widths) - budget), widths))
