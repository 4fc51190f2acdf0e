"""Training a toolkit cell step by step inside `keras.layers.RNN`.

On TensorFlow the cell draws its dropout/zoneout masks at each step and
trains; on JAX drawing inside Keras' `lax.scan` would leak a tracer, so the
cell raises a clear `NotImplementedError` that points to
`toolkit.layers.Recurrent`, which trains on both backends.
"""

import keras
import numpy as np
import pytest

import toolkit

RANDOM_OPTIONS = [
    (toolkit.cells.GRUCell, {"dropout": 0.3}),
    (toolkit.cells.LSTMCell, {"recurrent_dropout": 0.3}),
    (toolkit.cells.SimpleRNNCell, {"zoneout": 0.3}),
    (toolkit.cells.LSTMCell, {"cell_zoneout": 0.3}),
]


def _fit(layer):
    inputs = np.random.rand(4, 5, 3).astype("float32")
    targets = np.random.rand(4, 2).astype("float32")
    model = keras.Sequential([keras.Input((5, 3)), layer])
    model.compile("adam", "mse")
    return model.fit(inputs, targets, epochs=1, verbose=0).history["loss"][0]


@pytest.mark.parametrize("cell_class, options", RANDOM_OPTIONS)
def test_keras_rnn_training_with_randomness(cell_class, options):
    layer = keras.layers.RNN(cell_class(2, **options))
    if keras.backend.backend() == "jax":
        with pytest.raises(NotImplementedError, match="toolkit.layers.Recurrent"):
            _fit(layer)
    else:
        assert np.isfinite(_fit(layer))


@pytest.mark.parametrize("cell_class, options", RANDOM_OPTIONS)
def test_toolkit_recurrent_trains_with_randomness_on_every_backend(cell_class, options):
    assert np.isfinite(_fit(toolkit.layers.Recurrent(cell_class(2, **options))))


def test_keras_rnn_inference_needs_no_randomness():
    cell = toolkit.cells.GRUCell(2, dropout=0.5, zoneout=0.5)
    outputs = keras.layers.RNN(cell)(np.ones((2, 3, 3), "float32"), training=False)
    assert outputs.shape == (2, 2)
