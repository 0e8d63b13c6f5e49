"""Memory layout of a model's feature maps: channels-last or PyTorch's default (contiguous).

Why: on CPU the suite's small 2-D convolutions run faster channels-last (oneDNN keeps SiLU,
pooling and the convolutions in one layout; see results/bench-cpu/layout); e3nn-o2 opts out (it
was slower channels-last when measured: e3nn's gates and norms work on the channel axis); on CUDA
it is measured only as an option (the benchmark's layout comparison), so ``auto`` keeps the
default layout there. The model converts its own input, so training, evaluation and
benchmarks need no other change.
"""

from __future__ import annotations

import torch

from suite.errors import UsageError

LAYOUTS = ("auto", "channels-last", "contiguous")
_MARK = "_c4suite_channels_last"


def resolve_layout(choice: str, device: torch.device, prefers_channels_last: bool = True) -> str:
    """``channels-last`` or ``contiguous`` for ``choice`` on ``device``. ``auto``: channels-last on
    CPU for variants that prefer it (``register(channels_last=...)``); an explicit choice applies to all."""
    if choice not in LAYOUTS:
        raise UsageError(f"{choice!r}: expected one of {', '.join(LAYOUTS)}", param="layout")
    if choice == "auto":
        return "channels-last" if device.type == "cpu" and prefers_channels_last else "contiguous"
    return choice


def variant_layout(choice: str, device: torch.device, variant: str) -> str:
    """The layout ``variant`` runs in under ``choice`` on ``device``."""
    from suite import registry

    return resolve_layout(choice, device, registry.get_variant(variant).channels_last)


def _input_to_channels_last(_module: torch.nn.Module, args: tuple) -> tuple:
    x, *rest = args
    if isinstance(x, torch.Tensor) and x.dim() == 4:
        x = x.to(memory_format=torch.channels_last)
    return (x, *rest)


def is_channels_last(model: torch.nn.Module) -> bool:
    return bool(getattr(model, _MARK, False))


def to_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` in place with 4-D weights channels-last and its input converted on the way in.

    ``Tensor.to`` (not ``contiguous``) is used on purpose: a single-channel image or filter is
    already "contiguous" in both layouts, and only ``to`` marks it channels-last, which is what
    makes the first convolution, and with it the whole network, run channels-last.
    """
    if is_channels_last(model):
        return model
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.dim() == 4:
            tensor.data = tensor.data.to(memory_format=torch.channels_last)
    model.register_forward_pre_hook(_input_to_channels_last)
    setattr(model, _MARK, True)
    return model


def apply_layout(model: torch.nn.Module, layout: str) -> torch.nn.Module:
    """``model`` in the resolved ``layout`` (``channels-last`` or ``contiguous``)."""
    return to_channels_last(model) if layout == "channels-last" else model
