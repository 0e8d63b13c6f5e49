"""Each form against its physical limit, timed in one interleaved loop.

A k-copy stack (a model with ``copies`` and ``one_copy()``, such as ``stack-c4``) can cost no less
than k times its one-copy CNN: the ratio of its time per image to k × the one-copy time says how
close the implementation comes (1.0 is the limit; the seed's "4× compute" is a claim about the
method, so the suite's own code should add nothing to it). Expanded group convolutions have their
plain-CNN twin as the limit (``suite.measure.ratios``).
"""

from __future__ import annotations

import torch

from suite.measure.benchmark import BenchSettings, measure_throughput
from suite.task import Task
from suite.training.builder import build_model
from suite.training.layout import apply_layout, variant_layout

LIMIT_FIELDS = ("variant", "limit", "bench", "batch_size", "step_ms", "limit_step_ms", "ratio_to_limit",
                "peak_mem_mb", "limit_peak_mem_mb")  # fmt: skip


def stack_limits(
    name: str,
    device: torch.device,
    settings: BenchSettings,
    budget: int | None = None,
    task: Task | None = None,
) -> list[dict]:
    """Rows for a stack variant: its step time against ``copies`` × its one-copy CNN's, per bench
    and batch, the two timed interleaved; [] for a variant that is not a stack."""
    model = build_model(name, task, budget)
    copies = getattr(model, "copies", None)
    if not copies or not hasattr(model, "one_copy"):
        return []
    layout = variant_layout(settings.layout, device, name)
    forms = {(0, "native"): model, (0, "one copy"): model.one_copy()}
    forms = {key: apply_layout(module.to(device), layout) for key, module in forms.items()}
    rows = []
    for bench, batches in (("infer", settings.infer_batches), ("train", settings.train_batches)):
        modules = {key: (module, settings) for key, module in forms.items()}
        for batch in batches:
            used, seconds, peaks = measure_throughput(modules, bench, batch, device, task)
            native, single = seconds[(0, "native")], seconds[(0, "one copy")]
            rows.append({
                "variant": name, "limit": f"{copies} × one copy", "bench": bench, "batch_size": used,
                "step_ms": 1000 * native, "limit_step_ms": 1000 * copies * single,
                "ratio_to_limit": native / (copies * single), "peak_mem_mb": peaks[(0, "native")],
                "limit_peak_mem_mb": peaks[(0, "one copy")],
            })  # fmt: skip
    return rows
