"""The Python API as the README shows it, and trained models loaded back from run directories."""

import json
import re
from pathlib import Path

import pytest

import suite
from suite.measure.evaluate import accuracy
from suite.report.results import table_path
from suite.runs.config import RunConfig, load_run_data

ROOT = Path(__file__).resolve().parents[1]


def readme_python_block() -> str:
    section = (ROOT / "README.md").read_text().split("## Use from Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def metric(results, variant: str, name: str, angle: float | None = None, seed: int = 0) -> float:
    rows = results.metrics[(results.metrics.variant == variant) & (results.metrics.metric == name)]
    rows = rows[rows.seed == seed]
    if angle is not None:
        rows = rows[rows.angle.astype(float) == angle]
    assert len(rows) == 1, rows
    return float(rows.value.iloc[0])


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """The README's block, run as written in a fresh folder (its run directory lands there)."""
    import os

    folder = tmp_path_factory.mktemp("notebook")
    here = os.getcwd()
    os.chdir(folder)
    try:
        namespace: dict = {}
        exec(compile(readme_python_block(), "README.md", "exec"), namespace)
    finally:
        os.chdir(here)
    return folder, namespace


def test_the_readme_block_runs_and_returns_dataframes(notebook):
    folder, ns = notebook
    assert "gcnn-c4" in [v.name for v in ns["suite"].list_variants("*-c4")]
    assert abs(sum(p.numel() for p in ns["model"].parameters()) - 30_000) <= 1_500
    assert set(ns["results"].metrics.variant) == {"cnn", "gcnn-c4"}
    assert ns["again"].metrics.equals(ns["results"].metrics)
    assert not ns["trained"].training
    assert (folder / "runs" / "notebook" / "weights" / "gcnn-c4__seed0.safetensors").is_file()


def test_a_loaded_model_reproduces_the_runs_accuracy(notebook):
    folder, ns = notebook
    run_dir = folder / "runs" / "notebook"
    data = load_run_data(RunConfig.from_dict(ns["again"].manifest["config"]))
    for variant in ("cnn", "gcnn-c4"):
        model = suite.load_model(run_dir, variant)
        for angle in (0.0, 90.0):
            assert accuracy(model, data.test_x, data.test_y, angle) == metric(
                ns["again"], variant, "acc", angle
            )


def test_api_errors_name_the_parameter(tmp_path):
    from suite.errors import SuiteError, UsageError

    with pytest.raises(UsageError, match=r"^budget 'lots'"):
        suite.build("cnn", budget="lots")
    with pytest.raises(UsageError, match="unknown variant 'nope'"):
        suite.build("nope")
    with pytest.raises(SuiteError, match="no manifest.json"):
        suite.load_model(tmp_path, "cnn")


COMMITTED = sorted(p.parent for p in (ROOT / "results").rglob("weights") if p.is_dir())
PER_IMAGE_CHECKED = ("quick-fashion-cpu",)  # the others: their sample predictions (the test suite's time)
PER_IMAGE_COUNT = 1_000  # the first test images of the per-image check, at 0° and at 90°
UPRIGHT_VOLUMES_CHECKED = 32  # 3-D runs: the first test volumes checked upright, per variant


def skip_without_the_data_set(run_dir: Path) -> None:
    from suite.data import fashion

    dataset = json.loads((run_dir / "manifest.json").read_text()).get("config", {}).get("dataset")
    if dataset == "fashion-mnist" and not fashion.DEBIAN_DIR.is_dir():
        pytest.skip("needs Debian's Fashion-MNIST: apt-get install dataset-fashion-mnist (.ci/run does)")


@pytest.mark.parametrize("run_dir", COMMITTED, ids=[str(p.relative_to(ROOT / "results")) for p in COMMITTED])
def test_committed_weights_reproduce_the_committed_accuracy(run_dir):
    """The trained models committed under results/, loaded fresh, are right on exactly the test
    images their run recorded in its per-image table (``PER_IMAGE_CHECKED`` runs: seed 0 of each
    variant, upright and at 90°, the first ``PER_IMAGE_COUNT`` test images), or, for the other
    runs, give the predictions their run recorded for the sample digits at every sample angle
    (the first unit of each variant)."""
    skip_without_the_data_set(run_dir)
    if run_dir.name not in PER_IMAGE_CHECKED:
        check_sample_predictions(run_dir)
        return
    import pandas as pd

    from suite.correctness import decode
    from suite.measure.evaluate import predict

    results = suite.load_run(run_dir)
    data = load_run_data(RunConfig.from_dict(results.manifest["config"]))
    rows = pd.read_csv(table_path(run_dir, "correct.csv"), dtype={"angle": str})
    recorded = rows[(rows.metric == "acc") & rows.angle.isin(["0", "90"]) & (rows.seed == 0)]
    assert len(recorded) == 2 * len(results.variants)
    images, labels = data.test_x[:PER_IMAGE_COUNT], data.test_y[:PER_IMAGE_COUNT]
    for row in recorded.itertuples():
        model = suite.load_model(run_dir, row.variant, 0)
        correct = (predict(model, images, float(row.angle)) == labels).numpy()
        assert (correct == decode(row.bits, row.images)[:PER_IMAGE_COUNT]).all(), (row.variant, row.angle)


def check_sample_predictions(run_dir: Path) -> None:
    import torch

    from suite.measure.evaluate import predict

    results = suite.load_run(run_dir)
    config = RunConfig.from_dict(results.manifest["config"])
    data = load_run_data(config)
    if data.task.kind == "3d":  # volumes keep no sample predictions: which were right, upright
        check_upright_correctness(run_dir, results, data)
        return
    expected = results.predictions
    assert not expected.empty
    axes = list(config.grid)
    units = expected.groupby(["variant", "seed", *axes])
    # the first unit of each variant (its lowest seed; a study's or grid's first point), as
    # PER_IMAGE_CHECKED runs check seed 0 of each: every seed of every variant costs the suite's time
    units = [next((k, g) for k, g in units if k[0] == v) for v in dict.fromkeys(expected.variant)]
    for (variant, seed, *point), rows in units:
        model = suite.load_model(run_dir, variant, int(seed), **dict(zip(axes, point, strict=True)))
        for angle, at in rows.groupby("angle"):
            images = data.test_x[torch.as_tensor(at["index"].to_numpy())]
            assert predict(model, images, float(angle)).tolist() == at.predicted.tolist(), (variant, angle)


def check_upright_correctness(run_dir: Path, results, data) -> None:
    """Seed 0 of each variant of a 3-D run, loaded fresh, is right on exactly the upright test
    volumes its run recorded in its per-image table (the first ``UPRIGHT_VOLUMES_CHECKED``, and in
    a study over an axis its first value only: the test suite's time)."""
    import pandas as pd

    from suite.correctness import decode
    from suite.declared import AXES
    from suite.measure.volumes import predict_volumes

    rows = pd.read_csv(table_path(run_dir, "correct.csv"), dtype={"angle": str})
    upright = rows[(rows.metric == "acc_o") & (rows.angle == "0") & (rows.seed == 0)]
    axes = [column for column in rows.columns if column in AXES]
    for axis in axes:
        upright = upright[upright[axis] == upright[axis].min()]
    assert set(upright.variant) == set(results.metrics.variant) and len(upright) == upright.variant.nunique()
    for row in upright.itertuples():
        point = {axis: getattr(row, axis) for axis in axes}
        model = suite.load_model(run_dir, row.variant, 0, **point)
        volumes, labels = data.test_x[:UPRIGHT_VOLUMES_CHECKED], data.test_y[:UPRIGHT_VOLUMES_CHECKED]
        correct = (predict_volumes(model, volumes, lambda x, _s: x) == labels).numpy()
        assert (correct == decode(row.bits, row.images)[:UPRIGHT_VOLUMES_CHECKED]).all(), row.variant


@pytest.mark.parametrize("run_dir", COMMITTED, ids=[str(p.relative_to(ROOT / "results")) for p in COMMITTED])
def test_committed_runs_keep_the_weights_of_every_unit(run_dir):
    results = suite.load_run(run_dir)
    done = [unit for unit, status in results.manifest["units"].items() if status["status"] == "done"]
    kept = sorted(p.stem for p in (run_dir / "weights").glob("*.safetensors"))
    assert done and kept == sorted(done)


def test_a_study_from_python_writes_its_report_and_resumes(tmp_path):
    """``suite.study`` is ``suite study``: a study run directory (its kind, axis and question in the
    manifest), ``study.csv`` with a row per unit, the summary; ``suite.resume`` finishes it."""
    import pandas as pd

    out = tmp_path / "study"
    results = suite.study("data", "smoke", out, variants="cnn", values=[128, 256], recipe="tutorial",
                          progress=False)  # fmt: skip
    assert results.manifest["kind"] == "study" and results.manifest["study"]["axis"] == "train_size"
    rows = pd.read_csv(out / "study.csv")
    assert sorted(rows["train_size"].unique()) == [128, 256] and set(rows["variant"]) == {"cnn"}
    assert "How much training data" in (out / "summary.md").read_text()
    assert results.manifest["command"][1].startswith("suite.study(name='data', scale='smoke'")
    (out / "units" / "train" / "cnn__seed0__train_size=256.json").unlink()  # as if interrupted there
    resumed = suite.resume(out, progress=False)
    assert pd.read_csv(out / "study.csv").equals(rows) and resumed.manifest["kind"] == "study"


def test_loading_a_unit_whose_weights_were_left_out_says_so():
    """The committed model-size study keeps no weights (15 MB): asking for one says why, in one line."""
    from suite.errors import SuiteError

    with pytest.raises(SuiteError, match="finished, but its weights are not in the run directory"):
        suite.load_model(ROOT / "results" / "studies" / "budgets-optuna", "cnn", budget=14000)
