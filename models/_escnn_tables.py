"""escnn, imported once for every escnn variant, with its numerically solved tables made a pure
function of their arguments.

escnn solves some tables numerically (Clebsch-Gordan tensors, restrictions of irreps to subgroups,
tensor decompositions: the change of basis behind the kernel bases of ``octaOnR3``,
``fullOctaOnR3`` and ``flipRot2dOnR2``) with solvers that start from numpy's global random state
(sklearn's ``randomized_svd``, pymanopt's random starting point), and caches each result on disk
inside its own install. The basis a model gets then depends on the install and on whatever drew
random numbers before the first solve, so one unit's numbers could differ between two machines,
or a weights file without its sampled bases could reload to another function. Here each solve
runs under a seed derived from its arguments (the caller's random state is restored) and is
cached under the suite's cache folder, never in escnn's, whose entries may hold earlier draws.

The tables every escnn variant needs are also shipped, solved once, in ``SHIPPED`` (arrays and one
JSON index in an npz: read without unpickling): a fresh machine skips minutes of solving (the
cube's 48 symmetries alone take about three), and every machine starts from the tables the
committed runs were trained with, whatever its BLAS or thread count (a re-solve differs there in
the last bits), so the bases it samples from them match a weights file's sketch of them.
``ship()`` rebuilds the file.
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Memory

from models._table_file import MISSING, TableFile, write_tables
from suite.cache import default_cache_dir

with warnings.catch_warnings():  # py3nj is dropped on purpose: it only serves SO(3)
    warnings.filterwarnings("ignore", message=".*py3nj.*")
    import escnn
    import escnn.group._clebsh_gordan as _clebsh_gordan
    import escnn.group.groups.octa as _octa
    import escnn.group.irrep as _irrep
    import escnn.group.representation as _representation
    from escnn import gspaces
    from escnn import nn as enn
    from escnn.nn.modules.basismanager import BasisManager

SOLVED = ((_clebsh_gordan, "_clebsh_gordan_tensor"), (_clebsh_gordan, "_find_tensor_decomposition"),
          (_irrep, "_restrict_irrep"))  # fmt: skip
TABLES_VERSION = 1  # raise when the seeding changes: older cached tables are then not read


def call_key(name: str, args: tuple, kwargs: dict) -> str:
    """A solve's call as text (ids, group names: plain values), the same in every process."""
    key = repr((name, args, sorted(kwargs.items())))
    if " at 0x" in key:  # an object's address would give another seed in every process
        raise TypeError(f"{name}: an argument has no stable repr: {key}")
    return key


def seed_of(name: str, args: tuple, kwargs: dict) -> int:
    """A 32-bit seed from a solve's name and arguments."""
    return int.from_bytes(hashlib.sha256(call_key(name, args, kwargs).encode()).digest()[:4], "little")


def seeded(solve: Callable) -> Callable:
    """``solve`` under a seed of its own arguments; the global random state is left as it was."""

    @functools.wraps(solve)
    def call(*args, **kwargs):  # noqa: ANN202 - escnn's tables, whatever they return
        state = np.random.get_state()
        np.random.seed(seed_of(f"{solve.__module__}.{solve.__qualname__}", args, kwargs))
        try:
            return solve(*args, **kwargs)
        finally:
            np.random.set_state(state)

    call.seeded = True
    return call


def tables_dir() -> str:
    return str(default_cache_dir() / f"escnn-{escnn.__version__}-tables-v{TABLES_VERSION}")


SHIPPED = Path(__file__).with_name(f"escnn-{escnn.__version__}-tables.npz")
_RECORDING: list[dict[str, Any]] = []  # the open recordings (``recording()``)


def shipped_first(name: str, cached: Callable, tables: TableFile, strict: bool) -> Callable:
    """``cached`` (the seeded, disk-cached solve), asked only for calls ``tables`` does not hold;
    ``strict``: such a call raises instead (a check that the shipped file covers a build)."""

    def call(*args, **kwargs):  # noqa: ANN202 - escnn's tables, whatever they return
        key = call_key(name, args, kwargs)
        value = tables.get(key)
        if value is MISSING:
            if strict:
                raise LookupError(f"{key} is not among the shipped tables ({tables.path})")
            value = cached(*args, **kwargs)
        for recorded in _RECORDING:
            recorded[key] = value
        return value

    call.cached = cached
    return call


