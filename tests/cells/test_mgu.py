"""The MGU cell and layer against an independent NumPy step loop.

`references_slstm_mgu.mgu` is written from Zhou et al. (2016)'s equations.
All weights are random non-default values, so a weight read wrongly (gate
order, the forget gate applied before the candidate's recurrent kernel) shows.
"""

import keras
import numpy as np
import pytest
import references_slstm_mgu as references
from layer_test import run_cell_test
from layer_test import run_layer_test
from serving import serve_without_toolkit

from toolkit.cells.mgu import MGUCell
from toolkit.layers.mgu import MGU

ATOL = 1e-5
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


def to_numpy(value):
    return keras.ops.convert_to_numpy(value)


def assert_close(actual, expected, atol=ATOL):
    np.testing.assert_allclose(to_numpy(actual), expected, atol=atol, rtol=atol)


def inputs(seed=0, batch=BATCH, time=TIME):
    return np.random.default_rng(seed).normal(size=(batch, time, FEATURES)).astype("float32")


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
    mask = references.MASK
    x = inputs(seed=14, batch=len(mask), time=6)
    target = np.random.default_rng(15).normal(size=(len(mask), 6, UNITS))

    def reference_loss(weights):
        loss = 0.0
        for row in range(len(mask)):
            if mask[row].any():
                outputs, _ = references.mgu(x[row : row + 1, mask[row]], weights)
                loss += np.sum(outputs[0] * target[row, mask[row]])
        return loss

    expected = references.finite_difference_gradients(
        reference_loss, references.weights_of(layer.cell)
    )
    gradients = references.autodiff_gradients(
        layer, lambda out: keras.ops.sum(out * target), x, mask=mask
    )
    assert set(gradients) == set(expected) == {"kernel", "recurrent_kernel", "bias"}
    for name in expected:
        np.testing.assert_allclose(gradients[name], expected[name], atol=2e-4, rtol=1e-3)
        assert np.abs(expected[name]).max() > 1e-3, name


# === Masks, initial states, go_backwards, Bidirectional, stateful ===


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backwards"])
def test_padding_equals_each_sequence_alone(go_backwards):
    """Right, left, hole padding and a fully masked row, from random initial
    states: each row gets the reference run on its valid steps alone."""
    options = OPTIONS["no_bias_relu_hard_sigmoid"] if go_backwards else {}
    layer = build_layer(options, go_backwards=go_backwards)
    mask = references.MASK
    x = inputs(seed=18, batch=len(mask), time=6)
    initial_state = random_state(batch=len(mask), seed=19)
    outputs, state = layer(x, mask=mask, initial_state=initial_state)
    outputs = to_numpy(outputs)[:, ::-1] if go_backwards else outputs

    def reference(row, row_state):
        valid = x[row : row + 1, mask[row]]
        expected_outputs, expected_states = references.mgu(
            valid[:, ::-1] if go_backwards else valid, layer.cell, row_state, **options
        )
        return (expected_outputs[:, ::-1] if go_backwards else expected_outputs), expected_states

    references.check_masked_rows(outputs, [state], mask, reference, initial_state)


def test_bidirectional_matches_reference_with_and_without_mask():
    layer = keras.layers.Bidirectional(MGU(UNITS, return_sequences=True), merge_mode="sum")
    layer.build((None, 6, FEATURES))
    references.perturb_weights(layer, seed=21)
    mask = references.MASK
    x = inputs(seed=22, batch=len(mask), time=6)

    def reference(sequences):
        forward, _ = references.mgu(sequences, layer.forward_layer.cell)
        backward, _ = references.mgu(sequences[:, ::-1], layer.backward_layer.cell)
        return forward + backward[:, ::-1]

    assert_close(layer(x), reference(x))
    outputs = to_numpy(layer(x, mask=mask))
    np.testing.assert_array_equal(outputs[~mask], 0.0)
    for row in range(len(mask)):
        if mask[row].any():
            assert_close(outputs[row, mask[row]], reference(x[row : row + 1, mask[row]])[0])


def test_stateful_chunks_equal_one_full_call():
    sequences = keras.Input(shape=(None, FEATURES), batch_size=2)
    layer = MGU(UNITS, stateful=True, return_sequences=True)
    model = keras.Model(sequences, layer(sequences))
    references.perturb_weights(layer, seed=23)
    x = inputs(seed=24, batch=2, time=6)
    chunks = [to_numpy(model(x[:, :3])), to_numpy(model(x[:, 3:5])), to_numpy(model(x[:, 5:]))]
    expected_outputs, (expected_state,) = references.mgu(x, layer.cell)
    assert_close(np.concatenate(chunks, axis=1), expected_outputs)
    assert_close(layer.states[0], expected_state)
    layer.reset_state()
    assert_close(model(x[:, :3]), expected_outputs[:, :3])


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

SERVE = """
inputs = np.load(f"{directory}/inputs.npz")
restored = tf.saved_model.load(f"{directory}/model")
np.save(f"{directory}/served.npy", np.asarray(restored.serve(tf.constant(inputs["ids"]))))
"""


@pytest.mark.tensorflow_only
def test_exported_model_serves_without_toolkit(tmp_path):
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, FEATURES, mask_zero=True)(ids)
    x = keras.layers.Bidirectional(MGU(UNITS, return_sequences=True))(x)
    x = MGU(2, go_backwards=True)(x)
    model = keras.Model(ids, keras.layers.Dense(2)(x))
    references.perturb_weights(model, seed=25)
    batch = np.random.default_rng(26).integers(1, 10, size=(3, 6)).astype("int32")
    batch[0, 4:] = 0  # right padding
    batch[1, :2] = 0  # left padding
    expected = to_numpy(model(batch))
    for row, valid in ((0, slice(0, 4)), (1, slice(2, 6))):
        assert_close(expected[row : row + 1], to_numpy(model(batch[row : row + 1, valid])))
    model.export(str(tmp_path / "model"), verbose=False)
    np.savez(tmp_path / "inputs.npz", ids=batch)
    serve_without_toolkit(tmp_path, SERVE)
    np.testing.assert_allclose(np.load(tmp_path / "served.npy"), expected, rtol=1e-5, atol=1e-5)


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
