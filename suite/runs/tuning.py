"""The tune behind the tuned recipe: a run on the validation split whose units are trials.

By default an Optuna search (``suite.runs.search``) over learning rate, weight decay and schedule,
``DEFAULT_TRIALS`` trials per variant; with ``lrs`` given, the earlier fixed grid over learning rates
(``results/tune-cpu`` was made that way). Each trial trains on the first 10,000 of the 50,000
training images of the validation split for the quick profile's 5 epochs and is measured on the
10,000 validation images.

The default number of trials is sized from ``results/tune-cpu``: a 5-epoch unit of each of the ten
variants takes 789 s in all on the 2-core CPU (e3nn-o2 411 s, escnn-so2 169 s, the other eight
7-51 s). Three hours are 13.7 such rounds; re-running the best three at two more seeds (the issue's
next step) takes 6 of them, which leaves 7.7 for the search: 10 trials fit when pruning stops about
a third of them after an epoch or two (without any pruning, 10 trials and the re-runs take 3.5 h).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from suite.errors import UsageError
from suite.measure.evaluate import C4_ANGLES
from suite.runs.config import RunConfig, make_config

DEFAULT_LRS = (3e-4, 1e-3, 3e-3, 1e-2)  # the earlier grid (``lrs``)
DEFAULT_TRIALS = 10
DEFAULT_FINALISTS = 3  # each variant's best trials re-run at FINALIST_SEEDS seeds, chosen by interval
FINALIST_SEEDS = 3  # the fewest at which the evidence draws a verdict (suite.report.stats.MIN_SEEDS)
DEFAULT_TRAIN_SIZE = 10_000
DEFAULT_EPOCHS = 5


def tune_config(
    variants: str | Sequence[str] | None = "all",
    dataset: str = "mnist",
    lrs: Sequence[float] | None = None,
    trials: int = DEFAULT_TRIALS,
    startup_trials: int = 3,
    finalists: int = DEFAULT_FINALISTS,
    finalist_seeds: int = FINALIST_SEEDS,
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
    """A tune's config: ``trials`` Optuna trials per variant (``None``: all), or with ``lrs`` every
    variant × seed × learning rate, trained and measured on the validation split (the test images
    are not loaded), at the upright and quarter-turn angles."""
    if lrs is None and (not isinstance(trials, int) or trials < 1):
        raise UsageError(f"{trials!r}: expected a positive number of trials", param="trials")
    for name, value, least in (("finalists", finalists, 0), ("finalist_seeds", finalist_seeds, 1)):
        if lrs is None and (not isinstance(value, int) or value < least):
            raise UsageError(f"{value!r}: expected a whole number of at least {least}", param=name)
    if lrs is None and seeds != 1:
        raise UsageError(
            "a search trains each trial at seed 0; more seeds go with a fixed lrs grid", param="seeds"
        )
    config = make_config(
        variants or "all", profile, dataset, seeds=seeds, epochs=epochs, device=device, budget=budget,
        data_dir=data_dir, plugins=plugins, bench=False, angles=list(C4_ANGLES),
        plugin_variants=plugin_variants, recipe="tutorial", split="validation", train_size=train_size,
        grid={"lr": list(lrs)} if lrs is not None else {},
    )  # fmt: skip
    if lrs is None:
        from suite.runs.search import search_settings  # imports Optuna: only when searching

        config.search = search_settings(
            trials, startup=startup_trials, finalists=finalists, finalist_seeds=finalist_seeds
        )
    return config


def tuned_header(command: Sequence[str], sweep_dir: Path, config: RunConfig) -> list[str]:
    """The comment lines of a tuned-recipe file: what chose these values, and where to see how."""
    if config.search:
        s = config.search
        return [
            "Recipes chosen by `suite tune` on the validation split (the last 10,000 training images),",
            f"never the test set: an Optuna search of {s['trials']} trials per variant (TPE, seed "
            f"{s['sampler_seed']}; median pruning every epoch) over lr {s['lr'][0]:g}-{s['lr'][1]:g} (log), "
            f"weight decay {', '.join(f'{v:g}' for v in s['weight_decay'])}, schedule "
            f"{', '.join(s['schedule'])}, each trial at seed 0 for {config.recipe.epochs} epochs on the "
            f"first {config.train_size or 'all'} training images; the best {s.get('finalists', 0)} re-run at "
            f"{s.get('finalist_seeds', 1)} seeds, chosen by C4-mean validation accuracy with paired 95% "
            "intervals (a tie: constant schedule, weight decay 0.01, then the smaller lr).",
            f"Made by: {' '.join(command)}",
            f"The trials: {sweep_dir / 'sweep.md'}",
        ]
    return [
        "Learning rates chosen by `suite tune` on the validation split (the last 10,000 training",
        "images), never the test set: the best C4-mean validation accuracy of each variant after",
        f"{config.recipe.epochs} epochs on the first {config.train_size or 'all'} training images, "
        f"over lr {', '.join(f'{v:g}' for v in config.grid['lr'])}.",
        f"Made by: {' '.join(command)}",
        f"The sweep table: {sweep_dir / 'sweep.md'}",
        "`suite run` reads this file (its default, the tuned recipe); `suite tune` rewrites it when saving.",
    ]
