"""The README's results are what results/ says: its figures are generated blocks, and the prose
around them quotes no result."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from suite.report import readme

ROOT = Path(__file__).resolve().parents[1]
CHECKED_SECTIONS = ("## Results", "## Performance", "## Studies", "## Running on Ray")
# Numbers the checked prose may hold: settings and protocol, not results (each with its reason)
SETTINGS = {
    "95%": "the level of every interval",
    "10×": "the seed's claim", "4×": "the seed's claim", "500×": "the seed's 3-D claim",
    "0.5": "the equivalence margin (suite/report/claims.py)",
    "90°": "angles of the protocol", "0°": "angles of the protocol",
    "5": "epochs/seeds of a profile", "3": "seeds", "2": "seeds or epochs", "22": "cnn-aug's epochs",
    "1": "one seed", "14k": "budget", "30k": "budget", "100k": "budget", "300k": "budget",
    "1k": "training images", "3k": "training images", "10k": "training images", "60k": "training images",
    "10,000": "images", "60,000": "images", "30,000": "images seen", "120,000": "images seen",
    "5e-4": "the tutorial's lr", "0.01": "the tutorial's weight decay", "100": "steps between loss reads",
    "1e-4": "the symmetry tolerance",
    "15": "Ray's default worker niceness", "20": "C4SUITE_RAY_LOST_AFTER_S's default",
    "30": "Ray's own retry warning interval", "127.0.0.2": "the loopback address", "127.0.0.1": "loopback",
}  # fmt: skip


def checked_prose(text: str) -> list[str]:
    """The lines of the checked sections outside generated blocks, code and inline code."""
    text = readme.BLOCK.sub("", text)
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    lines, keep = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            keep = line.startswith(CHECKED_SECTIONS)
        if keep and not line.startswith(("![", "|")):  # images; the studies' settings table
            lines.append(re.sub(r"`[^`]*`|\[[^\]]*\]\([^)]*\)", "", line))
    return lines


def quoted_numbers(lines: list[str]) -> list[str]:
    names = r"\b(?:C4|C8|D4|O\(2\)|SO\(2\)|SO\(3\)|H100|3-D|2-D|bf16|e3nn|escnn)\b"
    found = []
    for line in lines:
        for token in re.findall(r"(?<![\w.\-/])\d[\d,.]*(?:e-?\d+)?[%×°k]?", re.sub(names, "", line)):
            token = token.rstrip(".,")
            if token not in SETTINGS and not re.fullmatch(r"1[0-9]{3}", token):  # years and such
                found.append(f"{token!r} in: {line.strip()[:100]}")
    return found


def test_readme_figures_are_what_the_results_say():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert {"quick-core", "study-compute", "reference", "bench", "speedup"} <= set(readme.blocks(text))
    assert readme.render(text, ROOT) == text, "run 'uv run suite readme' to regenerate the README's blocks"


def test_readme_prose_quotes_no_result_outside_the_generated_blocks():
    lines = checked_prose((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(lines) > 100  # the sections were found
    assert quoted_numbers(lines) == []


def test_the_number_check_catches_a_quoted_result():
    assert quoted_numbers(["escnn leads with 98.68% here, 3.2x faster"]) == [
        "'98.68%' in: escnn leads with 98.68% here, 3.2x faster",
        "'3.2' in: escnn leads with 98.68% here, 3.2x faster",
    ]
    assert quoted_numbers(["at 95% and within ±0.5 points at 90°, uint8 on C4"]) == []


def test_changing_one_committed_value_makes_the_check_fail(tmp_path):
    """A copy of results/ with one accuracy changed: the README no longer matches it (the
    reference run: its intervals come from metrics.csv, with no per-image results)."""
    copy = tmp_path / "results"
    copy.mkdir()
    for entry in (ROOT / "results").iterdir():
        (copy / entry.name).symlink_to(entry)
    (copy / "reference").unlink()
    shutil.copytree(ROOT / "results" / "reference", copy / "reference",
                    ignore=shutil.ignore_patterns("weights", "plots", "units", "*.log"))  # fmt: skip
    metrics = pd.read_csv(copy / "reference" / "metrics.csv")
    row = (metrics.variant == "escnn-c4") & (metrics.metric == "acc_c4_mean")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    # a change whose new figure the README shows nowhere (another run may show a nearby value)
    committed = metrics.loc[row, "value"].mean()
    delta = next(d / 100 for d in range(31, 90) if f"{committed + d / 100:.2f}" not in text)
    metrics.loc[row, "value"] += delta
    metrics.to_csv(copy / "reference" / "metrics.csv", index=False)
    block = text.split("<!-- begin: reference -->\n", 1)[1].split("<!-- end: reference -->", 1)[0]
    assert block.rstrip() == readme.BUILDERS["reference"](ROOT)  # as committed
    changed = readme.BUILDERS["reference"](tmp_path)  # from the changed copy
    new_figure = f"{metrics.loc[row, 'value'].mean():.2f}"
    assert changed != block.rstrip() and new_figure in changed and new_figure not in text


def test_a_block_without_a_builder_is_refused():
    from suite.errors import SuiteError

    with pytest.raises(SuiteError, match="no builder"):
        readme.render("<!-- begin: nonsense -->\n<!-- end: nonsense -->", ROOT)


def test_the_e3nn_block_reads_accuracy_from_the_run_and_step_ratios_from_the_interleaved_bench(
    tmp_path, monkeypatch
):
    import json

    from tests.test_report import UPRIGHT, write_run

    results = tmp_path / "results"
    nothing = readme.e3nn_block(tmp_path, "run", "bench")
    assert "- accuracy: `results/run/` with `e3nn-so2`: not committed yet" in nothing
    assert "- steps: `results/bench/`: not committed yet" in nothing and "**" not in nothing  # no verdict
    monkeypatch.setitem(UPRIGHT, "e3nn-so2", 90.0)  # 6 points below escnn-c4's 96.0 on every seed
    pair = {"escnn-c4": ("C4", "none"), "e3nn-so2": ("C4", "none")}
    write_run(results / "run", pair, seeds=(0, 1, 2))
    without_steps = readme.e3nn_block(tmp_path, "run", "bench")
    assert "| `e3nn-so2` | C4 | 90.20 [" in without_steps and "| – | – |" in without_steps
    assert "**fails**" in without_steps and "training step at most" not in without_steps
    (results / "bench").mkdir()
    ratios = [{"variant": n, "against": "escnn-c4", "bench": b, "batch_size": 64, "step_ratio": v}
              for n in ("e3nn-so2", "e3nn-o2") for b, v in (("infer", 3.1), ("train", 2.4))]  # fmt: skip
    bench = {"environment": {"device": "cpu"}, "command": ["suite", "bench"], "step_ratios": ratios}
    (results / "bench" / "bench.json").write_text(json.dumps(bench))
    block = readme.e3nn_block(tmp_path, "run", "bench")
    assert "| `e3nn-so2` | C4 | 90.20 [" in block and "| 2.40 | 3.10 |" in block
    metrics = pd.read_csv(results / "run" / "metrics.csv")
    c4_means = metrics[(metrics.variant == "e3nn-so2") & (metrics.metric == "acc_c4_mean")]
    c4_means = c4_means.sort_values("seed")
    assert len(c4_means) == 3 and f"| {' / '.join(f'{v:.2f}' for v in c4_means.value)} | 2.40 |" in block
    assert "| `escnn-c4` | C4 | 96.20 [" in block and "| 1 | 1 |" in block
    assert "| `e3nn-o2` | – | – | – | – | 2.40 | 3.10 |" in block  # timed, not in the accuracy run
    assert "-6.00 [" in block and "at least as accurate as escnn-c4" in block and "**fails**" in block
    assert "Its training step at most 2× `escnn-c4`'s: 2.40× measured: **fails**" in block


def test_the_growth_table_shows_no_row_of_an_interrupted_compute_study(tmp_path):
    """A partial compute study (its exact models trained, its augmented ones not all) names its
    progress and gives no row: targets without the augmented runs decide nothing."""
    import json

    source = ROOT / "results" / "studies" / "compute-digits3d"
    study = tmp_path / "results" / "studies" / "compute-digits3d"
    study.mkdir(parents=True)
    for entry in source.iterdir():
        if entry.name != "manifest.json":
            (study / entry.name).symlink_to(entry)
    manifest = json.loads((source / "manifest.json").read_text())
    unit = next(n for n in manifest["units"] if n.startswith("cnn3d-aug__"))
    manifest["units"][unit]["status"] = "pending"
    (study / "manifest.json").write_text(json.dumps(manifest))
    whole = readme.growth_block(ROOT, ["compute-digits3d"])
    partial = readme.growth_block(tmp_path, ["compute-digits3d"])
    done, total = sum(u["status"] == "done" for u in manifest["units"].values()), len(manifest["units"])
    assert "| O (24) | digits3d |" in whole and "| O (24) | digits3d |" not in partial
    assert f"Interrupted: {done} of {total} units done; no row until it is resumed." in partial
    # the study's own block: its provenance and progress, no figures until it is resumed to the end
    block = readme.pending_study_block(tmp_path, "compute-digits3d")
    assert f"Interrupted: {done} of {total} units done; its figures come when" in block
    assert "Verdict" not in block and "Verdict" in readme.pending_study_block(ROOT, "compute-digits3d")


def test_a_search_with_no_finished_trial_has_a_block_that_says_so(tmp_path):
    import json

    search = tmp_path / "results" / "tune-x"
    search.mkdir(parents=True)
    (search / "manifest.json").write_text(json.dumps({"command": ["suite", "tune", "--variants", "e3nn-o2"]}))
    block = readme.tune_block(tmp_path, "tune-x")
    assert block == "`results/tune-x/`, `suite tune --variants e3nn-o2`: started, no trial finished yet"
    assert readme.tune_block(tmp_path, "tune-y") == "`results/tune-y/`: not committed yet"


def test_an_interrupted_search_shows_its_progress_and_no_choice(tmp_path):
    """A finalist without all its seeds would read as the only finalist, a choice it is not."""
    import json

    source = ROOT / "results" / "tune-optuna-cpu"
    search = tmp_path / "results" / "tune-optuna-cpu"
    search.mkdir(parents=True)
    for entry in source.iterdir():
        if entry.name != "manifest.json":
            (search / entry.name).symlink_to(entry)
    manifest = json.loads((source / "manifest.json").read_text())
    unit = next(
        n for n, u in manifest["units"].items() if n.startswith("e3nn-so2__seed2") and u["status"] == "done"
    )
    manifest["units"][unit]["status"] = "running"
    (search / "manifest.json").write_text(json.dumps(manifest))
    finished = sum(u["status"] in ("done", "pruned", "failed") for u in manifest["units"].values())
    block = readme.tune_block(tmp_path, "tune-optuna-cpu")
    progress = (
        f"Interrupted: {finished} of {len(manifest['units'])} units done (a search adds units as it goes)"
    )
    assert f"{progress}; its choices come when" in block
    assert "| `e3nn-so2` |" not in block and "| `e3nn-so2` |" in readme.tune_block(ROOT, "tune-optuna-cpu")


def test_an_interrupted_run_shows_its_progress_and_no_table(tmp_path):
    """A run still being made (committed part-way, resumable) names its progress instead of
    ranking the variants it has so far."""
    import json

    source = ROOT / "results" / "quick-digits3d-cpu"
    run = tmp_path / "results" / "quick-digits3d-cpu"
    run.mkdir(parents=True)
    for entry in source.iterdir():
        if entry.name not in ("manifest.json", "summary.md"):
            (run / entry.name).symlink_to(entry)
    manifest = json.loads((source / "manifest.json").read_text())
    unit = next(iter(manifest["units"]))
    manifest["units"][unit]["status"] = "running"
    (run / "manifest.json").write_text(json.dumps(manifest))
    block = readme.pending_run_block(tmp_path, "quick-digits3d-cpu")
    done = len(manifest["units"]) - 1
    assert block.startswith("`results/quick-digits3d-cpu/`, `suite run --dataset digits3d")
    total = len(manifest["units"])
    ending = "its figures come when it is resumed to the end."
    assert block.endswith(f"Interrupted: {done} of {total} units done; {ending}")
    assert "| variant |" in readme.pending_run_block(ROOT, "quick-digits3d-cpu")
    assert readme.pending_run_block(tmp_path, "nothing-here") == "`results/nothing-here/`: not committed yet"
    just_started = tmp_path / "results" / "just-started"  # a manifest, and no unit finished yet
    just_started.mkdir()
    for name in manifest["units"]:
        manifest["units"][name]["status"] = "pending"
    (just_started / "manifest.json").write_text(json.dumps(manifest))
    assert readme.pending_run_block(tmp_path, "just-started").endswith(
        f"Interrupted: 0 of {total} units done; {ending}"
    )


def test_the_tuning_budget_quotes_the_first_sweeps_unit_times():
    """The Recipes section sizes the default search from results/tune-cpu's unit times: one
    5-epoch unit of each variant, the mean over its learning rates, summed."""
    import json
    from collections import defaultdict

    units = json.loads((ROOT / "results" / "tune-cpu" / "manifest.json").read_text())["units"]
    seconds = defaultdict(list)
    for name, unit in units.items():
        seconds[name.split("__")[0]].append(unit["seconds"])
    total = sum(sum(s) / len(s) for s in seconds.values())
    assert len(seconds) == 10
    assert f"`results/tune-cpu`'s unit times, {total:.0f} s for one 5-epoch unit" in " ".join(
        (ROOT / "README.md").read_text().split()
    )


def test_the_digits3d_prose_says_what_its_study_decides():
    """The 3-D track's paragraph under the digits3d compute study reads its block: no row decides
    the claim, cnn3d-aug finds no upper bound within the cap, and every lower bound in epochs is
    under the claim's range (250×)."""
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert 'What it says: no row decides the seed\'s "about 500×" at 95%.' in text
    assert "so no upper bound is found, while the lower bounds" in text
    block = readme.study_block(ROOT, "compute-digits3d")
    undecided = "**not decided at 95%**"
    assert f"in epochs: {undecided}; in seconds: {undecided}; in FLOPs: {undecided}" in block
    rows = [line for line in block.splitlines() if line.startswith("- `") and "needs, in epochs" in line]
    assert len(rows) == 6 and all(row.count("(not decided at 95%)") == 3 for row in rows)
    for row in (r for r in rows if "`cnn3d-aug` needs" in r):
        low = float(re.search(r"in epochs, \[([\d.]+)×, not surely within", row)[1])
        assert low < 250


