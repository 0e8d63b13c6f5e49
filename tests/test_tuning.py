"""The fair comparison: a validation split, recipes, the learning-rate sweep, and no test image
read before the final evaluation."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

import suite
from suite.data.images import ImageData
from suite.errors import SuiteError, UsageError
from suite.runs.config import load_run_data, make_config
from suite.runs.grid import check_grid, unit_keys
from suite.training.recipes import read_tuned, resolve_recipe, save_tuned
from tests.cli import run_main

# --- the validation split ------------------------------------------------------------------------


def test_the_validation_view_holds_the_last_training_images_and_no_test_image(mnist):
    view = mnist.validation_view(10_000)
    assert len(view.train_x) == 50_000 and len(view.test_x) == 10_000
    assert torch.equal(torch.cat([view.train_x, view.test_x]), mnist.train_x)
    assert torch.equal(view.test_y, mnist.train_y[50_000:])
    with pytest.raises(SuiteError, match="too few to hold out a validation split of at least 100"):
        mnist.subset(150, 10).validation_view(100)
    small = mnist.subset(1_297, 10).validation_view()  # a set of one's own: a tenth is held out
    assert (len(small.train_x), len(small.test_x)) == (1_167, 130)


def test_a_validation_run_trains_on_50k_and_measures_on_the_validation_images():
    config = make_config(["cnn"], "quick", recipe="tutorial", split="validation")
    data = load_run_data(config)
    assert (len(data.train_x), len(data.test_x)) == (50_000, 10_000)
    assert "validation split" in data.source


# --- what must never happen: a test image read before the final evaluation -----------------------

EVENTS: list[str] = []
HARMLESS = {"__len__", "__get__", "to"}  # sizes, properties, a same-device move: no pixel read


class Tripwire(torch.Tensor):
    """A tensor that logs every torch function applied to it (and raises when armed)."""

    armed = False

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        a_view = name == "__getitem__" and isinstance(args[1], slice)  # the smoke profile's subset
        if name not in HARMLESS and not a_view:
            EVENTS.append(f"test:{name}")
            if cls.armed:
                raise AssertionError(f"a test image was read ({name})")
        return super().__torch_function__(func, types, args, kwargs or {})


def wired(data: ImageData) -> ImageData:
    from dataclasses import replace

    return replace(data, test_x=data.test_x.as_subclass(Tripwire), test_y=data.test_y.as_subclass(Tripwire))


def test_a_sweep_never_touches_the_test_images(mnist, monkeypatch, tmp_path):
    loaded = []

    def load_wired(*args, **kwargs):
        loaded.append(wired(mnist))
        return loaded[-1]

    monkeypatch.setattr("suite.runs.config.load_dataset", load_wired)
    monkeypatch.setattr(Tripwire, "armed", True)
    EVENTS.clear()
    chosen = suite.tune(
        ["cnn"], tmp_path / "sweep", profile="smoke", lrs=[1e-3, 1e-2], epochs=1, progress=False
    )
    assert set(chosen) == {"cnn"} and EVENTS == []
    # the sweep did run on the wired data set, whose test images are tripwires
    assert loaded and isinstance(loaded[0].test_x, Tripwire)


def test_a_final_run_reads_the_test_images_only_after_training(mnist, monkeypatch, tmp_path):
    import suite.runs.unit as unit

    real_train = unit.train

    def recorded_train(*args, **kwargs):
        EVENTS.append("train:start")
        history = real_train(*args, **kwargs)
        EVENTS.append("train:end")
        return history

    monkeypatch.setattr("suite.runs.config.load_dataset", lambda *a, **k: wired(mnist))
    monkeypatch.setattr(unit, "train", recorded_train)
    EVENTS.clear()
    suite.run(["cnn"], "smoke", tmp_path / "final", recipe="tutorial", bench=False, progress=False)
    reads = [i for i, e in enumerate(EVENTS) if e.startswith("test:")]
    assert EVENTS.count("train:end") == 1 and reads, EVENTS[:5]
    assert min(reads) > EVENTS.index("train:end"), EVENTS[: EVENTS.index("train:end") + 1]


# --- recipes --------------------------------------------------------------------------------------


# Variants whose search is still running (results/tune-optuna-cpu, resumable): until it finishes they
# train at the default rate, and their summaries say so. Each leaves this list when its entry lands.
AWAITING_TUNING: dict[str, str] = {}  # variant: why the committed recipe has no entry for it yet


def test_the_committed_tuned_recipe_names_a_learning_rate_for_every_variant():
    tables = read_tuned()
    names = [v.name for v in suite.list_variants() if v.family != "plugin" and "2d" in v.tasks]  # MNIST's
    tuned = [v for v in names if v not in AWAITING_TUNING]
    assert set(tuned) <= set(tables["mnist"]), set(tuned) - set(tables["mnist"])
    assert all(0 < tables["mnist"][v]["lr"] < 1 for v in tuned)
    assert not set(AWAITING_TUNING) & set(tables["mnist"]), "tuned now: remove it from AWAITING_TUNING"


def test_recipes_resolve_per_variant_rates_and_say_where_they_came_from(tmp_path):
    recipe = tmp_path / "mine.toml"
    save_tuned(recipe, "mnist", {"cnn": {"lr": 0.003}}, ["a test recipe"])
    lrs, note = resolve_recipe(str(recipe), "mnist", ["cnn", "gcnn-c4"], 5e-4)
    assert lrs == {"cnn": 0.003, "gcnn-c4": 5e-4}
    assert "mine.toml" in note and "not tuned" in note and "gcnn-c4" in note
    lrs, note = resolve_recipe(str(recipe), "fashion-mnist", ["cnn"], 5e-4)
    assert lrs == {"cnn": 0.003} and "fashion-mnist has no tuned table" in note
    assert resolve_recipe("tutorial", "mnist", ["cnn"], 5e-4)[0] == {"cnn": 5e-4}
    with pytest.raises(UsageError, match="expected tuned, tutorial"):
        resolve_recipe("fast", "mnist", ["cnn"], 5e-4)
    with pytest.raises(SuiteError, match="no such tuned-recipe file"):
        resolve_recipe(str(tmp_path / "missing.toml"), "mnist", ["cnn"], 5e-4)


def test_a_run_trains_each_variant_at_its_recipes_rate_and_reports_it(tmp_path, capsys):
    recipe = tmp_path / "mine.toml"
    save_tuned(recipe, "mnist", {"cnn": {"lr": 0.003}, "gcnn-c4": {"lr": 0.01}}, ["a test recipe"])
    out = tmp_path / "run"
    code, stderr = run_main(capsys, "run", "--profile", "smoke", "--variants", "cnn,gcnn-c4", "--recipe",
                            str(recipe), "--no-bench", "--no-plots", "--no-progress",
                            "--out", str(out))  # fmt: skip
    assert code == 0, stderr
    metrics = pd.read_csv(out / "metrics.csv")
    lrs = metrics[metrics.metric == "lr"].set_index("variant").value.to_dict()
    assert lrs == {"cnn": 0.003, "gcnn-c4": 0.01}
    summary = (out / "summary.md").read_text()
    assert "mine.toml" in summary and "cnn 0.003, gcnn-c4 0.01" in summary


def test_an_explicit_lr_sets_every_variant_and_the_tutorial_recipe_uses_5e_4():
    assert make_config(["cnn", "gcnn-c4"], "smoke", lr=0.02).lrs == {"cnn": 0.02, "gcnn-c4": 0.02}
    tutorial = make_config(["cnn"], "smoke", recipe="tutorial")
    assert tutorial.lrs == {"cnn": 5e-4} and tutorial.recipe_name == "tutorial"
    with pytest.raises(UsageError, match="split"):
        make_config(["cnn"], "smoke", split="train")


# --- the sweep ------------------------------------------------------------------------------------


def test_grids_are_checked_and_expand_variant_major():
    assert check_grid({"budget": [30000.0], "lr": [1e-3]}) == {"lr": [1e-3], "budget": [30000]}
    for bad in ({"lr": []}, {"lr": [0]}, {"lr": [1e-3, 1e-3]}, {"budget": [1.5]}, {"width": [2]}):
        with pytest.raises(UsageError):
            check_grid(bad)
    keys = unit_keys(["a", "b"], [0, 1], {"lr": [0.1, 0.2]})
    assert [k.name for k in keys[:3]] == ["a__seed0__lr=0.1", "a__seed1__lr=0.1", "a__seed0__lr=0.2"]
    assert len(keys) == 8


def test_a_search_started_with_save_saves_when_a_resume_finishes_it(tmp_path, capsys, monkeypatch):
    """`--save` is part of what the search was asked to do: a resume without it still saves."""
    packaged = tmp_path / "packaged.toml"
    monkeypatch.setattr("suite.training.recipes.TUNED_PATH", packaged)
    out = tmp_path / "sweep"
    args = ["tune", "--profile", "smoke", "--variants", "cnn", "--lrs", "1e-3", "--epochs", "1",
            "--no-progress", "--out", str(out), "--save"]  # fmt: skip
    code, stderr = run_main(capsys, *args)
    assert code == 0 and packaged.exists(), stderr
    packaged.unlink()  # as if it had been stopped before its finish
    code, stderr = run_main(capsys, "tune", "--resume", str(out), "--no-progress")
    assert code == 0 and "saved as the tuned recipe" in stderr, stderr
    assert read_tuned(packaged)["mnist"]["cnn"]["lr"] == 1e-3


def test_tune_chooses_the_best_validation_rate_writes_its_files_and_resumes(tmp_path, capsys, monkeypatch):
    packaged = tmp_path / "packaged.toml"
    monkeypatch.setattr("suite.training.recipes.TUNED_PATH", packaged)
    out = tmp_path / "sweep"
    args = ["tune", "--profile", "smoke", "--variants", "cnn", "--lrs", "1e-4,1e-2", "--epochs", "2",
            "--no-progress", "--out", str(out)]  # fmt: skip
    code, stderr = run_main(capsys, *args)
    assert code == 0, stderr
    sweep = pd.read_csv(out / "sweep.csv")
    metrics = pd.read_csv(out / "metrics.csv")
    c4 = metrics[metrics.metric == "acc_c4_mean"].set_index("lr").value
    assert sweep.set_index("lr").val_acc_c4_mean.round(2).to_dict() == c4.round(2).to_dict()
    best = float(c4.idxmax())
    assert read_tuned(out / "tuned.toml")["mnist"]["cnn"]["lr"] == best
    assert not packaged.exists()  # not saved without --save
    assert f"**{c4.max():.2f}**" in (out / "sweep.md").read_text()
    history = pd.read_csv(out / "history.csv")
    assert history.val_acc_c4_mean.notna().all() and set(history.lr) == {1e-4, 1e-2}
    # a finished sweep resumes without training, refuses new settings, and saves on request
    code, stderr = run_main(capsys, "tune", "--resume", str(out), "--save", "--no-progress")
    assert code == 0 and "done in" not in stderr, stderr
    assert read_tuned(packaged)["mnist"]["cnn"]["lr"] == best
    code, stderr = run_main(capsys, "tune", "--resume", str(out), "--lrs", "1e-3")
    assert code == 2 and "--lrs" in stderr
    code, stderr = run_main(capsys, "run", "--resume", str(out))
    assert code == 2 and "suite tune" in stderr
    model = suite.load_model(out, "cnn", lr=best)
    assert isinstance(model, torch.nn.Module)
