"""A study's report from its CSVs alone: a tidy table, a table per axis value, findings, plots.

The study's name, axis and question come from its manifest (written by ``suite study``), so
``suite plot STUDY_DIR`` rebuilds everything without the code that ran it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from suite.atomic import write_csv_atomic, write_text_atomic
from suite.declared import AXES
from suite.report.claims import Select, combine_verdicts
from suite.report.comparisons import cell, leader_sentence, method_note, pairwise_section, rank_column
from suite.report.evidence import C4_MEASURE, Evidence, GroupMeasure, group_measure
from suite.report.formatting import markdown, wall_time
from suite.report.matching import ABOUT, Match, match, seconds_at
from suite.report.plots import _count, _figure, _log_ticks, _save, variant_style
from suite.report.results import RunResults
from suite.report.scale import scale_line
from suite.report.stats import MIN_SEEDS, two_way_interval


def axis_label(axis: str) -> str:
    """How tables and plots name a grid axis (its declaration in ``suite.declared``)."""
    return AXES[axis].label if axis in AXES else axis


POINT_FIELDS = ("c4_mean", "o_mean", "random", "acc_0", "acc_90", "params", "flops", "train_s", "epochs")


def study_info(r: RunResults) -> dict:
    info = r.manifest.get("study")
    if not info:
        raise ValueError(f"{r.dir}: not a study directory (its manifest names no study)")
    return info


def points(r: RunResults, axis: str | None) -> pd.DataFrame:
    """One row per unit: variant, axis value, seed and its measured numbers."""
    m = r.metrics.copy()
    m["angle"] = pd.to_numeric(m.angle, errors="coerce")
    named = {"acc_c4_mean": "c4_mean", "acc_o_mean": "o_mean", "acc_random": "random", "params": "params",
             "flops": "flops", "train_s": "train_s", "epochs": "epochs"}  # fmt: skip
    keys = ["variant", *([axis] if axis else []), "seed"]
    scalars = m[m.metric.isin(named)].pivot_table(
        index=keys, columns="metric", values="value", aggfunc="first"
    )
    scalars = scalars.rename(columns=named)
    for angle in (0, 90):
        at = m[(m.metric == "acc") & (m.angle == angle)].set_index(keys).value
        scalars[f"acc_{angle}"] = at
    table = scalars.reset_index()
    order = {v: i for i, v in enumerate(r.variants)}
    table = table.sort_values([*keys], key=lambda c: c.map(order) if c.name == "variant" else c)
    return table[[*keys, *[f for f in POINT_FIELDS if f in table.columns]]].reset_index(drop=True)


def summarise(table: pd.DataFrame, axis: str | None) -> pd.DataFrame:
    """Mean and std over seeds per (variant, axis value)."""
    keys = ["variant", *([axis] if axis else [])]
    grouped = table.groupby(keys, sort=False)
    out = grouped[[c for c in POINT_FIELDS if c in table.columns]].mean()
    for c in ("c4_mean", "o_mean", "random"):
        if c in table.columns:
            out[f"{c}_std"] = grouped[c].std()
    out["seeds"] = grouped.seed.nunique()
    return out.reset_index()


def exact_models(r: RunResults) -> list[str]:
    """Variants invariant to the run's group by construction (C4 or D4 on digits, O or Oh on
    volumes; no augmentation), read from the manifest: what a variant claims decides it, never its name."""
    return Select(symmetry=group_measure(r).exact_claims, augment=("none",)).pick(r)


def axis_tables(r: RunResults, evidence: Evidence, summary: pd.DataFrame, axis: str) -> list[str]:
    lines = []
    for value, rows in summary.groupby(axis, sort=True):
        point = float(value)
        variants = list(rows.variant)
        gm = group_measure(r)
        ranks = {m: rank_column(evidence, variants, m, point) for m in (gm.measure, "random")}
        lines += [f"### {axis_label(axis)} {_count(value)}", ""]
        frame = pd.DataFrame({
            "variant": rows.variant.map(lambda v: f"`{v}`"),
            "seeds": rows.seeds.astype(int),
            "params": rows.params.map(lambda p: f"{int(p):,}"),
            "MFLOPs/img": rows.flops.map(lambda f: f"{f / 1e6:.2f}"),
            gm.label: [cell(evidence, v, gm.measure, point) for v in variants],
            f"rank {gm.group}": [ranks[gm.measure][v] for v in variants],
            "random angle": [cell(evidence, v, "random", point) for v in variants],
            "rank random": [ranks["random"][v] for v in variants],
            "train s": rows.train_s.map(lambda s: f"{s:.0f}"),
            "epochs": rows.epochs.astype(int),
        })  # fmt: skip
        lines += [markdown(frame), ""]
    return lines


def axis_findings(r: RunResults, evidence: Evidence, summary: pd.DataFrame, axis: str) -> list[str]:
    """What the intervals support at each axis value: who leads (at 95%), and how far the best
    exact C4 model is from augmentation (a paired difference)."""
    lines = []
    leaders = {}
    exact, gm = exact_models(r), group_measure(r)
    for value, rows in summary.groupby(axis, sort=True):
        point, variants = float(value), list(rows.variant)
        at = f"At {axis_label(axis)} {_count(value)}"
        sentences = [leader_sentence(evidence, variants, m, point) for m in (gm.measure, "random")]
        lines.append(f"- {at}: " + "; ".join(sentences) + ".")
        leaders[value] = evidence.leader(variants, gm.measure, point)
        gap = exact_gap(evidence, variants, [v for v in variants if v in exact], gm.augmented, point, gm)
        if gap:
            lines.append(f"  {gap}")
    decided = set(leaders.values())
    if len(decided) == 1 and None not in decided:
        lines.append(
            f"- `{decided.pop()}` leads the {gm.group}-mean accuracy at every value of this axis (95%)."
        )
    else:
        each = ", ".join(f"{_count(k)} → {f'`{v}`' if v else 'not decided'}" for k, v in leaders.items())
        lines.append(f"- No single variant leads the {gm.group}-mean accuracy at every value at 95%: {each}.")
    return lines


def exact_gap(
    evidence: Evidence, variants: list[str], exact: list[str], baseline: str, point: float | None,
    gm: GroupMeasure = C4_MEASURE,
) -> str:  # fmt: skip
    """Each exact model minus ``baseline`` (group-mean points, paired, 95% CI), and what it decides:
    ahead or behind only where the ranks' test (Holm over every pair of ``variants``) separates
    them, so this line never contradicts the ranks beside it."""
    table = evidence.pairwise(variants, gm.measure, point)
    differs = {frozenset((row.first, row.second)): bool(row.differs) for row in table.itertuples()}
    parts = []
    for v in exact:
        diff = evidence.difference(v, baseline, gm.measure, point)
        if diff is None:
            continue
        if diff.seeds < MIN_SEEDS:
            word = "no test"
        elif differs.get(frozenset((v, baseline))):
            word = "ahead" if diff.mean > 0 else "behind"
        else:
            word = "not distinguishable"
        parts.append(f"`{v}` {diff.text()} ({word})")
    if not parts:
        return ""
    head = (f"{gm.group}-mean accuracy minus `{baseline}`, points [95% CI], paired; ahead or behind "
            f"where the test of the ranks (Holm over all {len(table)} pairs) decides: ")  # fmt: skip
    return head + "; ".join(parts) + "."


# --- the compute study ------------------------------------------------------------------------------


def claim_text(info: dict) -> str:
    """The compute study's claim as its manifest records it: "more than 10×" or "about 500×"."""
    if info.get("about"):
        return f"about {info['claim_factor']}×"
    return f"more than {info.get('claim_factor') or info['long_factor']}×"


