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

    from suite.report.tables import write_report

    def given() -> dict:
        return dict(
            name=args.study, scale=args.scale, variants=args.variants, seeds=args.seeds, values=args.values,
            epochs=args.epochs, dataset=args.dataset, device=args.device, data_dir=args.data_dir,
            recipe=args.recipe,
        )  # fmt: skip

    run, data = start_or_resume(args, argv, command_parser(parser, "study"), STUDY_SETTINGS, "study", given)
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
    p.add_argument(
        "--variants",
        help="override the study's variants (names, patterns, core, all; "
        "-name or -pattern leaves out: all,-e3nn-*)",
    )
    p.add_argument("--seeds", type=positive_int, help="override the scale's number of seeds")
    p.add_argument("--values", type=parse_values, help="override the axis values, e.g. 14k,30k or 1000,3000")
    p.add_argument("--epochs", type=positive_int, help="override the scale's epochs")
    p.add_argument("--recipe", default="tuned", help="tuned (default) | tutorial | a tuned-recipe FILE.toml")
    p.add_argument(
        "--plugin", action="append", default=[], metavar="FILE.py", help="more variants (repeatable)"
    )
    p.set_defaults(func=cmd_study, records_command=True)
