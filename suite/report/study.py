"""A study's report from its CSVs alone: a tidy table, a table per axis value, findings, plots.

The study's name, axis and question come from its manifest (written by ``suite study``), so
``suite plot STUDY_DIR`` rebuilds everything without the code that ran it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from suite.atomic import write_csv_atomic, write_text_atomic
from suite.report.claims import CURVE, FAILS, HOLDS, NOT_SHOWN, combine_verdicts
from suite.report.formatting import markdown, pm
from suite.report.plots import _count, _figure, _save, colours
from suite.report.results import RunResults

AXIS_LABELS = {"budget": "parameter budget", "train_size": "training images", "epochs": "epochs", "lr": "lr"}
POINT_FIELDS = ("c4_mean", "random", "acc_0", "acc_90", "params", "flops", "train_s", "epochs")


def study_info(r: RunResults) -> dict:
    info = r.manifest.get("study")
    if not info:
        raise ValueError(f"{r.dir}: not a study directory (its manifest names no study)")
    return info


def points(r: RunResults, axis: str | None) -> pd.DataFrame:
    """One row per unit: variant, axis value, seed and its measured numbers."""
    m = r.metrics.copy()
    m["angle"] = pd.to_numeric(m.angle, errors="coerce")
    named = {"acc_c4_mean": "c4_mean", "acc_random": "random", "params": "params", "flops": "flops",
             "train_s": "train_s", "epochs": "epochs"}  # fmt: skip
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
    for c in ("c4_mean", "random"):
        out[f"{c}_std"] = grouped[c].std()
    out["seeds"] = grouped.seed.nunique()
    return out.reset_index()


def axis_tables(summary: pd.DataFrame, axis: str) -> list[str]:
    lines = []
    for value, rows in summary.groupby(axis, sort=True):
        lines += [f"### {AXIS_LABELS.get(axis, axis)} {_count(value)}", ""]
        frame = pd.DataFrame({
            "variant": rows.variant.map(lambda v: f"`{v}`"),
            "seeds": rows.seeds.astype(int),
            "params": rows.params.map(lambda p: f"{int(p):,}"),
            "MFLOPs/img": rows.flops.map(lambda f: f"{f / 1e6:.2f}"),
            "C4 mean": [pm(a, b) for a, b in zip(rows.c4_mean, rows.c4_mean_std, strict=True)],
            "random angle": [pm(a, b) for a, b in zip(rows.random, rows.random_std, strict=True)],
            "train s": rows.train_s.map(lambda s: f"{s:.0f}"),
            "epochs": rows.epochs.astype(int),
        })  # fmt: skip
        lines += [markdown(frame), ""]
    return lines


def axis_findings(summary: pd.DataFrame, axis: str) -> list[str]:
    """What the numbers support: the leader at each axis value, and whether it changes."""
    lines = []
    leaders = {}
    for value, rows in summary.groupby(axis, sort=True):
        best = rows.loc[rows.c4_mean.idxmax()]
        best_random = rows.loc[rows.random.idxmax()]
        leaders[value] = best.variant
        lines.append(
            f"- At {AXIS_LABELS.get(axis, axis)} {_count(value)}: best C4-mean accuracy `{best.variant}` "
            f"{best.c4_mean:.2f}%, best random-angle accuracy `{best_random.variant}` "
            f"{best_random.random:.2f}%."
        )
    if len(set(leaders.values())) == 1:
        lines.append(
            f"- `{next(iter(leaders.values()))}` leads the C4-mean accuracy at every value of this axis."
        )
    else:
        lines.append("- The C4-mean leader changes along the axis: " + ", ".join(
            f"{_count(k)} → `{v}`" for k, v in leaders.items()) + ".")  # fmt: skip
    if "cnn-aug" in set(summary.variant):
        gaps = []
        for value, rows in summary.groupby(axis, sort=True):
            aug = rows[rows.variant == "cnn-aug"].c4_mean
            exact = rows[~rows.variant.isin(["cnn", "cnn-aug", "cnn-aug-so2"])].c4_mean
            if len(aug) and len(exact):
                gaps.append(f"{_count(value)}: {exact.max() - aug.iloc[0]:+.2f}")
        lines.append("- Best C4 model minus `cnn-aug` (C4-mean points) per value: " + "; ".join(gaps) + ".")
    return lines


# --- the compute study ------------------------------------------------------------------------------


def compute_verdict(r: RunResults, long_variant: str, factor: int) -> tuple[list[str], str, str]:
    """Epochs and seconds ``long_variant`` needs to reach each C4 model's final validation
    accuracy, as multiples of that model's; a verdict on "more than ``factor``×" for each measure
    (epochs, training seconds): a ratio decides it, a bound decides it only when above the factor."""
    h = r.history
    if h.empty or CURVE not in h.columns or long_variant not in set(h.variant):
        return ["- No validation curves of the augmented model: nothing to decide."], NOT_SHOWN, NOT_SHOWN
    curves = h.groupby(["variant", "epoch"])[[CURVE, "wall_s"]].mean().reset_index()
    aug = curves[curves.variant == long_variant].sort_values("epoch")
    lines, by_epochs, by_seconds = [], [], []
    for v in [v for v in r.variants if v != long_variant]:
        own = curves[curves.variant == v].sort_values("epoch")
        if own.empty:
            continue
        last = own.iloc[-1]
        target, epochs, seconds = float(last[CURVE]), int(last.epoch), float(last.wall_s)
        reached = aug[aug[CURVE] >= target]
        head = f"- `{v}`: {target:.2f}% after {epochs} epoch(s) ({seconds:.0f} s); `{long_variant}` "
        if reached.empty:
            epoch_bound, second_bound = int(aug.epoch.max()) / epochs, aug.wall_s.max() / seconds
            lines.append(
                head + f"did not reach it in {int(aug.epoch.max())} epochs ({aug.wall_s.max():.0f} s): "
                f"more than {epoch_bound:.0f}× the epochs and more than {second_bound:.1f}× the seconds."
            )
            by_epochs.append(HOLDS if epoch_bound > factor else NOT_SHOWN)
            by_seconds.append(HOLDS if second_bound > factor else NOT_SHOWN)
        else:
            first = reached.iloc[0]
            epoch_ratio, second_ratio = int(first.epoch) / epochs, first.wall_s / seconds
            lines.append(
                head + f"reached it at epoch {int(first.epoch)} ({first.wall_s:.0f} s): "
                f"{epoch_ratio:.1f}× the epochs, {second_ratio:.1f}× the seconds."
            )
            by_epochs.append(HOLDS if epoch_ratio > factor else FAILS)
            by_seconds.append(HOLDS if second_ratio > factor else FAILS)
    return lines, combine_verdicts(by_epochs), combine_verdicts(by_seconds)


def compute_figure(r: RunResults, long_variant: str) -> Figure | None:
    h = r.history
    if h.empty or CURVE not in h.columns:
        return None
    colour = colours(r.variants)
    fig = _figure(12, 4.5)
    axes = fig.subplots(1, 2)
    for v in r.variants:
        curve = h[h.variant == v].groupby("epoch")[[CURVE, "wall_s"]].agg(["mean", "std"])
        if curve.empty:
            continue
        mean, std = curve[(CURVE, "mean")], np.nan_to_num(curve[(CURVE, "std")])
        for ax, x in ((axes[0], curve.index.to_numpy()), (axes[1], curve[("wall_s", "mean")].to_numpy())):
            ax.plot(x, mean, marker="o", markersize=3, color=colour[v], label=v)
            ax.fill_between(x, mean - std, mean + std, color=colour[v], alpha=0.2)
            if v != long_variant:
                ax.axhline(mean.iloc[-1], color=colour[v], linestyle=":", linewidth=1)
    axes[0].set(xlabel="epoch (log)", xscale="log", ylabel="C4-mean validation accuracy (%)",
                title="Validation accuracy per epoch (dotted: each C4 model's final level)")  # fmt: skip
    axes[1].set(xlabel="training seconds (log)", xscale="log", ylabel="C4-mean validation accuracy (%)",
                title="... per training second")  # fmt: skip
    for ax in axes:
        readable_log_axis(ax)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    return fig


def readable_log_axis(ax) -> None:  # noqa: ANN001 - a matplotlib Axes
    """Plain numbers at the major ticks of a log x axis (1, 10, 30k), no crowded minor labels."""
    ax.xaxis.set_major_formatter(lambda value, _pos: _count(value))
    ax.xaxis.set_minor_formatter(NullFormatter())


# --- plots along an axis -------------------------------------------------------------------------


def axis_figure(summary: pd.DataFrame, variants: list[str], x: str, xlabel: str) -> Figure:
    """C4-mean and random-angle accuracy against ``x`` (log scale), error bars over seeds."""
    colour = colours(variants)
    fig = _figure(12, 4.5)
    axes = fig.subplots(1, 2)
    for v in variants:
        rows = summary[summary.variant == v].sort_values(x)
        if rows.empty:
            continue
        for ax, column in ((axes[0], "c4_mean"), (axes[1], "random")):
            ax.errorbar(rows[x], rows[column], yerr=np.nan_to_num(rows[f"{column}_std"]), marker="o",
                        capsize=3, color=colour[v], label=v)  # fmt: skip
    for ax, what in ((axes[0], "mean over 0/90/180/270°"), (axes[1], "one random angle per image")):
        ax.set(xscale="log", xlabel=f"{xlabel} (log)", ylabel=f"test accuracy, {what} (%)")
        readable_log_axis(ax)
    axes[0].set_title(f"C4-mean accuracy against {xlabel}")
    axes[1].set_title(f"Random-angle accuracy against {xlabel}")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    return fig


def write_study_report(run_dir: Path) -> list[Path]:
    """``study.csv``, ``summary.md`` and ``plots/`` of a study directory, from its files alone."""
    r = RunResults(run_dir)
    info = study_info(r)
    axis = info.get("axis")
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
        f"Data: {m.get('data', '?')}; measured on {m.get('evaluated_on', 'test')}  ",
        f"Device: {env.get('device', '?')} ({env.get('device_name', '?')}), torch "
        f"{env.get('versions', {}).get('torch', '?')}; wall time {m.get('wall_s', '?')} s; commit "
        f"{env.get('git', {}).get('commit', '?')}",
        "",
        *[f"{note}  " for note in info.get("notes", [])],
        "",
    ]
    plots_dir = r.dir / "plots"
    written = []
    if axis:
        lines += [
            "## Findings",
            "",
            *axis_findings(summary, axis),
            "",
            "## Per value",
            "",
            *axis_tables(summary, axis),
        ]
        label = AXIS_LABELS.get(axis, axis)
        figures = {f"accuracy_vs_{axis}.png": axis_figure(summary, r.variants, axis, label)}
        if axis == "budget":
            figures["accuracy_vs_params.png"] = axis_figure(summary, r.variants, "params", "parameters")
            figures["accuracy_vs_flops.png"] = axis_figure(summary, r.variants, "flops", "FLOPs per image")
    else:
        findings, by_epochs, by_seconds = compute_verdict(r, info["long_variant"], info["long_factor"])
        lines += [
            "## Verdict",
            "",
            f"Claim (the seed tutorial): training with augmentation needs more than {info['long_factor']}× "
            f"the training to match an equivariant model. **Verdict in epochs: {by_epochs}; in training "
            f"seconds: {by_seconds}.** Measured as epochs and seconds until `" + info["long_variant"] + "`'s "
            "C4-mean validation accuracy (seed mean, first 2,000 validation images) first reaches each C4 "
            "model's final one (a model that was not reached gives a lower bound, which decides only above "
            f"{info['long_factor']}×; an augmented epoch costs less than an equivariant one):",
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
                        "C4 mean": [
                            pm(a, b) for a, b in zip(summary.c4_mean, summary.c4_mean_std, strict=True)
                        ],
                        "random angle": [
                            pm(a, b) for a, b in zip(summary.random, summary.random_std, strict=True)
                        ],
                        "train s": summary.train_s.map(lambda s: f"{s:.0f}"),
                    }
                )
            ),  # fmt: skip
            "",
        ]
        figures = {"compute.png": compute_figure(r, info["long_variant"])}
    for name, fig in figures.items():
        if fig is not None:
            written.append(_save(fig, plots_dir / name))
            lines += [f"![{name}](plots/{name})", ""]
    failed = [n for n, u in m.get("units", {}).items() if u.get("status") == "failed"]
    if failed:
        lines += ["## Failed units", "", *[f"- {n}: {m['units'][n].get('reason', '?')}" for n in failed], ""]
    write_text_atomic(r.dir / "summary.md", "\n".join(lines))
    return [*written, r.dir / "study.csv", r.dir / "summary.md"]
