"""The estimators behind intervals, paired tests and rank groups: coverage on simulated runs, and
a report that ranks only what the evidence separates."""

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from suite.correctness import CORRECT_FIELDS, encode
from suite.report.evidence import Evidence
from suite.report.results import RunResults
from suite.report.stats import (
    IMAGES_ONLY,
    SEEDS_ONLY,
    holm,
    rank_groups,
    seed_interval,
    two_way_interval,
)


def simulated_run(rng, seeds, images, base, seed_sd=0.35, image_sd=1.5, difficulty=None):
    """Per-image right/wrong of ``seeds`` models on ``images`` images: a logistic model with a
    seed effect and an image difficulty; returns (scores, the population's true accuracy)."""
    difficulty = rng.normal(0, image_sd, images) if difficulty is None else difficulty
    seed_effect = rng.normal(0, seed_sd, (seeds, 1))
    p = 1 / (1 + np.exp(-(base + seed_effect - difficulty)))
    return (rng.random((seeds, images)) < p).astype(float)


def true_accuracy(base, seed_sd=0.35, image_sd=1.5, draws=400_000):
    rng = np.random.default_rng(123)
    z = base + rng.normal(0, seed_sd, draws) - rng.normal(0, image_sd, draws)
    return float((1 / (1 + np.exp(-z))).mean())


@pytest.mark.parametrize("seeds", [3, 5])
def test_two_way_interval_covers_the_true_accuracy_about_95_percent_of_the_time(seeds):
    rng = np.random.default_rng(seeds)
    base, images, trials = 3.0, 2_000, 400
    truth = true_accuracy(base)
    hits = 0
    for _ in range(trials):
        interval = two_way_interval(simulated_run(rng, seeds, images, base))
        hits += interval.low <= truth <= interval.high
    coverage = hits / trials
    # 400 trials: a 95% procedure lands in [0.925, 0.97] with high probability; this one errs on
    # the wide side (the interaction counted twice, the seed term's df), never on the narrow one
    assert 0.93 <= coverage <= 0.995, coverage


def test_a_paired_difference_covers_the_true_difference():
    rng = np.random.default_rng(7)
    images, trials, hits = 2_000, 300, 0
    truth = true_accuracy(3.0) - true_accuracy(2.7)
    for _ in range(trials):
        difficulty = rng.normal(0, 1.5, images)  # the same images for both variants
        a = simulated_run(rng, 5, images, 3.0, difficulty=difficulty)
        b = simulated_run(rng, 5, images, 2.7, difficulty=difficulty)
        d = two_way_interval(a - b)
        hits += d.low <= truth <= d.high
    assert 0.93 <= hits / trials <= 0.995


def test_intervals_say_how_they_were_made():
    assert two_way_interval(np.ones((1, 10)) * 0.5).method == IMAGES_ONLY
    single = seed_interval(np.array([97.0]))
    assert single.method == SEEDS_ONLY and math.isnan(single.low)
    three = seed_interval(np.array([97.0, 98.0, 99.0]))
    assert three.low < 98.0 < three.high and three.text() == "98.00 [95.52, 100.48]"
    exact = two_way_interval(np.zeros((3, 100)))  # identical scores: no spread at all
    assert exact.low == exact.high == 0 and exact.p_value() == 1.0


def test_holm_matches_the_step_down_rule():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0]


def test_rank_groups_join_what_is_not_separated():
    names = ["a1", "a2", "b", "c"]
    differs = {frozenset(p): True for p in [("a1", "b"), ("a1", "c"), ("a2", "c"), ("b", "c")]}
    assert rank_groups(names, differs) == {"a1": "a", "a2": "ab", "b": "b", "c": "c"}
    assert rank_groups(names, {}) == {n: "a" for n in names}


