"""One unit of a run: build, train and measure one grid point. A pure function of its config.

The unit returns its rows and trained weights; it writes nothing but its own checkpoint, so the
driver that records it can be another process (``suite.runs.executors``).
"""

from __future__ import annotations

import json
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from suite import registry
from suite.atomic import disk_full
from suite.data.groups import CUBE
from suite.data.images import ImageData
from suite.errors import failure_reason
from suite.measure.benchmark import flops_per_image
from suite.measure.evaluate import C4_ANGLES, correct_row, measure, predict, sample_predictions
from suite.measure.volumes import measure_volumes, predict_volumes
from suite.runs.config import RunConfig
from suite.runs.grid import UnitKey
from suite.runs.store import UNIT_TABLES, table_fields
from suite.runs.weights import kept_state
from suite.training.builder import build_model
from suite.training.train import EpochRecord, seed_everything, train

HISTORY_IMAGES = (
    10_000  # per-epoch validation accuracies: the first 10,000 validation images (all of MNIST's)
)
CURVE_BITS = "correct"  # the key of an epoch record's per-image results (not a history.csv column)


@dataclass
class UnitTask:
    """What a worker needs to train one unit (plain values: it may cross a process boundary)."""

    name: str  # the unit's grid key (suite.runs.grid.UnitKey.name)
    invariance_batch: int
    checkpoint: str | None
    stop_after: int | None = None  # a tuning trial's rung: train to this epoch, return the curve so far
    resume: bytes | None = None  # a rung on Ray: the checkpoint the driver keeps, sent to the worker

    @property
    def key(self) -> UnitKey:
        return UnitKey.parse(self.name)


@dataclass
class UnitOutcome:
    """A finished unit: its result rows and weights, or why it failed."""

    name: str
    seconds: float
    result: dict | None = None
    weights: dict[str, torch.Tensor] | None = None
    reason: str | None = None
    traceback: str | None = None
    checkpoint: bytes | None = None  # a rung on Ray: the checkpoint to keep in the run directory


def trained_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The weights to keep, taken in train mode (escnn adds cached filters to eval-mode state dicts)
    and without what building the model recomputes (``suite.runs.weights.kept_state``)."""
    model.train()
    state = kept_state(model)
    model.eval()
    return state


def train_and_measure(
    task: UnitTask, data: ImageData, device: torch.device, config: RunConfig, progress: bool, label: str
) -> tuple[dict, dict[str, torch.Tensor]]:
    """Build, train and evaluate one grid point; returns its rows and trained weights.

    Training sees only the training images; the evaluation images (test, or validation on the
    validation split) are read after training, except for the per-epoch curves of a validation run.
    """
    key = task.key
    spec = registry.get_variant(key.variant)
    seed_everything(key.seed)
    model = build_model(key.variant, data.task, config.budget_for(key), device, config.layout)
    train_size = config.train_size_for(key)
    train_data = data.first_train(train_size) if train_size else data
    recipe = config.recipe_for(key)
    on_epoch = validation_curve(data, recipe.epochs) if config.split == "validation" else None
    checkpoint = Path(task.checkpoint) if task.checkpoint else None
    epochs = train(model, train_data, recipe, spec.augment, key.seed, checkpoint, progress, label, on_epoch,
                   task.stop_after)  # fmt: skip
    point = {"variant": key.variant, "seed": key.seed, **dict(key.point)}
    history_rows, curve_bits, train_seconds = epoch_rows(epochs, point)
    if len(epochs) < recipe.epochs:  # a rung of a tuning trial: its curve so far, no measurement
        return {"history": history_rows, "partial": True}, {}
    volumes = len(data.spatial) == 3  # the 3-D track: the cube's rotations, no sample digits
    measure_fn = measure_volumes if volumes else measure
    rows, confusions, correct = measure_fn(model, data, task.invariance_batch, config.angles)
    predictions = [] if volumes else sample_predictions(model, data)
    rows.append({"metric": "params", "angle": "", "value": registry.count_params(model)})
    rows.append({"metric": "flops", "angle": "", "value": flops_per_image(model, device, data.task)})
    rows.append({"metric": "epochs", "angle": "", "value": recipe.epochs})
    per_epoch = round(train_seconds / max(len(epochs), 1), 3)
    rows.append({"metric": "train_s_per_epoch", "angle": "", "value": per_epoch})
    rows.append({"metric": "train_s", "angle": "", "value": round(train_seconds, 3)})
    rows.append({"metric": "lr", "angle": "", "value": recipe.lr})
    correct = curve_bits + correct
    for row in [*rows, *confusions, *predictions, *correct]:
        row.update(point)
    axes = tuple(dict(key.point))
    tables = {"metrics": rows, "confusion": confusions, "predictions": predictions, "correct": correct}
    result = {
        key: [{k: r[k] for k in table_fields(UNIT_TABLES[key], axes)} for r in table_rows]
        for key, table_rows in tables.items()
    }
    result["history"] = history_rows
    return result, trained_state(model)


def epoch_rows(epochs: list[EpochRecord], point: dict) -> tuple[list[dict], list[dict], float]:
    """The history rows of a unit's epochs, the per-image results of its curve, its training seconds."""
    history_rows: list[dict] = []
    curve_bits: list[dict] = []
    train_seconds = 0.0
    for record in epochs:
        train_seconds += record.seconds
        extra = {k: v for k, v in record.extra.items() if k != CURVE_BITS}
        curve_bits += [{**row, "epoch": record.epoch} for row in record.extra.get(CURVE_BITS, [])]
        history_rows.append({
            **point, "epoch": record.epoch, "loss": round(record.loss, 6), **extra,
            "epoch_s": round(record.seconds, 3), "wall_s": round(train_seconds, 3),
        })  # fmt: skip
    return history_rows, curve_bits, train_seconds


