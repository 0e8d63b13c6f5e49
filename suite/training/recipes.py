"""Recipes: the tutorial's one learning rate for every variant, or each variant's tuned one.

The tuned learning rates live in ``tuned.toml`` beside this module, one table per data set and
variant, written by ``suite tune`` (when it saves) from a sweep on the validation split (never the test set)
and committed, so ``suite run`` uses them without tuning again.
"""

from __future__ import annotations

import sys
from pathlib import Path

from suite.atomic import write_text_atomic
from suite.errors import SuiteError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TUNED_PATH = Path(__file__).with_name("tuned.toml")
RECIPES = ("tuned", "tutorial")
FALLBACK_DATASET = "mnist"  # a data set with no tuned table of its own uses MNIST's


def read_tuned(path: Path = TUNED_PATH) -> dict[str, dict[str, dict]]:
    """``{data set: {variant: {"lr": ..., ...}}}`` from a tuned-recipe file."""
    if not path.is_file():
        raise SuiteError(
            f"{path}: no such tuned-recipe file; run suite tune and save its choice, "
            "or use the tutorial recipe",
            param="recipe",
        )
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: not a readable tuned-recipe file ({exc})", param="recipe") from exc


def resolve_recipe(
    recipe: str, dataset: str, variants: list[str], default_lr: float
) -> tuple[dict[str, float], str]:
    """Each variant's learning rate under ``recipe`` (``tuned``, ``tutorial`` or a ``.toml`` file),
    and a line saying where the rates came from (it goes into the manifest and summary)."""
    if recipe == "tutorial":
        return {v: default_lr for v in variants}, f"tutorial: AdamW lr {default_lr:g} for every variant"
    if recipe == "tuned":
        path = TUNED_PATH
    elif recipe.endswith(".toml"):
        path = Path(recipe)
    else:
        raise UsageError(f"{recipe!r}: expected tuned, tutorial or a tuned-recipe .toml file", param="recipe")
    tables = read_tuned(path)
    source = dataset if dataset in tables else FALLBACK_DATASET
    table = tables.get(source, {})
    lrs = {v: float(table[v]["lr"]) if v in table else default_lr for v in variants}
    untuned = [v for v in variants if v not in table]
    shown = path.name if path == TUNED_PATH else str(path)
    note = f"tuned: each variant's lr chosen on the {source} validation split ({shown})"
    if source != dataset:
        note += f"; {dataset} has no tuned table, so {source}'s rates are used"
    if untuned:
        note += f"; not tuned, at the default lr {default_lr:g}: {', '.join(untuned)}"
    return lrs, note


TUNED_SETTINGS = ("weight_decay", "schedule")  # besides lr, what a search's tuned table may set


def tuned_settings(recipe: str, dataset: str, variants: list[str]) -> dict[str, dict]:
    """Each variant's tuned weight decay and schedule under ``recipe``, where its table has them
    (a table from the learning-rate grid has only ``lr``: the recipe's defaults stay)."""
    if recipe == "tutorial":
        return {}
    tables = read_tuned(TUNED_PATH if recipe == "tuned" else Path(recipe))
    table = tables.get(dataset if dataset in tables else FALLBACK_DATASET, {})
    return {
        v: {k: table[v][k] for k in TUNED_SETTINGS if k in table[v]}
        for v in variants
        if v in table and any(k in table[v] for k in TUNED_SETTINGS)
    }


def tuned_scales(recipe: str, dataset: str, variants: list[str]) -> dict[str, dict]:
    """The scale (training images, epochs) each variant's tuned values were chosen at, where its
    table records one (tables from before scales were recorded give none)."""
    if recipe not in ("tuned",) and not recipe.endswith(".toml"):
        return {}
    tables = read_tuned(TUNED_PATH if recipe == "tuned" else Path(recipe))
    table = tables.get(dataset if dataset in tables else FALLBACK_DATASET, {})
    return {v: dict(table[v]["tuning_scale"]) for v in variants if "tuning_scale" in table.get(v, {})}


def toml_value(value: object) -> str:
    """A value as TOML: text quoted, lists as arrays, tables inline (a runner-up, a scale)."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def format_tuned(tables: dict[str, dict[str, dict]], header: list[str]) -> str:
    """A tuned-recipe file: comment lines, then one ``[dataset.variant]`` table per entry."""
    lines = [f"# {line}" if line else "#" for line in header]
    for dataset, variants in tables.items():
        for variant, values in variants.items():
            lines += ["", f'[{dataset}."{variant}"]']
            lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def save_tuned(
    path: Path, dataset: str, chosen: dict[str, dict], header: list[str], replace: bool = False
) -> None:
    """Write ``chosen`` as ``dataset``'s table of ``path``, keeping the other data sets' tables
    (and, unless ``replace``, the variants this sweep did not cover). The header describes this
    search; a choice kept from an earlier one names its search (``search``), taken from the
    file's "The trials:" line where the choice predates the key."""
    tables = read_tuned(path) if path.is_file() else {}
    kept = {} if replace else dict(tables.get(dataset, {}))
    earlier = [v for v in kept if v not in chosen]
    before = earlier_search(path)
    for variant in earlier:
        if "search" not in kept[variant] and before:
            kept[variant] = {**kept[variant], "search": before}
    kept.update(chosen)
    tables[dataset] = kept
    if earlier:
        header = [
            *header,
            f"Kept from earlier searches (each names its own in `search`): {', '.join(earlier)}",
        ]
    write_text_atomic(path, format_tuned(tables, header))


def earlier_search(path: Path) -> str | None:
    """The search directory a tuned-recipe file's header names ("The trials: DIR/sweep.md")."""
    for line in path.read_text().splitlines() if path.is_file() else []:
        if not line.startswith("#"):
            break
        for lead in ("# The trials: ", "# The sweep table: "):
            if line.startswith(lead):
                return str(Path(line[len(lead) :].strip()).parent)
    return None
