"""Where units run: in this process, or in worker processes on this machine.

Why workers: at the recipe's batch of 64 a GPU is idle most of the time, waiting for Python to
launch small kernels, so one process per unit multiplies throughput. Results do not depend on it:
each unit seeds itself and draws its shuffling and augmentation from per-(seed, epoch) generators.
An executor knows nothing of runs: it is handed the function to apply and yields each task's
outcome as it finishes; the caller records it, so every file is written by one process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

Task = TypeVar("Task")
# (task, its result, or the exception that ended its worker)
Finished = tuple[Any, Any, BaseException | None]


class LocalExecutor:
    """Each task in turn, in this process (the default: no start-up cost, easy to debug)."""

    def map(self, function: Callable[[Task], Any], tasks: Iterable[Task]) -> Iterator[Finished]:
        for task in tasks:
            yield task, function(task), None


class ProcessExecutor:
    """Tasks in ``jobs`` spawned worker processes, each set up once by ``initializer(*initargs)``.

    A worker that dies (killed, out of host memory) ends its task with the exception; on Ctrl-C
    or any error the executor stops its own workers at once, and no other process.
    """

    def __init__(self, jobs: int, initializer: Callable[..., None] | None = None, initargs: tuple = ()):
        self.jobs = jobs
        self.initializer = initializer
        self.initargs = initargs

    def map(self, function: Callable[[Task], Any], tasks: Iterable[Task]) -> Iterator[Finished]:
        # spawn: CUDA cannot be used in a forked child; recorded: every worker the pool ever starts
        context = _RecordingContext(multiprocessing.get_context("spawn"))
        executor = ProcessPoolExecutor(
            self.jobs, mp_context=context, initializer=self.initializer, initargs=self.initargs
        )
        futures: dict[Future, Task] = {executor.submit(function, t): t for t in tasks}
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        yield futures[future], future.result(), None
                    except Exception as exc:  # noqa: BLE001 - a dead worker fails its task, not the run
                        yield futures[future], None, exc
            executor.shutdown(wait=True)
        except BaseException:
            stop_workers(executor, context.started)
            raise


class _RecordingContext:
    """A multiprocessing context that remembers every process it creates: the pool's workers,
    whenever the pool starts them, so that exactly those can be stopped."""

    def __init__(self, base):
        self._base = base
        self.started: list = []

    def __getattr__(self, name: str):
        return getattr(self._base, name)

    def Process(self, *args, **kwargs):  # noqa: N802 - multiprocessing's name
        process = self._base.Process(*args, **kwargs)
        self.started.append(process)
        return process


def stop_workers(executor: ProcessPoolExecutor, workers: list) -> None:
    """Terminate the executor's own worker processes (not the host's other children) and drop
    its queued tasks."""
    executor.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(timeout=5)
        if worker.is_alive():  # still starting up, or ignoring SIGTERM: no longer asked
            worker.kill()
            worker.join(timeout=5)
