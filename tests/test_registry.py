import pytest
import torch

from suite import registry
from suite.errors import UsageError

CORE = ["cnn", "cnn-aug", "stack-c4", "gcnn-c4", "escnn-c4"]


def test_core_variants_are_registered():
    assert set(CORE) <= set(registry.names())


def test_tutorial_parameter_counts():
    count = {n: registry.count_params(registry.get(n)) for n in CORE}
    assert count["cnn"] == count["cnn-aug"] == count["stack-c4"] == 13_978
    for name in ("gcnn-c4", "escnn-c4"):
        assert abs(count[name] - 13_978) <= 0.1 * 13_978, (name, count[name])


def test_duplicate_name_is_refused():
    @registry.register("test-dup", description="x", family="baseline")
    def first(budget=None):
        return torch.nn.Linear(1, 1)

    try:
        with pytest.raises(ValueError, match="already registered"):
            registry.register("test-dup", description="y", family="baseline")(first)
    finally:
        registry.unregister("test-dup")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UsageError, match="known variants: .*cnn"):
        registry.get("no-such-model")


def test_none_keyword_arguments_leave_factory_defaults():
    assert registry.count_params(registry.get("cnn", budget=None)) == 13_978


def test_patterns_and_selection():
    assert registry.names("*-c4")[:2] == ["escnn-c4", "gcnn-c4"]
    assert registry.select("cnn,stack-*") == ["cnn", "stack-c4"]
    with pytest.raises(UsageError, match="no variant matches"):
        registry.select("zzz*")


def test_a_selection_leaves_out_what_a_minus_part_matches():
    everything = registry.select("all")
    without_e3nn = [n for n in everything if not n.startswith("e3nn")]
    assert registry.select("all,-e3nn-*") == without_e3nn and len(without_e3nn) < len(everything)
    assert registry.select("-e3nn-*") == without_e3nn  # a list that starts by leaving out starts from all
    assert registry.select("core,-cnn") == [n for n in registry.select("core") if n != "cnn"]
    assert registry.select("cnn,stack-c4,-cnn,gcnn-c4") == ["stack-c4", "gcnn-c4"]  # in the order given
    assert registry.select("-gcnn-o", "3d") == [n for n in registry.select("all", "3d") if n != "gcnn-o"]
    with pytest.raises(UsageError, match="leaves no variant"):
        registry.select("cnn,-cnn")
    with pytest.raises(UsageError, match="no variant matches 'zzz\\*'"):
        registry.select("all,-zzz*")
    with pytest.raises(UsageError, match="unknown variant 'nope'"):
        registry.select("all,-nope")


def test_a_selection_that_starts_by_leaving_out_is_a_value_on_the_command_line():
    from suite.cli.main import joined_selections

    assert joined_selections(["run", "--variants", "-e3nn-*", "--seeds", "3"]) == [
        "run", "--variants=-e3nn-*", "--seeds", "3",
    ]  # fmt: skip
    assert joined_selections(["run", "--variants", "--seeds", "3"]) == ["run", "--variants", "--seeds", "3"]
