"""A C4 group CNN from scratch: lifting conv, group convs, max over rotations."""

from __future__ import annotations

import torch
from torch import nn

from models._budget import count_on_meta
from models.planar._group_conv import GroupConv, LiftingConv, RotationMaxPool
from models.planar._layers import GlobalAveragePool, widths_for
from suite.registry import register
from suite.task import TUTORIAL, Task, require_square_size

GCNN_WIDTHS = (4, 8, 8)  # fields per layer (×4 channels each): 13,842 parameters, −1% of the CNN


class GroupCNN(nn.Module):
    """The tutorial layout with every conv replaced by its C4 counterpart; 28 → 14 → 7 → 1."""

    def __init__(
        self, widths: tuple[int, int, int] = GCNN_WIDTHS, num_classes: int = 10, in_channels: int = 1
    ):
        super().__init__()
        a, b, c = self.widths = tuple(widths)
        self.features = nn.Sequential(
            LiftingConv(in_channels, a, 3, padding=1),
            nn.SiLU(),
            nn.MaxPool2d(2),
            GroupConv(a, b, 3, padding=1),
            nn.SiLU(),
            nn.MaxPool2d(2),
            GroupConv(b, c, 7),
            nn.SiLU(),
            RotationMaxPool(),
            GlobalAveragePool(),  # 1×1 at 28×28 (the tutorial's Flatten)
        )
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def gcnn_params(widths: tuple[int, ...], num_classes: int = 10, in_channels: int = 1) -> int:
    """Parameters of :class:`GroupCNN`, counted on the meta device."""
    return count_on_meta(lambda: GroupCNN(widths, num_classes, in_channels))  # type: ignore[arg-type]


@register(
    "gcnn-c4",
    description="group CNN from scratch: lifting conv + group convs, rotated shifted kernels",
    family="hand-rolled",
    claims="C4",
    core=True,
)
def gcnn_c4(budget: int | None = None, task: Task = TUTORIAL) -> nn.Module:
    require_square_size(task, "gcnn-c4")
    widths = widths_for(GCNN_WIDTHS, GCNN_WIDTHS, gcnn_params, budget, task)
    return GroupCNN(widths, task.classes, task.channels)  # type: ignore[arg-type]
