"""escnn's ``R2Conv`` and ``R3Conv`` with their training-step filter expansion as one matmul and
one copy.

In train mode every ``R2Conv`` (and ``R3Conv``) forward re-expands its filter from the basis. For a
layer with one kind of input and one kind of output field (regular → regular, trivial → regular:
every layer of the tutorial layout) escnn does this through an einsum, string-keyed buffer
look-ups, asserts and views: about 150 µs of Python per layer and call on a CPU whatever the
layer's size, three times the arithmetic. Here the sampled basis is read as a
``(basis, out·in·taps)`` matrix (a view of escnn's own buffer, which a state dict restores with the
weights it was trained with), so the expansion is ``weights @ basis`` and one transpose into the
``Conv2d`` (``Conv3d``) layout — the same sum, so the same filter to float rounding (tests check
logits against escnn's own expansion). Layers with several field kinds keep escnn's expansion.
"""

from __future__ import annotations

import copy

import torch

from models._escnn_tables import enn


class FusedExpansion:
    """A mixin for escnn's ``_RdConv`` subclasses: ``expand_parameters`` is one matmul when the
    layer has one block (both escnn convolutions share ``BlocksBasisExpansion``)."""

    kernel_size: int
    d: int  # the base space's dimension: 2 (R2Conv) or 3 (R3Conv)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        expansion = self.basisexpansion
        for name, block in list(expansion.named_children()):
            if name.startswith("block_expansion_"):
                setattr(expansion, name, private_copy(block))
        hashed_by_identity(expansion)
        self._block_shape: tuple[int, ...] | None = None
        # in a tuple, so that it is not registered twice as a submodule (its state dict keys stay)
        self._block: tuple[torch.nn.Module, ...] = ()
        if getattr(expansion, "_n_pairs", 0) == 1:
            pair = expansion._representations_pairs[0]
            self._block = (getattr(expansion, f"block_expansion_{expansion._escape_pair(pair)}"),)
            _, out_dim, in_dim, taps = self._block[0].sampled_basis.shape  # (basis, out, in, taps)
            fields = (expansion._out_count[pair[1]], expansion._in_count[pair[0]])
            self._block_shape = (*fields, out_dim, in_dim, taps)

    def expand_parameters(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._block_shape is None:
            return super().expand_parameters()
        out_fields, in_fields, out_dim, in_dim, taps = self._block_shape
        basis = self._block[0].sampled_basis
        flat = self.weights.view(out_fields * in_fields, -1) @ basis.reshape(basis.shape[0], -1)
        weight = (
            flat.view(out_fields, in_fields, out_dim, in_dim, taps)
            .transpose(1, 2)
            .reshape(out_fields * out_dim, in_fields * in_dim, *(self.kernel_size,) * self.d)
        )
        bias = None if self.bias is None else self.bias_expansion @ self.bias
        return weight, bias


def private_copy(block: torch.nn.Module) -> torch.nn.Module:
    """``block`` with buffers of its own. escnn hands one basis module to every layer of the same
    field types and size, in every model the process builds (its ``_stored_filters``): loading a
    state dict into one model would change the bases of all the others, and of later builds.
    The copies are contiguous: escnn samples the basis in another memory order, so reading it as a
    matrix copied all of it at every training step (255 MB a step in escnn-oh's last layer); the
    values, and so the filters, are the same."""
    private = copy.copy(block)
    private._buffers = {
        k: None if v is None else v.clone(memory_format=torch.contiguous_format)
        for k, v in block._buffers.items()
    }
    hashed_by_identity(private)
    return private


_IDENTITY_HASHED: dict[type, type] = {}


def hashed_by_identity(module: torch.nn.Module) -> None:
    """Give a built basis module torch's identity ``==`` and hash. escnn's compare and hash the
    sampled bases (to share them between layers while it builds them), and ``train()``/``eval()``
    hash every child on each call: on the cube's 48 symmetries that took about 0.1 s an ``eval()``,
    called before every evaluation pass. Once built, a layer's basis is its own (``private_copy``)."""
    kind = type(module)
    if kind not in _IDENTITY_HASHED:
        identity = {"__hash__": object.__hash__, "__eq__": object.__eq__}
        _IDENTITY_HASHED[kind] = type(kind.__name__, (kind,), identity)
    module.__class__ = _IDENTITY_HASHED[kind]


class FusedR2Conv(FusedExpansion, enn.R2Conv):
    """``R2Conv`` whose ``expand_parameters`` is one matmul when the layer has one block."""


class FusedR3Conv(FusedExpansion, enn.R3Conv):
    """``R3Conv`` whose ``expand_parameters`` is one matmul when the layer has one block."""
