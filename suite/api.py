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
from suite.environment import resolve_device
from suite.errors import SuiteError
from suite.plugins import load_variants
from suite.report.results import RunResults
from suite.report.tables import write_report
from suite.runs.config import RunConfig, load_run_data, make_config
from suite.runs.runner import Run
from suite.runs.store import RunStore, unit_name
from suite.training.layout import apply_layout


def list_variants(pattern: str = "*", plugins: Iterable[str | Path] = ()) -> list[registry.Variant]:
    """The registered variants whose names match ``pattern`` (fnmatch), with what each declares."""
    load_variants(plugins)
    return [registry.get_variant(name) for name in registry.family_order(registry.names(pattern))]


def build(name: str, budget: str | int | None = None, plugins: Iterable[str | Path] = ()) -> torch.nn.Module:
    """A fresh (untrained) model of variant ``name``; ``budget``: None (the tutorial's ≈14k
    parameters), a count, or a string such as ``"100k"``."""
    load_variants(plugins)
    return registry.get(name, budget=registry.parse_budget(budget))


def default_run_dir(profile: str) -> Path:
    return Path("results") / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{profile}"


def run(
    variants: str | Sequence[str] | None = None,
    profile: str = "quick",
    out: str | Path | None = None,
    *,
    plugins: Iterable[str | Path] = (),
    force: bool = False,
    jobs: int = 1,
    progress: bool = True,
    **settings,
) -> RunResults:
    """Train and evaluate ``variants`` under ``profile``; write a run directory; return its results.

    ``settings`` override the profile and recipe: ``seeds``, ``epochs``, ``batch_size``, ``lr``,
    ``device``, ``budget``, ``angles``, ``layout``, ``bench``, ``data_dir``, ``download``.
    Units that fail are recorded in the manifest (``results.manifest["units"]``), not raised.
    """
    plugin_variants = load_variants(plugins)
    config = make_config(variants, profile, plugins=plugins, plugin_variants=plugin_variants, **settings)
    resolve_device(config.device)
    data = load_run_data(config)
    shown = ", ".join(f"{k}={v!r}" for k, v in {"variants": variants, "profile": profile, **settings}.items())
    command = ["python", f"suite.run({shown})"]
    the_run = Run.create(Path(out) if out else default_run_dir(config.profile), config, command, force=force)
    the_run.execute(progress=progress, data=data, jobs=jobs)
    write_report(the_run.out)
    return RunResults(the_run.out)


def resume(out: str | Path, jobs: int = 1, progress: bool = True) -> RunResults:
    """Finish an interrupted run directory with its own settings; returns its results."""
    the_run = Run.open(Path(out), ["python", f"suite.resume({str(out)!r})"])
    load_variants(the_run.config.plugins)
    the_run.execute(progress=progress, jobs=jobs)
    write_report(the_run.out)
    return RunResults(the_run.out)


def load_run(path: str | Path) -> RunResults:
    """A run directory's results: ``.metrics``, ``.history``, ``.throughput``, ... as DataFrames,
    ``.manifest`` as a dict; nothing is trained or built."""
    return RunResults(Path(path))


def load_model(run_dir: str | Path, variant: str, seed: int = 0, device: str = "cpu") -> torch.nn.Module:
    """The trained ``variant`` (seed ``seed``) of a run directory, in eval mode on ``device``.

    Built as the run built it (its budget, its plugins, its memory layout) and loaded from the
    run's safetensors weights, so its test accuracy is the one in the run's ``metrics.csv``.
    """
    store = RunStore(Path(run_dir))
    manifest = store.read_manifest()
    config = RunConfig.from_dict(manifest["config"])
    name = unit_name(variant, seed)
    if name not in manifest.get("units", {}):
        known = ", ".join(manifest.get("units", {})) or "none"
        raise SuiteError(f"{run_dir}: no unit {name}; the run has {known}")
    load_variants(config.plugins)
    target = resolve_device(device)
    model = registry.get(variant, budget=config.budget)
    model.train()  # weights are stored in train mode (escnn's eval mode adds cached filters)
    model.load_state_dict(store.read_weights(name))
    layout = manifest.get("layout", {}).get(variant, "contiguous")
    return apply_layout(model.to(target), layout).eval()
