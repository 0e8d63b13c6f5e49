"""Group convolutions for C4 written from scratch: each layer is one ``conv2d`` call.

Feature maps carry a rotation axis folded into the channels: channel ``c * 4 + r`` is field
``c`` at rotation ``r``. The expanded filter bank is gathered from the free weights with an index
built once, so the forward pass has no Python loop over rotations; for eval-mode forwards without
gradients the bank is cached and rebuilt only when the weights change.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models._eval_cache import EvalCached

ORDER = 4  # |C4|


def _rot(t: torch.Tensor, r: int) -> torch.Tensor:
    return torch.rot90(t, r, dims=(-2, -1))


def lifting_index(out_fields: int, in_channels: int, k: int) -> torch.Tensor:
    """Index ``(out*4, in, k, k)`` into a weight ``(out, in, k, k)``: filter (c, r) = rot_r W[c]."""
    ids = torch.arange(out_fields * in_channels * k * k, device="cpu").view(out_fields, in_channels, k, k)
    return torch.stack([_rot(ids, r) for r in range(ORDER)], dim=1).reshape(
        out_fields * ORDER, in_channels, k, k
    )


def group_index(out_fields: int, in_fields: int, k: int) -> torch.Tensor:
    """Index ``(out*4, in*4, k, k)`` into ``(out, in, 4, k, k)``.

    Filter (d, r) applied to input (c, s) is ``rot_r W[d, c, (s - r) mod 4]``: rotated in space
    and cyclically shifted along the rotation axis.
    """
    ids = torch.arange(out_fields * in_fields * ORDER * k * k, device="cpu")
    ids = ids.view(out_fields, in_fields, ORDER, k, k)
    bank = torch.stack([_rot(ids.roll(r, dims=2), r) for r in range(ORDER)], dim=1)
    return bank.reshape(out_fields * ORDER, in_fields * ORDER, k, k)


class _ExpandedConv(EvalCached):
    """Shared machinery: free weights, a gather index, one conv2d with the expanded bank."""

    def __init__(
        self,
        weight_shape: tuple[int, ...],
        index: torch.Tensor,
        out_fields: int,
        padding: int,
        fan_in: int,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(weight_shape))
        self.bias = nn.Parameter(torch.empty(out_fields))
        # The index is built on the CPU (on the meta device rot90 and roll take seconds the first
        # time: Python decompositions), then placed beside the weight, wherever it was created.
        self.register_buffer("index", index.to(self.weight.device), persistent=False)
        self.padding = padding
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        nn.init.uniform_(self.bias, -bound, bound)

    def expanded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The filter bank and bias as a plain conv2d sees them (the forward caches them for
        gradient-free eval forwards: ``models._eval_cache``)."""
        return self.weight.reshape(-1)[self.index], self.bias.repeat_interleave(ORDER)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.cached(self.expanded)
        return F.conv2d(x, weight, bias, padding=self.padding)


class LiftingConv(_ExpandedConv):
    """Plain image → C4 feature map: the kernel applied in its four rotations."""

    def __init__(self, in_channels: int, out_fields: int, kernel_size: int, padding: int = 0):
        super().__init__(
            (out_fields, in_channels, kernel_size, kernel_size),
            lifting_index(out_fields, in_channels, kernel_size),
            out_fields,
            padding,
            fan_in=in_channels * kernel_size**2,
        )


class GroupConv(_ExpandedConv):
    """C4 feature map → C4 feature map with rotated, cyclically shifted kernels."""

    def __init__(self, in_fields: int, out_fields: int, kernel_size: int, padding: int = 0):
        super().__init__(
            (out_fields, in_fields, ORDER, kernel_size, kernel_size),
            group_index(out_fields, in_fields, kernel_size),
            out_fields,
            padding,
            fan_in=in_fields * ORDER * kernel_size**2,
        )


class RotationMaxPool(nn.Module):
    """Max over the rotation axis of ``(B, C*4, H, W)``: the invariant read-out."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        return x.view(b, c // ORDER, ORDER, h, w).amax(dim=2)