def long_variants(r: RunResults, info: dict) -> list[str]:
    """The compute study's augmented models trained long, as its manifest names them (a study
    from before several could be: its one ``long_variant``)."""
    named = info.get("long_variants") or [info["long_variant"]]
    return [v for v in named if v in r.variants]


@dataclass(frozen=True)
class Catching:
    """How far one augmented model is from one exact model: the epoch match, the factor's
    bounds and the verdict in each unit of training (epochs, seconds, FLOPs)."""

    long_variant: str
    model: str
    found: Match
    seconds: float  # the exact model's training seconds
    bounds: dict[str, tuple[float, float | None]]
    verdicts: dict[str, str]


def catching_up(r: RunResults, evidence: Evidence, info: dict) -> list[Catching]:
    """Per long (augmented) variant and exact model: the epochs (and training seconds and FLOPs)
    the augmented one needs to reach the exact one's final validation accuracy, as 95% bounds on
    the factor, and the verdicts on the study's claim ("more than N×", or "about N×") in each
    unit of training."""
    about, factor = bool(info.get("about")), info.get("claim_factor") or info["long_factor"]
    measure = group_measure(r).measure
    flops = r.scalar("flops")["mean"] if "flops" in set(r.metrics.metric) else pd.Series(dtype=float)
    out = []
    for long_variant in long_variants(r, info):
        for v in exact_models(r):
            found = match(evidence, long_variant, v, measure)
            if found is None:
                continue
            seconds = seconds_at(r.history, v, found.model_epochs)
            aug_per_epoch = seconds_at(r.history, long_variant, found.trained) / found.trained
            per_second = aug_per_epoch / (seconds / found.model_epochs)
            per_flop = flops.get(long_variant, math.nan) / flops.get(v, math.nan)
            scales = {"epochs": 1.0, "seconds": per_second, "FLOPs": per_flop}
            bounds = {u: (found.low * k, found.high * k if found.high else None) for u, k in scales.items()}
            verdicts = {unit: found.verdict(factor, k, about) for unit, k in scales.items()}
            out.append(Catching(long_variant, v, found, seconds, bounds, verdicts))
    return out


