"""The README's figures, generated from the committed results so that prose cannot drift.

Each block of the README between ``<!-- begin: NAME -->`` and ``<!-- end: NAME -->`` is written by
the builder of that name from the files under ``results/`` alone; ``suite readme`` rewrites them,
its check (and a test) fails when any differs from what the results say.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from suite.errors import SuiteError
from suite.report.before_after import before_after_table, changed_settings
from suite.report.claims import claims_table
from suite.report.comparisons import cell, leader_sentence, method_note
from suite.report.evidence import Evidence, group_measure, run_measures
from suite.report.formatting import markdown, wall_time
from suite.report.results import RunResults
from suite.report.study import (
    axis_findings,
    bound_text,
    catching_up,
    claim_text,
    compute_verdict,
    points,
    study_info,
    summarise,
)
from suite.report.tables import main_table, tutorial_table
from suite.report.trials import choices_table, choose_finalists, finalists_note, read_trials

BLOCK = re.compile(r"(<!-- begin: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.DOTALL)


def _commit(manifest_or_json: dict) -> str:
    return str(manifest_or_json.get("environment", {}).get("git", {}).get("commit", "?"))[:7]


def _device(manifest_or_json: dict) -> str:
    env = manifest_or_json.get("environment", {})
    torch = env.get("versions", {}).get("torch", "?")
    return f"{env.get('device', '?')} ({env.get('device_name', '?')}), torch {torch}"


def _commits(m: dict) -> str:
    """The commit a run was made at; for a resumed run, each commit it ran at, in order (resumes
    record the commit they replaced; older manifests name only the last)."""
    resumes = [entry for entry in m.get("resumed", []) if isinstance(entry, dict)]
    before = [str((entry.get("git_before") or {}).get("commit", ""))[:7] for entry in resumes]
    commits = list(dict.fromkeys(c for c in [*before, _commit(m)] if c))
    if len(commits) == 1:
        return f"commit `{commits[0]}`"
    named = ", ".join(f"`{c}`" for c in commits)
    if all(before):  # every resume recorded the commit it replaced: the first is where it started
        return f"commits {named} (started at the first, resumed at the others)"
    return f"commits {named} (in order; resumes before these recorded no commit)"


def _provenance(r: RunResults | dict) -> str:
    """Command, device, commits and wall time of a run (its results, or its manifest alone)."""
    m = r if isinstance(r, dict) else r.manifest
    return f"`{' '.join(m.get('command', []))}`: {_device(m)}, {_commits(m)}, wall time {wall_time(m)}."


# --- runs ---------------------------------------------------------------------------------------


def run_block(root: Path, name: str) -> str:
    """A run's main table with intervals and ranks, who leads at 95%, and its claims."""
    r = RunResults(root / "results" / name)
    evidence = Evidence(r)
    return "\n".join([
        f"[`results/{name}/`](results/{name}/summary.md), made by {_provenance(r)}",
        "",
        method_note(evidence, r.variants),
        "",
        markdown(main_table(r, evidence)),
        "",
        *[f"- {leader_sentence(evidence, r.variants, m)}." for m in run_measures(r)],
        "",
        markdown(claims_table(r, evidence=evidence)),
    ])  # fmt: skip


def pending_run_block(root: Path, name: str) -> str:
    """A run's block, or one line saying the run is not committed yet, or how far an interrupted
    one got (runs still being made: a partial run's table would rank what it has so far)."""
    return _unless_pending(root, name) or run_block(root, name)


def pending_study_block(root: Path, name: str) -> str:
    """A study's block, or one line saying the study is not committed yet, or how far an
    interrupted one got (its figures come when it is resumed to the end)."""
    return _unless_pending(root, f"studies/{name}") or study_block(root, name)


