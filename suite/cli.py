"""The ``suite`` console script: list, run, plot, bench, check."""

from __future__ import annotations

import argparse
import sys
import traceback
from datetime import datetime
from pathlib import Path

from suite.errors import SuiteError, UsageError
from suite.layout import LAYOUTS


def parse_budget(text: str | None) -> int | None:
    """``tutorial`` (or nothing) → None (the tutorial's widths); ``100k``, ``1.5m``, ``20000``."""
    if text is None or text.strip().lower() == "tutorial":
        return None
    raw = text.strip().lower().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(raw[-1:], 1)
    try:
        value = float(raw[:-1] if scale > 1 else raw) * scale
    except ValueError:
        raise UsageError(f"--budget {text!r}: expected 'tutorial' or a count like 100k") from None
    if value < 1_000:
        raise UsageError(f"--budget {text!r}: at least 1k parameters are needed")
    return int(value)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def load_variants(plugins: list[str]) -> list[str]:
    """Import the bundled variants, then each ``--plugin`` file; returns the plugins' variants."""
    import models
    from suite.plugins import load_plugin

    models.load_all()
    added: list[str] = []
    for path in plugins:
        added += load_plugin(Path(path))
    return added


# --- commands ------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from suite import registry

    load_variants(args.plugin)
    budget = parse_budget(args.budget)
    chosen = registry.select(args.variants)
    rows = []
    for name in chosen:
        spec = registry.get_variant(name)
        params = registry.count_params(spec.build(budget=budget))
        rows.append((spec.family, name, spec.claims, spec.augment, f"{params:,}", spec.description))
    header = ("family", "name", "claims", "augment", "params", "description")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)) + "  " + header[5])
    for family in dict.fromkeys(r[0] for r in rows):
        for row in (r for r in rows if r[0] == family):
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[5])
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from suite import registry
    from suite.evaluate import parse_angles, sweep
    from suite.profiles import get_profile
    from suite.runner import Run, RunConfig, load_run_data
    from suite.train import Recipe

    command = ["suite", *sys.argv[1:]]
    data = None
    if args.resume:
        if args.force:
            raise UsageError("--resume and --force contradict each other; pick one")
        run = Run.open(Path(args.resume), command)
        load_variants(run.config.plugins)
    else:
        profile = get_profile(args.profile)
        plugins = [str(Path(p).resolve()) for p in args.plugin]
        from_plugins = load_variants(plugins)
        if args.lr is not None and not args.lr > 0:
            raise UsageError(f"--lr must be a positive number, got {args.lr}")
        recipe = Recipe(
            epochs=args.epochs or profile.epochs,
            batch_size=args.batch_size or Recipe.batch_size,
            lr=args.lr or Recipe.lr,
        )
        config = RunConfig(
            # without --variants: the profile's, plus every variant the --plugin files register
            variants=registry.select(args.variants)
            if args.variants
            else list(dict.fromkeys([*registry.select(profile.variants), *from_plugins])),
            profile=profile.name,
            seeds=list(range(args.seeds or profile.seeds)),
            recipe=recipe,
            device=args.device,
            budget=parse_budget(args.budget),
            data_dir=str(args.data_dir) if args.data_dir else None,
            download=args.download,
            plugins=plugins,
            bench=not args.no_bench,
            layout=args.layout,
            angles=list(parse_angles(args.angles) if args.angles else sweep(profile.sweep_step)),
        )
        from suite.environment import resolve_device

        resolve_device(config.device)  # bad input fails before anything is written
        data = load_run_data(config)
        out = Path(args.out) if args.out else default_run_dir(profile.name)
        run = Run.create(out, config, command, force=args.force)
    print(f"run directory: {run.out}", file=sys.stderr)
    try:
        failed = run.execute(progress=not args.no_progress, data=data, jobs=args.jobs)
    except KeyboardInterrupt:
        print(f"interrupted; finish it with: suite run --resume {run.out}", file=sys.stderr)
        return 130
    from suite.report import write_report

    try:
        write_report(run.out)
    except SuiteError as exc:  # e.g. every unit failed: nothing to report, the reasons are logged
        print(f"no report: {exc}", file=sys.stderr)
    print(f"results: {run.out / 'summary.md'}", file=sys.stderr)
    if failed:
        print(f"{failed} unit(s) failed; reasons are in {run.out / 'manifest.json'}", file=sys.stderr)
        return 1
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from suite.report import write_report

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise SuiteError(f"{run_dir}: no such run directory")
    for path in write_report(run_dir):
        print(path)
    return 0


def default_run_dir(profile: str) -> Path:
    return Path("results") / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{profile}"


# --- parser --------------------------------------------------------------------------------


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage fault as one line (exit code 2), not usage + message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"suite: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="suite",
        description="Compare ways to make an MNIST classifier invariant to 90° rotations (C4).",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser
    )

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--variants",
            help="comma-separated names, patterns, 'core' or 'all' (default: all; for run, the "
            "profile's variants plus those of --plugin files)",
        )
        p.add_argument(
            "--plugin",
            action="append",
            default=[],
            metavar="FILE.py",
            help="a Python file that registers more variants (repeatable)",
        )
        p.add_argument("--budget", help="'tutorial' (≈14k parameters, default) or e.g. 100k")

    p_list = commands.add_parser("list", help="show the registered variants")
    common(p_list)
    p_list.set_defaults(func=cmd_list)

    p_run = commands.add_parser("run", help="train and evaluate variants; write a run directory")
    common(p_run)
    p_run.add_argument("--profile", default="quick", help="smoke | quick (default) | full")
    p_run.add_argument("--seeds", type=positive_int, help="number of seeds (0..N-1)")
    p_run.add_argument("--epochs", type=positive_int, help="override the profile's epochs")
    p_run.add_argument("--batch-size", type=positive_int, help="training batch (default 64)")
    p_run.add_argument("--lr", type=float, help="AdamW learning rate (default 5e-4)")
    p_run.add_argument(
        "--angles", help="test angles: 0,45,90 or 0:360:15 (default: every 30° quick, 15° full)"
    )
    p_run.add_argument("--device", default="auto", help="auto (default) | cpu | cuda")
    p_run.add_argument("--out", help="run directory (default: results/<time>-<profile>)")
    p_run.add_argument("--data-dir", help="folder with torchvision's MNIST/raw IDX files")
    p_run.add_argument(
        "--download",
        action="store_true",
        help="allow torchvision to download MNIST if no local copy exists",
    )
    p_run.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run")
    p_run.add_argument("--force", action="store_true", help="overwrite an existing run directory")
    p_run.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p_run.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        help="units trained at once, each in its own process (default 1; on a GPU 8-16 is faster)",
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
    p_run.set_defaults(func=cmd_run)

    p_plot = commands.add_parser("plot", help="rebuild summary.md and plots/ from a run's CSVs")
    p_plot.add_argument("run_dir", metavar="RUN_DIR")
    p_plot.set_defaults(func=cmd_plot)

    from suite import bench_cli, conformance

    conformance.add_command(commands)
    bench_cli.add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SuiteError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"suite: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("suite: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
