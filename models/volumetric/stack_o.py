"""The rotated stack in 3-D: one shared 3-D CNN on the 24 rotations of the volume, max over them."""

from __future__ import annotations

import torch
from torch import nn

from models._stack import in_cpu_chunks
from models.volumetric._layers3d import PlainCNN3d, cnn3d_widths
from models.volumetric.cnn3d import VOLUMES
from suite.registry import register
from suite.task import Task, apply_turns, cube_rotations, require_cube_size

CUBE = cube_rotations()
CPU_CHUNK = 16  # volumes per pass on a CPU: 384 turned copies of 16³ stay in cache-sized pieces


class RotatedStackCNN3d(PlainCNN3d):
    """Invariant because the set of a volume's 24 rotations is the same for every rotated volume.
    Its physical limit is 24 times the cost of :meth:`one_copy`."""

    copies = len(CUBE)

    def one_copy(self) -> PlainCNN3d:
        single = PlainCNN3d(self.widths, self.head.out_features, self.in_channels)  # type: ignore[arg-type]
        single.load_state_dict(self.state_dict())
        return single

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return in_cpu_chunks(self.stacked, x, CPU_CHUNK)

    def stacked(self, x: torch.Tensor) -> torch.Tensor:
        turned = torch.cat([apply_turns(x, turns) for turns in CUBE])
        features = self.features(turned).view(len(CUBE), x.shape[0], -1)
        return self.head(features.amax(dim=0))


@register(
    "stack-o", description="one shared 3-D CNN on the 24 rotations of the volume, max over them",
    family="hand-rolled", claims="O", tasks=("3d",), core=True, channels_last=False,
)  # fmt: skip
def stack_o(budget: int | None = None, task: Task = VOLUMES) -> nn.Module:
    require_cube_size(task, "stack-o")
    return RotatedStackCNN3d(cnn3d_widths(budget, task), task.classes, task.channels)  # type: ignore[arg-type]
