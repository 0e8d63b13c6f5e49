"""One variant's steps against another's, timed in one interleaved loop (what `suite bench` measures
when asked to compare variants against one).

A claim such as "no more than 2× escnn-c4's training step" is a ratio between two models; timed in
two passes, it would also hold the machine's drift between them (this CPU is shared). Here every
variant's native training and inference steps alternate step by step, in the layout each trains
in, and the ratios come from the medians of that one loop.
"""

from __future__ import annotations

import torch

from suite.environment import device_name
from suite.measure.benchmark import BenchSettings, measure_throughput
from suite.task import Task
from suite.training.builder import build_model
from suite.training.layout import to_channels_last, variant_layout


def interleaved_steps(
    names: list[str],
    device: torch.device,
    settings: BenchSettings,
    budget: int | None = None,
    task: Task | None = None,
) -> list[dict]:
    """Median step time of each variant (native form) at each batch, all variants timed in one
    alternating loop per batch: a row per variant, bench (infer, train) and batch."""
    modules = {}
    layouts = {}
    for name in names:
        torch.manual_seed(0)
        model = build_model(name, task, budget, device)
        layouts[name] = variant_layout(settings.layout, device, name)
        if layouts[name] == "channels-last":
            to_channels_last(model)
        modules[name] = (model, settings)
    rows = []
    for bench, batches in (("infer", settings.infer_batches), ("train", settings.train_batches)):
        for batch in batches:
            used, seconds, _ = measure_throughput(modules, bench, batch, device, task)
            rows += [{
                "variant": name, "bench": bench, "batch_size": used, "layout": layouts[name],
                "step_ms": round(seconds[name] * 1e3, 4), "samples_per_s": round(used / seconds[name], 1),
                "device": device.type, "device_name": device_name(device), "threads": torch.get_num_threads(),
            } for name in names]  # fmt: skip
    return rows


def ratios_against(rows: list[dict], reference: str) -> list[dict]:
    """Each other variant's step time over ``reference``'s at the same bench and batch (>1: slower)."""
    base = {(r["bench"], r["batch_size"]): r["step_ms"] for r in rows if r["variant"] == reference}
    return [
        {"variant": r["variant"], "against": reference, "bench": r["bench"], "batch_size": r["batch_size"],
         "step_ratio": round(r["step_ms"] / base[(r["bench"], r["batch_size"])], 4)}
        for r in rows
        if r["variant"] != reference and (r["bench"], r["batch_size"]) in base
    ]  # fmt: skip
