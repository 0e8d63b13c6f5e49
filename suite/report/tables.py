"""``summary.md`` from a run directory's CSVs and manifest alone: no model is built here."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from suite.atomic import write_text_atomic
from suite.declared import METRICS, Metric, summary_metrics
from suite.report.claims import claims_table
from suite.report.comparisons import cell, leader_sentence, method_note, pairwise_section, rank_column
from suite.report.evidence import Evidence, run_measures
from suite.report.formatting import markdown, wall_time
from suite.report.results import RunResults
from suite.report.scale import scale_line
from suite.report.stats import Interval

# The tutorial's published figures (upright / 90°), which our `cnn` and `stack-c4` reproduce.
TUTORIAL = {"cnn": ("SimpleCNN", 97.3, 15.1), "stack-c4": ("EqCNN (rotated stack)", 96.5, 96.5)}


def _get(table: pd.DataFrame, key, column: str = "mean"):
    try:
        return table.loc[key, column]
    except KeyError:
        return float("nan")


def main_table(r: RunResults, evidence: Evidence | None = None) -> pd.DataFrame:
    """One row per variant: what it is, its cost, and each accuracy with its 95% interval and rank."""
    evidence = evidence or Evidence.of(r)
    scalars = {"params": r.scalar("params")}
    shown = summary_columns(r)
    flops = {}
    if not r.throughput.empty:
        flops = r.throughput.groupby("variant")["flops"].first().to_dict()
    group_mean, _ = measures = run_measures(r)
    ranks = {m: rank_column(evidence, r.variants, m) for m in measures}
    rank_label = "rank O" if group_mean == "o_mean" else "rank C4"
    rows = []
    for v in r.variants:
        seeds = int(_get(scalars["params"], v, "count"))
        throughput = r.infer_throughput(v)
        rows.append({
            "variant": f"`{v}`", "family": r.info(v, "family"), "claims": r.info(v, "claims"),
            "seeds": seeds, "lr": _lr_cell(r, v), **_tuned_cells(r, v),
            "params": f"{int(_get(scalars['params'], v)):,}",
            "MFLOPs/img": f"{flops[v] / 1e6:.2f}" if v in flops else "–",
            **group_columns(r, evidence, v, group_mean), rank_label: ranks[group_mean][v],
            "random angle": cell(evidence, v, "random"), "rank random": ranks["random"][v],
            **{m.label: m.show(_get(table, v)) for m, table in shown},
            "infer img/s": f"{throughput:,.0f}" if throughput else "–",
        })  # fmt: skip
    return pd.DataFrame(rows)


def turning_note(r: RunResults) -> str:
    """How the evaluation images were turned: quarter turns and angles, or the cube's rotations."""
    if run_measures(r)[0] == "o_mean":
        return ("each of the cube's 24 rotations is an exact composition of `rot90`; *random angle*: "
                "each volume turned once by a uniformly random rotation of space (trilinear, fixed "
                "seed).")  # fmt: skip
    return ("90°-multiples use exact `rot90`, other angles bilinear rotation; *random angle*: each "
            "image rotated once by a uniform random angle (fixed seed).")  # fmt: skip


def group_columns(r: RunResults, evidence: Evidence, variant: str, group_mean: str) -> dict[str, str]:
    """The accuracies under the data's group: each quarter turn and their mean (images), or the
    mean and lowest over the cube's rotations (volumes: 24 columns would not read), and under Oh
    over the mirrored rotations too."""
    if group_mean == "o_mean":
        lowest = METRICS["acc_o_min"].show(_get(r.scalar("acc_o_min"), variant))
        columns = {"O mean": cell(evidence, variant, "o_mean"), "O min (seed mean)": lowest}
        for name in ("acc_o_mirror_mean", "acc_o_mirror_min"):  # runs under Oh: the mirrored volumes
            if (r.metrics.metric == name).any():
                shown = METRICS[name].show(_get(r.scalar(name), variant))
                columns[f"{METRICS[name].label} (seed mean)"] = shown
        return columns
    return {**{f"acc {a}°": cell(evidence, variant, str(a)) for a in (0, 90, 180, 270)},
            "C4 mean": cell(evidence, variant, "c4_mean")}  # fmt: skip


