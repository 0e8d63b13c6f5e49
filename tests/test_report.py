"""summary.md and the plots, from a small run directory written here (no training, no models)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg

from suite.correctness import CORRECT_FIELDS, encode
from suite.data.rotations import rotate_exact_or_bilinear
from suite.report import plots, tables
from suite.report.results import RunResults

# variant -> (claims, augment); the C4 models are exactly invariant to quarter turns
VARIANTS = {
    "cnn": ("none", "none"),
    "cnn-aug": ("none", "c4"),
    "stack-c4": ("C4", "none"),
    "gcnn-c4": ("C4", "none"),
}
SEEDS = (0, 1)
EPOCHS = 3
SAMPLE_ANGLES = (0, 45, 90, 135, 180)
FLOPS = {"cnn": 589_888, "cnn-aug": 589_888, "stack-c4": 4 * 589_888, "gcnn-c4": 2_130_000}
# images/s at the largest batch: spans a decade and a half, like a GPU run
SPEED = {"cnn": 5.0e6, "cnn-aug": 2.1e5, "stack-c4": 1.3e6, "gcnn-c4": 2.9e6}


UPRIGHT = {"cnn": 98.5, "cnn-aug": 92.5, "stack-c4": 97.8, "gcnn-c4": 97.6}  # seed 0; other variants 96


def accuracy(variant: str, invariant: bool, angle: float, seed: int) -> float:
    """Percent; seed 1 is 0.2 points better, so the seed means upright are 98.6, 92.6, 97.9, 97.7, 96.1."""
    upright = UPRIGHT.get(variant, 96.0) + 0.2 * seed
    if angle % 90 == 0:
        return upright if invariant or variant == "cnn-aug" or angle == 0 else 13.0 + seed
    return upright - 30.0


def predicted(variant: str, label: int, angle: int) -> int:
    """The synthetic predictions: right upright and, for the C4 models, at every quarter turn."""
    right = angle == 0 or (angle % 90 == 0 and VARIANTS.get(variant, ("C4",))[0] != "none")
    return label if right else (label + 1) % 10


def digit_pixels(label: int) -> np.ndarray:
    """An asymmetric 28×28 'digit' (an L with a dot), so that a rotation shows."""
    image = np.zeros((28, 28), dtype=np.uint8)
    image[5:23, 8:11] = 255
    image[20:23, 8:20] = 200
    image[6 + label : 9 + label, 18:21] = 120
    return image


IMAGES = 1_000  # evaluation images of the fabricated per-image results


def image_bits(percent: float) -> str:
    """Per-image results at exactly ``percent``: the first images right, the rest wrong."""
    right = int(round(percent * IMAGES / 100))
    return encode(np.arange(IMAGES) < right)


def write_run(
    run_dir: Path, variants: dict[str, tuple[str, str]] | None = None, seeds: tuple[int, ...] = SEEDS
) -> Path:
    """A finished run directory with every CSV that `suite run` writes, made up but consistent."""
    variants = VARIANTS if variants is None else variants
    run_dir.mkdir(parents=True, exist_ok=True)
    manifest = {
        "command": ["suite", "run"],
        "config": {"profile": "test", "seeds": list(seeds), "recipe": {"epochs": EPOCHS}},
        "finished": "2026-01-01T00:00:00+00:00",
        "wall_s": 1.0,
        "units": {f"{v}__seed{s}": {"status": "done"} for v in variants for s in seeds},
        "environment": {"device": "cpu", "device_name": "cpu", "cpu_threads": 2},
        "variants": {
            v: {"family": "test", "claims": sym, "augment": aug} for v, (sym, aug) in variants.items()
        },
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    metrics, history, confusion, predictions, throughput, correct = [], [], [], [], [], []
    for v, (symmetry, _) in variants.items():
        for s in seeds:
            accs = {a: accuracy(v, symmetry != "none", a, s) for a in range(0, 360, 45)}
            metrics += [(v, s, "acc", a, value) for a, value in accs.items()]
            c4 = float(np.mean([accs[a] for a in (0, 90, 180, 270)]))
            correct += [(v, s, "", "acc", a, IMAGES, image_bits(accs[a])) for a in (0, 90, 180, 270)]
            correct.append((v, s, "", "acc_random", "", IMAGES, image_bits(c4 - 10)))
            metrics += [
                (v, s, "acc_c4_mean", None, c4),
                (v, s, "acc_random", None, c4 - 10),
                (v, s, "invariance_err", None, 0.0 if symmetry != "none" else 40.0),
                (v, s, "params", None, 13_978),
                (v, s, "train_s_per_epoch", None, 2.0),
            ]
            for epoch in range(1, EPOCHS + 1):
                acc_c4 = c4 if symmetry != "none" else 60.0 + 5 * epoch
                history.append((v, s, epoch, 1.0 / epoch**2, 90.0, acc_c4, 2.0, 2.0 * epoch))
            for condition in ("rot90", "random"):
                for true in range(10):
                    confusion += [
                        (v, s, condition, true, true, 90),
                        (v, s, condition, true, (true + 3) % 10, 10),
                    ]
            for label in range(10):
                for angle in SAMPLE_ANGLES:
                    predictions.append((v, s, 100 + label, label, angle, predicted(v, label, angle)))
        for bench in ("infer", "train"):
            for batch in (1, 64, 1024):
                speed = SPEED.get(v, 1e6) * batch / 1024
                row = (
                    v,
                    bench,
                    "native",
                    "cpu",
                    "test cpu",
                    2,
                    batch,
                    speed,
                    1000 * batch / speed,
                    FLOPS.get(v, 2e6),
                )
                throughput.append(row)
    frames = {
        "metrics": (metrics, ["variant", "seed", "metric", "angle", "value"]),
        "correct": (correct, list(CORRECT_FIELDS)),
        "history": (
            history,
            ["variant", "seed", "epoch", "loss", "val_acc_0", "val_acc_c4_mean", "epoch_s", "wall_s"],
        ),
        "confusion": (confusion, ["variant", "seed", "condition", "true", "predicted", "count"]),
        "predictions": (predictions, ["variant", "seed", "index", "label", "angle", "predicted"]),
        "throughput": (
            throughput,
            ["variant", "bench", "form", "device", "device_name", "threads", "batch_size", "samples_per_s"]
            + ["step_ms", "flops"],
        ),
    }
    for name, (rows, columns) in frames.items():
        pd.DataFrame(rows, columns=columns).to_csv(run_dir / f"{name}.csv", index=False)
    samples = [(100 + label, label, digit_pixels(label).tobytes().hex()) for label in range(10)]
    pd.DataFrame(samples, columns=["index", "label", "pixels_hex"]).to_csv(
        run_dir / "samples.csv", index=False
    )
    return run_dir


@pytest.fixture
def run(tmp_path) -> RunResults:
    return RunResults(write_run(tmp_path / "run"))


def rendered(fig):
    """Draw ``fig`` with a private Agg canvas (no pyplot) and return its renderer."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The body cells of the Markdown table under ``heading`` (escaped pipes kept as text)."""
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines[2:]]


