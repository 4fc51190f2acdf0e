"""`toolkit.layers.get`: the one lookup from cell names to sequence layers."""

import pytest

import toolkit


@pytest.mark.parametrize(
    "name, layer",
    [
        ("simple", toolkit.layers.SimpleRNN),
        ("lstm", toolkit.layers.LSTM),
        ("gru", toolkit.layers.GRU),
        (" GRU ", toolkit.layers.GRU),
        ("mgu", toolkit.layers.MGU),
        ("sLSTM", toolkit.layers.sLSTM),
        ("mingru", toolkit.layers.MinGRU),
    ],
)
def test_get_returns_the_layer_class(name, layer):
    assert toolkit.layers.get(name) is layer


def test_available_lists_every_name_get_accepts():
    assert toolkit.layers.available() == (
        "simple",
        "lstm",
        "gru",
        "mgu",
        "slstm",
        "mingru",
        "minlstm",
    )
    for name in toolkit.layers.available():
        assert issubclass(toolkit.layers.get(name), toolkit.layers.Recurrent)


@pytest.mark.parametrize("name", ["transformer", "", None, 3])
def test_unknown_name_is_a_clear_error(name):
    with pytest.raises(ValueError, match=r"Argument `name` expected one of .*Received: name="):
        toolkit.layers.get(name)
