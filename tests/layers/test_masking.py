"""Masks: a padded batch gives, for every sequence, the result of that
sequence run alone on its valid steps, wherever the padding is.

Each test compares the padded batch, row by row, to the same layer (same
weights) run on the row's valid steps only; padded output steps must be
exactly zero.
"""

import keras
import numpy as np
import pytest
import references

import toolkit

ATOL = 1e-5
TIME, FEATURES, UNITS = 6, 3, 4

PATTERNS = {
    "right": [[1, 1, 1, 1, 0, 0], [1, 0, 0, 0, 0, 0]],
    "left": [[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1]],
    "holes": [[1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 1, 0]],
    "fully_masked_row": [[1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0]],
    # Everything at once, one row each.
    "mixed": [[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1], [0, 0, 0, 0, 0, 0]],
}

# kind: (layer class, reference, cell options)
KINDS = {
    "lstm": (toolkit.layers.LSTM, references.lstm, {}),
    "lstm_variants": (
        toolkit.layers.LSTM,
        references.lstm,
        {
            "peephole": True,
            "layer_norm": True,
            "projection": 3,
            "cell_clip": 0.5,
            "zoneout": 0.2,
            "cell_zoneout": 0.4,
        },
    ),
    "gru_reset_after": (toolkit.layers.GRU, references.gru, {"reset_after": True}),
    "gru_reset_before": (toolkit.layers.GRU, references.gru, {"reset_after": False}),
    "simple_rnn": (toolkit.layers.SimpleRNN, references.simple_rnn, {}),
}


def new_layer(kind, **kwargs):
    layer_class, _, options = KINDS[kind]
    return layer_class(UNITS, **options, **kwargs)


def to_numpy(value):
    return keras.ops.convert_to_numpy(value)


def assert_close(actual, expected):
    np.testing.assert_allclose(to_numpy(actual), to_numpy(expected), atol=ATOL, rtol=ATOL)


def mask_of(pattern):
    return np.array(PATTERNS[pattern], dtype=bool)


def inputs(batch, seed=0, time=TIME, features=FEATURES):
    return np.random.default_rng(seed).normal(size=(batch, time, features)).astype("float32")


def make_layer(kind, seed=0, **kwargs):
    layer = new_layer(kind, **kwargs)
    layer.build((None, TIME, FEATURES))
    references.perturb_weights(layer, seed=seed)
    return layer


def in_input_order(outputs, go_backwards):
    """Returned sequences are in processing order; put them in input order."""
    outputs = to_numpy(outputs)
    return outputs[:, ::-1] if go_backwards else outputs


def check_against_alone_runs(
    layer, x, mask, initial_state=None, go_backwards=False, last_output_layer=None
):
    """`layer` has return_sequences=True and return_state=True."""
    outputs, *states = layer(x, mask=mask, initial_state=initial_state)
    outputs = in_input_order(outputs, go_backwards)
    states = [to_numpy(s) for s in states]
    np.testing.assert_array_equal(outputs[~mask], 0.0)
    last_outputs = None
    if last_output_layer is not None:
        last_outputs = to_numpy(last_output_layer(x, mask=mask, initial_state=initial_state))
    for row in range(x.shape[0]):
        row_state = None if initial_state is None else [s[row : row + 1] for s in initial_state]
        valid = mask[row]
        if not valid.any():
            # Nothing to run: zero outputs, the initial state untouched.
            expected_states = row_state or [np.zeros((1, s.shape[-1])) for s in states]
            for state, expected in zip(states, expected_states):
                np.testing.assert_array_equal(state[row : row + 1], expected)
            if last_outputs is not None:
                np.testing.assert_array_equal(last_outputs[row], 0.0)
            continue
        alone_outputs, *alone_states = layer(x[row : row + 1, valid], initial_state=row_state)
        alone_outputs = in_input_order(alone_outputs, go_backwards)
        assert_close(outputs[row, valid], alone_outputs[0])
        for state, alone in zip(states, alone_states):
            assert_close(state[row : row + 1], alone)
        if last_outputs is not None:
            # The last output is the output of the last processed valid step.
            assert_close(last_outputs[row], alone_outputs[0, 0 if go_backwards else -1])
    return outputs, states


