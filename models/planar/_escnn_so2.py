"""The escnn-so2 model (imported only when built): escnn's continuous-rotation CNN on
``rot2dOnR2(N=-1)``, band-limited fields and a Fourier nonlinearity, in the tutorial layout.

Every hidden field is a band-limited regular field of SO(2): the irreps of frequency 0..L
(``spectral_regular_representation``), i.e. the Fourier coefficients of a function on the circle of
rotations. The nonlinearity samples that function on ``GRID`` equally spaced rotations, applies SiLU
there and projects back (``FourierPointwise``): approximately SO(2)-equivariant, and exactly
equivariant to every rotation in the grid, so to quarter turns when ``GRID`` is a multiple of 4.
The last Fourier nonlinearity projects onto frequency 0 only: the invariant read-out.

Exact C4 on the pixel grid: R2Conv's steerable filters sampled on a square grid turn with it;
2×2 average pooling of even maps (28 → 14 → 7) maps the grid onto itself and, being linear and
per channel, commutes with any field's rotation. escnn's ``PointwiseAvgPoolAntialiased`` with stride
2 would not: its odd blur filter samples the even pixels (0, 2, …, 26), which a quarter turn about
the image centre sends to odd ones.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from models._budget import fit_widths
from models._escnn_tables import enn, gspaces
from models.planar._escnn_fused import FusedR2Conv
from models.planar._layers import GlobalAveragePool, matched_budget
from suite.task import TUTORIAL, Task

MAX_FREQUENCY = 2  # band limit L: fields carry the SO(2) irreps of frequency 0..L (5 channels)
GRID = 12  # rotations the Fourier nonlinearity samples: a multiple of 4, so quarter turns are exact
BASE_FIELDS = (4, 8, 8)
# fit_fields(13_978): 13,553 parameters; stored so builds skip the search (the tests check it)
TUTORIAL_FIELDS = (7, 13, 13)


class FourierSiLU(enn.FourierPointwise):
    """escnn's Fourier nonlinearity with SiLU (the suite's activation) on ``GRID`` rotations;
    ``invariant=True`` keeps only frequency 0 of the result (an invariant scalar per field)."""

    def __init__(self, gspace: gspaces.GSpace2D, channels: int, invariant: bool = False):
        irreps = gspace.fibergroup.bl_irreps(MAX_FREQUENCY)
        out = [(0,)] if invariant else None
        super().__init__(gspace, channels, irreps, out_irreps=out, function="p_relu", type="regular", N=GRID)
        self._function = F.silu


def _conv(in_type: enn.FieldType, out_type: enn.FieldType, kernel: int, padding: int) -> enn.R2Conv:
    """An R2Conv initialised with escnn's He init, cached (the default init is slow when wide)."""
    conv = FusedR2Conv(in_type, out_type, kernel, padding=padding, initialize=False)
    enn.init.generalized_he_init(conv.weights.data, conv.basisexpansion, cache=True)
    return conv


def _gspace() -> gspaces.GSpace2D:
    return gspaces.rot2dOnR2(N=-1)


class EscnnSO2CNN(nn.Module):
    """conv3×3 → Fourier SiLU → avg-pool 2 → conv3×3 → Fourier SiLU → avg-pool 2 → conv7×7 →
    Fourier SiLU to frequency 0 (invariant) → dense.

    No ``export``: escnn's ``FourierPointwise`` and ``PointwiseAvgPool2D`` have none.
    """

    def __init__(self, fields: tuple[int, int, int], num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.fields = tuple(fields)
        gspace = _gspace()
        self.in_type = enn.FieldType(gspace, [gspace.trivial_repr] * in_channels)
        acts = [FourierSiLU(gspace, n) for n in self.fields[:2]]
        readout = FourierSiLU(gspace, self.fields[2], invariant=True)
        hidden = [act.in_type for act in acts]
        self.features = enn.SequentialModule(
            _conv(self.in_type, hidden[0], 3, padding=1),
            acts[0],
            enn.PointwiseAvgPool2D(hidden[0], 2),
            _conv(hidden[0], hidden[1], 3, padding=1),
            acts[1],
            enn.PointwiseAvgPool2D(hidden[1], 2),
            _conv(hidden[1], readout.in_type, 7, padding=0),
            readout,
        )
        self.pool = GlobalAveragePool()  # 1×1 at 28×28: the tutorial's flatten
        self.head = nn.Linear(self.fields[2], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(enn.GeometricTensor(x, self.in_type)).tensor
        return self.head(self.pool(features))


@functools.cache
def _pair_dims() -> tuple[int, int, int, int]:
    """Free parameters of one field pair in each layer (lifting, 3×3, 7×7) and per-field bias
    (one: only the frequency-0 channel of a field takes a bias)."""
    from models.planar._escnn import field_pair_dims

    return field_pair_dims(FourierSiLU(_gspace(), 1).in_type)


def param_count(fields: tuple[int, ...], num_classes: int = 10, in_channels: int = 1) -> int:
    """Parameters of ``EscnnSO2CNN`` without building it (R2Conv cannot be built on the meta
    device; see ``models.planar._escnn.param_count``): the basis of each layer has a fixed size per field
    pair (checked against built models by the tests)."""
    from models.planar._escnn import layout_param_count

    return layout_param_count(_pair_dims(), fields, num_classes, in_channels)


def fit_fields(budget: int, task: Task = TUTORIAL) -> tuple[int, ...]:
    return fit_widths(BASE_FIELDS, lambda f: param_count(f, task.classes, task.channels), budget)


def build_escnn_so2(budget: int | None = None, task: Task = TUTORIAL) -> EscnnSO2CNN:
    """Field counts scaled so the parameters land closest to ``budget`` (matched per task)."""
    budget = matched_budget(budget, task)
    fields = TUTORIAL_FIELDS if budget is None else fit_fields(budget, task)
    return EscnnSO2CNN(fields, task.classes, task.channels)  # type: ignore[arg-type]
