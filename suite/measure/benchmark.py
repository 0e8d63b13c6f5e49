"""Cost of a variant: parameters, FLOPs per image, throughput (inference, training), peak memory.

Timings follow timm's benchmark: synthetic input, warm-up steps, ``torch.cuda.synchronize()``
before reading the clock, the median of repeated timed steps, a batch-size sweep, and a retry
with half the batch on out-of-memory.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from suite import registry
from suite.environment import device_name
from suite.errors import UsageError
from suite.measure.twins import plain_twin
from suite.task import Task
from suite.training.builder import build_model, example_input
from suite.training.layout import to_channels_last, variant_layout
from suite.training.train import Recipe, make_optimizer

THROUGHPUT_FIELDS = (
    "variant", "bench", "form", "device", "device_name", "threads", "torch", "dtype", "layout",
    "compiled", "batch_size", "samples_per_s", "step_ms", "params", "flops", "peak_mem_mb",
)  # fmt: skip


@dataclass(frozen=True)
class BenchSettings:
    """What to measure; ``suite run`` uses a short sweep, ``suite bench`` the full one."""

    infer_batches: tuple[int, ...] = (1, 64, 1024)
    train_batches: tuple[int, ...] = (64, 1024)
    warmup: int = 3
    repeats: int = 10
    amp_bf16: bool = False
    layout: str = "contiguous"  # a layout choice, resolved per variant (suite.training.layout)
    compile: bool = False

    def __post_init__(self) -> None:
        """Refuse settings that would time nothing (no repeats: no median) or no batch."""
        if self.repeats < 1:
            raise UsageError(f"{self.repeats}: expected at least 1 timed repeat", param="repeats")
        if self.warmup < 0:
            raise UsageError(f"{self.warmup}: expected 0 or more warm-up steps", param="warmup")
        for param in ("infer_batches", "train_batches"):
            sizes = getattr(self, param)
            if any(size < 1 for size in sizes):
                raise UsageError(f"{sizes}: expected positive batch sizes", param=param)

    @classmethod
    def for_device(cls, device: torch.device, **overrides) -> BenchSettings:
        """The device's sweep, in the layout ``suite run`` trains in there unless overridden. On a
        2-core CPU single batch-1024 steps vary by several percent; 25 repeats steady the medians."""
        defaults: dict = {"layout": "auto", "repeats": 25}
        if device.type == "cuda":
            defaults.update(
                infer_batches=(1, 64, 1024, 8192), train_batches=(64, 1024, 8192), warmup=10, repeats=40
            )
        defaults.update(overrides)
        return cls(**defaults)


def flops_per_image(
    model: torch.nn.Module, device: torch.device | str = "cpu", task: Task | None = None
) -> int:
    """Floating-point operations of one eval-mode forward pass on one image of ``task``."""
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(example_input(task, 1, device))
    return int(counter.get_total_flops())


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU), before reading a clock."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    steps: dict[str, Callable[[], object]], device: torch.device, warmup: int, repeats: int
) -> dict[str, float]:
    """Median seconds of each step, timed in alternation (A B A B ...) so that a machine's
    drift (other load, clocks) falls on every form alike and their ratio stays fair."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    synchronize(device)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            began = time.perf_counter()
            step()
            synchronize(device)
            times[name].append(time.perf_counter() - began)
    return {name: statistics.median(t) for name, t in times.items()}


def _autocast(device: torch.device, settings: BenchSettings):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=settings.amp_bf16)


def infer_step(
    model: torch.nn.Module, x: torch.Tensor, device: torch.device, settings: BenchSettings
) -> Callable[[], object]:
    def step() -> object:
        with torch.inference_mode(), _autocast(device, settings):
            return model(x)

    return step


