"""A run directory on disk: manifest, one file per finished unit, checkpoints, weights, the CSVs.

Each kind of file has its own folder, so no variant name can be mistaken for another kind::

    manifest.json                     config, environment, each unit's status
    units/train/<unit>.json           a finished unit's rows (metrics, history, ...)
    units/bench/<variant>.json        a variant's cost rows
    weights/<unit>.safetensors        its trained weights (no pickle; small enough to commit)
    checkpoints/<unit>.pt             per-epoch state for resuming (not committed)
    metrics.csv history.csv confusion.csv predictions.csv throughput.csv samples.csv
    correct.csv.gz                    which evaluation images each unit got right (bits, base64),
                                      gzip-compressed: a search's can pass 5 MB as text (runs
                                      written before: ``correct.csv``)

A unit's name is its grid key (``suite.runs.grid``): ``cnn__seed0``, ``cnn__seed0__lr=0.003``.

Every write is atomic: an interrupted run leaves either the old file or the new one. Every read
is validated: a run directory may be truncated, edited or someone else's, and a bad file is named
in one line (``BadRunFile``) with what to do, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from suite.atomic import write_csv_atomic, write_json_atomic
from suite.correctness import CORRECT_FIELDS
from suite.errors import BadRunFile, SuiteError
from suite.runs.grid import UnitKey
from suite.runs.lock import HOLDER_NAME, LOCK_NAME
from suite.runs.weights import load_weights, save_weights

# 3: units train on a recorded thread count (``config.threads``); 2: manifests name their plugins'
# SHA-256 (``plugins``); 1 (no ``format_version``): older runs
FORMAT_VERSION = 3
RESUME_TO_REBUILD = "resume the run to rebuild it from units/"
RESTORE_MANIFEST = "restore it from a copy of the run directory"

METRIC_FIELDS = ("variant", "seed", "metric", "angle", "value")
# wall_s: cumulative training seconds up to the end of the epoch (evaluation excluded); the
# accuracies are measured on validation images, so only runs on the validation split have them
HISTORY_FIELDS = ("variant", "seed", "epoch", "loss", "val_acc_0", "val_acc_c4_mean", "epoch_s", "wall_s")
PREDICTION_FIELDS = ("variant", "seed", "index", "label", "angle", "predicted")
SAMPLE_FIELDS = ("index", "label", "pixels_hex")
CONFUSION_FIELDS = ("variant", "seed", "condition", "true", "predicted", "count")
UNIT_TABLES = {
    "metrics": METRIC_FIELDS,
    "correct": CORRECT_FIELDS,
    "history": HISTORY_FIELDS,
    "confusion": CONFUSION_FIELDS,
    "predictions": PREDICTION_FIELDS,
}


def table_fields(fields: tuple[str, ...], axes: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A unit table's columns in a run with grid ``axes``: one column per axis after variant, seed."""
    return (*fields[:2], *axes, *fields[2:])


# throughput.csv's fields live with the benchmark that writes its rows (suite.measure.benchmark)


def unit_name(variant: str, seed: int) -> str:
    """The name of a plain run's (variant, seed) unit."""
    return UnitKey(variant, seed).name


# the file of each unit table: the per-image one is compressed (about 5× smaller)
TABLE_FILES = {**{key: f"{key}.csv" for key in UNIT_TABLES}, "correct": "correct.csv.gz"}
LEGACY_TABLE_FILES = {"correct": "correct.csv"}  # what runs wrote before; a rewrite removes it

SEARCH_FILES = ("optuna.journal", "trials.csv")  # a tune's studies and their table (suite.runs.search)


