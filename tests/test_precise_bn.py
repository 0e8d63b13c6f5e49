"""Precise BN as a recorded setting: BatchNorm running statistics recomputed at the final weights
(the mean of the sampled batches' statistics, whatever they were before), weights untouched,
torch's and e3nn's layers alike, off for runs recorded before it existed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from suite.runs.config import RunConfig, make_config
from suite.runs.grid import UnitKey
from suite.training.train import (
    BN_REFRESH_IMAGES,
    Recipe,
    epoch_order,
    refresh_bn_stats,
    running_stat_modules,
    train,
)

ROOT = Path(__file__).resolve().parents[1]


def bn_setup(mnist):
    """A small convolution with BatchNorm and 320 real digits (5 batches of 64)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 5, stride=4), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 10),
    )  # fmt: skip
    return model, mnist.subset(320, 32)


def test_the_refresh_gives_the_mean_of_the_sampled_batches_at_the_final_weights(mnist):
    model, data = bn_setup(mnist)
    recipe = Recipe(epochs=1, lr=3e-3, bn_refresh_images=192)  # 3 of the epoch's 5 batches
    train(model, data, recipe, "none", 0, progress=False)
    norm = model[1]
    order = epoch_order(len(data.train_x), 0, 0)[:192]
    with torch.no_grad():
        features = model[0](data.train_x[order].float() / 255)  # the layer's input at the final weights
    batch_means = [features[i : i + 64].mean(dim=(0, 2, 3)) for i in range(0, 192, 64)]
    expected = torch.stack(batch_means).mean(0)
    assert torch.allclose(norm.running_mean, expected, atol=1e-6)
    # the result depends on the weights and images only: stale or garbage statistics are replaced
    norm.running_mean.fill_(7.0)
    norm.running_var.fill_(0.01)
    refresh_bn_stats(model, data, recipe, "none", 0, 0)
    assert torch.allclose(norm.running_mean, expected, atol=1e-6)
    assert norm.momentum == 0.1 and model.training  # the layer's momentum and the mode come back


def test_the_refresh_leaves_the_weights_and_models_without_running_statistics_alone(mnist):
    on, data = bn_setup(mnist)
    off, _ = bn_setup(mnist)
    train(on, data, Recipe(epochs=2, lr=3e-3, bn_refresh_images=128), "none", 0, progress=False)
    train(off, data, Recipe(epochs=2, lr=3e-3), "none", 0, progress=False)
    assert torch.equal(on[0].weight, off[0].weight) and torch.equal(on[4].weight, off[4].weight)
    assert not torch.allclose(on[1].running_mean, off[1].running_mean)  # the setting does act
    plain = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    assert running_stat_modules(plain) == []


def test_the_refresh_finds_e3nn_batchnorm_which_torch_update_bn_does_not_know():
    e3nn = pytest.importorskip("e3nn.nn")
    norm = e3nn.BatchNorm("2x0e + 1x1e")
    model = torch.nn.Sequential(norm)
    assert running_stat_modules(model) == [norm]
    assert not isinstance(norm, torch.nn.modules.batchnorm._BatchNorm)


def test_new_runs_refresh_and_runs_recorded_before_the_setting_keep_their_statistics():
    config = make_config(["cnn"], "smoke", recipe="tutorial")
    assert config.recipe_for(UnitKey("cnn", 0)).bn_refresh_images == BN_REFRESH_IMAGES > 0
    raw = json.loads((ROOT / "results" / "quick-e3nn-cpu" / "manifest.json").read_text())["config"]
    assert "bn_refresh_images" not in raw["recipe"]
    old = RunConfig.from_dict(raw)
    assert old.recipe_for(UnitKey("e3nn-so2", 0)).bn_refresh_images == 0
    assert RunConfig.from_dict(config.to_dict()).recipe == config.recipe
