"""Accuracy of a trained model on rotated test digits, and its measured invariance error."""

from __future__ import annotations

import torch

from suite.rotations import rot90, rotate_exact_or_bilinear
from suite.train import to_input

C4_ANGLES = (0, 90, 180, 270)


@torch.inference_mode()
def predict(
    model: torch.nn.Module, images: torch.Tensor, degrees: float = 0.0, batch_size: int = 1000
) -> torch.Tensor:
    """Predicted labels for uint8 ``images`` rotated by ``degrees`` (exact at multiples of 90°)."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = rotate_exact_or_bilinear(to_input(images[start : start + batch_size]), degrees)
        out.append(model(x).argmax(dim=1))
    return torch.cat(out)


def accuracy(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, degrees: float = 0.0
) -> float:
    """Accuracy in percent on ``images`` rotated by ``degrees``."""
    correct = (predict(model, images, degrees) == labels).sum().item()
    return 100.0 * correct / len(labels)


@torch.inference_mode()
def invariance_error(model: torch.nn.Module, images: torch.Tensor) -> float:
    """max |logits(rot90ᵏ x) − logits(x)| over the batch and k = 1, 2, 3, in eval mode."""
    model.eval()
    x = to_input(images)
    reference = model(x)
    return max((model(rot90(x, k)) - reference).abs().max().item() for k in (1, 2, 3))