class RunStore:
    """The files of one run directory; knows where each kind of file lives, nothing of training."""

    def __init__(self, out: Path):
        self.out = Path(out)

    # --- paths ---------------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.out / "manifest.json"

    def unit_path(self, name: str) -> Path:
        return self.out / "units" / "train" / f"{name}.json"

    def bench_path(self, variant: str) -> Path:
        return self.out / "units" / "bench" / f"{variant}.json"

    def checkpoint_path(self, name: str) -> Path:
        return self.out / "checkpoints" / f"{name}.pt"

    def weights_path(self, name: str) -> Path:
        return self.out / "weights" / f"{name}.safetensors"

    # --- the directory -------------------------------------------------------------------

    def check_writable(self) -> None:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            probe = self.out / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise SuiteError(
                f"{self.out}: not writable ({exc.strerror}); choose a writable directory", param="out"
            ) from exc

    def is_used(self) -> bool:
        """Whether the directory holds anything but a lock (a run, or someone's files)."""
        return self.out.exists() and any(p.name not in (LOCK_NAME, HOLDER_NAME) for p in self.out.iterdir())

    def clear_units(self) -> None:
        """Forget every unit result, checkpoint and weight file, and a tune's studies (a forced restart)."""
        folders = [self.out / f for f in ("units/train", "units/bench", "checkpoints", "weights")]
        files = [path for folder in folders if folder.is_dir() for path in sorted(folder.glob("*"))]
        for path in [*files, *(self.out / name for name in SEARCH_FILES)]:
            path.unlink(missing_ok=True)

    # --- manifest ------------------------------------------------------------------------

    def read_manifest(self) -> dict:
        """The manifest, checked to be one: a JSON object with a ``config`` and ``units`` mapping,
        of a format this code reads."""
        path = self.manifest_path
        if not path.is_file():
            raise SuiteError(f"{self.out}: no manifest.json there; is it a run directory?")
        return check_manifest(path, read_json(path, dict, RESTORE_MANIFEST))

    def write_manifest(self, manifest: dict) -> None:
        write_json_atomic(self.manifest_path, manifest)

    # --- units ---------------------------------------------------------------------------

    def has_unit(self, name: str) -> bool:
        return self.unit_path(name).is_file()

    def write_unit(self, name: str, result: dict) -> None:
        write_json_atomic(self.unit_path(name), result)

    def read_unit(self, name: str) -> dict:
        """A finished unit's result: a mapping of table name to a list of rows."""
        path = self.unit_path(name)
        todo = "delete it and resume the run to train that unit again"
        result = read_json(path, dict, todo)
        for key in UNIT_TABLES:
            read_rows(path, todo, result.get(key, []))
        return result

    def has_bench(self, variant: str) -> bool:
        return self.bench_path(variant).is_file()

    def write_bench(self, variant: str, rows: list[dict]) -> None:
        write_json_atomic(self.bench_path(variant), rows)

    def write_weights(self, name: str, state: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
        """Trained weights as safetensors (``suite.runs.weights``: loading them runs no code)."""
        save_weights(self.weights_path(name), state, metadata)

    def read_weights(self, name: str) -> dict[str, torch.Tensor]:
        path = self.weights_path(name)
        if not path.is_file():
            raise SuiteError(f"{path}: no trained weights for {name} (the unit did not finish in this run)")
        todo = f"delete it and {self.unit_path(name).name}, then resume the run to train that unit again"
        return load_weights(path, todo)

    def assemble(
        self, unit_names: list[str], throughput_fields: tuple[str, ...], axes: tuple[str, ...] = ()
    ) -> None:
        """Rebuild the tidy CSVs from the finished units (in ``unit_names`` order) and benches;
        ``axes``: the run's grid axes, a column each after variant and seed."""
        tables: dict[str, list[dict]] = {key: [] for key in UNIT_TABLES}
        for result in (self.read_unit(name) for name in unit_names if self.has_unit(name)):
            for key, rows in tables.items():
                rows.extend(result.get(key, []))
        bench_rows: list[dict] = []
        for path in sorted((self.out / "units" / "bench").glob("*.json")):
            bench_rows.extend(read_rows(path, f"delete it and resume the run to measure {path.stem} again"))
        write_csv_atomic(self.out / "throughput.csv", bench_rows, throughput_fields)
        for key, fields in UNIT_TABLES.items():
            if key == "history":  # and any per-epoch measure a run of another kind records
                fields = (
                    *fields,
                    *dict.fromkeys(k for row in tables[key] for k in row if k not in (*fields, *axes)),
                )
            write_csv_atomic(self.out / TABLE_FILES[key], tables[key], table_fields(fields, axes))
        drop_legacy_tables(self.out)

    def write_samples(self, rows: list[dict]) -> None:
        write_csv_atomic(self.out / "samples.csv", rows, SAMPLE_FIELDS)


def drop_legacy_tables(out: Path) -> None:
    """Remove the plain tables of an older run once their compressed form is written."""
    for legacy in LEGACY_TABLE_FILES.values():
        (out / legacy).unlink(missing_ok=True)


def check_manifest(path: Path, manifest: dict) -> dict:
    """``manifest`` (read from ``path``) checked to be a manifest: a ``config`` and a ``units``
    mapping, of a format this code reads."""
    for key in ("config", "units"):
        if not isinstance(manifest.get(key), dict):
            raise BadRunFile(path, f"has no {key!r} mapping", RESTORE_MANIFEST)
    if not all(isinstance(unit, dict) for unit in manifest["units"].values()):
        raise BadRunFile(path, "has a unit entry that is not a mapping", RESTORE_MANIFEST)
    version = manifest.get("format_version", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BadRunFile(path, f"has format_version {version!r}; this code reads up to {FORMAT_VERSION}",
                         "update c4suite to read it")  # fmt: skip
    return manifest


def read_json(path: Path, kind: type, todo: str):  # noqa: ANN201 - a ``kind``
    """A JSON file of the run directory that must hold a ``kind`` (dict or list); ``todo``: what
    the user can do about a bad one."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise BadRunFile(path, f"is not readable JSON ({exc})", todo) from None
    if not isinstance(value, kind):
        raise BadRunFile(path, f"holds a JSON {type(value).__name__}, not a {kind.__name__}", todo)
    return value


def read_rows(path: Path, todo: str, rows: object = None) -> list[dict]:
    """A list of row mappings: ``rows``, or read from ``path`` when None."""
    rows = read_json(path, list, todo) if rows is None else rows
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise BadRunFile(path, "holds something other than a list of rows", todo)
    return rows
