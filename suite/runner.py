"""The run: every (variant, seed) unit trained under one recipe, measured, written as it finishes.

A run directory holds ``manifest.json`` (config, environment, unit status), one JSON file per
finished unit under ``units/``, per-epoch checkpoints under ``checkpoints/``, and the tidy
``metrics.csv`` and ``history.csv`` assembled from the unit files after every unit. All writes
are atomic, so an interrupted run can be resumed with nothing lost and nothing half-written.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from suite import registry
from suite.atomic import write_json_atomic, write_text_atomic
from suite.benchmark import THROUGHPUT_FIELDS, BenchSettings, benchmark_variant
from suite.data import MNIST, load_mnist
from suite.environment import describe, resolve_device
from suite.errors import SuiteError, failure_reason
from suite.evaluate import (
    C4_ANGLES,
    DEFAULT_SWEEP,
    accuracy,
    confusion,
    invariance_error,
    predict,
    random_angles,
)
from suite.layout import apply_layout, variant_layout
from suite.profiles import get_profile
from suite.train import DivergedError, EpochRecord, Recipe, seed_everything, train

METRIC_FIELDS = ("variant", "seed", "metric", "angle", "value")
# wall_s: cumulative training seconds up to the end of the epoch (evaluation excluded)
PREDICTION_FIELDS = ("variant", "seed", "index", "label", "angle", "predicted")
SAMPLE_FIELDS = ("index", "label", "pixels_hex")
SAMPLE_ANGLES = (0, 45, 90, 135, 180)
CONFUSION_FIELDS = ("variant", "seed", "condition", "true", "predicted", "count")
HISTORY_TEST_DIGITS = 2_000  # per-epoch accuracies use the first 2,000 test digits (speed)
HISTORY_FIELDS = ("variant", "seed", "epoch", "loss", "acc_0", "acc_c4_mean", "epoch_s", "wall_s")


@dataclass
class RunConfig:
    """Everything that decides a run's numbers; stored in the manifest so a resume repeats it."""

    variants: list[str]
    profile: str = "quick"
    seeds: list[int] = field(default_factory=lambda: [0])
    recipe: Recipe = field(default_factory=Recipe)
    device: str = "auto"
    budget: int | None = None
    data_dir: str | None = None
    download: bool = False
    plugins: list[str] = field(default_factory=list)
    angles: list[float] = field(default_factory=lambda: list(DEFAULT_SWEEP))
    bench: bool = True  # measure each variant's cost after training (throughput.csv)
    layout: str = "auto"  # memory layout (suite.layout): auto = channels-last on CPU

    def to_dict(self) -> dict:
        out = asdict(self)
        out["recipe"] = self.recipe.as_dict()
        return out

    @classmethod
    def from_dict(cls, raw: dict) -> RunConfig:
        raw = dict(raw)
        raw["recipe"] = Recipe(**raw["recipe"])
        raw.setdefault("layout", "contiguous")  # runs written before layouts existed ran contiguous
        return cls(**raw)


def unit_name(variant: str, seed: int) -> str:
    return f"{variant}__seed{seed}"


