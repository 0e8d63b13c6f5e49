"""One unit of a run: build, train and measure one (variant, seed). A pure function of its config.

The unit returns its rows and trained weights; it writes nothing but its own checkpoint, so the
driver that records it can be another process (``suite.runs.executors``).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch

from suite import registry
from suite.data.images import ImageData
from suite.errors import failure_reason
from suite.measure.evaluate import C4_ANGLES, accuracy, measure, sample_predictions
from suite.runs.config import RunConfig
from suite.runs.store import CONFUSION_FIELDS, METRIC_FIELDS, PREDICTION_FIELDS
from suite.training.layout import apply_layout, variant_layout
from suite.training.train import EpochRecord, seed_everything, train

HISTORY_TEST_DIGITS = 2_000  # per-epoch accuracies use the first 2,000 test digits (speed)


@dataclass
class UnitTask:
    """What a worker needs to train one unit (plain values: it may cross a process boundary)."""

    name: str
    variant: str
    seed: int
    invariance_batch: int
    checkpoint: str | None


@dataclass
class UnitOutcome:
    """A finished unit: its result rows and weights, or why it failed."""

    name: str
    seconds: float
    result: dict | None = None
    weights: dict[str, torch.Tensor] | None = None
    reason: str | None = None
    traceback: str | None = None


def build_model(variant: str, config: RunConfig, device: torch.device) -> torch.nn.Module:
    """The variant as the run builds it: budget, device and memory layout."""
    model = registry.get(variant, budget=config.budget).to(device)
    return apply_layout(model, variant_layout(config.layout, device, variant))


def trained_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The weights to keep, taken in train mode: escnn adds cached filters to eval-mode state dicts."""
    model.train()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    model.eval()
    return state


def train_and_measure(
    task: UnitTask, data: ImageData, device: torch.device, config: RunConfig, progress: bool, label: str
) -> tuple[dict, dict[str, torch.Tensor]]:
    """Build, train and evaluate one (variant, seed); returns its rows and trained weights."""
    spec = registry.get_variant(task.variant)
    seed_everything(task.seed)
    model = build_model(task.variant, config, device)
    test_x, test_y = data.test_x[:HISTORY_TEST_DIGITS], data.test_y[:HISTORY_TEST_DIGITS]

    def on_epoch(record: EpochRecord, trained: torch.nn.Module) -> dict:
        c4 = [accuracy(trained, test_x, test_y, a) for a in C4_ANGLES]
        return {"acc_0": c4[0], "acc_c4_mean": sum(c4) / 4}

    checkpoint = Path(task.checkpoint) if task.checkpoint else None
    epochs = train(model, data, config.recipe, spec.augment, task.seed, checkpoint, progress, label, on_epoch)
    history_rows = []
    train_seconds = 0.0
    for record in epochs:
        train_seconds += record.seconds
        history_rows.append({
            "variant": task.variant, "seed": task.seed, "epoch": record.epoch,
            "loss": round(record.loss, 6), **record.extra,
            "epoch_s": round(record.seconds, 3), "wall_s": round(train_seconds, 3),
        })  # fmt: skip
    rows, confusions = measure(model, data, task.invariance_batch, config.angles)
    predictions = sample_predictions(model, data)
    rows.append({"metric": "params", "angle": "", "value": registry.count_params(model)})
    per_epoch = round(train_seconds / max(len(epochs), 1), 3)
    rows.append({"metric": "train_s_per_epoch", "angle": "", "value": per_epoch})
    for row in [*rows, *confusions, *predictions]:
        row.update(variant=task.variant, seed=task.seed)
    result = {
        "metrics": [{k: r[k] for k in METRIC_FIELDS} for r in rows],
        "history": history_rows,
        "confusion": [{k: r[k] for k in CONFUSION_FIELDS} for r in confusions],
        "predictions": [{k: r[k] for k in PREDICTION_FIELDS} for r in predictions],
    }
    return result, trained_state(model)


def run_unit(
    task: UnitTask, data: ImageData, device: torch.device, config: RunConfig, progress: bool, label: str
) -> UnitOutcome:
    """:func:`train_and_measure`, with any failure (an exception, NaN, out of memory) as an outcome."""
    began = time.perf_counter()
    try:
        result, weights = train_and_measure(task, data, device, config, progress, label)
    except Exception as exc:  # noqa: BLE001 - one unit's failure must not sink the others
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


def init_worker(config: dict, threads: int) -> None:
    """Once per worker process: the variants (plugins too), the device and the data on it."""
    from suite.environment import resolve_device
    from suite.plugins import load_variants
    from suite.runs.config import load_run_data

    torch.set_num_threads(threads)
    run_config = RunConfig.from_dict(config)
    load_variants(run_config.plugins)
    device = resolve_device(run_config.device)
    _WORKER.update(config=run_config, device=device, data=load_run_data(run_config).to(device))


def run_unit_in_worker(task: UnitTask) -> UnitOutcome:
    return run_unit(task, _WORKER["data"], _WORKER["device"], _WORKER["config"], False, task.name)
