"""The tutorial layout built from escnn's modules on any gspace, with regular fields: planar
(``R2Conv``) or, with a 4³ read-out, volumetric (``R3Conv``, ``models/volumetric/_escnn3d.py``)."""

from __future__ import annotations

import copy
import functools

import torch
import torch.nn.functional as F
from torch import nn

from models._budget import fit_widths
from models._escnn_tables import BasisManager, enn, gspaces
from models.planar._escnn_fused import FusedR2Conv, FusedR3Conv
from models.planar._layers import GlobalAveragePool, matched_budget
from suite.task import TUTORIAL, Task

BASE_FIELDS = (4, 8, 8)


class PointwiseSiLU(enn.PointwiseNonLinearity):
    """escnn's pointwise nonlinearity with SiLU, so every variant shares one activation."""

    def __init__(self, in_type: enn.FieldType):
        super().__init__(in_type, function="p_relu")
        self._function = F.silu

    def export(self) -> nn.Module:
        self.eval()
        return nn.SiLU()


CONVS = {2: FusedR2Conv, 3: FusedR3Conv}  # by the gspace's dimension: images or volumes
POOLS = {2: enn.PointwiseMaxPool2D, 3: enn.PointwiseMaxPool3D}
# He variances per layer kind (gspace, field types, kernel). escnn's own cache (cached_he_vars) finds
# a rebuilt layer's entry by comparing sampled bases with torch.allclose: on fullOctaOnR3's bases
# (hundreds of MB) that look-up took 7 of a rebuild's 10 s.
HE_VARIANCES: dict[tuple, torch.Tensor] = {}


def _conv(
    in_type: enn.FieldType, out_type: enn.FieldType, kernel: int, padding: int
) -> enn.EquivariantModule:
    """An R2Conv (R3Conv on volumes) initialised with escnn's He init, cached (the default init is
    slow when wide), expanding its filter in one matmul (``models.planar._escnn_fused``)."""
    conv = CONVS[in_type.gspace.dimensionality](in_type, out_type, kernel, padding=padding, initialize=False)
    fields = (tuple(r.name for r in t.representations) for t in (in_type, out_type))
    key = (in_type.gspace.name, *fields, kernel)
    if key not in HE_VARIANCES:
        enn.init.generalized_he_init(conv.weights.data, conv.basisexpansion, cache=True)
        HE_VARIANCES[key] = enn.init.cached_he_vars[conv.basisexpansion]
    else:  # generalized_he_init's own draw, without its cache look-up (see HE_VARIANCES)
        conv.weights.data[:] = HE_VARIANCES[key] * torch.randn_like(conv.weights)
    return conv


