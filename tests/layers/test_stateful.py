"""Stateful layers: states carried across calls, batches and fit steps."""

import keras
import numpy as np
import pytest
import references

import toolkit

ATOL = 1e-5
BATCH, TIME, FEATURES, UNITS = 2, 6, 3, 4

LAYERS = {
    "lstm": lambda **kw: toolkit.layers.LSTM(UNITS, **kw),
    "lstm_projection": lambda **kw: toolkit.layers.LSTM(
        UNITS, projection=3, peephole=True, layer_norm=True, **kw
    ),
    "gru": lambda **kw: toolkit.layers.GRU(UNITS, **kw),
    "simple_rnn": lambda **kw: toolkit.layers.SimpleRNN(UNITS, **kw),
}


def to_numpy(value):
    return keras.ops.convert_to_numpy(value)


def assert_close(actual, expected):
    np.testing.assert_allclose(to_numpy(actual), to_numpy(expected), atol=ATOL, rtol=ATOL)


def inputs(batch=BATCH, time=TIME, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, time, FEATURES)).astype("float32")


def stateful_model(kind, batch=BATCH, **kwargs):
    sequences = keras.Input(shape=(None, FEATURES), batch_size=batch)
    layer = LAYERS[kind](stateful=True, return_sequences=True, **kwargs)
    model = keras.Model(sequences, layer(sequences))
    references.perturb_weights(layer, seed=1)
    return model, layer


def twin(layer, **kwargs):
    """A non-stateful copy of `layer` with the same weights."""
    kind = {toolkit.layers.GRU: "gru", toolkit.layers.SimpleRNN: "simple_rnn"}.get(type(layer))
    if kind is None:
        kind = "lstm_projection" if layer.cell.projection else "lstm"
    other = LAYERS[kind](return_sequences=True, return_state=True, **kwargs)
    other.build((None, None, FEATURES))
    other.set_weights(layer.get_weights())
    return other


@pytest.mark.parametrize("kind", ["lstm_projection", "gru", "simple_rnn"])
def test_two_half_calls_equal_one_full_call(kind):
    model, layer = stateful_model(kind)
    x = inputs()
    first = to_numpy(model(x[:, :3]))
    second = to_numpy(model(x[:, 3:]))
    full, *full_states = twin(layer)(x)
    assert_close(np.concatenate([first, second], axis=1), full)
    for state, expected in zip(layer.states, full_states):
        assert_close(state, expected)


def test_stateful_lstm_matches_keras_stateful_lstm():
    model, layer = stateful_model("lstm")
    sequences = keras.Input(shape=(None, FEATURES), batch_size=BATCH)
    theirs = keras.layers.LSTM(UNITS, stateful=True, return_sequences=True)
    their_model = keras.Model(sequences, theirs(sequences))
    theirs.set_weights(layer.get_weights())
    x = inputs(seed=2)
    for chunk in (x[:, :2], x[:, 2:5], x[:, 5:]):
        assert_close(model(chunk), their_model(chunk))


def test_reset_state_restores_zeros():
    model, layer = stateful_model("lstm")
    x = inputs(seed=3)
    fresh = to_numpy(model(x))
    after_one_call = to_numpy(model(x))
    assert np.abs(after_one_call - fresh).max() > 1e-3
    assert all(np.abs(to_numpy(s)).max() > 0 for s in layer.states)
    layer.reset_state()
    for state in layer.states:
        np.testing.assert_array_equal(to_numpy(state), 0.0)
    assert_close(model(x), fresh)
    model(x)
    layer.reset_states()  # the Keras alias
    assert_close(model(x), fresh)


def test_reset_state_of_non_stateful_layer_raises():
    layer = toolkit.layers.GRU(UNITS)
    layer(inputs())
    with pytest.raises(ValueError, match="stateful"):
        layer.reset_state()


def test_batch_size_mismatch_raises():
    model, layer = stateful_model("gru")
    model(inputs())
    with pytest.raises(ValueError, match="batch size"):
        layer(inputs(batch=BATCH + 1))


def test_stateful_without_static_batch_size_raises():
    sequences = keras.Input(shape=(TIME, FEATURES))
    with pytest.raises(ValueError, match="batch_size"):
        toolkit.layers.LSTM(UNITS, stateful=True)(sequences)


def test_stateful_weights_keep_the_keras_layout():
    for kind, keras_class in [
        ("lstm", keras.layers.LSTM),
        ("gru", keras.layers.GRU),
        ("simple_rnn", keras.layers.SimpleRNN),
    ]:
        model, layer = stateful_model(kind)
        model(inputs())
        theirs = keras_class(UNITS, stateful=True)
        theirs(inputs())
        weights = layer.get_weights()
        assert len(weights) == 3
        assert [w.shape for w in weights] == [w.shape for w in theirs.get_weights()]
        assert len(layer.trainable_weights) == 3
        # Weights move both ways between the two stateful layers.
        theirs.set_weights(weights)
        layer.set_weights(theirs.get_weights())
        # The carried states are variables of the layer (saved with it,
        # updated by fit) but not weights.
        weight_ids = {id(w) for w in layer.weights}
        assert all(id(state) not in weight_ids for state in layer.states)
        assert len(layer.states) == len(layer.cell.state_size)


def test_stateful_mask_holds_state_across_calls():
    model, layer = stateful_model("lstm")
    x = inputs(seed=4)
    mask = np.array([[1, 1, 0], [1, 0, 1]], dtype=bool)
    layer(x[:, :3], mask=mask)
    second = to_numpy(layer(x[:, 3:]))
    alone = twin(layer)
    for row in range(BATCH):
        valid = np.concatenate([x[row, :3][mask[row]], x[row, 3:]])[None]
        outputs, *states = alone(valid)
        assert_close(second[row], to_numpy(outputs)[0, -3:])
        for state, expected in zip(layer.states, states):
            assert_close(to_numpy(state)[row], to_numpy(expected)[0])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_state_survives_fit_and_predict_steps(kind):
    """Batch k+1 continues the sequences of batch k, in fit and predict.

    With a zero learning rate the weights stay put, so after fitting on two
    batches the carried state is the state of the twin layer run over the two
    batches' sequences concatenated in time.
    """
    sequences = keras.Input(shape=(TIME, FEATURES), batch_size=BATCH)
    layer = LAYERS[kind](stateful=True)
    model = keras.Model(sequences, keras.layers.Dense(1)(layer(sequences)))
    references.perturb_weights(model, seed=5)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    x = inputs(batch=2 * BATCH, seed=6)
    y = np.ones((2 * BATCH, 1), "float32")
    continued = np.concatenate([x[:BATCH], x[BATCH:]], axis=1)
    _, *expected_states = twin(layer)(continued)

    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    for state, expected in zip(layer.states, expected_states):
        assert_close(state, expected)

    layer.reset_state()
    predicted = model.predict(x, batch_size=BATCH, verbose=0)
    for state, expected in zip(layer.states, expected_states):
        assert_close(state, expected)
    dense = model.layers[-1]
    expected_second = to_numpy(dense(twin(layer)(continued)[0][:, -1]))
    assert_close(predicted[BATCH:], expected_second)