def test_rank_letters_apart_always_mean_a_separated_pair():
    """The best variant is not separated from the weakest (a wide interval) while the second,
    with a tight one, is: the best shares a letter with both (consecutive runs alone would
    have put the best and the weakest apart)."""
    names = ["wide-best", "tight-second", "weakest"]
    letters = rank_groups(names, {frozenset(("tight-second", "weakest")): True})
    assert letters == {"wide-best": "ab", "tight-second": "a", "weakest": "b"}
    rng = np.random.default_rng(1)
    for _ in range(200):  # random separations: letters shared exactly when the pair is not separated
        names = [f"v{k}" for k in range(int(rng.integers(2, 8)))]
        differs = {frozenset(p): bool(rng.random() < 0.4) for p in itertools.combinations(names, 2)}
        letters = rank_groups(names, differs)
        assert letters[names[0]].startswith("a")
        for pair, separated in differs.items():
            first, second = sorted(pair)
            assert bool(set(letters[first]) & set(letters[second])) != separated, (differs, letters)


# --- a fabricated run directory: the report ranks only what the evidence separates -------------


def fabricated_run(tmp_path, accuracies, seeds=5, images=4_000):
    """A run directory whose units got per-image results at the given true accuracies."""
    rng = np.random.default_rng(0)
    difficulty = rng.normal(0, 1.5, images)
    correct, metrics = [], []
    for variant, acc in accuracies.items():
        base = math.log(acc / (1 - acc)) + 1.2  # roughly: the mean over difficulties comes out near acc
        scores = simulated_run(rng, seeds, images, base, seed_sd=0.1, difficulty=difficulty)
        for seed in range(seeds):
            for angle in (0, 90, 180, 270):
                bits = encode(scores[seed] > 0)
                correct.append({"variant": variant, "seed": seed, "epoch": "", "metric": "acc",
                                "angle": angle, "images": images, "bits": bits})  # fmt: skip
                metrics.append({"variant": variant, "seed": seed, "metric": "acc", "angle": angle,
                                "value": 100 * scores[seed].mean()})  # fmt: skip
            metrics.append({"variant": variant, "seed": seed, "metric": "acc_c4_mean", "angle": "",
                            "value": 100 * scores[seed].mean()})  # fmt: skip
            metrics.append({"variant": variant, "seed": seed, "metric": "params", "angle": "", "value": 1000})
    pd.DataFrame(correct, columns=CORRECT_FIELDS).to_csv(tmp_path / "correct.csv", index=False)
    pd.DataFrame(metrics).to_csv(tmp_path / "metrics.csv", index=False)
    (tmp_path / "manifest.json").write_text(json.dumps({"variants": {v: {} for v in accuracies}}))
    return RunResults(tmp_path)


def test_variants_within_the_noise_are_not_ranked(tmp_path):
    evidence = Evidence(fabricated_run(tmp_path, {"first": 0.9700, "second": 0.9695}))
    ranks = evidence.ranks(["first", "second"], "c4_mean")
    assert ranks is not None and set(ranks.values()) == {"a"}
    assert evidence.leader(["first", "second"], "c4_mean") is None
    table = evidence.pairwise(["first", "second"], "c4_mean")
    assert not table.differs.any()


def test_a_large_difference_is_ranked(tmp_path):
    evidence = Evidence(fabricated_run(tmp_path, {"weak": 0.90, "strong": 0.97}))
    assert evidence.ranks(["weak", "strong"], "c4_mean") == {"strong": "a", "weak": "b"}
    assert evidence.leader(["weak", "strong"], "c4_mean") == "strong"
    diff = evidence.difference("strong", "weak", "c4_mean")
    assert diff.low > 3 and diff.seeds == 5 and diff.images == 4_000


def test_fewer_than_three_seeds_give_intervals_but_no_rank(tmp_path):
    evidence = Evidence(fabricated_run(tmp_path, {"weak": 0.90, "strong": 0.97}, seeds=2))
    interval = evidence.interval("strong", "c4_mean")
    assert interval.low < interval.mean < interval.high
    assert evidence.ranks(["weak", "strong"], "c4_mean") is None
    assert evidence.leader(["weak", "strong"], "c4_mean") is None


