"""The Ray executor's speed-up: one grid run serially and as tasks of a local Ray instance,
timed in interleaved rounds on one machine (its noise falls on both alike).

Rounds alternate their order (serial first, then Ray first, ...) so a drift in the machine's load
does not favour either. A Ray round's time includes starting the instance and its workers: what a
user pays for a local instance of N workers.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from suite.runs.config import RunConfig, load_run_data
from suite.runs.executors import RaySettings
from suite.runs.runner import Run, default_threads


def accuracy_rows(run_dir: Path) -> list[tuple]:
    with open(run_dir / "metrics.csv") as handle:
        return sorted(tuple(r.values()) for r in csv.DictReader(handle) if r["metric"].startswith("acc"))


def compare_executors(
    config: RunConfig,
    out: Path,
    command: list[str],
    ray: RaySettings,
    rounds: int = 2,
    serial_threads: int | None = None,
    progress: bool = False,
    say: Callable[[str], object] = print,
    threads: int | None = None,
) -> dict:
    """Time ``config``'s grid serially and on Ray (a local instance with ``ray.workers`` workers, or
    the cluster at ``ray.address``), ``rounds`` times each, interleaved; returns the timings and
    the serial-over-Ray ratio. Both train every unit on ``threads`` threads (default: the cores
    divided among Ray's workers), so their rows are the same; ``serial_threads`` gives the serial
    run another count (its rows may then differ: reductions round with the thread count)."""
    data = load_run_data(config)
    threads = threads or default_threads(ray)
    executors = {"serial": None, "ray-cluster" if ray.address else f"ray-{ray.workers}": ray}
    timings: list[dict] = []
    for index in range(1, rounds + 1):
        order = list(executors) if index % 2 else list(reversed(executors))
        for label in order:
            run_dir = out / f"round{index}-{label}"
            run = Run.create(run_dir, config, command, force=True)
            own = serial_threads or threads if label == "serial" else threads
            try:
                began = time.perf_counter()
                failed = run.execute(progress=progress, data=data, ray=executors[label], threads=own)
                wall = time.perf_counter() - began
            finally:
                run.close()
            timings.append({"round": index, "executor": label, "wall_s": round(wall, 2),
                            "failed": failed, "run_dir": str(run_dir)})  # fmt: skip
            say(f"round {index}, {label:8}: {wall:7.1f} s for {len(run.manifest['units'])} units"
                + (f" ({failed} failed)" if failed else ""))  # fmt: skip
    serial = [t["wall_s"] for t in timings if t["executor"] == "serial"]
    on_ray = [t["wall_s"] for t in timings if t["executor"] != "serial"]
    per_round = [s / r for s, r in zip(serial, on_ray, strict=True)]
    first = {t["executor"]: Path(t["run_dir"]) for t in timings if t["round"] == 1}
    rows = [accuracy_rows(path) for path in first.values()]
    return {
        "ray": f"cluster at {ray.address}" if ray.address else f"local instance, {ray.workers} workers",
        "rounds": rounds,
        "serial_threads": serial_threads or threads,
        "threads": threads,
        "units": len(config.units()),
        "timings": timings,
        "ratio_per_round": [round(r, 3) for r in per_round],
        "ratio": round(sum(serial) / sum(on_ray), 3),  # total serial time over total Ray time
        "ratio_median": round(statistics.median(per_round), 3),
        "same_accuracy_rows": rows[0] == rows[1],
    }
