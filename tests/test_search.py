"""``suite tune`` on Optuna: trials are units trained in rungs, bad ones pruned by the driver, the
studies in a JSON-lines journal, and a resume that trains no epoch twice and unpickles nothing."""

from __future__ import annotations

import json
import pickle
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch

import suite
from suite.report.trials import choose
from suite.training.recipes import read_tuned
from tests.cli import run_main

SMOKE = {"profile": "smoke", "epochs": 2, "trials": 3, "startup_trials": 1, "train_size": 128, "finalists": 2,
         "finalist_seeds": 2}  # fmt: skip
# (the finalists: the 2 best finished trials of each variant, re-run at seed 1; 3 seeds by default)


def counting_epochs(monkeypatch, stop_at: int | None = None) -> Counter:
    """Count each (unit, epoch) that finishes training; raise Ctrl-C as epoch call ``stop_at`` starts."""
    import suite.training.train as train_module

    real, finished, calls = train_module.train_epoch, Counter(), []

    def counted(*args, **kwargs):
        calls.append(1)
        if stop_at is not None and len(calls) == stop_at:
            raise KeyboardInterrupt
        loss = real(*args, **kwargs)
        finished[args[-1].split("] ", 1)[-1]] += 1  # the label, without the unit's place in the run
        return loss

    monkeypatch.setattr(train_module, "train_epoch", counted)
    return finished


