"""User files that register variants with the same decorator as ``models/``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from suite import registry
from suite.errors import SuiteError


def load_plugin(path: Path) -> list[str]:
    """Import ``path``; returns the variant names it registered. Faults become one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"--plugin {path}: no such file")
    before = set(registry.names())
    module_name = f"c4suite_plugin_{abs(hash(str(path.resolve())))}"
    if module_name in sys.modules:
        return []
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SuiteError(f"--plugin {path}: not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any fault in a user's file is reported in one line
        sys.modules.pop(module_name, None)
        for name in set(registry.names()) - before:
            registry.unregister(name)
        raise SuiteError(f"--plugin {path}: {type(exc).__name__}: {exc}") from exc
    added = sorted(set(registry.names()) - before)
    if not added:
        raise SuiteError(
            f"--plugin {path}: registers no variant; decorate a factory with @suite.registry.register(...)"
        )
    for name in added:
        _check_output(path, name, added)
    return added


def _check_output(path: Path, name: str, added: list[str]) -> None:
    """Build the plugin's variant once and check it maps (2, 1, 28, 28) to (2, 10) logits."""
    import torch

    try:
        model = registry.get(name).eval()
        with torch.no_grad():
            out = model(torch.rand(2, 1, 28, 28))
        fault = None if tuple(out.shape) == (2, 10) else f"returns shape {tuple(out.shape)}"
    except Exception as exc:  # noqa: BLE001 - reported in one line
        fault = f"fails on a (2, 1, 28, 28) input: {type(exc).__name__}: {exc}"
    if fault:
        for added_name in added:
            registry.unregister(added_name)
        raise SuiteError(f"--plugin {path}: variant {name!r} {fault}; expected (B, 10) logits")