def test_the_polycubes_prose_says_what_its_study_decides():
    """The paragraph under the polycubes compute study reads its block: no row decides the claim,
    no upper bound within the cap, every lower bound in epochs under the claim's range (250×), and
    every target far above chance (1/29)."""
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "What it says: as on `digits3d`, no row decides the claim at 95%." in text
    block = readme.study_block(ROOT, "compute-polycubes")
    undecided = "**not decided at 95%**"
    assert f"in epochs: {undecided}; in seconds: {undecided}; in FLOPs: {undecided}" in block
    rows = [line for line in block.splitlines() if line.startswith("- `") and "needs, in epochs" in line]
    assert len(rows) == 3 and all("not surely within" in row for row in rows)
    for row in rows:
        assert float(re.search(r"in epochs, \[([\d.]+)×, not surely within", row)[1]) < 250
        assert float(re.search(r"`: ([\d.]+) \[", row)[1]) > 3 * 100 / 29


def test_the_polycubes_data_study_is_on_the_current_generator_and_its_prose_says_what_it_decides():
    """Every committed polycubes result is made on the generator that keeps each shape near the
    middle; the data study does not saturate (the issue's bar: every O model below 99% O-mean at
    the smallest size); the paragraph under its block says what the block decides at each size."""
    import json

    made = [json.loads(m.read_text()) for m in (ROOT / "results").glob("**/manifest.json")]
    polycubes = [m for m in made if m.get("dataset", {}).get("name") == "polycubes"]
    assert len(polycubes) >= 3 and all("near the middle" in m["data"] for m in polycubes)
    table = pd.read_csv(ROOT / "results" / "studies" / "data-polycubes" / "study.csv")
    o_models = ["stack-o", "gcnn-o", "escnn-o"]
    smallest = table[(table.train_size == table.train_size.min()) & table.variant.isin(o_models)]
    assert len(smallest) == 9 and (smallest.groupby("variant").o_mean.mean() < 99).all()
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "What it says: at every training size `stack-o` and `escnn-o` are ahead of `cnn3d-aug`" in text
    block = readme.study_block(ROOT, "data-polycubes")
    paired = [line for line in block.splitlines() if "minus `cnn3d-aug`" in line]
    assert len(paired) == table.train_size.nunique() == 3
    for line in paired:
        assert re.search(r"`stack-o` [\d.]+ \[[\d., ]+\] \(ahead\)", line), line
        assert re.search(r"`escnn-o` [\d.]+ \[[\d., ]+\] \(ahead\)", line), line
        assert re.search(r"`gcnn-o` [\d.]+ \[[\d., ]+\] \(not distinguishable\)", line), line
    undecided = [line for line in block.splitlines() if line.startswith("- At training images")]
    assert len(undecided) == 3 and all(
        re.search(r"O-mean: not decided at 95% among (`[a-z-]+-o`(, )?){3};", line) for line in undecided
    )
    assert all("random-angle: not decided at 95% among" in line for line in undecided)


