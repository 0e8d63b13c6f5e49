"""``suite bench``: re-measure costs and print the ratios the suite's claims rest on."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import torch

from suite import registry
from suite.atomic import write_csv_atomic, write_text_atomic
from suite.cli.args import dataset_option, device_option, positive_int, variant_options
from suite.environment import describe, device_name, resolve_device
from suite.errors import UsageError
from suite.measure.benchmark import THROUGHPUT_FIELDS, BenchSettings, benchmark_settings
from suite.measure.limits import stack_limits
from suite.measure.ratios import option_ratios, ratios, twin_limits
from suite.plugins import load_variants
from suite.training.layout import LAYOUTS


def _batches(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"--batches {text!r}: expected sizes like 1,64,1024") from None
    if not values or min(values) <= 0:
        raise UsageError(f"--batches {text!r}: expected positive sizes like 1,64,1024")
    return values


def _measure(
    variants: list[str], device: torch.device, compared: list[BenchSettings], budget: str | None
) -> list[list[dict]]:
    """Benchmark each variant under each of ``compared`` (timed interleaved), printing the rows."""
    rows: list[list[dict]] = [[] for _ in compared]
    for name in variants:
        measured = benchmark_settings(name, device, compared, registry.parse_budget(budget))
        for collected, more in zip(rows, measured, strict=True):
            collected.extend(more)
        for r in (r for more in measured for r in more):
            print(
                f"{name:12} {r['bench']:5} {r['form']:8} {r['dtype']:>13} {r['layout']:>13} "
                f"{'compiled' if r['compiled'] else 'eager':8} batch {r['batch_size']:>5}: "
                f"{r['samples_per_s']:>10,.0f} img/s  {r['step_ms']:9.3f} ms/step  "
                f"{r['flops'] / 1e6:.2f} MFLOPs/img"
            )
    return rows


def _settings(
    args: argparse.Namespace, device: torch.device
) -> tuple[BenchSettings, BenchSettings, list[str]]:
    """The default settings, the asked-for ones, and the options (amp, compile, layout) in which
    they differ: each changed option is measured against the default, interleaved."""
    if args.amp not in (None, "bf16"):
        raise UsageError(f"--amp {args.amp!r}: only bf16 is supported")
    overrides: dict = {}
    if args.batches:
        overrides["infer_batches"] = overrides["train_batches"] = _batches(args.batches)
    if args.repeats:
        overrides["repeats"] = args.repeats
    default = BenchSettings.for_device(device, **overrides)
    options: dict = {"amp_bf16": args.amp == "bf16", "compile": args.compile}
    if args.layout is not None:
        options["layout"] = args.layout
    settings = BenchSettings.for_device(device, **overrides, **options)
    return default, settings, [k for k in options if getattr(settings, k) != getattr(default, k)]


def cmd_bench(args: argparse.Namespace, argv: list[str] | None = None, parser: object = None) -> int:
    """Measure, print the ratios and limits; with ``--out``, write them with the command line."""
    load_variants(args.plugin)
    device = resolve_device(args.device)
    default, settings, changed = _settings(args, device)
    variants = registry.select(args.variants or "cnn,stack-c4,gcnn-c4,escnn-c4")
    if args.against:
        return _against(args, argv, device, settings, variants)
    print(
        f"device: {device_name(device)} ({device.type}), {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; {settings}"
    )
    if changed:
        default_rows, rows = _measure(variants, device, [default, settings], args.budget)
    else:
        default_rows, (rows,) = [], _measure(variants, device, [settings], args.budget)
    print("\nratios (same run, same device):")
    found = ratios(rows)
    for r in found:
        print(f"  {r['variant']:12} {r['ratio']:34} batch {r['batch_size']:>5}: {r['value']:.3f}")
    limits = twin_limits(rows) + [
        row
        for name in variants
        for row in stack_limits(name, device, settings, registry.parse_budget(args.budget))
    ]
    _print_limits(limits)
    compared = option_ratios(default_rows, rows)
    if compared:
        chosen = ", ".join(f"{k}={getattr(settings, k)}" for k in changed)
        print(f"\nthroughput with {chosen} / default (same run, same device):")
        for r in compared:
            where = f"{r['variant']:12} {r['bench']:5} {r['form']:8} batch {r['batch_size']:>5}"
            print(f"  {where}: {r['value']:.3f}")
    pipeline = _pipeline(args, device) if args.pipeline else None
    if args.out:
        findings = {"ratios": found, "limits": limits, "option_ratios": compared, "pipeline": pipeline}
        _write(Path(args.out), device, settings, argv, [*default_rows, *rows], findings)
    return 0


def _against(
    args: argparse.Namespace,
    argv: list[str] | None,
    device: torch.device,
    settings: BenchSettings,
    variants: list[str],
) -> int:
    """Only the steps of ``variants`` against ``--against``'s, timed interleaved, and their ratios."""
    from suite.measure.versus import interleaved_steps, ratios_against

    reference = registry.get_variant(args.against).name
    names = [reference, *[v for v in variants if v != reference]]
    print(f"device: {device_name(device)} ({device.type}), {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; every variant's steps alternate in one loop per batch")  # fmt: skip
    rows = interleaved_steps(names, device, settings, registry.parse_budget(args.budget))
    for r in rows:
        print(f"{r['variant']:12} {r['bench']:5} {r['layout']:>13} batch {r['batch_size']:>5}: "
              f"{r['samples_per_s']:>10,.0f} img/s  {r['step_ms']:9.3f} ms/step")  # fmt: skip
    found = ratios_against(rows, reference)
    print(f"\nstep time / {reference}'s (same loop, same device):")
    for r in found:
        print(f"  {r['variant']:12} {r['bench']:5} batch {r['batch_size']:>5}: {r['step_ratio']:.3f}")
    if args.out:
        out = Path(args.out)
        write_csv_atomic(out / "steps.csv", rows, list(rows[0]))
        write_text_atomic(out / "bench.json", json.dumps({
            "environment": describe(device), "settings": asdict(settings),
            "command": ["suite", *argv] if argv else None, "against": reference, "step_ratios": found,
        }, indent=2, default=str))  # fmt: skip
        print(f"\nwritten: {out / 'steps.csv'}, {out / 'bench.json'}")
    return 0


