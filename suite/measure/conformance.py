"""Checks every variant must pass: output shape, a training step that learns, no dead parameters,
its claimed symmetry.

A claim names a group (``suite.data.groups``): logits unchanged (< 1e-4) under each of its exact
elements (C4: every ``rot90``; D4: also the mirror flips; on volumes O: the cube's 24 rotations;
Oh: also each rotation after a mirror, all 48).
The error at 45° (bilinear) is reported for information: no variant here claims it. A parameter
entry that no batch (two of real images, two of random ones) gives a gradient at any of three
initialisations can never learn: a bug (a basis function that vanishes on every tap of a kernel, a
weight whose output nothing reads): FAIL. An entry unreached at some initialisations only is a
seed's accident (a ReLU channel that one draw leaves silent for every input): a warning, counted.
"Learns": ten AdamW steps at lr 3e-3 lower the mean loss on the real batches by at least 3%.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from suite import registry
from suite.data.groups import C4, CUBE, D4, FULL_CUBE, get_group
from suite.data.rotations import rotate
from suite.task import Task
from suite.training.builder import build_model

TOLERANCE = 1e-4


@torch.no_grad()
def max_logit_change(
    model: torch.nn.Module, x: torch.Tensor, transform, logits: torch.Tensor | None = None
) -> float:
    """Largest change of any logit when ``x`` is transformed (``logits``: model(x), when known)."""
    model.eval()
    with torch.no_grad():  # no graph: a check is cheaper, and a model may reuse what it built
        return (model(transform(x)) - (model(x) if logits is None else logits)).abs().max().item()


def symmetry_errors(model: torch.nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Largest logit change under quarter turns, mirror flips (with any quarter turn), and 45°;
    for volumes, under the cube's 24 rotations (``rot90``) and their mirror images (no 45°).
    The untransformed logits are computed once (a model in eval mode gives them again bit for bit)."""
    model.eval()
    with torch.no_grad():
        logits = model(x)

    def change(transform) -> float:  # noqa: ANN001 - a tensor function
        return max_logit_change(model, x, transform, logits)

    if x.dim() == 5:
        return {
            "rot90": max(change(e.act) for e in CUBE.elements[1:]),
            "mirror": max(change(e.act) for e in FULL_CUBE.mirrors),
            "rot45": float("nan"),
        }
    return {
        "rot90": max(change(e.act) for e in C4.elements[1:]),
        "mirror": max(change(e.act) for e in D4.mirrors),
        "rot45": change(lambda v: rotate(v, 45.0)),
    }


def claim_holds(claims: str, errors: dict[str, float]) -> bool:
    """Whether the errors under every element of the claimed group stay below ``TOLERANCE``."""
    if claims == "none":
        return True
    group = get_group(claims)
    return errors["rot90"] < TOLERANCE and (not group.mirrors or errors["mirror"] < TOLERANCE)


LEARN_STEPS = 10  # AdamW steps at LEARN_LR, cycling over the check's batches of real images
LEARN_LR = 3e-3  # the tuned rate of most variants: at 1e-3 a few steps move a small model by ~2% only
LEARN_DROP = 0.03  # "learns": the mean loss on the real batches falls by at least this fraction
INITS = (0, 1, 2)  # initialisations the dead-parameter check builds the model at
RANDOM_BATCHES = 2  # batches of random images beside the real ones (each half of the given batch)


def check_batches(
    x: torch.Tensor, y: torch.Tensor, classes: int = 10
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The check's batches: two halves of the real batch and two of seeded random images."""
    half = max(1, len(x) // 2)
    batches = [(x[:half], y[:half]), (x[half:], y[half:])] if len(x) > 1 else [(x, y)]
    generator = torch.Generator().manual_seed(DEAD_CHECK_SEED)
    for _ in range(RANDOM_BATCHES):
        batches.append((torch.rand(half, *x.shape[1:], generator=generator),
                        torch.randint(0, classes, (half,), generator=generator)))  # fmt: skip
    return batches


def learns(model: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> bool:
    """Whether ``LEARN_STEPS`` AdamW steps lower the mean loss on ``batches`` by ``LEARN_DROP``:
    one step on one batch can go either way for a model that learns well (a seed's accident).
    Pass the batches of real images: random labels cannot be learned."""

    def mean_loss() -> float:
        with torch.no_grad():
            return sum(F.cross_entropy(model(bx), by).item() for bx, by in batches) / len(batches)

    model.train()
    before = mean_loss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARN_LR)
    for step in range(LEARN_STEPS):
        bx, by = batches[step % len(batches)]
        optimizer.zero_grad()
        F.cross_entropy(model(bx), by).backward()
        optimizer.step()
    return mean_loss() <= (1 - LEARN_DROP) * before


def training_step_lowers_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> bool:
    """The learning check on a batch of real images (in two halves)."""
    return learns(model, check_batches(x, y)[:-RANDOM_BATCHES])


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


def gradient_reach(model: torch.nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> list:
    """Per parameter, which entries get a non-zero gradient on at least one of ``batches``."""
    reach = [torch.zeros_like(p, dtype=torch.bool) for p in model.parameters()]
    model.train()
    for bx, by in batches:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(bx), by).backward()
        for mask, p in zip(reach, model.parameters(), strict=True):
            if p.grad is not None:
                mask |= p.grad != 0
    model.zero_grad(set_to_none=True)
    return reach


def dead_entries(build, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[int, int]:  # noqa: ANN001
    """(entries no batch reaches at any of ``INITS``: structural, a bug; entries unreached at some
    initialisations only: a seed's silent ReLU, say, reported as a warning)."""
    reached = []
    for seed in INITS:
        torch.manual_seed(seed)
        reached.append(gradient_reach(build(), batches))
    structural = sometimes = 0
    for masks in zip(*reached, strict=True):
        stacked = torch.stack(masks)
        never = ~stacked.any(dim=0)
        structural += int(never.sum())
        sometimes += int((~stacked.all(dim=0) & ~never).sum())
    return structural, sometimes


def check_variant(
    name: str, x: torch.Tensor, y: torch.Tensor, budget: int | None = None, task: Task | None = None
) -> dict:
    """One row of ``suite check``: shape, learning, dead parameter entries, parameters and the claimed
    symmetry, the errors being the larger of the two memory layouts a run may use
    (suite.training.layout), for ``task`` (the tutorial's when None; ``x`` must be of its shape).
    ``verdict`` is True when every check passes."""
    spec = registry.get_variant(name)
    task = task or Task(tuple(x.shape[2:]), x.shape[1])
    torch.manual_seed(0)
    model = build_model(name, task, budget)
    with torch.no_grad():
        out = model.eval()(x)
    errors = symmetry_errors(model, x)
    torch.manual_seed(0)
    in_channels_last = symmetry_errors(build_model(name, task, budget, layout="channels-last"), x)
    errors = {k: max(v, in_channels_last[k]) for k, v in errors.items()}
    batches = check_batches(x, y, task.classes)
    dead, dead_some_inits = dead_entries(lambda: build_model(name, task, budget), batches)
    row = {
        "name": name,
        "claims": spec.claims,
        "params": registry.count_params(model),
        "shape_ok": tuple(out.shape) == (len(x), task.classes) and out.dtype == torch.float32,
        "learns": learns(model, batches[:-RANDOM_BATCHES]),
        "dead_params": dead,
        "dead_some_inits": dead_some_inits,
        **errors,
        "claim_holds": claim_holds(spec.claims, errors),
    }
    row["verdict"] = row["shape_ok"] and row["learns"] and row["dead_params"] == 0 and row["claim_holds"]
    return row
