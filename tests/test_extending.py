"""Extending the suite: a metric is one declaration plus its computation; a study axis is one
declaration plus its effect on a unit (README: "Extend the suite")."""

from dataclasses import replace

import pytest

import suite
from suite.declared import AXES, METRICS, Axis, Metric, declare_axis, declare_metric
from suite.measure.evaluate import COMPUTED, measured
from suite.runs.config import AXIS_EFFECTS


@pytest.fixture
def share_of_zeros():
    """A metric: the share of test images a model calls 0 (in a few lines)."""
    declare_metric(Metric("share_zero", "share called 0", ".1f", "test images predicted 0 (%)", summary=True))
    measured("share_zero")(lambda m: 100.0 * (m.predictions[0] == 0).float().mean().item())
    yield
    METRICS.pop("share_zero"), COMPUTED.pop("share_zero")


@pytest.fixture
def batch_size_axis():
    """A study axis: the batch size (in a few lines)."""
    declare_axis(Axis("batch_size", int, "batch size"))
    AXIS_EFFECTS["batch_size"] = lambda plan, v: replace(plan, recipe=replace(plan.recipe, batch_size=v))
    yield
    AXES.pop("batch_size"), AXIS_EFFECTS.pop("batch_size")


def test_a_declared_metric_is_measured_and_shown(tmp_path, share_of_zeros):
    results = suite.run("cnn", "smoke", tmp_path / "run", bench=False, progress=False)
    rows = results.metrics[results.metrics.metric == "share_zero"]
    assert len(rows) == 1 and 0 <= rows.value.iloc[0] <= 100
    assert "share called 0" in (tmp_path / "run" / "summary.md").read_text()


def test_a_declared_axis_changes_each_unit(tmp_path, batch_size_axis):
    from suite.runs.config import make_config
    from suite.runs.grid import UnitKey

    config = make_config("cnn", "smoke", grid={"batch_size": [32, 64]})
    keys = config.units()
    assert [k.name for k in keys] == ["cnn__seed0__batch_size=32", "cnn__seed0__batch_size=64"]
    assert [config.recipe_for(k).batch_size for k in keys] == [32, 64]
    assert UnitKey.parse("cnn__seed0__batch_size=32") == keys[0]


def test_an_undeclared_metric_cannot_be_computed():
    with pytest.raises(ValueError, match="not declared"):
        measured("nobody-declared-me")(lambda m: 0.0)
