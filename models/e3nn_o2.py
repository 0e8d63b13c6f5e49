"""e3nn's voxel convolution on the image as a one-voxel-thick volume (model in ``_e3nn``)."""

from __future__ import annotations

from torch import nn

from suite.registry import register


@register(
    "e3nn-o2",
    description="e3nn voxel convolution on a one-voxel-thick image, irreps l≤2, Gate, scalar read-out",
    family="e3nn",
    claims="D4",
    channels_last=False,  # 3-D volumes: channels-last 2-D input costs it 1.6x in inference on CPU
)
def e3nn_o2(budget: int | None = None) -> nn.Module:
    from models._e3nn import build_e3nn  # e3nn is imported only when the model is built

    return build_e3nn(budget)
