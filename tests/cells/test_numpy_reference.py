"""Every cell and LSTM option against an independent NumPy step loop.

The references (`tests/references.py`) are written from the papers'
equations and read only the weights from the toolkit cell. All weights,
peepholes and norm scales included, are set to random non-default values
first, so a weight that is read wrongly (or not at all) shows.
"""

import keras
import numpy as np
import pytest
import references

import toolkit

ATOL = 1e-5
BATCH, TIME, FEATURES = 3, 6, 4


def assert_close(actual, expected):
    np.testing.assert_allclose(keras.ops.convert_to_numpy(actual), expected, atol=ATOL, rtol=ATOL)


def inputs(seed=0, batch=BATCH, time=TIME, features=FEATURES):
    return np.random.default_rng(seed).normal(size=(batch, time, features)).astype("float32")


def random_states(cell, seed=1, batch=BATCH):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.5, size=(batch, size)).astype("float32") for size in cell.state_size]


LAYERS = {
    "lstm": toolkit.layers.LSTM,
    "gru": toolkit.layers.GRU,
    "simple_rnn": toolkit.layers.SimpleRNN,
}
CELLS = {
    "lstm": toolkit.cells.LSTMCell,
    "gru": toolkit.cells.GRUCell,
    "simple_rnn": toolkit.cells.SimpleRNNCell,
}

LSTM_OPTIONS = {
    "plain": {},
    "no_bias_relu_hard_sigmoid": {
        "use_bias": False,
        "activation": "relu",
        "recurrent_activation": "hard_sigmoid",
    },
    "peephole": {"peephole": True},
    "cifg": {"coupled_input_forget": True},
    "layer_norm": {"layer_norm": True},
    "projection": {"projection": 2},
    "projection_clip": {"projection": 3, "projection_clip": 0.1},
    "cell_clip": {"cell_clip": 0.2},
    "zoneout": {"zoneout": 0.3, "cell_zoneout": 0.6},
    "peephole_projection": {"peephole": True, "projection": 2},
    "cifg_layer_norm_peephole": {
        "coupled_input_forget": True,
        "layer_norm": True,
        "peephole": True,
    },
    "everything": {
        "peephole": True,
        "layer_norm": True,
        "projection": 2,
        "cell_clip": 0.25,
        "projection_clip": 0.15,
        "zoneout": 0.2,
        "cell_zoneout": 0.5,
    },
    "everything_cifg_no_bias": {
        "coupled_input_forget": True,
        "peephole": True,
        "layer_norm": True,
        "use_bias": False,
        "projection": 3,
        "cell_clip": 0.25,
        "zoneout": 0.1,
    },
}

CASES = [("lstm", name, options) for name, options in LSTM_OPTIONS.items()] + [
    ("gru", "reset_after", {"reset_after": True}),
    ("gru", "reset_before", {"reset_after": False}),
    (
        "gru",
        "reset_after_no_bias_hard_sigmoid_zoneout",
        {
            "reset_after": True,
            "use_bias": False,
            "recurrent_activation": "hard_sigmoid",
            "zoneout": 0.3,
        },
    ),
    (
        "gru",
        "reset_before_no_bias_relu",
        {"reset_after": False, "use_bias": False, "activation": "relu"},
    ),
    ("simple_rnn", "plain", {}),
    (
        "simple_rnn",
        "no_bias_relu_zoneout",
        {"use_bias": False, "activation": "relu", "zoneout": 0.25},
    ),
]
CASE_IDS = [f"{kind}-{name}" for kind, name, _ in CASES]
# The cell stepped by keras.layers.RNN: a representative subset.
RNN_CASES = [
    case
    for case in CASES
    if case[1] in ("everything", "everything_cifg_no_bias", "reset_after", "reset_before")
]


def build_layer(kind, options, seed=0, **layer_kwargs):
    layer = LAYERS[kind](4, return_sequences=True, return_state=True, **options, **layer_kwargs)
    layer.build((BATCH, TIME, FEATURES))
    references.perturb_weights(layer, seed=seed)
    return layer


@pytest.mark.parametrize("kind, name, options", CASES, ids=CASE_IDS)
def test_layer_matches_numpy_reference(kind, name, options):
    # From a random initial state; the zero initial state is used by the
    # go_backwards tests below.
    layer = build_layer(kind, options)
    x = inputs()
    initial_state = random_states(layer.cell)
    outputs, *states = layer(x, initial_state=initial_state)
    expected_outputs, expected_states = references.REFERENCES[kind](
        x, layer.cell, initial_state=initial_state, **options
    )
    assert len(states) == len(expected_states)
    assert_close(outputs, expected_outputs)
    for state, expected in zip(states, expected_states):
        assert_close(state, expected)


@pytest.mark.parametrize(
    "kind, options, unroll",
    [
        ("lstm", LSTM_OPTIONS["everything"], False),
        ("lstm", LSTM_OPTIONS["cifg_layer_norm_peephole"], True),
        ("gru", {"reset_after": False}, False),
        ("simple_rnn", {}, True),
    ],
    ids=[
        "lstm-everything-loop",
        "lstm-cifg_layer_norm_peephole-unrolled",
        "gru-reset_before-loop",
        "simple_rnn-unrolled",
    ],
)
def test_go_backwards_and_unroll_match_reference(kind, options, unroll):
    layer = build_layer(kind, options, go_backwards=True, unroll=unroll)
    x = inputs(seed=3)
    outputs, *states = layer(x)
    # go_backwards: the reference runs over the reversed input; the returned
    # sequence is in processing (reversed) order, as in Keras.
    expected_outputs, expected_states = references.REFERENCES[kind](
        x[:, ::-1], layer.cell, **options
    )
    assert_close(outputs, expected_outputs)
    for state, expected in zip(states, expected_states):
        assert_close(state, expected)


