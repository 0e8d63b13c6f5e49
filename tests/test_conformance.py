"""Every registered variant (and any plugin in C4SUITE_PLUGINS), automatically: shape, dtype,
one training step, parameter budget, and its claimed symmetry checked numerically."""

import pytest
import torch

from models._budget import TUTORIAL_PARAMS
from suite import registry
from suite.measure.conformance import (
    TOLERANCE,
    check_variant,
    max_logit_change,
    mirror,
    symmetry_errors,
    training_step_lowers_loss,
)

VARIANTS = registry.family_order(registry.names())
CLAIMING = [n for n in VARIANTS if registry.get_variant(n).claims != "none"]
D4 = [n for n in VARIANTS if registry.get_variant(n).claims == "D4"]
C4_ONLY = [n for n in VARIANTS if registry.get_variant(n).claims == "C4"]


@pytest.fixture(scope="module")
def built():
    cache = {}

    def build(name):
        if name not in cache:
            torch.manual_seed(0)
            cache[name] = registry.get(name)
        return cache[name]

    return build


@pytest.mark.parametrize("name", VARIANTS)
def test_output_shape_and_dtype(name, built, digits):
    model = built(name).eval()
    with torch.no_grad():
        out = model(digits[0][:5])
        assert out.shape == (5, 10) and out.dtype == torch.float32
        assert model(digits[0][:1]).shape == (1, 10)  # a batch of one keeps its axis


@pytest.mark.parametrize("name", VARIANTS)
def test_one_training_step_lowers_the_loss(name, digits):
    torch.manual_seed(0)
    assert training_step_lowers_loss(registry.get(name), *digits)


@pytest.mark.parametrize("name", VARIANTS)
def test_parameters_within_the_tutorial_budget(name, built):
    assert abs(registry.count_params(built(name)) - TUTORIAL_PARAMS) <= 0.05 * TUTORIAL_PARAMS


@pytest.mark.parametrize("name", CLAIMING)
def test_claimed_symmetry_on_random_inputs_and_real_digits(name, built, digits):
    spec = registry.get_variant(name)
    noise = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    for x in (noise, digits[0]):
        errors = symmetry_errors(built(name), x)
        assert errors["rot90"] < TOLERANCE, errors
        if spec.claims == "D4":
            assert errors["mirror"] < TOLERANCE, errors


@pytest.mark.parametrize("name", C4_ONLY)
def test_c4_variants_are_not_mirror_invariant(name, built, digits):
    assert max_logit_change(built(name), digits[0], mirror) > 1e-3


def test_plain_cnn_is_measurably_not_invariant(built, digits):
    errors = symmetry_errors(built("cnn"), digits[0])
    assert errors["rot90"] > 1e-3 and errors["mirror"] > 1e-3


def test_check_reports_a_broken_claim(digits):
    @registry.register("test-false-claim", description="claims C4, is not", family="plugin", claims="C4")
    def false_claim(budget=None):
        return registry.get("cnn")

    try:
        row = check_variant("test-false-claim", *digits)
        assert row["shape_ok"] and not row["claim_holds"] and row["rot90"] > TOLERANCE
    finally:
        registry.unregister("test-false-claim")
