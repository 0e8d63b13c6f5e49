"""escnn's numerically solved tables are a function of their arguments only, so a model's sampled
bases do not depend on the install or on what drew random numbers before them."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

tables = pytest.importorskip("models._escnn_tables")

RESTRICTION = ((2,), "octa", "SO3")  # the l = 2 irrep of SO(3) restricted to the cube's rotations


def raw_restriction():
    return tables.raw_solve(tables._irrep._restrict_irrep)  # escnn's solve, neither seeded nor cached


def test_escnn_alone_solves_a_restriction_differently_under_another_random_state():
    """Its solve lands on one of a few bases (signs, orderings) by its random draws: two random
    states may agree by chance (seeds 0 and 1 do on some CPUs); over five, all agreeing would
    mean the draws do not matter."""
    solutions = []
    for seed in range(5):
        np.random.seed(seed)
        solutions.append(np.asarray(raw_restriction()(*RESTRICTION)[0]))
    assert max(np.abs(s - solutions[0]).max() for s in solutions[1:]) > 0.1


def test_a_seeded_solve_is_the_same_under_any_random_state_and_leaves_that_state_alone():
    solve = tables.seeded(raw_restriction())
    results = []
    for seed in (0, 1):
        np.random.seed(seed)
        before = np.random.get_state()[1].copy()
        results.append(np.asarray(solve(*RESTRICTION)[0]))
        assert np.array_equal(np.random.get_state()[1], before)  # the caller's stream goes on as it was
    assert np.array_equal(*results)


def test_escnn_builds_its_tables_through_the_seeded_solves_cached_in_the_suites_folder():
    for module, name in tables.SOLVED:
        cached = getattr(module, name).cached
        assert getattr(cached.func, "seeded", False), name
        assert str(cached.store_backend.location).startswith(tables.tables_dir()), name
    with pytest.raises(TypeError, match="no stable repr"):
        tables.seed_of("solve", (object(),), {})


def test_loading_bases_into_one_escnn_model_leaves_every_other_model_and_later_builds_alone():
    import torch

    from suite.training.builder import build_model

    first, second = (build_model("escnn-c4") for _ in range(2))
    state = first.state_dict()
    bases = [k for k in state if k.endswith("sampled_basis")]
    assert bases
    first.load_state_dict({**state, **{k: torch.zeros_like(state[k]) for k in bases}})
    for model in (second, build_model("escnn-c4")):
        assert all(model.state_dict()[k].abs().max() > 0 for k in bases)


def test_reading_the_cubes_irreps_prints_nothing(capfd):
    from escnn import group

    octa = group.octa_group()
    for _ in range(2):  # computed or read back from the cache, and then read back
        tables._octa._build_octa_irrep_picklable(octa, 2)
    assert "[Memory]" not in "".join(capfd.readouterr())


def test_a_table_file_round_trips_escnns_kinds_of_value_and_reads_without_pickle(tmp_path):
    from models._table_file import MISSING, TableFile, write_tables

    cg = np.arange(12.0).reshape(2, 3, 2)
    write_tables(
        tmp_path / "t.npz", {"cg": cg, "restriction": (np.eye(3), [((1,), 2), ((0,), 1)]), "none": None}
    )
    stored = TableFile(tmp_path / "t.npz")
    change_of_basis, irreps = stored.get("restriction")
    assert np.array_equal(change_of_basis, np.eye(3)) and irreps == [
        ((1,), 2),
        ((0,), 1),
    ]  # tuples stay tuples
    assert np.array_equal(stored.get("cg"), cg) and stored.get("none") is None and stored.get("x") is MISSING
    stored.get("cg")[0] = -1  # a caller changing its copy changes nothing stored
    assert np.array_equal(stored.get("cg"), cg)
    with np.load(tmp_path / "t.npz", allow_pickle=False) as raw:
        assert all(raw[name].dtype != object for name in raw.files)
    with pytest.raises(TypeError, match="cannot store a set"):
        write_tables(tmp_path / "u.npz", {"bad": {1}})
    assert TableFile(tmp_path / "absent.npz").get("cg") is MISSING


def test_a_shipped_table_is_served_without_solving_and_a_missing_one_is_solved_or_refused(tmp_path):
    from models._table_file import TableFile, write_tables

    shipped, other = (
        tables.call_key("solve", ((2,), "octa"), {}),
        tables.call_key("solve", ((1,), "octa"), {}),
    )
    write_tables(tmp_path / "t.npz", {shipped: np.eye(2)})
    solved = []

    def solve(*args):
        solved.append(args)
        return np.zeros(2)

    lookup = tables.shipped_first("solve", solve, TableFile(tmp_path / "t.npz"), strict=False)
    with tables.recording() as recorded:
        assert np.array_equal(lookup((2,), "octa"), np.eye(2)) and solved == []
        assert np.array_equal(lookup((1,), "octa"), np.zeros(2)) and solved == [((1,), "octa")]
    assert sorted(recorded) == sorted([shipped, other])
    strict = tables.shipped_first("solve", solve, TableFile(tmp_path / "t.npz"), strict=True)
    with pytest.raises(LookupError, match="not among the shipped tables"):
        strict((1,), "octa")


def test_a_shipped_regular_representation_is_escnns_own_and_a_missing_one_is_built_or_refused(tmp_path):
    """The regular representation read from a table file has escnn's irreps and change of basis,
    bit for bit, with nothing built; a group the file lacks is built (and recorded) or refused."""
    from escnn.group import dihedral_group

    from models._table_file import TableFile, write_tables

    build = tables._representation.build_regular_representation.built  # escnn's own
    group = dihedral_group(4)
    irreps, change_of_basis, inverse = build(group)
    key = tables.call_key(tables.REGULAR, (group.name, group.order()), {})
    write_tables(tmp_path / "t.npz", {key: ([tuple(r.id) for r in irreps], change_of_basis)})
    built = []

    def counting(g):  # noqa: ANN001, ANN202
        built.append(g.name)
        return build(g)

    shipped = tables.shipped_regular(counting, TableFile(tmp_path / "t.npz"), strict=False)
    read_irreps, read_change, read_inverse = shipped(group)
    assert built == [] and [r.id for r in read_irreps] == [r.id for r in irreps]
    assert np.array_equal(read_change, change_of_basis) and np.array_equal(read_inverse, inverse)
    with tables.recording() as recorded:
        shipped(dihedral_group(2))
    assert built == ["D2"] and len(recorded) == 1
    with pytest.raises(LookupError, match="not among the shipped tables"):
        tables.shipped_regular(counting, TableFile(tmp_path / "t.npz"), strict=True)(dihedral_group(2))


@pytest.mark.subprocess
def test_the_shipped_tables_hold_every_table_the_escnn_variants_ask_for(tmp_path):
    """A fresh machine solves nothing: with an empty cache and any solve refused, every escnn
    variant builds for every kind of task it serves."""
    if not tables.SHIPPED.is_file():
        pytest.skip(f"no {tables.SHIPPED.name} for this escnn: ship them with models._escnn_tables.ship()")
    script = (
        "import models._escnn_tables as t\n"
        "t.install(t.tables_dir(), strict=True)\n"
        "import models\n"
        "models.load_all()\n"
        "from suite import registry\n"
        "from suite.data.datasets import get_dataset\n"
        "tasks = {'2d': get_dataset('mnist').task, '3d': get_dataset('polycubes').task}\n"
        "for name in registry.names():\n"
        "    spec = registry.get_variant(name)\n"
        "    for kind in spec.tasks if spec.family == 'escnn' else ():\n"
        "        registry.get(name, task=tasks[kind])\n"
    )
    env = {**os.environ, "C4SUITE_CACHE": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=200
    )
    assert done.returncode == 0, done.stderr[-2000:]
