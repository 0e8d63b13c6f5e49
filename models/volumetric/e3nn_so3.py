"""e3nn's voxel convolution in its native 3-D, over O(3) (model in ``_e3nn3d``)."""

from __future__ import annotations

from torch import nn

from models.volumetric.cnn3d import VOLUMES
from suite.registry import register
from suite.task import Task, require_cube_size


@register(
    "e3nn-so3",
    description="e3nn voxel convolutions, irreps l≤2 both parities, BatchNorm, Gate, read-out of 0e and 0o",
    family="e3nn", claims="O", tasks=("3d",), core=False, channels_last=False,
    why_not_core="too slow for the quick profile: its training step costs about 4× gcnn-o's on the CPU",
)  # fmt: skip
def e3nn_so3(budget: int | None = None, task: Task = VOLUMES) -> nn.Module:
    """Invariant to rotations (exactly to the cube's 24 on the grid), not to mirrors: the read-out
    takes pseudoscalars, so a chiral piece and its mirror image stay apart."""
    require_cube_size(task, "e3nn-so3")
    from models.volumetric._e3nn3d import build_e3nn3d  # e3nn is imported only when the model is built

    return build_e3nn3d(budget, task)