def pair_label(c: Catching, several: bool) -> str:
    """Whom a verdict is about: the exact model, and the augmented one where a study has several."""
    return f"`{c.long_variant}` to `{c.model}`" if several else f"`{c.model}`"


def compute_verdict(r: RunResults, evidence: Evidence, info: dict) -> tuple[list[str], dict]:
    """One line per exact model (:func:`catching_up`) and the verdict in each unit of training."""
    lines, several = [], len(long_variants(r, info)) > 1
    verdicts: dict[str, list[tuple[str, str]]] = {"epochs": [], "seconds": [], "FLOPs": []}
    for c in catching_up(r, evidence, info):
        for unit, verdict in c.verdicts.items():
            verdicts[unit].append((pair_label(c, several), verdict))
        found, said = c.found, c.verdicts
        lines.append(
            f"- `{c.model}`: {found.target.text()}% after {found.model_epochs} epoch(s) ({c.seconds:.0f} s); "
            f"`{c.long_variant}` needs, in epochs, {found.ratio_text()} ({said['epochs']}); in training "
            f"seconds {bound_text(found, *c.bounds['seconds'])} ({said['seconds']}); in training FLOPs "
            f"{bound_text(found, *c.bounds['FLOPs'])} ({said['FLOPs']})."
        )
    return lines, {unit: per_model_verdict(v) for unit, v in verdicts.items()}


def per_model_verdict(verdicts: list[tuple[str, str]]) -> str:
    """One verdict where every model agrees; otherwise which models it holds, fails or is not
    decided for (the claim is about "an equivariant model": each is a case of it)."""
    combined = combine_verdicts([verdict for _, verdict in verdicts])
    if len({verdict for _, verdict in verdicts}) <= 1:
        return combined
    groups: dict[str, list[str]] = {}
    for model, verdict in verdicts:
        groups.setdefault(verdict, []).append(model)
    return "; ".join(f"{verdict} for {', '.join(models)}" for verdict, models in groups.items())


def bound_text(found: Match, low: float, high: float | None) -> str:
    if found.earliest is None:
        return f"> {low:.1f}×"
    return f"[{low:.1f}×, {f'{high:.1f}×' if high is not None else 'not surely reached'}]"


