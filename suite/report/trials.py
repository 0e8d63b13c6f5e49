"""A tuning search's report (``suite tune``): every trial, how far it trained, and each choice.

Read from ``trials.csv`` (written by the search from its Optuna journal) and the manifest: validation
numbers only, the test set was not read to make them.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from suite.atomic import write_text_atomic
from suite.report.evidence import group_measure
from suite.report.finalists import TIE_RULES, choice_values, variant_choice
from suite.report.formatting import wall_time
from suite.report.results import RunResults


def read_trials(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "trials.csv", keep_default_na=False, na_values=[""])


def preference(row: pd.Series) -> tuple:
    """Between equal validation means: the finalists' tie rules (constant schedule, the tutorial's
    weight decay, the smaller lr), read from the trial's row."""
    return tuple(key(row) for _name, key in TIE_RULES)


def ranked(trials: pd.DataFrame) -> pd.DataFrame:
    """A variant's finished trials, best first (equal means ordered by :func:`preference`)."""
    done = trials[trials.state == "complete"].copy()
    done["order"] = [
        (-v, *preference(r)) for v, (_, r) in zip(done.val_c4_mean, done.iterrows(), strict=True)
    ]
    return done.sort_values("order").drop(columns="order")


def choose(trials: pd.DataFrame) -> dict[str, dict]:
    """Each variant's best finished trial, with the runner-up; a variant with none is left out."""
    chosen = {}
    for variant, rows in trials.groupby("variant", sort=False):
        best = ranked(rows)
        if best.empty:
            continue
        top = best.iloc[0]
        chosen[variant] = {
            "lr": float(top.lr), "weight_decay": float(top.weight_decay), "schedule": str(top.schedule),
            "validation_c4_mean": round(float(top.val_c4_mean), 2), "trial": int(top.trial),
        }  # fmt: skip
        if len(best) > 1:
            second = best.iloc[1]
            chosen[variant]["runner_up"] = (
                f"lr {second.lr:.3g}, weight decay {second.weight_decay:g}, {second.schedule}: "
                f"{second.val_c4_mean:.2f}"
            )
    return chosen


def outcome(row: pd.Series) -> str:
    if row.state == "pruned":
        return f"pruned after {int(row.epochs)} epoch{'s' if row.epochs != 1 else ''}"
    if row.state == "fail":
        return f"failed ({row.reason})" if isinstance(row.reason, str) and row.reason else "failed"
    return "finished" if row.state == "complete" else str(row.state)


def trials_markdown(manifest: dict, trials: pd.DataFrame, chosen: dict[str, dict]) -> str:
    """``sweep.md``: each variant's choice, then every trial with how far it trained."""
    config = manifest.get("config", {})
    search, tuner, recipe = config.get("search", {}), manifest.get("tuner", {}), config.get("recipe", {})
    trained = min(config.get("train_size") or math.inf, manifest.get("train_digits", math.inf))
    lines = [
        "# Tuning search (validation split)", "",
        f"Command: `{' '.join(manifest.get('command', []))}`  ",
        f"Tuner: {tuner.get('library', '?')} {tuner.get('version', '?')}, {tuner.get('sampler', '?')}, "
        f"{tuner.get('pruner', '?')}; studies in {tuner.get('storage', '?')}  ",
        f"Space: lr {search.get('lr')} (log), weight decay {search.get('weight_decay')}, schedule "
        f"{search.get('schedule')}; {search.get('trials')} trials per variant at seed 0  ",
        f"Training: {trained:,} training images, {recipe.get('epochs', '?')} epochs, AdamW, "
        f"batch {recipe.get('batch_size', '?')}; wall time {wall_time(manifest)}",
        "", "Validation accuracy averaged over 0/90/180/270° (%), on the validation images (the test "
        "set was not read). A pruned trial stopped early: its value is its last measured epoch's.", "",
        *finalists_note(search),
        *choices_table(trials, chosen),
    ]  # fmt: skip
    for variant, rows in trials.groupby("variant", sort=False):
        head = "| trial | lr | weight decay | schedule | epochs | validation C4 mean | outcome |"
        lines += ["", f"## {variant}", "", head, "|---|---|---|---|---|---|---|"]
        best = chosen.get(variant, {}).get("trial")
        for _, r in rows.sort_values("trial").iterrows():
            value = "–" if pd.isna(r.val_c4_mean) else f"{r.val_c4_mean:.2f}"
            value = f"**{value}**" if r.trial == best else value
            point = f"{r.lr:.3g} | {r.weight_decay:g} | {r.schedule}"
            lines.append(f"| {int(r.trial)} | {point} | {int(r.epochs)} | {value} | {outcome(r)} |")
    return "\n".join(lines) + "\n"


