"""Trained weights as safetensors files: plain tensors and string metadata, so loading a run's
weights runs no code (unlike a pickle)."""

from __future__ import annotations

from pathlib import Path

import torch

from suite.atomic import write_atomic
from suite.errors import BadRunFile


def save_weights(path: Path, state: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write ``state`` atomically. Each tensor is copied out on its own: a model whose layers share
    a module (or views of one tensor) has state-dict entries sharing memory, which safetensors
    refuses to write."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    write_atomic(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def load_weights(path: Path, todo: str) -> dict[str, torch.Tensor]:
    """The tensors of the file at ``path``; a file safetensors cannot read is named in one line,
    with ``todo``: what the user can do about it."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors' own error types vary by version
        raise BadRunFile(path, f"is not a readable safetensors file ({exc})", todo) from None
