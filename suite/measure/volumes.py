"""Accuracy of a trained model on turned test volumes: each of the cube's 24 rotations (exact),
and one uniformly random rotation of space per volume (trilinear), with the invariance error;
when the run's group is Oh, also each rotation after a mirror (the mirrored test volumes).

The 3-D counterpart of ``suite.measure.evaluate.measure``: the same tables (``metrics``,
``confusion``, ``correct``), with ``acc_o`` (``acc_o_mirror``) at each rotation's index in ``angle``.
"""

from __future__ import annotations

import torch
from scipy.spatial.transform import Rotation

from suite.data.groups import CUBE, get_group
from suite.data.images import ImageData
from suite.data.rotations import rotate_volumes
from suite.measure.evaluate import (
    EVAL_BATCH,
    RANDOM_ANGLE_SEED,
    Measured,
    computed_rows,
    confusion_rows,
    correct_row,
    invariance_error,
)
from suite.training.train import to_input


def random_rotations(count: int, seed: int = RANDOM_ANGLE_SEED) -> torch.Tensor:
    """``(count, 3, 3)`` rotation matrices, uniform on SO(3), from a fixed seed."""
    return torch.as_tensor(Rotation.random(count, random_state=seed).as_matrix(), dtype=torch.float32)


@torch.inference_mode()
def predict_volumes(model: torch.nn.Module, volumes: torch.Tensor, turn) -> torch.Tensor:  # noqa: ANN001
    """Predicted classes of uint8 ``volumes``, each batch turned by ``turn(x, start)``."""
    model.eval()
    out = []
    for start in range(0, len(volumes), EVAL_BATCH):
        out.append(model(turn(to_input(volumes[start : start + EVAL_BATCH]), start)).argmax(dim=1))
    return torch.cat(out)


def measure_volumes(
    model: torch.nn.Module, data: ImageData, invariance_batch: int, angles: list[float] | None = None
) -> tuple[list[dict], list[dict], list[dict]]:
    """Accuracy under each of the cube's rotations, their mean and minimum (and, for Oh data, under
    each rotation after a mirror, their mean and minimum), under one random rotation per volume,
    the invariance error over the run's group, and the upright and random confusions."""
    rows, correct_rows, acc = [], [], {"acc_o": [], "acc_o_mirror": []}
    group = get_group(data.group)
    for element in group.elements:
        predicted = predict_volumes(model, data.test_x, lambda x, _s, e=element: e.act(x))
        if element is CUBE.elements[0]:  # the identity
            upright = predicted
        correct = predicted == data.test_y
        acc[element.metric].append(100.0 * correct.float().mean().item())
        rows.append({"metric": element.metric, "angle": element.angle, "value": acc[element.metric][-1]})
        correct_rows.append(correct_row(element.metric, element.angle, correct))
    for metric, values in acc.items():
        if values:  # acc_o_mean, acc_o_min; acc_o_mirror_mean, acc_o_mirror_min on Oh data
            rows.append({"metric": f"{metric}_mean", "angle": "", "value": sum(values) / len(values)})
            rows.append({"metric": f"{metric}_min", "angle": "", "value": min(values)})
    matrices = random_rotations(len(data.test_x))
    random = predict_volumes(
        model, data.test_x, lambda x, s: rotate_volumes(x, matrices[s : s + len(x)].to(x.device))
    )
    correct = random == data.test_y
    rows.append({"metric": "acc_random", "angle": "", "value": 100.0 * correct.float().mean().item()})
    correct_rows.append(correct_row("acc_random", "", correct))
    invariance = invariance_error(model, data.test_x[:invariance_batch], group)
    rows.append({"metric": "invariance_err", "angle": "", "value": invariance})
    rows.extend(computed_rows(Measured(model, data, {0: upright})))
    return rows, confusion_rows({"upright": upright, "random": random}, data), correct_rows
