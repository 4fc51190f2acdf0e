"""Whole models with toolkit layers survive `.keras` saving, and every public
class is registered under the package name "toolkit"."""

import json

import keras
import numpy as np

import toolkit

PUBLIC_CLASSES = [
    obj
    for module in (toolkit.cells, toolkit.layers)
    for obj in (getattr(module, name) for name in module.__all__)
    if isinstance(obj, type)
]


def test_public_classes_are_registered_under_toolkit():
    # Every named layer and its cell are public (and so checked here).
    for name in toolkit.layers.available():
        layer = toolkit.layers.get(name)
        assert layer in PUBLIC_CLASSES and layer.cell_class in PUBLIC_CLASSES, name
    for cls in PUBLIC_CLASSES:
        name = keras.saving.get_registered_name(cls)
        assert name == f"toolkit>{cls.__name__}", cls
        assert name.startswith("toolkit>")
        assert keras.saving.get_registered_object(name) is cls


def _mixed_model():
    inputs = keras.Input((5, 3), name="sequences")
    x = keras.layers.Masking(mask_value=0.0)(inputs)
    x = toolkit.layers.LSTM(
        4,
        peephole=True,
        layer_norm=True,
        projection=3,
        projection_clip=2.0,
        cell_clip=3.0,
        zoneout=0.1,
        cell_zoneout=0.1,
        dropout=0.1,
        recurrent_dropout=0.1,
        kernel_regularizer=keras.regularizers.L2(1e-3),
        recurrent_constraint=keras.constraints.MaxNorm(2.0),
        return_sequences=True,
        name="lstm_options",
    )(x)
    x = toolkit.layers.GRU(
        4, reset_after=False, go_backwards=True, return_sequences=True, name="gru"
    )(x)
    x = keras.layers.Bidirectional(
        toolkit.layers.LSTM(3, coupled_input_forget=True, return_sequences=True),
        name="bidirectional",
    )(x)
    x = toolkit.layers.Recurrent(
        toolkit.cells.GRUCell(3, zoneout=0.2, activation="relu"),
        return_sequences=True,
        name="recurrent_gru",
    )(x)
    sequence, h, c = keras.layers.RNN(
        toolkit.cells.LSTMCell(3, projection=2),
        return_state=True,
        name="keras_rnn_lstm",
    )(x)
    side = toolkit.layers.SimpleRNN(2, activation="relu", name="simple")(inputs)
    merged = keras.layers.Concatenate()([sequence, h, c, side])
    outputs = keras.layers.Dense(2, name="head")(merged)
    return keras.Model(inputs, [outputs, sequence], name="mixed")


def test_mixed_model_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(3, 5, 3)).astype("float32")
    data[0, 3:] = 0.0  # padded, masked by the Masking layer
    model = _mixed_model()
    # Weights away from their initial values, as after training.
    model.set_weights([w + rng.normal(scale=0.1, size=w.shape) for w in model.get_weights()])
    expected = model(data, training=False)

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # safe_mode=True by default

    received = loaded(data, training=False)
    for got, want in zip(received, expected):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), atol=1e-6, rtol=0
        )
    for original, revived in zip(model.layers, loaded.layers):
        assert type(revived) is type(original)
        assert json.dumps(revived.get_config(), sort_keys=True, default=repr) == json.dumps(
            original.get_config(), sort_keys=True, default=repr
        )
    # Same weights, same order, and the options are intact.
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    lstm = loaded.get_layer("lstm_options")
    assert isinstance(lstm, toolkit.layers.LSTM)
    assert (lstm.peephole, lstm.layer_norm, lstm.projection) == (True, True, 3)
    assert lstm.cell_clip == 3.0 and lstm.projection_clip == 2.0
    assert isinstance(loaded.get_layer("recurrent_gru").cell, toolkit.cells.GRUCell)
    assert isinstance(loaded.get_layer("keras_rnn_lstm").cell, toolkit.cells.LSTMCell)
    backward = loaded.get_layer("bidirectional").backward_layer
    assert isinstance(backward, toolkit.layers.LSTM) and backward.go_backwards


def test_stateful_model_saves_its_states(tmp_path):
    model = keras.Sequential(
        [keras.Input(batch_shape=(2, 3, 2)), toolkit.layers.GRU(3, stateful=True)]
    )
    data = np.random.default_rng(1).normal(size=(2, 3, 2)).astype("float32")
    model(data)  # moves the states away from zero
    path = tmp_path / "stateful.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(data)),
        keras.ops.convert_to_numpy(model(data)),
        atol=1e-6,
    )
    assert len(loaded.get_weights()) == 3  # the states are not weights


def test_model_to_json_round_trip():
    model = _mixed_model()
    revived = keras.models.model_from_json(model.to_json())
    assert [type(layer) for layer in revived.layers] == [type(layer) for layer in model.layers]
    assert revived.count_params() == model.count_params()
