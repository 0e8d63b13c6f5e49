"""The Python API: what the command line does, for notebooks and scripts.

import suite
results = suite.run(variants=["cnn", "gcnn-c4"], profile="smoke", out="runs/mine")
results.metrics                      # pandas DataFrame, one row per variant, seed, metric, angle
model = suite.load_model("runs/mine", "gcnn-c4")   # the trained weights, in eval mode
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

import torch

from suite import registry
from suite.data.images import ImageData
from suite.environment import resolve_device
from suite.errors import BadRunFile, SuiteError
from suite.plugins import load_run_plugins, load_variants, plugin_records
from suite.report.results import RunResults
from suite.report.tables import write_report
from suite.runs.config import RunConfig, load_run_data, make_config
from suite.runs.executors import RaySettings, check_reachable, choose_executor
from suite.runs.grid import AXES, UnitKey
from suite.runs.runner import Run, read_config
from suite.runs.store import RunStore
from suite.runs.weights import restore_state
from suite.task import Task
from suite.training.builder import build_model
from suite.training.layout import apply_layout


def list_variants(pattern: str = "*", plugins: Iterable[str | Path] = ()) -> list[registry.Variant]:
    """The registered variants whose names match ``pattern`` (fnmatch), with what each declares."""
    load_variants(plugins)
    return [registry.get_variant(name) for name in registry.family_order(registry.names(pattern))]


def build(
    name: str,
    budget: str | int | None = None,
    plugins: Iterable[str | Path] = (),
    task: Task | None = None,
) -> torch.nn.Module:
    """A fresh (untrained) model of variant ``name`` for ``task`` (None: 28×28 gray digits in ten
    classes; a data set's is ``suite.load_data(...).task``); ``budget``: None (the tutorial's ≈14k
    parameters, matched per task), a count, or a string such as ``"100k"``."""
    load_variants(plugins)
    return build_model(name, task, registry.parse_budget(budget))


def reachable_executor(
    executor: str, jobs: int, ray_address: str | None, gpus_per_unit: float
) -> RaySettings | None:
    """The executor settings, a cluster's address refused at once if nothing answers there
    (before any data is loaded or any file written)."""
    ray = choose_executor(executor, jobs, ray_address, gpus_per_unit)
    check_reachable(ray)
    return ray


def default_run_dir(profile: str) -> Path:
    return Path("results") / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{profile}"


def _config(kind: str, settings: dict, plugins: Iterable[str | Path]) -> tuple[RunConfig, Path, dict | None]:
    """Plugins loaded, then ``settings`` validated into the config of a ``kind`` run (``run``,
    ``tune`` or ``study``), with its default directory and what its report must know."""
    from suite.runs.studies import study_about, study_config, study_dir
    from suite.runs.tuning import tune_config

    plugin_variants = load_variants(plugins)
    settings = dict(settings)
    if kind == "study":
        name, scale = settings.pop("name"), settings.pop("scale", "cpu")
        config = study_config(name, scale, plugins=plugins, **settings)
        return config, study_dir(name, config.dataset), study_about(name, scale, config.dataset)
    build = tune_config if kind == "tune" else make_config
    config = build(plugins=plugins, plugin_variants=plugin_variants, **settings)
    default = default_tune_dir(config.dataset) if kind == "tune" else default_run_dir(config.profile)
    return config, default, None


def start(
    kind: str,
    settings: dict,
    command: list[str],
    out: str | Path | None = None,
    *,
    plugins: Iterable[str | Path] = (),
    force: bool = False,
    break_lock: bool = False,
) -> tuple[Run, ImageData]:
    """The one start sequence of every command line and API call that trains: plugins, then the
    settings validated (once) into a config, the device, the data, and a new run directory holding
    its lock (the caller executes and closes it). ``kind``: ``run``, ``tune`` or ``study``."""
    config, default, about = _config(kind, settings, plugins)
    resolve_device(config.device)  # bad input fails before any data is loaded or file written
    data = load_run_data(config)
    for variant in config.variants:  # and a variant the data's task cannot have, before any file
        registry.get_variant(variant).check_serves(data.task)
    out = Path(out) if out else default
    return Run.create(out, config, command, force=force, kind=kind, about=about, break_lock=break_lock), data


def _shown(call: str, given: dict) -> list[str]:
    """The command a manifest records for an API call."""
    return ["python", f"suite.{call}({', '.join(f'{k}={v!r}' for k, v in given.items() if v is not None)})"]


def run(
    variants: str | Sequence[str] | None = None,
    profile: str = "quick",
    out: str | Path | None = None,
    *,
    plugins: Iterable[str | Path] = (),
    force: bool = False,
    break_lock: bool = False,
    progress: bool = True,
    executor: str = "local",
    jobs: int = 1,
    ray_address: str | None = None,
    gpus_per_unit: float = 0,
    threads: int | None = None,
    **settings,
) -> RunResults:
    """Train and evaluate ``variants`` under ``profile``; write a run directory; return its results.

    ``settings`` override the profile and recipe: ``seeds``, ``epochs``, ``batch_size``, ``lr``,
    ``device``, ``budget``, ``angles``, ``layout``, ``bench``, ``data_dir``, ``download``.
    Units that fail are recorded in the manifest (``results.manifest["units"]``), not raised.
    ``executor="ray"`` runs units as Ray tasks on a local instance (``jobs`` workers) or the
    cluster at ``ray_address``; ``jobs`` > 1 alone is shorthand for a local Ray instance.
    The run directory is locked while the run writes it; ``break_lock`` takes over a lock that
    another host recorded (only when that run is over).
    """
    ray = reachable_executor(executor, jobs, ray_address, gpus_per_unit)
    given = {"variants": variants, "profile": profile, **settings}
    the_run, data = start("run", given, _shown("run", given), out, plugins=plugins, force=force,
                          break_lock=break_lock)  # fmt: skip
    with the_run:
        the_run.execute(progress=progress, data=data, ray=ray, threads=threads)
        write_report(the_run.out)
    return RunResults(the_run.out)


def resume(
    out: str | Path,
    progress: bool = True,
    executor: str = "local",
    jobs: int = 1,
    ray_address: str | None = None,
    gpus_per_unit: float = 0,
    *,
    plugins: Iterable[str | Path] = (),
    allow_changed_plugins: bool = False,
    break_lock: bool = False,
    threads: int | None = None,
) -> RunResults:
    """Finish an interrupted run directory with its own settings (anywhere: here or on Ray).

    No file the run directory names is executed: a run of plugin variants needs the plugin files
    passed again (``plugins``), with the SHA-256 the run recorded, unless ``allow_changed_plugins``.
    """
    ray = reachable_executor(executor, jobs, ray_address, gpus_per_unit)
    command = ["python", f"suite.resume({str(out)!r})"]
    with Run.open(Path(out), command, plugins, allow_changed_plugins, break_lock) as the_run:
        the_run.execute(progress=progress, ray=ray, threads=threads)
        write_report(the_run.out)
    return RunResults(the_run.out)


def load_run(path: str | Path) -> RunResults:
    """A run directory's results: ``.metrics``, ``.history``, ``.throughput``, ... as DataFrames,
    ``.manifest`` as a dict; nothing is trained or built."""
    return RunResults(Path(path))


def load_model(
    run_dir: str | Path,
    variant: str,
    seed: int = 0,
    device: str = "cpu",
    *,
    plugins: Iterable[str | Path] = (),
    allow_changed_plugins: bool = False,
    **point: float,
) -> torch.nn.Module:
    """The trained ``variant`` (seed ``seed``) of a run directory, in eval mode on ``device``;
    ``point`` names a grid unit of a sweep or study, e.g. ``lr=0.003`` or ``budget=30000``.

    Built as the run built it (its budget, its memory layout) and loaded from the run's safetensors
    weights, so its test accuracy is the one in the run's ``metrics.csv``. Nothing the run
    directory names is executed: a plugin variant needs its file passed (``plugins``), with the
    SHA-256 the run recorded unless ``allow_changed_plugins``.
    """
    store = RunStore(Path(run_dir))
    manifest = store.read_manifest()
    config = read_config(store, manifest)
    name = UnitKey(variant, seed, tuple((axis, point[axis]) for axis in AXES if axis in point)).name
    if name not in manifest["units"]:
        known = ", ".join(manifest["units"]) or "none"
        raise SuiteError(f"{run_dir}: no unit {name}; the run has {known}")
    status = manifest["units"][name].get("status") if isinstance(manifest["units"][name], dict) else None
    if status == "done" and not store.weights_path(name).is_file():
        raise SuiteError(
            f"{run_dir}: {name} finished, but its weights are not in the run directory (some "
            "committed runs leave them out for size); run it again to get them"
        )
    load_run_plugins(plugin_records(manifest), plugins, [variant], allow_changed_plugins)
    task = Task.from_dict(manifest["task"]) if "task" in manifest else None  # before it: the tutorial's
    model = build_model(variant, task, config.budget_for(UnitKey.parse(name)))
    model.train()  # weights are stored in train mode (escnn's eval mode adds cached filters)
    load_weights(model, store, name)
    layout = manifest.get("layout", {}).get(variant, "contiguous")
    return apply_layout(model.to(resolve_device(device)), layout).eval()


def load_weights(model: torch.nn.Module, store: RunStore, name: str) -> None:
    """A unit's weights into ``model``; a file whose tensors do not fit it is named in one line."""
    try:
        restore_state(model, store.read_weights(name))
    except RuntimeError as exc:  # missing, unexpected or misshapen tensors: not this model's file
        detail = " ".join(str(exc).split())[:300]
        todo = "pass the plugin file the run was made with, or train the unit again"
        raise BadRunFile(
            store.weights_path(name), f"does not fit the model as built ({detail})", todo
        ) from None