def _unless_pending(root: Path, path: str) -> str:
    """The line for a run directory not committed or not finished; "" for a finished one."""
    directory = root / "results" / path
    if not (directory / "manifest.json").is_file():
        return f"`results/{path}/`: not committed yet"
    manifest = json.loads((directory / "manifest.json").read_text())  # no unit may have finished yet
    progress = interrupted(manifest)
    if progress:
        link = f"`results/{path}/`"
        if (directory / "summary.md").is_file():
            link = f"[{link}](results/{path}/summary.md)"
        return f"{link}, {_provenance(manifest)} {progress}; its figures come when it is resumed to the end."
    return ""


def interrupted(manifest: dict) -> str:
    """ "Interrupted: N of M units done" for a run with units neither done nor failed, else ""."""
    units = manifest.get("units", {})
    left = [n for n, u in units.items() if u.get("status") not in ("done", "failed", "pruned")]
    return f"Interrupted: {len(units) - len(left)} of {len(units)} units done" if left else ""


def tutorial_block(root: Path, name: str) -> str:
    r = RunResults(root / "results" / name)
    return f"From [`results/{name}/`](results/{name}/summary.md) ({_provenance(r)})\n\n" + markdown(
        tutorial_table(r)
    )


def sweep_block(root: Path, name: str) -> str:
    """The learning-rate sweep: C4-mean validation accuracy per rate, the chosen one in bold."""
    sweep = pd.read_csv(root / "results" / name / "sweep.csv")
    table = sweep.pivot_table(index="variant", columns="lr", values="val_acc_c4_mean", sort=False)
    rows = []
    for variant, values in table.iterrows():
        best = values.idxmax()
        cells = {f"lr {lr:g}": (f"**{v:.2f}**" if lr == best else f"{v:.2f}") for lr, v in values.items()}
        rows.append({"variant": f"`{variant}`", **cells})
    r = RunResults(root / "results" / name)
    return f"[`results/{name}/`](results/{name}/sweep.md), {_provenance(r)}\n\n" + markdown(
        pd.DataFrame(rows)
    )


def tune_block(root: Path, name: str) -> str:
    """A tuning search (``suite tune``): each variant's choice with its validation interval, the
    runner-up and the trials pruned; a learning-rate grid (the first sweep) as its table of rates."""
    run_dir = root / "results" / name
    if not (run_dir / "manifest.json").is_file():
        return f"`results/{name}/`: not committed yet"
    if not (run_dir / "metrics.csv").is_file():  # started: no trial has finished yet
        manifest = json.loads((run_dir / "manifest.json").read_text())
        return f"`results/{name}/`, `{' '.join(manifest.get('command', []))}`: started, no trial finished yet"
    if not (run_dir / "trials.csv").is_file():
        return sweep_block(root, name)
    r = RunResults(run_dir)
    progress = interrupted(r.manifest)
    if progress:  # a finalist without all its seeds would read as a choice
        head = f"`results/{name}/`, {_provenance(r)} {progress} (a search adds units as it goes)"
        return f"{head}; its choices come when it is resumed to the end."
    trials = read_trials(run_dir)
    search = r.manifest.get("config", {}).get("search", {})
    lines = [f"[`results/{name}/`](results/{name}/sweep.md), {_provenance(r)}", ""]
    return "\n".join(
        [
            *lines,
            *finalists_note(search),
            *choices_table(trials, choose_finalists(run_dir, r.manifest, trials)),
        ]
    )


E3NN_GOAL_STEP = 2.0  # issue goal: e3nn's C4 model at no more than 2x escnn-c4's CPU training step


