"""One rule for filters expanded from a layer's weights (group banks, e3nn kernels): rebuilt on
every forward that records gradients or trains, cached for the others while the weights stay the
same.

A bank built under ``inference_mode`` is an inference tensor, which a forward with gradients (a
saliency map in eval mode) must not use, and a bank built with gradients would keep its autograd
graph alive; so only gradient-free eval forwards share it. A changed weight (an optimiser step, a
loaded state dict) changes its version or its storage, and ``train()`` drops the cache;
``eval()`` keeps it (an evaluation calls it before each pass: every rotation of every test set).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

T = TypeVar("T")


class EvalCached(nn.Module):
    """A module whose :meth:`cached` keeps one expensive value for gradient-free eval forwards."""

    _eval_cache: tuple[tuple, object] | None = None

    def cached(self, build: Callable[[], T]) -> T:
        if self.training or torch.is_grad_enabled():
            return build()
        key = tuple((p._version, p.data_ptr()) for p in self.parameters())
        if self._eval_cache is None or self._eval_cache[0] != key:
            self._eval_cache = (key, build())
        return self._eval_cache[1]  # type: ignore[return-value]

    def train(self, mode: bool = True) -> EvalCached:
        if mode:
            self._eval_cache = None
        return super().train(mode)
