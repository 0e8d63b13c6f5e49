"""What a run measures and what a study varies, declared once as data.

A *metric* is a name in ``metrics.csv`` with its label and format in tables; the measuring code
writes its rows (``suite.measure.evaluate`` for accuracies, ``suite.runs.unit`` for costs, and
``suite.measure.evaluate.measured`` for metrics a user adds) and the report reads these
declarations instead of retyping names. A *study axis* is a grid dimension of a run: its name in
unit names and CSV columns, its type and its label; its effect on a unit is declared beside the
unit's settings (``suite.runs.config.AXIS_EFFECTS``). No torch here: reports import it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One column of ``metrics.csv``'s ``metric``: ``summary`` metrics (scalars, one value per
    unit) get a column of the run's summary table, the mean over seeds in ``fmt``."""

    name: str
    label: str
    fmt: str
    about: str
    summary: bool = False

    def show(self, value: float) -> str:
        return "–" if value is None or math.isnan(value) else format(value, self.fmt)


@dataclass(frozen=True)
class Axis:
    """One grid axis: ``lr=0.003`` in a unit's name, a column of a study's tables. Numeric values
    must be positive (``zero``: or 0); ``choices``: the values a text axis may take."""

    name: str
    type: type
    label: str
    zero: bool = False
    choices: tuple[str, ...] = ()


METRICS: dict[str, Metric] = {}
AXES: dict[str, Axis] = {}  # in the order of unit names and CSV columns


def declare_metric(metric: Metric) -> Metric:
    if metric.name in METRICS and METRICS[metric.name] != metric:
        raise ValueError(f"metric {metric.name!r} is already declared otherwise")
    METRICS[metric.name] = metric
    return metric


def declare_axis(axis: Axis) -> Axis:
    if axis.name in AXES and AXES[axis.name] != axis:
        raise ValueError(f"axis {axis.name!r} is already declared otherwise")
    AXES[axis.name] = axis
    return axis


def summary_metrics() -> list[Metric]:
    return [m for m in METRICS.values() if m.summary]


for _metric in (
    Metric("acc", "acc", ".2f", "accuracy (%) on the test images turned by an angle (exact at 90°)"),
    Metric("acc_mirror", "acc mirrored", ".2f", "accuracy (%) on the mirrored test images, turned (D4 data)"),
    Metric("acc_c4_mean", "C4 mean", ".2f", "mean accuracy over the four quarter turns"),
    Metric("acc_c4_min", "C4 min", ".2f", "lowest accuracy over the four quarter turns"),
    Metric("acc_d4_mean", "D4 mean", ".2f", "mean accuracy over the eight elements of D4 (D4 data)"),
    Metric("acc_d4_min", "D4 min", ".2f", "lowest accuracy over the eight elements of D4 (D4 data)"),
    Metric("acc_o", "acc turned", ".2f", "accuracy (%) on the test volumes under one rotation of the cube"),
    Metric("acc_o_mean", "O mean", ".2f", "mean accuracy over the cube's 24 rotations"),
    Metric("acc_o_min", "O min", ".2f", "lowest accuracy over the cube's 24 rotations"),
    Metric("acc_o_mirror", "acc mirrored", ".2f",
           "accuracy (%) on the mirrored test volumes under one rotation of the cube (Oh data)"),
    Metric("acc_o_mirror_mean", "Oh mirror mean", ".2f", "mean accuracy over the 24 mirror images (Oh data)"),
    Metric("acc_o_mirror_min", "Oh mirror min", ".2f", "lowest accuracy over the 24 mirror images (Oh data)"),
    Metric("acc_random", "random angle", ".2f", "accuracy with one random angle per test image"),
    Metric("acc_balanced", "upright balanced acc", ".2f",
           "mean over classes of each class's upright accuracy", summary=True),
    Metric("invariance_err", "invariance err", ".1e", "largest logit change under the data's group",
           summary=True),
    Metric("params", "params", ",.0f", "trainable parameters"),
    Metric("flops", "FLOPs/img", ",.0f", "floating-point operations of one forward pass on one image"),
    Metric("epochs", "epochs", ".0f", "epochs trained"),
    Metric("train_s_per_epoch", "train s/epoch", ".1f", "mean seconds per training epoch", summary=True),
    Metric("train_s", "train s", ".1f", "seconds of training in all"),
):  # fmt: skip
    declare_metric(_metric)

for _axis in (
    Axis("lr", float, "lr"),
    Axis("weight_decay", float, "weight decay", zero=True),
    Axis("schedule", str, "schedule", choices=("constant", "cosine")),  # suite.training.schedules
    Axis("budget", int, "parameter budget"),
    Axis("train_size", int, "training images"),
    Axis("epochs", int, "epochs"),
):
    declare_axis(_axis)
