"""The sLSTM cell and layer against an independent NumPy step loop.

`references_slstm_mgu.slstm` is written from the xLSTM paper's equations
(Beck et al., 2024) with the recurrent kernel expanded to a dense
block-diagonal matrix; `slstm_unstabilized` runs the same recursion without the
stabilizer in float64, which pins that the stabilizer leaves the outputs alone
where float32 would overflow. All weights are random non-default values, so a
weight read wrongly (gate order, head layout) shows.
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
from cell_checks import to_numpy
from layer_test import run_cell_test
from layer_test import run_layer_test

from toolkit.cells.slstm import sLSTMCell
from toolkit.layers.slstm import sLSTM

BATCH, TIME, FEATURES, UNITS = 3, 5, 3, 4

OPTIONS = {
    "heads1_sigmoid": {"num_heads": 1},
    "heads2_exponential": {"num_heads": 2, "forget_gate": "exponential"},
    "heads4_sigmoid": {"num_heads": 4},
    "heads2_no_bias_relu_hard_sigmoid_zoneout": {
        "num_heads": 2,
        "use_bias": False,
        "activation": "relu",
        "recurrent_activation": "hard_sigmoid",
        "zoneout": 0.3,
    },
}


def inputs(seed=0, batch=BATCH, time=TIME):
    return random_inputs(FEATURES, seed=seed, batch=batch, time=time)


def random_states(batch=BATCH, seed=1):
    """`[h, c, n, m]` with a positive normalizer (a non-empty memory)."""
    rng = np.random.default_rng(seed)
    h, c, m = (rng.normal(scale=0.5, size=(batch, UNITS)) for _ in range(3))
    n = rng.uniform(0.5, 2.0, size=(batch, UNITS))
    return [s.astype("float32") for s in (h, c, n, m)]


def build_layer(options, seed=0, **layer_kwargs):
    layer = sLSTM(UNITS, return_sequences=True, return_state=True, **options, **layer_kwargs)
    layer.build((None, TIME, FEATURES))
    references.perturb_weights(layer, seed=seed)
    return layer


# === Outputs and states against the reference ===


@pytest.mark.parametrize("options", list(OPTIONS.values()), ids=list(OPTIONS))
def test_layer_matches_numpy_reference(options):
    layer = build_layer(options)
    x = inputs()
    # Row 0 starts from the empty (all-zero) memory, the others from random states.
    initial_state = random_states()
    for state in initial_state:
        state[0] = 0.0
    outputs, *states = layer(x, initial_state=initial_state)
    expected_outputs, expected_states = references.slstm(
        x, layer.cell, initial_state=initial_state, **options
    )
    assert_close(outputs, expected_outputs)
    assert len(states) == 4
    for state, expected in zip(states, expected_states):
        assert_close(state, expected)


def test_options_are_active_in_these_tests():
    """With these weights each option changes the result, so ignoring it fails."""
    layer = build_layer({"num_heads": 2})
    x = inputs()
    base, _ = references.slstm(x, layer.cell, num_heads=2)
    exponential, _ = references.slstm(x, layer.cell, num_heads=2, forget_gate="exponential")
    assert np.abs(base - exponential).max() > 1e-2
    # A dense R (every head reading every unit) would give something else.
    weights = references.weights_of(layer.cell)
    heads, size, width = weights["recurrent_kernel"].shape
    dense = references.block_diagonal_recurrent_kernel(weights["recurrent_kernel"], heads)
    assert np.count_nonzero(dense) == heads * size * width
    assert np.count_nonzero(dense) < dense.size


def test_go_backwards_unrolled_matches_reference():
    options = OPTIONS["heads2_exponential"]
    layer = build_layer(options, go_backwards=True, unroll=True)
    x = inputs(seed=3)
    outputs, *states = layer(x)
    # The returned sequence is in processing (reversed) order, as in Keras.
    expected_outputs, expected_states = references.slstm(x[:, ::-1], layer.cell, **options)
    assert_close(outputs, expected_outputs)
    for state, expected in zip(states, expected_states):
        assert_close(state, expected)


def test_cell_in_keras_rnn_and_one_step_match_reference():
    options = {"num_heads": 2, "forget_gate": "exponential", "zoneout": 0.2}
    cell = sLSTMCell(UNITS, **options)
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    x = inputs(seed=5)
    initial_state = random_states(seed=6)
    rnn.build((None, TIME, FEATURES))
    references.perturb_weights(rnn, seed=7)
    outputs, *states = rnn(x, initial_state=initial_state)
    expected_outputs, expected_states = references.slstm(
        x, cell, initial_state=initial_state, **options
    )
    assert_close(outputs, expected_outputs)
    for state, expected in zip(states, expected_states):
        assert_close(state, expected)
    step_output, step_states = cell(x[:, 0], [keras.ops.zeros((BATCH, UNITS))] * 4)
    expected_outputs, expected_states = references.slstm(x[:, :1], cell, **options)
    assert_close(step_output, expected_outputs[:, 0])
    for state, expected in zip(step_states, expected_states):
        assert_close(state, expected)


def test_traced_gates_match_reference():
    options = OPTIONS["heads2_exponential"]
    layer = build_layer(options)
    x = inputs(seed=8)
    initial_state = random_states(seed=9)
    gates = layer.trace(x, initial_state=initial_state)
    assert set(gates) == set(layer.cell.gate_names)
    _, _, expected = references.slstm(
        x, layer.cell, initial_state=initial_state, return_trace=True, **options
    )
    for name in layer.cell.gate_names:
        assert_close(gates[name], expected[name])
    # The stabilized gates are at most 1, and one of them is 1 at every step.
    input_gate, forget_gate = to_numpy(gates["input_gate"]), to_numpy(gates["forget_gate"])
    assert input_gate.max() <= 1.0 and forget_gate.max() <= 1.0
    np.testing.assert_allclose(np.maximum(input_gate, forget_gate), 1.0, atol=1e-6)


def test_dropout_and_zoneout_in_a_training_step():
    """Recurrent dropout scales h_{t-1} where it enters R; zoneout keeps units
    of h alone (c, n, m have no zoneout, their scale is the stabilizer's)."""
    options = {"num_heads": 2, "forget_gate": "exponential"}
    cell = sLSTMCell(UNITS, recurrent_dropout=0.5, zoneout=0.5, seed=1, **options)
    cell.build((None, FEATURES))
    references.perturb_weights(cell, seed=30)
    x = inputs(seed=31)[:, :1]
    states = random_states(seed=32)
    dropout_mask = cell.recurrent_dropout_mask(keras.ops.convert_to_tensor(states[0]))
    zoneout_masks = cell.zoneout_masks((BATCH,))
    output, new_states, _ = cell.recurrent_step(
        cell.project_inputs(x[:, 0]),
        [keras.ops.convert_to_tensor(state) for state in states],
        recurrent_dropout_mask=dropout_mask,
        zoneout_masks=zoneout_masks,
        training=True,
    )
    dropped = [states[0] * to_numpy(dropout_mask)] + states[1:]
    assert 0.0 < np.mean(to_numpy(dropout_mask) == 0.0) < 1.0
    _, expected_states = references.slstm(x, cell, initial_state=dropped, **options)
    keep = to_numpy(zoneout_masks[0]).astype(bool)
    assert 0.0 < keep.mean() < 1.0
    expected_hidden = np.where(keep, states[0], expected_states[0])
    assert_close(output, expected_hidden)
    assert_close(new_states[0], expected_hidden)
    for state, expected in zip(new_states[1:], expected_states[1:]):
        assert_close(state, expected)
    assert cell.zoneout_rates == [0.5, 0.0, 0.0, 0.0]


# === The stabilizer ===


@pytest.mark.parametrize("forget_gate", ["sigmoid", "exponential"])
def test_large_preactivations_match_the_unstabilized_recursion(forget_gate):
    """Pre-activations past float32's exp range: the stabilized cell equals
    the float64 recursion without stabilizer, and its gradients are finite."""
    options = {"num_heads": 2, "forget_gate": forget_gate}
    layer = build_layer(options, seed=10)
    layer.cell.kernel.assign(to_numpy(layer.cell.kernel) * 60.0)
    layer.cell.bias.assign(to_numpy(layer.cell.bias) * 60.0)
    x = inputs(seed=11, time=4)
    preactivations = x @ to_numpy(layer.cell.kernel) + to_numpy(layer.cell.bias)
    # exp(i~) overflows float32 above ~88.7 (this test would be moot otherwise).
    largest_input_gate = preactivations[..., :UNITS].max()
    assert largest_input_gate > 100.0
    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(largest_input_gate.astype("float32")))

    unstabilized = references.slstm_unstabilized(x, layer.cell, **options)
    assert np.all(np.isfinite(unstabilized))
    stabilized, expected_states = references.slstm(x, layer.cell, **options)
    np.testing.assert_allclose(stabilized, unstabilized, atol=1e-9)
    outputs, *states = layer(x)
    assert all(np.all(np.isfinite(to_numpy(value))) for value in [outputs, *states])
    assert_close(outputs, unstabilized, atol=1e-4)
    for state, expected in zip(states, expected_states):
        assert_close(state, expected, atol=1e-4 * max(1.0, np.abs(expected).max()))

    target = np.random.default_rng(12).normal(size=outputs.shape).astype("float32")
    gradients = references.autodiff_gradients(
        layer, lambda results: keras.ops.sum(keras.ops.multiply(results[0], target)), x
    )
    for name, gradient in gradients.items():
        assert np.all(np.isfinite(gradient)), name


