"""e3nn's planar convolutions read out through scalars and a 2-D pseudoscalar: the plane's rotations
without its mirrors (model in ``_e3nn_chiral``)."""

from __future__ import annotations

from torch import nn

from suite.registry import register
from suite.task import TUTORIAL, Task, require_square_size


@register(
    "e3nn-so2",
    description=(
        "e3nn planar convolutions, irreps l≤2, BatchNorm, Gate, 7×7 read-out to scalars and the "
        "plane-normal component of 1e vectors (a pseudoscalar): exact for 90° turns, SO(2) "
        "approximately, not mirror-invariant"
    ),
    family="e3nn",
    claims="C4",
    channels_last=False,  # as e3nn-o2: its BatchNorm and Gate permute to channels-last themselves
)
def e3nn_so2(budget: int | None = None, task: Task = TUTORIAL) -> nn.Module:
    require_square_size(task, "e3nn-so2")
    from models.planar._e3nn_chiral import build_e3nn_chiral  # e3nn is imported only when built

    return build_e3nn_chiral(budget, task)
