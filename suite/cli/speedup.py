"""``suite speedup``: the wall-time ratio of serial over Ray on this machine, for one study grid."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from suite.cli.args import dataset_option, device_option, positive_int
from suite.cli.study import parse_values


def cmd_speedup(args: argparse.Namespace, argv: list[str], parser: argparse.ArgumentParser) -> int:
    from suite.atomic import write_text_atomic
    from suite.environment import describe, resolve_device
    from suite.plugins import load_variants
    from suite.runs.executors import RaySettings
    from suite.runs.speedup import compare_executors
    from suite.runs.studies import study_config

    load_variants(())
    config = study_config(
        args.study, args.scale, args.variants, args.seeds, args.values, args.epochs, args.dataset,
        args.device, args.data_dir, args.recipe,
    )  # fmt: skip
    device = resolve_device(config.device)
    out = Path(args.out or Path("results") / f"speedup-{device.type}")
    ray = RaySettings(address=args.ray_address, workers=None if args.ray_address else args.jobs)
    where = (
        f"the Ray cluster at {ray.address}"
        if ray.address
        else f"a local Ray instance with {ray.workers} workers"
    )
    print(f"{len(config.units())} units of the {args.study} study ({args.scale} scale), serially and on "
          f"{where}, {args.rounds} interleaved rounds; in {out}", file=sys.stderr)  # fmt: skip
    found = compare_executors(
        config, out, ["suite", *argv], ray, args.rounds, args.serial_threads, not args.no_progress,
        say=lambda line: print(line, file=sys.stderr), threads=args.threads,
    )  # fmt: skip
    found = {"command": ["suite", *argv], "environment": describe(device), **found}
    write_text_atomic(out / "speedup.json", json.dumps(found, indent=2))
    threads = found["serial_threads"]
    per_round = ", ".join(f"{r:.2f}" for r in found["ratio_per_round"])
    rows = "identical" if found["same_accuracy_rows"] else "differ (other thread counts round differently)"
    print(
        f"serial ({threads} thread{'s' if threads != 1 else ''}) / Ray ({found['ray']}): "
        f"{found['ratio']:.2f}x (total time; per round {per_round}); accuracy rows {rows}"
    )
    print(f"written: {out / 'speedup.json'}", file=sys.stderr)
    return 0 if not any(t["failed"] for t in found["timings"]) else 1


def add_command(commands) -> None:  # noqa: ANN001 - argparse's sub-parsers action
    from suite.runs.studies import SCALES, STUDIES

    p = commands.add_parser(
        "speedup",
        parents=[dataset_option(), device_option()],
        help="time a study grid serially and on a local Ray instance, interleaved; print serial / Ray",
    )
    p.add_argument("study", metavar="NAME", nargs="?", default="data", choices=list(STUDIES),
                   help=f"{' | '.join(STUDIES)} (default data)")  # fmt: skip
    p.add_argument("--scale", choices=SCALES, default="cpu", help="the study's scale (default cpu)")
    p.add_argument("--variants", default="cnn,gcnn-c4", help="default cnn,gcnn-c4")
    p.add_argument("--seeds", type=positive_int, default=2, help="default 2")
    p.add_argument("--values", type=parse_values, default=[1000.0, 3000.0], help="the axis values "
                   "(default 1000,3000: the data study's smaller training sets)")  # fmt: skip
    p.add_argument("--epochs", type=positive_int, help="override the scale's epochs")
    p.add_argument("--recipe", default="tutorial", help="tutorial (default) | tuned | FILE.toml")
    p.add_argument(
        "--jobs", type=positive_int, default=2, help="workers of the local Ray instance (default 2)"
    )
    p.add_argument("--ray-address", metavar="HOST:PORT", help="time a running Ray cluster instead")
    p.add_argument("--rounds", type=positive_int, default=2, help="interleaved rounds of each (default 2)")
    p.add_argument("--threads", type=positive_int, help="torch threads of every unit, serial and on Ray "
                   "(default: the cores divided among the Ray workers): both give the same rows")  # fmt: skip
    p.add_argument("--serial-threads", type=positive_int, help="another thread count for the serial run "
                   "only (its rows may then differ from Ray's)")  # fmt: skip
    p.add_argument(
        "--out", help="folder for the timed runs and speedup.json (default results/speedup-DEVICE)"
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=cmd_speedup, records_command=True)
