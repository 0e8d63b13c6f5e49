"""The run: which units to train, in what order, on which executor; each recorded as it finishes.

A run directory (``suite.runs.store``) holds the manifest, one file per finished unit, its weights
and checkpoints, and the tidy CSVs rebuilt after every unit, so an interrupted run resumes with
nothing lost and nothing half-written.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path

import torch
from tqdm.auto import tqdm

from suite import registry
from suite.atomic import disk_full
from suite.data.datasets import get_dataset
from suite.data.images import ImageData
from suite.environment import describe, resolve_device
from suite.errors import BadRunFile, SuiteError, UsageError, failure_reason
from suite.measure.benchmark import THROUGHPUT_FIELDS, BenchSettings, benchmark_variant, flops_per_image
from suite.measure.evaluate import C4_ANGLES, sample_rows
from suite.plugins import load_run_plugins, plugin_record, plugin_records
from suite.runs.config import RunConfig, load_run_data
from suite.runs.executors import LocalExecutor, RayExecutor, RaySettings
from suite.runs.grid import UnitKey
from suite.runs.lock import RunLock
from suite.runs.profiles import get_profile
from suite.runs.store import FORMAT_VERSION, RunStore
from suite.runs.unit import UnitOutcome, UnitTask, WorkerJob, run_job, run_unit
from suite.task import Task
from suite.training.builder import build_model
from suite.training.layout import variant_layout


class RunDirectoryExists(SuiteError):
    """The output directory already holds a run: resume it or start it again on purpose."""

    def __init__(self, out: Path):
        super().__init__(f"run directory {out} already exists; resume it, or force a fresh start")
        self.out = out


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


THREADS_FORMAT = 3  # manifests from this format on record each run's thread count (config.threads)


def default_threads(ray: RaySettings | None) -> int:
    """The thread count of a new run's units: this machine's (torch's count), shared among a local
    Ray instance's workers when several are asked for (``workers``)."""
    workers = ray.workers if ray is not None and ray.workers else 1
    return max(1, torch.get_num_threads() // workers)


def unit_threads(ray: RaySettings | None, threads: int | None) -> RaySettings | None:
    """Each Ray task asks for as many CPUs as its unit has threads (so units never share cores)."""
    if ray is None or threads is None:
        return ray
    return replace(ray, cpus_per_unit=threads)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Train on ``threads`` intra-op threads, then give the process back its own count."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def accuracy_line(metrics: list[dict]) -> str:
    """A finished unit's accuracies for its log line: at each quarter turn (images), or the mean
    and lowest over the cube's rotations (volumes)."""
    values = {(r["metric"], r["angle"]): r["value"] for r in metrics}
    if ("acc_o_mean", "") in values:
        return f"O mean {values[('acc_o_mean', '')]:.2f}%, O min {values[('acc_o_min', '')]:.2f}%"
    accs = {int(angle): v for (metric, angle), v in values.items() if metric == "acc"}
    return ", ".join(f"{a}°={accs[a]:.2f}%" for a in C4_ANGLES)


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


def new_manifest(config: RunConfig, command: list[str], kind: str, about: dict | None) -> dict:
    """A new run's manifest: what made it, its settings, its plugins' SHA-256, its units."""
    return {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        **({kind: about} if about else {}),
        "command": command,
        "config": config.to_dict(),
        "plugins": [plugin_record(path) for path in config.plugins],
        "started": _now(),
        "finished": None,
        "wall_s": None,
        "units": {key.name: {"status": "pending"} for key in config.units()},
    }


def read_config(store: RunStore, manifest: dict) -> RunConfig:
    """The settings a run directory's manifest records, or a one-line fault naming the file."""
    try:
        return RunConfig.from_dict(manifest["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRunFile(store.manifest_path, f"has an unreadable config ({failure_reason(exc)})",
                         "restore it from a copy of the run directory") from None  # fmt: skip


def resumed_status(unit: dict, has_result: bool) -> str:
    """A unit is done exactly when its result file is there (a lost or deleted file is trained
    again), unless it failed after that (its weights could not be written: it keeps failing)."""
    if not has_result:
        return "pending"
    return "failed" if unit.get("status") == "failed" else "done"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Run:
    """One run directory and the work it still has to do; holds the directory's lock (a context
    manager: leaving it releases the lock)."""

    def __init__(self, store: RunStore, config: RunConfig, manifest: dict, lock: RunLock | None = None):
        self.store = store
        self.config = config
        self.manifest = manifest
        self.lock = lock

    @property
    def out(self) -> Path:
        return self.store.out

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
        store = RunStore(out)
        if store.is_used() and not force:
            raise RunDirectoryExists(store.out)
        store.check_writable()
        lock = RunLock(store.out, break_lock).acquire()
        try:
            if store.is_used() and not force:  # made by another process meanwhile
                raise RunDirectoryExists(store.out)
            if force:
                store.clear_units()
            run = cls(store, config, new_manifest(config, command, kind, about), lock)
            run.save_manifest()
        except BaseException:
            lock.release()
            raise
        return run

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
        store = RunStore(out)
        store.read_manifest()  # a run directory at all: fail before leaving a lock file anywhere
        store.check_writable()
        lock = RunLock(store.out, break_lock).acquire()
        try:
            manifest = store.read_manifest()  # as its last writer left it
            config = read_config(store, manifest)
            passed = load_run_plugins(
                plugin_records(manifest), plugins, config.variants, allow_changed_plugins
            )
            config = replace(config, plugins=[str(p) for p in passed])  # workers load these files
            manifest.setdefault("resumed", []).append(
                {"command": command, "at": _now(), "plugins": [plugin_record(p) for p in passed]}
            )
            for name, unit in manifest["units"].items():
                if store.has_unit(name):
                    store.read_unit(name)  # a bad result file is named now, before any training
                unit["status"] = resumed_status(unit, store.has_unit(name))
        except BaseException:
            lock.release()
            raise
        return cls(store, config, manifest, lock)

    def save_manifest(self) -> None:
        self.store.write_manifest(self.manifest)

    def assemble(self) -> None:
        self.store.assemble(list(self.manifest["units"]), THROUGHPUT_FIELDS, tuple(self.config.grid))

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
        self._settle_threads(ray, threads)
        self._describe(device, data)
        began = time.perf_counter()
        ray = unit_threads(gpu_share(ray, device), config.threads)
        # a unit with a result file is not trained again (one whose weights could not be written
        # is recorded as failed, its metrics kept: training it again would fail the same way)
        units = self.manifest["units"]
        pending = [n for n, u in units.items() if u["status"] != "done" and not self.store.has_unit(n)]
        previous = self.manifest.get("wall_s") or 0  # wall time accumulates over resumptions
        where = "local" if ray is None else f"ray {ray.address or 'local instance'}, {ray}"
        self.manifest.setdefault("executor", {})[_now()] = where  # per-epoch seconds depend on it
        try:
            self._train(pending, data, device, ray, progress)
            self.store.write_samples(sample_rows(data))  # evaluation images: read after training
            if config.bench:
                self._run_benchmarks(device, progress, data.task)
        except (KeyboardInterrupt, SystemExit):  # Ctrl-C, or SIGTERM (as Ray's driver turns it)
            self._stop("interrupted", previous + time.perf_counter() - began)
            raise
        except SuiteError as exc:  # e.g. the Ray cluster was lost: the directory stays resumable
            self._stop("stopped", previous + time.perf_counter() - began, str(exc))
            raise
        except OSError as exc:
            if not disk_full(exc):
                raise
            error = SuiteError(
                f"{exc.filename}: no space left on the device (the file as it was is intact); free some "
                "space, then resume the run"
            )
            self._stop("stopped", previous + time.perf_counter() - began, str(error))
            raise error from None
        self.manifest["finished"] = _now()
        self.manifest["wall_s"] = round(previous + time.perf_counter() - began, 1)
        self.save_manifest()
        self.assemble()
        units = self.manifest["units"].values()
        benches = self.manifest.get("bench", {}).values()
        return sum(u["status"] == "failed" for u in [*units, *benches])

    def _stop(self, how: str, wall_s: float, reason: str | None = None) -> None:
        """Record that the run stopped before its end (``how``: interrupted or stopped), if the
        disk lets us: on a full disk the previous manifest stays, which resumes as well."""
        self.manifest[how] = _now()
        if reason:
            self.manifest["stopped_because"] = reason
        self.manifest["wall_s"] = round(wall_s, 1)
        try:
            self.save_manifest()
        except OSError as exc:
            if not disk_full(exc):
                raise

    def _settle_threads(self, ray: RaySettings | None, threads: int | None) -> None:
        """The run's intra-op thread count, a setting of every unit (reductions round with it):
        ``threads`` or the default on a new run, the recorded one on a resumed run (which refuses
        another); None for runs made before it was recorded (they resume as they ran)."""
        if threads is not None and (not isinstance(threads, int) or threads <= 0):
            raise UsageError(f"{threads!r}: expected a positive integer", param="threads")
        recorded = self.config.threads
        if recorded is not None:
            if threads is not None and threads != recorded:
                raise UsageError(
                    f"{threads}: this run trains its units on {recorded} threads (recorded; another "
                    "count rounds differently); start a new run to change it", param="threads",
                )  # fmt: skip
            return
        if self.manifest.get("format_version", 1) < THREADS_FORMAT:
            return  # an older run: units trained on the executor's thread count, as they did then
        self.config.threads = threads or default_threads(ray)
        self.manifest["config"]["threads"] = self.config.threads
        self.save_manifest()

    def _describe(self, device: torch.device, data: ImageData) -> None:
        """What the manifest says of the environment, the data and the variants."""
        config = self.config
        self.manifest["environment"] = describe(device)
        self.manifest["layout"] = {
            name: variant_layout(config.layout, device, name) for name in config.variants
        }
        self.manifest["data"] = data.source
        self.manifest["dataset"] = {
            "name": data.name,
            "classes": list(data.classes),
            "digits": get_dataset(config.dataset).digits,  # handwritten digits: the 6-and-9 section
        }
        self.manifest["task"] = asdict(data.task)  # what every model of the run is built for
        self.manifest["recipe"] = config.recipe_note
        self.manifest["evaluated_on"] = (
            "validation: the last training images, never the test set"
            if config.split == "validation"
            else "test"
        )
        self.manifest["test_digits"] = len(data.test_x)  # the evaluation images (validation ones there)
        self.manifest["train_digits"] = len(data.train_x)
        self.manifest["variants"] = {
            name: {
                k: getattr(registry.get_variant(name), k)
                for k in ("family", "claims", "augment", "description")
            }
            for name in config.variants
        }

    def _task(self, name: str) -> UnitTask:
        profile = get_profile(self.config.profile)
        return UnitTask(name, profile.invariance_batch, str(self.store.checkpoint_path(name)))

    def _label(self, name: str) -> str:
        key = UnitKey.parse(name)
        position = list(self.manifest["units"]).index(name) + 1
        point = "".join(f" {axis} {value:g}" for axis, value in key.point)
        return f"[{position}/{len(self.manifest['units'])}] {key.variant} seed {key.seed}{point}"

    def _train(
        self,
        pending: list[str],
        data: ImageData,
        device: torch.device,
        ray: RaySettings | None,
        progress: bool,
    ) -> None:
        """Train ``pending`` units in this process, or as Ray tasks; record each as it finishes."""
        tasks = [self._task(name) for name in pending]
        if ray is not None:
            tasks = costliest_first(tasks, self.config, data.task)
            threads = self.config.threads or max(1, math.floor(ray.cpus_per_unit))
            # Ray tasks keep no checkpoint (the driver's disk may be elsewhere): a unit restarts whole
            config = self.config.to_dict()
            jobs = [WorkerJob(config, device.type, threads, replace(t, checkpoint=None)) for t in tasks]
            for task in tasks:
                self.manifest["units"][task.name].update(status="running", started=_now())
            self.save_manifest()
            units = f"{len(tasks)} unit{'s' if len(tasks) != 1 else ''}"
            _log(f"training {units} as Ray tasks, the costliest first")
            finished = (
                (job.task, outcome, error) for job, outcome, error in RayExecutor(ray).map(run_job, jobs)
            )
        else:
            data = data.to(device)

            def function(task: UnitTask) -> UnitOutcome:
                self.manifest["units"][task.name].update(status="running", started=_now())
                self.save_manifest()
                with torch_threads(self.config.threads):
                    return run_unit(task, data, device, self.config, progress, self._label(task.name))

            finished = LocalExecutor().map(function, tasks)
        bar = tqdm(total=len(tasks), desc="units", unit="unit", disable=not progress or ray is None or None)
        for task, outcome, error in finished:
            if error is not None:
                outcome = UnitOutcome(task.name, 0.0, reason=failure_reason(error, "worker failed: "))
            self._record(outcome)
            bar.update(1)
        bar.close()

    def _record(self, outcome: UnitOutcome) -> None:
        """Write a finished unit's result and weights (or its failure) and update the manifest.

        A fault while writing is that unit's failure, not the run's: a result that cannot be
        written fails the unit; weights that cannot be written fail it with its metrics kept.
        Only a full disk stops the run (every later write would fail too)."""
        name = outcome.name
        if outcome.result is None:
            self._fail(name, outcome.reason or "unknown", outcome.traceback or "")
            return
        weights_fault = self._try(lambda: self._write_weights(name, outcome.weights))
        result_fault = self._try(lambda: self.store.write_unit(name, outcome.result))
        if result_fault:
            self._fail(name, f"its result could not be written: {result_fault}")
            return
        if weights_fault:
            self._fail(name, f"its weights could not be written ({weights_fault}); its metrics are kept")
            self.assemble()
            return
        unit = self.manifest["units"][name]
        unit.update(status="done", seconds=round(outcome.seconds, 1), finished=_now())
        unit.pop("reason", None)
        unit.pop("traceback", None)
        self.save_manifest()
        self.assemble()
        shown = accuracy_line(outcome.result["metrics"])
        _log(f"{self._label(name)}: done in {unit['seconds']:.0f} s: {shown}")

    @staticmethod
    def _try(write: Callable[[], None]) -> str | None:
        """Run ``write``; None if it worked, else its fault in one line (a full disk is raised)."""
        try:
            write()
        except Exception as exc:  # noqa: BLE001 - recording one unit must not sink the run
            if disk_full(exc):
                raise
            return failure_reason(exc)
        return None

    def _write_weights(self, name: str, weights: dict[str, torch.Tensor] | None) -> None:
        if weights is None:
            return
        key = UnitKey.parse(name)
        metadata = {
            "variant": key.variant,
            "seed": str(key.seed),
            "budget": str(self.config.budget_for(key)),
            **{axis: str(value) for axis, value in key.point},
        }
        self.store.write_weights(name, weights, metadata)

    def _fail(self, name: str, reason: str, trace: str = "") -> None:
        unit = self.manifest["units"][name]
        unit.update(status="failed", reason=reason, traceback=trace)
        self.save_manifest()
        _log(f"{self._label(name)}: FAILED ({reason}); continuing with the others")

    def _run_benchmarks(self, device: torch.device, progress: bool, task: Task) -> None:
        """Cost of each variant (once, not per seed): parameters, FLOPs, throughput."""
        status = self.manifest.setdefault("bench", {})
        settings = bench_settings(self.config.profile, device, self.config.layout)
        for variant in self.config.variants:
            if status.get(variant, {}).get("status") == "done" and self.store.has_bench(variant):
                continue
            began = time.perf_counter()
            try:
                rows = benchmark_variant(variant, device, settings, self.config.budget, task)
            except Exception as exc:  # noqa: BLE001 - one variant's failure must not sink the rest
                reason = failure_reason(exc)
                status[variant] = {"status": "failed", "reason": reason}
                self.save_manifest()
                _log(f"benchmark {variant}: FAILED ({reason})")
                continue
            self.store.write_bench(variant, rows)
            status[variant] = {"status": "done", "seconds": round(time.perf_counter() - began, 1)}
            self.save_manifest()
            best = max(r["samples_per_s"] for r in rows if r["bench"] == "infer")
            _log(
                f"benchmark {variant}: {rows[0]['flops'] / 1e6:.2f} MFLOPs/image, "
                f"up to {best:,.0f} images/s inference"
            )


def bench_settings(profile: str, device: torch.device, layout: str) -> BenchSettings:
    """Short sweeps for the smoke profile; the full sweep otherwise; in the run's layout."""
    if profile == "smoke":
        return BenchSettings(infer_batches=(1, 64), train_batches=(64,), warmup=1, repeats=3, layout=layout)
    if device.type == "cpu":  # training at batch 1024 is for `suite bench`; keep runs short
        return BenchSettings(train_batches=(64,), layout=layout)
    return BenchSettings.for_device(device, layout=layout)
