"""A learning-rate sweep's report (``suite tune``): the validation table and each variant's choice.

Everything here is read from the sweep's CSVs, which hold validation numbers only: a sweep runs on
the validation split, so no test image was read to make them.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from suite.atomic import write_csv_atomic, write_text_atomic
from suite.report.formatting import wall_time
from suite.report.results import RunResults

SWEEP_FIELDS = ("variant", "lr", "seeds", "val_acc_c4_mean", "val_acc_0", "val_acc_random", "train_s")


def sweep_table(r: RunResults) -> pd.DataFrame:
    """One row per (variant, lr): validation accuracies (mean over seeds) and training seconds."""
    if "lr" not in r.metrics.columns:
        raise ValueError(f"{r.dir}: not a learning-rate sweep (metrics.csv has no lr column)")
    wanted = {"acc_c4_mean": "val_acc_c4_mean", "acc_random": "val_acc_random", "train_s": "train_s"}
    m = r.metrics
    rows = m[m.metric.isin(wanted) | ((m.metric == "acc") & (m.angle.astype(str).isin(["0", "0.0"])))].copy()
    rows["column"] = rows.metric.map(wanted).fillna("val_acc_0")
    table = rows.pivot_table(index=["variant", "lr"], columns="column", values="value", aggfunc="mean")
    table["seeds"] = m[m.metric == "acc_c4_mean"].groupby(["variant", "lr"]).seed.nunique()
    order = {v: i for i, v in enumerate(r.variants)}
    table = table.reset_index().sort_values(
        ["variant", "lr"], key=lambda c: c.map(order) if c.name == "variant" else c
    )
    return table[[c for c in SWEEP_FIELDS if c in table.columns]].reset_index(drop=True)


def choose(table: pd.DataFrame) -> dict[str, dict]:
    """Each variant's learning rate: the highest validation accuracy averaged over quarter turns
    (a tie goes to the smaller rate)."""
    chosen = {}
    for variant, rows in table.groupby("variant", sort=False):
        best = rows.sort_values(["val_acc_c4_mean", "lr"], ascending=[False, True]).iloc[0]
        chosen[variant] = {"lr": float(best.lr), "validation_c4_mean": round(float(best.val_acc_c4_mean), 2)}
    return chosen


def sweep_markdown(r: RunResults, table: pd.DataFrame, chosen: dict[str, dict]) -> str:
    """``sweep.md``: validation C4-mean accuracy per variant and learning rate, the choice in bold."""
    config = r.manifest.get("config", {})
    env = r.manifest.get("environment", {})
    recipe = config.get("recipe", {})
    trained = min(config.get("train_size") or math.inf, r.manifest.get("train_digits", math.inf))
    evaluated = r.manifest.get("test_digits", 10_000)
    lrs = sorted(table.lr.unique())
    lines = [
        "# Learning-rate sweep (validation split)",
        "",
        f"Command: `{' '.join(r.manifest.get('command', []))}`  ",
        f"Data: {r.manifest.get('data', '?')}  ",
        f"Training: {trained:,} training images, "
        f"{recipe.get('epochs', '?')} epochs, AdamW (weight decay {recipe.get('weight_decay', '?')}), "
        f"batch {recipe.get('batch_size', '?')}; "
        f"seeds {config.get('seeds', '?')}  ",
        f"Device: {env.get('device_name', '?')}; wall time {wall_time(r.manifest)}; "
        f"commit {env.get('git', {}).get('commit', '?')}",
        "",
        f"Validation accuracy averaged over 0/90/180/270° (%), on the {evaluated:,} validation images "
        "(the last training images; the test set was not read); **bold**: the chosen rate, which "
        "the tuned recipe (`suite run`'s default) uses.",
        "",
        "| variant | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " | chosen lr |",
        "|---|" + "---|" * (len(lrs) + 1),
    ]
    for variant, rows in table.groupby("variant", sort=False):
        by_lr = dict(zip(rows.lr, rows.val_acc_c4_mean, strict=True))
        cells = []
        for lr in lrs:
            if lr not in by_lr:
                cells.append("–")
                continue
            text = f"{by_lr[lr]:.2f}"
            cells.append(f"**{text}**" if lr == chosen[variant]["lr"] else text)
        lines.append(f"| {variant} | " + " | ".join(cells) + f" | {chosen[variant]['lr']:g} |")
    failed = [n for n, u in r.manifest.get("units", {}).items() if u.get("status") == "failed"]
    if failed:
        lines += ["", f"Failed units (not in the table): {', '.join(failed)}."]
    return "\n".join(lines) + "\n"


def write_sweep_report(run_dir: Path) -> tuple[list[Path], dict[str, dict]]:
    """Write ``sweep.csv`` and ``sweep.md``; returns the files and each variant's chosen values."""
    r = RunResults(run_dir)
    table = sweep_table(r)
    chosen = choose(table)
    write_csv_atomic(r.dir / "sweep.csv", table.round(4).to_dict("records"), tuple(table.columns))
    write_text_atomic(r.dir / "sweep.md", sweep_markdown(r, table, chosen))
    return [r.dir / "sweep.csv", r.dir / "sweep.md"], chosen