def curve_band(
    evidence: Evidence, variant: str, epochs: list[int], measure: str = "c4_mean"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-epoch group-mean validation accuracy with its 95% interval (NaN where not stored)."""
    intervals = []
    for epoch in epochs:
        scores = evidence.scores(variant, measure, curve_epoch=epoch)
        intervals.append(two_way_interval(scores).scaled(100) if scores is not None else None)
    pick = lambda f: np.array([getattr(i, f) if i else np.nan for i in intervals])  # noqa: E731
    return pick("mean"), pick("low"), pick("high")


def compute_figure(r: RunResults, evidence: Evidence, longer: list[str]) -> Figure | None:
    """Validation accuracy per epoch and per training second, with 95% interval bands."""
    h, gm = r.history, group_measure(r)
    if h.empty or gm.curve not in h.columns:
        return None
    fig = _figure(12, 4.5)
    axes = fig.subplots(1, 2)
    for v in r.variants:
        curve = h[h.variant == v].groupby("epoch")[[gm.curve, "wall_s"]].mean().dropna()
        if curve.empty:
            continue
        mean, low, high = curve_band(evidence, v, list(curve.index), gm.measure)
        if np.isnan(mean).all():  # no per-image curves (an older run): the seed means, no band
            mean = curve[gm.curve].to_numpy()
        style = variant_style(v)
        for ax, x in ((axes[0], curve.index.to_numpy()), (axes[1], curve["wall_s"].to_numpy())):
            ax.plot(x, mean, markersize=4, label=v, **style)
            ax.fill_between(x, low, high, color=style["color"], alpha=0.2)
            if v not in longer:
                ax.axhline(mean[-1], color=style["color"], linestyle=":", linewidth=1)
    ylabel = f"{gm.group}-mean validation accuracy (%)"
    title = f"Validation accuracy per epoch (dotted: each {gm.group} model's final level)"
    axes[0].set(xlabel="epoch (log)", xscale="log", ylabel=ylabel, title=title)
    axes[1].set(xlabel="training seconds (log)", xscale="log", ylabel=ylabel,
                title="... per training second")  # fmt: skip
    for ax in axes:
        readable_log_axis(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=8, title="bands: 95% interval")
    return fig


def readable_log_axis(ax, values: pd.Series | None = None) -> None:  # noqa: ANN001 - a matplotlib Axes
    """A log x axis whose every grid value is labelled (``values``: a study's axis values), or
    labelled ticks that do not collide over the plotted range; no crowded minor labels."""
    if values is not None and 1 < values.nunique() <= 8:
        ticks = sorted(float(v) for v in values.unique() if v > 0)
        ax.set_xticks(ticks, [_count(t) for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        return
    low, high = ax.get_xlim()
    _log_ticks(ax.xaxis, low, high)


# --- plots along an axis -------------------------------------------------------------------------


def axis_figure(
    r: RunResults, evidence: Evidence, summary: pd.DataFrame, axis: str, x: str, xlabel: str
) -> Figure:
    """Group-mean (C4 or O) and random-angle accuracy against ``x`` (log scale), with 95% interval bars."""
    gm = group_measure(r)
    fig = _figure(12, 4.5)
    axes = fig.subplots(1, 2)
    for v in r.variants:
        rows = summary[summary.variant == v].sort_values(x)
        if rows.empty:
            continue
        for ax, measure in ((axes[0], gm.measure), (axes[1], "random")):
            intervals = [evidence.interval(v, measure, float(p)) for p in rows[axis]]
            mean = np.array([i.mean for i in intervals])
            low = np.nan_to_num(mean - np.array([i.low for i in intervals]))
            high = np.nan_to_num(np.array([i.high for i in intervals]) - mean)
            ax.errorbar(rows[x], mean, yerr=[low, high], capsize=3, label=v, **variant_style(v))
    group_what = "mean over the cube's 24 rotations" if gm.group == "O" else "mean over 0/90/180/270°"
    random_what = "one random rotation per volume" if gm.group == "O" else "one random angle per image"
    for ax, what in ((axes[0], group_what), (axes[1], random_what)):
        ax.set(xscale="log", xlabel=f"{xlabel} (log)", ylabel=f"test accuracy, {what} (%)")
        readable_log_axis(ax, summary[x])
    axes[0].set_title(f"{gm.group}-mean accuracy against {xlabel}")
    axes[1].set_title(f"Random-angle accuracy against {xlabel}")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=8, title="bars: 95% interval")
    return fig


def axis_section(
    r: RunResults, evidence: Evidence, summary: pd.DataFrame, axis: str
) -> tuple[list[str], dict]:
    """Findings, a table per axis value and the paired tables of each value; the figures."""
    lines = ["## Findings", "", *axis_findings(r, evidence, summary, axis), "", "## Per value", "",
             *axis_tables(r, evidence, summary, axis)]  # fmt: skip
    label = axis_label(axis)
    for value, rows in summary.groupby(axis, sort=True):
        paired = pairwise_section(evidence, list(rows.variant), "###", float(value))
        if paired:
            lines += [f"### Paired comparisons at {label} {_count(value)}", *paired[1:]]
    figures = {f"accuracy_vs_{axis}.png": axis_figure(r, evidence, summary, axis, axis, label)}
    if axis == "budget":
        figures["accuracy_vs_params.png"] = axis_figure(r, evidence, summary, axis, "params", "parameters")
        figures["accuracy_vs_flops.png"] = axis_figure(r, evidence, summary, axis, "flops", "FLOPs per image")
    return lines, figures


def compute_section(
    r: RunResults, evidence: Evidence, summary: pd.DataFrame, info: dict
) -> tuple[list[str], dict]:
    """The verdict on "augmentation needs more than N× (about N×) the training", its evidence, the finals."""
    longer, factor, gm = (
        long_variants(r, info),
        info.get("claim_factor") or info["long_factor"],
        group_measure(r),
    )
    long_names = " and ".join(f"`{v}`" for v in longer)
    trains, needs, its = ("trains", "needs", "its") if len(longer) == 1 else ("train", "need", "their")
    findings, verdicts = compute_verdict(r, evidence, info)
    verdict_text = "; ".join(f"in {unit}: {verdict}" for unit, verdict in verdicts.items())
    images = next((i.images for v in r.variants if (i := evidence.interval(v, gm.measure)).images), 0)
    if info.get("about"):
        rule = (
            f"the claim holds when both bounds lie within [{factor / ABOUT:g}×, {factor * ABOUT:g}×], fails "
            f"when the upper bound is below {factor / ABOUT:g}× (or the lower above {factor * ABOUT:g}×); "
            f"{long_names} {trains} for {info['long_factor']}× the exact models' epochs (and one more), "
            f'so a target it does not reach reads "> {info["long_factor"]}×" and leaves the claim not decided'
        )
    else:
        rule = (
            f"the claim holds when the lower bound exceeds {factor}×, fails when the upper bound is at most "
            f"{factor}×"
        )
    lines = [
        "## Verdict",
        "",
        f"Claim (the seed tutorial): training with augmentation needs {claim_text(info)} the training to "
        f"match an equivariant model. **Verdict {verdict_text}.** Measured per {gm.group} model as the "
        f"epochs {long_names} {needs} until {its} {gm.group}-mean validation accuracy reaches that model's "
        "final one, "
        f"on the same {images:,} validation images and seeds (paired): the lower bound is the first epoch "
        f"not below the target at 95%, the upper bound the first epoch at or above it at 95%; {rule}. "
        "Seconds and FLOPs scale the epoch bounds by the measured seconds per epoch (timing noise is not "
        "in the interval) and by the FLOPs per image of each model:",
        "",
        *findings,
        "",
        "## Final validation accuracies",
        "",
        markdown(
            pd.DataFrame(
                {
                    "variant": summary.variant.map(lambda v: f"`{v}`"),
                    "epochs": summary.epochs.astype(int),
                    "seeds": summary.seeds.astype(int),
                    gm.label: [cell(evidence, v, gm.measure) for v in summary.variant],
                    "random angle": [cell(evidence, v, "random") for v in summary.variant],
                    "train s": summary.train_s.map(lambda s: f"{s:.0f}"),
                }
            )
        ),  # fmt: skip
        "",
    ]
    return lines, {"compute.png": compute_figure(r, evidence, longer)}


def write_study_report(run_dir: Path) -> list[Path]:
    """``study.csv``, ``summary.md`` and ``plots/`` of a study directory, from its files alone."""
    r = RunResults(run_dir)
    info = study_info(r)
    axis = info.get("axis")
    evidence = Evidence(r, axis)
    table = points(r, axis)
    write_csv_atomic(r.dir / "study.csv", table.round(4).to_dict("records"), tuple(table.columns))
    summary = summarise(table, axis)
    m = r.manifest
    env = m.get("environment", {})
    lines = [
        f"# Study `{info['name']}`: {info['question']}",
        "",
        f"Command: `{' '.join(m.get('command', []))}`  ",
        f"Scale `{info.get('scale')}`; recipe: {m.get('recipe', '?')}  ",
        *[f"{line}  " for line in [scale_line(m)] if line],
        f"Data: {m.get('data', '?')}; measured on {m.get('evaluated_on', 'test')}  ",
        f"Device: {env.get('device', '?')} ({env.get('device_name', '?')}), torch "
        f"{env.get('versions', {}).get('torch', '?')}; wall time {wall_time(m)}; commit "
        f"{env.get('git', {}).get('commit', '?')}",
        "",
        *[f"{note}  " for note in info.get("notes", [])],
        "",
        method_note(evidence, r.variants, float(summary[axis].iloc[0]) if axis else None),
        "",
    ]
    section = (
        axis_section(r, evidence, summary, axis) if axis else compute_section(r, evidence, summary, info)
    )
    lines += section[0]
    written = []
    for name, fig in section[1].items():
        if fig is not None:
            written.append(_save(fig, r.dir / "plots" / name))
            lines += [f"![{name}](plots/{name})", ""]
    failed = [n for n, u in m.get("units", {}).items() if u.get("status") == "failed"]
    if failed:
        lines += ["## Failed units", "", *[f"- {n}: {m['units'][n].get('reason', '?')}" for n in failed], ""]
    write_text_atomic(r.dir / "summary.md", "\n".join(lines))
    return [*written, r.dir / "study.csv", r.dir / "summary.md"]
