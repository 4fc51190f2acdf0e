"""Toolkit cells and layers inside Keras' own wrappers.

`keras.layers.RNN(toolkit cell)`, `keras.layers.Bidirectional(toolkit layer)`
and `keras.layers.StackedRNNCells([toolkit cells])` run, train, and compute
what the corresponding toolkit layers compute with the same weights, before
and after one identical SGD step.
"""

import keras
import numpy as np
import pytest
from layer_test import to_numpy

import toolkit

B, T, F = 3, 5, 3
ATOL = 1e-5


def _inputs(seed=0, shape=(B, T, F)):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _mask():
    mask = np.ones((B, T), bool)
    mask[0, 3:] = False  # right padding
    mask[1, :2] = False  # left padding
    return mask


def _perturb(model, seed=1):
    """Weights away from their initializers (zero peepholes, unit scales)."""
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(scale=0.2, size=w.shape) for w in model.get_weights()])


def _assert_all_close(received, expected, what):
    received, expected = keras.tree.flatten(received), keras.tree.flatten(expected)
    assert len(received) == len(expected), what
    for index, (got, want) in enumerate(zip(received, expected)):
        np.testing.assert_allclose(
            to_numpy(got), to_numpy(want), atol=ATOL, rtol=ATOL, err_msg=f"{what}, output {index}"
        )


def _compare_training(wrapped, reference, inputs, what, mask=None, pairs=None):
    """Same predictions, then one identical SGD step gives the same weights.

    `pairs` lists `(wrapped_part, reference_part)` objects holding the same
    weights (default: the two whole models).
    """
    pairs = pairs or [(wrapped, reference)]
    for wrapped_part, reference_part in pairs:
        reference_part.set_weights(wrapped_part.get_weights())
    model_inputs = inputs if mask is None else [inputs, mask]
    _assert_all_close(wrapped(model_inputs), reference(model_inputs), f"{what}, before fit")
    rng = np.random.default_rng(7)
    targets = [
        rng.normal(size=(B,) + tuple(o.shape[1:])).astype("float32")
        for o in keras.tree.flatten(wrapped.outputs)
    ]
    for model in (wrapped, reference):
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=["mse"] * len(targets))
    losses = [
        model.fit(
            model_inputs,
            targets if len(targets) > 1 else targets[0],
            batch_size=B,
            epochs=1,
            shuffle=False,
            verbose=0,
        ).history["loss"][0]
        for model in (wrapped, reference)
    ]
    assert np.isfinite(losses[0]), f"{what}: loss {losses[0]}"
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5, err_msg=f"{what}: losses")
    for wrapped_part, reference_part in pairs:
        for after, reference_after in zip(wrapped_part.get_weights(), reference_part.get_weights()):
            np.testing.assert_allclose(
                after, reference_after, atol=ATOL, rtol=1e-4, err_msg=f"{what}: weights after fit"
            )
    _assert_all_close(wrapped(model_inputs), reference(model_inputs), f"{what}, after fit")


# === keras.layers.RNN(toolkit cell) ===

RNN_CASES = {
    "simple_rnn": (toolkit.cells.SimpleRNNCell, toolkit.layers.SimpleRNN, {}),
    "lstm": (toolkit.cells.LSTMCell, toolkit.layers.LSTM, {}),
    "lstm_options": (
        toolkit.cells.LSTMCell,
        toolkit.layers.LSTM,
        {"peephole": True, "layer_norm": True, "projection": 2, "cell_clip": 1.5},
    ),
    "lstm_cifg": (toolkit.cells.LSTMCell, toolkit.layers.LSTM, {"coupled_input_forget": True}),
    "gru_reset_after": (toolkit.cells.GRUCell, toolkit.layers.GRU, {}),
    "gru_reset_before": (toolkit.cells.GRUCell, toolkit.layers.GRU, {"reset_after": False}),
}


@pytest.mark.parametrize("case", list(RNN_CASES))
def test_keras_rnn_of_toolkit_cell_matches_toolkit_layer(case):
    cell_cls, layer_cls, options = RNN_CASES[case]
    loop = {"return_sequences": True, "return_state": True}
    sequences = keras.Input((T, F))
    mask = keras.Input((T,), dtype="bool")
    wrapped = keras.Model(
        [sequences, mask],
        keras.layers.RNN(cell_cls(4, **options), zero_output_for_mask=True, **loop)(
            sequences, mask=mask
        ),
    )
    _perturb(wrapped)
    reference = keras.Model(
        [sequences, mask], layer_cls(4, **options, **loop)(sequences, mask=mask)
    )
    _compare_training(wrapped, reference, _inputs(), f"keras.layers.RNN({case})", mask=_mask())


def test_keras_rnn_of_toolkit_cell_backwards_matches_recurrent():
    loop = {"return_sequences": True, "return_state": True, "go_backwards": True}
    inputs = keras.Input((T, F))
    wrapped = keras.Model(
        inputs, keras.layers.RNN(toolkit.cells.GRUCell(3, reset_after=False), **loop)(inputs)
    )
    _perturb(wrapped)
    reference = keras.Model(
        inputs,
        toolkit.layers.Recurrent(toolkit.cells.GRUCell(3, reset_after=False), **loop)(inputs),
    )
    _compare_training(wrapped, reference, _inputs(2), "keras.layers.RNN(GRUCell), backwards")


# === keras.layers.Bidirectional(toolkit layer) ===

