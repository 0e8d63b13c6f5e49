"""Accuracy of a trained model on rotated test digits, its invariance error and its confusions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from suite.correctness import encode
from suite.data.groups import C4, Group, get_group
from suite.data.images import ImageData
from suite.data.rotations import rotate, rotate_exact_or_bilinear
from suite.declared import METRICS
from suite.errors import UsageError
from suite.training.train import to_input

C4_ANGLES = (0, 90, 180, 270)
SAMPLE_ANGLES = (0, 45, 90, 135, 180)  # the prediction grid of digit_predictions.png
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
            f"{text!r}: expected degrees like 0,45,90 or start:stop:step like 0:360:15", param="angles"
        ) from None
    if not values:
        raise UsageError(f"{text!r}: no angles given", param="angles")
    normalised = sorted({round(v % 360, 6) for v in values})
    return tuple(int(v) if float(v).is_integer() else v for v in normalised)


@torch.inference_mode()
def logits_of(
    model: torch.nn.Module,
    images: torch.Tensor,
    degrees: float | torch.Tensor = 0.0,
    batch_size: int = EVAL_BATCH,
    mirror: bool = False,
) -> torch.Tensor:
    """Logits for uint8 ``images`` rotated by ``degrees`` (one angle, or one per image), after a
    left-right mirror when ``mirror``."""
    model.eval()
    out = []
    per_image = isinstance(degrees, torch.Tensor) and degrees.dim() == 1
    for start in range(0, len(images), batch_size):
        x = to_input(images[start : start + batch_size])
        if mirror:
            x = x.flip(-1)
        if per_image:
            x = rotate(x, degrees[start : start + batch_size].to(x.device))
        else:
            x = rotate_exact_or_bilinear(x, float(degrees))
        out.append(model(x).float())
    return torch.cat(out)


def predict(
    model: torch.nn.Module, images: torch.Tensor, degrees: float | torch.Tensor = 0.0, mirror: bool = False
) -> torch.Tensor:
    return logits_of(model, images, degrees, mirror=mirror).argmax(dim=1)


def accuracy(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, degrees: float | torch.Tensor = 0.0
) -> float:
    """Accuracy in percent on ``images`` rotated by ``degrees``."""
    correct = (predict(model, images, degrees) == labels).sum().item()
    return 100.0 * correct / len(labels)


def random_angles(count: int, seed: int = RANDOM_ANGLE_SEED) -> torch.Tensor:
    """One uniform angle in [0°, 360°) per test image, from a fixed seed."""
    return torch.rand(count, generator=torch.Generator().manual_seed(seed)) * 360.0


@dataclass(frozen=True)
class Measured:
    """What a metric's computation may read: the model (eval mode), the evaluation images and
    the predictions already made at each measured angle (so most metrics cost no extra pass)."""

    model: torch.nn.Module
    data: ImageData
    predictions: dict[float, torch.Tensor]


COMPUTED: dict[str, Callable[[Measured], float]] = {}


def measured(name: str) -> Callable[[Callable[[Measured], float]], Callable[[Measured], float]]:
    """Register the computation of the declared scalar metric ``name`` (``suite.declared``): every
    unit then writes its value to ``metrics.csv``, and the summary shows it where declared so.
    Adding a metric is its declaration and this one decorated function."""

    def register(compute: Callable[[Measured], float]) -> Callable[[Measured], float]:
        if name not in METRICS:
            raise ValueError(f"metric {name!r} is not declared: declare_metric(Metric({name!r}, ...)) first")
        COMPUTED[name] = compute
        return compute

    return register


def balanced_accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    """The mean over classes of each class's accuracy, in percent: on an imbalanced set a model
    that always answers the largest class scores its share in plain accuracy, 1/K here."""
    per_class = [(predicted[labels == c] == c).float().mean().item() for c in labels.unique().tolist()]
    return 100.0 * sum(per_class) / len(per_class)


@measured("acc_balanced")
def acc_balanced(m: Measured) -> float:
    """Upright accuracy per class, averaged: what an imbalanced set's plain accuracy hides."""
    return balanced_accuracy(m.predictions[0], m.data.test_y)


def confusion(predicted: torch.Tensor, labels: torch.Tensor, classes: int = 10) -> torch.Tensor:
    """``(classes, classes)`` counts: row = true digit, column = predicted digit."""
    flat = labels.cpu() * classes + predicted.cpu()
    return torch.bincount(flat, minlength=classes * classes).view(classes, classes)


@torch.inference_mode()
def invariance_error(model: torch.nn.Module, images: torch.Tensor, group: Group = C4) -> float:
    """max |logits(g x) − logits(x)| over the batch and the group's other elements, in eval mode."""
    model.eval()
    x = to_input(images)
    reference = model(x)
    return max((model(e.act(x)) - reference).abs().max().item() for e in group.elements[1:])


