"""escnn's continuous-rotation CNN: rot2dOnR2(N=-1), band-limited fields, Fourier nonlinearity."""

from __future__ import annotations

from torch import nn

from suite.registry import register
from suite.task import TUTORIAL, Task, require_square_size


@register(
    "escnn-so2",
    description=(
        "escnn on rot2dOnR2(N=-1): SO(2) fields of frequency ≤ 2, Fourier SiLU on 12 rotations, "
        "avg-pool; exact for 90° turns on the pixel grid, SO(2) approximately"
    ),
    family="escnn",
    claims="C4",
)
def escnn_so2(budget: int | None = None, task: Task = TUTORIAL) -> nn.Module:
    require_square_size(task, "escnn-so2")
    from models.planar._escnn_so2 import build_escnn_so2  # escnn is imported only when the model is built

    return build_escnn_so2(budget, task)