def tune(
    variants: str | Sequence[str] | None = "all",
    out: str | Path | None = None,
    *,
    save: bool = False,
    plugins: Iterable[str | Path] = (),
    force: bool = False,
    break_lock: bool = False,
    progress: bool = True,
    executor: str = "local",
    jobs: int = 1,
    ray_address: str | None = None,
    gpus_per_unit: float = 0,
    threads: int | None = None,
    **settings,
) -> dict[str, dict]:
    """Tune each variant on the validation split; returns the chosen values.

    By default an Optuna search of ``trials`` per variant over lr, weight decay and schedule, bad
    trials pruned each epoch (``trials.csv``, ``sweep.md``, ``optuna.journal``); with ``lrs``, a fixed
    grid over learning rates (``sweep.csv``, ``sweep.md``). ``settings``: ``dataset``, ``trials``,
    ``lrs``, ``train_size``, ``epochs``, ``seeds`` (grid only), ``profile``, ``device``, ``budget``,
    ``data_dir``. Writes ``tuned.toml`` to the run directory; ``save=True`` also makes it the
    default of ``suite.run(recipe="tuned")``.
    """
    ray = reachable_executor(executor, jobs, ray_address, gpus_per_unit)
    given = {"variants": variants, **settings}
    the_run, data = start("tune", given, _shown("tune", {**given, "save": save}), out, plugins=plugins,
                          force=force, break_lock=break_lock)  # fmt: skip
    with the_run:
        the_run.execute(progress=progress, data=data, ray=ray, threads=threads)
        return finish_tune(the_run.out, save)