# === Gradients ===


@pytest.mark.parametrize(
    "options", [OPTIONS["heads2_exponential"], OPTIONS["heads1_sigmoid"]], ids=["h2_exp", "h1_sig"]
)
def test_gradients_with_mask_match_finite_differences_of_the_reference(options):
    """Padded batch, fully masked row included (it never leaves the empty
    memory): the gradients are finite and those of the reference run on each
    row's valid steps."""
    layer = sLSTM(UNITS, return_sequences=True, **options)
    layer.build((None, 6, FEATURES))
    references.perturb_weights(layer, seed=13)
    check_masked_gradients(layer, functools.partial(references.slstm, **options), FEATURES)


# === Masks, initial states, go_backwards, Bidirectional, stateful ===


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backwards"])
def test_padding_equals_each_sequence_alone(go_backwards):
    """Right, left, hole padding and a fully masked row, from random initial
    states: each row gets the reference run on its valid steps alone."""
    options = OPTIONS["heads2_exponential"] if go_backwards else OPTIONS["heads4_sigmoid"]
    layer = build_layer(options, go_backwards=go_backwards)
    initial_state = random_states(batch=len(references.MASK), seed=19)
    check_padding(layer, functools.partial(references.slstm, **options), FEATURES, initial_state)


def test_bidirectional_matches_reference_with_and_without_mask():
    options = OPTIONS["heads2_exponential"]
    layer = keras.layers.Bidirectional(sLSTM(UNITS, return_sequences=True, **options))
    layer.build((None, 6, FEATURES))
    references.perturb_weights(layer, seed=21)
    check_bidirectional(layer, functools.partial(references.slstm, **options), FEATURES)


