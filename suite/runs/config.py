"""What decides a run's numbers (``RunConfig``), built from a profile and the user's overrides."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from suite import registry
from suite.data.datasets import get_dataset, load_dataset
from suite.data.images import ImageData
from suite.errors import UsageError
from suite.measure.evaluate import DEFAULT_SWEEP, parse_angles, sweep
from suite.runs.profiles import get_profile
from suite.training.layout import LAYOUTS
from suite.training.train import Recipe


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
        return cls(**raw)


# The keyword arguments of make_config that change a run's numbers (a resume may not change them).
SETTINGS = (
    "variants", "profile", "dataset", "seeds", "epochs", "batch_size", "lr", "device", "budget", "data_dir",
    "download", "bench", "layout", "angles",
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
) -> RunConfig:
    """A run's config: the profile's settings, overridden by every argument that is not None.

    ``variants``: names, patterns, ``core`` or ``all`` (a comma-separated string or a list); None
    means the profile's variants plus ``plugin_variants`` (those the plugin files registered).
    """
    chosen_profile = get_profile(profile)
    get_dataset(dataset)  # an unknown name fails here, before anything is loaded
    for name, value in (("seeds", seeds), ("epochs", epochs), ("batch_size", batch_size)):
        if value is not None and (not isinstance(value, int) or value <= 0):
            raise UsageError(f"{value!r}: expected a positive integer", param=name)
    if lr is not None and not lr > 0:
        raise UsageError(f"{lr}: expected a positive number", param="lr")
    if layout not in LAYOUTS:
        raise UsageError(f"{layout!r}: expected one of {', '.join(LAYOUTS)}", param="layout")
    if variants is None:
        selected = list(dict.fromkeys([*registry.select(chosen_profile.variants), *plugin_variants]))
    else:
        spec = variants if isinstance(variants, str) else ",".join(variants)
        selected = registry.select(spec)
    if isinstance(angles, str):
        angle_list = list(parse_angles(angles))
    elif angles is not None:
        angle_list = list(parse_angles(",".join(str(a) for a in angles)))
    else:
        angle_list = list(sweep(chosen_profile.sweep_step))
    recipe = Recipe(
        epochs=epochs or chosen_profile.epochs,
        batch_size=batch_size or Recipe.batch_size,
        lr=lr or Recipe.lr,
    )
    return RunConfig(
        variants=selected,
        profile=chosen_profile.name,
        dataset=dataset,
        seeds=list(range(seeds or chosen_profile.seeds)),
        recipe=recipe,
        device=device,
        budget=registry.parse_budget(budget),
        data_dir=str(data_dir) if data_dir else None,
        download=download,
        plugins=[str(Path(p).resolve()) for p in plugins],
        bench=bench,
        layout=layout,
        angles=angle_list,
    )


def load_run_data(config: RunConfig) -> ImageData:
    """The verified images a run trains on (the profile's subset for ``smoke``)."""
    profile = get_profile(config.profile)
    data = load_dataset(config.dataset, config.data_dir, download=config.download)
    if profile.train_size is not None:
        data = data.subset(profile.train_size, profile.test_size or len(data.test_x))
    return data
