"""Model variants: each submodule registers itself on import; a new file needs no edit elsewhere."""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> list[str]:
    """Import every public submodule of this package (names starting with '_' are helpers)."""
    loaded = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
            loaded.append(info.name)
    return loaded
