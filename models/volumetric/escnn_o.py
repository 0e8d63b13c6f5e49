"""escnn's steerable CNNs over the cube: its 24 rotations (O), rotations with mirror images
(Oh), which cannot tell a chiral pentacube from its mirror image, and every rotation of space
(SO(3), band-limited), exact for the cube's."""

from __future__ import annotations

from torch import nn

from models.volumetric.cnn3d import VOLUMES
from suite.registry import register
from suite.task import Task, require_cube_size


@register(
    "escnn-o", description="escnn R3Conv on octaOnR3 regular fields (the cube's 24 rotations), group pooling",
    family="escnn", claims="O", tasks=("3d",), core=True, channels_last=False,
)  # fmt: skip
def escnn_o(budget: int | None = None, task: Task = VOLUMES) -> nn.Module:
    require_cube_size(task, "escnn-o")
    from models.volumetric._escnn3d import build_escnn3d  # escnn is imported only when the model is built

    return build_escnn3d("O", budget, task)


@register(
    "escnn-oh", description="escnn R3Conv on fullOctaOnR3: rotations and mirrors (Oh), blind to chirality",
    family="escnn", claims="Oh", tasks=("3d",), channels_last=False,
    why_not_core="mirror-invariant, so it cannot tell apart the mirror pairs that polycubes labels as "
    "different classes; and escnn samples its bases for about 12 s once per process (2-core CPU)",
)  # fmt: skip
def escnn_oh(budget: int | None = None, task: Task = VOLUMES) -> nn.Module:
    require_cube_size(task, "escnn-oh")
    from models.volumetric._escnn3d import build_escnn3d

    return build_escnn3d("Oh", budget, task)


@register(
    "escnn-so3",
    description="escnn R3Conv on rot3dOnR3 fields of frequency ≤ 1, Fourier ReLU on the cube's 24 rotations, "
    "average pooling, invariant read-out: exact for the cube, SO(3) approximately",
    family="escnn", claims="O", tasks=("3d",), channels_last=False,
    why_not_core="escnn's continuous-rotation model, the counterpart of cnn3d-aug-so3 (not core either): "
    "the core keeps one escnn model, escnn-o",
)  # fmt: skip
def escnn_so3(budget: int | None = None, task: Task = VOLUMES) -> nn.Module:
    require_cube_size(task, "escnn-so3")
    from models.volumetric._escnn_so3 import build_escnn_so3

    return build_escnn_so3(budget, task)