def summary_columns(r: RunResults) -> list[tuple[Metric, pd.DataFrame]]:
    """The scalar metrics the summary shows, with their per-variant means: those declared as
    summary metrics (``suite.declared``) that the run measured, then any the run measured that
    this process has no declaration of (a plugin's, re-plotted without it), under their own name."""
    scalar = r.metrics.angle.astype(str).isin(["", "nan"])
    measured = set(r.metrics.metric[scalar])
    chosen = [m for m in summary_metrics() if m.name in measured]
    chosen += [Metric(n, n, ".4g", "not declared here") for n in sorted(measured - set(METRICS))]
    return [(m, r.scalar(m.name)) for m in chosen]


def _tuned_cells(r: RunResults, variant: str) -> dict[str, str]:
    """Weight decay and schedule, shown only where some variant of the run trained with other
    values than the tutorial's (0.01, constant)."""
    config = r.manifest.get("config", {})
    base, tuned = config.get("recipe", {}), config.get("tuned") or {}

    def value(v: str, key: str, default: object) -> object:
        return tuned.get(v, {}).get(key, base.get(key, default))

    if all(value(v, "weight_decay", 0.01) == 0.01 and value(v, "schedule", "constant") == "constant"
           for v in r.variants):  # fmt: skip
        return {}
    return {"weight decay": f"{value(variant, 'weight_decay', 0.01):g}",
            "schedule": str(value(variant, "schedule", "constant"))}  # fmt: skip


def _lr_cell(r: RunResults, variant: str) -> str:
    """The learning rate a variant trained with (runs from before recipes: the config's one)."""
    lrs = r.manifest.get("config", {}).get("lrs") or {}
    lr = lrs.get(variant, r.manifest.get("config", {}).get("recipe", {}).get("lr"))
    return f"{lr:g}" if lr is not None else "–"


def tutorial_section(r: RunResults, evidence: Evidence | None = None) -> list[str]:
    """The tutorial's published MNIST figures beside ours: for MNIST runs only."""
    if r.dataset != "mnist":
        return []
    return ["## The tutorial's table, reproduced", "", markdown(tutorial_table(r, evidence)), ""]


def tutorial_table(r: RunResults, evidence: Evidence | None = None) -> pd.DataFrame:
    evidence = evidence or Evidence.of(r)
    rows = []
    for v, (theirs, up, rot) in TUTORIAL.items():
        if v not in r.variants:
            continue
        rows.append({
            "model": f"`{v}` (tutorial: {theirs})",
            "tutorial upright": f"{up:.1f}", "tutorial 90°": f"{rot:.1f}",
            "ours upright": cell(evidence, v, "0"), "ours 90°": cell(evidence, v, "90"),
            "ours against theirs": "; ".join(
                f"{label} {against_published(evidence.interval(v, angle), value)}"
                for label, angle, value in (("upright", "0", up), ("90°", "90", rot))
            ),
            "params": f"{int(_get(r.scalar('params'), v)):,}",
        })  # fmt: skip
    return pd.DataFrame(rows)


def against_published(ours: Interval, published: float) -> str:
    """Where a published single figure lies against our 95% interval: ours ``higher`` or ``lower``
    when the interval excludes it, ``consistent`` when it holds it; ``not decided`` below the
    seeds a verdict needs."""
    if not ours.decided or math.isnan(ours.low):
        return "not decided"
    if ours.low > published:
        return "higher"
    return "lower" if ours.high < published else "consistent"


def most_confused_pair(r: RunResults) -> tuple[int, int] | None:
    """The two classes most often taken for each other (both ways) under rotation, summed over
    the run's variants, seeds and both rotated conditions; None without confusion counts."""
    c = r.confusion
    if c.empty:
        return None
    c = c[c.condition.isin(["rot90", "random"])]
    wrong = c[c.true != c.predicted]
    if wrong.empty:
        return None
    pairs = wrong.assign(
        a=wrong[["true", "predicted"]].min(axis=1), b=wrong[["true", "predicted"]].max(axis=1)
    )
    a, b = pairs.groupby(["a", "b"])["count"].sum().idxmax()
    return int(a), int(b)


