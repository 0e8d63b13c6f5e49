"""What decides a run's numbers (``RunConfig``), built from a profile and the user's overrides."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from suite import registry
from suite.data.datasets import get_dataset, load_dataset
from suite.data.groups import get_group
from suite.data.images import ImageData
from suite.errors import UsageError
from suite.measure.evaluate import DEFAULT_SWEEP, parse_angles, sweep
from suite.runs.grid import UnitKey, check_grid, unit_keys
from suite.runs.profiles import Profile, get_profile
from suite.training.layout import LAYOUTS
from suite.training.recipes import RECIPES, resolve_recipe, tuned_scales, tuned_settings
from suite.training.train import BN_REFRESH_IMAGES, Recipe

SPLITS = ("test", "validation")  # what a run's final numbers are measured on


@dataclass(frozen=True)
class UnitPlan:
    """The settings one unit trains with: its recipe, parameter budget and training-set size."""

    recipe: Recipe
    budget: int | None
    train_size: int | None


# How each grid axis (suite.declared.AXES) changes a unit: adding an axis is its declaration
# there and its effect here.
AXIS_EFFECTS: dict[str, Callable[[UnitPlan, Any], UnitPlan]] = {
    "lr": lambda plan, v: replace(plan, recipe=replace(plan.recipe, lr=v)),
    "weight_decay": lambda plan, v: replace(plan, recipe=replace(plan.recipe, weight_decay=v)),
    "schedule": lambda plan, v: replace(plan, recipe=replace(plan.recipe, schedule=v)),
    "budget": lambda plan, v: replace(plan, budget=v),
    "train_size": lambda plan, v: replace(plan, train_size=v),
    "epochs": lambda plan, v: replace(plan, recipe=replace(plan.recipe, epochs=v)),
}


@dataclass
class RunConfig:
    """Everything that decides a run's numbers; stored in the manifest so a resume repeats it."""

    variants: list[str]
    profile: str = "quick"
    dataset: str = "mnist"  # a name in suite.data.datasets
    seeds: list[int] = field(default_factory=lambda: [0])
    recipe: Recipe = field(default_factory=Recipe)
    device: str = "auto"
    budget: int | None = None
    data_dir: str | None = None
    download: bool = False
    plugins: list[str] = field(default_factory=list)
    angles: list[float] = field(default_factory=lambda: list(DEFAULT_SWEEP))
    bench: bool = True  # measure each variant's cost after training (throughput.csv)
    layout: str = "auto"  # memory layout (suite.training.layout): auto = channels-last on CPU
    recipe_name: str = "tutorial"  # tuned | tutorial | fixed (one lr given) | a tuned-recipe file
    recipe_note: str = ""  # where the learning rates came from, for the manifest and summary
    lrs: dict[str, float] = field(default_factory=dict)  # each variant's learning rate
    split: str = "test"  # validation: train on the first 50k, measure on the last 10k training images
    train_size: int | None = None  # only the first N training images (None: all)
    grid: dict[str, list] = field(default_factory=dict)  # axis -> values (suite.runs.grid)
    epochs_by_variant: dict[str, int] = field(default_factory=dict)  # overrides recipe.epochs
    min_images_seen: int | None = None  # small training sets get more epochs: at least N images
    threads: int | None = None  # every unit's intra-op thread count (None: a run from before it)
    group: str | None = None  # the symmetry the run measures (suite.data.groups); None: the data set's
    left_out: dict[str, str] = field(default_factory=dict)  # core runs: the others, and why
    search: dict = field(default_factory=dict)  # a tuning search (suite.runs.search): its units come later
    tuned: dict[str, dict] = field(default_factory=dict)  # each variant's tuned weight decay and schedule
    tuned_scale: dict[str, dict] = field(default_factory=dict)  # the images × epochs they were tuned at

    def units(self) -> list[UnitKey]:
        """Every unit: variants × seeds × grid points (a search's units join as it asks for them)."""
        return [] if self.search else unit_keys(self.variants, self.seeds, self.grid)

    def axes(self) -> tuple[str, ...]:
        """The axes of the run's unit names: its grid's, or the ones a search varies."""
        return tuple(self.search.get("axes", ())) or tuple(self.grid)

    def plan_for(self, key: UnitKey) -> UnitPlan:
        """What one unit trains with: the run's settings for its variant, then each axis of its
        grid point applied (``AXIS_EFFECTS``); small training sets get enough epochs to see
        ``min_images_seen`` images."""
        epochs = self.epochs_by_variant.get(key.variant) or self.recipe.epochs
        recipe = replace(self.recipe, lr=self.lrs.get(key.variant, self.recipe.lr), epochs=epochs,
                         **self.tuned.get(key.variant, {}))  # fmt: skip
        plan = UnitPlan(recipe, self.budget, self.train_size)
        for axis, value in key.point:
            plan = AXIS_EFFECTS[axis](plan, value)
        if self.min_images_seen and plan.train_size:
            epochs = max(plan.recipe.epochs, math.ceil(self.min_images_seen / plan.train_size))
            plan = replace(plan, recipe=replace(plan.recipe, epochs=epochs))
        return plan

    def recipe_for(self, key: UnitKey) -> Recipe:
        return self.plan_for(key).recipe

    def sizes(self) -> Profile:
        """The run's profile for its kind of data (volumes have their own sizes)."""
        return get_profile(self.profile, get_dataset(self.dataset).kind)

    def budget_for(self, key: UnitKey) -> int | None:
        return self.plan_for(key).budget

    def train_size_for(self, key: UnitKey) -> int | None:
        return self.plan_for(key).train_size

    def to_dict(self) -> dict:
        out = asdict(self)
        out["recipe"] = self.recipe.as_dict()
        return out

    @classmethod
    def from_dict(cls, raw: dict) -> RunConfig:
        raw = dict(raw)
        raw["recipe"] = Recipe(**raw["recipe"])
        raw.setdefault("layout", "contiguous")  # runs written before layouts existed ran contiguous
        raw.setdefault("dataset", "mnist")  # and before data sets, on MNIST
        raw.setdefault("recipe_name", "tutorial")  # and before recipes, with the tutorial's
        return cls(**raw)