def refuse_unpickling(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    for target in ("pickle.load", "pickle.loads", "torch.load"):
        monkeypatch.setattr(target, refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


def test_a_tune_prunes_through_units_resumes_without_retraining_and_writes_its_choice(
    tmp_path, capsys, monkeypatch
):
    out = tmp_path / "tune"
    with monkeypatch.context() as patch:  # Ctrl-C in the middle of the second variant's trials
        first = counting_epochs(patch, stop_at=7)
        with pytest.raises(KeyboardInterrupt):
            suite.tune(["cnn", "cnn-aug"], out, progress=False, **SMOKE)
    with monkeypatch.context() as patch:  # the same command again: only what is left is trained
        rest = counting_epochs(patch)
        code, stderr = run_main(capsys, "tune", "--resume", str(out), "--no-progress")
    assert code == 0, stderr
    assert set(first) & set(rest) == set() and max((first + rest).values()) == 1, (first, rest)
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 6 and set(trials.variant) == {"cnn", "cnn-aug"} and trials.unit.is_unique
    # every trial epoch reported was trained once, plus the 2 best finished trials of each variant
    # at seed 1 (their seed 0 is the trial's own unit, reused, never retrained)
    trained = first + rest
    finalist_epochs = sum(n for label, n in trained.items() if " seed 0 " not in label)
    assert sum(trained.values()) - finalist_epochs == trials.epochs.sum()
    assert finalist_epochs == 2 * 2 * 1 * SMOKE["epochs"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["tuner"]["library"] == "optuna"
        and manifest["tuner"]["version"] == __import__("optuna").__version__
    )
    units = manifest["units"]
    finalists = manifest["finalists"]
    for variant, named in finalists.items():
        best = trials[(trials.variant == variant) & (trials.state == "complete")].nlargest(2, "val_c4_mean")
        assert sorted(named) == sorted(best.unit)
        for seed in (1,):
            assert all(units[n.replace("__seed0__", f"__seed{seed}__")]["status"] == "done" for n in named)
    trial_units = {n: u for n, u in units.items() if "__seed0__" in n}
    assert sorted(trial_units) == sorted(trials.unit) and {u["trial"] for u in trial_units.values()} == {
        0,
        1,
        2,
    }
    pruned = trials[trials.state == "pruned"]
    assert len(pruned) >= 1 and (pruned.epochs < SMOKE["epochs"]).all()
    for _, row in pruned.iterrows():
        assert (
            units[row.unit]["status"] == "pruned"
            and not (out / "units" / "train" / f"{row.unit}.json").exists()
        )
    sweep = (out / "sweep.md").read_text()
    assert f"pruned after {int(pruned.epochs.iloc[0])} epoch" in sweep
    tuned = read_tuned(out / "tuned.toml")["mnist"]
    for values in tuned.values():
        low, high = values["validation_interval"]
        assert values["seeds"] == 2 and low <= values["validation_c4_mean"] <= high
        assert values["schedule"] in ("constant", "cosine") and "weight_decay" in values
        assert values["tuning_scale"] == {"train_images": SMOKE["train_size"], "epochs": SMOKE["epochs"]}
        second = values["runner_up"]  # the other finalist, with its values and interval
        assert {"lr", "weight_decay", "schedule", "validation_interval"} <= set(second)
        assert (second["lr"], second["schedule"]) != (values["lr"], values["schedule"])
        assert values["choice"] in sweep and values["search"] == str(out)  # which search chose it
    for line in (out / "optuna.journal").read_text().splitlines():
        json.loads(line)  # the studies are plain JSON lines
    # resuming the finished tune reads the journal and the unit files, unpickles nothing, trains nothing
    with monkeypatch.context() as patch:
        refuse_unpickling(patch)
        again = counting_epochs(patch)
        code, stderr = run_main(capsys, "tune", "--resume", str(out), "--no-progress")
    assert code == 0 and not again, stderr
    assert read_tuned(out / "tuned.toml")["mnist"] == tuned
    (out / "sweep.md").unlink()  # `suite plot` redraws a search's report as the search wrote it
    code, stderr = run_main(capsys, "plot", str(out))
    assert code == 0 and (out / "sweep.md").read_text() == sweep and not (out / "sweep.csv").exists(), stderr


def test_a_tie_goes_to_the_constant_schedule_then_the_tutorials_weight_decay_then_the_smaller_rate():
    def trials(*rows):
        return pd.DataFrame(
            [
                dict(
                    variant="cnn",
                    trial=i,
                    lr=lr,
                    weight_decay=wd,
                    schedule=s,
                    state="complete",
                    epochs=5,
                    val_c4_mean=v,
                )
                for i, (lr, wd, s, v) in enumerate(rows)
            ]  # fmt: skip
        )

    assert (
        choose(trials((1e-3, 0.01, "cosine", 90.0), (3e-3, 0.1, "constant", 90.0)))["cnn"]["schedule"]
        == "constant"
    )
    assert choose(trials((1e-3, 0.1, "constant", 90.0), (3e-3, 0.01, "constant", 90.0)))["cnn"]["lr"] == 3e-3
    assert choose(trials((3e-3, 0.01, "constant", 90.0), (1e-3, 0.01, "constant", 90.0)))["cnn"]["lr"] == 1e-3
    best = choose(trials((3e-3, 0.01, "constant", 90.0), (1e-3, 0.1, "cosine", 90.5)))["cnn"]
    assert best["lr"] == 1e-3 and best["runner_up"].endswith("90.00")  # a better mean wins over the order


def test_tune_refuses_a_search_it_cannot_run_in_one_line(capsys):
    code, stderr = run_main(capsys, "tune", "--variants", "cnn", "--seeds", "2", "--profile", "smoke")
    assert code == 2 and "seed" in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert torch.get_num_threads() >= 1


def test_a_tuned_recipe_with_weight_decay_and_schedule_is_used_and_an_lr_only_one_still_reads(tmp_path):
    from suite.runs.config import make_config
    from suite.runs.grid import UnitKey
    from suite.training.recipes import save_tuned

    new, old = tmp_path / "new.toml", tmp_path / "old.toml"
    chosen = {"lr": 0.003, "weight_decay": 0.1, "schedule": "cosine", "validation_c4_mean": 90.0}
    save_tuned(new, "mnist", {"cnn": {**chosen, "runner_up": "lr 0.001: 89.00"}}, ["test"])
    save_tuned(old, "mnist", {"cnn": {"lr": 0.003}}, ["test"])
    recipe = make_config(["cnn", "gcnn-c4"], "smoke", recipe=str(new)).recipe_for(UnitKey("cnn", 0))
    assert (recipe.lr, recipe.weight_decay, recipe.schedule) == (0.003, 0.1, "cosine")
    untuned = make_config(["cnn", "gcnn-c4"], "smoke", recipe=str(new)).recipe_for(UnitKey("gcnn-c4", 0))
    assert (untuned.weight_decay, untuned.schedule) == (0.01, "constant")
    recipe = make_config(["cnn"], "smoke", recipe=str(old)).recipe_for(UnitKey("cnn", 0))
    assert (recipe.lr, recipe.weight_decay, recipe.schedule) == (0.003, 0.01, "constant")


def test_a_search_of_some_variants_keeps_the_others_and_names_the_search_that_chose_each(tmp_path):
    from suite.training.recipes import read_tuned, save_tuned

    path = tmp_path / "tuned.toml"
    first = ["the first search", "The trials: results/tune-first/sweep.md"]
    save_tuned(path, "mnist", {"cnn": {"lr": 0.003}, "e3nn-so2": {"lr": 0.005}}, first)
    second = ["the e3nn search", "The trials: results/tune-e3nn/sweep.md"]
    save_tuned(path, "mnist", {"e3nn-so2": {"lr": 0.01, "search": "results/tune-e3nn"}}, second)
    table = read_tuned(path)["mnist"]
    assert table["cnn"] == {"lr": 0.003, "search": "results/tune-first"}  # from the first header
    assert table["e3nn-so2"] == {"lr": 0.01, "search": "results/tune-e3nn"}
    text = path.read_text()
    assert "# the e3nn search" in text and "the first search" not in text
    assert "# Kept from earlier searches (each names its own in `search`): cnn" in text
    save_tuned(path, "mnist", {"e3nn-so2": {"lr": 0.02, "search": "results/tune-e3nn"}}, second)
    assert read_tuned(path)["mnist"]["cnn"]["search"] == "results/tune-first"  # saved again: kept
    assert path.read_text().count("Kept from earlier searches") == 1


def test_a_rung_on_a_worker_continues_from_the_checkpoint_it_is_sent_and_sends_back_the_new_one(monkeypatch):
    """What a Ray task of a rung does (``run_job``, called here in process): no run directory, the
    checkpoint travels with the task and its outcome, and the second rung trains only epoch 2."""
    from suite.runs.tuning import tune_config
    from suite.runs.unit import UnitTask, WorkerJob, run_job

    config = tune_config(["cnn"], profile="smoke", epochs=2, trials=1, train_size=128).to_dict()
    name = "cnn__seed0__lr=0.003__weight_decay=0.01__schedule=cosine"
    trained = counting_epochs(monkeypatch)
    first = run_job(WorkerJob(config, "cpu", 1, UnitTask(name, 64, None, stop_after=1)))
    assert first.result["partial"] and first.checkpoint and sum(trained.values()) == 1
    second = run_job(
        WorkerJob(config, "cpu", 1, UnitTask(name, 64, None, stop_after=2, resume=first.checkpoint))
    )
    assert not second.result.get("partial") and second.checkpoint is None and sum(trained.values()) == 2
    assert [row["epoch"] for row in second.result["history"]] == [1, 2]


def made_up(lr, wd, schedule, accuracy, seed_shift=(0.0, 0.0, 0.0), images=2000, noise=0):
    """A finalist whose 3 seeds get about ``accuracy`` of the same images right (paired)."""
    from suite.report.finalists import Finalist

    rng = np.random.default_rng(noise)
    base = rng.random(images)
    scores = np.array([(base < accuracy + shift).astype(float) for shift in seed_shift])
    return Finalist(lr, wd, schedule, scores)


def test_the_finalist_with_the_best_mean_wins_unless_the_interval_ties_it_then_the_rules_decide():
    from suite.report.finalists import choose_finalist

    clear = choose_finalist([made_up(1e-3, 0.1, "cosine", 0.95), made_up(3e-4, 0.01, "constant", 0.80)])
    assert (clear.winner.lr, clear.tie_rule, clear.runner_up.lr) == (1e-3, None, 3e-4)
    # 0.2 points apart, seeds that disagree: not decided at 95%, so a tie goes to the constant schedule
    noisy = (0.0, 0.03, -0.03)
    tie = choose_finalist([made_up(1e-3, 0.1, "cosine", 0.902, noisy), made_up(3e-3, 0.1, "constant", 0.900)])
    assert (tie.winner.schedule, tie.tie_rule, tie.tied) == ("constant", "constant schedule", 2)
    assert tie.runner_up.schedule == "cosine"  # the runner-up is the best other mean (here the leader)
    wd = choose_finalist([made_up(1e-3, 0.1, "constant", 0.902, noisy), made_up(3e-3, 0.01, "constant", 0.9)])
    assert (wd.winner.weight_decay, wd.tie_rule) == (0.01, "weight decay 0.01")
    lr = choose_finalist(
        [made_up(3e-3, 0.01, "constant", 0.902, noisy), made_up(1e-3, 0.01, "constant", 0.9)]
    )
    assert (lr.winner.lr, lr.tie_rule) == (1e-3, "smaller lr")
    # two seeds decide nothing: even a large difference is a tie
    few = choose_finalist(
        [made_up(1e-3, 0.1, "cosine", 0.95, (0, 0)), made_up(3e-4, 0.01, "constant", 0.8, (0, 0))]
    )
    assert few.tie_rule == "constant schedule" and few.winner.lr == 3e-4
    low, high = clear.winner.values()["validation_interval"]
    assert low <= clear.winner.values()["validation_c4_mean"] <= high and clear.winner.values()["seeds"] == 3


def test_a_tuned_table_with_intervals_runner_up_and_scale_round_trips_and_an_old_one_still_reads(tmp_path):
    from suite.training.recipes import TUNED_PATH, resolve_recipe, save_tuned, tuned_settings

    chosen = {"lr": 0.003, "weight_decay": 0.1, "schedule": "cosine", "validation_c4_mean": 95.1,
              "validation_interval": [94.8, 95.4], "seeds": 3, "choice": "tie of 2: constant schedule",
              "runner_up": {"lr": 0.001, "weight_decay": 0.01, "schedule": "constant",
                            "validation_c4_mean": 95.0, "validation_interval": [94.6, 95.3], "seeds": 3},
              "tuning_scale": {"train_images": 10_000, "epochs": 5}}  # fmt: skip
    path = tmp_path / "tuned.toml"
    save_tuned(path, "mnist", {"cnn": chosen}, ["test"])
    assert read_tuned(path)["mnist"]["cnn"] == chosen
    assert resolve_recipe(str(path), "mnist", ["cnn"], 5e-4)[0] == {"cnn": 0.003}
    assert tuned_settings(str(path), "mnist", ["cnn"]) == {"cnn": {"weight_decay": 0.1, "schedule": "cosine"}}
    first_sweep = TUNED_PATH.parents[2] / "results" / "tune-cpu" / "tuned.toml"  # the lr-only table
    old = read_tuned(first_sweep)["mnist"]
    assert set(old["cnn"]) == {"lr", "validation_c4_mean"}
    assert resolve_recipe(str(first_sweep), "mnist", ["cnn"], 5e-4)[0] == {"cnn": old["cnn"]["lr"]}
    assert tuned_settings(str(first_sweep), "mnist", ["cnn"]) == {}  # the defaults stay


def test_a_run_more_than_twice_off_its_tuning_scale_says_so_in_one_line_and_old_tables_say_nothing(tmp_path):
    from suite.report.scale import scale_line
    from suite.runs.config import make_config
    from suite.training.recipes import save_tuned

    scale = {"train_images": 10_000, "epochs": 5}
    new, old = tmp_path / "new.toml", tmp_path / "old.toml"
    save_tuned(new, "mnist", {"cnn": {"lr": 0.003, "tuning_scale": scale}}, ["test"])
    save_tuned(old, "mnist", {"cnn": {"lr": 0.003}}, ["test"])

    def manifest(recipe, images, epochs):
        config = make_config(["cnn"], "quick", recipe=str(recipe), epochs=epochs).to_dict()
        return {"config": config, "train_digits": images}

    assert make_config(["cnn"], "quick", recipe=str(new)).tuned_scale == {"cnn": scale}
    line = scale_line(manifest(new, 60_000, 10))
    assert line and "`cnn`" in line and "10,000 images × 5 epochs" in line and "\n" not in line
    assert scale_line(manifest(new, 10_000, 11)) and scale_line(manifest(new, 4_000, 5))
    assert scale_line(manifest(new, 20_000, 10)) is None  # within 2× on both
    assert scale_line(manifest(old, 60_000, 30)) is None  # an lr-only table records no scale
    assert scale_line(manifest("tutorial", 60_000, 30)) is None


def test_the_choices_table_says_when_a_variants_trials_are_still_running():
    import pandas as pd

    from suite.report.trials import choices_table

    trials = pd.DataFrame({"variant": ["a", "a", "b"], "state": ["complete", "pruned", "running"]})
    chosen = {"a": {"lr": 0.003, "weight_decay": 0.01, "schedule": "constant", "validation_c4_mean": 90.0}}
    rows = choices_table(trials, chosen)[2:]
    assert rows[0].startswith("| `a` | 0.003 | 0.01 | constant | 90.00 |") and rows[0].endswith(
        "| 1 / 1 / 0 |"
    )
    assert rows[1] == "| `b` | – | – | – | – | – | – | 0 / 0 / 0 (1 running: the search was interrupted) |"


def test_the_choices_table_counts_ties_and_those_the_rule_gave_to_the_lower_mean():
    from suite.report.trials import ties_note

    second = {"lr": 0.01, "weight_decay": 0.01, "schedule": "cosine", "validation_c4_mean": 92.0}
    chosen = {
        "a": {"validation_c4_mean": 90.0, "choice": "tie of 2: constant schedule", "runner_up": second},
        "b": {"validation_c4_mean": 93.0, "choice": "tie of 3: smaller lr", "runner_up": second},
        "c": {"validation_c4_mean": 95.0, "choice": "by the mean", "runner_up": second},
    }
    assert ties_note(chosen)[1].startswith("2 of the 3 choices are ties")
    assert "in 1 of them the runner-up's mean is the higher one" in ties_note(chosen)[1]
    assert ties_note({"c": chosen["c"]}) == []


def test_a_variant_whose_finalists_have_not_run_has_no_choice_yet(tmp_path):
    import pandas as pd

    from suite.report.trials import choose_finalists

    trials = pd.DataFrame({
        "variant": ["b", "b"], "trial": [0, 1], "lr": [1e-3, 3e-3], "weight_decay": [0.01, 0.01],
        "schedule": ["constant", "constant"], "state": ["complete", "running"], "val_c4_mean": [90.0, 91.0],
    })  # fmt: skip
    searching = {"config": {"search": {"finalists": 3}}}
    assert choose_finalists(tmp_path, searching, trials) == {}  # interrupted before its finalists
    best_trial_only = {"config": {"search": {"finalists": 0}}}
    assert choose_finalists(tmp_path, best_trial_only, trials)["b"]["lr"] == 1e-3