ACTIVE_OPTION_CHECKS = [
    ({"cell_clip": 0.2}, {"cell_clip": None}),
    ({"projection": 3, "projection_clip": 0.1}, {"projection": 3, "projection_clip": None}),
    ({"zoneout": 0.3, "cell_zoneout": 0.6}, {"zoneout": 0.0, "cell_zoneout": 0.0}),
    ({"zoneout": 0.3, "cell_zoneout": 0.6}, {"zoneout": 0.3, "cell_zoneout": 0.0}),
    ({"peephole": True}, {"peephole": False}),
]


def test_options_are_active_in_these_tests():
    """Guards the comparisons above against being vacuous: with these weights
    and inputs each option does change the result (so a toolkit that ignored
    it would fail them)."""
    x = inputs()
    for options, neutral in ACTIVE_OPTION_CHECKS:
        layer = build_layer("lstm", options)
        expected, _ = references.lstm(x, layer.cell, **options)
        without, _ = references.lstm(x, layer.cell, **{**options, **neutral})
        assert np.abs(expected - without).max() > 1e-3, (options, neutral)


@pytest.mark.parametrize("epsilon", [None, 1e-3], ids=["default_epsilon", "epsilon_1e-3"])
def test_layer_norm_epsilon(epsilon):
    # Inputs this small give gate vectors whose variance is near epsilon, so
    # the epsilon (default 1e-5) visibly matters.
    options = {"layer_norm": True, "peephole": True}
    if epsilon is not None:
        options["layer_norm_epsilon"] = epsilon
    layer = build_layer("lstm", options)
    x = (inputs() * 1e-2).astype("float32")
    initial_state = [(s * 1e-2).astype("float32") for s in random_states(layer.cell)]
    outputs, h, c = layer(x, initial_state=initial_state)
    expected_outputs, (expected_h, expected_c) = references.lstm(
        x, layer.cell, initial_state=initial_state, **options
    )
    assert_close(outputs, expected_outputs)
    assert_close(h, expected_h)
    assert_close(c, expected_c)
    other = 1e-5 if epsilon else 1e-3
    changed, _ = references.lstm(
        x, layer.cell, initial_state=initial_state, **{**options, "layer_norm_epsilon": other}
    )
    assert np.abs(changed - expected_outputs).max() > 1e-3


@pytest.mark.parametrize(
    "kind, name, options", RNN_CASES, ids=[f"{k}-{n}" for k, n, _ in RNN_CASES]
)
def test_cell_in_keras_rnn_matches_reference(kind, name, options):
    """The cell alone, stepped by `keras.layers.RNN`, gives the same result."""
    cell = CELLS[kind](4, **options)
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    x = inputs(seed=5)
    initial_state = random_states(cell, seed=6)
    rnn(x, initial_state=initial_state)
    references.perturb_weights(rnn, seed=7)
    outputs, *states = rnn(x, initial_state=initial_state)
    expected_outputs, expected_states = references.REFERENCES[kind](
        x, cell, initial_state=initial_state, **options
    )
    assert_close(outputs, expected_outputs)
    assert len(states) == len(expected_states)
    for state, expected in zip(states, expected_states):
        assert_close(state, expected)


@pytest.mark.parametrize(
    "options",
    [LSTM_OPTIONS["everything"]],
    ids=["everything"],
)
def test_generic_recurrent_layer_and_single_cell_call_match_reference(options):
    cell = toolkit.cells.LSTMCell(5, **options)
    layer = toolkit.layers.Recurrent(cell, return_sequences=True, return_state=True)
    layer.build((2, 4, 3))
    references.perturb_weights(layer, seed=11)
    x = inputs(seed=12, batch=2, time=4, features=3)
    outputs, h, c = layer(x)
    expected_outputs, (expected_h, expected_c) = references.lstm(x, cell, **options)
    assert_close(outputs, expected_outputs)
    assert_close(h, expected_h)
    assert_close(c, expected_c)

    # One step through the public cell protocol.
    initial_state = random_states(cell, seed=13, batch=2)
    step_output, (step_h, step_c) = cell(x[:, 0], initial_state)
    expected_outputs, (expected_h, expected_c) = references.lstm(
        x[:, :1], cell, initial_state=initial_state, **options
    )
    assert_close(step_output, expected_outputs[:, 0])
    assert_close(step_h, expected_h)
    assert_close(step_c, expected_c)


def test_perturbation_touches_every_weight():
    layer = build_layer("lstm", LSTM_OPTIONS["everything"])
    names = sorted(v.path.split("/")[-1] for v in layer.weights)
    assert names == sorted(
        [
            "kernel",
            "recurrent_kernel",
            "bias",
            "input_peephole",
            "forget_peephole",
            "output_peephole",
            "input_norm_scale",
            "recurrent_norm_scale",
            "cell_norm_scale",
            "cell_norm_offset",
            "projection_kernel",
        ]
    )
    fresh = toolkit.layers.LSTM(4, **LSTM_OPTIONS["everything"])
    fresh.build((BATCH, TIME, FEATURES))
    for ours, default in zip(layer.get_weights(), fresh.get_weights()):
        assert not np.allclose(ours, default)
