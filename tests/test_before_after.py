"""A setting changed between two runs of the same units: the paired change per seed and image,
whether training was the same, and the README block that shows both."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from suite.report import readme
from suite.report.before_after import changed_settings, decided, paired_change, same_training
from suite.report.results import RunResults
from suite.report.stats import two_way_interval

ROOT = Path(__file__).resolve().parents[1]


class Scores:
    """Per-image scores of one variant at seeds 0..n-1 (the two methods paired_change reads)."""

    def __init__(self, matrix):
        self.matrix = np.asarray(matrix, dtype=float)

    def seeds(self, variant, point=None):
        return list(range(len(self.matrix)))

    def scores(self, variant, measure, point=None, seeds=None):
        return self.matrix[seeds]


def test_the_change_is_paired_per_seed_and_image_and_decided_only_where_it_excludes_zero():
    rng = np.random.default_rng(0)
    old = (rng.random((3, 400)) < 0.8).astype(float)
    fixed = np.maximum(old, (rng.random((3, 400)) < 0.5).astype(float))  # only ever right where it was
    change = paired_change(Scores(old), Scores(fixed), "e3nn-so2", "c4_mean")
    assert change.mean == 100 * (fixed.mean() - old.mean()) and change == two_way_interval(
        100 * (fixed - old)
    )
    assert (
        decided(change) == "higher"
        and decided(paired_change(Scores(fixed), Scores(old), "v", "m")) == "lower"
    )
    assert decided(paired_change(Scores(old), Scores(old), "v", "m")) == "no change"
    swapped = old.copy()
    for seed in range(3):  # two images turn right and two turn wrong at every seed: no net change
        right, wrong = np.flatnonzero(old[seed] == 1)[:2], np.flatnonzero(old[seed] == 0)[:2]
        swapped[seed, right], swapped[seed, wrong] = 0, 1
    assert decided(paired_change(Scores(old), Scores(swapped), "v", "m")) == "not decided"
    assert paired_change(Scores(old), Scores(old[:, :200]), "v", "m") is None  # other images: no pairing
    assert decided(paired_change(Scores(old[:1]), Scores(fixed[:1]), "v", "m")).startswith("no verdict")


def test_same_training_compares_every_epochs_loss_at_the_seeds_both_ran():
    losses = pd.DataFrame(
        {"variant": "v", "seed": [0, 0, 1, 1], "epoch": [1, 2, 1, 2], "loss": [0.9, 0.5, 0.8, 0.4]}
    )
    run = SimpleNamespace(history=losses)
    assert same_training(run, SimpleNamespace(history=losses.copy()), "v")
    other = losses.assign(loss=[0.9, 0.5, 0.8, 0.41])
    assert not same_training(run, SimpleNamespace(history=other), "v")
    assert not same_training(
        run, SimpleNamespace(history=losses[losses.variant == "w"]), "v"
    )  # nothing to compare


def test_the_block_of_a_run_against_itself_shows_no_change_and_the_same_training():
    run = RunResults(ROOT / "results" / "quick-e3nn-cpu")
    assert changed_settings(run, run) == {}
    block = readme.before_after_block(ROOT, "quick-e3nn-cpu", "quick-e3nn-cpu")
    assert "recipe settings that differ: none." in block
    for variant in run.variants:
        row = next(line for line in block.splitlines() if line.startswith(f"| `{variant}`"))
        assert "| no change |" in row and row.rstrip().endswith("| yes |")
    assert readme.before_after_block(ROOT, "quick-e3nn-cpu", "no-such-run").endswith("not committed yet")
    assert (
        readme.before_after_block(ROOT, "no-such-run", "quick-e3nn-cpu")
        == "`results/no-such-run/`: not committed yet"
    )


def test_the_recipe_s_name_is_a_setting_that_differs():
    from types import SimpleNamespace

    def run(name, **recipe):
        return SimpleNamespace(manifest={"config": {"recipe_name": name, "recipe": recipe}})

    tutorial = run("tutorial", lr=5e-4, schedule="constant")
    tuned = run("tuned", lr=5e-4, schedule="constant")
    assert changed_settings(tutorial, tuned) == {"recipe": ("tutorial", "tuned")}
    assert changed_settings(run("tuned", lr=5e-4), tuned) == {"schedule": (None, "constant")}
