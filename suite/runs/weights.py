"""Trained weights as safetensors files: plain tensors and string metadata, so loading a run's
weights runs no code (unlike a pickle)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from suite.atomic import write_atomic
from suite.errors import BadRunFile


def rebuilt_keys(model: torch.nn.Module) -> set[str]:
    """State-dict keys the model recomputes when it is built (its ``rebuilt_state_keys``, e.g.
    escnn's sampled bases): a weights file leaves them out."""
    hook = getattr(model, "rebuilt_state_keys", None)
    return set(hook()) if callable(hook) else set()


# A weights file without the rebuilt tensors records their SHA-256 under this key, so that loading
# it where the model builds other ones (another escnn version, another BLAS build) fails in one
# line instead of giving other predictions.
REBUILT_SHA256 = "rebuilt_state_sha256"


def rebuilt_fingerprint(model: torch.nn.Module, keys: set[str]) -> torch.Tensor:
    """The SHA-256 of the tensors at ``keys`` (names and bytes), as 32 bytes in a tensor."""
    digest = hashlib.sha256()
    state = model.state_dict()
    for key in sorted(keys):
        digest.update(key.encode())
        digest.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return torch.tensor(list(digest.digest()), dtype=torch.uint8)


def kept_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s state dict, detached on the CPU, without the keys building it recomputes (and
    with their fingerprint)."""
    skipped = rebuilt_keys(model)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items() if k not in skipped}
    if skipped:
        state[REBUILT_SHA256] = rebuilt_fingerprint(model, skipped)
    return state


def restore_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a weights file's tensors into ``model``. The keys building it recomputes may be absent
    (files since they were left out: then what this build recomputed must match the file's
    fingerprint) or present (older files); any other missing or unknown key, or a tensor of
    another shape, raises ``RuntimeError`` as ``load_state_dict`` does."""
    state = dict(state)
    recorded = state.pop(REBUILT_SHA256, None)
    missing, unexpected = model.load_state_dict(state, strict=False)
    rebuilt = rebuilt_keys(model)
    absent = sorted(set(missing) - rebuilt)
    if absent or unexpected:
        raise RuntimeError(f"missing keys {absent[:5]}, unexpected keys {sorted(unexpected)[:5]}")
    left_out = set(missing) & rebuilt
    if left_out and (recorded is None or not torch.equal(recorded, rebuilt_fingerprint(model, left_out))):
        raise RuntimeError(
            "the tensors this build recomputes (e.g. escnn's sampled bases) differ from those the "
            "unit was trained with (another escnn version or BLAS build?), so it would predict otherwise"
        )


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