@pytest.mark.parametrize("pattern", ["right", "left", "holes", "fully_masked_row"])
def test_padding_patterns_equal_alone_runs(pattern):
    layer = make_layer("lstm", return_sequences=True, return_state=True)
    mask = mask_of(pattern)
    x = inputs(len(mask))
    check_against_alone_runs(layer, x, mask)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_layer_with_mixed_padding_equals_alone_runs_and_reference(kind):
    layer = make_layer(kind, return_sequences=True, return_state=True)
    last = new_layer(kind)
    last.build((None, TIME, FEATURES))
    last.set_weights(layer.get_weights())
    mask = mask_of("mixed")
    x = inputs(len(mask), seed=1)
    outputs, states = check_against_alone_runs(layer, x, mask, last_output_layer=last)
    # The alone runs themselves agree with the NumPy reference.
    _, reference, options = KINDS[kind]
    for row in range(len(mask)):
        if mask[row].any():
            expected_outputs, expected_states = reference(
                x[row : row + 1, mask[row]], layer.cell, **options
            )
            assert_close(outputs[row, mask[row]], expected_outputs[0])
            for state, expected in zip(states, expected_states):
                assert_close(state[row : row + 1], expected)


@pytest.mark.parametrize("kind", ["lstm_variants", "gru_reset_before"])
def test_initial_state_with_mask(kind):
    layer = make_layer(kind, return_sequences=True, return_state=True, unroll=True)
    mask = mask_of("mixed")
    x = inputs(len(mask), seed=2)
    rng = np.random.default_rng(3)
    initial_state = [
        rng.normal(size=(len(mask), size)).astype("float32") for size in layer.cell.state_size
    ]
    check_against_alone_runs(layer, x, mask, initial_state=initial_state)


@pytest.mark.parametrize("kind", ["lstm", "gru_reset_after"])
def test_go_backwards_with_mask(kind):
    layer = make_layer(kind, return_sequences=True, return_state=True, go_backwards=True)
    last = new_layer(kind, go_backwards=True)
    last.build((None, TIME, FEATURES))
    last.set_weights(layer.get_weights())
    mask = mask_of("mixed")
    x = inputs(len(mask), seed=4)
    check_against_alone_runs(layer, x, mask, go_backwards=True, last_output_layer=last)


def test_bidirectional_with_mask():
    layer = keras.layers.Bidirectional(
        toolkit.layers.LSTM(UNITS, return_sequences=True, peephole=True), merge_mode="concat"
    )
    layer.build((None, TIME, FEATURES))
    references.perturb_weights(layer, seed=5)
    mask = mask_of("mixed")
    x = inputs(len(mask), seed=6)
    outputs = to_numpy(layer(x, mask=mask))
    np.testing.assert_array_equal(outputs[~mask], 0.0)
    for row in range(len(mask)):
        if mask[row].any():
            alone = to_numpy(layer(x[row : row + 1, mask[row]]))
            assert_close(outputs[row, mask[row]], alone[0])


def test_embedding_mask_zero_through_stacked_layers():
    """The Embedding mask reaches the first layer, which passes it on."""
    tokens = keras.Input(shape=(None,), dtype="int32")
    embedded = keras.layers.Embedding(10, FEATURES, mask_zero=True)(tokens)
    sequences = toolkit.layers.LSTM(UNITS, return_sequences=True)(embedded)
    last = toolkit.layers.GRU(UNITS)(sequences)
    model = keras.Model(tokens, [sequences, last])
    references.perturb_weights(model, seed=7)
    batch = np.array(
        [[3, 4, 5, 0, 0, 0], [0, 0, 7, 8, 9, 1], [2, 0, 6, 6, 0, 9], [0, 0, 0, 0, 0, 0]],
        dtype="int32",
    )
    mask = batch != 0
    outputs, last_outputs = (to_numpy(o) for o in model(batch))
    np.testing.assert_array_equal(outputs[~mask], 0.0)
    np.testing.assert_array_equal(last_outputs[3], 0.0)
    for row in range(3):
        alone_outputs, alone_last = model(batch[row : row + 1, mask[row]])
        assert_close(outputs[row, mask[row]], to_numpy(alone_outputs)[0])
        assert_close(last_outputs[row], to_numpy(alone_last)[0])


def test_masking_layer_in_functional_model():
    sequences = keras.Input(shape=(None, FEATURES))
    masked = keras.layers.Masking(mask_value=0.0)(sequences)
    outputs, h, c = toolkit.layers.LSTM(
        UNITS, return_sequences=True, return_state=True, layer_norm=True
    )(masked)
    model = keras.Model(sequences, [outputs, h, c])
    references.perturb_weights(model, seed=8)
    mask = mask_of("mixed")
    x = inputs(len(mask), seed=9) * mask[..., None]
    results = [to_numpy(r) for r in model(x)]
    np.testing.assert_array_equal(results[0][~mask], 0.0)
    for state in results[1:]:
        np.testing.assert_array_equal(state[3], 0.0)
    # Compiled (predict) and eager calls agree.
    for compiled, eager in zip(model.predict(x, verbose=0), results):
        assert_close(compiled, eager)
    for row in range(3):
        alone = model(x[row : row + 1, mask[row]])
        assert_close(results[0][row, mask[row]], to_numpy(alone[0])[0])
        for state, alone_state in zip(results[1:], alone[1:]):
            assert_close(state[row], to_numpy(alone_state)[0])


