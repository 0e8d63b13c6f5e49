"""e3nn's voxel convolution restricted to the image plane (model in ``_e3nn``)."""

from __future__ import annotations

from torch import nn

from suite.registry import register
from suite.task import TUTORIAL, Task, require_square_size


@register(
    "e3nn-o2",
    description="e3nn planar convolutions, irreps l≤2, BatchNorm, Gate, 7×7 invariant scalar read-out",
    family="e3nn",
    claims="D4",  # O(3)-equivariant layers on a plane: a mirror of the plane is a half turn in space
    channels_last=False,  # its BatchNorm and Gate permute to channels-last themselves: no gain measured
)
def e3nn_o2(budget: int | None = None, task: Task = TUTORIAL) -> nn.Module:
    require_square_size(task, "e3nn-o2")
    from models.planar._e3nn import build_e3nn  # e3nn is imported only when the model is built

    return build_e3nn(budget, task)
