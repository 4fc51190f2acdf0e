"""`run_cell_test` on every cell and every cell option.

Each configuration is checked alone (config round trips, one step of the
public cell protocol), then inside `keras.layers.RNN(cell)` and inside
`toolkit.layers.Recurrent(cell)` (config, build, symbolic and eager calls,
one `fit` step, `.keras` save/load, mixed precision); see `layer_test.py`.
"""

import pytest
from layer_test import run_cell_test

import toolkit

BATCH, STEPS, FEATURES, UNITS = 2, 4, 3, 3
INPUT_SHAPE = (BATCH, STEPS, FEATURES)

# (id, cell class, constructor arguments, output size, number of weights,
# state sizes)
CELL_CASES = [
    ("simple_rnn", toolkit.cells.SimpleRNNCell, {}, UNITS, 3, [UNITS]),
    (
        "simple_rnn_relu_nobias_random",
        toolkit.cells.SimpleRNNCell,
        {
            "activation": "relu",
            "use_bias": False,
            "dropout": 0.2,
            "recurrent_dropout": 0.2,
            "zoneout": 0.1,
            "seed": 3,
        },
        UNITS,
        2,
        [UNITS],
    ),
    ("lstm", toolkit.cells.LSTMCell, {}, UNITS, 3, [UNITS, UNITS]),
    # Peepholes on the input, forget and output gates.
    ("lstm_peephole", toolkit.cells.LSTMCell, {"peephole": True}, UNITS, 6, [UNITS, UNITS]),
    # CIFG; with peepholes there is no input-gate peephole.
    (
        "lstm_coupled_input_forget_peephole",
        toolkit.cells.LSTMCell,
        {"coupled_input_forget": True, "peephole": True},
        UNITS,
        5,
        [UNITS, UNITS],
    ),
    ("lstm_layer_norm", toolkit.cells.LSTMCell, {"layer_norm": True}, UNITS, 7, [UNITS, UNITS]),
    (
        "lstm_projection_clip",
        toolkit.cells.LSTMCell,
        {"projection": 2, "projection_clip": 0.5},
        2,
        4,
        [2, UNITS],
    ),
    ("lstm_cell_clip", toolkit.cells.LSTMCell, {"cell_clip": 0.5}, UNITS, 3, [UNITS, UNITS]),
    (
        "lstm_zoneout",
        toolkit.cells.LSTMCell,
        {"zoneout": 0.2, "cell_zoneout": 0.3, "seed": 5},
        UNITS,
        3,
        [UNITS, UNITS],
    ),
    (
        "lstm_dropout",
        toolkit.cells.LSTMCell,
        {"dropout": 0.3, "recurrent_dropout": 0.3, "seed": 7},
        UNITS,
        3,
        [UNITS, UNITS],
    ),
    ("gru_reset_after", toolkit.cells.GRUCell, {"reset_after": True}, UNITS, 3, [UNITS]),
    ("gru_reset_before", toolkit.cells.GRUCell, {"reset_after": False}, UNITS, 3, [UNITS]),
    (
        "gru_zoneout",
        toolkit.cells.GRUCell,
        {"zoneout": 0.25, "recurrent_dropout": 0.2, "seed": 11},
        UNITS,
        3,
        [UNITS],
    ),
]


@pytest.mark.parametrize(
    "cell_cls, options, output_size, num_weights, state_size",
    [case[1:] for case in CELL_CASES],
    ids=[case[0] for case in CELL_CASES],
)
def test_cell(cell_cls, options, output_size, num_weights, state_size):
    run_cell_test(
        cell_cls,
        {"units": UNITS, **options},
        INPUT_SHAPE,
        output_size,
        expected_num_weights=num_weights,
        expected_state_size=state_size,
        wrappers=("keras_rnn", "recurrent"),
    )
