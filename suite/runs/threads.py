"""How many intra-op threads a run's units train on. The count is a setting of the run, recorded
in its manifest: reductions round with it, so a resumed run keeps the count it began with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import torch

from suite.errors import UsageError
from suite.runs.executors import RaySettings
from suite.runs.ledger import RunLedger

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


def settle_threads(ledger: RunLedger, ray: RaySettings | None, threads: int | None) -> None:
    """The run's intra-op thread count, a setting of every unit (reductions round with it):
    ``threads`` or the default on a new run, the recorded one on a resumed run (which refuses
    another); None for runs made before it was recorded (they resume as they ran)."""
    if threads is not None and (not isinstance(threads, int) or threads <= 0):
        raise UsageError(f"{threads!r}: expected a positive integer", param="threads")
    recorded = ledger.config.threads
    if recorded is not None:
        if threads is not None and threads != recorded:
            raise UsageError(
                f"{threads}: this run trains its units on {recorded} threads (recorded; another "
                "count rounds differently); start a new run to change it", param="threads",
            )  # fmt: skip
        return
    if ledger.manifest.get("format_version", 1) < THREADS_FORMAT:
        return  # an older run: units trained on the executor's thread count, as they did then
    ledger.config.threads = threads or default_threads(ray)
    ledger.manifest["config"]["threads"] = ledger.config.threads
    ledger.save_manifest()
