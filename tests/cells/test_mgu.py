"""The MGU cell and layer against an independent NumPy step loop.

`references_slstm_mgu.mgu` is written from Zhou et al. (2016)'s equations.
All weights are random non-default values, so a weight read wrongly (gate
order, the forget gate applied before the candidate's recurrent kernel) shows.
"""

import functools

import keras
import numpy as np
import pytest
import references_slstm_mgu as references
from cell_checks import assert_close
from cell_checks import check_bidirectional
from cell_checks import check_export_serves_padded_ids
from cell_checks import check_masked_gradients
from cell_checks import check_padding
from cell_checks import check_stateful_chunks
from cell_checks import random_inputs
from layer_test import run_cell_test
from layer_test import run_layer_test

from toolkit.cells.mgu import MGUCell
from toolkit.layers.mgu import MGU

BATCH, TIME, FEATURES, UNITS = 3, 5, 3, 4

OPTIONS = {
    "plain": {},
    "no_bias_relu_hard_sigmoid": {
        "use_bias": False,
        "activation": "relu",
        "recurrent_activation": "hard_sigmoid",
    },
    "zoneout": {"zoneout": 0.3},
}


def inputs(seed=0, batch=BATCH, time=TIME):
    return random_inputs(FEATURES, seed=seed, batch=batch, time=time)


def random_state(batch=BATCH, seed=1):
    return [np.random.default_rng(seed).normal(size=(batch, UNITS)).astype("float32")]


def build_layer(options, seed=0, **layer_kwargs):
    layer = MGU(UNITS, return_sequences=True, return_state=True, **options, **layer_kwargs)
    layer.build((None, TIME, FEATURES))
    references.perturb_weights(layer, seed=seed)
    return layer


# === Outputs and states against the reference ===


@pytest.mark.parametrize("options", list(OPTIONS.values()), ids=list(OPTIONS))
def test_layer_matches_numpy_reference(options):
    layer = build_layer(options)
    x = inputs()
    initial_state = random_state()
    initial_state[0][0] = 0.0  # row 0 from the zero state
    outputs, state = layer(x, initial_state=initial_state)
    expected_outputs, (expected_state,) = references.mgu(
        x, layer.cell, initial_state=initial_state, **options
    )
    assert_close(outputs, expected_outputs)
    assert_close(state, expected_state)


def test_the_gate_is_active_in_these_tests():
    """The gate scales h_{t-1} inside the candidate: dropping that changes the result."""
    layer = build_layer({})
    x = inputs()
    expected, _ = references.mgu(x, layer.cell)
    weights = references.weights_of(layer.cell)
    # Candidate fed h_{t-1} instead of f_t * h_{t-1}: what a misread would compute.
    units = UNITS
    W, U, b = weights["kernel"], weights["recurrent_kernel"], weights["bias"]
    sigmoid = references.ACTIVATIONS["sigmoid"]
    h = np.zeros((BATCH, units))
    for t in range(TIME):
        f = sigmoid(x[:, t] @ W[:, :units] + h @ U[:, :units] + b[:units])
        candidate = np.tanh(x[:, t] @ W[:, units:] + h @ U[:, units:] + b[units:])
        h = (1.0 - f) * h + f * candidate
    assert np.abs(h - expected[:, -1]).max() > 1e-2


def test_go_backwards_unrolled_matches_reference():
    layer = build_layer({}, go_backwards=True, unroll=True)
    x = inputs(seed=3)
    outputs, state = layer(x)
    # The returned sequence is in processing (reversed) order, as in Keras.
    expected_outputs, (expected_state,) = references.mgu(x[:, ::-1], layer.cell)
    assert_close(outputs, expected_outputs)
    assert_close(state, expected_state)


def test_cell_in_keras_rnn_and_one_step_match_reference():
    options = {"zoneout": 0.2}
    cell = MGUCell(UNITS, **options)
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    x = inputs(seed=5)
    initial_state = random_state(seed=6)
    rnn.build((None, TIME, FEATURES))
    references.perturb_weights(rnn, seed=7)
    outputs, state = rnn(x, initial_state=initial_state)
    expected_outputs, (expected_state,) = references.mgu(
        x, cell, initial_state=initial_state, **options
    )
    assert_close(outputs, expected_outputs)
    assert_close(state, expected_state)
    step_output, (step_state,) = cell(x[:, 0], initial_state)
    expected_outputs, (expected_state,) = references.mgu(
        x[:, :1], cell, initial_state=initial_state, **options
    )
    assert_close(step_output, expected_outputs[:, 0])
    assert_close(step_state, expected_state)


