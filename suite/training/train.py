"""One training recipe for every variant: deterministic per seed, data on the device, resumable."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from suite.atomic import write_atomic
from suite.data.images import ImageData, to_device
from suite.data.rotations import apply_augmentation, draw_augmentation
from suite.errors import BadRunFile, failure_reason
from suite.training.schedules import check_schedule, lr_factor, set_rate

# Offsets keep the per-epoch streams of shuffling and augmentation independent of each other.
_SHUFFLE_STREAM = 1_000_003
_AUGMENT_STREAM = 2_000_029
NAN_CHECK_EVERY = 100  # steps between host reads of the running loss (catches NaN within an epoch)
BN_REFRESH_IMAGES = 4096  # new runs' precise-BN sample: 64 batches of the tutorial's 64 images


@dataclass(frozen=True)
class Recipe:
    """The tutorial's recipe: AdamW, lr 5e-4, weight decay 0.01, batch 64, 5 epochs, constant rate
    (``schedule``: ``constant`` or ``cosine`` with warm-up, ``suite.training.schedules``).

    ``bn_refresh_images``: before a trained model is measured, its BatchNorm running statistics are
    recomputed at its final weights from this many training images ("precise BN"); 0 keeps the
    moving averages training left, which trail the weights while they still move (a run recorded
    before the setting existed reads as 0). Models without running statistics are unaffected."""

    epochs: int = 5
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 0.01
    schedule: str = "constant"
    bn_refresh_images: int = 0

    def __post_init__(self) -> None:
        check_schedule(self.schedule)

    def as_dict(self) -> dict:
        return asdict(self)


class DivergedError(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class EpochRecord:
    """One finished epoch; ``extra`` holds what ``on_epoch`` measured (kept in checkpoints)."""

    epoch: int
    loss: float
    seconds: float
    extra: dict = field(default_factory=dict)


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, C, *spatial)`` → float in [0, 1], no normalisation."""
    return images.float().div_(255.0)


def epoch_generator(seed: int, epoch: int, stream: int) -> torch.Generator:
    """A CPU generator for one epoch: the same for every variant, independent of resumption."""
    return torch.Generator().manual_seed(seed * 7_919 + epoch * stream)


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffling order of epoch ``epoch`` under ``seed`` (identical for all variants)."""
    return torch.randperm(n, generator=epoch_generator(seed, epoch, _SHUFFLE_STREAM))


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def make_optimizer(model: torch.nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """AdamW with ``foreach`` on every device: the same numbers as the per-parameter loop PyTorch
    picks on CPU, a few per-step kernels instead of ~10 per parameter (8% of a CPU step)."""
    return torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay, foreach=True)


def steps_per_epoch(images: int, recipe: Recipe) -> int:
    return math.ceil(images / recipe.batch_size)


def epoch_stream(
    data: ImageData, policy: str, seed: int, epoch: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Epoch ``epoch``'s image order and augmentation draws, on the data's device, moved once per
    epoch (no host synchronisation inside the loop): training and the BN refresh read the same."""
    device = data.train_x.device
    order = to_device(epoch_order(len(data.train_x), seed, epoch), device)
    draws = draw_augmentation(policy, len(order), epoch_generator(seed, epoch, _AUGMENT_STREAM))
    return order, None if draws is None else to_device(draws, device)


def train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    data: ImageData,
    recipe: Recipe,
    policy: str,
    seed: int,
    epoch: int,
    progress: bool = True,
    description: str = "",
) -> float:
    """One pass over the training set; returns the mean loss. Raises DivergedError on NaN/inf."""
    model.train()
    device = data.train_x.device
    order, draws = epoch_stream(data, policy, seed, epoch)
    steps = steps_per_epoch(len(order), recipe)
    total = steps * recipe.epochs
    running = torch.zeros((), device=device)
    bar = tqdm(range(steps), desc=description, leave=False, disable=not progress or None, unit="step")
    for step in bar:
        batch = slice(step * recipe.batch_size, (step + 1) * recipe.batch_size)
        index = order[batch]
        x = apply_augmentation(to_input(data.train_x[index]), policy, None if draws is None else draws[batch])
        loss = F.cross_entropy(model(x), data.train_y[index])
        if recipe.schedule != "constant":  # a constant rate is never touched: the same numbers as before
            set_rate(optimizer, recipe.lr * lr_factor(recipe.schedule, epoch * steps + step, total))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running += loss.detach()
        if (step + 1) % NAN_CHECK_EVERY == 0 or step + 1 == steps:
            mean = running.item() / (step + 1)
            if not math.isfinite(mean):
                raise DivergedError(f"loss became {mean} in epoch {epoch + 1}, step {step + 1}")
            bar.set_postfix(loss=f"{mean:.4f}")
    return running.item() / steps


