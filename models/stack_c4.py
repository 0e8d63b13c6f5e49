"""The rotated stack: one shared CNN on the four quarter-turned copies, max over the copies."""

from __future__ import annotations

import torch
from torch import nn

from models._budget import fit_widths
from models._layers import CNN_WIDTHS, cnn_features, plain_cnn_params
from suite.registry import register


class RotatedStackCNN(nn.Module):
    """Invariant because the set {rot90ᵏ x} is the same for every rotated input."""

    def __init__(self, widths: tuple[int, int, int] = CNN_WIDTHS, num_classes: int = 10):
        super().__init__()
        self.widths = tuple(widths)
        self.features = cnn_features(self.widths)
        self.head = nn.Linear(self.widths[2], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        copies = torch.cat([torch.rot90(x, k, dims=(-2, -1)) for k in range(4)])  # (4B, 1, H, W)
        features = self.features(copies).view(4, batch, -1)
        return self.head(features.amax(dim=0))


@register(
    "stack-c4",
    description="one shared CNN on the 4 rotated copies of the input, max over rotations",
    family="hand-rolled",
    claims="C4",
    core=True,
)
def stack_c4(budget: int | None = None) -> nn.Module:
    widths = CNN_WIDTHS if budget is None else fit_widths(CNN_WIDTHS, plain_cnn_params, budget)
    return RotatedStackCNN(widths)
