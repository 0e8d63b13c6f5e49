"""escnn's steerable CNN on the rotation group C4 (regular fields, group pooling)."""

from __future__ import annotations

from torch import nn

from suite.registry import register
from suite.task import TUTORIAL, Task, require_square_size


@register(
    "escnn-c4",
    description="escnn R2Conv on rot2dOnR2(N=4) regular fields, group pooling",
    family="escnn",
    claims="C4",
    core=True,
)
def escnn_c4(budget: int | None = None, task: Task = TUTORIAL) -> nn.Module:
    require_square_size(task, "escnn-c4")
    from models.planar._escnn import build_escnn  # escnn is imported only when the model is built

    return build_escnn("C4", budget, task)