def test_traced_gates_match_reference():
    layer = build_layer({})
    x = inputs(seed=8)
    initial_state = random_state(seed=9)
    gates = layer.trace(x, initial_state=initial_state)
    assert set(gates) == set(layer.cell.gate_names)
    _, _, expected = references.mgu(x, layer.cell, initial_state=initial_state, return_trace=True)
    for name in layer.cell.gate_names:
        assert_close(gates[name], expected[name])


# === Gradients ===


def test_gradients_with_mask_match_finite_differences_of_the_reference():
    """Padded batch, fully masked row included: the gradients are those of
    the reference run on each row's valid steps."""
    layer = MGU(UNITS, return_sequences=True)
    layer.build((None, 6, FEATURES))
    references.perturb_weights(layer, seed=13)
    check_masked_gradients(layer, references.mgu, FEATURES)


# === Masks, initial states, go_backwards, Bidirectional, stateful ===


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backwards"])
def test_padding_equals_each_sequence_alone(go_backwards):
    """Right, left, hole padding and a fully masked row, from random initial
    states: each row gets the reference run on its valid steps alone."""
    options = OPTIONS["no_bias_relu_hard_sigmoid"] if go_backwards else {}
    layer = build_layer(options, go_backwards=go_backwards)
    initial_state = random_state(batch=len(references.MASK), seed=19)
    check_padding(layer, functools.partial(references.mgu, **options), FEATURES, initial_state)


def test_bidirectional_matches_reference_with_and_without_mask():
    layer = keras.layers.Bidirectional(MGU(UNITS, return_sequences=True), merge_mode="sum")
    layer.build((None, 6, FEATURES))
    references.perturb_weights(layer, seed=21)
    check_bidirectional(layer, references.mgu, FEATURES)


def test_stateful_chunks_equal_one_full_call():
    check_stateful_chunks(
        lambda: MGU(UNITS, stateful=True, return_sequences=True),
        references.mgu,
        FEATURES,
        splits=(3, 5),
    )


# === Keras integration: config, saving, fit, mixed precision ===


def test_layer_passes_run_layer_test():
    run_layer_test(
        MGU,
        {
            "units": UNITS,
            "dropout": 0.1,
            "recurrent_dropout": 0.1,
            "zoneout": 0.1,
            "seed": 3,
            "return_state": True,
        },
        (2, 4, FEATURES),
        [(2, UNITS), (2, UNITS)],
        expected_num_trainable_weights=3,
        expected_num_non_trainable_weights=0,
        supports_masking=True,
        # One mixed policy per new cell (keeps the JAX run short): bfloat16
        # here, float16 in test_slstm.py.
        mixed_precision_policies=("mixed_bfloat16",),
    )


def test_cell_passes_run_cell_test():
    # In keras.layers.RNN, inference and saving; the layer test above trains it
    # in `Recurrent`.
    run_cell_test(
        MGUCell,
        {"units": UNITS, "use_bias": False},
        (2, 4, FEATURES),
        UNITS,
        expected_num_weights=2,
        expected_state_size=[UNITS],
        wrappers=("keras_rnn",),
        run_training_check=False,
        run_mixed_precision_check=False,
    )


def test_layer_forwards_cell_options_and_reports_its_loop():
    layer = MGU(UNITS, activation="relu")
    assert layer.units == UNITS and layer.activation is keras.activations.relu
    layer(inputs())
    assert layer.execution_path.startswith("step loop")
    with pytest.raises(ValueError, match="fused=True"):
        MGU(UNITS, fused=True)(inputs())


# === Export ===


@pytest.mark.tensorflow_only
def test_exported_model_serves_without_toolkit(tmp_path):
    def body(x):
        x = keras.layers.Bidirectional(MGU(UNITS, return_sequences=True))(x)
        return MGU(2, go_backwards=True)(x)

    check_export_serves_padded_ids(tmp_path, body, FEATURES)


# === Arguments ===


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"units": 0}, "units"),
        ({"units": 2.5}, "units"),
        ({"units": 4, "recurrent_activation": "no_such_activation"}, "recurrent_activation"),
        ({"units": 4, "dropout": 1.0}, "dropout"),
        ({"units": 4, "zoneout": -0.1}, "zoneout"),
        ({"units": 4, "seed": "x"}, "seed"),
    ],
)
def test_bad_arguments_raise_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MGUCell(**kwargs)
    with pytest.raises(ValueError, match=match):
        MGU(**kwargs)
