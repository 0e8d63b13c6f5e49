"""What ``suite run`` and ``suite tune`` share: start a run directory or resume one, then execute it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from suite.cli.args import error_line, positive_int
from suite.errors import SuiteError, UsageError


def settings_given(
    argv: list[str], command_parser: argparse.ArgumentParser, settings: tuple[str, ...]
) -> list[str]:
    """The options on ``argv`` that set what decides a run's numbers (``settings``: their dests)."""
    deciding = [
        option
        for action in command_parser._actions  # noqa: SLF001 - argparse has no public API for this
        if action.dest.removeprefix("no_") in settings or action.dest == "out"
        for option in action.option_strings
    ]
    return [o for o in deciding if any(a == o or a.startswith(o + "=") for a in argv)]


def command_parser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The sub-parser of command ``name``."""
    return parser._subparsers._group_actions[0].choices[name]  # noqa: SLF001 - no public API


def start_or_resume(
    args: argparse.Namespace,
    argv: list[str],
    command_parser: argparse.ArgumentParser,
    settings: tuple[str, ...],
    kind: str,
    given: Callable[[], dict],
):  # noqa: ANN201 - a suite.runs.runner.Run (imported lazily: the CLI starts fast)
    """A new run directory started by the API's one start sequence (``suite.api.start``) from
    the ``given()`` settings, or the ``--resume``d one (its plugins only as passed again with
    --plugin); the options that would change a resumed run's numbers are refused in one line.
    The run holds its directory's lock: :func:`execute` ends it."""
    from suite.api import start
    from suite.runs.runner import Run, RunDirectoryExists

    command = ["suite", *argv]
    from suite.runs.executors import check_reachable

    check_reachable(ray_settings(args))  # bad executor options fail before anything is loaded or written
    if args.resume:
        if args.force:
            raise UsageError("--resume and --force contradict each other; pick one")
        refused = settings_given(argv, command_parser, settings)
        if refused:
            raise UsageError(
                f"--resume finishes a run with its own settings; {', '.join(refused)} cannot change them "
                "(start a new run with --out instead)"
            )
        run = Run.open(Path(args.resume), command, getattr(args, "plugin", []), args.allow_changed_plugins,
                       args.break_lock)  # fmt: skip
        if run.manifest.get("kind", "run") != kind:
            run.close()
            made_by = run.manifest.get("kind", "run")
            raise UsageError(f"{args.resume} was made by 'suite {made_by}'; resume it with that command")
        note = executor_as_started(args, argv, run.manifest.get("command") or [])
        if note:
            print(note, file=sys.stderr)
        return run, None
    try:
        run, data = start(kind, given(), command, args.out, plugins=args.plugin, force=args.force,
                          break_lock=args.break_lock)  # fmt: skip
    except RunDirectoryExists as exc:
        raise SuiteError(
            f"run directory {exc.out} already exists; pass --resume {exc.out} to finish it "
            "or --force to start it again"
        ) from None
    return run, data


EXECUTOR_OPTIONS = ("--executor", "--jobs", "--ray-address", "--gpus-per-unit")


def executor_as_started(args: argparse.Namespace, argv: list[str], started: list[str]) -> str:
    """A resume given no executor option runs its units as many at once as the recorded command
    did (a run started with ``--jobs 2`` would otherwise finish one unit at a time, each on its
    recorded share of the cores): ``args`` takes the recorded --jobs (and --gpus-per-unit), and
    the line returned says so. A Ray cluster or ``--executor ray`` is not reused (it may be what
    stopped the run); a resume without options trains those here."""
    if any(a == o or a.startswith(o + "=") for a in argv for o in EXECUTOR_OPTIONS):
        return ""
    recorded, _ = run_options().parse_known_args(started)  # the same parser read it when it started
    if recorded.ray_address or recorded.executor == "ray":
        return "it started on Ray: this resume trains here (pass the executor options to finish it on Ray)"
    if recorded.jobs == 1:
        return ""
    args.jobs, args.gpus_per_unit = recorded.jobs, recorded.gpus_per_unit
    options = f"--jobs {recorded.jobs}" + (
        f" --gpus-per-unit {recorded.gpus_per_unit:g}" if recorded.gpus_per_unit else ""
    )
    return f"resuming as it started: {options} (give --jobs 1 to train one unit at a time)"


