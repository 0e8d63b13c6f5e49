"""The rotated stack: one shared CNN on the four quarter-turned copies, max over the copies."""

from __future__ import annotations

import torch
from torch import nn

from models._budget import count_on_meta
from models._stack import in_cpu_chunks
from models.planar._layers import CNN_WIDTHS, PlainCNN, widths_for
from suite.registry import register
from suite.task import TUTORIAL, Task, require_square_size

# On a CPU a large batch runs in chunks of this many images, so that the four copies of a chunk
# make one pass of 1,024 images: unchunked, a batch of 1,024 (4,096 copies) ran at 7.8x the plain
# CNN's time; in chunks of 128 at 1.12-1.14x its limit (4x one copy at batch 1,024), in chunks of
# 256 at 1.01-1.04x (inference; training 0.99-1.08x), each timed interleaved against the one-copy
# CNN on the 2-core CPU. Each image's logits are computed as before.
CPU_CHUNK = 256


class RotatedStackCNN(PlainCNN):
    """The plain CNN's layers on the four quarter turns of the input, max over the copies.

    Invariant because the set {rot90ᵏ x} is the same for every rotated input. Its physical limit
    is ``copies`` times the cost of :meth:`one_copy` (the same layers on one copy of the input).
    """

    copies = 4

    def one_copy(self) -> PlainCNN:
        """The plain CNN the stack runs four times: the same widths and weights, one copy."""
        single = PlainCNN(self.widths, self.head.out_features, self.in_channels)
        single.load_state_dict(self.state_dict())
        return single

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return in_cpu_chunks(self.stacked, x, CPU_CHUNK)

    def stacked(self, x: torch.Tensor) -> torch.Tensor:
        """The four copies as one batch through the shared layers; max over the copies."""
        batch = x.shape[0]
        copies = torch.cat([torch.rot90(x, k, dims=(-2, -1)) for k in range(4)])  # (4B, C, H, W)
        features = self.features(copies).view(4, batch, -1)
        return self.head(features.amax(dim=0))


def stack_params(widths: tuple[int, ...], num_classes: int = 10, in_channels: int = 1) -> int:
    """Parameters of :class:`RotatedStackCNN`, counted on the meta device."""
    return count_on_meta(lambda: RotatedStackCNN(widths, num_classes, in_channels))  # type: ignore[arg-type]


@register(
    "stack-c4",
    description="one shared CNN on the 4 rotated copies of the input, max over rotations",
    family="hand-rolled",
    claims="C4",
    core=True,
)
def stack_c4(budget: int | None = None, task: Task = TUTORIAL) -> nn.Module:
    require_square_size(task, "stack-c4")
    widths = widths_for(CNN_WIDTHS, CNN_WIDTHS, stack_params, budget, task)
    return RotatedStackCNN(widths, task.classes, task.channels)  # type: ignore[arg-type]
