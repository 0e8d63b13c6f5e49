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
"""

from __future__ import annotations

import functools
import hashlib
import warnings
from collections.abc import Callable

import numpy as np
from joblib import Memory

from suite.cache import default_cache_dir

with warnings.catch_warnings():  # py3nj is dropped on purpose: it only serves SO(3)
    warnings.filterwarnings("ignore", message=".*py3nj.*")
    import escnn
    import escnn.group._clebsh_gordan as _clebsh_gordan
    import escnn.group.groups.octa as _octa
    import escnn.group.irrep as _irrep
    from escnn import gspaces
    from escnn import nn as enn
    from escnn.nn.modules.basismanager import BasisManager

SOLVED = ((_clebsh_gordan, "_clebsh_gordan_tensor"), (_clebsh_gordan, "_find_tensor_decomposition"),
          (_irrep, "_restrict_irrep"))  # fmt: skip
TABLES_VERSION = 1  # raise when the seeding changes: older cached tables are then not read


def seed_of(name: str, args: tuple, kwargs: dict) -> int:
    """A 32-bit seed from a solve's name and arguments (ids, group names: plain values)."""
    key = repr((name, args, sorted(kwargs.items())))
    if " at 0x" in key:  # an object's address would give another seed in every process
        raise TypeError(f"{name}: an argument has no stable repr: {key}")
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little")


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


def install(location: str | None = None) -> None:
    """Replace escnn's cached solves by seeded ones cached at ``location`` (None: no disk cache;
    importing this module installs them at ``tables_dir()``). escnn looks them up as module
    attributes when it builds a group's tables, so this must run before any escnn group is built."""
    memory = Memory(location, verbose=0)
    for module, name in SOLVED:
        current = getattr(module, name)
        solve = getattr(current, "func", current)  # escnn's own joblib wrapper, or ours
        solve = getattr(solve, "__wrapped__", solve) if getattr(solve, "seeded", False) else solve
        setattr(module, name, memory.cache(seeded(solve)))
    # the cube's irreps are written out (no solve), but escnn's cache of them prints a line each
    # time it is read ("[Memory] Loading ..."): the same function, cached quietly
    irreps = _octa._build_octa_irrep_picklable
    _octa._build_octa_irrep_picklable = memory.cache(getattr(irreps, "func", irreps), ignore=["octa"])


install(tables_dir())

__all__ = ["BasisManager", "enn", "gspaces", "install"]