def train_step(
    model: torch.nn.Module, x: torch.Tensor, device: torch.device, settings: BenchSettings
) -> Callable[[], object]:
    with torch.no_grad():
        classes = model(x[:1]).shape[1]
    labels = torch.randint(0, classes, (x.shape[0],), device=device)
    optimizer = make_optimizer(model, Recipe())

    def step() -> object:
        with _autocast(device, settings):
            loss = F.cross_entropy(model(x), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    return step


def forms_of(model: torch.nn.Module, bench: str) -> dict[str, torch.nn.Module]:
    """The forms a model is measured in: as trained (``native``), escnn's ``exported`` plain
    PyTorch module (inference), and the plain-CNN ``twin`` with the same expanded widths."""
    forms = {"native": model}
    if bench == "infer" and hasattr(model, "export"):
        model.train()  # escnn caches non-leaf filters in eval mode, which cannot be deep-copied
        forms["exported"] = copy.deepcopy(model).export()
    twin = plain_twin(model)
    if twin is not None:
        forms["twin"] = twin
    return forms


Key = tuple[int, str]  # (which settings, form)


def measure_throughput(
    modules: dict[Key, tuple[torch.nn.Module, BenchSettings]],
    bench: str,
    batch: int,
    device: torch.device,
    task: Task | None = None,
) -> tuple[int, dict[Key, float], dict[Key, float | None]]:
    """(batch actually used, median step seconds and peak MB on CUDA per module); all modules, of
    every form and settings, are timed interleaved; the batch is halved on out-of-memory."""
    first = next(iter(modules.values()))[1]
    while True:
        try:
            x = example_input(task, batch, device)
            make = train_step if bench == "train" else infer_step
            steps = {}
            for key, (module, settings) in modules.items():
                module.train(bench == "train")
                steps[key] = make(module, x, device, settings)
            peaks: dict[Key, float | None] = {}
            for key, step in steps.items():
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats(device)
                    step()
                    synchronize(device)
                    peaks[key] = torch.cuda.max_memory_allocated(device) / 2**20
                else:
                    peaks[key] = None
            seconds = time_interleaved(steps, device, first.warmup, first.repeats)
            return batch, seconds, peaks
        except torch.OutOfMemoryError:
            if batch == 1:
                raise
            batch //= 2


def benchmark_variant(
    name: str,
    device: torch.device,
    settings: BenchSettings,
    budget: int | None = None,
    task: Task | None = None,
) -> list[dict]:
    """Throughput rows for one variant over both benches, its forms and the batch sweep."""
    return benchmark_settings(name, device, [settings], budget, task)[0]


def benchmark_settings(
    name: str,
    device: torch.device,
    compared: list[BenchSettings],
    budget: int | None = None,
    task: Task | None = None,
) -> list[list[dict]]:
    """Rows for each of ``compared`` (same batches and repeats; different layout, dtype or
    compilation), every step of every settings timed in one interleaved loop, so that an option's
    ratio to the default is not a machine's drift between two passes."""
    sweep = compared[0]
    modules: dict[str, dict[Key, tuple[torch.nn.Module, BenchSettings]]] = {"infer": {}, "train": {}}
    layouts = []
    for index, settings in enumerate(compared):
        torch.manual_seed(0)  # the same weights under every settings
        base = build_model(name, task, budget, device)
        if index == 0:  # the same model under every settings: counted once
            params, flops = registry.count_params(base), flops_per_image(base, device, task)
        layouts.append(variant_layout(settings.layout, device, name))
        for bench in modules:
            for form, module in forms_of(base, bench).items():
                if layouts[-1] == "channels-last":
                    to_channels_last(module)
                runnable = torch.compile(module) if settings.compile else module
                modules[bench][(index, form)] = (runnable, settings)
    rows: list[list[dict]] = [[] for _ in compared]
    for bench, batches in (("infer", sweep.infer_batches), ("train", sweep.train_batches)):
        for batch in batches:
            used, seconds, peaks = measure_throughput(modules[bench], bench, batch, device, task)
            for (index, form), (_, settings) in modules[bench].items():
                key = (index, form)
                rows[index].append({
                    "variant": name, "bench": bench, "form": form, "device": device.type,
                    "device_name": device_name(device), "threads": torch.get_num_threads(),
                    "torch": torch.__version__,
                    "dtype": "bf16-autocast" if settings.amp_bf16 else "fp32",
                    "layout": layouts[index].replace("-", "_"),
                    "compiled": settings.compile, "batch_size": used,
                    "samples_per_s": round(used / seconds[key], 1),
                    "step_ms": round(seconds[key] * 1e3, 4), "params": params, "flops": flops,
                    "peak_mem_mb": "" if peaks[key] is None else round(peaks[key], 2),
                })  # fmt: skip
    return rows
