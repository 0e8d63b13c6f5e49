"""The plain 3-D CNN, with and without augmentation by the cube's rotations: the 3-D baselines."""

from __future__ import annotations

from torch import nn

from models.volumetric._layers3d import PlainCNN3d, cnn3d_widths
from suite.registry import register
from suite.task import Task, require_cube_size

VOLUMES = Task((16, 16, 16), 1, 29, "O")  # the polycubes task: what a bare build makes
# (the 3-D variants register channels_last=False: 5-D tensors have no channels-last layout to gain)


def build_cnn3d(budget: int | None, task: Task, name: str) -> nn.Module:
    require_cube_size(task, name)
    return PlainCNN3d(cnn3d_widths(budget, task), task.classes, task.channels)  # type: ignore[arg-type]


@register(
    "cnn3d", description="plain 3-D CNN in the tutorial's layout, no augmentation", family="baseline",
    tasks=("3d",), core=True, channels_last=False,
)  # fmt: skip
def cnn3d(budget: int | None = None, task: Task = VOLUMES) -> nn.Module:
    return build_cnn3d(budget, task, "cnn3d")


@register(
    "cnn3d-aug", description="the same 3-D CNN trained on volumes turned by random rotations of the cube",
    family="baseline", augment="o", tasks=("3d",), core=True, channels_last=False,
)  # fmt: skip
def cnn3d_aug(budget: int | None = None, task: Task = VOLUMES) -> nn.Module:
    return build_cnn3d(budget, task, "cnn3d-aug")


@register(
    "cnn3d-aug-so3",
    description="the same 3-D CNN trained on volumes turned by uniformly random rotations of space",
    family="baseline", augment="so3", tasks=("3d",), channels_last=False,
    why_not_core="a second augmented baseline (every training volume resampled, trilinear); "
    "the core compares cnn3d-aug, the cube's own rotations",
)  # fmt: skip
def cnn3d_aug_so3(budget: int | None = None, task: Task = VOLUMES) -> nn.Module:
    return build_cnn3d(budget, task, "cnn3d-aug-so3")