def parse_unit_name(name: str) -> tuple[str, int]:
    """The (variant, seed) of a :func:`unit_name`."""
    variant, seed = name.rsplit("__seed", 1)
    return variant, int(seed)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _csv_text(rows: list[dict], fields: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


class Run:
    """One run directory and the work it still has to do."""

    def __init__(self, out: Path, config: RunConfig, manifest: dict):
        self.out = out
        self.config = config
        self.manifest = manifest

    # --- creating and reopening ------------------------------------------------------------

    @classmethod
    def create(cls, out: Path, config: RunConfig, command: list[str], force: bool = False) -> Run:
        out = Path(out)
        if out.exists() and any(out.iterdir()) and not force:
            raise SuiteError(
                f"run directory {out} already exists; pass --resume {out} to finish it "
                "or --force to start it again"
            )
        _check_writable(out)
        if force:
            for stale in ("units", "checkpoints"):
                for path in sorted((out / stale).glob("*")) if (out / stale).is_dir() else []:
                    path.unlink()
        manifest = {
            "command": command,
            "config": config.to_dict(),
            "started": _now(),
            "finished": None,
            "wall_s": None,
            "units": {unit_name(v, s): {"status": "pending"} for v in config.variants for s in config.seeds},
        }
        run = cls(out, config, manifest)
        run.save_manifest()
        return run

    @classmethod
    def open(cls, out: Path, command: list[str]) -> Run:
        out = Path(out)
        path = out / "manifest.json"
        if not path.is_file():
            raise SuiteError(f"--resume {out}: no manifest.json there; is it a run directory?")
        try:
            manifest = json.loads(path.read_text())
            config = RunConfig.from_dict(manifest["config"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SuiteError(f"--resume {out}: manifest.json is unreadable ({exc})") from exc
        _check_writable(out)
        manifest.setdefault("resumed", []).append({"command": command, "at": _now()})
        run = cls(out, config, manifest)
        for name, unit in manifest["units"].items():
            if run.unit_path(name).is_file():  # its result was written: nothing to redo
                unit["status"] = "done"
            elif unit["status"] != "done":
                unit["status"] = "pending"
        return run

    # --- bookkeeping ---------------------------------------------------------------------

    def save_manifest(self) -> None:
        write_json_atomic(self.out / "manifest.json", self.manifest)

    def unit_path(self, name: str) -> Path:
        return self.out / "units" / f"{name}.json"

    def checkpoint_path(self, name: str) -> Path:
        return self.out / "checkpoints" / f"{name}.pt"

    def assemble(self) -> None:
        """Rebuild ``metrics.csv`` and ``history.csv`` from the finished units, in run order."""
        tables: dict[str, list[dict]] = {"metrics": [], "history": [], "confusion": [], "predictions": []}
        for name in self.manifest["units"]:
            path = self.unit_path(name)
            if path.is_file():
                result = json.loads(path.read_text())
                for key, rows in tables.items():
                    rows.extend(result.get(key, []))
        bench_rows: list[dict] = []
        for path in sorted((self.out / "units").glob("bench__*.json")):
            bench_rows.extend(json.loads(path.read_text()))
        write_text_atomic(self.out / "throughput.csv", _csv_text(bench_rows, THROUGHPUT_FIELDS))
        for key, fields in (
            ("metrics", METRIC_FIELDS),
            ("history", HISTORY_FIELDS),
            ("confusion", CONFUSION_FIELDS),
            ("predictions", PREDICTION_FIELDS),
        ):
            write_text_atomic(self.out / f"{key}.csv", _csv_text(tables[key], fields))

    # --- the work ------------------------------------------------------------------------

    def execute(self, progress: bool = True, data: MNIST | None = None, jobs: int = 1) -> int:
        """Train and measure every pending unit (``jobs`` at a time); returns the number of failures."""
        config = self.config
        profile = get_profile(config.profile)
        device = resolve_device(config.device)
        for variant in config.variants:
            registry.get_variant(variant)  # fail before any training on an unknown name
        self.manifest["environment"] = describe(device)
        self.manifest["layout"] = {
            name: variant_layout(config.layout, device, name) for name in config.variants
        }
        data = data or load_run_data(config)
        self.manifest["data"] = data.source
        self.manifest["test_digits"] = len(data.test_x)
        self.manifest["train_digits"] = len(data.train_x)
        self.manifest["variants"] = {
            name: {
                k: getattr(registry.get_variant(name), k)
                for k in ("family", "claims", "augment", "description")
            }
            for name in config.variants
        }
        write_samples(self.out / "samples.csv", data)
        began = time.perf_counter()
        pending = [n for n, u in self.manifest["units"].items() if u["status"] != "done"]
        # wall_s accumulates over resumptions: the time the whole run has taken so far
        previous = self.manifest.get("wall_s") or self.manifest.pop("wall_s_before", 0) or 0
        jobs = max(1, min(jobs, len(pending)))
        self.manifest.setdefault("jobs", {})[_now()] = jobs  # per-epoch seconds depend on it
        try:
            if jobs > 1:
                self._train_parallel(pending, profile.invariance_batch, jobs, progress)
            else:
                data = data.to(device)
                for name in pending:
                    self._run_unit(name, data, device, profile.invariance_batch, progress)
            if config.bench:
                self._run_benchmarks(device, profile.name, progress)
        except KeyboardInterrupt:
            self.manifest["interrupted"] = _now()
            self.manifest["wall_s"] = round(previous + time.perf_counter() - began, 1)
            self.save_manifest()
            raise
        self.manifest["finished"] = _now()
        self.manifest["wall_s"] = round(previous + time.perf_counter() - began, 1)
        self.save_manifest()
        self.assemble()
        units = self.manifest["units"].values()
        benches = self.manifest.get("bench", {}).values()
        return sum(u["status"] == "failed" for u in [*units, *benches])

    def _label(self, name: str) -> str:
        variant, seed = parse_unit_name(name)
        position = list(self.manifest["units"]).index(name) + 1
        return f"[{position}/{len(self.manifest['units'])}] {variant} seed {seed}"

    def _train_parallel(self, pending: list[str], invariance_batch: int, jobs: int, progress: bool) -> None:
        """Train ``pending`` units in ``jobs`` worker processes; record each as it finishes."""
        from tqdm.auto import tqdm

        from suite.parallel import UnitTask, run_parallel

        tasks = []
        for name in pending:
            variant, seed = parse_unit_name(name)
            tasks.append(UnitTask(name, variant, seed, invariance_batch, str(self.checkpoint_path(name))))
            self.manifest["units"][name].update(status="running", started=_now())
        self.save_manifest()
        _log(f"training {len(tasks)} units, {jobs} at a time")
        bar = tqdm(total=len(tasks), desc="units", unit="unit", disable=not progress or None)
        for outcome in run_parallel(self.config.to_dict(), tasks, jobs):
            self._record(outcome.name, outcome.seconds, outcome.result, outcome.reason, outcome.traceback)
            bar.update(1)
        bar.close()

    def _run_benchmarks(self, device: torch.device, profile: str, progress: bool) -> None:
        """Cost of each variant (once, not per seed): parameters, FLOPs, throughput."""
        status = self.manifest.setdefault("bench", {})
        settings = bench_settings(profile, device, self.config.layout)
        for variant in self.config.variants:
            path = self.out / "units" / f"bench__{variant}.json"
            if status.get(variant, {}).get("status") == "done" and path.is_file():
                continue
            began = time.perf_counter()
            try:
                rows = benchmark_variant(variant, device, settings, self.config.budget)
            except Exception as exc:  # noqa: BLE001 - one variant's failure must not sink the rest
                reason = failure_reason(exc)
                status[variant] = {"status": "failed", "reason": reason}
                self.save_manifest()
                _log(f"benchmark {variant}: FAILED ({reason})")
                continue
            write_json_atomic(path, rows)
            status[variant] = {"status": "done", "seconds": round(time.perf_counter() - began, 1)}
            self.save_manifest()
            best = max(r["samples_per_s"] for r in rows if r["bench"] == "infer")
            _log(
                f"benchmark {variant}: {rows[0]['flops'] / 1e6:.2f} MFLOPs/image, "
                f"up to {best:,.0f} images/s inference"
            )

    def _run_unit(
        self, name: str, data: MNIST, device: torch.device, invariance_batch: int, progress: bool
    ) -> None:
        variant, seed = parse_unit_name(name)
        label = self._label(name)
        self.manifest["units"][name].update(status="running", started=_now())
        self.save_manifest()
        began = time.perf_counter()
        try:
            result = train_and_measure(
                variant,
                seed,
                data,
                device,
                self.config,
                invariance_batch,
                self.checkpoint_path(name),
                progress,
                label,
            )
        except (DivergedError, torch.OutOfMemoryError, Exception) as exc:  # noqa: B014
            reason = failure_reason(exc)
            self._record(name, time.perf_counter() - began, None, reason, traceback.format_exc(limit=8))
            return
        self._record(name, time.perf_counter() - began, result)

    def _record(
        self,
        name: str,
        seconds: float,
        result: dict | None,
        reason: str | None = None,
        trace: str | None = None,
    ) -> None:
        """Write a finished unit's result (or its failure) and update the manifest."""
        unit = self.manifest["units"][name]
        label = self._label(name)
        if result is None:
            unit.update(status="failed", reason=reason or "unknown", traceback=trace or "")
            self.save_manifest()
            _log(f"{label}: FAILED ({unit['reason']}); continuing with the others")
            return
        write_json_atomic(self.unit_path(name), result)
        unit.update(status="done", seconds=round(seconds, 1), finished=_now())
        unit.pop("reason", None)
        unit.pop("traceback", None)
        self.save_manifest()
        self.assemble()
        accs = {int(r["angle"]): r["value"] for r in result["metrics"] if r["metric"] == "acc"}
        shown = ", ".join(f"{a}°={accs[a]:.2f}%" for a in C4_ANGLES)
        _log(f"{label}: done in {unit['seconds']:.0f} s: {shown}")


def load_run_data(config: RunConfig) -> MNIST:
    """The verified digits a run trains on (the profile's subset for ``smoke``)."""
    profile = get_profile(config.profile)
    data = load_mnist(Path(config.data_dir) if config.data_dir else None, download=config.download)
    if profile.train_size is not None:
        data = data.subset(profile.train_size, profile.test_size or len(data.test_x))
    return data


def bench_settings(profile: str, device: torch.device, layout: str) -> BenchSettings:
    """Short sweeps for the smoke profile; the full sweep otherwise; in the run's ``--layout``."""
    if profile == "smoke":
        return BenchSettings(infer_batches=(1, 64), train_batches=(64,), warmup=1, repeats=3, layout=layout)
    if device.type == "cpu":  # training at batch 1024 is for `suite bench`; keep runs short
        return BenchSettings(train_batches=(64,), layout=layout)
    return BenchSettings.for_device(device, layout=layout)


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise SuiteError(
            f"output directory {out} is not writable ({exc.strerror}); pass --out with a writable path"
        ) from exc


def train_and_measure(
    variant: str,
    seed: int,
    data: MNIST,
    device: torch.device,
    config: RunConfig,
    invariance_batch: int,
    checkpoint: Path | None,
    progress: bool,
    label: str,
) -> dict:
    """Build, train and evaluate one (variant, seed); returns its metric and history rows."""
    spec = registry.get_variant(variant)
    seed_everything(seed)
    model = apply_layout(
        spec.build(budget=config.budget).to(device), variant_layout(config.layout, device, variant)
    )

    test_x, test_y = data.test_x[:HISTORY_TEST_DIGITS], data.test_y[:HISTORY_TEST_DIGITS]

    def on_epoch(record: EpochRecord, trained: torch.nn.Module) -> dict:
        c4 = [accuracy(trained, test_x, test_y, a) for a in C4_ANGLES]
        return {"acc_0": c4[0], "acc_c4_mean": sum(c4) / 4}

    epochs = train(model, data, config.recipe, spec.augment, seed, checkpoint, progress, label, on_epoch)
    history_rows = []
    train_seconds = 0.0
    for record in epochs:
        train_seconds += record.seconds
        history_rows.append(
            {
                "variant": variant,
                "seed": seed,
                "epoch": record.epoch,
                "loss": round(record.loss, 6),
                **record.extra,
                "epoch_s": round(record.seconds, 3),
                "wall_s": round(train_seconds, 3),
            }
        )
    rows, confusions = measure(model, data, invariance_batch, config.angles)
    predictions = sample_predictions(model, data)
    rows.append({"metric": "params", "angle": "", "value": registry.count_params(model)})
    rows.append(
        {
            "metric": "train_s_per_epoch",
            "angle": "",
            "value": round(train_seconds / max(len(epochs), 1), 3),
        }
    )
    for row in [*rows, *confusions, *predictions]:
        row.update(variant=variant, seed=seed)
    return {
        "metrics": [{k: r[k] for k in METRIC_FIELDS} for r in rows],
        "history": history_rows,
        "confusion": [{k: r[k] for k in CONFUSION_FIELDS} for r in confusions],
        "predictions": [{k: r[k] for k in PREDICTION_FIELDS} for r in predictions],
    }


def sample_indices(labels: torch.Tensor) -> list[int]:
    """The first test digit of each class, for the prediction grid."""
    return [int((labels == c).nonzero()[0]) for c in range(10) if (labels == c).any()]


def write_samples(path: Path, data: MNIST) -> None:
    """The sample digits' pixels (hex), so plots need neither the data set nor a model."""
    rows = [
        {"index": i, "label": int(data.test_y[i]), "pixels_hex": data.test_x[i].cpu().numpy().tobytes().hex()}
        for i in sample_indices(data.test_y)
    ]
    write_text_atomic(path, _csv_text(rows, SAMPLE_FIELDS))


def sample_predictions(model: torch.nn.Module, data: MNIST) -> list[dict]:
    indices = sample_indices(data.test_y)
    images = data.test_x[indices]
    rows = []
    for angle in SAMPLE_ANGLES:
        predicted = predict(model, images, angle).tolist()
        rows.extend(
            {"index": i, "label": int(data.test_y[i]), "angle": angle, "predicted": p}
            for i, p in zip(indices, predicted, strict=True)
        )
    return rows


def measure(
    model: torch.nn.Module, data: MNIST, invariance_batch: int, angles: list[float]
) -> tuple[list[dict], list[dict]]:
    """Accuracy over the angle sweep (exact at quarter turns), C4 mean and minimum, random-angle
    accuracy, invariance error; and confusion counts at 90° and at random angles."""
    rows = []
    acc = {}
    for angle in sorted(set(angles) | set(C4_ANGLES)):
        acc[angle] = accuracy(model, data.test_x, data.test_y, angle)
        rows.append({"metric": "acc", "angle": angle, "value": acc[angle]})
    c4 = [acc[a] for a in C4_ANGLES]
    rows.append({"metric": "acc_c4_mean", "angle": "", "value": sum(c4) / 4})
    rows.append({"metric": "acc_c4_min", "angle": "", "value": min(c4)})
    random_pred = predict(model, data.test_x, random_angles(len(data.test_x)))
    random_acc = 100.0 * (random_pred == data.test_y).float().mean().item()
    rows.append({"metric": "acc_random", "angle": "", "value": random_acc})
    invariance = invariance_error(model, data.test_x[:invariance_batch])
    rows.append({"metric": "invariance_err", "angle": "", "value": invariance})
    confusions = []
    conditions = (("rot90", predict(model, data.test_x, 90)), ("random", random_pred))
    for condition, predicted in conditions:
        counts = confusion(predicted, data.test_y)
        confusions.extend(
            {"condition": condition, "true": t, "predicted": p, "count": int(counts[t, p])}
            for t in range(10)
            for p in range(10)
            if counts[t, p] > 0
        )
    return rows, confusions