def curve_epoch(epoch: int, last: int) -> bool:
    """Whether a validation curve is measured after ``epoch`` of ``last``: every epoch up to 25,
    then every 5th to 100, every 10th to 200, every 25th to 500, every 50th beyond, and the last.
    Long trainings (the compute study's augmented model at 50× in 3-D) stay affordable, and the
    relative step stays under 20%; the epochs between two measured ones bound a crossing from
    both sides (``suite.report.matching``)."""
    steps = ((25, 1), (100, 5), (200, 10), (500, 25))
    step = next((s for bound, s in steps if epoch <= bound), 50)
    return epoch == last or epoch % step == 0


def validation_curve(data: ImageData, last_epoch: int):  # noqa: ANN201 - the train loop's on_epoch callback
    """Per-epoch accuracy on the validation images (a validation run's evaluation set), and which
    images were right under each element of the rotation group (the four quarter turns of a digit,
    the cube's 24 rotations of a volume), kept in the checkpoint, so a resumed unit keeps them;
    at the epochs :func:`curve_epoch` picks."""
    images, labels = data.test_x[:HISTORY_IMAGES], data.test_y[:HISTORY_IMAGES]
    volumes = len(data.spatial) == 3

    def on_epoch(record: EpochRecord, trained: torch.nn.Module) -> dict:
        if not curve_epoch(record.epoch, last_epoch):
            return {}
        if volumes:
            correct = {e.angle: predict_volumes(trained, images, lambda x, _s, e=e: e.act(x)) == labels
                       for e in CUBE.elements}  # fmt: skip
        else:
            correct = {a: predict(trained, images, a) == labels for a in C4_ANGLES}
        accs = {a: 100.0 * right.float().mean().item() for a, right in correct.items()}
        metric = "val_acc_o" if volumes else "val_acc"
        bits = [correct_row(metric, a, right) for a, right in correct.items()]
        mean_key = "val_acc_o_mean" if volumes else "val_acc_c4_mean"
        return {"val_acc_0": accs[0], mean_key: sum(accs.values()) / len(accs), CURVE_BITS: bits}

    return on_epoch


def run_unit(
    task: UnitTask, data: ImageData, device: torch.device, config: RunConfig, progress: bool, label: str
) -> UnitOutcome:
    """:func:`train_and_measure`, with any failure (an exception, NaN, out of memory) as an outcome."""
    began = time.perf_counter()
    try:
        result, weights = train_and_measure(task, data, device, config, progress, label)
    except Exception as exc:  # noqa: BLE001 - one unit's failure must not sink the others
        if disk_full(exc):  # a checkpoint could not be written: the next unit's would not either
            raise
        return UnitOutcome(
            task.name,
            time.perf_counter() - began,
            None,
            None,
            failure_reason(exc),
            traceback.format_exc(limit=8),
        )
    return UnitOutcome(task.name, time.perf_counter() - began, result, weights)


# --- in a worker process: the state every unit of the run shares, loaded once -------------------

_WORKER: dict = {}


@dataclass
class WorkerJob:
    """A unit as a worker receives it: the run's config (plain values), the device the driver
    chose, torch's thread count there, and the task."""

    config: dict
    device: str
    threads: int
    task: UnitTask


def prepare_worker(config: dict, device: str, threads: int) -> None:
    """Once per worker process and run: the variants (plugins too), the device and the data on it."""
    from suite.environment import resolve_device
    from suite.plugins import load_variants
    from suite.runs.config import load_run_data

    key = json.dumps([config, device, threads], sort_keys=True)
    if _WORKER.get("key") == key:
        return
    torch.set_num_threads(threads)
    run_config = RunConfig.from_dict(config)
    load_variants(run_config.plugins)
    target = resolve_device(device)
    _WORKER.update(key=key, config=run_config, device=target, data=load_run_data(run_config).to(target))


def run_job(job: WorkerJob) -> UnitOutcome:
    """One unit in a worker (a Ray task): no checkpoint, since the driver's disk may be elsewhere,
    except a tuning trial's rung, whose checkpoint travels with the task and its outcome."""
    prepare_worker(job.config, job.device, job.threads)
    args = (_WORKER["data"], _WORKER["device"], _WORKER["config"], False, job.task.name)
    if job.task.stop_after is None:
        return run_unit(job.task, *args)
    with tempfile.TemporaryDirectory(prefix="c4suite-rung-") as folder:
        path = Path(folder) / "unit.pt"
        if job.task.resume is not None:
            path.write_bytes(job.task.resume)
        outcome = run_unit(replace(job.task, checkpoint=str(path), resume=None), *args)
        if outcome.result is not None and outcome.result.get("partial") and path.is_file():
            outcome.checkpoint = path.read_bytes()
        return outcome
