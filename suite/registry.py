"""The variant registry: a variant is one decorated factory; the runner knows models only here."""

from __future__ import annotations

import fnmatch
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

from suite.errors import UsageError
from suite.task import Task

FAMILIES = ("baseline", "hand-rolled", "escnn", "e3nn", "plugin")
SYMMETRIES = ("none", "C4", "D4", "O", "Oh")
# o: a random rotation of the cube per volume; so3: a uniformly random rotation of space
AUGMENTATIONS = ("none", "c4", "so2", "o", "so3")
# Names become file names and CSV keys: lowercase letters, digits, '-' and '.', starting with a
# letter or digit (so no name can contain a separator such as '__' or '/').
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]*")

Factory = Callable[..., torch.nn.Module]


@dataclass(frozen=True)
class Variant:
    """What a variant declares: how to build it, what it claims, how it wants to be trained."""

    name: str
    description: str
    family: str
    claims: str
    augment: str
    factory: Factory
    module: str
    core: bool = False
    channels_last: bool = True  # runs channels-last under --layout auto on CPU (suite.training.layout)
    tasks: tuple[str, ...] = ("2d",)  # the task kinds it serves (suite.task.Task.kind)
    why_not_core: str = ""  # why a default run leaves it out (its summary says so)

    @property
    def takes_task(self) -> bool:
        """Whether the factory is built for a task; ``factory(budget)`` (the first contract,
        which plugins may still use) builds 28×28 one-channel ten-class models only."""
        parameters = inspect.signature(self.factory).parameters.values()
        return any(p.name == "task" or p.kind is p.VAR_KEYWORD for p in parameters)

    def build(self, task: Task | None = None, **kwargs) -> torch.nn.Module:
        """The model for ``task`` (None: the factory's default, the tutorial's 28×28×1 ten-class
        task for 2-D variants); keyword arguments that are None are dropped so factory defaults
        apply."""
        if task is not None:  # None: the factory's own default (the tutorial's, for 2-D variants)
            self.check_serves(task)
            if self.takes_task:
                kwargs["task"] = task
        return self.factory(**{k: v for k, v in kwargs.items() if v is not None})

    def check_serves(self, task: Task) -> None:
        """One line unless this variant can be built for ``task`` (its kind; a first-contract
        factory only for the tutorial's task)."""
        if task.kind not in self.tasks:
            raise UsageError(
                f"{self.name} serves {', '.join(self.tasks)} data, not {task.kind} ({task.describe()})"
            )
        if not self.takes_task and not task.is_tutorial:
            raise UsageError(
                f"{self.name} is built by factory(budget), which makes 28×28 one-channel ten-class "
                f"models; this data set is {task.describe()}: give its factory a task parameter "
                "(README: 'Add a variant')"
            )


_REGISTRY: dict[str, Variant] = {}


def register(
    name: str,
    *,
    description: str,
    family: str,
    claims: str = "none",
    augment: str = "none",
    core: bool = False,
    channels_last: bool = True,
    tasks: tuple[str, ...] = ("2d",),
    why_not_core: str = "",
) -> Callable[[Factory], Factory]:
    """Decorator that registers ``factory(budget=None, task=TUTORIAL) -> nn.Module`` under ``name``
    (a factory without ``task`` serves the tutorial's 28×28 one-channel ten-class task only).

    ``core`` marks the five variants the default ``quick`` run compares; ``channels_last=False``
    keeps a model whose layers gain nothing from channels-last in the default layout when the
    layout is ``auto`` (measure the gain with the benchmark's layout comparison);
    ``why_not_core``: why a default run leaves a variant out (too slow for it, a symmetry the data
    does not have), which that run's summary states.
    """
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"variant name {name!r}: use lowercase letters, digits, '-' and '.' (e.g. 'my-cnn-c4')"
        )
    for value, allowed, what in (
        (claims, SYMMETRIES, "claims"),
        (augment, AUGMENTATIONS, "augment"),
    ):
        if value not in allowed:
            raise ValueError(f"variant {name!r}: {what}={value!r}, expected one of {allowed}")
    if not family:
        raise ValueError(f"variant {name!r}: family must not be empty")

    def decorate(factory: Factory) -> Factory:
        if name in _REGISTRY:
            raise ValueError(
                f"variant {name!r} is already registered (by {_REGISTRY[name].module}); pick another name"
            )
        _REGISTRY[name] = Variant(
            name, description, family, claims, augment, factory, factory.__module__, core, channels_last,
            tuple(tasks), why_not_core,
        )  # fmt: skip
        return factory

    return decorate


