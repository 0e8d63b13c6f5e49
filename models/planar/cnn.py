"""The plain CNN, with and without rotation augmentation: the baselines."""

from __future__ import annotations

from torch import nn

from models._budget import fit_widths
from models.planar._layers import CNN_WIDTHS, PlainCNN, plain_cnn_params
from suite.registry import register
from suite.task import TUTORIAL, Task, require_square_size


def build_plain_cnn(budget: int | None = None, task: Task = TUTORIAL, name: str = "cnn") -> nn.Module:
    """The tutorial's widths, or widths scaled to ``budget`` parameters, for ``task``."""
    require_square_size(task, name)
    if budget is None:
        widths = CNN_WIDTHS
    else:
        widths = fit_widths(CNN_WIDTHS, lambda w: plain_cnn_params(w, task.classes, task.channels), budget)
    return PlainCNN(widths, task.classes, task.channels)


@register(
    "cnn",
    description="plain CNN, no augmentation: the baseline that fails on rotated digits",
    family="baseline",
    core=True,
)
def cnn(budget: int | None = None, task: Task = TUTORIAL) -> nn.Module:
    return build_plain_cnn(budget, task, "cnn")


@register(
    "cnn-aug",
    description="the same CNN trained on inputs rotated by random multiples of 90°",
    family="baseline",
    augment="c4",
    core=True,
)
def cnn_aug(budget: int | None = None, task: Task = TUTORIAL) -> nn.Module:
    return build_plain_cnn(budget, task, "cnn-aug")


@register(
    "cnn-aug-so2",
    description="the same CNN trained on inputs rotated by uniformly random angles (bilinear)",
    family="baseline",
    augment="so2",
)
def cnn_aug_so2(budget: int | None = None, task: Task = TUTORIAL) -> nn.Module:
    return build_plain_cnn(budget, task, "cnn-aug-so2")
