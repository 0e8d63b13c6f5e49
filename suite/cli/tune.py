"""``suite tune``: each variant's recipe (lr, weight decay, schedule), chosen on the validation split."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from suite.cli.args import dataset_option, device_option, positive_int, variant_options
from suite.cli.session import command_parser, execute, run_options, start_or_resume

# the options whose values decide a sweep's numbers (a resume may not change them)
TUNE_SETTINGS = (
    "variants", "dataset", "data_dir", "lrs", "trials", "finalists", "train_size", "epochs", "seeds",
    "device", "budget", "profile",
)  # fmt: skip


def parse_lrs(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected learning rates like 3e-4,1e-3, got {text!r}") from None
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive learning rates, got {text!r}")
    return values


def cmd_tune(args: argparse.Namespace, argv: list[str], parser: argparse.ArgumentParser) -> int:
    from suite.api import finish_tune

    def given() -> dict:
        return dict(
            variants=args.variants, dataset=args.dataset, lrs=args.lrs, trials=args.trials,
            finalists=args.finalists,
            train_size=args.train_size,
            epochs=args.epochs, seeds=args.seeds, profile=args.profile, device=args.device,
            budget=args.budget, data_dir=args.data_dir,
        )  # fmt: skip

    run, data = start_or_resume(args, argv, command_parser(parser, "tune"), TUNE_SETTINGS, "tune", given)
    # a search started with --save saves when it finishes, in whichever start that is
    args.save = args.save or "--save" in (run.manifest.get("command") or [])
    chosen: dict = {}
    status = execute(run, data, args, lambda out: chosen.update(finish_tune(out, args.save)))
    for variant, values in chosen.items():
        rest = (
            f"weight decay {values['weight_decay']:<5g} {values['schedule']:9}"
            if "schedule" in values
            else ""
        )
        mean = values["validation_c4_mean"]
        print(f"{variant:14} lr {values['lr']:<8.3g} {rest}validation C4 mean {mean:.2f}%")
    if chosen:
        where = "saved as the tuned recipe ('suite run' uses it)" if args.save else "not saved (pass --save)"
        print(f"sweep: {Path(run.out) / 'sweep.md'}; chosen values: {Path(run.out) / 'tuned.toml'}, {where}",
              file=sys.stderr)  # fmt: skip
    return status


def add_command(commands) -> None:  # noqa: ANN001 - argparse's sub-parsers action
    from suite.runs.tuning import (
        DEFAULT_EPOCHS,
        DEFAULT_FINALISTS,
        DEFAULT_LRS,
        DEFAULT_TRAIN_SIZE,
        DEFAULT_TRIALS,
        FINALIST_SEEDS,
    )

    p = commands.add_parser(
        "tune",
        parents=[variant_options("all"), dataset_option(), device_option(), run_options()],
        help="choose each variant's lr, weight decay and schedule on the validation split (an Optuna "
        "search with pruning, resumable)",
    )
    p.add_argument(
        "--trials", type=positive_int, default=DEFAULT_TRIALS,
        help=f"Optuna trials per variant (default {DEFAULT_TRIALS}: the ten variants in about 3 h, 2 cores)",
    )  # fmt: skip
    p.add_argument(
        "--finalists", type=int, default=DEFAULT_FINALISTS,
        help=f"each variant's best trials re-run at seeds 0-{FINALIST_SEEDS - 1}, the winner chosen "
        f"by 95%% intervals (default {DEFAULT_FINALISTS}; 0: the best trial at seed 0)",
    )  # fmt: skip
    p.add_argument(
        "--lrs", type=parse_lrs, default=None,
        help="instead of a search, a fixed grid of learning rates (the earlier sweep, e.g. "
        f"{','.join(f'{v:g}' for v in DEFAULT_LRS)})",
    )  # fmt: skip
    p.add_argument(
        "--train-size", type=positive_int, default=DEFAULT_TRAIN_SIZE,
        help=f"train on the first N of the 50,000 non-validation images (default {DEFAULT_TRAIN_SIZE:,})",
    )  # fmt: skip
    p.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS, help=f"default {DEFAULT_EPOCHS}")
    p.add_argument(
        "--seeds", type=positive_int, default=1, help="seeds per point of an --lrs grid (default 1)"
    )
    p.add_argument(
        "--profile", default="quick", help="quick (default) | smoke: a few hundred images, for trying"
    )
    p.add_argument(
        "--save", action="store_true",
        help="make the choices the tuned recipe that 'suite run' uses (suite/training/tuned.toml); a "
        "search started with it saves when it finishes, also in a resume",
    )  # fmt: skip
    p.set_defaults(func=cmd_tune, records_command=True)