def correct_row(metric: str, angle: float | str, correct: torch.Tensor, epoch: int | str = "") -> dict:
    """Which images were right under one condition, packed (``suite.correctness``)."""
    return {
        "epoch": epoch, "metric": metric, "angle": angle, "images": len(correct),
        "bits": encode(correct.cpu().numpy()),
    }  # fmt: skip


def measure(
    model: torch.nn.Module, data: ImageData, invariance_batch: int, angles: list[float]
) -> tuple[list[dict], list[dict], list[dict]]:
    """Accuracy over the angle sweep (exact at quarter turns), C4 mean and minimum, random-angle
    accuracy, invariance error; confusion counts at 90° and at random angles; and which images
    were right under each condition (for paired comparisons)."""
    rows, correct_rows = [], []
    acc = {}
    predictions = {}
    for angle in sorted(set(angles) | set(C4_ANGLES)):
        predictions[angle] = predict(model, data.test_x, angle)
        correct = predictions[angle] == data.test_y
        acc[angle] = 100.0 * correct.sum().item() / len(data.test_y)
        rows.append({"metric": "acc", "angle": angle, "value": acc[angle]})
        correct_rows.append(correct_row("acc", angle, correct))
    c4 = [acc[a] for a in C4_ANGLES]
    rows.append({"metric": "acc_c4_mean", "angle": "", "value": sum(c4) / 4})
    rows.append({"metric": "acc_c4_min", "angle": "", "value": min(c4)})
    group = get_group(data.group)
    if group.mirrors:  # a data set whose mirror images share a class: the reflections too
        mirrored = []
        for element in group.mirrors:
            correct = predict(model, data.test_x, element.angle, mirror=True) == data.test_y
            mirrored.append(100.0 * correct.sum().item() / len(data.test_y))
            rows.append({"metric": element.metric, "angle": element.angle, "value": mirrored[-1]})
            correct_rows.append(correct_row(element.metric, element.angle, correct))
        every = c4 + mirrored
        name = group.name.lower()
        rows.append({"metric": f"acc_{name}_mean", "angle": "", "value": sum(every) / len(every)})
        rows.append({"metric": f"acc_{name}_min", "angle": "", "value": min(every)})
    random_pred = predict(model, data.test_x, random_angles(len(data.test_x)))
    random_correct = random_pred == data.test_y
    random_acc = 100.0 * random_correct.float().mean().item()
    rows.append({"metric": "acc_random", "angle": "", "value": random_acc})
    correct_rows.append(correct_row("acc_random", "", random_correct))
    invariance = invariance_error(model, data.test_x[:invariance_batch], group)
    rows.append({"metric": "invariance_err", "angle": "", "value": invariance})
    rows.extend(computed_rows(Measured(model, data, predictions)))
    conditions = {"upright": predictions[0], "rot90": predictions[90], "random": random_pred}
    return rows, confusion_rows(conditions, data), correct_rows


def computed_rows(outcome: Measured) -> list[dict]:
    """A row for each metric added through :func:`measured`."""
    return [
        {"metric": name, "angle": "", "value": float(compute(outcome))} for name, compute in COMPUTED.items()
    ]


def confusion_rows(conditions: dict[str, torch.Tensor], data: ImageData) -> list[dict]:
    """Confusion counts (true, predicted) of each condition's predictions, zeros left out."""
    classes = len(data.classes)
    rows = []
    for condition, predicted in conditions.items():
        counts = confusion(predicted, data.test_y, classes)
        rows.extend(
            {"condition": condition, "true": t, "predicted": p, "count": int(counts[t, p])}
            for t in range(classes)
            for p in range(classes)
            if counts[t, p] > 0
        )
    return rows


def sample_indices(labels: torch.Tensor) -> list[int]:
    """The first test digit of each class, for the prediction grid."""
    return [int((labels == c).nonzero()[0]) for c in range(int(labels.max()) + 1) if (labels == c).any()]


def sample_rows(data: ImageData) -> list[dict]:
    """The sample digits' pixels (hex), so plots need neither the data set nor a model (images
    only: volumes have no sample grid)."""
    if len(data.spatial) != 2:
        return []
    return [
        {"index": i, "label": int(data.test_y[i]), "pixels_hex": data.test_x[i].cpu().numpy().tobytes().hex()}
        for i in sample_indices(data.test_y)
    ]


def sample_predictions(model: torch.nn.Module, data: ImageData) -> list[dict]:
    """The model's prediction for each sample digit at each of :data:`SAMPLE_ANGLES`."""
    indices = sample_indices(data.test_y)
    images = data.test_x[indices]
    rows = []
    for angle in SAMPLE_ANGLES:
        predicted = predict(model, images, angle).tolist()
        rows.extend(
            {"index": i, "label": int(data.test_y[i]), "angle": angle, "predicted": p}
            for i, p in zip(indices, predicted, strict=True)
        )
    return rows
