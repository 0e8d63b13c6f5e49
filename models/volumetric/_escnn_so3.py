"""escnn's steerable CNN over every rotation of space: ``rot3dOnR3`` fields band-limited to
frequency ``BAND`` (each field SO(3)'s band-limited regular representation), ``R3Conv``, a Fourier
ReLU sampled on the cube's 24 rotations (so exact for them, SO(3) approximately), 2×2×2 average
pooling 16³ → 8³ → 4³ (linear, so equivariant for any field), then a 4³ convolution to invariant
(frequency-0) channels read out by a dense layer. Frequencies up to 1 (10 dimensions a field):
24 samples determine them, so the Fourier ReLU loses nothing to its grid."""

from __future__ import annotations

import functools

import torch
from torch import nn

from models._budget import fit_widths
from models._escnn_tables import enn, gspaces
from models.planar._escnn import rebuilt_state_keys
from models.volumetric._layers3d import CNN3D_WIDTHS, cnn3d_params
from suite.task import Task

BAND = 1  # frequencies 0-1: 1 + 9 = 10 dimensions per field, which 24 samples determine
KERNELS = (3, 3, 4)  # the tutorial's 3³ kernels, then a read-out over the 4³ grid
BASE = (4, 8, 96)  # SO(3) fields, SO(3) fields, invariant channels, scaled to the budget


@functools.cache
def _gspace():  # noqa: ANN202 - an escnn GSpace
    return gspaces.rot3dOnR3()


def _field_type(kind: str, count: int):  # noqa: ANN202 - an escnn FieldType
    gspace = _gspace()
    if kind == "trivial":
        return enn.FieldType(gspace, [gspace.trivial_repr] * count)
    return enn.FourierPointwise(gspace, count, gspace.fibergroup.bl_irreps(BAND), type="cube").in_type


@functools.cache
def _unit_weights() -> tuple[int, int, int]:
    """Free weights of one field pair per convolution: trivial → SO(3) field (3³), SO(3) → SO(3)
    field (3³), SO(3) field → invariant channel (4³)."""
    pairs = (("trivial", "field"), ("field", "field"), ("field", "trivial"))
    return tuple(  # type: ignore[return-value]
        enn.R3Conv(_field_type(a, 1), _field_type(b, 1), kernel_size=k, bias=False).basisexpansion.dimension()
        for (a, b), k in zip(pairs, KERNELS, strict=True)
    )


def param_count(widths: tuple[int, ...], classes: int, channels: int) -> int:
    """Parameters without building the model: weights per field pair, one bias per output field
    (its frequency-0 part) and the dense read-out."""
    first, middle, last = _unit_weights()
    c1, c2, c3 = widths
    return channels * c1 * first + c1 * c2 * middle + c2 * c3 * last + c1 + c2 + c3 + c3 * classes + classes


class EscnnSO3(nn.Module):
    def __init__(self, widths: tuple[int, ...], classes: int, channels: int) -> None:
        super().__init__()
        self.in_type = _field_type("trivial", channels)
        layers: list[enn.EquivariantModule] = []
        current = self.in_type
        for width, kernel in zip(widths[:2], KERNELS[:2], strict=True):
            irreps = _gspace().fibergroup.bl_irreps(BAND)
            act = enn.FourierPointwise(_gspace(), width, irreps, function="p_relu", type="cube")
            layers += [enn.R3Conv(current, act.in_type, kernel_size=kernel, padding=kernel // 2), act,
                       enn.PointwiseAvgPool3D(act.out_type, 2)]  # fmt: skip
            current = act.out_type
        layers.append(enn.R3Conv(current, _field_type("trivial", widths[2]), kernel_size=KERNELS[2]))
        self.features = enn.SequentialModule(*layers)
        # no ReLU here: with one, about half the invariant channels stayed negative for every input
        # at an initialisation, and their weights never learned (suite check: 1,410 dead entries)
        self.head = nn.Linear(widths[2], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        invariant = self.features(enn.GeometricTensor(x, self.in_type)).tensor
        return self.head(invariant.flatten(1))

    def rebuilt_state_keys(self) -> set[str]:
        """escnn's sampled bases, recomputed by every build: kept out of weights files."""
        return rebuilt_state_keys(self)


def build_escnn_so3(budget: int | None, task: Task) -> EscnnSO3:
    target = budget or cnn3d_params(CNN3D_WIDTHS, task.classes, task.channels)
    widths = fit_widths(BASE, lambda w: param_count(w, task.classes, task.channels), target)
    return EscnnSO3(widths, task.classes, task.channels)
