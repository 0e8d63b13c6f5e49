"""A data set in memory: uint8 images and int64 labels per split, with where they came from."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

DIGITS = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class ImageData:
    """Train and test splits as uint8 images ``(N, 28, 28)`` and int64 labels; ``classes`` names
    label k as ``classes[k]``; ``source`` says where the arrays came from."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str
    name: str = "mnist"
    classes: tuple[str, ...] = DIGITS

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], source: str, name: str, classes: tuple[str, ...]
    ) -> ImageData:
        """From verified uint8 arrays (``train_x``, ``train_y``, ``test_x``, ``test_y``)."""
        return cls(
            torch.from_numpy(np.ascontiguousarray(arrays["train_x"], dtype=np.uint8)),
            torch.from_numpy(arrays["train_y"].astype(np.int64)),
            torch.from_numpy(np.ascontiguousarray(arrays["test_x"], dtype=np.uint8)),
            torch.from_numpy(arrays["test_y"].astype(np.int64)),
            source,
            name,
            classes,
        )

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

    def validation_view(self, n: int) -> ImageData:
        """The development split: train on all but the last ``n`` training images, evaluate on those
        ``n`` (MNIST's classic 50k/10k). The test images are not part of it: nothing that tunes or
        selects can read them."""
        if not 0 < n < len(self.train_x):
            raise ValueError(f"a validation split of {n} needs more than {n} training images")
        cut = len(self.train_x) - n
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
        """All four tensors moved to ``device`` once (pinned first when the target is CUDA)."""
        device = torch.device(device)
        return replace(
            self,
            train_x=to_device(self.train_x, device),
            train_y=to_device(self.train_y, device),
            test_x=to_device(self.test_x, device),
            test_y=to_device(self.test_y, device),
        )


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on ``device`` without making the host wait (pinned, non-blocking on CUDA)."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)
