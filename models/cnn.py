"""The plain CNN, with and without rotation augmentation: the baselines."""

from __future__ import annotations

from torch import nn

from models._budget import fit_widths
from models._layers import CNN_WIDTHS, PlainCNN, plain_cnn_params
from suite.registry import register


def build_plain_cnn(budget: int | None = None) -> nn.Module:
    """The tutorial's widths, or widths scaled to ``budget`` parameters."""
    widths = CNN_WIDTHS if budget is None else fit_widths(CNN_WIDTHS, plain_cnn_params, budget)
    return PlainCNN(widths)


@register(
    "cnn",
    description="plain CNN, no augmentation: the baseline that fails on rotated digits",
    family="baseline",
    core=True,
)
def cnn(budget: int | None = None) -> nn.Module:
    return build_plain_cnn(budget)


@register(
    "cnn-aug",
    description="the same CNN trained on inputs rotated by random multiples of 90°",
    family="baseline",
    augment="c4",
    core=True,
)
def cnn_aug(budget: int | None = None) -> nn.Module:
    return build_plain_cnn(budget)


@register(
    "cnn-aug-so2",
    description="the same CNN trained on inputs rotated by uniformly random angles (bilinear)",
    family="baseline",
    augment="so2",
)
def cnn_aug_so2(budget: int | None = None) -> nn.Module:
    return build_plain_cnn(budget)
