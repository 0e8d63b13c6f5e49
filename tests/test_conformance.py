"""Every registered variant (and any plugin in C4SUITE_PLUGINS), automatically: shape, dtype,
one training step, parameter budget, and its claimed symmetry checked numerically."""

import pytest
import torch

from models._budget import TUTORIAL_PARAMS
from suite import registry
from suite.data.groups import D4 as D4_GROUP
from suite.measure.conformance import (
    TOLERANCE,
    check_variant,
    dead_parameters,
    max_logit_change,
    symmetry_errors,
    training_step_lowers_loss,
)
from suite.training.train import running_stat_modules

VARIANTS = registry.family_order([n for n in registry.names() if "2d" in registry.get_variant(n).tasks])
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


def test_only_the_e3nn_variants_keep_batchnorm_statistics(built):
    """The README says so where it explains precise BN (the recipe's ``bn_refresh_images``)."""
    with_stats = {n for n in VARIANTS if running_stat_modules(built(n))}
    assert with_stats == {n for n in VARIANTS if n.startswith("e3nn")} and with_stats


@pytest.mark.parametrize("name", VARIANTS)
def test_parameters_within_the_tutorial_budget(name, built):
    assert abs(registry.count_params(built(name)) - TUTORIAL_PARAMS) <= 0.05 * TUTORIAL_PARAMS


@pytest.mark.parametrize("name", VARIANTS)
def test_every_parameter_entry_gets_a_gradient(name, digits):
    """A weight whose gradient is exactly zero can never learn (e.g. a radial basis function that
    vanishes on every tap of a kernel): none may exist, on random inputs or on real digits."""
    torch.manual_seed(0)
    model = registry.get(name)
    assert dead_parameters(model) == 0
    assert dead_parameters(model, digits[0][:32], digits[1][:32]) == 0


@pytest.mark.parametrize("name", VARIANTS)
def test_a_checkpoint_after_training_steps_resumes_in_a_fresh_build(name, digits, tmp_path):
    """An interrupted unit resumes in a new process: its checkpoint loads into a model built anew
    (escnn's fresh layers hold cached filters a trained model has dropped) and predicts the same."""
    torch.manual_seed(0)
    checkpoint_round_trip(registry.get(name), lambda: registry.get(name), *digits, tmp_path / "unit.pt")


def checkpoint_round_trip(model, rebuild, x, y, path) -> None:
    """One training step, a checkpoint, a rebuilt model loaded from it: the same logits."""
    from suite.training.train import load_checkpoint, save_checkpoint

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(x[:4]), y[:4]).backward()
    optimizer.step()
    save_checkpoint(path, model, optimizer, 1, [])
    torch.manual_seed(1)
    fresh = rebuild()
    again = torch.optim.AdamW(fresh.parameters(), lr=1e-2)
    assert load_checkpoint(path, fresh, again, torch.device("cpu")) == (1, [])
    with torch.no_grad():
        assert torch.equal(model.eval()(x[:4]), fresh.eval()(x[:4]))


def test_dead_parameters_counts_entries_that_never_learn():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    model.unused = torch.nn.Parameter(torch.zeros(3, 4))  # never in the forward: no gradient at all
    x = torch.rand(32, 1, 28, 28)
    x[..., 0, :5] = 0.0  # the first five pixels are always 0: their weights get exactly zero gradient
    assert dead_parameters(model, x, torch.randint(0, 10, (32,))) == 12 + 10 * 5
    assert model.unused.grad is None and model[1].weight.grad is None  # gradients cleared again


@pytest.mark.parametrize("name", CLAIMING)
def test_claimed_symmetry_holds_in_eval_mode_after_training_steps(name, digits):
    """Running statistics (batch norm) after a few steps must keep the claim in eval mode."""
    torch.manual_seed(0)
    model = registry.get(name)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x, y = digits
    model.train()
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    errors = symmetry_errors(model, x)
    assert errors["rot90"] < TOLERANCE, errors
    if registry.get_variant(name).claims == "D4":
        assert errors["mirror"] < TOLERANCE, errors


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
    assert max_logit_change(built(name), digits[0], D4_GROUP.mirrors[0].act) > 1e-3


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
        assert row["dead_params"] == 0 and not row["verdict"]
    finally:
        registry.unregister("test-false-claim")


def test_check_fails_a_variant_with_dead_parameters(digits):
    @registry.register("test-dead-weight", description="a CNN with a weight nothing reads", family="plugin")
    def dead_weight(budget=None):
        model = registry.get("cnn")
        model.register_parameter("orphan", torch.nn.Parameter(torch.ones(7)))
        return model

    try:
        row = check_variant("test-dead-weight", *digits)
        assert row["shape_ok"] and row["learns"] and row["claim_holds"]
        assert row["dead_params"] == 7 and not row["verdict"]
    finally:
        registry.unregister("test-dead-weight")


class SeedSilencedReLU(torch.nn.Module):
    """A small ReLU CNN whose first channel one draw of the initialisation leaves silent for every
    input (a bias far below any activation), as a dying ReLU would: an accident of that seed."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.head = torch.nn.Linear(4, 10)
        if torch.rand(()) < 0.5:  # at torch seed 0 this draw is below 0.5; at seeds 1 and 2 above
            with torch.no_grad():
                self.conv.bias[0] = -1e3

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=(-2, -1)))


def test_check_tells_a_seeds_silent_relu_from_a_weight_no_input_reaches(digits):
    """A channel silent at one initialisation only is a warning (its entries counted), not a FAIL;
    an entry no input reaches at any initialisation is (the dead-weight test above)."""
    silenced = [seed for seed in (0, 1, 2) if torch.manual_seed(seed) and not (torch.rand(()) < 0.5)]
    assert 0 < len(silenced) < 3  # the draw silences the channel at some seeds, not all

    @registry.register("test-silent-relu", description="a ReLU channel one seed silences", family="plugin")
    def silent_relu(budget=None):
        return SeedSilencedReLU()

    try:
        row = check_variant("test-silent-relu", *digits)
        # the silenced channel's 3x3 filter, its bias and its head column, at least
        assert row["dead_params"] == 0 and row["dead_some_inits"] >= 9 + 1 + 10
        assert row["shape_ok"] and row["claim_holds"]  # (a toy: whether it learns is not the point)
    finally:
        registry.unregister("test-silent-relu")


def test_e3nn_radial_basis_reaches_every_weight():
    """Every radial function of e3nn-o2's planar convolutions is non-zero on some tap other than the
    centre (whose harmonics of degree l > 0 vanish; the self-connection serves it), and the kernels
    have no extent in z."""
    from models.planar._e3nn import PlanarConvolution

    for size, number in ((3, None), (5, None), (7, 4), (7, None)):
        conv = PlanarConvolution("2x0e + 1x1o + 1x2e", "3x0e + 2x1o + 1x2e", size, number)
        off_centre = conv.emb.clone()
        off_centre[size // 2, size // 2] = 0.0
        assert (off_centre.flatten(0, 1).amax(0) > 0).all() and not conv.emb[size // 2, size // 2].any()
        assert conv.kernel().shape == (conv.irreps_out.dim, conv.irreps_in.dim, size, size)
