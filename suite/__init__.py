"""c4suite: compare ways to make an image classifier invariant to 90° rotations.

The Python API (:mod:`suite.api`) is re-exported lazily, so ``import suite`` stays fast (no torch).
"""

from __future__ import annotations

from typing import Any

__all__ = ["build", "list_variants", "load_model", "load_run", "resume", "run", "study", "tune"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from suite import api

        return getattr(api, name)
    raise AttributeError(f"module 'suite' has no attribute {name!r}")
