"""A run directory on disk: manifest, one file per finished unit, checkpoints, weights, the CSVs.

Each kind of file has its own folder, so no variant name can be mistaken for another kind::

    manifest.json                     config, environment, each unit's status
    units/train/<unit>.json           a finished unit's rows (metrics, history, ...)
    units/bench/<variant>.json        a variant's cost rows
    weights/<unit>.safetensors        its trained weights (no pickle; small enough to commit)
    checkpoints/<unit>.pt             per-epoch state for resuming (not committed)
    metrics.csv history.csv confusion.csv predictions.csv throughput.csv samples.csv
    correct.csv                       which evaluation images each unit got right (bits, base64)

A unit's name is its grid key (``suite.runs.grid``): ``cnn__seed0``, ``cnn__seed0__lr=0.003``.

Every write is atomic: an interrupted run leaves either the old file or the new one.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from suite.atomic import write_atomic, write_csv_atomic, write_json_atomic
from suite.correctness import CORRECT_FIELDS
from suite.errors import SuiteError
from suite.runs.grid import UnitKey

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
        return self.out.exists() and any(self.out.iterdir())

    def clear_units(self) -> None:
        """Forget every unit result, checkpoint and weight file (a forced restart)."""
        for folder in ("units/train", "units/bench", "checkpoints", "weights"):
            for path in sorted((self.out / folder).glob("*")) if (self.out / folder).is_dir() else []:
                path.unlink()

    # --- manifest ------------------------------------------------------------------------

    def read_manifest(self) -> dict:
        if not self.manifest_path.is_file():
            raise SuiteError(f"{self.out}: no manifest.json there; is it a run directory?", param="resume")
        try:
            return json.loads(self.manifest_path.read_text())
        except ValueError as exc:
            raise SuiteError(f"{self.out}: manifest.json is unreadable ({exc})", param="resume") from exc

    def write_manifest(self, manifest: dict) -> None:
        write_json_atomic(self.manifest_path, manifest)

    # --- units ---------------------------------------------------------------------------

    def has_unit(self, name: str) -> bool:
        return self.unit_path(name).is_file()

    def write_unit(self, name: str, result: dict) -> None:
        write_json_atomic(self.unit_path(name), result)

    def has_bench(self, variant: str) -> bool:
        return self.bench_path(variant).is_file()

    def write_bench(self, variant: str, rows: list[dict]) -> None:
        write_json_atomic(self.bench_path(variant), rows)

    def write_weights(self, name: str, state: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
        """Trained weights as safetensors (plain tensors and string metadata: loading runs no code)."""
        from safetensors.torch import save_file

        tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
        write_atomic(self.weights_path(name), lambda tmp: save_file(tensors, str(tmp), metadata=metadata))

    def read_weights(self, name: str) -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        path = self.weights_path(name)
        if not path.is_file():
            raise SuiteError(f"{path}: no trained weights for {name} (the unit did not finish in this run)")
        return load_file(str(path))

    def assemble(
        self, unit_names: list[str], throughput_fields: tuple[str, ...], axes: tuple[str, ...] = ()
    ) -> None:
        """Rebuild the tidy CSVs from the finished units (in ``unit_names`` order) and benches;
        ``axes``: the run's grid axes, a column each after variant and seed."""
        tables: dict[str, list[dict]] = {key: [] for key in UNIT_TABLES}
        for name in unit_names:
            if self.has_unit(name):
                result = json.loads(self.unit_path(name).read_text())
                for key, rows in tables.items():
                    rows.extend(result.get(key, []))
        bench_rows: list[dict] = []
        for path in sorted((self.out / "units" / "bench").glob("*.json")):
            bench_rows.extend(json.loads(path.read_text()))
        write_csv_atomic(self.out / "throughput.csv", bench_rows, throughput_fields)
        for key, fields in UNIT_TABLES.items():
            write_csv_atomic(self.out / f"{key}.csv", tables[key], table_fields(fields, axes))

    def write_samples(self, rows: list[dict]) -> None:
        write_csv_atomic(self.out / "samples.csv", rows, SAMPLE_FIELDS)
