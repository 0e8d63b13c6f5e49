"""Studies: grids of run units along one axis, resumable, with reports rebuilt from their CSVs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from suite.errors import UsageError
from suite.runs.studies import STUDIES, study_config
from tests.cli import run_main


def test_every_study_has_a_cpu_full_and_smoke_scale_and_builds_its_grid():
    for name, study in STUDIES.items():
        assert set(study.scales) == {"cpu", "full", "smoke"}, name
        config = study_config(name, "cpu", recipe="tutorial")
        if study.axis:
            assert config.grid == {study.axis: list(study.scales["cpu"].values)}
        assert len(config.units()) == len(config.variants) * len(config.seeds) * max(
            1, len(study.scales["cpu"].values)
        )
    with pytest.raises(UsageError, match="unknown study"):
        study_config("speed")
    with pytest.raises(UsageError, match="no axis values"):
        study_config("compute", values=[1, 2])


def test_the_data_study_gives_small_sets_more_epochs_and_the_compute_study_trains_augmentation_longer():
    data = study_config("data", "cpu", recipe="tutorial")
    epochs = {k.get("train_size"): data.recipe_for(k).epochs for k in data.units()}
    assert epochs == {1_000: 30, 3_000: 10, 10_000: 3}
    compute = study_config("compute", "cpu", recipe="tutorial")
    by_variant = {k.variant: compute.recipe_for(k).epochs for k in compute.units()}
    assert by_variant["cnn-aug"] == 11 * by_variant["gcnn-c4"] and compute.split == "validation"


def test_a_smoke_study_runs_resumes_and_rebuilds_from_its_csvs(tmp_path, capsys):
    out = tmp_path / "budgets"
    args = ["study", "budgets", "--scale", "smoke", "--variants", "cnn,gcnn-c4", "--recipe", "tutorial",
            "--no-progress", "--out", str(out)]  # fmt: skip
    code, stderr = run_main(capsys, *args)
    assert code == 0, stderr
    table = pd.read_csv(out / "study.csv")
    assert set(table.budget) == {14_000, 30_000} and set(table.variant) == {"cnn", "gcnn-c4"}
    params = table.set_index(["variant", "budget"]).params
    assert params[("gcnn-c4", 30_000)] > params[("gcnn-c4", 14_000)]  # the axis really changes the model
    summary = (out / "summary.md").read_text()
    assert "## Findings" in summary and "parameter budget 30k" in summary
    for plot in ("accuracy_vs_budget.png", "accuracy_vs_params.png", "accuracy_vs_flops.png"):
        assert (out / "plots" / plot).stat().st_size > 10_000
    # an interrupted study: a unit's result is lost; resume trains only that unit
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "study" and manifest["study"]["axis"] == "budget"
    (out / "units" / "train" / "cnn__seed0__budget=30000.json").unlink()
    before = table.set_index(["variant", "budget"]).c4_mean
    code, stderr = run_main(capsys, "study", "--resume", str(out), "budgets", "--no-progress")
    assert code == 0, stderr
    assert stderr.count("done in") == 1 and "cnn seed 0 budget 30000" in stderr
    after = pd.read_csv(out / "study.csv").set_index(["variant", "budget"]).c4_mean
    assert after.equals(before)  # deterministic on CPU: the retrained unit has the same numbers
    summary = (out / "summary.md").read_text()
    (out / "summary.md").unlink()
    code, stderr = run_main(capsys, "plot", str(out))
    assert code == 0 and (out / "summary.md").read_text() == summary


def test_the_compute_study_reports_a_verdict_with_its_numbers(tmp_path, capsys):
    out = tmp_path / "compute"
    variants = "gcnn-c4,cnn-aug,cnn-aug-so2"  # two augmented models, both trained long
    code, stderr = run_main(capsys, "study", "compute", "--scale", "smoke", "--variants", variants,
                            "--recipe", "tutorial", "--no-progress", "--out", str(out))  # fmt: skip
    assert code == 0, stderr
    summary = (out / "summary.md").read_text()
    # one seed: the bounds are shown, but no verdict is drawn
    assert "**Verdict in epochs: no verdict (fewer than 3 seeds); in seconds: " in summary
    assert "in FLOPs: " in summary and "`gcnn-c4`: " in summary
    assert "`cnn-aug` needs, in epochs, " in summary and "`cnn-aug-so2` needs, in epochs, " in summary
    history = pd.read_csv(out / "history.csv")
    assert history.groupby("variant").epoch.max().to_dict() == {
        "cnn-aug": 11,
        "cnn-aug-so2": 11,
        "gcnn-c4": 1,
    }
    assert "never the test set" in summary


def test_on_volumes_the_studies_use_the_3d_variants_and_cap_augmentation_at_50x():
    from suite.runs.studies import STUDIES_3D, study_about

    assert set(STUDIES_3D) == {"data", "compute"}
    compute = study_config("compute", "cpu", dataset="polycubes", recipe="tutorial")
    by_variant = {k.variant: compute.recipe_for(k).epochs for k in compute.units()}
    assert by_variant["cnn3d-aug"] == 51 * by_variant["gcnn-o"] and compute.split == "validation"
    assert "cnn3d-aug-so3" not in by_variant  # the second augmented model only when asked for, then as long
    both = study_config("compute", "cpu", variants="escnn-o,cnn3d-aug,cnn3d-aug-so3", dataset="polycubes")
    assert {k.variant: both.recipe_for(k).epochs for k in both.units()} == {
        "escnn-o": 3, "cnn3d-aug": 153, "cnn3d-aug-so3": 153,
    }  # fmt: skip
    assert study_about("compute", "cpu", "polycubes")["claim_factor"] == 500
    data = study_config("data", "cpu", dataset="polycubes", recipe="tutorial")
    assert "stack-o" in data.variants and "cnn" not in data.variants
    with pytest.raises(UsageError, match="unknown study on 3d data"):
        study_config("budgets", dataset="polycubes")


def test_about_n_times_is_decided_only_when_the_bounds_fall_short_of_it_or_lie_around_it():
    from suite.report.matching import FAILS, HOLDS, UNDECIDED, about_verdict

    assert about_verdict(2.0, 30.0, False, 500) == FAILS  # caught up well below 250×
    assert about_verdict(300.0, 800.0, False, 500) == HOLDS
    assert about_verdict(51.0, None, True, 500) == UNDECIDED  # "> 51×": could still be 500×
    assert about_verdict(100.0, 400.0, False, 500) == UNDECIDED
    assert about_verdict(1500.0, None, True, 500) == FAILS  # surely more than 1,000×


def test_long_validation_curves_are_sparse_and_a_sparse_curve_bounds_the_crossing_from_both_sides():
    from suite.runs.unit import curve_epoch

    measured = [e for e in range(1, 1_101) if curve_epoch(e, 1_100)]
    assert measured[:25] == list(range(1, 26)) and 1_100 in measured and 30 in measured and 31 not in measured
    assert all(b / a <= 1.2 for a, b in zip(measured[25:], measured[26:], strict=False))
    assert all(curve_epoch(e, 22) for e in range(1, 23))  # the 2-D compute study's curves stay dense


def test_an_interrupted_study_names_the_study_in_the_command_that_finishes_it(tmp_path):
    from suite.cli.main import build_parser
    from suite.cli.session import resume_command

    study = {"kind": "study", "study": {"name": "data", "axis": "train_size"}}
    line = resume_command(study, tmp_path / "d")
    assert line == f"suite study data --resume {tmp_path / 'd'}"
    args = build_parser().parse_args(line.split()[1:])  # the printed command is one the CLI accepts
    assert (args.study, args.resume) == ("data", str(tmp_path / "d"))
    assert resume_command({"kind": "tune"}, tmp_path) == f"suite tune --resume {tmp_path}"
    assert resume_command({}, tmp_path) == f"suite run --resume {tmp_path}"


def test_verdicts_that_differ_name_each_augmented_and_exact_pair():
    from suite.report.matching import FAILS, HOLDS
    from suite.report.study import Catching, pair_label, per_model_verdict

    pairs = [Catching(long, "escnn-o", None, 1.0, {}, {}) for long in ("cnn3d-aug", "cnn3d-aug-so3")]
    labels = [pair_label(c, several=True) for c in pairs]
    assert labels == ["`cnn3d-aug` to `escnn-o`", "`cnn3d-aug-so3` to `escnn-o`"]
    assert pair_label(pairs[0], several=False) == "`escnn-o`"  # one augmented model: as before
    said = per_model_verdict(list(zip(labels, (HOLDS, FAILS), strict=True)))
    assert said == f"{HOLDS} for `cnn3d-aug` to `escnn-o`; {FAILS} for `cnn3d-aug-so3` to `escnn-o`"
    assert per_model_verdict([(labels[0], HOLDS), (labels[1], HOLDS)]) == HOLDS


def test_the_gap_to_augmentation_says_ahead_only_where_the_ranks_test_separates_the_pair():
    """The per-comparison interval can exclude zero while Holm over every pair of the ranks does
    not separate the two: the line then says "not distinguishable", as the ranks beside it do."""
    from suite.report.stats import Interval
    from suite.report.study import exact_gap

    class Evidence:  # two variants, one paired difference, the ranks' decision given
        def __init__(self, differs: bool):
            self.differs = differs

        def pairwise(self, variants, measure, point):
            return pd.DataFrame([{"first": "exact", "second": "aug", "differs": self.differs}])

        def difference(self, first, second, measure, point):
            return Interval(2.0, 0.5, 3.5, seeds=3, images=100, method="two-way")

    apart = exact_gap(Evidence(False), ["exact", "aug"], ["exact"], "aug", 1000.0)
    assert "`exact` 2.00 [0.50, 3.50] (not distinguishable)" in apart
    line = exact_gap(Evidence(True), ["exact", "aug"], ["exact"], "aug", 1000.0)
    assert "(ahead)" in line and "Holm over all 1 pairs" in line


def test_a_resume_without_executor_options_runs_as_its_run_started():
    """`suite tune --resume DIR` of a search started with --jobs 2 trains two units at once again
    (it would otherwise go one at a time, each on its recorded one thread); options given win."""
    import argparse

    from suite.cli.session import executor_as_started, run_options

    def parsed(argv):
        return argparse.ArgumentParser(parents=[run_options()]).parse_args(argv)

    started = ["suite", "tune", "--variants", "e3nn-o2", "--jobs", "2", "--gpus-per-unit=0.5", "--save"]
    args = parsed(["--resume", "d"])
    note = executor_as_started(args, ["tune", "--resume", "d"], started)
    assert (args.jobs, args.gpus_per_unit, args.executor) == (2, 0.5, "local")
    assert (
        note
        == "resuming as it started: --jobs 2 --gpus-per-unit 0.5 (give --jobs 1 to train one unit at a time)"
    )
    args = parsed(["--resume", "d", "--jobs", "1"])
    assert executor_as_started(args, ["tune", "--resume", "d", "--jobs", "1"], started) == ""
    assert args.jobs == 1
    args = parsed(["--resume", "d"])
    assert executor_as_started(args, ["run", "--resume", "d"], ["suite", "run", "--seeds", "3"]) == ""
    assert args.jobs == 1
    on_cluster = ["suite", "run", "--executor", "ray", "--ray-address", "127.0.0.1:6379", "--jobs", "2"]
    assert "this resume trains here" in executor_as_started(args, ["run", "--resume", "d"], on_cluster)
    assert (args.executor, args.jobs, args.ray_address) == ("local", 1, None)
