"""A data set in memory: uint8 images and int64 labels per split, with where they came from."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from suite.errors import SuiteError
from suite.task import Task

DIGITS = tuple(str(d) for d in range(10))
VALIDATION_FRACTION = 0.1  # of the training images, for a data set with no validation split of its own
MIN_VALIDATION = 100  # fewer validation images cannot tell two choices apart (±5 points at 95%)


def channels_first(images: np.ndarray) -> np.ndarray:
    """``(N, H, W)`` gray → ``(N, 1, H, W)``; ``(N, H, W, C)`` (MedMNIST's and PIL's order) →
    ``(N, C, H, W)``; ``(N, C, D, H, W)`` volumes and ``(N, C, H, W)`` with a leading channel axis
    are the caller's to declare, so only these two layouts are accepted here."""
    if images.ndim == 3:
        return images[:, None]
    if images.ndim == 4:
        return np.moveaxis(images, -1, 1)
    raise ValueError(f"images of shape {images.shape}: expected (N, H, W) or (N, H, W, C)")


@dataclass(frozen=True)
class ImageData:
    """Train and test splits as uint8 images ``(N, C, *spatial)`` (``(N, 1, 28, 28)`` for MNIST)
    and int64 labels; ``classes`` names label k as ``classes[k]``; ``source`` says where the
    arrays came from; ``val_x``/``val_y``: the data set's own validation split, if it has one;
    ``group``: the symmetry the suite measures on it (``suite.groups``)."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str
    name: str = "mnist"
    classes: tuple[str, ...] = DIGITS
    val_x: torch.Tensor | None = None
    val_y: torch.Tensor | None = None
    group: str = "C4"

    @classmethod
    def from_arrays(
        cls,
        arrays: dict[str, np.ndarray],
        source: str,
        name: str,
        classes: tuple[str, ...],
        group: str = "C4",
    ) -> ImageData:
        """From verified uint8 arrays (``train_x``, ``train_y``, ``test_x``, ``test_y``, and
        optionally ``val_x``, ``val_y``), images as ``(N, H, W)`` or ``(N, H, W, C)``."""

        def images(key: str) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(channels_first(arrays[key]), dtype=np.uint8))

        def labels(key: str) -> torch.Tensor:
            return torch.from_numpy(np.asarray(arrays[key]).reshape(-1).astype(np.int64))

        has_val = "val_x" in arrays
        return cls(
            images("train_x"), labels("train_y"), images("test_x"), labels("test_y"), source, name,
            classes, images("val_x") if has_val else None, labels("val_y") if has_val else None, group,
        )  # fmt: skip

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def spatial(self) -> tuple[int, ...]:
        """``(H, W)``, or ``(D, H, W)`` for volumes."""
        return tuple(int(s) for s in self.train_x.shape[2:])

    @property
    def task(self) -> Task:
        """What a variant is built for on this data: shape, channels, classes, measured group."""
        return Task(self.spatial, self.channels, len(self.classes), self.group)

    def subset(self, n_train: int, n_test: int) -> ImageData:
        """The first ``n_train`` / ``n_test`` images (the smoke profile's few hundred)."""
        return replace(
            self,
            train_x=self.train_x[:n_train],
            train_y=self.train_y[:n_train],
            test_x=self.test_x[:n_test],
            test_y=self.test_y[:n_test],
            source=f"{self.source} (first {n_train} train / {n_test} test)",
        )

    def validation_view(self, n: int | None = None) -> ImageData:
        """The development split: the test images are not part of it, so nothing that tunes or
        selects can read them. The data set's own validation split where it has one; otherwise
        train on all but the last ``n`` training images and evaluate on those (MNIST's classic
        50k/10k), ``n`` defaulting to a tenth of them."""
        if self.val_x is not None and self.val_y is not None:
            return replace(
                self, test_x=self.val_x, test_y=self.val_y, val_x=None, val_y=None,
                source=f"{self.source}; validation split: its own {len(self.val_x):,} validation images",
            )  # fmt: skip
        total = len(self.train_x)
        n = round(VALIDATION_FRACTION * total) if n is None else n
        if n < MIN_VALIDATION or total - n < n:
            raise SuiteError(
                f"{self.name}: {total:,} training images are too few to hold out a validation split "
                f"of at least {MIN_VALIDATION} images (it would be {n:,}); use more data, or the "
                "test split (no tuning)"
            )
        cut = total - n
        return replace(
            self,
            train_x=self.train_x[:cut],
            train_y=self.train_y[:cut],
            test_x=self.train_x[cut:],
            test_y=self.train_y[cut:],
            source=f"{self.source}; validation split: train on the first {cut:,}, evaluate on the last {n:,}",
        )

    def first_train(self, n: int) -> ImageData:
        """Only the first ``n`` training images (a smaller training set; evaluation unchanged)."""
        return replace(self, train_x=self.train_x[:n], train_y=self.train_y[:n])

    def to(self, device: torch.device | str) -> ImageData:
        """All tensors moved to ``device`` once (pinned first when the target is CUDA)."""
        device = torch.device(device)
        moved = {
            key: to_device(getattr(self, key), device)
            for key in ("train_x", "train_y", "test_x", "test_y", "val_x", "val_y")
            if getattr(self, key) is not None
        }
        return replace(self, **moved)


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on ``device`` without making the host wait (pinned, non-blocking on CUDA)."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)