def running_stat_modules(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The normalisation layers that keep running statistics with a float momentum: torch's
    BatchNorm and e3nn's (which ``torch.optim.swa_utils.update_bn`` does not know)."""
    return [
        m for m in model.modules()
        if getattr(m, "running_mean", None) is not None and isinstance(getattr(m, "momentum", None), float)
    ]  # fmt: skip


@torch.no_grad()
def refresh_bn_stats(
    model: torch.nn.Module, data: ImageData, recipe: Recipe, policy: str, seed: int, epoch: int
) -> None:
    """Recompute running statistics at the current weights: training-mode passes without gradients
    over the first ``recipe.bn_refresh_images`` images of the epoch's order (augmented as in
    training), each batch weighted equally (momentum 1/k for the k-th batch). The result depends
    on the weights and data only, not on the statistics before, so a resumed unit gets the same."""
    layers = running_stat_modules(model)
    if recipe.bn_refresh_images <= 0 or not layers:
        return
    was_training = model.training
    order, draws = epoch_stream(data, policy, seed, epoch)
    momenta = [m.momentum for m in layers]
    model.train()
    count = min(recipe.bn_refresh_images, len(order))
    for k, start in enumerate(range(0, count, recipe.batch_size), 1):
        batch = slice(start, min(start + recipe.batch_size, count))
        for layer in layers:
            layer.momentum = 1.0 / k
        turns = None if draws is None else draws[batch]
        model(apply_augmentation(to_input(data.train_x[order[batch]]), policy, turns))
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    model.train(was_training)


def save_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    history: list[EpochRecord],
) -> None:
    """State after ``epoch`` epochs, written atomically (tensors and plain values only)."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epochs_done": epoch,
        "history": [asdict(h) for h in history],
    }
    write_atomic(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, device: torch.device
) -> tuple[int, list[EpochRecord]]:
    """Restore a checkpoint without executing code (``weights_only=True``); one that is truncated
    or not this unit's is named in one line (the unit then fails with that reason). The model is
    put in training mode first, as when the checkpoint was saved: a freshly built escnn layer holds
    cached ``filter`` and ``expanded_bias`` buffers until its first ``train()`` call drops them."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        model.train()
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        return int(state["epochs_done"]), [EpochRecord(**h) for h in state["history"]]
    except Exception as exc:  # noqa: BLE001 - torch's loader raises many types for a bad file
        problem = f"is not a readable checkpoint of this unit ({failure_reason(exc)[:160]})"
        raise BadRunFile(path, problem, "delete it to train the unit from its start") from None


def train(
    model: torch.nn.Module,
    data: ImageData,
    recipe: Recipe,
    policy: str,
    seed: int,
    checkpoint: Path | None = None,
    progress: bool = True,
    description: str = "",
    on_epoch: Callable[[EpochRecord, torch.nn.Module], dict] | None = None,
    stop_after: int | None = None,
) -> list[EpochRecord]:
    """Train ``model`` in place under ``recipe``; resume from ``checkpoint`` when it exists.
    ``stop_after``: stop after that epoch (a tuning trial's rung), the schedule still spanning
    ``recipe.epochs``, so the unit continues from its checkpoint as if never stopped.

    ``on_epoch`` measures each finished epoch (test accuracy for the training history); what it
    returns is stored in the record and the checkpoint, so a resumed run keeps the whole history.
    """
    optimizer = make_optimizer(model, recipe)
    history: list[EpochRecord] = []
    start = 0
    if checkpoint is not None and checkpoint.exists():
        start, history = load_checkpoint(checkpoint, model, optimizer, data.train_x.device)
    for epoch in range(start, min(recipe.epochs, stop_after or recipe.epochs)):
        began = time.perf_counter()
        label = f"{description} epoch {epoch + 1}/{recipe.epochs}".strip()
        loss = train_epoch(model, optimizer, data, recipe, policy, seed, epoch, progress, label)
        if on_epoch is not None or epoch + 1 == recipe.epochs:  # before anything measures the model
            refresh_bn_stats(model, data, recipe, policy, seed, epoch)
        record = EpochRecord(epoch + 1, loss, time.perf_counter() - began)
        history.append(record)
        if on_epoch is not None:
            record.extra.update(on_epoch(record, model))
        if checkpoint is not None:
            model.train()  # escnn's eval mode adds cached filters to the state dict
            save_checkpoint(checkpoint, model, optimizer, epoch + 1, history)
    return history