def e3nn_block(root: Path, run: str, bench: str, reference: str = "escnn-c4") -> str:
    """e3nn's models against ``reference``: each step time over the reference's from the
    interleaved step comparison in ``bench``, and accuracy with intervals and the
    non-inferiority claim from the run ``run``; each part says when its results are not committed."""
    bench_file, run_dir = root / "results" / bench / "bench.json", root / "results" / run
    measured = json.loads(bench_file.read_text()) if bench_file.is_file() else None
    steps = {(s["variant"], s["bench"]): s["step_ratio"] for s in (measured or {}).get("step_ratios", [])}
    r = RunResults(run_dir) if (run_dir / "manifest.json").is_file() else None
    r = r if r is not None and "e3nn-so2" in r.variants else None
    lines = [f"- accuracy: [`results/{run}/`](results/{run}/summary.md), {_provenance(r)}" if r
             else f"- accuracy: `results/{run}/` with `e3nn-so2`: not committed yet"]  # fmt: skip
    if measured is None:
        lines.append(f"- steps: `results/{bench}/`: not committed yet")
    else:
        lines.append(
            f"- steps: `results/{bench}/`, `{' '.join(measured.get('command') or [])}`: {_device(measured)}, "
            f"commit `{_commit(measured)}`; batch {measured['step_ratios'][0]['batch_size']}, each "
            "variant's steps alternating in one loop (a ratio of medians, one run: no interval)."
        )
    recipe = recipe_against_tuned(root, r, ["e3nn-so2", reference]) if r is not None else ""
    lines += [f"- recipe: {recipe}."] if recipe else []
    evidence = Evidence(r) if r else None
    lines += ["", markdown(e3nn_rows(r, evidence, steps, reference)), ""]
    if r is not None:
        claim = claims_table(r, evidence=evidence).set_index("claim")
        accurate = next(s for s in claim.index if s.startswith("e3nn's C4 model"))
        lines.append(
            f"- {accurate}: {claim.loc[accurate, 'measured evidence']}: **{claim.loc[accurate, 'verdict']}**."
        )
    if ("e3nn-so2", "train") in steps:
        step = steps["e3nn-so2", "train"]
        verdict = "holds" if step <= E3NN_GOAL_STEP else "fails"
        lines.append(f"- Its training step at most {E3NN_GOAL_STEP:g}× `{reference}`'s: {step:.2f}× "
                     f"measured: **{verdict}** (one run's ratio).")  # fmt: skip
    return "\n".join(lines)


