"""Claiming a run directory for one writer: a new run (its manifest written under the lock), or an
existing one to resume (its settings, plugins and unit files checked before any training). A claim
that fails releases the lock: a refused start leaves the directory to the next writer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from suite.errors import SuiteError
from suite.plugins import load_run_plugins, plugin_records
from suite.runs.config import RunConfig
from suite.runs.lock import RunLock
from suite.runs.manifest import new_manifest, note_resumption, read_config
from suite.runs.store import RunStore

# what a claimed run directory hands its Run: the files, the settings, the manifest, the held lock
Claim = tuple[RunStore, RunConfig, dict, RunLock]


class RunDirectoryExists(SuiteError):
    """The output directory already holds a run: resume it or start it again on purpose."""

    def __init__(self, out: Path):
        super().__init__(f"run directory {out} already exists; resume it, or force a fresh start")
        self.out = out


@contextmanager
def _released_on_failure(lock: RunLock) -> Iterator[None]:
    try:
        yield
    except BaseException:
        lock.release()
        raise


def claim_new(
    out: Path,
    config: RunConfig,
    command: list[str],
    force: bool,
    kind: str,
    about: dict | None,
    break_lock: bool,
) -> Claim:
    """A new run directory, locked, with its manifest written; ``force`` forgets a previous run's
    units there, otherwise a used directory is refused."""
    store = RunStore(out)
    if store.is_used() and not force:
        raise RunDirectoryExists(store.out)
    store.check_writable()
    lock = RunLock(store.out, break_lock).acquire()
    with _released_on_failure(lock):
        if store.is_used() and not force:  # made by another process meanwhile
            raise RunDirectoryExists(store.out)
        if force:
            store.clear_units()
        manifest = new_manifest(config, command, kind, about)
        store.write_manifest(manifest)
    return store, config, manifest, lock


def claim_existing(
    out: Path,
    command: list[str],
    plugins: Iterable[str | Path],
    allow_changed_plugins: bool,
    break_lock: bool,
) -> Claim:
    """An existing run directory, locked, with its recorded settings. Its plugins run only if the
    caller passes them (``plugins``), checked against their recorded SHA-256."""
    store = RunStore(out)
    store.read_manifest()  # a run directory at all: fail before leaving a lock file anywhere
    store.check_writable()
    lock = RunLock(store.out, break_lock).acquire()
    with _released_on_failure(lock):
        manifest = store.read_manifest()  # as its last writer left it
        config = read_config(store, manifest)
        passed = load_run_plugins(plugin_records(manifest), plugins, config.variants, allow_changed_plugins)
        config = replace(config, plugins=[str(p) for p in passed])  # workers load these files
        note_resumption(store, manifest, command, passed)
    return store, config, manifest, lock