def pair_confusion_table(r: RunResults, first: int, second: int) -> pd.DataFrame:
    """How often each variant takes ``first`` for ``second`` and back (percent of the true class),
    at 90° and at random angles."""
    c = r.confusion
    if c.empty:
        return pd.DataFrame()
    names = {k: r.class_name(k) for k in (first, second)}
    rows = []
    for v in r.variants:
        mine = c[c.variant == v]
        row = {"variant": f"`{v}`", "claims": r.info(v, "claims")}
        for condition, label in (("rot90", "at 90°"), ("random", "at random angles")):
            sel = mine[mine.condition == condition]
            for true, pred in ((first, second), (second, first)):
                total = sel[sel.true == true]["count"].sum()
                wrong = sel[(sel.true == true) & (sel.predicted == pred)]["count"].sum()
                row[f"{names[true]}→{names[pred]} {label}"] = f"{100 * wrong / total:.1f}" if total else "–"
        rows.append(row)
    return pd.DataFrame(rows)


def rotation_confusion_section(r: RunResults) -> list[str]:
    """Digits: how often 6 and 9 are confused. Other data sets: their own most-confused pair."""
    if r.digits:
        return [
            "## 6 and 9",
            "",
            "A C4-invariant model cannot tell a digit from its 180° turn, and a 6 turned 180° looks "
            "like a 9; how often each model actually confuses them (percent of the true digit):",
            "",
            markdown(pair_confusion_table(r, 6, 9)),
            "",
        ]
    pair = most_confused_pair(r)
    if pair is None:
        return []
    first, second = (r.class_name(k) for k in pair)
    return [
        f"## Rotation confusion: {first} and {second}",
        "",
        f"The two classes of {r.dataset} most often taken for each other under rotation (summed over "
        f"variants, at 90° and at random angles) are {first} and {second}; how often each model "
        "confuses them (percent of the true class):",
        "",
        markdown(pair_confusion_table(r, *pair)),
        "",
    ]