# The keyword arguments of make_config that change a run's numbers (a resume may not change them).
SETTINGS = (
    "variants", "profile", "dataset", "seeds", "epochs", "batch_size", "lr", "device", "budget", "data_dir",
    "download", "bench", "layout", "angles", "recipe", "split", "train_size", "group",
)  # fmt: skip


def make_config(
    variants: str | Sequence[str] | None = None,
    profile: str = "quick",
    dataset: str = "mnist",
    seeds: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    device: str = "auto",
    budget: str | int | None = None,
    data_dir: str | Path | None = None,
    download: bool = False,
    plugins: Iterable[str | Path] = (),
    bench: bool = True,
    layout: str = "auto",
    angles: str | Sequence[float] | None = None,
    plugin_variants: Sequence[str] = (),
    recipe: str = "tuned",
    split: str = "test",
    train_size: int | None = None,
    grid: dict[str, Sequence] | None = None,
    group: str | None = None,
) -> RunConfig:
    """A run's config: the profile's settings, overridden by every argument that is not None.

    ``variants``: names, patterns, ``core`` or ``all`` (a comma-separated string or a list); None
    means the profile's variants plus ``plugin_variants`` (those the plugin files registered).
    ``recipe``: ``tuned`` (each variant's learning rate from ``suite tune``), ``tutorial`` (lr 5e-4
    for all; on volumes the 3-D default, batch 16 and lr 1e-3, as the profile says) or a
    tuned-recipe ``.toml``; an explicit ``lr`` sets every variant's rate instead.
    ``split``: ``validation`` measures on the data set's validation split (its own, the last
    10,000 MNIST training images, or a tenth of the training images) for choices (tuning, curves);
    ``test`` (final numbers) trains on all and measures on test. ``group``: the symmetry the data
    has (``C4``; ``D4`` where mirror images share a class; ``O`` for volumes), measured on every
    unit; None: the one the data set declares (C4 for images). A run of the profile's core
    variants records the others, and why each is left out (``left_out``).
    """
    kind = get_dataset(dataset).kind
    chosen_profile = get_profile(profile, kind)
    _check_choices(dataset, split, recipe, layout)
    _check_numbers(seeds=seeds, epochs=epochs, batch_size=batch_size, train_size=train_size, lr=lr)
    selected = _variants(variants, chosen_profile.variants, plugin_variants, kind)
    default_core = variants is None and chosen_profile.variants == "core"
    base_recipe = Recipe(
        epochs or chosen_profile.epochs,
        batch_size or chosen_profile.batch_size or Recipe.batch_size,
        lr or chosen_profile.lr or Recipe.lr,
        bn_refresh_images=BN_REFRESH_IMAGES,
    )
    recipe, lrs, note, tuned = _rates(lr, str(recipe), dataset, selected, base_recipe.lr)
    return RunConfig(
        tuned=tuned, tuned_scale=tuned_scales(recipe, dataset, selected) if lr is None else {},
        recipe_name=str(recipe), recipe_note=note, lrs=lrs, split=split, train_size=train_size,
        grid=check_grid(grid or {}), variants=selected, profile=chosen_profile.name, dataset=dataset,
        seeds=list(range(seeds or chosen_profile.seeds)), recipe=base_recipe, device=device,
        budget=registry.parse_budget(budget), data_dir=str(data_dir) if data_dir else None,
        download=download, plugins=[str(Path(p).resolve()) for p in plugins], bench=bench, layout=layout,
        angles=_angle_list(angles, chosen_profile.sweep_step), group=get_group(group).name if group else None,
        left_out=registry.left_out(selected, kind) if default_core else {},
    )  # fmt: skip


