"""The tutorial's 3-D layout built from escnn's modules over the cube's symmetries, with regular
fields: ``R3Conv`` on ``octaOnR3`` (the 24 rotations) or ``fullOctaOnR3`` (the 48 rotations and
mirror images), pointwise max pooling 16³ → 8³ → 4³, a 4³ read-out, then group pooling."""

from __future__ import annotations

import functools

from models._budget import fit_fields_nearby, fit_widths
from models._escnn_tables import enn, gspaces
from models.planar._escnn import EscnnCNN, field_pair_dims, layout_param_count
from models.volumetric._layers3d import CNN3D_WIDTHS, cnn3d_params
from suite.task import Task

GSPACES = {"O": gspaces.octaOnR3, "Oh": gspaces.fullOctaOnR3}
# the fit: a base in regular fields (24 or 48 channels each) per layer, and how it is scaled. O's by a
# common factor, then each layer one field more or less (a field is a coarse step). Oh's base leans
# to the read-out and is scaled by the common factor only: the nearest count, (4, 5, 5) or
# (3, 5, 6), leaves five or six invariant features for 29 classes, and ten AdamW steps of
# `suite check` lower the loss by 2.4% or 2.8% (3% needed); at (2, 5, 7) by 5.5%
FITS = {"O": ((2, 3, 3), fit_fields_nearby), "Oh": ((2, 5, 7), fit_widths)}
LAST_KERNEL = 4  # 16 → 8 → 4: the read-out covers the 4³ grid, as the plain 3-D CNN's does


@functools.cache
def _pair_dims(group: str) -> tuple[int, int, int, int]:
    """Free parameters of one field pair per layer (lifting 3³, 3³, 4³) and per-field bias. The
    one-field layers it builds leave their sampled bases in escnn's in-process cache, so the
    model built next reuses them."""
    gspace = GSPACES[group]()
    return field_pair_dims(enn.FieldType(gspace, [gspace.regular_repr]), LAST_KERNEL)


def param_count(group: str, fields: tuple[int, ...], num_classes: int = 29, in_channels: int = 1) -> int:
    """Parameters of the 3-D ``EscnnCNN`` without building it (escnn cannot build on meta)."""
    return layout_param_count(_pair_dims(group), fields, num_classes, in_channels)


def fit_fields(group: str, budget: int, task: Task) -> tuple[int, ...]:
    def count(fields: tuple[int, ...]) -> int:
        return param_count(group, fields, task.classes, task.channels)

    base, fit = FITS[group]
    return fit(base, count, budget)


def build_escnn3d(group: str, budget: int | None, task: Task) -> EscnnCNN:
    """Regular fields fitted to ``budget`` parameters, or to the plain 3-D CNN's count on the task."""
    target = budget or cnn3d_params(CNN3D_WIDTHS, task.classes, task.channels)
    fields = fit_fields(group, target, task)
    return EscnnCNN(GSPACES[group](), fields, task.classes, task.channels, last_kernel=LAST_KERNEL)  # type: ignore[arg-type]