def recipe_against_tuned(root: Path, r: RunResults, variants: list[str]) -> str:
    """Whether each variant's lr, weight decay and schedule in run ``r`` are those the committed
    ``tuned.toml`` holds now: a run made before a search chose again says which differ."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    config, path = r.manifest.get("config") or {}, root / "suite" / "training" / "tuned.toml"
    if not path.is_file() or not all(v in (config.get("lrs") or {}) for v in variants):
        return ""  # nothing to compare: a run of the tutorial recipe, a tree without the table
    table = tomllib.loads(path.read_text(encoding="utf-8")).get(config.get("dataset", "mnist"), {})
    shown = lambda values: ", ".join(f"{k.replace('_', ' ')} {v:g}" if isinstance(v, float) else f"{v}"  # noqa: E731
                                     for k, v in values.items())  # fmt: skip
    differ = []
    for v in variants:
        own = (config.get("tuned") or {}).get(v, {})
        settings = {k: own.get(k, config.get("recipe", {}).get(k)) for k in ("weight_decay", "schedule")}
        ran = {"lr": config["lrs"][v], **settings}
        now = {k: table.get(v, {}).get(k) for k in ran}
        if ran != now:
            differ.append(f"`{v}` (this run: {shown(ran)}; `tuned.toml` now: {shown(now)})")
    if differ:
        return "not the committed `tuned.toml`'s for " + "; ".join(differ)
    names = ", ".join(f"`{v}`" for v in variants)
    return f"the lr, weight decay and schedule of {names} are those `tuned.toml` holds now"


def e3nn_rows(r: RunResults | None, evidence: Evidence | None, steps: dict, reference: str) -> pd.DataFrame:
    """The e3nn block's table: accuracy from the run, step ratios from the bench; a variant timed
    but not in the accuracy run keeps its row, accuracy "–"."""
    ratio = lambda v, kind: "1" if v == reference else f"{steps[v, kind]:.2f}" if (v, kind) in steps else "–"  # noqa: E731
    ran = set(r.variants) if r else set()
    shown = [v for v in ("e3nn-so2", "e3nn-o2", reference) if r is None or v in ran or (v, "train") in steps]
    return pd.DataFrame([{
        "variant": f"`{v}`", **({"claims": r.info(v, "claims") if v in ran else "–"} if r else {}),
        "C4 mean": cell(evidence, v, "c4_mean") if v in ran else "–",
        "random angle": cell(evidence, v, "random") if v in ran else "–",
        "C4 mean per seed": per_seed(r, v, "acc_c4_mean") if v in ran else "–",
        f"training step / `{reference}`'s": ratio(v, "train"),
        f"inference step / `{reference}`'s": ratio(v, "infer"),
    } for v in shown])  # fmt: skip


def per_seed(r: RunResults, variant: str, metric: str) -> str:
    """A variant's value of ``metric`` at each seed, in seed order: a wide interval's cause in sight."""
    rows = r.metrics[(r.metrics.variant == variant) & (r.metrics.metric == metric)].sort_values("seed")
    return " / ".join(f"{value:.2f}" for value in rows.value) or "–"


def before_after_block(root: Path, before: str, after: str) -> str:
    """Two runs of the same units that differ in recorded settings (precise BN; the recipe):
    both provenances, what changed, and each variant's paired change
    (``suite.report.before_after``); the progress line of either run while it is being made."""
    pending = _unless_pending(root, before) or _unless_pending(root, after)
    if pending:
        return pending
    old, new = RunResults(root / "results" / before), RunResults(root / "results" / after)
    changed = "; ".join(f"`{k}` {'not recorded' if a is None else a} → {b}" for k, (a, b) in
                        changed_settings(old, new).items())  # fmt: skip
    measure = run_measures(new)[0]
    variants = [v for v in old.variants if v in new.variants]
    return "\n".join([
        f"- before: [`results/{before}/`](results/{before}/summary.md), {_provenance(old)}",
        f"- after: [`results/{after}/`](results/{after}/summary.md), {_provenance(new)}",
        f"- recipe settings that differ: {changed or 'none'}.",
        "", markdown(before_after_table(old, new, variants, measure)),
    ])  # fmt: skip


# --- studies ------------------------------------------------------------------------------------


def study_block(root: Path, name: str) -> str:
    """A study's table per axis value with intervals, and its findings (or its verdict)."""
    r = RunResults(root / "results" / "studies" / name)
    info = study_info(r)
    axis = info.get("axis")
    evidence = Evidence(r, axis)
    summary = summarise(points(r, axis), axis)
    head = [f"[`results/studies/{name}/`](results/studies/{name}/summary.md), {_provenance(r)}", ""]
    if not axis:
        lines, verdicts = compute_verdict(r, evidence, info)
        verdict = "; ".join(f"in {unit}: **{v}**" for unit, v in verdicts.items())
        return "\n".join([*head, method_note(evidence, r.variants), "",
                          f"Verdict on \"{claim_text(info)} the training\": {verdict}.", "",
                          *lines])  # fmt: skip
    values = sorted(summary[axis].unique())
    rows = []
    gm = group_measure(r)
    for v in r.variants:
        both = (gm.measure, "random")
        cells = {
            _axis_label(axis, x): " / ".join(cell(evidence, v, m, float(x)) for m in both) for x in values
        }
        rows.append({"variant": f"`{v}`", **cells})
    return "\n".join([*head, method_note(evidence, r.variants, float(values[0])), "",
                      f"{gm.label} / random angle, %:", "", markdown(pd.DataFrame(rows)), "",
                      *axis_findings(r, evidence, summary, axis)])  # fmt: skip


