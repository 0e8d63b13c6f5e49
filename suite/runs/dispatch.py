"""Where a run's units train: in this process one after another, or as Ray tasks, the costliest
first. Each way yields ``(task, outcome, error)`` as a unit finishes, for ``suite.runs.recording``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import torch

from suite.data.images import ImageData
from suite.measure.benchmark import flops_per_image
from suite.runs.config import RunConfig
from suite.runs.executors import Finished, LocalExecutor, RayExecutor
from suite.runs.ledger import RunLedger, log
from suite.runs.threads import torch_threads
from suite.runs.unit import UnitOutcome, UnitTask, WorkerJob, run_job, run_unit
from suite.task import Task
from suite.training.builder import build_model


def unit_task(ledger: RunLedger, name: str) -> UnitTask:
    """What a worker needs to train unit ``name``: its key, the invariance batch, its checkpoint."""
    return UnitTask(name, ledger.config.sizes().invariance_batch, str(ledger.store.checkpoint_path(name)))


def costliest_first(tasks: list[UnitTask], config: RunConfig, task: Task | None = None) -> list[UnitTask]:
    """The tasks, the costliest first: FLOPs per image × images trained (epochs × training set).

    Ray starts tasks in the order they are submitted; a long unit submitted last would keep one
    worker busy while the others idle (the H100 reference's ``e3nn-o2`` units did). Each distinct
    model is built once on the CPU to count its FLOPs; one that fails to build counts as free
    (its unit fails in its worker and is recorded there)."""
    if len(tasks) < 2:  # nothing to order: build no model
        return tasks
    flops: dict[tuple[str, int | None], int] = {}

    def cost(unit: UnitTask) -> float:
        key = unit.key
        model = (key.variant, config.budget_for(key))
        if model not in flops:
            try:
                flops[model] = flops_per_image(build_model(key.variant, task, model[1]), task=task)
            except Exception:  # noqa: BLE001 - a broken variant is the worker's to report
                flops[model] = 0
        return flops[model] * config.recipe_for(key).epochs * (config.train_size_for(key) or 1)

    return sorted(tasks, key=cost, reverse=True)


def train_here(
    ledger: RunLedger, tasks: list[UnitTask], data: ImageData, device: torch.device, progress: bool
) -> Iterator[Finished]:
    """Each unit in turn in this process, on the run's thread count, marked running as it starts."""

    def function(task: UnitTask) -> UnitOutcome:
        ledger.mark_running([task.name])
        with torch_threads(ledger.config.threads):
            return run_unit(task, data, device, ledger.config, progress, ledger.label(task.name))

    return LocalExecutor().map(function, tasks)


def train_on_ray(
    ledger: RunLedger, tasks: list[UnitTask], executor: RayExecutor, device: torch.device, threads: int
) -> Iterator[Finished]:
    """Every unit as a Ray task of ``executor`` on ``threads`` threads, all marked running at once.
    Ray tasks keep no checkpoint (the driver's disk may be elsewhere): a unit restarts whole."""
    config = ledger.config.to_dict()
    jobs = [WorkerJob(config, device.type, threads, replace(t, checkpoint=None)) for t in tasks]
    ledger.mark_running(task.name for task in tasks)
    units = f"{len(tasks)} unit{'s' if len(tasks) != 1 else ''}"
    log(f"training {units} as Ray tasks, the costliest first")
    return ((job.task, outcome, error) for job, outcome, error in executor.map(run_job, jobs))