def unregister(name: str) -> None:
    """Remove a variant (tests and failed plugins use it)."""
    _REGISTRY.pop(name, None)


def names(pattern: str = "*") -> list[str]:
    """Registered names matching an fnmatch pattern, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def family_order(names_: list[str]) -> list[str]:
    """Names grouped by family (baseline first, plugins last), then alphabetically."""

    def key(name: str) -> tuple[int, str]:
        family = _REGISTRY[name].family
        return (FAMILIES.index(family) if family in FAMILIES else len(FAMILIES), name)

    return sorted(names_, key=key)


def get_variant(name: str) -> Variant:
    if name not in _REGISTRY:
        raise UsageError(f"unknown variant {name!r}; known variants: {', '.join(names())}")
    return _REGISTRY[name]


def get(name: str, task: Task | None = None, **kwargs) -> torch.nn.Module:
    """Build the model registered as ``name`` for ``task`` (the tutorial's when None)."""
    return get_variant(name).build(task, **kwargs)


def select(spec: str | None, kind: str = "2d") -> list[str]:
    """Names from a comma-separated list of names or patterns; ``all`` (or None) means every
    variant serving ``kind`` of task (``2d`` images, ``3d`` volumes), ``core`` its core variants,
    and a pattern the matching ones that serve it; a name given in full is taken as given (a
    variant that cannot serve the data is then refused in one line). A part starting with ``-``
    leaves its matches out (``all,-e3nn-*``; a list that starts with one starts from ``all``):
    the costliest variants are dropped without naming every other one."""
    serving = [n for n in names() if kind in _REGISTRY[n].tasks]
    parts = [p.strip() for p in (spec or "all").split(",") if p.strip()] or ["all"]
    if parts[0].startswith("-"):
        parts.insert(0, "all")
    chosen: list[str] = []
    for part in parts:
        if part.startswith("-"):
            dropped = _matches(part[1:], serving)
            chosen = [n for n in chosen if n not in dropped]
        else:
            chosen.extend(m for m in _matches(part, serving) if m not in chosen)
    if not chosen:
        raise UsageError(f"the selection {spec!r} leaves no variant; known variants: {', '.join(names())}")
    return chosen


def _matches(part: str, serving: list[str]) -> list[str]:
    """The variants one part of a selection names: ``all``, ``core``, a pattern or a name."""
    if part in ("all", "core"):
        return family_order([n for n in serving if part == "all" or _REGISTRY[n].core])
    if not any(c in part for c in "*?["):
        return [get_variant(part).name]
    matches = [n for n in names(part) if n in serving]
    if not matches:
        raise UsageError(f"no variant matches {part!r}; known variants: {', '.join(names())}")
    return matches


def left_out(chosen: list[str], kind: str) -> dict[str, str]:
    """The variants serving ``kind`` that a default (core) selection leaves out, each with why."""
    serving = [n for n in names() if kind in _REGISTRY[n].tasks and n not in chosen]
    return {n: _REGISTRY[n].why_not_core or "not a core variant" for n in family_order(serving)}


def parse_budget(text: str | int | None) -> int | None:
    """``tutorial`` (or None) → None (the tutorial's widths); ``100k``, ``1.5m``, ``20000`` → a count."""
    if text is None or isinstance(text, int):
        value = text
    elif text.strip().lower() == "tutorial":
        return None
    else:
        raw = text.strip().lower().replace("_", "").replace(",", "")
        scale = {"k": 1_000, "m": 1_000_000}.get(raw[-1:], 1)
        try:
            value = int(float(raw[:-1] if scale > 1 else raw) * scale)
        except ValueError:
            raise UsageError(f"{text!r}: expected 'tutorial' or a count like 100k", param="budget") from None
    if value is not None and value < 1_000:
        raise UsageError(f"{text!r}: at least 1k parameters are needed", param="budget")
    return value


def count_params(model: torch.nn.Module) -> int:
    """Trainable parameters (escnn's basis coefficients, not its expanded filters)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
