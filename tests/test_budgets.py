"""Parameter budgets: every variant scales its widths to within ±5% of the budget."""

import pytest

from suite import registry
from suite.errors import UsageError
from suite.registry import parse_budget

# escnn-oh's is checked in tests/test_volumes.py, the one file that builds it (escnn samples its
# bases once per process, about 10 s: one worker of pytest-xdist's pays it, not two)
ELSEWHERE = {"escnn-oh"}


@pytest.mark.parametrize("name", [n for n in registry.family_order(registry.names()) if n not in ELSEWHERE])
def test_100k_budget_within_five_percent(name):
    params = registry.count_params(registry.get(name, budget=100_000))
    assert abs(params - 100_000) <= 5_000, params


def test_parse_budget():
    assert parse_budget("tutorial") is None and parse_budget(None) is None
    assert parse_budget("100k") == 100_000 and parse_budget("1.5m") == 1_500_000
    assert parse_budget("20000") == 20_000
    for bad in ("lots", "10", "k"):
        with pytest.raises(UsageError):
            parse_budget(bad)


def test_stored_tutorial_widths_are_what_the_fit_finds():
    from models._budget import TUTORIAL_PARAMS, fit_widths
    from models.planar import _e3nn, _escnn

    for group, fields in _escnn.TUTORIAL_FIELDS.items():
        assert _escnn.fit_fields(group, TUTORIAL_PARAMS) == fields, group
    fitted = fit_widths(_e3nn.BASE_WIDTHS, _e3nn.e3nn_params, TUTORIAL_PARAMS)
    assert fitted == _e3nn.TUTORIAL_WIDTHS


def test_escnn_so2_stored_widths_and_count_match_the_built_model():
    from models._budget import TUTORIAL_PARAMS
    from models.planar import _escnn_so2

    assert _escnn_so2.fit_fields(TUTORIAL_PARAMS) == _escnn_so2.TUTORIAL_FIELDS
    model = registry.get("escnn-so2")
    assert model.fields == _escnn_so2.TUTORIAL_FIELDS
    assert _escnn_so2.param_count(model.fields) == registry.count_params(model)


def test_e3nn_so2_counted_parameters_match_built_models():
    from models.planar import _e3nn_chiral

    for widths, classes, channels in [((11, 3, 1, 64), 10, 1), ((5, 2, 2, 7), 29, 3)]:
        model = _e3nn_chiral.E3nnChiralPlanarCNN(widths, classes, channels)
        built = sum(p.numel() for p in model.parameters())
        assert _e3nn_chiral.chiral_params(widths, classes, channels) == built, widths
