"""escnn beyond C4: eight rotations (C8) and the dihedral group D4 (quarter turns and mirrors)."""

from __future__ import annotations

from torch import nn

from suite.registry import register
from suite.task import TUTORIAL, Task, require_square_size


@register(
    "escnn-c8",
    description="escnn on rot2dOnR2(N=8): exact for 90° turns on the pixel grid, C8 approximately",
    family="escnn",
    claims="C4",
)
def escnn_c8(budget: int | None = None, task: Task = TUTORIAL) -> nn.Module:
    require_square_size(task, "escnn-c8")
    from models.planar._escnn import build_escnn

    return build_escnn("C8", budget, task)


@register(
    "escnn-d4",
    description="escnn on flipRot2dOnR2(N=4): quarter turns and mirror flips (D4)",
    family="escnn",
    claims="D4",
)
def escnn_d4(budget: int | None = None, task: Task = TUTORIAL) -> nn.Module:
    require_square_size(task, "escnn-d4")
    from models.planar._escnn import build_escnn

    return build_escnn("D4", budget, task)