def per_class_section(r: RunResults) -> list[str]:
    """Upright accuracy of each class per variant (test images of all seeds): on an imbalanced
    set the plain accuracy can hide a class a model never gets right. Runs from before the
    upright confusion counts were kept have none."""
    c = r.confusion
    if c.empty or "upright" not in set(c.condition):
        return []
    upright = c[c.condition == "upright"]
    totals = upright.groupby(["variant", "true"])["count"].sum()
    right = upright[upright.true == upright.predicted].groupby(["variant", "true"])["count"].sum()
    share = (100 * right.reindex(totals.index, fill_value=0) / totals).unstack("variant")
    share = share[[v for v in r.variants if v in share.columns]]
    table = share.map(lambda x: f"{x:.1f}").rename(columns=lambda v: f"`{v}`")
    first = r.variants[0] if r.variants[0] in set(upright.variant) else upright.variant.iloc[0]
    seeds = upright[upright.variant == first].seed.nunique()
    table.insert(0, "test images", (totals[first] // seeds).map(lambda n: f"{int(n):,}"))
    table.insert(0, "class", [r.class_name(int(k)) for k in table.index])
    return ["## Accuracy per class (upright, %)", "", markdown(table.reset_index(drop=True)), ""]


def twin_table(r: RunResults) -> pd.DataFrame:
    from suite.measure.ratios import ratios

    if r.throughput.empty:
        return pd.DataFrame()
    found = ratios(r.throughput.to_dict("records"))
    if not found:
        return pd.DataFrame()
    rows: dict[tuple[str, str], dict] = {}  # one row per (variant, ratio), one column per batch
    for x in found:
        first = {"variant": f"`{x['variant']}`", "ratio": x["ratio"]}
        row = rows.setdefault((x["variant"], x["ratio"]), first)
        row[f"batch {x['batch_size']}"] = f"{x['value']:.3f}"
    table = pd.DataFrame(list(rows.values()))
    batches = sorted((c for c in table.columns if c.startswith("batch ")), key=lambda c: int(c.split()[1]))
    return table[["variant", "ratio", *batches]].fillna("–")


def run_status(r: RunResults) -> list[str]:
    """A warning paragraph when the run has not finished every unit."""
    units = r.manifest.get("units", {})
    unfinished = [n for n, u in units.items() if u.get("status") != "done"]
    if r.manifest.get("finished") and not unfinished:
        return []
    if not unfinished:
        return ["**Status: training finished; the cost benchmark has not completed.**", ""]
    return [
        f"**Status: incomplete run: {len(units) - len(unfinished)} of {len(units)} units done; "
        f"not done: {', '.join(unfinished)}. Resume the run directory `{r.dir}` to finish it.**",
        "",
    ]


def failures(r: RunResults) -> list[str]:
    return [
        f"- `{name}`: {u.get('reason', 'unknown')}"
        for name, u in r.manifest.get("units", {}).items()
        if u.get("status") == "failed"
    ]


def _layout_note(layout: str | dict) -> str:
    """One layout, or the most common one with the variants that ran in another."""
    if isinstance(layout, str):
        return layout
    values = list(layout.values()) or ["contiguous"]
    common = sorted(set(values), key=lambda v: (-values.count(v), v))[0]
    others = [f"{name}: {value}" for name, value in layout.items() if value != common]
    return common + (f" ({', '.join(others)})" if others else "")


def _jobs_note(manifest: dict) -> str:
    """How many units trained at once, when more than one (per-epoch seconds then share a device)."""
    jobs = max((manifest.get("jobs") or {}).values(), default=1)  # runs from before Ray
    # the runner records where units ran as "local" or "ray <address or local instance>, <settings>"
    rays = [w for w in (manifest.get("executor") or {}).values() if str(w).startswith("ray ")]
    if rays:
        where = "; ".join(sorted({str(w).removeprefix("ray ") for w in rays}))
        return f" (units ran as Ray tasks on {where}: train s/epoch was measured while they shared it)"
    if jobs <= 1:
        return ""
    return f" (units trained {jobs} at a time: train s/epoch was measured under that sharing)"


def _training_line(config: dict) -> str:
    """Epochs, batch, optimiser; the learning rate only where one rate trained every variant."""
    recipe = dict(config.get("recipe", {}))
    if config.get("lrs"):
        recipe.pop("lr", None)  # each variant's own: the Recipe line names them
    return ", ".join(f"{k} {v}" for k, v in recipe.items()) + " (AdamW)"


def recipe_line(manifest: dict) -> str:
    """Which learning rate each variant trained with, and where the rates came from."""
    config = manifest.get("config", {})
    lrs = config.get("lrs") or {}
    note = manifest.get("recipe") or config.get("recipe_note") or "tutorial: one lr for every variant"
    if not lrs:
        return note
    return note + "; lr " + ", ".join(f"{v} {lr:g}" for v, lr in lrs.items())


def evaluation_images(manifest: dict) -> str:
    """``test images``, or what a validation-split run measured on instead."""
    if manifest.get("config", {}).get("split") == "validation":
        return "validation images (the last training images; the test set was not read)"
    return "test images"


def threads_note(manifest: dict) -> str:
    """How many threads each unit trained on: recorded (a setting of the run), or, for runs made
    before it was, the process's count."""
    recorded = manifest.get("config", {}).get("threads")
    if recorded:
        return f"every unit on {recorded} thread{'s' if recorded != 1 else ''}"
    return f"{manifest.get('environment', {}).get('cpu_threads', '?')} CPU threads in the process"


def left_out_section(config: dict) -> list[str]:
    """Which variants a default run left out of the comparison, and why (its manifest says)."""
    left = config.get("left_out") or {}
    if not left:
        return []
    lines = [f"- `{name}`: {why}" for name, why in left.items()]
    return [
        "Not in this run (the profile runs the core variants; choose others by name):",
        "",
        *lines,
        "",
    ]


def summary_markdown(r: RunResults) -> str:
    m = r.manifest
    evidence = Evidence.of(r)
    env = m.get("environment", {})
    config = m.get("config", {})
    lines = [
        "# c4suite results",
        "",
        f"Command: `{' '.join(m.get('command', []))}`  ",
        f"Profile `{config.get('profile', '?')}`, seeds {config.get('seeds', '?')}, training "
        f"{_training_line(config)}  ",
        f"Recipe `{config.get('recipe_name', 'tutorial')}`: {recipe_line(m)}  ",
        *[f"{line}  " for line in [scale_line(m)] if line],
        f"Device: {env.get('device', '?')} ({env.get('device_name', '?')}, {threads_note(m)}), "
        f"torch {env.get('versions', {}).get('torch', '?')}, "
        f"memory layout {_layout_note(m.get('layout', 'contiguous'))}  ",
        f"{'Whole-run' if m.get('finished') else 'So far, the'} wall time: {wall_time(m)}"
        f"{_jobs_note(m)}; commit {env.get('git', {}).get('commit', '?')}",
        "",
        *run_status(r),
        f"Data set `{r.dataset}`. Accuracies are percentages on {m.get('test_digits', 10_000):,} "
        f"{evaluation_images(m)} (trained on {m.get('train_digits', 60_000):,}), mean over seeds "
        f"[95% interval]; {turning_note(r)}",
        "",
        method_note(evidence, r.variants),
        "",
        "## Main table",
        "",
        markdown(main_table(r, evidence)),
        "",
        *[f"- {leader_sentence(evidence, r.variants, measure)}." for measure in run_measures(r)],
        "",
        *left_out_section(config),
        *tutorial_section(r, evidence),
        "## Claims",
        "",
        markdown(claims_table(r, evidence=evidence)),
        "",
        *pairwise_section(evidence, r.variants),
        *rotation_confusion_section(r),
        *per_class_section(r),
        "## Equivariance at the cost of a plain CNN",
        "",
        "Inference throughput of each equivariant variant relative to its plain-CNN twin (same "
        "expanded layer widths, free weights), and the share of a training step spent expanding "
        "filters (1 − twin step time / native step time):",
        "",
        markdown(twin_table(r)),
        "",
    ]
    failed = failures(r)
    if failed:
        lines += ["## Failed units", "", *failed, ""]
    return "\n".join([*lines, *plots_section(r)])


def plots_section(r: RunResults) -> list[str]:
    """Links to the run's plots, or how to draw them (a run may skip drawing them)."""
    plots = sorted((r.dir / "plots").glob("*.png")) if (r.dir / "plots").is_dir() else []
    if not plots:
        return ["## Plots", "", f"None drawn yet: `suite plot {r.dir}` draws them.", ""]
    return ["## Plots", "", *[f"![{p.stem}](plots/{p.name})" for p in plots], ""]


def write_report(run_dir: Path, plots: bool = True) -> list[Path]:
    """Rebuild ``summary.md`` and (unless not ``plots``) every plot of ``run_dir`` (a sweep's
    ``sweep.md`` and ``sweep.csv``); returns the files written."""
    from suite.report.plots import write_plots
    from suite.report.sweep import write_sweep_report

    results = RunResults(run_dir)
    if results.manifest.get("kind") == "tune":
        if (results.dir / "trials.csv").is_file():  # a search (Optuna's trials), not an lr grid
            from suite.report.trials import write_trials_report

            return write_trials_report(results.dir, results.manifest)[0]
        return write_sweep_report(results.dir)[0]
    if results.manifest.get("kind") == "study":
        from suite.report.study import write_study_report

        return write_study_report(results.dir)
    written = write_plots(results) if plots else []
    write_text_atomic(results.dir / "summary.md", summary_markdown(results))
    return [*written, results.dir / "summary.md"]