def study(
    name: str,
    scale: str = "cpu",
    out: str | Path | None = None,
    *,
    variants: str | Sequence[str] | None = None,
    seeds: int | None = None,
    values: Sequence[float] | None = None,
    epochs: int | None = None,
    recipe: str = "tuned",
    plugins: Iterable[str | Path] = (),
    force: bool = False,
    break_lock: bool = False,
    progress: bool = True,
    executor: str = "local",
    jobs: int = 1,
    ray_address: str | None = None,
    gpus_per_unit: float = 0,
    threads: int | None = None,
    **settings,
) -> RunResults:
    """Run study ``name`` (``budgets``, ``data``, ``compute``) at ``scale`` (``cpu``, ``full``,
    ``smoke``) into ``out`` (default ``results/studies/NAME``); writes ``study.csv``,
    ``summary.md`` and plots, and returns the results. ``settings``: ``dataset``, ``device``,
    ``data_dir``. Resume an interrupted study with :func:`resume`."""
    ray = reachable_executor(executor, jobs, ray_address, gpus_per_unit)
    given = {"name": name, "scale": scale, "variants": variants, "seeds": seeds, "values": values,
             "epochs": epochs, "recipe": recipe, **settings}  # fmt: skip
    the_run, data = start("study", given, _shown("study", given), out, plugins=plugins, force=force,
                          break_lock=break_lock)  # fmt: skip
    with the_run:
        the_run.execute(progress=progress, data=data, ray=ray, threads=threads)
        write_report(the_run.out)
    return RunResults(the_run.out)


def default_tune_dir(dataset: str) -> Path:
    return Path("results") / f"tune-{dataset}"


def finish_tune(run_dir: str | Path, save: bool = False) -> dict[str, dict]:
    """A finished sweep's report and ``tuned.toml``; with ``save``, its values become the tuned
    recipe of its data set (``suite/training/tuned.toml``). Returns each variant's choice."""
    from suite.report.sweep import write_sweep_report
    from suite.runs.tuning import tuned_header
    from suite.training.recipes import TUNED_PATH, save_tuned

    run_dir = Path(run_dir)
    store = RunStore(run_dir)
    manifest = store.read_manifest()
    config = read_config(store, manifest)
    if config.search:
        from suite.report.trials import write_trials_report

        _, chosen = write_trials_report(run_dir, manifest)
        kept = ("lr", "weight_decay", "schedule", "validation_c4_mean", "validation_interval", "seeds",
                "choice", "runner_up", "tuning_scale")  # fmt: skip
        chosen = {v: {k: c[k] for k in kept if k in c} for v, c in chosen.items()}
    else:
        _, chosen = write_sweep_report(run_dir)
    here, where = Path.cwd().resolve(), run_dir.resolve()
    shown = where.relative_to(here) if where.is_relative_to(here) else run_dir  # as the README links it
    header = tuned_header(manifest["command"], shown, config)
    chosen = {v: {**c, "search": str(shown)} for v, c in chosen.items()}  # which search chose it
    save_tuned(run_dir / "tuned.toml", config.dataset, chosen, header, replace=True)
    if save:
        save_tuned(TUNED_PATH, config.dataset, chosen, header)
    return chosen