def _rates(
    lr: float | None, recipe: str, dataset: str, selected: list[str], default_lr: float
) -> tuple[str, dict[str, float], str, dict[str, dict]]:
    """The recipe's name, each variant's learning rate, where the rates came from, and each
    variant's tuned weight decay and schedule (where its tuned table gives them)."""
    if lr is not None:
        note = f"fixed: AdamW lr {lr:g} for every variant (given explicitly)"
        return "fixed", {v: lr for v in selected}, note, {}
    lrs, note = resolve_recipe(recipe, dataset, selected, default_lr)
    tuned = tuned_settings(recipe, dataset, selected)
    if tuned:
        note += "; weight decay and schedule as tuned where the table gives them"
    return recipe, lrs, note, tuned


def _variants(
    variants: str | Sequence[str] | None, profile_variants: str, plugin_variants: Sequence[str], kind: str
) -> list[str]:
    """The run's variants: as given, else the profile's plus the plugin files' (of the data's kind)."""
    if variants is None:
        return list(dict.fromkeys([*registry.select(profile_variants, kind), *plugin_variants]))
    return registry.select(variants if isinstance(variants, str) else ",".join(variants), kind)


def _check_choices(dataset: str, split: str, recipe: str, layout: str) -> None:
    """Each named choice is one the suite knows, refused in one line before anything is loaded."""
    get_dataset(dataset)
    if split not in SPLITS:
        raise UsageError(f"{split!r}: expected one of {', '.join(SPLITS)}", param="split")
    if recipe not in RECIPES and not str(recipe).endswith(".toml"):
        raise UsageError(f"{recipe!r}: expected tuned, tutorial or a tuned-recipe .toml file", param="recipe")
    if layout not in LAYOUTS:
        raise UsageError(f"{layout!r}: expected one of {', '.join(LAYOUTS)}", param="layout")


def _check_numbers(lr: float | None, **counts: int | None) -> None:
    for name, value in counts.items():
        if value is not None and (not isinstance(value, int) or value <= 0):
            raise UsageError(f"{value!r}: expected a positive integer", param=name)
    if lr is not None and not lr > 0:
        raise UsageError(f"{lr}: expected a positive number", param="lr")


def _angle_list(angles: str | Sequence[float] | None, sweep_step: int) -> list[float]:
    """The test angles: given as text (``0:360:15``) or numbers, else the profile's sweep."""
    if isinstance(angles, str):
        return list(parse_angles(angles))
    if angles is not None:
        return list(parse_angles(",".join(str(a) for a in angles)))
    return list(sweep(sweep_step))


def load_run_data(config: RunConfig) -> ImageData:
    """The verified images a run trains and measures on: the validation view (no test images in
    it) when the run is for choosing, then the profile's subset where it has one."""
    profile = config.sizes()
    data = load_dataset(config.dataset, config.data_dir, download=config.download)
    group = get_group(config.group or data.group)
    if group.dims != len(data.spatial):
        shape = "×".join(map(str, data.spatial))
        raise UsageError(
            f"{group.name}: acts on {group.dims}-D data; {data.name}'s are {len(data.spatial)}-D ({shape})",
            param="group",
        )
    data = replace(data, group=group.name)
    if config.split == "validation":
        data = data.validation_view(get_dataset(config.dataset).validation)
    if profile.train_size is not None or profile.test_size is not None:
        data = data.subset(profile.train_size or len(data.train_x), profile.test_size or len(data.test_x))
    return data
