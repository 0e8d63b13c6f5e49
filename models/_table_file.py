"""A file of solved tables keyed by their calls: arrays and one JSON index in an npz, so reading it
runs no code (``allow_pickle=False``), unlike a joblib or pickle cache.

A value is an ndarray, a tuple or list of values, or a plain int, float, str, bool or None: what
escnn's solves return (Clebsch-Gordan tensors, changes of basis, lists of (irrep id, multiplicity)).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from suite.atomic import write_atomic

MISSING = object()  # a key the file does not hold
INDEX = "index"


def encode(value: Any, arrays: list[np.ndarray]) -> Any:
    """``value`` as JSON, its arrays appended to ``arrays`` and named by position."""
    if isinstance(value, np.ndarray):
        arrays.append(np.asarray(value))
        return {"array": len(arrays) - 1}
    if isinstance(value, tuple):
        return {"tuple": [encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [encode(v, arrays) for v in value]
    if value is None or type(value) in (bool, int, float, str):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in a table file")


def decode(encoded: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """The value ``encode`` wrote; every array a fresh copy, so a caller may change it."""
    if isinstance(encoded, dict):
        if "array" in encoded:
            return arrays[f"a{encoded['array']}"].copy()
        return tuple(decode(v, arrays) for v in encoded["tuple"])
    if isinstance(encoded, list):
        return [decode(v, arrays) for v in encoded]
    return encoded


def write_tables(path: Path, tables: Mapping[str, Any]) -> None:
    """Write ``tables`` (key → value), keys sorted so equal tables give an equal file."""
    arrays: list[np.ndarray] = []
    index = {key: encode(tables[key], arrays) for key in sorted(tables)}
    named = {f"a{i}": a for i, a in enumerate(arrays)}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{INDEX: np.array(json.dumps(index, sort_keys=True))}, **named)
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))


class TableFile:
    """The tables of ``path``, read on first use; an absent file, or None, holds none."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._index: dict[str, Any] | None = None
        self._arrays: dict[str, np.ndarray] = {}

    def keys(self) -> set[str]:
        return set(self._read())

    def get(self, key: str) -> Any:
        """The value stored under ``key``, or ``MISSING``."""
        index = self._read()
        return decode(index[key], self._arrays) if key in index else MISSING

    def _read(self) -> dict[str, Any]:
        if self._index is None:
            self._index = {}
            if self.path is not None and self.path.is_file():
                with np.load(self.path, allow_pickle=False) as stored:
                    self._arrays = {name: stored[name] for name in stored.files if name != INDEX}
                    self._index = json.loads(str(stored[INDEX]))
        return self._index