def growth_block(root: Path, names: list[str]) -> str:
    """How the augmented model's catching-up factor grows with the group: one row per exact model
    of each committed compute study (C4's 4 rotations on digits, O's 24 on volumes)."""
    rows, sources = [], []
    for name in names:
        directory = root / "results" / "studies" / name
        if not (directory / "manifest.json").is_file():
            sources.append(f"`results/studies/{name}/`: not committed yet")
            continue
        r = RunResults(directory)
        info, gm = study_info(r), group_measure(r)
        sources.append(f"[`results/studies/{name}/`](results/studies/{name}/summary.md), {_provenance(r)}")
        progress = interrupted(r.manifest)
        if progress:  # a partial study: its O models' targets without the augmented runs decide nothing
            sources[-1] += f" {progress}; no row until it is resumed."
            continue
        for c in catching_up(r, Evidence(r, None), info):
            rows.append({
                "group (rotations)": f"{gm.group} ({gm.elements})",
                "data": r.manifest["config"].get("dataset", "mnist"), "claim": claim_text(info),
                "augmented model": f"`{c.long_variant}`", "exact model": f"`{c.model}`",
                "its accuracy %": c.found.target.text(),
                "epochs": c.found.ratio_text(), "seconds": bound_text(c.found, *c.bounds["seconds"]),
                "FLOPs": bound_text(c.found, *c.bounds["FLOPs"]),
                "verdict (epochs / seconds / FLOPs)": " / ".join(c.verdicts.values()),
            })  # fmt: skip
    table = markdown(pd.DataFrame(rows)) if rows else "No compute study committed yet."
    return "\n".join([*[f"- {s}" for s in sources], "", table])


def _axis_label(axis: str, value: float) -> str:
    unit = {"budget": "parameters", "train_size": "images"}.get(axis, axis)
    return f"{int(value):,} {unit}"


# --- costs --------------------------------------------------------------------------------------


PIPELINE_RATIOS = {
    "aug_cost_ratio": "cnn-aug epoch, on-device C4 augmentation / none",
    "speedup_vs_torchvision": "torchvision DataLoader epoch / on-device epoch",
    "speedup_ceiling": "ceiling of that ratio (on-device batches free)",
}


def bench_block(root: Path, names: dict[str, str]) -> str:
    """Twin ratios and expansion shares of each committed benchmark, at its largest batch."""
    rows: dict[tuple, dict] = {}
    notes = []
    for label, name in names.items():
        bench = json.loads((root / "results" / name / "bench.json").read_text())
        notes.append(f"- {label}: [`results/{name}/`](results/{name}/bench.json), {_device(bench)}, "
                     f"commit `{_commit(bench)}`")  # fmt: skip
        for ratio in bench.get("ratios", []):
            key = (ratio["variant"], ratio["ratio"], ratio["batch_size"])
            rows.setdefault(key, {"variant": f"`{key[0]}`", "ratio": key[1], "batch": str(key[2])})
            rows[key][label] = f"{ratio['value']:.3f}"
        for field, text in PIPELINE_RATIOS.items():
            value = (bench.get("pipeline") or {}).get(field)
            if value is not None:
                rows.setdefault((text,), {"variant": "–", "ratio": text, "batch": "–"})[label] = (
                    f"{value:.2f}"
                )
    table = pd.DataFrame(list(rows.values())).fillna("–")
    return "\n".join([*notes, "", markdown(table)])


def limits_block(root: Path, names: dict[str, str]) -> str:
    """Each form's time per image over its physical limit (``suite bench``'s limits table)."""
    rows: dict[tuple, dict] = {}
    for label, name in names.items():
        bench = json.loads((root / "results" / name / "bench.json").read_text())
        for limit in bench.get("limits") or []:
            key = (limit["variant"], limit["limit"], limit["bench"], limit["batch_size"])
            rows.setdefault(key, {"variant": f"`{key[0]}`", "limit": key[1], "bench": key[2],
                                  "batch": str(key[3])})  # fmt: skip
            rows[key][label] = f"{limit['ratio_to_limit']:.2f}"
    if not rows:
        return "No committed benchmark has a limits table yet."
    return markdown(pd.DataFrame(list(rows.values())).fillna("–"))


