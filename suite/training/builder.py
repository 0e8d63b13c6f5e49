"""The one place a model is built: variant, task, budget, device and memory layout.

The runner, the benchmark, the conformance checks, the data-pipeline comparison and
``load_model`` all build through here, so a model trained, measured and reloaded is the same
model (timm's ``create_model`` is the anchor).
"""

from __future__ import annotations

import torch

from suite import registry
from suite.task import TUTORIAL, Task
from suite.training.layout import apply_layout, variant_layout


def build_model(
    variant: str,
    task: Task | None = None,
    budget: int | None = None,
    device: torch.device | str = "cpu",
    layout: str = "contiguous",
) -> torch.nn.Module:
    """``variant`` built for ``task`` (the tutorial's when None) at ``budget`` parameters, on
    ``device``, in memory ``layout`` (``auto`` resolves per variant and device)."""
    device = torch.device(device)
    model = registry.get(variant, task=task, budget=budget).to(device)
    return apply_layout(model, variant_layout(layout, device, variant))


def example_input(task: Task | None, batch: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Random inputs of ``task``'s shape in [0, 1] (a channels-last model converts them itself)."""
    task = task or TUTORIAL
    return torch.rand(batch, task.channels, *task.spatial, device=device)
