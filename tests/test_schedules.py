"""Schedules and weight decay as recorded unit settings: the constant rate untouched, cosine with
warm-up stretched over training and resumed exactly, both as grid axes in unit names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from suite.declared import AXES
from suite.errors import UsageError
from suite.runs.config import RunConfig, make_config
from suite.runs.grid import UnitKey, check_grid, unit_keys
from suite.training import schedules
from suite.training.schedules import SCHEDULES, WARMUP_FRACTION, lr_factor
from suite.training.train import Recipe, train

ROOT = Path(__file__).resolve().parents[1]


def test_cosine_warms_up_then_decays_and_stretches_with_the_length_of_training():
    total = 1_000
    warmup = round(WARMUP_FRACTION * total)
    factors = [lr_factor("cosine", s, total) for s in range(total)]
    assert factors[0] == pytest.approx(1 / warmup) and factors[warmup - 1] == 1.0
    assert all(a < b for a, b in zip(factors[:warmup], factors[1:warmup], strict=False))
    assert all(a >= b for a, b in zip(factors[warmup:], factors[warmup + 1 :], strict=False))
    assert factors[-1] < 1e-4
    # defined in fractions of training: half way through is the same factor at any length
    assert lr_factor("cosine", 500, 1_000) == pytest.approx(lr_factor("cosine", 5_000, 10_000), abs=1e-3)
    assert {lr_factor("constant", s, total) for s in (0, 10, 999)} == {1.0}
    with pytest.raises(UsageError, match="expected one of constant, cosine"):
        Recipe(schedule="linear")


def tiny_setup(mnist):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    return model, mnist.subset(320, 32)


def test_a_constant_rate_is_never_touched_so_the_tutorial_recipe_is_unchanged(mnist, monkeypatch):
    def refuse(*args):
        raise AssertionError("a constant schedule changed the optimizer's rate")

    monkeypatch.setattr("suite.training.train.set_rate", refuse)
    model, data = tiny_setup(mnist)
    train(model, data, Recipe(epochs=1), "none", 0, progress=False)  # no rate set: passes
    model, data = tiny_setup(mnist)
    with pytest.raises(AssertionError, match="changed the optimizer's rate"):
        train(model, data, Recipe(epochs=1, schedule="cosine"), "none", 0, progress=False)


def test_a_cosine_unit_stopped_at_a_rung_and_resumed_gives_the_uninterrupted_weights(mnist, tmp_path):
    recipe = Recipe(epochs=3, lr=3e-3, weight_decay=0.1, schedule="cosine")
    whole, data = tiny_setup(mnist)
    train(whole, data, recipe, "none", 0, progress=False)
    resumed, _ = tiny_setup(mnist)
    checkpoint = tmp_path / "unit.pt"
    first = train(resumed, data, recipe, "none", 0, checkpoint, progress=False, stop_after=1)
    assert [r.epoch for r in first] == [1]
    fresh, _ = tiny_setup(mnist)  # a new process: the model rebuilt, the rest from the checkpoint
    history = train(fresh, data, recipe, "none", 0, checkpoint, progress=False)
    assert [r.epoch for r in history] == [1, 2, 3]
    for name, tensor in whole.state_dict().items():
        assert torch.equal(tensor, fresh.state_dict()[name]), name
    other, _ = tiny_setup(mnist)  # and the schedule does matter: constant gives other weights
    train(other, data, Recipe(epochs=3, lr=3e-3, weight_decay=0.1), "none", 0, progress=False)
    assert not torch.equal(other[1].weight, whole[1].weight)


def test_weight_decay_and_schedule_are_grid_axes_named_only_when_set():
    assert AXES["schedule"].choices == SCHEDULES == schedules.SCHEDULES
    grid = check_grid({"schedule": ["cosine"], "weight_decay": [0, 0.1], "lr": [1e-3]})
    assert list(grid) == ["lr", "weight_decay", "schedule"] and grid["weight_decay"] == [0.0, 0.1]
    names = [k.name for k in unit_keys(["cnn"], [0], grid)]
    assert names == ["cnn__seed0__lr=0.001__weight_decay=0__schedule=cosine",
                     "cnn__seed0__lr=0.001__weight_decay=0.1__schedule=cosine"]  # fmt: skip
    assert UnitKey.parse(names[1]).point == (("lr", 1e-3), ("weight_decay", 0.1), ("schedule", "cosine"))
    assert [k.name for k in unit_keys(["cnn"], [0], {"lr": [1e-3]})] == ["cnn__seed0__lr=0.001"]
    for bad in ({"weight_decay": [-0.1]}, {"schedule": ["linear"]}, {"schedule": []}, {"lr": [0]}):
        with pytest.raises(UsageError):
            check_grid(bad)
    config = make_config(["cnn"], "smoke", recipe="tutorial", grid=grid)
    recipe = config.recipe_for(UnitKey.parse(names[0]))
    assert (recipe.weight_decay, recipe.schedule, recipe.lr) == (0.0, "cosine", 1e-3)
    plain = make_config(["cnn"], "smoke", recipe="tutorial").recipe_for(UnitKey("cnn", 0))
    assert (plain.weight_decay, plain.schedule) == (0.01, "constant")


def test_a_manifest_from_before_schedules_loads_with_the_constant_rate():
    raw = json.loads((ROOT / "results" / "tune-cpu" / "manifest.json").read_text())["config"]
    assert "schedule" not in raw["recipe"]
    config = RunConfig.from_dict(raw)
    assert (config.recipe.schedule, config.recipe.weight_decay) == ("constant", 0.01)
    assert RunConfig.from_dict(config.to_dict()).recipe == config.recipe


def test_the_rate_follows_the_schedule_across_epochs_step_by_step(mnist, monkeypatch):
    rates: list[float] = []
    monkeypatch.setattr("suite.training.train.set_rate", lambda optimizer, lr: rates.append(lr))
    model, data = tiny_setup(mnist)  # 320 images at batch 64: 5 steps an epoch, 15 in all
    train(model, data, Recipe(epochs=3, lr=1e-2, schedule="cosine"), "none", 0, progress=False)
    assert rates == pytest.approx([1e-2 * lr_factor("cosine", s, 15) for s in range(15)])
