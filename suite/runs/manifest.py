"""What a run's ``manifest.json`` records: how the run began, each resumption, and the environment,
data and variants its numbers were measured on. ``suite.runs.ledger`` keeps it up to date as units
finish; this module says what goes into it."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import torch

from suite import registry
from suite.data.datasets import get_dataset
from suite.data.images import ImageData
from suite.environment import describe
from suite.errors import BadRunFile, failure_reason
from suite.plugins import plugin_record
from suite.runs.config import RunConfig
from suite.runs.store import FORMAT_VERSION, RunStore
from suite.training.layout import variant_layout


def now() -> str:
    """A moment as the manifest records it: UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_manifest(config: RunConfig, command: list[str], kind: str, about: dict | None) -> dict:
    """A new run's manifest: what made it, its settings, its plugins' SHA-256, its units."""
    return {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        **({kind: about} if about else {}),
        "command": command,
        "config": config.to_dict(),
        "plugins": [plugin_record(path) for path in config.plugins],
        "started": now(),
        "finished": None,
        "wall_s": None,
        "units": {key.name: {"status": "pending"} for key in config.units()},
    }


def read_config(store: RunStore, manifest: dict) -> RunConfig:
    """The settings a run directory's manifest records, or a one-line fault naming the file."""
    try:
        return RunConfig.from_dict(manifest["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRunFile(store.manifest_path, f"has an unreadable config ({failure_reason(exc)})",
                         "restore it from a copy of the run directory") from None  # fmt: skip


def resumed_status(unit: dict, has_result: bool) -> str:
    """A unit is done exactly when its result file is there (a lost or deleted file is trained
    again), unless it failed after that (its weights could not be written: it keeps failing); a
    tuning trial's unit that was pruned stays pruned."""
    if not has_result:
        return "pruned" if unit.get("status") == "pruned" else "pending"  # a stopped tuning trial stays so
    return "failed" if unit.get("status") == "failed" else "done"


def note_resumption(store: RunStore, manifest: dict, command: list[str], plugins: list[Path]) -> None:
    """Record who resumed the run and with which plugin files, and set each unit's status from
    the files there; a bad result file is named now, before any training."""
    # the code that ran before this resume (the environment is described again, for this code)
    before = manifest.get("environment", {}).get("git")
    plugin_records = [plugin_record(p) for p in plugins]
    manifest.setdefault("resumed", []).append(
        {"command": command, "at": now(), "plugins": plugin_records, "git_before": before}
    )
    for name, unit in manifest["units"].items():
        if store.has_unit(name):
            store.read_unit(name)  # a bad result file is named now, before any training
        unit["status"] = resumed_status(unit, store.has_unit(name))


def describe_run(manifest: dict, config: RunConfig, device: torch.device, data: ImageData) -> None:
    """What the manifest says of the environment, the data and the variants."""
    manifest["environment"] = describe(device)
    manifest["layout"] = {name: variant_layout(config.layout, device, name) for name in config.variants}
    manifest["data"] = data.source
    manifest["dataset"] = {
        "name": data.name,
        "classes": list(data.classes),
        "digits": get_dataset(config.dataset).digits,  # handwritten digits: the 6-and-9 section
    }
    manifest["task"] = asdict(data.task)  # what every model of the run is built for
    manifest["recipe"] = config.recipe_note
    manifest["evaluated_on"] = (
        "validation: the last training images, never the test set" if config.split == "validation" else "test"
    )
    manifest["test_digits"] = len(data.test_x)  # the evaluation images (validation ones there)
    manifest["train_digits"] = len(data.train_x)
    manifest["variants"] = {
        name: {
            k: getattr(registry.get_variant(name), k) for k in ("family", "claims", "augment", "description")
        }
        for name in config.variants
    }
