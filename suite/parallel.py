"""Training several (variant, seed) units at once, each in its own worker process.

Why: at the recipe's batch of 64 a GPU is idle most of the time, waiting for Python to launch
small kernels, so one process per unit multiplies throughput. Results do not depend on it: each
unit seeds itself and draws its shuffling and augmentation from per-(seed, epoch) generators.
Workers only train and evaluate; the parent process writes every file, so the run directory is
written by one process exactly as in a serial run.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import torch

from suite.errors import failure_reason


@dataclass
class UnitTask:
    """What a worker needs to train one unit (plain values: it crosses a process boundary)."""

    name: str
    variant: str
    seed: int
    invariance_batch: int
    checkpoint: str


@dataclass
class UnitOutcome:
    """A finished unit: its result rows, or why it failed."""

    name: str
    seconds: float
    result: dict | None = None
    reason: str | None = None
    traceback: str | None = None


_STATE: dict = {}


def _init_worker(config: dict, threads: int) -> None:
    """Once per worker: the variants (plugins too), the device and the data on it."""
    from suite.cli import load_variants
    from suite.environment import resolve_device
    from suite.runner import RunConfig, load_run_data

    torch.set_num_threads(threads)
    run_config = RunConfig.from_dict(config)
    load_variants(run_config.plugins)
    device = resolve_device(run_config.device)
    _STATE.update(config=run_config, device=device, data=load_run_data(run_config).to(device))


def _train_unit(task: UnitTask) -> UnitOutcome:
    from suite.runner import train_and_measure

    began = time.perf_counter()
    try:
        result = train_and_measure(
            task.variant,
            task.seed,
            _STATE["data"],
            _STATE["device"],
            _STATE["config"],
            task.invariance_batch,
            Path(task.checkpoint),
            False,
            task.name,
        )
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which records the failure
        reason = failure_reason(exc)
        return UnitOutcome(
            task.name, time.perf_counter() - began, None, reason, traceback.format_exc(limit=8)
        )
    return UnitOutcome(task.name, time.perf_counter() - began, result)


def run_parallel(config: dict, tasks: list[UnitTask], jobs: int) -> Iterator[UnitOutcome]:
    """Train ``tasks`` in ``jobs`` worker processes; yields each outcome as it finishes.

    A worker that dies (killed, out of host memory) fails its unit with the reason; on Ctrl-C the
    workers are stopped at once (every checkpoint is written atomically, so nothing is lost).
    """
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # CUDA cannot be used in a forked child
    executor = ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_init_worker, initargs=(config, threads)
    )
    futures: dict[Future, UnitTask] = {executor.submit(_train_unit, t): t for t in tasks}
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                task = futures[future]
                try:
                    yield future.result()
                except Exception as exc:  # noqa: BLE001 - a dead worker fails its unit, not the run
                    reason = failure_reason(exc, "worker process failed: ")
                    yield UnitOutcome(task.name, 0.0, None, reason)
        executor.shutdown(wait=True)
    except BaseException:
        for child in multiprocessing.active_children():
            child.terminate()
        executor.shutdown(wait=False, cancel_futures=True)
        raise
