"""Channels-last layout (the CPU default of `suite run`): what it converts, that it changes no
variant's answers, keeps every claimed symmetry, and survives checkpoints and old manifests."""

import pytest
import torch

from suite import registry
from suite.errors import UsageError
from suite.measure.conformance import TOLERANCE, symmetry_errors
from suite.training.layout import (
    apply_layout,
    is_channels_last,
    resolve_layout,
    to_channels_last,
    variant_layout,
)
from suite.training.train import Recipe, load_checkpoint, make_optimizer, save_checkpoint

VARIANTS = registry.select("all", "2d")  # the 3-D variants: tests/test_volumes.py
CLAIMING = [n for n in VARIANTS if registry.get_variant(n).claims != "none"]


def built(name: str, channels_last: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    model = registry.get(name)
    return to_channels_last(model) if channels_last else model


def test_auto_is_channels_last_on_cpu_for_variants_that_prefer_it():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_layout("auto", cpu) == "channels-last"
    assert resolve_layout("auto", cuda) == "contiguous"
    assert resolve_layout("contiguous", cpu) == "contiguous"
    assert variant_layout("auto", cpu, "escnn-c4") == "channels-last"
    assert variant_layout("auto", cpu, "e3nn-o2") == "contiguous"  # opts out (register(channels_last=False))
    assert variant_layout("channels-last", cpu, "e3nn-o2") == "channels-last"  # explicit applies to all
    with pytest.raises(UsageError, match="expected one of auto, channels-last, contiguous"):
        resolve_layout("nhwc", cpu)


def test_summary_names_the_layouts_a_run_used():
    from suite.report.tables import _layout_note

    assert _layout_note("contiguous") == "contiguous"
    mixed = {"cnn": "channels-last", "escnn-c4": "channels-last", "e3nn-o2": "contiguous"}
    assert _layout_note(mixed) == "channels-last (e3nn-o2: contiguous)"


def test_single_channel_weights_and_inputs_really_become_channels_last():
    """A 1-channel filter is 'contiguous' in both layouts; only Tensor.to restrides it, and that is
    what makes the first convolution (and so the whole network) run channels-last."""
    model = built("cnn", channels_last=True)
    first = model.features[0].weight
    assert first.shape[1] == 1 and first.stride() == first.to(memory_format=torch.channels_last).stride()
    assert first.stride()[1] == 1
    seen = []
    model.features[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0].stride()))
    model(torch.rand(2, 1, 28, 28))
    assert seen[0][1] == 1  # the input arrived channels-last
    assert to_channels_last(model) is model and is_channels_last(model)
    assert len(model._forward_pre_hooks) == 1  # idempotent: converted once
    assert apply_layout(built("cnn", False), "contiguous")._forward_pre_hooks == {}


@pytest.mark.parametrize("name", VARIANTS)
def test_channels_last_gives_the_same_logits(name, digits):
    x = digits[0][:16]
    with torch.no_grad():
        plain = built(name, False).eval()(x)
        last = built(name, True).eval()(x)
    assert (plain - last).abs().max().item() < TOLERANCE


@pytest.mark.parametrize("name", CLAIMING)
def test_claimed_symmetry_holds_channels_last(name, digits):
    errors = symmetry_errors(built(name, True), digits[0][:16])
    assert errors["rot90"] < TOLERANCE, errors
    if registry.get_variant(name).claims == "D4":
        assert errors["mirror"] < TOLERANCE, errors


def test_training_step_and_checkpoint_round_trip_channels_last(tmp_path, digits):
    """A resumed channels-last model gets back exactly its weights and optimizer state."""
    x, y = digits
    model = built("gcnn-c4", True)
    optimizer = make_optimizer(model, Recipe())
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    save_checkpoint(tmp_path / "c.pt", model, optimizer, 1, [])
    again = built("gcnn-c4", True)
    load_checkpoint(tmp_path / "c.pt", again, make_optimizer(again, Recipe()), torch.device("cpu"))
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_foreach_adamw_matches_the_per_parameter_loop(digits):
    """make_optimizer's foreach AdamW is a speed choice only: bit-identical weights."""
    x, y = digits
    models_ = [built("cnn", True), built("cnn", True)]
    optimizers = [
        make_optimizer(models_[0], Recipe()),
        torch.optim.AdamW(
            models_[1].parameters(), lr=Recipe.lr, weight_decay=Recipe.weight_decay, foreach=False
        ),
    ]
    for _ in range(5):
        for model, optimizer in zip(models_, optimizers, strict=True):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    for a, b in zip(models_[0].parameters(), models_[1].parameters(), strict=True):
        assert torch.equal(a, b)


def test_runs_written_before_layouts_resume_contiguous():
    from suite.runs.config import RunConfig

    old = RunConfig(variants=["cnn"]).to_dict()
    del old["layout"]
    assert RunConfig.from_dict(old).layout == "contiguous"
    assert RunConfig.from_dict(RunConfig(variants=["cnn"]).to_dict()).layout == "auto"
