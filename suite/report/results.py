"""A run directory's files as pandas DataFrames and a dict: what reports and notebooks read.

Every file is validated as it is read (a run directory may be truncated, edited or someone
else's): a bad one is named in one line with what to do, never a traceback.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pandas as pd

from suite.errors import BadRunFile, SuiteError

# metrics.csv columns every report needs, never empty (``angle`` is empty for scalar metrics)
METRIC_KEYS = ("variant", "seed", "metric", "value")
REBUILD = "resume the run to rebuild it from units/"


def _unit_key(unit: str, axes: list[str]) -> tuple | None:
    """The metrics.csv key (variant, seed, axis values) of a unit name such as
    ``cnn__seed0__lr=0.003``; None if the name is not one."""
    variant, _, rest = unit.partition("__seed")
    seed, *parts = rest.split("__")
    values = dict(part.partition("=")[::2] for part in parts)
    try:
        return (variant, int(seed), *(float(values[a]) for a in axes))
    except (KeyError, ValueError):
        return None


def table_path(run_dir: Path, name: str) -> Path:
    """Where a run keeps table ``name`` (``correct.csv``): its gzip-compressed form where the run
    wrote one (``correct.csv.gz``), else the plain file (runs written before compression)."""
    packed = Path(run_dir) / f"{name}.gz"
    return packed if packed.is_file() else Path(run_dir) / name


def table_bytes(path: Path) -> bytes:
    """A table's CSV bytes, checked to end with the newline the suite ends every file with.
    Raises OSError (gzip's BadGzipFile too), EOFError (a cut gzip) or ValueError."""
    text = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if not text.endswith(b"\n"):
        raise BadRunFile(path, "is truncated (its last line is incomplete)", REBUILD)
    return text


class RunResults:
    """The tables of one run directory, loaded with pandas."""

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        metrics_path = self.dir / "metrics.csv"
        if not metrics_path.is_file():
            raise SuiteError(f"{self.dir}: no metrics.csv; pass a directory written by 'suite run'")
        self.metrics = self._csv("metrics.csv", METRIC_KEYS, numeric=("value",))
        if self.metrics.empty:
            raise SuiteError(f"{self.dir}: metrics.csv has no results yet (no unit finished)")
        self.manifest = self._json("manifest.json")
        self._check_complete(metrics_path)
        self.history = self._csv("history.csv")
        self.throughput = self._csv("throughput.csv")
        self.confusion = self._csv("confusion.csv")
        self.predictions = self._csv("predictions.csv")
        self.samples = self._csv("samples.csv")
        # per-image results (runs from before: empty)
        self.correct = self._csv("correct.csv", ("variant", "seed", "metric", "images", "bits"))
        order = list(self.manifest.get("variants", {})) or list(dict.fromkeys(self.metrics.variant))
        self.variants = [v for v in order if v in set(self.metrics.variant)]
        # runs written before data sets existed ran on MNIST
        dataset = self.manifest.get("dataset") or {"name": "mnist", "digits": True}
        self.dataset: str = dataset["name"]
        self.classes: list[str] = list(dataset.get("classes") or [str(d) for d in range(10)])
        self.digits: bool = bool(dataset.get("digits", self.dataset == "mnist"))

    def _check_complete(self, path: Path) -> None:
        """One line unless every finished unit has as many metric rows as it wrote (the manifest
        records the count): a file cut at a line end still parses, so rows are counted."""
        units = self.manifest.get("units")
        if not isinstance(units, dict):
            return
        axes = [c for c in self.metrics.columns if c not in (*METRIC_KEYS, "angle")]
        keys = ["variant", "seed", *axes]
        counts = self.metrics.groupby(keys, dropna=False).size().to_dict()
        for name, unit in units.items():
            if not isinstance(unit, dict) or unit.get("status") != "done" or "metric_rows" not in unit:
                continue
            key = _unit_key(name, axes)
            if key is None or (axes and key not in counts):  # a grid value named with rounding: skip
                continue
            found = counts.get(key, 0)
            if found != unit["metric_rows"]:
                raise BadRunFile(
                    path, f"holds {found} of the {unit['metric_rows']} rows of {name}: truncated?", REBUILD
                )

    def class_name(self, label: int) -> str:
        """The data set's name for ``label`` (the label itself where the set names none)."""
        return self.classes[label] if 0 <= label < len(self.classes) else str(label)

    def _csv(self, name: str, keys: tuple[str, ...] = (), numeric: tuple[str, ...] = ()) -> pd.DataFrame:
        """A CSV of the run (empty if absent), checked: complete, parseable, its ``keys`` columns
        present and never empty, its ``numeric`` columns numbers."""
        path = table_path(self.dir, name)
        if not path.is_file() or path.stat().st_size == 0:
            return pd.DataFrame()
        try:
            frame = pd.read_csv(io.BytesIO(table_bytes(path)))
        except (OSError, ValueError, EOFError) as exc:  # see table_bytes
            raise BadRunFile(
                path, f"is not a readable CSV table ({' '.join(str(exc).split())})", REBUILD
            ) from None
        missing = [column for column in (*keys, *numeric) if column not in frame.columns]
        if missing:
            raise BadRunFile(path, f"lacks the column(s) {', '.join(missing)}", REBUILD)
        if keys and frame[list(keys)].isna().any().any():
            raise BadRunFile(path, f"has rows with empty {'/'.join(keys)} fields", REBUILD)
        for column in numeric:
            if not frame.empty and not pd.api.types.is_numeric_dtype(frame[column]):
                raise BadRunFile(path, f"has values in column {column} that are not numbers", REBUILD)
        return frame

    def _json(self, name: str) -> dict:
        """A JSON object of the run (empty if absent); a reader needs none of its keys."""
        path = self.dir / name
        if not path.is_file():
            return {}
        todo = "restore it from a copy of the run directory, or move it away to read the run without it"
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BadRunFile(path, f"is not readable JSON ({exc})", todo) from None
        if not isinstance(value, dict):
            raise BadRunFile(path, f"holds a JSON {type(value).__name__}, not an object", todo)
        for key in ("variants", "dataset", "units", "config"):  # what the reports look into
            if not isinstance(value.get(key, {}), dict):
                raise BadRunFile(path, f"has a {key!r} that is not a mapping", todo)
        return value

    def info(self, variant: str, key: str) -> str:
        return self.manifest.get("variants", {}).get(variant, {}).get(key, "?")

    def scalar(self, metric: str) -> pd.DataFrame:
        """Mean, std and count over seeds of a metric without an angle, one row per variant."""
        rows = self.metrics[self.metrics.metric == metric]
        return rows.groupby("variant")["value"].agg(["mean", "std", "count"])

    def by_angle(self) -> pd.DataFrame:
        """Accuracy per (variant, angle): mean, std, count over seeds."""
        rows = self.metrics[self.metrics.metric == "acc"].copy()
        rows["angle"] = rows["angle"].astype(float)
        return rows.groupby(["variant", "angle"])["value"].agg(["mean", "std", "count"])

    def infer_throughput(self, variant: str, form: str | None = None) -> float | None:
        """Best inference images/s of a variant at its largest measured batch (any or one form)."""
        t = self.throughput
        if t.empty:
            return None
        rows = t[(t.variant == variant) & (t.bench == "infer") & (t.form != "twin")]
        if form is not None:
            rows = rows[rows.form == form]
        if rows.empty:
            return None
        rows = rows[rows.batch_size == rows.batch_size.max()]
        return float(rows.samples_per_s.max())
