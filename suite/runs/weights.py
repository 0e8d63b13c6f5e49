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


# A weights file without the rebuilt tensors records a sketch of them under this key, so that
# loading it where the model builds other ones (another escnn version's tables) fails in one line
# instead of giving other predictions, while a build equal up to float rounding (another BLAS or
# CPU) loads. Files written before kept a SHA-256 under REBUILT_SHA256, compared exactly.
REBUILT_SKETCH = "rebuilt_state_sketch"
REBUILT_SHA256 = "rebuilt_state_sha256"
SKETCH_FREQUENCIES = (0.7390851332, 1.3247179572, 2.2360679775)  # irrational: no pattern aligns
SKETCH_RTOL = 1e-6  # of each entry's bound (L1 norm, sum of squares): rounding is ~1e-16 of it


def rebuilt_sketch(model: torch.nn.Module, keys: set[str]) -> torch.Tensor:
    """Per key (sorted): L1 norm, sum of squares, and three fixed oscillating projections of the
    tensor, in float64: equal up to rounding for equal tensors, far apart for another basis."""
    state = model.state_dict()
    rows = []
    for key in sorted(keys):
        x = state[key].detach().cpu().double().flatten()
        index = torch.arange(x.numel(), dtype=torch.float64)
        rows.append(
            [x.abs().sum(), x.square().sum(), *[(x * torch.sin(index * f)).sum() for f in SKETCH_FREQUENCIES]]
        )
    return torch.tensor(rows, dtype=torch.float64).reshape(len(rows), 2 + len(SKETCH_FREQUENCIES))


def sketch_matches(recorded: torch.Tensor, built: torch.Tensor) -> bool:
    if recorded.shape != built.shape:
        return False
    bound = recorded[:, :1].expand_as(recorded).clone()  # |projection| <= L1 norm
    bound[:, 1] = recorded[:, 1]  # the sum of squares bounds itself
    return bool(((recorded - built).abs() <= bound.abs() * SKETCH_RTOL + 1e-12).all())


def rebuilt_fingerprint(model: torch.nn.Module, keys: set[str]) -> torch.Tensor:
    """The SHA-256 of the tensors at ``keys`` (names and bytes), as 32 bytes in a tensor (the
    check of files written before the sketch)."""
    digest = hashlib.sha256()
    state = model.state_dict()
    for key in sorted(keys):
        digest.update(key.encode())
        digest.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return torch.tensor(list(digest.digest()), dtype=torch.uint8)


def rebuilt_match(model: torch.nn.Module, keys: set[str], sketch: torch.Tensor | None,
                  sha256: torch.Tensor | None) -> bool:  # fmt: skip
    """Whether this build recomputed the tensors the file was written with."""
    if sketch is not None:
        return sketch_matches(sketch, rebuilt_sketch(model, keys))
    return sha256 is not None and torch.equal(sha256, rebuilt_fingerprint(model, keys))


def kept_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s state dict, detached on the CPU, without the keys building it recomputes (and
    with their sketch)."""
    skipped = rebuilt_keys(model)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items() if k not in skipped}
    if skipped:
        state[REBUILT_SKETCH] = rebuilt_sketch(model, skipped)
    return state


def restore_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a weights file's tensors into ``model``. The keys building it recomputes may be absent
    (files since they were left out: then what this build recomputed must match the file's
    fingerprint) or present (older files); any other missing or unknown key, or a tensor of
    another shape, raises ``RuntimeError`` as ``load_state_dict`` does."""
    state = dict(state)
    sketch, sha256 = state.pop(REBUILT_SKETCH, None), state.pop(REBUILT_SHA256, None)
    missing, unexpected = model.load_state_dict(state, strict=False)
    rebuilt = rebuilt_keys(model)
    absent = sorted(set(missing) - rebuilt)
    if absent or unexpected:
        raise RuntimeError(f"missing keys {absent[:5]}, unexpected keys {sorted(unexpected)[:5]}")
    left_out = set(missing) & rebuilt
    if left_out and not rebuilt_match(model, left_out, sketch, sha256):
        raise RuntimeError(
            "the tensors this build recomputes (e.g. escnn's sampled bases) differ from those the "
            "unit was trained with (another escnn version's tables?), so it would predict otherwise"
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
