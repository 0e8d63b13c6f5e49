"""Layers shared by the plain-CNN family: the tutorial's layout and its channel widths."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from models._budget import count_on_meta, fit_widths
from suite.task import Task

CNN_WIDTHS = (8, 16, 16)  # the tutorial's SimpleCNN: exactly 13,978 parameters with a 10-way head


class GlobalAveragePool(nn.Module):
    """``(B, C, *spatial)`` → ``(B, C)``: the mean over every position, invariant to any turn of
    the grid. At 28×28 the layout leaves one position, so this is the tutorial's ``Flatten``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).mean(-1)


def cnn_features(
    widths: tuple[int, int, int], in_channels: int = 1, dims: int = 2, last_kernel: int = 7
) -> nn.Sequential:
    """conv3 → SiLU → pool → conv3 → SiLU → pool → conv (``last_kernel``, valid) → SiLU → mean over
    space, in ``dims`` dimensions: 28×28 → 14 → 7 → 1 for images (larger sides leave a map to
    average), 16³ → 8 → 4 → 1 with a 4³ read-out for volumes."""
    conv, pool = (nn.Conv2d, nn.MaxPool2d) if dims == 2 else (nn.Conv3d, nn.MaxPool3d)
    w1, w2, w3 = widths
    return nn.Sequential(
        conv(in_channels, w1, 3, padding=1),
        nn.SiLU(),
        pool(2),
        conv(w1, w2, 3, padding=1),
        nn.SiLU(),
        pool(2),
        conv(w2, w3, last_kernel),
        nn.SiLU(),
        GlobalAveragePool(),
    )


class PlainCNN(nn.Module):
    """The baseline: the tutorial's SimpleCNN (no symmetry at all)."""

    def __init__(
        self, widths: tuple[int, int, int] = CNN_WIDTHS, num_classes: int = 10, in_channels: int = 1
    ):
        super().__init__()
        self.widths = tuple(widths)
        self.in_channels = in_channels
        self.features = cnn_features(self.widths, in_channels)
        self.head = nn.Linear(self.widths[2], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def plain_cnn_params(widths: tuple[int, ...], num_classes: int = 10, in_channels: int = 1) -> int:
    """Parameters of :class:`PlainCNN` (and of the rotated stack, which shares its layers)."""
    return count_on_meta(lambda: PlainCNN(widths, num_classes, in_channels))  # type: ignore[arg-type]


def widths_for(
    base: tuple[int, ...],
    stored: tuple[int, ...],
    count: Callable[[tuple[int, ...], int, int], int],
    budget: int | None,
    task: Task,
) -> tuple[int, ...]:
    """A variant's widths on ``task``: ``stored`` (its tutorial widths) where no budget applies,
    else ``base`` scaled until ``count(widths, classes, channels)`` lands closest to the budget
    (the given one, or the plain CNN's count on this task)."""
    budget = matched_budget(budget, task)
    if budget is None:
        return stored
    return fit_widths(base, lambda w: count(w, task.classes, task.channels), budget)


def matched_budget(budget: int | None, task: Task) -> int | None:
    """The parameter budget every variant of ``task`` is fitted to: ``budget`` when given; on the
    tutorial's task None (each variant's stored tutorial widths); otherwise the plain CNN's count
    at the tutorial widths on this task's channels and classes, so budgets stay matched per task."""
    if budget is not None or task.is_tutorial:
        return budget
    return plain_cnn_params(CNN_WIDTHS, task.classes, task.channels)