def _print_limits(limits: list[dict]) -> None:
    """Each measured time (and, on CUDA, peak memory) against its physical limit's."""
    if not limits:
        return
    print("\nagainst the physical limit (time per image over the limit's, interleaved; 1.00 is the limit):")
    for r in limits:
        where = f"{r['variant']:12} {r['bench']:5} batch {r['batch_size']:>5}"
        peaks = (r["peak_mem_mb"], r["limit_peak_mem_mb"])
        measured = all(isinstance(p, float) for p in peaks)  # CUDA only
        memory = f"; peak {peaks[0]:.1f} MB against {peaks[1]:.1f} MB" if measured else ""
        print(f"  {where}: {r['ratio_to_limit']:.2f} of {r['limit']} "
              f"({r['step_ms']:.2f} ms against {r['limit_step_ms']:.2f} ms{memory})")  # fmt: skip


def _pipeline(args: argparse.Namespace, device: torch.device) -> dict:
    """Time the on-device data pipeline against torchvision's, and print the comparison."""
    from suite.data.datasets import load_dataset  # only when asked: loading takes a second
    from suite.measure.pipelines import compare_pipelines

    pipeline = compare_pipelines(
        load_dataset(args.dataset, args.data_dir),
        device,
        args.pipeline_images,
        args.layout or "auto",
        args.pipeline_rounds,
    )
    print(
        f"\npipeline, cnn-aug, {pipeline['images']:,} {args.dataset} training images on {device.type}, "
        f"{pipeline['layout']}, in {pipeline['rounds']} interleaved rounds:"
    )
    print(f"  on-device, no augmentation   {pipeline['on_device_no_aug_s']:.2f} s")
    print(f"  on-device, C4 augmentation   {pipeline['on_device_c4_aug_s']:.2f} s")
    print(f"  torchvision DataLoader + per-sample RandomRotation  {pipeline['torchvision_c4_aug_s']:.2f} s")
    print(f"  augmentation cost ratio (aug / no aug): {pipeline['aug_cost_ratio']:.3f}")
    print(f"  speed-up vs torchvision pipeline:       {pipeline['speedup_vs_torchvision']:.2f}x")
    print(
        f"  batches alone (no model): on-device {pipeline['batches_only_on_device_s']:.3f} s, "
        f"torchvision {pipeline['batches_only_torchvision_s']:.3f} s: "
        f"{pipeline['batches_only_speedup']:.1f}x"
    )
    if pipeline["speedup_ceiling"] is not None:
        print(
            f"  ceiling if on-device batches were free: {pipeline['speedup_ceiling']:.2f}x "
            "(the model's own steps, paid by every pipeline, bound the speed-up)"
        )
    return pipeline


