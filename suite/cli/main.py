"""The ``suite`` console script: list, run, plot, bench, check."""

from __future__ import annotations

import argparse
import functools
import signal
import sys
import threading
import traceback
from pathlib import Path

from suite.cli.args import (
    OneLineParser,
    dataset_option,
    device_option,
    error_line,
    flag,
    group_option,
    positive_int,
    variant_options,
)
from suite.cli.session import command_parser, execute, run_options, start_or_resume
from suite.errors import SuiteError
from suite.training.layout import LAYOUTS


def cmd_list(args: argparse.Namespace) -> int:
    from suite import registry
    from suite.plugins import load_variants

    if args.datasets:
        return list_datasets()

    load_variants(args.plugin)
    budget = registry.parse_budget(args.budget)
    rows = []
    for kind in ("2d", "3d"):  # the 2-D variants, then the 3-D track's
        for name in dict.fromkeys(registry.select(args.variants, kind)):
            spec = registry.get_variant(name)
            if kind not in spec.tasks or any(row[1] == name for row in rows):
                continue
            params = registry.count_params(spec.build(budget=budget))
            rows.append((kind, spec.family, name, spec.claims, spec.augment, f"{params:,}", spec.description))
    header = ("data", "family", "name", "claims", "augment", "params", "description")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(6)]
    for row in [header, *rows]:  # rows come grouped by family (registry.select)
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[6])
    return 0


def list_datasets() -> int:
    from suite.data.datasets import dataset_names, get_dataset

    for name in dataset_names():
        spec = get_dataset(name)
        classes = ", ".join(spec.classes) if spec.classes else "named by their labels"
        task = spec.task.describe() if spec.task else "shape, channels and classes from the files; C4"
        print(f"{name:14} {spec.description}\n{'':14} task: {task} (--group measures another)"
              f"\n{'':14} classes: {classes}\n{'':14} found: {spec.found}")  # fmt: skip
    return 0


def cmd_run(args: argparse.Namespace, argv: list[str], parser: argparse.ArgumentParser) -> int:
    from suite.report.tables import write_report
    from suite.runs.config import SETTINGS

    def given() -> dict:
        return dict(
            variants=args.variants, profile=args.profile, dataset=args.dataset, seeds=args.seeds,
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, device=args.device,
            budget=args.budget, data_dir=args.data_dir, download=args.download, group=args.group,
            bench=not args.no_bench, layout=args.layout, angles=args.angles, recipe=args.recipe,
            split=args.split,
        )  # fmt: skip

    run, data = start_or_resume(args, argv, command_parser(parser, "run"), SETTINGS, "run", given)
    report = functools.partial(write_report, plots=not args.no_plots)
    status = execute(run, data, args, report)
    print(f"results: {run.out / 'summary.md'}", file=sys.stderr)
    return status


def cmd_plot(args: argparse.Namespace) -> int:
    """Rebuild a run's report, holding its lock: the report's files are the run's to write."""
    from suite.report.tables import write_report
    from suite.runs.lock import RunLock

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise SuiteError(f"{run_dir}: no such run directory")
    if not (run_dir / "metrics.csv").is_file():  # not a run directory: leave no lock file there
        raise SuiteError(f"{run_dir}: no metrics.csv; pass a directory written by 'suite run'")
    with RunLock(run_dir, args.break_lock):
        written = write_report(run_dir)
    for path in written:
        print(path)
    return 0


# --- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="suite",
        description="Compare ways to make an MNIST classifier invariant to 90° rotations (C4).",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser
    )

    p_list = commands.add_parser("list", parents=[variant_options()], help="show the registered variants")
    p_list.add_argument("--datasets", action="store_true", help="show the data sets instead")
    p_list.set_defaults(func=cmd_list)
    add_run_command(commands)

    p_plot = commands.add_parser("plot", help="rebuild summary.md and plots/ from a run's CSVs")
    p_plot.add_argument("run_dir", metavar="RUN_DIR")
    p_plot.add_argument(
        "--break-lock", action="store_true", help="take over a lock another host recorded (that run is over)"
    )
    p_plot.set_defaults(func=cmd_plot)

    from suite.cli import bench, check, readme, speedup, study, tune

    tune.add_command(commands)
    study.add_command(commands)
    check.add_command(commands)
    bench.add_command(commands)
    speedup.add_command(commands)
    readme.add_command(commands)
    return parser


def add_run_command(commands) -> None:  # noqa: ANN001 - argparse's sub-parsers action
    p_run = commands.add_parser(
        "run",
        parents=[
            variant_options("the profile's, plus those of --plugin files"),
            dataset_option(),
            group_option(),
            device_option(),
            run_options(),
        ],
        help="train and evaluate variants; write a run directory (default results/<time>-<profile>)",
    )
    p_run.add_argument("--profile", default="quick", help="smoke | quick (default) | full")
    p_run.add_argument("--seeds", type=positive_int, help="number of seeds (0..N-1)")
    p_run.add_argument("--epochs", type=positive_int, help="override the profile's epochs")
    p_run.add_argument("--batch-size", type=positive_int, help="training batch (default 64)")
    p_run.add_argument("--lr", type=float, help="AdamW learning rate (default 5e-4)")
    p_run.add_argument(
        "--angles", help="test angles: 0,45,90 or 0:360:15 (default: every 30° quick, 15° full)"
    )
    p_run.add_argument(
        "--download", action="store_true", help="allow torchvision to download MNIST if no local copy exists"
    )
    p_run.add_argument(
        "--recipe",
        default="tuned",
        help="tuned (default: each variant's learning rate chosen by 'suite tune' on the validation "
        "split) | tutorial (lr 5e-4 for every variant) | a tuned-recipe FILE.toml",
    )
    p_run.add_argument(
        "--split",
        choices=("test", "validation"),
        default="test",
        help="test (default: train on every training image, measure on the test set) | validation "
        "(train on all but the last 10,000, measure and record per-epoch curves on those)",
    )
    p_run.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="auto",
        help="memory layout: auto (default: channels-last on CPU, where it trains 1.2-1.7x faster; "
        "contiguous on CUDA) | channels-last | contiguous",
    )
    p_run.add_argument(
        "--no-bench", action="store_true", help="skip the cost benchmark after training (no throughput.csv)"
    )
    p_run.add_argument(
        "--no-plots",
        action="store_true",
        help="write summary.md but draw no plots ('suite plot DIR' draws them)",
    )
    p_run.set_defaults(func=cmd_run, records_command=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops a run as Ctrl-C does: its directory stays resumable


def joined_selections(argv: list[str]) -> list[str]:
    """``--variants -e3nn-*`` as ``--variants=-e3nn-*``: argparse takes a value that starts with a
    dash for an option, and a selection that leaves out starts with one."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] == "--variants" and arg.startswith("-") and not arg.startswith("--"):
            joined[-1] = f"--variants={arg}"
        else:
            joined.append(arg)
    return joined


def main(argv: list[str] | None = None) -> int:
    argv = joined_selections(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        if getattr(args, "records_command", False):  # run, tune: record argv, resume by it
            return args.func(args, argv, parser)
        return args.func(args)
    except SuiteError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"suite: error: {error_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("suite: interrupted", file=sys.stderr)
        return 130
    finally:
        if in_main_thread:  # a handler set outside Python reads as None: restore the default
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


__all__ = ["main", "flag"]

if __name__ == "__main__":
    sys.exit(main())