def choices_table(trials: pd.DataFrame, chosen: dict[str, dict]) -> list[str]:
    """Each variant's choice with its interval, how it was made, the runner-up, and how many of
    its trials finished, were pruned early or failed (the sweep report's and the README's table)."""
    lines = [
        "| variant | lr | weight decay | schedule | validation C4 mean | choice | runner-up "
        "| finished / pruned / failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for variant, rows in trials.groupby("variant", sort=False):
        counts = " / ".join(str(int((rows.state == s).sum())) for s in ("complete", "pruned", "fail"))
        running = int((rows.state == "running").sum())
        counts += f" ({running} running: the search was interrupted)" if running else ""
        c = chosen.get(variant)
        values = " | ".join(chosen_cells(c)) if c else "– | – | – | – | – | –"
        lines.append(f"| `{variant}` | {values} | {counts} |")
    return [*lines, *ties_note(chosen)]


def ties_note(chosen: dict[str, dict]) -> list[str]:
    """How many choices were ties within the noise, and how many of those the tie rule gave to a
    finalist whose mean is below the runner-up's (so the reader does not take it for the best)."""
    ties = [c for c in chosen.values() if str(c.get("choice", "")).startswith("tie")]
    if not ties:
        return []
    below = sum(isinstance(c.get("runner_up"), dict)
                and c["runner_up"]["validation_c4_mean"] > c["validation_c4_mean"] for c in ties)  # fmt: skip
    return ["", f"{len(ties)} of the {len(chosen)} choices are ties: their finalists are not "
            f"distinguishable at 95%, and the tie rule chose; in {below} of them the runner-up's "
            "mean is the higher one."]  # fmt: skip


def choose_finalists(run_dir: Path, manifest: dict, trials: pd.DataFrame) -> dict[str, dict]:
    """Each variant's winner among its finalists (re-run at several seeds, chosen by intervals);
    a variant without measured finalists (a search without them) keeps its best trial."""
    chosen = choose(trials)
    named = manifest.get("finalists") or {}
    if manifest.get("config", {}).get("search", {}).get("finalists"):
        # a search with finalists chooses once they ran: a variant still searched has no choice yet
        chosen = {v: c for v, c in chosen.items() if v in named}
    if not named:
        return chosen
    r = RunResults(run_dir)
    seeds = list(range(manifest.get("config", {}).get("search", {}).get("finalist_seeds", 1)))
    for variant, units in named.items():
        found = variant_choice(r.correct, trials, units, group_measure(r).measure, seeds)
        if found is not None:
            chosen[variant] = choice_values(*found)
    return chosen


def tuning_scale(manifest: dict) -> dict:
    """The scale the choices were made at: training images and epochs (a run at another scale says so)."""
    config = manifest.get("config", {})
    images = min(config.get("train_size") or math.inf, manifest.get("train_digits", math.inf))
    return {"train_images": int(images) if images != math.inf else None,
            "epochs": config.get("recipe", {}).get("epochs")}  # fmt: skip


def value_text(values: dict) -> str:
    """A validation mean, with its interval and seeds where finalists measured one."""
    low_high = values.get("validation_interval")
    if not low_high:
        return f"{values['validation_c4_mean']:.2f}"
    interval = f"[{low_high[0]:.2f}, {low_high[1]:.2f}]"
    return f"{values['validation_c4_mean']:.2f} {interval} ({values['seeds']} seeds)"


def chosen_cells(c: dict) -> list[str]:
    """A variant's row of the choices table: the values, how the choice was made, the runner-up."""
    second = c.get("runner_up", "–")
    if isinstance(second, dict):
        second = f"lr {second['lr']:.3g}, weight decay {second['weight_decay']:g}, {second['schedule']}: " + (
            value_text(second)
        )
    return [f"{c['lr']:.3g}", f"{c['weight_decay']:g}", c["schedule"], value_text(c),
            c.get("choice", "best trial (seed 0)"), second]  # fmt: skip


def finalists_note(search: dict) -> list[str]:
    if not search.get("finalists"):
        return []
    return [
        f"The best {search['finalists']} finished trials of each variant re-ran at seeds 0-"
        f"{search.get('finalist_seeds', 1) - 1} (seed 0: the trial itself); the winner has the highest "
        "mean unless a paired per-image difference to it is not decided at 95% (Holm): such a tie goes "
        "to the constant schedule, then weight decay 0.01, then the smaller lr, and the choice column "
        "names the rule.", "",
    ]  # fmt: skip


def write_trials_report(run_dir: Path, manifest: dict) -> tuple[list[Path], dict[str, dict]]:
    """Write ``sweep.md`` from ``trials.csv``; returns the files and each variant's choice."""
    trials = read_trials(run_dir)
    chosen = choose_finalists(run_dir, manifest, trials)
    scale = {k: v for k, v in tuning_scale(manifest).items() if v is not None}
    for values in chosen.values():
        values["tuning_scale"] = scale
    write_text_atomic(run_dir / "sweep.md", trials_markdown(manifest, trials, chosen))
    return [run_dir / "trials.csv", run_dir / "sweep.md"], chosen