REGULAR = "escnn.group.representation.build_regular_representation"


def shipped_regular(build: Callable, tables: TableFile, strict: bool) -> Callable:
    """escnn's regular representation of a finite group (``build``), read from ``tables`` where
    they hold the group: its irreps and change of basis (escnn's inverse is the transpose). escnn
    builds it from every product of two elements; for the cube's 48 symmetries, each a rotation
    object compared by tolerance, that took about 5 s a process."""

    def call(group):  # noqa: ANN001, ANN202 - escnn's group, escnn's triple
        def solve(_name: str, _order: int) -> tuple[list, np.ndarray]:
            irreps, change_of_basis, _ = build(group)
            return [tuple(irrep.id) for irrep in irreps], change_of_basis

        ids, change_of_basis = shipped_first(REGULAR, solve, tables, strict)(group.name, group.order())
        return [group.irrep(*i) for i in ids], change_of_basis, change_of_basis.T

    call.built = build
    return call


@contextmanager
def recording() -> Iterator[dict[str, Any]]:
    """Every table asked for inside the block, by call (what ``ship`` writes)."""
    recorded: dict[str, Any] = {}
    _RECORDING.append(recorded)
    try:
        yield recorded
    finally:
        _RECORDING.remove(recorded)


def raw_solve(current: Callable) -> Callable:
    """escnn's own solve behind whatever wraps it now: escnn's joblib cache, or ``install``'s."""
    cached = getattr(current, "cached", current)
    solve = getattr(cached, "func", cached)
    return getattr(solve, "__wrapped__", solve) if getattr(solve, "seeded", False) else solve


def install(location: str | None = None, shipped: Path | None = SHIPPED, strict: bool = False) -> None:
    """Replace escnn's cached solves by the ``shipped`` tables, then seeded solves cached at
    ``location`` (None: no disk cache; importing this module installs them at ``tables_dir()``).
    escnn looks them up as module attributes when it builds a group's tables, so this must run
    before any escnn group is built."""
    memory = Memory(location, verbose=0)
    tables = TableFile(shipped)
    for module, name in SOLVED:
        solve = raw_solve(getattr(module, name))
        qualified = f"{solve.__module__}.{solve.__qualname__}"
        setattr(module, name, shipped_first(qualified, memory.cache(seeded(solve)), tables, strict))
    regular = _representation.build_regular_representation
    regular = getattr(regular, "built", regular)
    _representation.build_regular_representation = shipped_regular(regular, tables, strict)
    # the cube's irreps are written out (no solve), but escnn's cache of them prints a line each
    # time it is read ("[Memory] Loading ..."): the same function, cached quietly
    irreps = _octa._build_octa_irrep_picklable
    _octa._build_octa_irrep_picklable = memory.cache(getattr(irreps, "func", irreps), ignore=["octa"])


def ship(path: Path = SHIPPED, budgets: tuple[int | None, ...] = (None, 100_000), fresh: bool = False) -> int:
    """Write to ``path`` every table the registered escnn variants ask for, each built for its
    default task at ``budgets``; returns how many. The values come from the file at ``path``
    where it holds them, then from this machine's cache (solving what it lacks), so the shipped
    bases stay those the committed runs were trained with (a solve repeats only to rounding under
    another thread count or BLAS); ``fresh``: solve all anew. Run it in a fresh process (escnn
    keeps a built group's tables in memory) when escnn, a variant or the seeding changes."""
    import tempfile

    import models
    from suite import registry

    models.load_all()
    try:
        with tempfile.TemporaryDirectory() as empty, recording() as recorded:
            install(empty if fresh else tables_dir(), shipped=None if fresh else path)
            for name in (n for n in registry.names() if registry.get_variant(n).family == "escnn"):
                for budget in budgets:
                    registry.get(name, budget=budget)
            write_tables(path, recorded)
    finally:
        install(tables_dir())
    return len(recorded)


install(tables_dir())

__all__ = ["BasisManager", "enn", "gspaces", "install"]
