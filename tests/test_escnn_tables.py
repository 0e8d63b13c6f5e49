"""escnn's numerically solved tables are a function of their arguments only, so a model's sampled
bases do not depend on the install or on what drew random numbers before them."""

from __future__ import annotations

import numpy as np
import pytest

tables = pytest.importorskip("models._escnn_tables")

RESTRICTION = ((2,), "octa", "SO3")  # the l = 2 irrep of SO(3) restricted to the cube's rotations


def raw_restriction():
    return tables._irrep._restrict_irrep.func.__wrapped__  # escnn's solve, neither seeded nor cached


def test_escnn_alone_solves_a_restriction_differently_under_another_random_state():
    np.random.seed(0)
    first = raw_restriction()(*RESTRICTION)[0]
    np.random.seed(1)
    assert np.abs(np.asarray(first) - np.asarray(raw_restriction()(*RESTRICTION)[0])).max() > 0.1


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
        cached = getattr(module, name)
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