def execute(run, data, args: argparse.Namespace, report: Callable[[Path], object]) -> int:  # noqa: ANN001
    """Train the run's pending units, write its report, say where everything is; then release
    the run directory. A run stopped by a fault (a lost Ray cluster, a full disk) says how to
    finish it, in one line."""
    print(f"run directory: {run.out}", file=sys.stderr)
    finish = resume_command(run.manifest, run.out)
    try:
        failed = run.execute(
            progress=not args.no_progress, data=data, ray=ray_settings(args), threads=args.threads
        )
        try:
            report(run.out)
        except SuiteError as exc:  # e.g. every unit failed: nothing to report, the reasons are logged
            print(f"no report: {error_line(exc)}", file=sys.stderr)
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C; SIGTERM (`timeout`, `kill`, a batch system)
        print(f"interrupted; finish it with: {finish}", file=sys.stderr)
        return 130
    except SuiteError as exc:
        print(f"suite: error: {error_line(exc)}; the run stopped; finish it with: {finish}", file=sys.stderr)
        return exc.exit_code
    finally:
        run.close()
    if failed:
        print(f"{failed} unit(s) failed; reasons are in {run.out / 'manifest.json'}", file=sys.stderr)
        return 1
    return 0


def resume_command(manifest: dict, out: Path) -> str:
    """The command line that finishes this run directory: a study's needs its NAME too."""
    kind = manifest.get("kind", "run")
    study = (manifest.get("study") or {}).get("name") if kind == "study" else None
    return " ".join(["suite", kind, *([study] if study else []), "--resume", str(out)])


def ray_settings(args: argparse.Namespace):  # noqa: ANN201 - a RaySettings or None
    from suite.runs.executors import choose_executor

    return choose_executor(args.executor, args.jobs, args.ray_address, args.gpus_per_unit)


def run_options() -> argparse.ArgumentParser:
    """Where a run goes (--out, --resume, --force) and where its units execute (--executor ...)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--out", help="run directory")
    parent.add_argument(
        "--resume", metavar="RUN_DIR", help="finish an interrupted run with its own settings (only "
        "--no-progress, the executor options, --break-lock and its --plugin files may be given with it)"
    )  # fmt: skip
    parent.add_argument("--force", action="store_true", help="overwrite an existing run directory")
    parent.add_argument(
        "--break-lock", action="store_true",
        help="take over the run directory's lock although another host recorded it (only when that "
        "run is over: two writers corrupt a run directory)",
    )  # fmt: skip
    parent.add_argument(
        "--allow-changed-plugins", action="store_true",
        help="with --resume: accept --plugin files whose SHA-256 differs from the one the run recorded",
    )  # fmt: skip
    parent.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parent.add_argument(
        "--executor", choices=("local", "ray"), default="local",
        help="local (default: one unit after another in this process) | ray (units as Ray tasks: a "
        "local Ray instance, or the cluster at --ray-address)",
    )  # fmt: skip
    parent.add_argument(
        "--jobs", type=positive_int, default=1,
        help="units at once: shorthand for a local Ray instance with N workers (default 1: no Ray)",
    )  # fmt: skip
    parent.add_argument(
        "--ray-address", metavar="HOST:PORT",
        help="join this running Ray cluster (printed by 'ray start --head') instead of starting one",
    )  # fmt: skip
    parent.add_argument(
        "--gpus-per-unit", type=float, default=0,
        help="GPU share of each Ray task, e.g. 0.25 packs four units onto one GPU (default 0)",
    )  # fmt: skip
    parent.add_argument(
        "--threads", type=positive_int,
        help="torch threads of every unit, a setting of its numbers (reductions round with it); "
        "default: this machine's cores, divided among --jobs workers; a Ray task asks that many CPUs "
        "(on a cluster, no more than a node has)",
    )  # fmt: skip
    return parent
