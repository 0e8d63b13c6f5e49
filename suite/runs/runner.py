"""The run: which units to train, in what order, on which executor; each recorded as it finishes.

A run directory (``suite.runs.store``) holds the manifest, one file per finished unit, its weights
and checkpoints, and the tidy CSVs rebuilt after every unit, so an interrupted run resumes with
nothing lost and nothing half-written. The run's collaborators: ``directory`` claims the directory,
``ledger`` keeps the manifest, ``threads`` settles the thread count, ``dispatch`` trains the units
here or on Ray, ``recording`` writes each finished unit, ``benchmarks`` measures the costs.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import torch

from suite import registry
from suite.data.images import ImageData
from suite.environment import resolve_device
from suite.errors import SuiteError
from suite.measure.evaluate import sample_rows
from suite.runs.benchmarks import bench_settings, run_benchmarks
from suite.runs.config import RunConfig, load_run_data
from suite.runs.directory import RunDirectoryExists, claim_existing, claim_new
from suite.runs.dispatch import costliest_first, train_here, train_on_ray, unit_task
from suite.runs.executors import RayExecutor, RaySettings
from suite.runs.ledger import RunLedger
from suite.runs.lock import RunLock
from suite.runs.manifest import describe_run, read_config
from suite.runs.recording import record_each
from suite.runs.store import RunStore
from suite.runs.threads import default_threads, settle_threads, unit_threads

# what other modules and tests import from here, wherever it is defined
__all__ = [
    "Run",
    "RunDirectoryExists",
    "bench_settings",
    "costliest_first",
    "default_threads",
    "gpu_share",
    "read_config",
    "unit_threads",
]


def gpu_share(ray: RaySettings | None, device: torch.device) -> RaySettings | None:
    """The Ray settings a run on ``device`` uses: on CUDA, each task of a local instance with N
    ``workers`` gets 1/N of the GPU; a cluster's tasks must ask for a share (``gpus_per_unit``)."""
    if ray is None or device.type != "cuda" or ray.gpus_per_unit > 0:
        return ray
    if ray.workers is None:
        raise SuiteError(
            "0: the run is on CUDA but its Ray tasks ask for no GPU; give each a share "
            "(e.g. 0.25 packs four units onto one GPU)", param="gpus_per_unit",
        )  # fmt: skip
    return replace(ray, gpus_per_unit=1 / ray.workers)  # N jobs on one GPU: they share it


class Run(RunLedger):
    """One run directory and the work it still has to do; holds the directory's lock (a context
    manager: leaving it releases the lock). Its store, config and manifest are the ledger's."""

    def __init__(self, store: RunStore, config: RunConfig, manifest: dict, lock: RunLock | None = None):
        super().__init__(store, config, manifest)
        self.lock = lock

    def close(self) -> None:
        """Release the run directory for the next writer."""
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- creating and reopening ------------------------------------------------------------

    @classmethod
    def create(
        cls,
        out: Path,
        config: RunConfig,
        command: list[str],
        force: bool = False,
        kind: str = "run",
        about: dict | None = None,
        break_lock: bool = False,
    ) -> Run:
        """A new run directory, locked; ``kind`` says what made it (``run``, ``tune``, ``study``),
        ``about`` what its report needs to know (a study's name, axis and question)."""
        config = copy.deepcopy(config)  # the run settles its own thread count: never the caller's object
        return cls(*claim_new(out, config, command, force, kind, about, break_lock))

    @classmethod
    def open(
        cls,
        out: Path,
        command: list[str],
        plugins: Iterable[str | Path] = (),
        allow_changed_plugins: bool = False,
        break_lock: bool = False,
    ) -> Run:
        """An existing run directory, locked, to finish it with its own settings. Its plugins run
        only if the caller passes them (``plugins``), checked against their recorded SHA-256."""
        return cls(*claim_existing(out, command, plugins, allow_changed_plugins, break_lock))

    # --- the work ------------------------------------------------------------------------

    def execute(
        self,
        progress: bool = True,
        data: ImageData | None = None,
        ray: RaySettings | None = None,
        threads: int | None = None,
    ) -> int:
        """Train and measure every pending unit, here or as Ray tasks (``ray``), each on the run's
        thread count (``threads``, recorded by the first execution); returns the number of failures."""
        config = self.config
        device = resolve_device(config.device)
        for variant in config.variants:
            registry.get_variant(variant)  # fail before any training on an unknown name
        data = data or load_run_data(config)
        settle_threads(self, ray, threads)
        describe_run(self.manifest, config, device, data)
        began = time.perf_counter()
        ray = unit_threads(gpu_share(ray, device), config.threads)
        pending = self.pending()
        previous = self.manifest.get("wall_s") or 0  # wall time accumulates over resumptions
        self.note_executor(ray)

        def wall_s() -> float:
            return previous + time.perf_counter() - began

        self.wall = wall_s
        with self.recording_stops(wall_s):
            if config.search:  # suite tune: Optuna asks for the units as it goes
                from suite.runs.search import run_search  # imports Optuna: only when tuning

                run_search(self, data, device, ray, progress)
            else:
                self._train(pending, data, device, ray, progress)
            self.store.write_samples(sample_rows(data))  # evaluation images: read after training
            if config.bench:
                run_benchmarks(self, device, data.task)
        return self.finish(wall_s())

    def _train(
        self,
        pending: list[str],
        data: ImageData,
        device: torch.device,
        ray: RaySettings | None,
        progress: bool,
    ) -> None:
        """Train ``pending`` units in this process, or as Ray tasks; record each as it finishes."""
        tasks = [unit_task(self, name) for name in pending]
        if ray is None:
            finished = train_here(self, tasks, data.to(device), device, progress)
        else:
            tasks = costliest_first(tasks, self.config, data.task)
            threads = self.config.threads or max(1, math.floor(ray.cpus_per_unit))
            finished = train_on_ray(self, tasks, RayExecutor(ray), device, threads)
        record_each(self, finished, len(tasks), disable_bar=not progress or ray is None or None)
