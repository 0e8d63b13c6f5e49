"""Checks every variant must pass: output shape, a training step that learns, no dead parameters,
its claimed symmetry.

C4 claims: logits unchanged (< 1e-4) under every ``rot90``; D4 claims: also under mirror flips.
The error at 45° (bilinear) is reported for information: no variant here claims it. A parameter
entry whose gradient is exactly zero can never learn: a bug (a basis function that vanishes on every
tap of a kernel, a weight whose output nothing reads), so every entry must receive a gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from suite import registry
from suite.data.rotations import rot90, rotate
from suite.errors import SuiteError
from suite.training.layout import to_channels_last

TOLERANCE = 1e-4


def mirror(x: torch.Tensor) -> torch.Tensor:
    return torch.flip(x, dims=(-1,))


@torch.no_grad()
def max_logit_change(model: torch.nn.Module, x: torch.Tensor, transform) -> float:
    model.eval()
    return (model(transform(x)) - model(x)).abs().max().item()


def symmetry_errors(model: torch.nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Largest logit change under quarter turns, mirror flips (with any quarter turn), and 45°."""
    return {
        "rot90": max(max_logit_change(model, x, lambda v, k=k: rot90(v, k)) for k in (1, 2, 3)),
        "mirror": max(max_logit_change(model, x, lambda v, k=k: rot90(mirror(v), k)) for k in range(4)),
        "rot45": max_logit_change(model, x, lambda v: rotate(v, 45.0)),
    }


def claim_holds(claims: str, errors: dict[str, float]) -> bool:
    if claims == "none":
        return True
    if claims == "C4":
        return errors["rot90"] < TOLERANCE
    if claims == "D4":
        return errors["rot90"] < TOLERANCE and errors["mirror"] < TOLERANCE
    raise SuiteError(f"no numerical check for the claim {claims!r}")


def training_step_lowers_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> bool:
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        return F.cross_entropy(model(x), y).item() < before.item()


DEAD_CHECK_SEED = 0
DEAD_CHECK_BATCH = 32


def dead_parameters(
    model: torch.nn.Module, x: torch.Tensor | None = None, y: torch.Tensor | None = None
) -> int:
    """Parameter entries whose gradient is exactly zero after one cross-entropy backward in train mode.

    ``x``, ``y``: a batch (real digits, say); by default 32 seeded random images in [0, 1] with random
    labels 0..9. Entries of parameters that get no gradient at all count as dead too. The model's
    gradients are cleared again afterwards; its batch-norm statistics move by one step (train mode).
    """
    if x is None or y is None:
        generator = torch.Generator().manual_seed(DEAD_CHECK_SEED)
        x = torch.rand(DEAD_CHECK_BATCH, 1, 28, 28, generator=generator)
        y = torch.randint(0, 10, (DEAD_CHECK_BATCH,), generator=generator)
    model.train()
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    dead = 0
    for p in model.parameters():
        if p.requires_grad:
            dead += p.numel() if p.grad is None else int((p.grad == 0).sum())
    model.zero_grad(set_to_none=True)
    return dead


def check_variant(name: str, x: torch.Tensor, y: torch.Tensor, budget: int | None = None) -> dict:
    """One row of ``suite check``: shape, learning, dead parameter entries, parameters and the claimed
    symmetry, the errors being the larger of the two memory layouts a run may use
    (suite.training.layout). ``verdict`` is True when every check passes."""
    spec = registry.get_variant(name)
    torch.manual_seed(0)
    model = spec.build(budget=budget)
    with torch.no_grad():
        out = model.eval()(x)
    errors = symmetry_errors(model, x)
    torch.manual_seed(0)
    in_channels_last = symmetry_errors(to_channels_last(spec.build(budget=budget)), x)
    errors = {k: max(v, in_channels_last[k]) for k, v in errors.items()}
    dead = dead_parameters(model, x, y)  # before the learning check's step: the model as built
    row = {
        "name": name,
        "claims": spec.claims,
        "params": registry.count_params(model),
        "shape_ok": tuple(out.shape) == (len(x), 10) and out.dtype == torch.float32,
        "learns": training_step_lowers_loss(model, x, y),
        "dead_params": dead,
        **errors,
        "claim_holds": claim_holds(spec.claims, errors),
    }
    row["verdict"] = row["shape_ok"] and row["learns"] and row["dead_params"] == 0 and row["claim_holds"]
    return row
