"""A `.keras` file saved on one Keras backend loads on the others with the same outputs.

The test process saves a model with every named layer (masked, bidirectional, attention
pooling, a toolkit cell in `keras.layers.RNN`) and its outputs; a subprocess on each
other installed backend runs this file as a script: it loads that file and writes its
outputs, then saves a model of its own with its outputs, which the test process loads.
So each pass of the suite checks both directions with every other backend
(TensorFlow <-> JAX <-> torch).

Run as a script: `KERAS_BACKEND=torch python tests/test_backend_portability.py DIR`.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

import toolkit

BACKENDS = ("tensorflow", "jax", "torch")
ATOL = 1e-5


def build_model(seed):
    """A functional model over `(batch, 6, 3)` sequences, weights moved off their
    initial values by `seed` (as after training)."""
    inputs = keras.Input((6, 3), name="sequences")
    x = keras.layers.Masking(mask_value=0.0)(inputs)
    for name in toolkit.layers.available():
        x = toolkit.layers.get(name)(4, return_sequences=True, name=name)(x)
    x = keras.layers.Bidirectional(
        toolkit.layers.GRU(3, return_sequences=True), name="bidirectional"
    )(x)
    sequence, *states = keras.layers.RNN(
        toolkit.cells.LSTMCell(3, peephole=True),
        return_sequences=True,
        return_state=True,
        name="keras_rnn",
    )(x)
    pooled, _ = toolkit.attention.AttentionPooling(4, name="pooling")(sequence)
    outputs = keras.layers.Dense(2, name="head")(keras.layers.Concatenate()([pooled, *states]))
    model = keras.Model(inputs, outputs, name=f"portable_{seed}")
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(scale=0.2, size=w.shape) for w in model.get_weights()])
    return model


def sequences():
    """A batch with right padding, left padding, a hole and a full row."""
    data = np.random.default_rng(7).normal(size=(4, 6, 3)).astype("float32")
    data[0, 4:] = 0.0
    data[1, :2] = 0.0
    data[2, 3] = 0.0
    return data


def outputs_of(model):
    return keras.ops.convert_to_numpy(model(sequences(), training=False))


def in_other_backend(directory):
    """The subprocess: load the test process's file, then save one of its own."""
    directory = pathlib.Path(directory)
    loaded = keras.models.load_model(directory / "parent.keras")
    np.save(directory / "parent_loaded_here.npy", outputs_of(loaded))
    model = build_model(seed=2)
    model.save(directory / "child.keras")
    np.save(directory / "child.npy", outputs_of(model))


def other_backends():
    current = keras.backend.backend()
    return [
        pytest.param(
            backend,
            marks=pytest.mark.skipif(
                importlib.util.find_spec(backend) is None, reason=f"{backend} is not installed"
            ),
        )
        for backend in BACKENDS
        if backend != current
    ]


@pytest.mark.parametrize("other", other_backends())
def test_keras_files_load_across_backends(other, tmp_path):
    model = build_model(seed=1)
    model.save(tmp_path / "parent.keras")
    expected = outputs_of(model)
    environ = {**os.environ, "KERAS_BACKEND": other}
    subprocess.run([sys.executable, __file__, str(tmp_path)], env=environ, check=True, timeout=600)
    np.testing.assert_allclose(np.load(tmp_path / "parent_loaded_here.npy"), expected, atol=ATOL)

    child = keras.models.load_model(tmp_path / "child.keras")
    np.testing.assert_allclose(outputs_of(child), np.load(tmp_path / "child.npy"), atol=ATOL)
    assert [type(layer) for layer in child.layers] == [type(layer) for layer in model.layers]


if __name__ == "__main__":
    in_other_backend(sys.argv[1])