def test_the_e3nn_block_says_whether_its_run_is_at_the_committed_recipe(tmp_path):
    """A search that chooses again after the comparison ran makes the block say which model's
    recipe the run no longer has."""
    from suite.report.results import RunResults

    r = RunResults(ROOT / "results" / "quick-e3nn-precise-bn-cpu")
    same = readme.recipe_against_tuned(ROOT, r, ["e3nn-so2", "escnn-c4"])
    assert same.endswith("of `e3nn-so2`, `escnn-c4` are those `tuned.toml` holds now")
    tuned = (ROOT / "suite" / "training" / "tuned.toml").read_text(encoding="utf-8")
    changed = re.sub(r'(\[mnist\."e3nn-so2"\]\nlr = )[\d.e-]+', r"\g<1>0.0125", tuned)
    assert changed != tuned
    (tmp_path / "suite" / "training").mkdir(parents=True)
    (tmp_path / "suite" / "training" / "tuned.toml").write_text(changed, encoding="utf-8")
    assert readme.recipe_against_tuned(tmp_path, r, ["e3nn-so2", "escnn-c4"]) == (
        "not the committed `tuned.toml`'s for `e3nn-so2` (this run: lr 0.00534708, weight decay 0.1, "
        "constant; `tuned.toml` now: lr 0.0125, weight decay 0.1, constant)"
    )