def test_wrong_shaped_mask_raises():
    layer = toolkit.layers.GRU(UNITS)
    x = inputs(3)
    layer(x)
    for shape in [(3, TIME + 1), (4, TIME), (3, TIME, 1), (3,)]:
        with pytest.raises(ValueError, match="mask"):
            layer(x, mask=np.ones(shape, dtype=bool))


# === Zero time steps ===


def compiled_with_unknown_time(layer, **call_kwargs):
    """`layer` called inside a compiled function whose time axis is unknown until
    run time, as in a SavedModel signature (TensorFlow); on JAX, `jax.jit`."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        spec = [
            tf.TensorSpec([None, None, FEATURES], tf.float32),
            tf.TensorSpec([None, None], tf.bool),
        ]
        return tf.function(lambda x, mask: layer(x, mask=mask, **call_kwargs), input_signature=spec)
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(lambda x, mask: layer(x, mask=mask, **call_kwargs))
    return lambda x, mask: layer(x, mask=mask, **call_kwargs)


@pytest.mark.parametrize("name", toolkit.layers.available())
def test_zero_time_steps_answer_as_fully_masked_steps(name):
    """A batch of no time steps (e.g. texts of no tokens) gets what a fully masked
    batch gets: no outputs, a zero last output and the initial states, on every
    path (fast or step loop, eagerly and with the time axis unknown when traced).
    TensorFlow's loops read step 0 or stacked empty `TensorArray`s, and the parallel
    scan indexed step 0 (on JAX too)."""
    layer_class = toolkit.layers.get(name)
    rng = np.random.default_rng(11)
    for fused in ("auto", False):
        layer = layer_class(UNITS, return_sequences=True, return_state=True, fused=fused)
        last = layer_class(UNITS, fused=fused)
        for each in (layer, last):
            each.build((None, None, FEATURES))
            references.perturb_weights(each, seed=12)
        batch = 2
        initial = [rng.normal(size=(batch, size)).astype("float32") for size in layer.state_size]
        empty = np.zeros((batch, 0, FEATURES), "float32")
        masked = inputs(batch, seed=13, time=3)  # the same rows, every step masked
        for mask in (None, np.zeros((batch, 0), bool)):
            for initial_state in (None, initial):
                outputs, *states = layer(empty, mask=mask, initial_state=initial_state)
                _, *masked_states = layer(
                    masked, mask=np.zeros((batch, 3), bool), initial_state=initial_state
                )
                assert tuple(outputs.shape) == (batch, 0, UNITS), layer.execution_path
                expected = initial if initial_state is not None else masked_states
                for state, want in zip(states, expected):
                    np.testing.assert_array_equal(to_numpy(state), to_numpy(want))
            np.testing.assert_array_equal(to_numpy(last(empty, mask=mask)), 0.0)
        zero_mask = np.zeros((batch, 0), bool)
        outputs, *states = compiled_with_unknown_time(layer)(empty, zero_mask)
        assert tuple(outputs.shape) == (batch, 0, UNITS), layer.execution_path
        for state in states:
            np.testing.assert_array_equal(to_numpy(state), 0.0)
        compiled_last = compiled_with_unknown_time(last)
        np.testing.assert_array_equal(to_numpy(compiled_last(empty, zero_mask)), 0.0)
        # Longer batches through the same compiled function are unchanged.
        x, mask = inputs(len(mask_of("mixed")), seed=14), mask_of("mixed")
        assert_close(compiled_last(x, mask), last(x, mask=mask))


def test_zero_time_steps_in_training_with_dropout_and_backwards():
    """Training mode draws the dropout masks from the first step, which a batch of
    no steps lacks; `go_backwards` and `Bidirectional` flip an empty time axis."""
    layer = keras.layers.Bidirectional(
        toolkit.layers.LSTM(UNITS, return_sequences=True, dropout=0.5, recurrent_dropout=0.5)
    )
    outputs = layer(np.zeros((3, 0, FEATURES), "float32"), training=True)
    assert tuple(outputs.shape) == (3, 0, 2 * UNITS)
    backwards = toolkit.layers.GRU(UNITS, go_backwards=True, dropout=0.5)
    last = backwards(np.zeros((3, 0, FEATURES), "float32"), training=True)
    np.testing.assert_array_equal(to_numpy(last), 0.0)