def _write(
    out: Path,
    device: torch.device,
    settings: BenchSettings,
    argv: list[str] | None,
    rows: list[dict],
    findings: dict,
) -> None:
    """throughput.csv (every measured row) and bench.json: the environment, the settings, the
    command line and the ``findings`` (ratios, limits, option ratios, pipeline)."""
    write_csv_atomic(out / "throughput.csv", rows, THROUGHPUT_FIELDS)
    write_text_atomic(
        out / "bench.json",
        json.dumps(
            {
                "environment": describe(device),
                "settings": asdict(settings),
                "command": ["suite", *argv] if argv else None,
                **findings,
            },
            indent=2,
            default=str,
        ),
    )
    print(f"\nwritten: {out / 'throughput.csv'}, {out / 'bench.json'}")


def add_command(commands) -> None:
    p = commands.add_parser(
        "bench",
        parents=[variant_options("cnn,stack-c4,gcnn-c4,escnn-c4"), dataset_option(), device_option()],
        help="measure parameters, FLOPs, throughput; print ratios",
    )
    p.add_argument("--batches", help="batch sizes, e.g. 1,64,1024 (default: CPU 1,64,1024; CUDA up to 8192)")
    p.add_argument(
        "--repeats", type=positive_int, help="timed repetitions per point (default: CPU 25, CUDA 40)"
    )
    p.add_argument("--amp", help="bf16: autocast to bfloat16")
    p.add_argument(
        "--layout",
        choices=LAYOUTS,
        help="memory layout to compare against the default (auto: channels-last on CPU, contiguous on CUDA)",
    )
    p.add_argument(
        "--channels-last",
        dest="layout",
        action="store_const",
        const="channels-last",
        help="same as --layout channels-last",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the modules")
    p.add_argument(
        "--pipeline",
        action="store_true",
        help="also compare data pipelines (on-device vs torchvision DataLoader)",
    )
    p.add_argument(
        "--pipeline-images",
        type=positive_int,
        default=12_800,
        help="training images per pipeline measurement (default 12,800)",
    )
    p.add_argument(
        "--pipeline-rounds",
        type=positive_int,
        default=4,
        help="interleaved rounds the pipeline images are split into (default 4)",
    )
    p.add_argument(
        "--against",
        metavar="VARIANT",
        help="instead: time each variant's training and inference steps alternating with VARIANT's "
        "in one loop, and print their ratios to it (e.g. --variants e3nn-so2 --against escnn-c4)",
    )
    p.add_argument("--out", help="also write throughput.csv and bench.json into this folder")
    p.set_defaults(func=cmd_bench, records_command=True)
