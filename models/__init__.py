"""Model variants, by the kind of task they serve (``planar/``: 2-D images; 3-D volumes next):
each module registers itself on import, so a new file needs no edit elsewhere."""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> list[str]:
    """Import every public module of this package and its task-kind subpackages (names starting
    with '_' are helpers); returns their dotted names below ``models``."""
    loaded = []
    for info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf.startswith("_"):
            continue
        importlib.import_module(info.name)
        if not info.ispkg:
            loaded.append(info.name.removeprefix(f"{__name__}."))
    return loaded
