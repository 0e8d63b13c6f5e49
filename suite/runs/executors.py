"""Where units run: in this process, or as Ray tasks on a local instance or a cluster.

Results do not depend on where: each unit seeds itself and draws its shuffling and augmentation
from per-(seed, epoch) generators. An executor knows nothing of runs: it is handed the function to
apply and yields each task's outcome as it finishes; the caller records it, so every file is
written by one process (the driver) and workers need no shared filesystem.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from suite.errors import SuiteError, UsageError

Task = TypeVar("Task")
# (task, its result, or the exception that ended its worker)
Finished = tuple[Any, Any, BaseException | None]
EXECUTORS = ("local", "ray")
LOOPBACK = "127.0.0.2"  # Ray rewrites 127.0.0.1 to the host's outward address; 127.0.0.2 stays local
START_HEAD = f"ray start --head --node-ip-address={LOOPBACK} --port=6379"


def env_seconds(name: str, default: float) -> float:
    """A wait in seconds from the environment (tests shorten them), else ``default``."""
    text = os.environ.get(name)
    try:
        return float(text) if text else default
    except ValueError:
        raise UsageError(f"{text!r}: expected a number of seconds", param=name) from None


class ClusterLost(SuiteError):
    """The Ray cluster (its head, or this driver's connection to it) stopped answering mid-run."""


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
    # how long a cluster's address may take to accept a connection before it is refused
    connect_s: float = field(default_factory=lambda: env_seconds("C4SUITE_RAY_CONNECT_S", 5.0))
    # how long the cluster may not answer, mid-run, before the run stops (resumable)
    lost_after_s: float = field(default_factory=lambda: env_seconds("C4SUITE_RAY_LOST_AFTER_S", 20.0))
    poll_s: float = 2.0  # between checks of the cluster while no task finishes

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


def gcs_endpoint(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``ray://HOST:PORT``) as a host and port, or a one-line usage fault."""
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"{address}: expected HOST:PORT, e.g. {LOOPBACK}:6379", param="ray_address")
    return host, int(port)


def answers(address: str, timeout: float) -> str | None:
    """None if ``address`` accepts a TCP connection within ``timeout`` s, else why not. Cheap (no
    Ray): Ray itself retries an absent cluster for ever, printing a warning every 30 s."""
    try:
        with socket.create_connection(gcs_endpoint(address), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__  # a timeout has no strerror


def check_reachable(settings: RaySettings | None) -> None:
    """Refuse, in one line and within ``connect_s``, a cluster address nothing answers at."""
    if settings is None or not settings.address:
        return
    why = answers(settings.address, settings.connect_s)
    if why:
        raise SuiteError(
            f"{settings.address}: no Ray cluster answers there (tried a TCP connection to that port for "
            f"{settings.connect_s:g} s: {why}); start a head there (e.g. `{START_HEAD}`) and pass the "
            "address it prints, or run on a local instance",
            param="ray_address",
        )


def import_ray():  # noqa: ANN201 - the ray module, imported lazily (a heavy import)
    """Ray, imported with its ``uv run`` integration off: under ``uv run`` Ray would copy the
    checkout and build a fresh environment for its workers (minutes, the package registry, and a
    worker without Ray where ``.venv`` is left out); the workers use this environment's Python.
    Ray reads the setting when it is first imported, so it is set before the import."""
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    import ray

    return ray


class RayExecutor:
    """Tasks as Ray tasks, yielded as each finishes; the driver keeps every file.

    Joins ``settings.address`` or starts (and afterwards stops) a local instance bound to the
    loopback address. On Ctrl-C or any error the outstanding tasks are cancelled. A cluster that
    stops answering (its head died, or the network to it) raises :class:`ClusterLost` after
    ``settings.lost_after_s``: Ray itself would wait for ever.
    """

    def __init__(self, settings: RaySettings):
        self.settings = settings

    def map(self, function: Callable[[Task], Any], tasks: Iterable[Task]) -> Iterator[Finished]:
        ray = import_ray()
        connected_here = self._connect(ray)
        s = self.settings
        remote = ray.remote(function).options(
            num_cpus=s.cpus_per_unit, num_gpus=s.gpus_per_unit, max_retries=s.retries, retry_exceptions=False
        )
        refs = {remote.remote(task): task for task in tasks}
        try:
            yield from self._gather(ray, refs, self._probe(ray))
        except ClusterLost:
            raise  # nothing to cancel: the tasks went with the cluster
        except BaseException:
            for ref in refs:
                ray.cancel(ref, force=True)  # finished ones ignore it
            raise
        finally:
            if connected_here:  # stops an instance started here; only disconnects from a cluster
                ray.shutdown()  # (a lost cluster's takes ~5 s; then this process may join another)

    @contextmanager
    def held(self) -> Iterator[int]:
        """Connected for several ``map`` calls in a row (a tuning search's rungs), not once each;
        yields how many units the instance or cluster trains at once."""
        ray = import_ray()
        connected_here = self._connect(ray)
        try:
            cpus = ray.cluster_resources().get("CPU", 1)
            yield max(1, int(cpus // self.settings.cpus_per_unit))
        finally:
            if connected_here:
                ray.shutdown()

    def _gather(self, ray, refs: dict, alive: Callable[[], bool]) -> Iterator[Finished]:  # noqa: ANN001
        """Yield each task as it finishes; raise ClusterLost once ``alive()`` has been False for
        ``lost_after_s`` with no task finishing (Ray itself would wait for ever)."""
        s = self.settings
        pending = list(refs)
        silent_since: float | None = None
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=s.poll_s)
            if not done:
                if alive():
                    silent_since = None
                    continue
                silent_since = silent_since or time.monotonic()
                if time.monotonic() - silent_since >= s.lost_after_s:
                    raise ClusterLost(
                        f"lost the Ray cluster {s.address or 'started here'}: it has not answered for "
                        f"{s.lost_after_s:g} s, with {len(pending)} unit(s) unfinished; the finished ones "
                        "are recorded and the run can be resumed (on Ray once it is back, or locally)"
                    )
                continue
            silent_since = None
            for ref in done:
                try:
                    yield refs[ref], ray.get(ref), None
                except Exception as exc:  # noqa: BLE001 - a dead worker fails its task, not the run
                    yield refs[ref], None, exc

    def _probe(self, ray) -> Callable[[], bool]:  # noqa: ANN001 - the ray module
        """Whether the cluster's head (its GCS) still accepts connections."""
        address = self.settings.address or ray.get_runtime_context().gcs_address
        return lambda: answers(address, self.settings.connect_s) is None

    def _connect(self, ray) -> bool:  # noqa: ANN001 - the ray module
        """Join the configured cluster, or start a local loopback instance; True if connected here."""
        if ray.is_initialized():
            return False
        s = self.settings
        common = {"_node_ip_address": LOOPBACK, "include_dashboard": False, "log_to_driver": True,
                  "configure_logging": True, "logging_level": "warning"}  # fmt: skip
        if s.address:
            check_reachable(s)  # Ray would retry an absent cluster for ever
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
        cpus = s.workers * max(1, math.ceil(s.cpus_per_unit)) if s.workers else None  # N units at once
        ray.init(address="local", num_cpus=cpus, _system_config={"worker_niceness": 0}, **common)
        return True