def speedup_block(root: Path, names: list[str]) -> str:
    rows = []
    for name in names:
        s = json.loads((root / "results" / name / "speedup.json").read_text())
        timings = s.get("timings", [])
        serial = ", ".join(f"{t['wall_s']:.1f}" for t in timings if t["executor"] == "serial")
        ray = ", ".join(f"{t['wall_s']:.1f}" for t in timings if t["executor"] != "serial")
        rows.append({
            "run": f"[`{name}`](results/{name}/speedup.json)", "device": _device(s),
            "commit": f"`{_commit(s)}`", "Ray": s.get("ray", "?"),
            "serial threads": s.get("serial_threads", "?"), "units": s.get("units", "?"),
            "serial s": serial, "Ray s": ray, "serial / Ray": f"{s['ratio']:.2f}×",
            "same accuracy rows": "yes" if s.get("same_accuracy_rows") else "no",
        })  # fmt: skip
    return markdown(pd.DataFrame(rows))


TUTORIAL_RUN = "quick-tutorial-3seeds-cpu"
BUILDERS: dict[str, Callable[[Path], str]] = {
    "reference": lambda root: run_block(root, "reference"),
    "quick-core": lambda root: run_block(root, "quick-core-cpu"),
    "tutorial": lambda root: _unless_pending(root, TUTORIAL_RUN) or tutorial_block(root, TUTORIAL_RUN),
    "quick-all": lambda root: before_after_block(root, TUTORIAL_RUN, "quick-all-3seeds-cpu"),
    "quick-all-3seeds": lambda root: pending_run_block(root, "quick-all-3seeds-cpu"),
    "sweep": lambda root: sweep_block(root, "tune-cpu"),
    "tune": lambda root: tune_block(root, "tune-optuna-cpu"),
    "tune-e3nn": lambda root: tune_block(root, "tune-optuna-e3nn-cpu"),
    "e3nn": lambda root: e3nn_block(root, "quick-e3nn-precise-bn-cpu", "bench-e3nn-cpu"),
    "fashion": lambda root: run_block(root, "quick-fashion-cpu"),
    "precise-bn": lambda root: before_after_block(root, "quick-e3nn-cpu", "quick-e3nn-precise-bn-cpu"),
    "bench": lambda root: bench_block(root, {"CPU": "bench-cpu", "H100": "bench-h100"}),
    "limits": lambda root: limits_block(root, {"CPU": "bench-cpu", "H100": "bench-h100"}),
    "study-compute": lambda root: study_block(root, "compute-optuna"),
    "study-compute-polycubes": lambda root: pending_study_block(root, "compute-polycubes"),
    "study-compute-digits3d": lambda root: pending_study_block(root, "compute-digits3d"),
    "study-data": lambda root: study_block(root, "data"),
    "study-data-polycubes": lambda root: pending_study_block(root, "data-polycubes"),
    "study-budgets": lambda root: study_block(root, "budgets-optuna"),
    "growth": lambda root: growth_block(root, ["compute-optuna", "compute-polycubes", "compute-digits3d"]),
    "quick-polycubes": lambda root: pending_run_block(root, "quick-polycubes-cpu"),
    "quick-digits3d": lambda root: pending_run_block(root, "quick-digits3d-cpu"),
    "speedup": lambda root: speedup_block(root, ["speedup-cpu", "speedup-cpu-1thread", "speedup-h100"]),
}  # fmt: skip


def render(text: str, root: Path) -> str:
    """``text`` with every generated block rebuilt from ``root``'s results."""

    def rebuild(found: re.Match) -> str:
        name = found["name"]
        if name not in BUILDERS:
            raise SuiteError(f"README block {name!r}: no builder; known: {', '.join(BUILDERS)}")
        return f"{found.group(1)}{BUILDERS[name](root).rstrip()}\n{found.group(4)}"

    return BLOCK.sub(rebuild, text)


def blocks(text: str) -> list[str]:
    return [found["name"] for found in BLOCK.finditer(text)]
