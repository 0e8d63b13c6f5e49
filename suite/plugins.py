"""User files that register variants with the same decorator as ``models/``."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path

from suite import registry
from suite.errors import SuiteError

# module name of each loaded plugin file → the variants it registered (loading twice returns them)
_LOADED: dict[str, list[str]] = {}


def load_variants(plugins: Iterable[str | Path] = ()) -> list[str]:
    """Import the bundled variants, then each plugin file; returns the plugins' variants."""
    import models

    models.load_all()
    added: list[str] = []
    for path in plugins:
        added += [name for name in load_plugin(Path(path)) if name not in added]
    return added


def load_plugin(path: Path) -> list[str]:
    """Import ``path``; returns the variant names it registered. Faults become one-line errors.

    A file is imported once per process: loading it again (a notebook cell run twice) returns
    the variants of the first import instead of registering them a second time.
    """
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"{path}: no such file", param="plugin")
    module_name = f"c4suite_plugin_{abs(hash(str(path.resolve())))}"
    if module_name in _LOADED and all(n in registry.names() for n in _LOADED[module_name]):
        return list(_LOADED[module_name])
    before = set(registry.names())
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SuiteError(f"{path}: not an importable Python file", param="plugin")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any fault in a user's file is reported in one line
        _forget(module_name, set(registry.names()) - before)
        raise SuiteError(f"{path}: {type(exc).__name__}: {exc}", param="plugin") from exc
    added = sorted(set(registry.names()) - before)
    if not added:
        _forget(module_name, set())
        raise SuiteError(
            f"{path}: registers no variant; decorate a factory with @suite.registry.register(...)",
            param="plugin",
        )
    for name in added:
        fault = _output_fault(name)
        if fault:
            _forget(module_name, set(added))
            raise SuiteError(f"{path}: variant {name!r} {fault}; expected (B, 10) logits", param="plugin")
    _LOADED[module_name] = added
    return added


def _forget(module_name: str, names: set[str]) -> None:
    """Undo a failed import: its module and whatever it registered."""
    sys.modules.pop(module_name, None)
    _LOADED.pop(module_name, None)
    for name in names:
        registry.unregister(name)


def _output_fault(name: str) -> str | None:
    """Build a plugin's variant once: None if it maps (2, 1, 28, 28) to (2, 10) logits."""
    import torch

    try:
        model = registry.get(name).eval()
        with torch.no_grad():
            out = model(torch.rand(2, 1, 28, 28))
    except Exception as exc:  # noqa: BLE001 - reported in one line
        return f"fails on a (2, 1, 28, 28) input: {type(exc).__name__}: {exc}"
    return None if tuple(out.shape) == (2, 10) else f"returns shape {tuple(out.shape)}"
