"""Layers shared by the plain-CNN family: the tutorial's layout and its channel widths."""

from __future__ import annotations

import torch
from torch import nn

from models._budget import count_on_meta

CNN_WIDTHS = (8, 16, 16)  # the tutorial's SimpleCNN: exactly 13,978 parameters with a 10-way head


def cnn_features(widths: tuple[int, int, int], in_channels: int = 1) -> nn.Sequential:
    """conv3×3 → SiLU → pool → conv3×3 → SiLU → pool → conv7×7 → SiLU: 28×28 → 1×1."""
    w1, w2, w3 = widths
    return nn.Sequential(
        nn.Conv2d(in_channels, w1, 3, padding=1),
        nn.SiLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(w1, w2, 3, padding=1),
        nn.SiLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(w2, w3, 7),
        nn.SiLU(),
        nn.Flatten(),
    )


class PlainCNN(nn.Module):
    """The baseline: the tutorial's SimpleCNN (no symmetry at all)."""

    def __init__(self, widths: tuple[int, int, int] = CNN_WIDTHS, num_classes: int = 10):
        super().__init__()
        self.widths = tuple(widths)
        self.features = cnn_features(self.widths)
        self.head = nn.Linear(self.widths[2], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def plain_cnn_params(widths: tuple[int, ...], num_classes: int = 10) -> int:
    """Parameters of :class:`PlainCNN` (and of the rotated stack, which shares its layers)."""
    return count_on_meta(lambda: PlainCNN(widths, num_classes))  # type: ignore[arg-type]