def test_stateful_chunks_equal_one_full_call():
    options = OPTIONS["heads2_exponential"]
    check_stateful_chunks(
        lambda: sLSTM(UNITS, stateful=True, return_sequences=True, **options),
        functools.partial(references.slstm, **options),
        FEATURES,
        splits=(2,),
    )


# === Keras integration: config, saving, fit, mixed precision ===


def test_layer_passes_run_layer_test():
    run_layer_test(
        sLSTM,
        {
            "units": UNITS,
            "num_heads": 2,
            "forget_gate": "exponential",
            # Dropout and zoneout: test_dropout_and_zoneout_in_a_training_step
            # (test_mgu.py trains the shared mask machinery in `Recurrent`).
            "return_sequences": True,
        },
        (2, 4, FEATURES),
        (2, 4, UNITS),
        expected_num_trainable_weights=3,
        expected_num_non_trainable_weights=0,
        supports_masking=True,
        # One mixed policy per new cell (keeps the JAX run short): float16, the
        # narrower range, for the exponential gates; test_mgu.py runs bfloat16.
        mixed_precision_policies=("mixed_float16",),
    )


def test_cell_passes_run_cell_test():
    # In keras.layers.RNN, inference and saving; the layer test above trains it
    # in `Recurrent`.
    run_cell_test(
        sLSTMCell,
        {"units": UNITS, "num_heads": 4},
        (2, 4, FEATURES),
        UNITS,
        expected_num_weights=3,
        expected_state_size=[UNITS] * 4,
        wrappers=("keras_rnn",),
        run_training_check=False,
        run_mixed_precision_check=False,
    )


def test_layer_forwards_cell_options_and_reports_its_loop():
    layer = sLSTM(UNITS, num_heads=2, forget_gate="exponential")
    assert (layer.num_heads, layer.forget_gate, layer.cell.head_size) == (2, "exponential", 2)
    layer(inputs())
    assert tuple(layer.cell.recurrent_kernel.shape) == (2, 2, 8)
    assert layer.execution_path.startswith("step loop")
    with pytest.raises(ValueError, match="fused=True"):
        sLSTM(UNITS, fused=True)(inputs())


# === Export ===


@pytest.mark.tensorflow_only
def test_exported_model_serves_without_toolkit(tmp_path):
    def body(x):
        x = sLSTM(UNITS, num_heads=2, forget_gate="exponential", return_sequences=True)(x)
        return keras.layers.Bidirectional(sLSTM(2))(x)

    check_export_serves_padded_ids(tmp_path, body, FEATURES)


# === Arguments ===


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"units": 0}, "units"),
        ({"units": 4, "num_heads": 0}, "num_heads"),
        ({"units": 4, "num_heads": 3}, "num_heads=3 with units=4"),
        ({"units": 4, "num_heads": 2.0}, "num_heads"),
        ({"units": 4, "forget_gate": "relu"}, "forget_gate='relu'"),
        ({"units": 4, "activation": "no_such_activation"}, "activation"),
        ({"units": 4, "recurrent_dropout": 1.0}, "recurrent_dropout"),
        ({"units": 4, "zoneout": -0.1}, "zoneout"),
    ],
)
def test_bad_arguments_raise_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sLSTMCell(**kwargs)
    with pytest.raises(ValueError, match=match):
        sLSTM(**kwargs)


def test_bad_initial_state_raises():
    layer = sLSTM(UNITS)
    with pytest.raises(ValueError, match="initial_state"):
        layer(inputs(), initial_state=random_states()[:2])
