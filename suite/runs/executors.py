"""Where units run: in this process, or as Ray tasks on a local instance or a cluster.

Results do not depend on where: each unit seeds itself and draws its shuffling and augmentation
from per-(seed, epoch) generators. An executor knows nothing of runs: it is handed the function to
apply and yields each task's outcome as it finishes; the caller records it, so every file is
written by one process (the driver) and workers need no shared filesystem.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from suite.errors import UsageError

Task = TypeVar("Task")
# (task, its result, or the exception that ended its worker)
Finished = tuple[Any, Any, BaseException | None]
EXECUTORS = ("local", "ray")
LOOPBACK = "127.0.0.2"  # Ray rewrites 127.0.0.1 to the host's outward address; 127.0.0.2 stays local


class LocalExecutor:
    """Each task in turn, in this process (the default: no start-up cost, easy to debug)."""

    def map(self, function: Callable[[Task], Any], tasks: Iterable[Task]) -> Iterator[Finished]:
        for task in tasks:
            yield task, function(task), None


@dataclass(frozen=True)
class RaySettings:
    """How to reach Ray and what each unit asks of it.

    ``address`` None starts a local Ray instance on the loopback address with ``workers`` CPUs;
    otherwise it is a running cluster's ``HOST:PORT`` (the head node prints it when it starts).
    ``cpus_per_unit`` is also the unit's torch thread count; ``gpus_per_unit`` may be a fraction
    (0.25 packs four small models onto one GPU). A task whose worker dies is retried once.
    """

    address: str | None = None
    workers: int | None = None  # CPUs of a local instance (None: all of this machine's)
    cpus_per_unit: float = 1
    gpus_per_unit: float = 0
    retries: int = 1

    def __post_init__(self) -> None:
        if self.cpus_per_unit <= 0:
            raise UsageError(f"{self.cpus_per_unit}: expected a positive number", param="cpus_per_unit")
        if self.gpus_per_unit < 0:
            raise UsageError(f"{self.gpus_per_unit}: expected 0 or more", param="gpus_per_unit")
        if self.workers is not None and self.workers <= 0:
            raise UsageError(f"{self.workers}: expected a positive integer", param="workers")


def choose_executor(
    executor: str = "local", jobs: int = 1, ray_address: str | None = None, gpus_per_unit: float = 0
) -> RaySettings | None:
    """None to run units here, else how to run them on Ray. ``jobs`` > 1 is shorthand for a local
    Ray instance with that many workers (on a GPU, each unit then takes 1/jobs of it)."""
    if executor not in EXECUTORS:
        raise UsageError(f"{executor!r}: expected one of {', '.join(EXECUTORS)}", param="executor")
    if not isinstance(jobs, int) or jobs <= 0:
        raise UsageError(f"{jobs!r}: expected a positive integer", param="jobs")
    if executor == "local" and jobs == 1:
        if ray_address or gpus_per_unit:
            given = "ray_address" if ray_address else "gpus_per_unit"
            raise UsageError("applies to Ray tasks only; choose the ray executor", param=given)
        return None
    return RaySettings(address=ray_address, workers=jobs if jobs > 1 and not ray_address else None,
                       gpus_per_unit=gpus_per_unit)  # fmt: skip


class RayExecutor:
    """Tasks as Ray tasks, yielded as each finishes; the driver keeps every file.

    Joins ``settings.address`` or starts (and afterwards stops) a local instance bound to the
    loopback address. On Ctrl-C or any error the outstanding tasks are cancelled.
    """

    def __init__(self, settings: RaySettings):
        self.settings = settings

    def map(self, function: Callable[[Task], Any], tasks: Iterable[Task]) -> Iterator[Finished]:
        # Under `uv run`, Ray would copy the checkout and build a fresh environment for its workers
        # (minutes, and the package registry); the workers use this environment's Python instead.
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        import ray

        connected_here = self._connect(ray)
        s = self.settings
        remote = ray.remote(function).options(
            num_cpus=s.cpus_per_unit, num_gpus=s.gpus_per_unit, max_retries=s.retries, retry_exceptions=False
        )
        refs = {remote.remote(task): task for task in tasks}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    try:
                        yield refs[ref], ray.get(ref), None
                    except Exception as exc:  # noqa: BLE001 - a dead worker fails its task, not the run
                        yield refs[ref], None, exc
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            if connected_here:  # stops an instance started here; only disconnects from a cluster
                ray.shutdown()

    def _connect(self, ray) -> bool:  # noqa: ANN001 - the ray module
        """Join the configured cluster, or start a local loopback instance; True if connected here."""
        if ray.is_initialized():
            return False
        s = self.settings
        common = {"_node_ip_address": LOOPBACK, "include_dashboard": False, "log_to_driver": True,
                  "configure_logging": True, "logging_level": "warning"}  # fmt: skip
        if s.address:
            host = s.address.rsplit(":", 1)[0]
            options = (
                common
                if host.startswith("127.")
                else {k: v for k, v in common.items() if k != "_node_ip_address"}
            )
            try:
                ray.init(address=s.address, **options)
            except (ConnectionError, RuntimeError) as exc:
                raise UsageError(
                    f"{s.address}: no Ray cluster answers there ({exc})", param="ray_address"
                ) from exc
            return True
        print(f"starting a local Ray instance on {LOOPBACK} with {s.workers or 'all'} CPUs", file=sys.stderr)
        # never a cluster found by chance; workers at this process's priority, not Ray's nice 15,
        # or they yield the CPU to any other work on the machine (a serial run would not)
        ray.init(address="local", num_cpus=s.workers, _system_config={"worker_niceness": 0}, **common)
        return True
