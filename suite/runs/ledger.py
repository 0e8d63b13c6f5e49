"""A run's manifest kept in step with its directory: each unit's status is saved the moment it
changes, so a run stopped at any point (Ctrl-C, a lost cluster, a full disk) resumes from what its
manifest says. What a new manifest holds is ``suite.runs.manifest``'s."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from suite.atomic import disk_full
from suite.errors import SuiteError
from suite.measure.benchmark import THROUGHPUT_FIELDS
from suite.runs.config import RunConfig
from suite.runs.executors import RaySettings
from suite.runs.grid import UnitKey, format_value
from suite.runs.manifest import now
from suite.runs.store import RunStore


def log(message: str) -> None:
    """One line of a run's progress on stderr, at once (between the progress bars)."""
    print(message, file=sys.stderr, flush=True)


class RunLedger:
    """A run directory's files, its settings and its manifest, which every change is saved to."""

    def __init__(self, store: RunStore, config: RunConfig, manifest: dict):
        self.store = store
        self.config = config
        self.manifest = manifest
        # the run's wall time so far, while it runs: every save records it, so a session that is
        # killed outright (no stop to record it) loses only the time since its last save
        self.wall: Callable[[], float] | None = None

    @property
    def out(self) -> Path:
        return self.store.out

    def save_manifest(self) -> None:
        if self.wall is not None:
            self.manifest["wall_s"] = round(self.wall(), 1)
        self.store.write_manifest(self.manifest)

    def assemble(self) -> None:
        """Rebuild the run's tidy CSVs from its finished units' files."""
        self.store.assemble(list(self.manifest["units"]), THROUGHPUT_FIELDS, self.config.axes())

    def label(self, name: str) -> str:
        """How the log names a unit: its place in the run, its variant, seed and grid point."""
        key = UnitKey.parse(name)
        position = list(self.manifest["units"]).index(name) + 1
        point = "".join(f" {axis} {format_value(value)}" for axis, value in key.point)
        return f"[{position}/{len(self.manifest['units'])}] {key.variant} seed {key.seed}{point}"

    # --- units ---------------------------------------------------------------------------

    def pending(self) -> list[str]:
        """The units still to train. A unit with a result file is not trained again (one whose
        weights could not be written is recorded as failed, its metrics kept: training it again
        would fail the same way)."""
        units = self.manifest["units"]
        return [n for n, u in units.items() if u["status"] != "done" and not self.store.has_unit(n)]

    def mark_running(self, names: Iterable[str]) -> None:
        for name in names:
            self.manifest["units"][name].update(status="running", started=now())
        self.save_manifest()

    def mark_done(self, name: str, seconds: float, metric_rows: int | None = None) -> dict:
        """Record a unit as done (forgetting an earlier failure) with how many metric rows it wrote
        (so a metrics.csv cut at a line end is still found incomplete); returns its entry."""
        unit = self.manifest["units"][name]
        unit.update(status="done", seconds=round(seconds, 1), finished=now())
        if metric_rows is not None:
            unit["metric_rows"] = metric_rows
        unit.pop("reason", None)
        unit.pop("traceback", None)
        self.save_manifest()
        return unit

    def mark_failed(self, name: str, reason: str, trace: str = "") -> None:
        unit = self.manifest["units"][name]
        unit.update(status="failed", reason=reason, traceback=trace)
        self.save_manifest()
        log(f"{self.label(name)}: FAILED ({reason}); continuing with the others")

    # --- executions ----------------------------------------------------------------------

    def note_executor(self, ray: RaySettings | None) -> None:
        """Where this execution trains (per-epoch seconds depend on it), keyed by when it began."""
        where = "local" if ray is None else f"ray {ray.address or 'local instance'}, {ray}"
        self.manifest.setdefault("executor", {})[now()] = where

    @contextmanager
    def recording_stops(self, wall_s: Callable[[], float]) -> Iterator[None]:
        """Record in the manifest why the work inside stopped before its end, with the wall time
        so far (``wall_s``), and pass the stop on; a full disk becomes a one-line SuiteError."""
        try:
            yield
        except (KeyboardInterrupt, SystemExit):  # Ctrl-C, or SIGTERM (as Ray's driver turns it)
            self.stop("interrupted", wall_s())
            raise
        except SuiteError as exc:  # e.g. the Ray cluster was lost: the directory stays resumable
            self.stop("stopped", wall_s(), str(exc))
            raise
        except OSError as exc:
            if not disk_full(exc):
                raise
            error = SuiteError(
                f"{exc.filename}: no space left on the device (the file as it was is intact); free some "
                "space, then resume the run"
            )
            self.stop("stopped", wall_s(), str(error))
            raise error from None

    def stop(self, how: str, wall_s: float, reason: str | None = None) -> None:
        """Record that the run stopped before its end (``how``: interrupted or stopped), if the
        disk lets us: on a full disk the previous manifest stays, which resumes as well."""
        self.manifest[how] = now()
        if reason:
            self.manifest["stopped_because"] = reason
        self.manifest["wall_s"] = round(wall_s, 1)
        try:
            self.save_manifest()
        except OSError as exc:
            if not disk_full(exc):
                raise

    def finish(self, wall_s: float) -> int:
        """Record the end of an execution and rebuild the CSVs; returns the number of failed
        units and benchmarks."""
        self.manifest["finished"] = now()
        self.manifest["wall_s"] = round(wall_s, 1)
        self.save_manifest()
        self.assemble()
        units = self.manifest["units"].values()
        benches = self.manifest.get("bench", {}).values()
        return sum(u["status"] == "failed" for u in [*units, *benches])
