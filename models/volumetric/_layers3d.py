"""The tutorial's layout in 3-D: conv3³ → SiLU → pool → conv3³ → SiLU → pool → conv4³ → SiLU →
mean over space (16³ → 8³ → 4³ → 1), and a dense head: 8-16-16 channels, 20,589 parameters for
29 classes."""

from __future__ import annotations

import torch
from torch import nn

from models._budget import count_on_meta, fit_widths
from models.planar._layers import cnn_features
from suite.task import Task

CNN3D_WIDTHS = (8, 16, 16)


def cnn3d_features(widths: tuple[int, int, int], in_channels: int = 1) -> nn.Sequential:
    return cnn_features(widths, in_channels, dims=3, last_kernel=4)


class PlainCNN3d(nn.Module):
    """The 3-D baseline: no symmetry at all."""

    def __init__(
        self, widths: tuple[int, int, int] = CNN3D_WIDTHS, num_classes: int = 29, in_channels: int = 1
    ):
        super().__init__()
        self.widths, self.in_channels = tuple(widths), in_channels
        self.features = cnn3d_features(self.widths, in_channels)
        self.head = nn.Linear(self.widths[2], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def cnn3d_params(widths: tuple[int, ...], num_classes: int, in_channels: int) -> int:
    return count_on_meta(lambda: PlainCNN3d(widths, num_classes, in_channels))  # type: ignore[arg-type]


def cnn3d_widths(budget: int | None, task: Task) -> tuple[int, ...]:
    """The tutorial widths, or widths fitted to ``budget`` parameters on ``task``. In 3-D every
    variant's default budget is the plain 3-D CNN's count at these widths on the task."""
    if budget is None:
        return CNN3D_WIDTHS
    return fit_widths(CNN3D_WIDTHS, lambda w: cnn3d_params(w, task.classes, task.channels), budget)
