"""A run's cost measurements: each variant benchmarked once (not per seed), after training, and
recorded like a unit (its rows in ``units/bench/``, its status in the manifest's ``bench``)."""

from __future__ import annotations

import time

import torch

from suite.errors import failure_reason
from suite.measure.benchmark import BenchSettings, benchmark_variant
from suite.runs.ledger import RunLedger, log
from suite.task import Task


def bench_settings(profile: str, device: torch.device, layout: str, kind: str = "2d") -> BenchSettings:
    """Short sweeps for the smoke profile (shorter still on volumes); the full sweep otherwise;
    in the run's layout."""
    if profile == "smoke" and kind == "3d":
        return BenchSettings(infer_batches=(1, 8), train_batches=(8,), warmup=1, repeats=2, layout=layout)
    if profile == "smoke":
        return BenchSettings(infer_batches=(1, 64), train_batches=(64,), warmup=1, repeats=3, layout=layout)
    if device.type == "cpu":  # training at batch 1024 is for `suite bench`; keep runs short
        return BenchSettings(train_batches=(64,), layout=layout)
    return BenchSettings.for_device(device, layout=layout)


def run_benchmarks(ledger: RunLedger, device: torch.device, task: Task) -> None:
    """Cost of each variant not yet measured: parameters, FLOPs, throughput. One variant's
    failure is recorded and the others measured."""
    config = ledger.config
    status = ledger.manifest.setdefault("bench", {})
    settings = bench_settings(config.profile, device, config.layout, task.kind)
    for variant in config.variants:
        if status.get(variant, {}).get("status") == "done" and ledger.store.has_bench(variant):
            continue
        began = time.perf_counter()
        try:
            rows = benchmark_variant(variant, device, settings, config.budget, task)
        except Exception as exc:  # noqa: BLE001 - one variant's failure must not sink the rest
            reason = failure_reason(exc)
            status[variant] = {"status": "failed", "reason": reason}
            ledger.save_manifest()
            log(f"benchmark {variant}: FAILED ({reason})")
            continue
        ledger.store.write_bench(variant, rows)
        status[variant] = {"status": "done", "seconds": round(time.perf_counter() - began, 1)}
        ledger.save_manifest()
        best = max(r["samples_per_s"] for r in rows if r["bench"] == "infer")
        log(
            f"benchmark {variant}: {rows[0]['flops'] / 1e6:.2f} MFLOPs/image, "
            f"up to {best:,.0f} images/s inference"
        )
