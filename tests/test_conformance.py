"""Every registered variant, automatically: shape, one training step, its claimed symmetry."""

import pytest
import torch
import torch.nn.functional as F

from suite import registry
from suite.rotations import rot90

VARIANTS = registry.names()
C4_CLAIMS = [n for n in VARIANTS if registry.get_variant(n).claims in ("C4", "D4")]
TOLERANCE = 1e-4


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
    with torch.no_grad():
        assert model(digits[0][:1]).shape == (1, 10)  # batch of one keeps its axis


@pytest.mark.parametrize("name", VARIANTS)
def test_one_training_step_lowers_the_loss(name, digits):
    torch.manual_seed(0)
    model = registry.get(name).train()
    x, y = digits
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = F.cross_entropy(model(x), y)
    assert after.item() < before.item()


def _max_rot90_error(model, x):
    model.eval()
    with torch.no_grad():
        reference = model(x)
        return max((model(rot90(x, k)) - reference).abs().max().item() for k in (1, 2, 3))


@pytest.mark.parametrize("name", C4_CLAIMS)
def test_claimed_c4_invariance_on_random_inputs(name, built):
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    assert _max_rot90_error(built(name), x) < TOLERANCE


@pytest.mark.parametrize("name", C4_CLAIMS)
def test_claimed_c4_invariance_on_real_digits(name, built, digits):
    assert _max_rot90_error(built(name), digits[0]) < TOLERANCE


def test_plain_cnn_is_measurably_not_invariant(built, digits):
    assert _max_rot90_error(built("cnn"), digits[0]) > 1e-3