def test_a_run_without_per_image_data_falls_back_to_seed_intervals(tmp_path):
    r = fabricated_run(tmp_path, {"weak": 0.90, "strong": 0.97})
    (tmp_path / "correct.csv").unlink()
    evidence = Evidence(RunResults(tmp_path))
    assert evidence.interval("strong", "c4_mean").method == SEEDS_ONLY
    assert evidence.difference("strong", "weak", "c4_mean") is None
    assert evidence.ranks(["weak", "strong"], "c4_mean") is None
    assert r.variants == ["weak", "strong"]


def test_the_summary_ranks_only_what_the_evidence_separates(tmp_path):
    """The run report itself: close variants share the top letter and nobody "leads"; a clearly
    weaker one gets its own letter."""
    from suite.report.tables import main_table, summary_markdown

    r = fabricated_run(tmp_path, {"first": 0.9700, "second": 0.9695, "weak": 0.90})
    ranks = dict(zip(main_table(r)["variant"], main_table(r)["rank C4"], strict=True))
    assert ranks == {"`first`": "a", "`second`": "a", "`weak`": "b"}
    summary = summary_markdown(r)
    line = next(x for x in summary.splitlines() if x.startswith("- C4-mean:"))
    assert line.startswith("- C4-mean: not decided at 95% among") and "`first`" in line and "`second`" in line
    assert "leads" not in summary.split("## Main table", 1)[1].split("## Claims", 1)[0]


# --- "augmentation needs more than 10x the training": bounds from per-image curves --------------


def curve_run(tmp_path, aug_curve, model_final=0.97, seeds=3, images=3_000, model_epochs=2):
    """A validation-split run: an equivariant model's final curve point and an augmented model's
    curve (true accuracy per epoch), each seed a noisy draw on the same images."""
    rng = np.random.default_rng(1)
    difficulty = rng.normal(0, 1.5, images)
    rows = []

    def add(variant, epoch, acc):
        base = math.log(acc / (1 - acc)) + 1.2
        scores = simulated_run(rng, seeds, images, base, seed_sd=0.05, difficulty=difficulty)
        for seed in range(seeds):
            for angle in (0, 90, 180, 270):
                rows.append({"variant": variant, "seed": seed, "epoch": epoch, "metric": "val_acc",
                             "angle": angle, "images": images, "bits": encode(scores[seed] > 0)})  # fmt: skip

    for epoch in range(1, model_epochs + 1):
        add("eq", epoch, model_final)
    for epoch, acc in enumerate(aug_curve, start=1):
        add("aug", epoch, acc)
    pd.DataFrame(rows, columns=CORRECT_FIELDS).to_csv(tmp_path / "correct.csv", index=False)
    params = [{"variant": v, "seed": 0, "metric": "params", "angle": "", "value": 1} for v in ("eq", "aug")]
    pd.DataFrame(params).to_csv(tmp_path / "metrics.csv", index=False)
    (tmp_path / "manifest.json").write_text(json.dumps({"variants": {"eq": {}, "aug": {}}}))
    return Evidence(RunResults(tmp_path))


def test_an_augmented_model_never_reaching_the_target_gives_a_lower_bound_that_holds(tmp_path):
    from suite.report.matching import HOLDS, match

    found = match(curve_run(tmp_path, [0.90] * 22), "aug", "eq")
    assert found.earliest is None and found.low == 11 and found.verdict(10) == HOLDS


def test_an_augmented_model_that_surely_overtakes_early_fails_the_claim(tmp_path):
    from suite.report.matching import FAILS, match

    found = match(curve_run(tmp_path, [0.90, 0.95, 0.99, 0.99, 0.99, 0.99]), "aug", "eq")
    assert found.surely is not None and found.high <= 10 and found.verdict(10) == FAILS


def test_a_curve_level_with_the_target_is_not_decided(tmp_path):
    from suite.report.matching import UNDECIDED, match

    found = match(curve_run(tmp_path, [0.90, 0.93] + [0.97] * 20), "aug", "eq")
    assert found.earliest is not None and found.low < 10 and found.verdict(10) == UNDECIDED
