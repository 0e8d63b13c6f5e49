"""A run directory's files as pandas DataFrames and a dict: what reports and notebooks read."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from suite.errors import SuiteError


class RunResults:
    """The tables of one run directory, loaded with pandas."""

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        metrics_path = self.dir / "metrics.csv"
        if not metrics_path.is_file():
            raise SuiteError(f"{self.dir}: no metrics.csv; pass a directory written by 'suite run'")
        self.metrics = pd.read_csv(metrics_path)
        if self.metrics.empty:
            raise SuiteError(f"{self.dir}: metrics.csv has no results yet (no unit finished)")
        self.manifest = self._json("manifest.json")
        self.history = self._csv("history.csv")
        self.throughput = self._csv("throughput.csv")
        self.confusion = self._csv("confusion.csv")
        self.predictions = self._csv("predictions.csv")
        self.samples = self._csv("samples.csv")
        self.correct = self._csv("correct.csv")  # per-image results (runs from before: empty)
        order = list(self.manifest.get("variants", {})) or list(dict.fromkeys(self.metrics.variant))
        self.variants = [v for v in order if v in set(self.metrics.variant)]
        # runs written before data sets existed ran on MNIST
        dataset = self.manifest.get("dataset") or {"name": "mnist", "digits": True}
        self.dataset: str = dataset["name"]
        self.classes: list[str] = list(dataset.get("classes") or [str(d) for d in range(10)])
        self.digits: bool = bool(dataset.get("digits", self.dataset == "mnist"))

    def class_name(self, label: int) -> str:
        """The data set's name for ``label`` (the label itself where the set names none)."""
        return self.classes[label] if 0 <= label < len(self.classes) else str(label)

    def _csv(self, name: str) -> pd.DataFrame:
        path = self.dir / name
        return pd.read_csv(path) if path.is_file() and path.stat().st_size > 0 else pd.DataFrame()

    def _json(self, name: str) -> dict:
        path = self.dir / name
        return json.loads(path.read_text()) if path.is_file() else {}

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
