"""Data pipelines compared in one process: an epoch of ``cnn-aug`` on the on-device pipeline,
the same without augmentation, and the common torchvision alternative (``datasets.MNIST`` +
``DataLoader`` + per-sample PIL ``RandomRotation``)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from suite.data.idx import IDX_FILES
from suite.data.images import ImageData, to_device
from suite.data.rotations import apply_augmentation, draw_augmentation
from suite.errors import SuiteError, UsageError
from suite.measure.benchmark import synchronize
from suite.training.builder import build_model
from suite.training.layout import variant_layout
from suite.training.train import Recipe, make_optimizer, to_input, train_epoch


def write_idx_layout(data: ImageData, root: Path) -> None:
    """The digits as torchvision's ``MNIST/raw`` IDX files, so ``datasets.MNIST`` reads them
    (gray images only: the channel axis is dropped)."""
    if data.channels != 1:
        raise SuiteError(
            f"{data.name}: the pipeline comparison reads gray images through torchvision's MNIST"
        )
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    arrays = {"train_x": data.train_x[:, 0], "train_y": data.train_y, "test_x": data.test_x[:, 0],
              "test_y": data.test_y}  # fmt: skip
    for key, stem in IDX_FILES.items():
        array = arrays[key].cpu().numpy().astype(np.uint8)
        header = (0x0800 | array.ndim).to_bytes(4, "big") + b"".join(
            d.to_bytes(4, "big") for d in array.shape
        )
        (raw / stem).write_bytes(header + array.tobytes())


def torchvision_loader(root: Path, recipe: Recipe, images: int, device: torch.device):
    """torchvision's usual MNIST pipeline: per-sample PIL quarter turns, ``DataLoader`` batches."""
    from torchvision import datasets, transforms

    quarter_turns = transforms.RandomChoice([transforms.RandomRotation((a, a)) for a in (0, 90, 180, 270)])
    dataset = datasets.MNIST(
        str(root),
        train=True,
        download=False,
        transform=transforms.Compose([quarter_turns, transforms.ToTensor()]),
    )
    subset = torch.utils.data.Subset(dataset, range(images))
    return torch.utils.data.DataLoader(
        subset, batch_size=recipe.batch_size, shuffle=True, num_workers=0, pin_memory=device.type == "cuda"
    )


def torchvision_epoch(
    model: torch.nn.Module, root: Path, recipe: Recipe, images: int, device: torch.device
) -> float:
    """Seconds for ``images`` training images through torchvision's per-sample pipeline."""
    loader = torchvision_loader(root, recipe, images, device)
    optimizer = make_optimizer(model, recipe)
    model.train()
    began = time.perf_counter()
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return time.perf_counter() - began


def torchvision_batches(root: Path, recipe: Recipe, images: int, device: torch.device) -> float:
    """Seconds to produce the augmented batches alone (no model), torchvision's way."""
    began = time.perf_counter()
    for x, y in torchvision_loader(root, recipe, images, device):
        batch = (x.to(device, non_blocking=True), y.to(device, non_blocking=True))
    del batch
    synchronize(device)
    return time.perf_counter() - began


def on_device_batches(data: ImageData, recipe: Recipe) -> float:
    """Seconds to produce the augmented batches alone (no model), as ``train_epoch`` does."""
    device = data.train_x.device
    generator = torch.Generator().manual_seed(0)
    began = time.perf_counter()
    order = to_device(torch.randperm(len(data.train_x), generator=generator), device)
    draws = to_device(draw_augmentation("c4", len(order), generator), device)
    for start in range(0, len(order), recipe.batch_size):
        index = order[start : start + recipe.batch_size]
        x = apply_augmentation(to_input(data.train_x[index]), "c4", draws[start : start + recipe.batch_size])
        batch = (x, data.train_y[index])
    del batch
    synchronize(device)
    return time.perf_counter() - began


def on_device_epoch(model: torch.nn.Module, data: ImageData, recipe: Recipe, policy: str) -> float:
    device = data.train_x.device
    optimizer = make_optimizer(model, recipe)
    began = time.perf_counter()
    train_epoch(model, optimizer, data, recipe, policy, seed=0, epoch=0, progress=False)
    synchronize(device)
    return time.perf_counter() - began


def compare_pipelines(
    data: ImageData, device: torch.device, images: int = 12_800, layout: str = "auto", rounds: int = 4
) -> dict:
    """Seconds for ``images`` training images through each pipeline, and the ratios.

    Every pipeline trains the same model the same way (``suite run``'s layout and optimizer). The
    images are split into ``rounds`` that run the pipelines in turn (A B C A B C ...), so that a
    machine's drift (other load, clocks) falls on all of them alike; the seconds are summed.
    """
    if images < 1 or rounds < 1:
        raise UsageError(f"a pipeline comparison needs at least 1 image and 1 round (got {images}, {rounds})")
    recipe = Recipe()
    rounds = min(rounds, images)
    per_round = images // rounds
    images = per_round * rounds
    subset = data.subset(per_round, 1).to(device)
    layout = variant_layout(layout, device, "cnn-aug")

    def fresh() -> torch.nn.Module:
        torch.manual_seed(0)
        return build_model("cnn-aug", data.task, None, device, layout)

    seconds = dict.fromkeys(("plain", "augmented", "loader", "loader_batches", "device_batches"), 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_idx_layout(data.subset(per_round, 1), root)
        warm = min(per_round, recipe.batch_size * 5)
        on_device_epoch(fresh(), subset.subset(warm, 1), recipe, "c4")
        torchvision_epoch(fresh(), root, recipe, warm, device)
        for _ in range(rounds):
            seconds["plain"] += on_device_epoch(fresh(), subset, recipe, "none")
            seconds["augmented"] += on_device_epoch(fresh(), subset, recipe, "c4")
            seconds["loader"] += torchvision_epoch(fresh(), root, recipe, per_round, device)
            seconds["loader_batches"] += torchvision_batches(root, recipe, per_round, device)
            seconds["device_batches"] += on_device_batches(subset, recipe)
    model_only = seconds["augmented"] - seconds["device_batches"]
    return {
        "images": images, "rounds": rounds, "device": device.type, "layout": layout,
        "on_device_no_aug_s": seconds["plain"], "on_device_c4_aug_s": seconds["augmented"],
        "torchvision_c4_aug_s": seconds["loader"],
        "aug_cost_ratio": seconds["augmented"] / seconds["plain"],
        "speedup_vs_torchvision": seconds["loader"] / seconds["augmented"],
        "batches_only_on_device_s": seconds["device_batches"],
        "batches_only_torchvision_s": seconds["loader_batches"],
        "batches_only_speedup": seconds["loader_batches"] / seconds["device_batches"],
        # What the speed-up would be if on-device batches cost nothing: the model's own training
        # steps, which every pipeline pays, bound the epoch ratio on this device.
        "speedup_ceiling": seconds["loader"] / model_only if model_only > 0 else None,
    }  # fmt: skip
