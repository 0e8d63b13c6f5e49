"""Accuracy of a trained model on rotated test digits, its invariance error and its confusions."""

from __future__ import annotations

import torch

from suite.errors import UsageError
from suite.rotations import rot90, rotate, rotate_exact_or_bilinear
from suite.train import to_input

C4_ANGLES = (0, 90, 180, 270)
DEFAULT_SWEEP = tuple(range(0, 360, 15))


def sweep(step: int) -> tuple[int, ...]:
    """Every ``step`` degrees from 0 to below 360."""
    return tuple(range(0, 360, step))


RANDOM_ANGLE_SEED = 20_240_601  # one fixed draw of angles for acc_random, the same for every run
EVAL_BATCH = 1000


def parse_angles(text: str) -> tuple[float, ...]:
    """``"0,45,90"`` or ``"0:360:15"`` (start:stop:step, stop excluded) → sorted angles in [0, 360)."""
    text = text.strip()
    try:
        if ":" in text:
            start, stop, step = (float(p) for p in text.split(":"))
            if step <= 0:
                raise ValueError
            count = int((stop - start) / step + 1e-9)
            values = [start + i * step for i in range(max(count, 0))]
        else:
            values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise UsageError(
            f"--angles {text!r}: expected degrees like 0,45,90 or start:stop:step like 0:360:15"
        ) from None
    if not values:
        raise UsageError(f"--angles {text!r}: no angles given")
    normalised = sorted({round(v % 360, 6) for v in values})
    return tuple(int(v) if float(v).is_integer() else v for v in normalised)


@torch.inference_mode()
def logits_of(
    model: torch.nn.Module,
    images: torch.Tensor,
    degrees: float | torch.Tensor = 0.0,
    batch_size: int = EVAL_BATCH,
) -> torch.Tensor:
    """Logits for uint8 ``images`` rotated by ``degrees`` (one angle, or one per image)."""
    model.eval()
    out = []
    per_image = isinstance(degrees, torch.Tensor) and degrees.dim() == 1
    for start in range(0, len(images), batch_size):
        x = to_input(images[start : start + batch_size])
        if per_image:
            x = rotate(x, degrees[start : start + batch_size].to(x.device))
        else:
            x = rotate_exact_or_bilinear(x, float(degrees))
        out.append(model(x).float())
    return torch.cat(out)


def predict(
    model: torch.nn.Module, images: torch.Tensor, degrees: float | torch.Tensor = 0.0
) -> torch.Tensor:
    return logits_of(model, images, degrees).argmax(dim=1)


def accuracy(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, degrees: float | torch.Tensor = 0.0
) -> float:
    """Accuracy in percent on ``images`` rotated by ``degrees``."""
    correct = (predict(model, images, degrees) == labels).sum().item()
    return 100.0 * correct / len(labels)


def random_angles(count: int, seed: int = RANDOM_ANGLE_SEED) -> torch.Tensor:
    """One uniform angle in [0°, 360°) per test image, from a fixed seed."""
    return torch.rand(count, generator=torch.Generator().manual_seed(seed)) * 360.0


def confusion(predicted: torch.Tensor, labels: torch.Tensor, classes: int = 10) -> torch.Tensor:
    """``(classes, classes)`` counts: row = true digit, column = predicted digit."""
    flat = labels.cpu() * classes + predicted.cpu()
    return torch.bincount(flat, minlength=classes * classes).view(classes, classes)


@torch.inference_mode()
def invariance_error(model: torch.nn.Module, images: torch.Tensor) -> float:
    """max |logits(rot90ᵏ x) − logits(x)| over the batch and k = 1, 2, 3, in eval mode."""
    model.eval()
    x = to_input(images)
    reference = model(x)
    return max((model(rot90(x, k)) - reference).abs().max().item() for k in (1, 2, 3))