class EscnnCNN(nn.Module):
    """conv3×3 → SiLU → pool → conv3×3 → SiLU → pool → conv7×7 → SiLU → group pool → dense (on
    volumes conv3³ → … → conv4³: ``last_kernel``)."""

    def __init__(
        self,
        gspace: gspaces.GSpace,
        fields: tuple[int, int, int],
        num_classes: int = 10,
        in_channels: int = 1,
        last_kernel: int = 7,
    ):
        super().__init__()
        self.fields = tuple(fields)
        regular = [enn.FieldType(gspace, [gspace.regular_repr] * n) for n in self.fields]
        self.in_type = enn.FieldType(gspace, [gspace.trivial_repr] * in_channels)
        pool = POOLS[gspace.dimensionality]
        self.features = enn.SequentialModule(
            _conv(self.in_type, regular[0], 3, padding=1),
            PointwiseSiLU(regular[0]),
            pool(regular[0], 2),
            _conv(regular[0], regular[1], 3, padding=1),
            PointwiseSiLU(regular[1]),
            pool(regular[1], 2),
            _conv(regular[1], regular[2], last_kernel, padding=0),
            PointwiseSiLU(regular[2]),
            enn.GroupPooling(regular[2]),
        )
        self.pool = GlobalAveragePool()  # 1×1 at 28×28 (1³ at 16³): the tutorial's flatten
        self.head = nn.Linear(self.fields[2], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(enn.GeometricTensor(x, self.in_type)).tensor
        return self.head(self.pool(features))

    def __deepcopy__(self, memo: dict) -> EscnnCNN:
        """A copy that shares escnn's immutable objects (gspaces, groups, field types,
        representations, kernel bases) and sampled bases: deep-copying the cube's groups fails (a dict
        keyed by group elements is hashed before its keys are rebuilt), and fullOctaOnR3's bases
        take hundreds of MB. Parameters and other buffers are copied."""
        for module in self.modules():
            memo.update({id(item): item for item in _escnn_objects(vars(module))})
            if hasattr(module, "sampled_basis"):  # escnn's SingleBlockBasisExpansion
                memo.update({id(item): item for item in (module.basis, module.sampled_basis)})
        copied = type(self).__new__(type(self))
        memo[id(self)] = copied
        copied.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return copied

    def rebuilt_state_keys(self) -> set[str]:
        """State-dict keys that building the model recomputes (``suite.runs.weights``): kept out
        of its weights files, which they would swell (47 MB of sampled bases per escnn-o unit)."""
        return rebuilt_state_keys(self)

    def export(self) -> nn.Module:
        """A plain-PyTorch copy (expanded filters as ``Conv2d``, ``Conv3d`` on volumes) computing the
        same function."""
        self.eval()
        return nn.Sequential(self.features.export(), self.pool, self.head)


def rebuilt_state_keys(model: nn.Module) -> set[str]:
    """The buffers escnn computes from the field types as it builds a convolution, the same on
    every build: the sampled bases and index maps of its basis expansions and each convolution's
    bias expansion. Training changes none of them."""
    keys: set[str] = set()
    for prefix, module in model.named_modules():
        dotted = f"{prefix}." if prefix else ""
        if isinstance(module, BasisManager):
            keys.update(f"{dotted}{name}" for name, _ in module.named_buffers())
        elif isinstance(module, enn.modules.conv._RdConv) and module.bias is not None:
            keys.add(f"{dotted}bias_expansion")
    return keys


def _escnn_objects(value: object) -> list[object]:
    """escnn's non-module objects in ``value`` and the lists, tuples and dicts it holds."""
    if isinstance(value, dict):
        return [item for v in value.values() for item in _escnn_objects(v)]
    if isinstance(value, list | tuple):
        return [item for v in value for item in _escnn_objects(v)]
    escnn_made = type(value).__module__.startswith("escnn.")
    return [value] if escnn_made and not isinstance(value, nn.Module) else []


@functools.cache
def _pair_dims(group: str) -> tuple[int, int, int, int]:
    """Free parameters of one field pair in each layer (lifting, 3×3, 7×7) and per-field bias."""
    gspace = GSPACES[group]()
    return field_pair_dims(enn.FieldType(gspace, [gspace.regular_repr]))


def field_pair_dims(one: enn.FieldType, last_kernel: int = 7) -> tuple[int, int, int, int]:
    """Free parameters of one field of type ``one`` per layer of the tutorial layout (lifting from
    the image, 3×3, 7×7; on volumes 3³, 3³, ``last_kernel``³) and the biases of one field: the
    building blocks of a parameter count."""
    trivial = enn.FieldType(one.gspace, [one.gspace.trivial_repr])
    conv = CONVS[one.gspace.dimensionality]
    layers = [
        conv(trivial, one, 3, padding=1, initialize=False),
        conv(one, one, 3, padding=1, initialize=False),
        conv(one, one, last_kernel, initialize=False),
    ]
    bias = layers[0].bias.numel()
    return (*(layer.weights.numel() for layer in layers), bias)  # type: ignore[return-value]


def param_count(group: str, fields: tuple[int, ...], num_classes: int = 10, in_channels: int = 1) -> int:
    """Parameters of ``EscnnCNN`` without building it: regular→regular bases have a fixed size
    per field pair (checked against built models by the tests).

    Not counted on the meta device (``models._budget.count_on_meta``) as the other variants are:
    R2Conv computes its basis from tensor values at construction (``rings.tolist()`` in
    ``compute_basis_params``), which fails on meta tensors ("Cannot copy out of meta tensor")."""
    return layout_param_count(_pair_dims(group), fields, num_classes, in_channels)


def layout_param_count(
    pair_dims: tuple[int, int, int, int], fields: tuple[int, ...], num_classes: int, in_channels: int
) -> int:
    """Parameters of the tutorial layout from the free parameters of one field pair per layer
    (``field_pair_dims``): lifting from each input channel, 3×3, 7×7, biases, the dense head."""
    a, b, c = fields
    lift, mid, last, bias = pair_dims
    convs = lift * a * in_channels + mid * a * b + last * b * c + bias * (a + b + c)
    return convs + c * num_classes + num_classes


GSPACES = {
    "C4": lambda: gspaces.rot2dOnR2(N=4),
    "C8": lambda: gspaces.rot2dOnR2(N=8),
    "D4": lambda: gspaces.flipRot2dOnR2(N=4),
}
# fit_fields(group, 13_978) per group, stored so builds skip the search (the tests check them)
TUTORIAL_FIELDS = {"C4": (6, 13, 13), "C8": (5, 9, 9), "D4": (5, 9, 9)}


def fit_fields(group: str, budget: int, task: Task = TUTORIAL) -> tuple[int, ...]:
    return fit_widths(BASE_FIELDS, lambda f: param_count(group, f, task.classes, task.channels), budget)


def build_escnn(group: str, budget: int | None = None, task: Task = TUTORIAL) -> EscnnCNN:
    """Regular-field widths scaled so the parameters land closest to ``budget`` (or, on another
    task than the tutorial's, to the plain CNN's count there)."""
    budget = matched_budget(budget, task)
    fields = TUTORIAL_FIELDS[group] if budget is None else fit_fields(group, budget, task)
    return EscnnCNN(GSPACES[group](), fields, task.classes, task.channels)  # type: ignore[arg-type]
