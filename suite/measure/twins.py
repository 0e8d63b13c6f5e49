"""Plain-CNN twins: an equivariant network after filter expansion *is* a plain CNN.

The twin of a variant has the same expanded layer widths, kernels and pooling, but free,
freshly initialised ``Conv2d`` weights; its throughput is the limit the equivariant form should
reach. Built automatically: escnn models through ``export()``, hand-rolled group convolutions
by swapping each expanded-filter layer for a ``Conv2d`` of the same shape.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def _is_expanded_conv(module: nn.Module) -> bool:
    return hasattr(module, "expanded") and hasattr(module, "padding")


def _swap_expanded_convs(module: nn.Module) -> int:
    swapped = 0
    for name, child in module.named_children():
        if _is_expanded_conv(child):
            weight, _ = child.expanded()
            out_ch, in_ch, k, *_ = weight.shape
            conv_type = nn.Conv2d if weight.dim() == 4 else nn.Conv3d  # images or volumes
            conv = conv_type(in_ch, out_ch, k, padding=child.padding).to(weight.device)
            setattr(module, name, conv)
            swapped += 1
        else:
            swapped += _swap_expanded_convs(child)
    return swapped


def _reinit_convs(module: nn.Module) -> int:
    count = 0
    for child in module.modules():
        if isinstance(child, nn.Conv2d | nn.Conv3d):
            child.reset_parameters()
            count += 1
    return count


@torch.no_grad()
def plain_twin(model: nn.Module) -> nn.Module | None:
    """The plain-CNN twin of an equivariant model, or None for models with no expanded filters."""
    model.train()  # escnn's eval-mode caches cannot be deep-copied
    if hasattr(model, "export"):
        twin = copy.deepcopy(model).export()
        _reinit_convs(twin)
        return twin.eval()
    if not any(_is_expanded_conv(m) for m in model.modules()):
        return None  # nothing to swap; some modules (e3nn's compiled ones) cannot even be copied
    twin = copy.deepcopy(model).eval()
    _swap_expanded_convs(twin)
    return twin