BIDIRECTIONAL_CASES = {
    "lstm_sequences_concat": (toolkit.layers.LSTM, {"peephole": True}, True, "concat"),
    "gru_last_sum": (toolkit.layers.GRU, {"reset_after": False}, False, "sum"),
    "simple_rnn_sequences_mul": (toolkit.layers.SimpleRNN, {}, True, "mul"),
}


class _Merge(keras.layers.Layer):
    """What Bidirectional does with the two outputs; the output has no mask
    (nor has the Bidirectional output after `_NoMask`), so that both losses
    weigh every step alike."""

    def __init__(self, merge_mode, return_sequences, **kwargs):
        super().__init__(**kwargs)
        self.merge_mode = merge_mode
        self.return_sequences = return_sequences
        self.supports_masking = True

    def call(self, forward, backward):
        if self.return_sequences:
            # Returned backward sequences are in processing order.
            backward = keras.ops.flip(backward, axis=1)
        if self.merge_mode == "concat":
            return keras.ops.concatenate([forward, backward], axis=-1)
        if self.merge_mode == "sum":
            return forward + backward
        return forward * backward

    def compute_mask(self, *args, **kwargs):
        return None


class _NoMask(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs * 1.0  # a new tensor: the input's mask stays behind

    def compute_mask(self, inputs, mask=None):
        return None


@pytest.mark.parametrize("case", list(BIDIRECTIONAL_CASES))
def test_bidirectional_of_toolkit_layer_matches_two_toolkit_layers(case):
    layer_cls, options, return_sequences, merge_mode = BIDIRECTIONAL_CASES[case]
    sequences = keras.Input((T, F))
    mask = keras.Input((T,), dtype="bool")
    bidirectional = keras.layers.Bidirectional(
        layer_cls(3, return_sequences=return_sequences, **options), merge_mode=merge_mode
    )
    wrapped = keras.Model([sequences, mask], _NoMask()(bidirectional(sequences, mask=mask)))
    assert isinstance(bidirectional.forward_layer, layer_cls)
    assert isinstance(bidirectional.backward_layer, layer_cls)
    assert bidirectional.backward_layer.go_backwards
    _perturb(wrapped)

    forward_layer = layer_cls(3, return_sequences=return_sequences, **options)
    backward_layer = layer_cls(3, return_sequences=return_sequences, go_backwards=True, **options)
    forward = forward_layer(sequences, mask=mask)
    backward = backward_layer(sequences, mask=mask)
    merged = _Merge(merge_mode, return_sequences)(forward, backward)
    reference = keras.Model([sequences, mask], merged)
    pairs = [
        (bidirectional.forward_layer, forward_layer),
        (bidirectional.backward_layer, backward_layer),
    ]
    _compare_training(
        wrapped, reference, _inputs(3), f"Bidirectional({case})", mask=_mask(), pairs=pairs
    )


# === keras.layers.StackedRNNCells([toolkit cells]) ===


def test_stacked_toolkit_cells_match_stacked_toolkit_layers():
    cells = [
        toolkit.cells.LSTMCell(4, peephole=True, projection=3),
        toolkit.cells.GRUCell(3),
        toolkit.cells.SimpleRNNCell(2),
    ]
    inputs = keras.Input((T, F))
    stacked = keras.layers.RNN(
        keras.layers.StackedRNNCells(cells), return_sequences=True, return_state=True
    )
    outputs = stacked(inputs)
    # The output sequence, then the final states of every cell in order.
    assert [tuple(o.shape) for o in keras.tree.flatten(outputs)] == [
        (None, T, 2),
        (None, 3),
        (None, 4),
        (None, 3),
        (None, 2),
    ]
    wrapped = keras.Model(inputs, outputs)
    _perturb(wrapped)

    lstm_sequence, lstm_h, lstm_c = toolkit.layers.LSTM(
        4, peephole=True, projection=3, return_sequences=True, return_state=True
    )(inputs)
    gru_sequence, gru_h = toolkit.layers.GRU(3, return_sequences=True, return_state=True)(
        lstm_sequence
    )
    simple_sequence, simple_h = toolkit.layers.SimpleRNN(
        2, return_sequences=True, return_state=True
    )(gru_sequence)
    reference = keras.Model(inputs, [simple_sequence, lstm_h, lstm_c, gru_h, simple_h])
    _compare_training(wrapped, reference, _inputs(4), "StackedRNNCells")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_bidirectional_returns_the_states_of_both_directions_in_a_functional_model(kind):
    # Regression: Recurrent.compute_output_shape returned a list with
    # return_state=True, and Bidirectional (which adds tuples to it) failed
    # when building a functional model.
    layer = toolkit.layers.get(kind)(3, return_sequences=True, return_state=True)
    inputs = keras.Input((None, 2))
    outputs = keras.layers.Bidirectional(layer)(inputs)
    states = 2 if kind == "lstm" else 1
    assert len(outputs) == 1 + 2 * states
    assert tuple(outputs[0].shape) == (None, None, 6)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(0).normal(size=(2, 4, 2)).astype("float32")
    values = [to_numpy(v) for v in model(x)]
    forward_last = values[0][:, -1, :3]
    backward_first = values[0][:, 0, 3:]
    np.testing.assert_allclose(values[1], forward_last, atol=1e-6)
    np.testing.assert_allclose(values[1 + states], backward_first, atol=1e-6)
