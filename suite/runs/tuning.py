"""The learning-rate sweep behind the tuned recipe: a run on the validation split with an lr axis.

Scaled to finish within about an hour for all variants on a 2-core CPU: each variant trains on the
first 10,000 of the 50,000 training images of the validation split for the quick profile's 5
epochs, at each of four learning rates, and is measured on the 10,000 validation images.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from suite.measure.evaluate import C4_ANGLES
from suite.runs.config import RunConfig, make_config

DEFAULT_LRS = (3e-4, 1e-3, 3e-3, 1e-2)
DEFAULT_TRAIN_SIZE = 10_000
DEFAULT_EPOCHS = 5


def tune_config(
    variants: str | Sequence[str] | None = "all",
    dataset: str = "mnist",
    lrs: Sequence[float] = DEFAULT_LRS,
    train_size: int | None = DEFAULT_TRAIN_SIZE,
    epochs: int = DEFAULT_EPOCHS,
    seeds: int = 1,
    profile: str = "quick",
    device: str = "auto",
    budget: str | int | None = None,
    data_dir: str | Path | None = None,
    plugins: Iterable[str | Path] = (),
    plugin_variants: Sequence[str] = (),
) -> RunConfig:
    """A sweep's config: every variant (``None``: all) × seed × learning rate, trained and measured on the
    validation split (the test images are not loaded), at the upright and quarter-turn angles."""
    return make_config(
        variants or "all", profile, dataset, seeds=seeds, epochs=epochs, device=device, budget=budget,
        data_dir=data_dir, plugins=plugins, bench=False, angles=list(C4_ANGLES),
        plugin_variants=plugin_variants, recipe="tutorial", split="validation", train_size=train_size,
        grid={"lr": list(lrs)},
    )  # fmt: skip


def tuned_header(command: Sequence[str], sweep_dir: Path, config: RunConfig) -> list[str]:
    """The comment lines of a tuned-recipe file: what chose these values, and where to see how."""
    return [
        "Learning rates chosen by `suite tune` on the validation split (the last 10,000 training",
        "images), never the test set: the best C4-mean validation accuracy of each variant after",
        f"{config.recipe.epochs} epochs on the first {config.train_size or 'all'} training images, "
        f"over lr {', '.join(f'{v:g}' for v in config.grid['lr'])}.",
        f"Made by: {' '.join(command)}",
        f"The sweep table: {sweep_dir / 'sweep.md'}",
        "`suite run` reads this file (its default, the tuned recipe); `suite tune` rewrites it when saving.",
    ]
