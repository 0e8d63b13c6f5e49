"""What the rotated stacks share: on a CPU, large batches run in chunks, so that the turned copies
of a chunk stay in cache (measured: see ``CPU_CHUNK`` of each stack)."""

from __future__ import annotations

from collections.abc import Callable

import torch


def in_cpu_chunks(
    stacked: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, chunk: int
) -> torch.Tensor:
    """``stacked(x)``, on a CPU in pieces of ``chunk`` inputs when the batch is larger: the same
    logits for every input (each input's copies are never split)."""
    if x.device.type == "cpu" and x.shape[0] > chunk:
        return torch.cat([stacked(part) for part in x.split(chunk)])
    return stacked(x)