# --- 1. no global backend change ------------------------------------------------------------


@pytest.mark.subprocess
def test_plots_leave_the_matplotlib_backend_alone(tmp_path):
    run_dir = write_run(tmp_path / "run")
    script = (
        "import sys, matplotlib; matplotlib.use('svg'); "
        "from suite.report.results import RunResults; from suite.report.plots import write_plots; "
        "written = write_plots(RunResults(sys.argv[1])); "
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules, len(written))"
    )
    done = subprocess.run([sys.executable, "-c", script, str(run_dir)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["svg", "False", "6"]
    assert all((run_dir / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in plots.FIGURES)


# --- 2. digits rotated by suite.data.rotations ------------------------------------------------


def test_digit_panels_show_the_rotation_the_models_saw(run):
    assert not hasattr(plots, "_rotate_bilinear")
    fig = plots.digits_figure(run)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 6 * len(SAMPLE_ANGLES)
    for i, ax in enumerate(panels):
        row, angle = divmod(i, len(SAMPLE_ANGLES))
        label = plots.DIGIT_SAMPLES[row]  # digits: six samples, 6 and 9 among them
        pixels = torch.from_numpy(digit_pixels(label).astype(np.float32))[None, None]
        expected = rotate_exact_or_bilinear(pixels, SAMPLE_ANGLES[angle])[0, 0].numpy()
        assert np.array_equal(np.asarray(ax.images[0].get_array()), expected), (label, angle)
    first = plots.DIGIT_SAMPLES[0]
    assert np.array_equal(np.asarray(panels[2].images[0].get_array()), np.rot90(digit_pixels(first)))  # exact


# --- 3. Markdown tables by pandas -------------------------------------------------------------


def test_markdown_tables_keep_cells_as_written_and_escape_pipes():
    frame = pd.DataFrame({"variant": ["`cnn`", "`a|b`"], "invariance err": ["4.2e+01", "0.0e+00"]})
    text = tables.markdown(frame)
    lines = text.splitlines()
    assert lines[0] == "| variant | invariance err |"
    assert re.fullmatch(r"\|-+\|-+\|", lines[1])
    assert lines[2] == "| `cnn` | 4.2e+01 |"  # not re-read as the number 42
    cells = [re.split(r"(?<!\\)\|", line)[1:-1] for line in lines]
    assert [len(c) for c in cells] == [2, 2, 2, 2]  # a '|' inside a cell does not split it
    assert tables.markdown(pd.DataFrame()) == "_(no variant of this table in this run)_"


# --- 4. claims as data ------------------------------------------------------------------------


def test_claims_table_reports_the_three_claims_with_their_verdicts(tmp_path):
    from suite.report import claims

    run = RunResults(write_run(tmp_path / "run", seeds=(0, 1, 2)))
    table = claims.claims_table(run).set_index("claim")
    c4, stack, aug = (c.statement for c in claims.CLAIMS if c.variants(run) is not None)
    assert list(table.index) == [c4, stack, aug]  # the claims on volumes need variants this run lacks
    assert table.loc[c4, "verdict"] == "holds"  # exactly the same images right at 90° as upright
    assert "`stack-c4` 0.00 [0.00, 0.00] (3 seeds)" in table.loc[c4, "measured evidence"]
    assert table.loc[stack, "verdict"] == "holds"
    assert "FLOPs ratio stack-c4 / cnn = 4.00" in table.loc[stack, "measured evidence"]
    # a final run has no per-image validation curves: the claim is not decided here
    assert table.loc[aug, "verdict"] == claims.NOT_SHOWN
    assert "no per-image validation curves" in table.loc[aug, "measured evidence"]


def test_e3nns_c4_model_is_decided_at_least_as_accurate_as_escnn_c4_by_its_paired_difference(
    tmp_path, monkeypatch
):
    from suite.report import claims

    statement = "e3nn's C4 model is at least as accurate as escnn-c4 at the same budget and recipe"
    pair = {"escnn-c4": ("C4", "none"), "e3nn-so2": ("C4", "none")}
    verdicts = {}
    for upright in (96.2, 96.0, 90.0):  # above, equal to, 6 points below escnn-c4's 96.0 on every seed
        monkeypatch.setitem(UPRIGHT, "e3nn-so2", upright)
        r = RunResults(write_run(tmp_path / str(upright), pair, seeds=(0, 1, 2)))
        row = claims.claims_table(r).set_index("claim").loc[statement]
        verdicts[upright] = row["verdict"]
    assert verdicts == {96.2: "holds", 96.0: "holds", 90.0: "fails"}
    assert "paired over 3 seeds and 1,000 images: -6.00 [" in row["measured evidence"]
    two_seeds = RunResults(write_run(tmp_path / "two", pair, seeds=(0, 1)))
    assert (
        claims.claims_table(two_seeds).set_index("claim").loc[statement, "verdict"].startswith("no verdict")
    )


def test_claims_draw_no_verdict_below_three_seeds(run):
    from suite.report import claims

    table = claims.claims_table(run).set_index("claim")
    assert table.loc[claims.CLAIMS[0].statement, "verdict"] == "no verdict (fewer than 3 seeds)"
    assert table.loc[claims.CLAIMS[1].statement, "verdict"] == "holds"  # FLOPs: exact counts, no seeds


def test_a_claim_added_as_one_entry_shows_up_in_the_summary(run, monkeypatch):
    from suite.report import claims

    def more_accurate_upright(r, picked, evidence):
        plain, stack = picked["plain"][0], picked["stack"][0]
        gap = evidence.difference(plain, stack, "0")
        return f"`{plain}` − `{stack}` = {gap.text()} points", "holds" if gap.low > 0 else "not decided"

    extra = claims.Claim(
        statement="The plain CNN is more accurate upright than the rotated stack",
        compares={"plain": claims.named("cnn"), "stack": claims.named("stack-c4")},
        decide=more_accurate_upright,
    )
    monkeypatch.setattr(claims, "CLAIMS", [*claims.CLAIMS, extra])
    rows = table_rows(tables.summary_markdown(run), "## Claims")
    assert len(rows) == 4
    assert rows[-1][0] == extra.statement and rows[-1][1].startswith("`cnn` − `stack-c4` = 0.70 [")


def test_a_claim_whose_variants_did_not_run_is_left_out(tmp_path):
    from suite.report import claims

    r = RunResults(write_run(tmp_path / "run", {v: VARIANTS[v] for v in ("cnn", "gcnn-c4")}))
    assert list(claims.claims_table(r).claim) == [claims.CLAIMS[0].statement]  # no stack-c4, no cnn-aug


def test_claims_cover_a_new_c4_variant_without_naming_it(tmp_path):
    from suite.report import claims

    variants = {**VARIANTS, "my-c4": ("C4", "none"), "my-d4": ("D4", "none"), "my-c4-aug": ("C4", "c4")}
    r = RunResults(write_run(tmp_path / "run", variants, seeds=(0, 1, 2)))
    table = claims.claims_table(r).set_index("claim")
    c4 = claims.CLAIMS[0].statement
    assert "`my-c4` 0.00 [0.00, 0.00]" in table.loc[c4, "measured evidence"]
    assert "`my-d4` 0.00 [0.00, 0.00]" in table.loc[c4, "measured evidence"]
    assert "`my-c4-aug`" not in table.loc[c4, "measured evidence"]  # augmented: not shown by symmetry alone
    assert claims.C4_WITHOUT_AUGMENTATION.pick(r) == ["stack-c4", "gcnn-c4", "my-c4", "my-d4"]


def test_c4_claim_fails_when_a_c4_model_is_not_invariant(tmp_path):
    from suite.report import claims

    run_dir = write_run(tmp_path / "run", seeds=(0, 1, 2))
    correct = pd.read_csv(run_dir / "correct.csv")
    rot = (correct.variant == "gcnn-c4") & (correct.metric == "acc") & (correct.angle == 90)
    correct.loc[rot, "bits"] = image_bits(95.0)  # 2–3 points worse at 90° than upright, every seed
    correct.to_csv(run_dir / "correct.csv", index=False)
    row = claims.claims_table(RunResults(run_dir)).set_index("claim").loc[claims.CLAIMS[0].statement]
    assert row.verdict == "fails" and "`gcnn-c4` -2.80 [" in row["measured evidence"]


def test_c4_claim_is_not_decided_when_the_gap_straddles_the_margin(tmp_path):
    from suite.report import claims

    run_dir = write_run(tmp_path / "run", seeds=(0, 1, 2))
    correct = pd.read_csv(run_dir / "correct.csv")
    for seed, percent in ((0, 97.6), (1, 97.0), (2, 98.0)):  # gaps 0, −0.8, 0: an interval across −0.5
        rot = (correct.variant == "gcnn-c4") & (correct.angle == 90) & (correct.seed == seed)
        correct.loc[rot, "bits"] = image_bits(percent)
    correct.to_csv(run_dir / "correct.csv", index=False)
    row = claims.claims_table(RunResults(run_dir)).set_index("claim").loc[claims.CLAIMS[0].statement]
    assert row.verdict == "not decided at 95%"


# --- 5. plots that read well ------------------------------------------------------------------


def test_plots_of_a_one_seed_run_without_per_image_results(tmp_path):
    """A run made before per-image results, at one seed: no interval anywhere; the figures that
    draw intervals are still drawn."""
    run_dir = write_run(tmp_path / "run", seeds=(0,))
    (run_dir / "correct.csv").unlink()
    r = RunResults(run_dir)
    for figure in (plots.angle_figure, plots.tradeoff_figure, plots.training_figure):
        rendered(figure(r))


def test_training_curves_tick_whole_epochs_and_titles_fit(run):
    fig = plots.training_figure(run)
    renderer = rendered(fig)
    figure_box = fig.bbox
    titles = []
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        for text in (ax.title, ax._left_title, ax._right_title):
            if text.get_text():
                box = text.get_window_extent(renderer)
                assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1, text.get_text()
                titles.append(box)
    assert len(titles) == 2 and not titles[0].overlaps(titles[1])


def test_training_curves_of_a_one_epoch_run_tick_epoch_one_only(tmp_path):
    run_dir = write_run(tmp_path / "run")
    history = pd.read_csv(run_dir / "history.csv")
    history[history.epoch == 1].to_csv(run_dir / "history.csv", index=False)
    fig = plots.training_figure(RunResults(run_dir))
    rendered(fig)
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        assert [t for t in ax.get_xticks() if lo <= t <= hi] == [1]


def test_log_axis_tick_labels_do_not_overlap(run):
    fig = plots.tradeoff_figure(run)
    renderer = rendered(fig)
    speed_axes = [ax for ax in fig.axes if ax.get_xscale() == "log"]
    assert len(speed_axes) == 1
    ax = speed_axes[0]
    labels = [t for t in ax.get_xticklabels(which="both") if t.get_visible() and t.get_text()]
    assert len(labels) >= 2
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left.x1 < right.x0, "tick labels overlap"


def test_digit_panels_mark_each_variant_right_or_wrong(run):
    from matplotlib.colors import to_hex

    fig = plots.digits_figure(run)
    rendered(fig)
    panels = [ax for ax in fig.axes if ax.images]
    bottom = panels[-1]
    names = [t.get_text() for t in bottom.get_xticklabels()]
    assert names == run.variants  # the variants are named under the last row, in cell order
    for i, ax in enumerate(panels):
        row, j = divmod(i, len(SAMPLE_ANGLES))
        label = plots.DIGIT_SAMPLES[row]
        cells = sorted((p for p in ax.patches if p.get_fill()), key=lambda p: p.get_x())
        assert len(cells) == len(run.variants)
        texts = sorted(ax.texts, key=lambda t: t.get_position()[0])
        for variant, cell, text, centre in zip(run.variants, cells, texts, bottom.get_xticks(), strict=True):
            guess = predicted(variant, label, SAMPLE_ANGLES[j])
            assert cell.get_x() < centre < cell.get_x() + cell.get_width()
            assert cell.contains_point(ax.transData.transform(text.get_position()))
            assert text.get_text() == str(guess)  # the predicted digit, inside its cell
            expected = plots.RIGHT if guess == label else plots.WRONG
            assert to_hex(cell.get_facecolor()) == to_hex(expected), (variant, label, SAMPLE_ANGLES[j])
    assert to_hex(plots.RIGHT) != to_hex(plots.WRONG)
    legend = {t.get_text() for legend in fig.legends for t in legend.get_texts()}
    assert any("right" in t for t in legend) and any("wrong" in t for t in legend), legend


def test_write_report_writes_every_plot_and_the_summary(run):
    written = tables.write_report(run.dir)
    assert sorted(p.name for p in written) == sorted([*plots.FIGURES, "summary.md"])
    summary = (run.dir / "summary.md").read_text()
    for heading in (
        "## Main table",
        "## The tutorial's table, reproduced",
        "## Claims",
        "## 6 and 9",
        "## Equivariance at the cost of a plain CNN",
        "## Plots",
    ):
        assert heading in summary
    assert table_rows(summary, "## Main table")[0][:3] == ["`cnn`", "test", "none"]


def test_report_code_names_no_command_line_flag():
    for source in Path(tables.__file__).parent.glob("*.py"):
        assert not re.search(r"[\s'\"`(]--[a-z]", source.read_text()), source.name


# --- data sets: class names, and the rotation-confusion section -------------------------------

FASHION = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def as_fashion_run(run_dir: Path) -> RunResults:
    """The made-up run, relabelled as Fashion-MNIST, with Pullover and Coat confused most."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["dataset"] = {"name": "fashion-mnist", "classes": FASHION, "digits": False}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    confusion = pd.read_csv(run_dir / "confusion.csv")
    extra = [(v, 0, "rot90", 4, 2, 500) for v in VARIANTS]
    extra = pd.DataFrame(extra, columns=confusion.columns)
    pd.concat([confusion, extra]).to_csv(run_dir / "confusion.csv", index=False)
    return RunResults(run_dir)


def test_digit_runs_report_six_and_nine(run):
    summary = tables.summary_markdown(run)
    assert "## 6 and 9" in summary and "Rotation confusion" not in summary
    assert "6→9 at 90°" in summary


def test_other_data_sets_report_their_most_confused_pair_with_class_names(tmp_path):
    r = as_fashion_run(write_run(tmp_path / "run"))
    assert tables.most_confused_pair(r) == (2, 4)
    summary = tables.summary_markdown(r)
    assert "## 6 and 9" not in summary and "## Rotation confusion: Pullover and Coat" in summary
    assert "Coat→Pullover at 90°" in summary and "Data set `fashion-mnist`" in summary
    fig = plots.confusion_figure(r)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == FASHION
    digits = plots.digits_figure(r)
    assert digits.axes[0].get_ylabel() == "true T-shirt/top"  # the first six samples, named


def test_the_tutorials_mnist_table_appears_for_mnist_runs_only(run, tmp_path):
    assert "## The tutorial's table, reproduced" in tables.summary_markdown(run)
    fashion = as_fashion_run(write_run(tmp_path / "fashion"))
    assert "The tutorial's table" not in tables.summary_markdown(fashion)


def test_a_published_figure_is_placed_against_our_interval_only_when_the_seeds_decide():
    from suite.report.stats import Interval
    from suite.report.tables import against_published

    ours = Interval(97.0, 96.5, 97.5, seeds=3, images=10_000, method="two-way")
    assert against_published(ours, 96.0) == "higher" and against_published(ours, 98.0) == "lower"
    assert against_published(ours, 97.3) == against_published(ours, 96.5) == "consistent"
    assert against_published(Interval(97.0, 96.5, 97.5, 2, 10_000, "two-way"), 90.0) == "not decided"
    assert against_published(Interval(97.0, float("nan"), float("nan"), 3, 0, "none"), 90.0) == "not decided"
