"""``suite study NAME``: accuracy along one axis (model size, training data, training compute)."""

from __future__ import annotations

import argparse
import sys

from suite.cli.args import dataset_option, device_option, positive_int
from suite.cli.session import command_parser, execute, run_options, start_or_resume

STUDY_SETTINGS = (
    "variants", "seeds", "values", "epochs", "scale", "dataset", "data_dir", "device", "recipe", "study",
)  # fmt: skip


def parse_values(text: str) -> list[float]:
    try:
        values = [float(v.lower().replace("k", "e3")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers like 1000,3000 or 14k,100k, got {text!r}"
        ) from None
    return values


def cmd_study(args: argparse.Namespace, argv: list[str], parser: argparse.ArgumentParser) -> int:
    from pathlib import Path

    from suite.report.tables import write_report

    def make() -> tuple:
        from suite.environment import resolve_device
        from suite.plugins import load_variants
        from suite.runs.config import load_run_data
        from suite.runs.studies import study_about, study_config

        load_variants(args.plugin)
        config = study_config(
            args.study, args.scale, args.variants, args.seeds, args.values, args.epochs, args.dataset,
            args.device, args.data_dir, args.recipe, args.plugin,
        )  # fmt: skip
        resolve_device(config.device)
        about.update(study_about(args.study, args.scale))
        return config, load_run_data(config)

    about: dict = {}
    run, data = start_or_resume(
        args, argv, command_parser(parser, "study"), STUDY_SETTINGS, make,
        lambda config: Path("results") / "studies" / args.study, "study", about,
    )  # fmt: skip
    status = execute(run, data, args, write_report)
    print(f"results: {run.out / 'summary.md'}", file=sys.stderr)
    return status


def add_command(commands) -> None:  # noqa: ANN001 - argparse's sub-parsers action
    from suite.runs.studies import SCALES, STUDIES

    p = commands.add_parser(
        "study",
        parents=[dataset_option(), device_option(), run_options()],
        help="accuracy against model size (budgets), training data (data) or training compute (compute)",
    )
    p.add_argument("study", metavar="NAME", choices=list(STUDIES), help=" | ".join(STUDIES))
    p.add_argument(
        "--scale", choices=SCALES, default="cpu",
        help="cpu (default: about an hour on a 2-core CPU) | full (a GPU or a cluster) | smoke",
    )  # fmt: skip
    p.add_argument("--variants", help="override the study's variants (names, patterns, core, all)")
    p.add_argument("--seeds", type=positive_int, help="override the scale's number of seeds")
    p.add_argument("--values", type=parse_values, help="override the axis values, e.g. 14k,30k or 1000,3000")
    p.add_argument("--epochs", type=positive_int, help="override the scale's epochs")
    p.add_argument("--recipe", default="tuned", help="tuned (default) | tutorial | a tuned-recipe FILE.toml")
    p.add_argument(
        "--plugin", action="append", default=[], metavar="FILE.py", help="more variants (repeatable)"
    )
    p.set_defaults(func=cmd_study, records_command=True)
