"""SavedModel export: models with toolkit layers run where neither the toolkit
nor Keras is imported, with the outputs they have in process."""

import keras
import numpy as np
import pytest
from serving import serve_without_toolkit

import toolkit

pytestmark = pytest.mark.tensorflow_only

SERVE = """
names = sys.argv[2].split(",")
inputs = np.load(f"{directory}/inputs.npz")
outputs = {}
for name in names:
    restored = tf.saved_model.load(f"{directory}/{name}")
    result = restored.serve(tf.constant(inputs[name]))
    outputs[name] = np.asarray(result)
np.savez(f"{directory}/outputs.npz", **outputs)
"""


def _sequence_model():
    inputs = keras.Input((4, 3))
    x = toolkit.layers.LSTM(
        4, peephole=True, layer_norm=True, projection=3, cell_clip=2.0, return_sequences=True
    )(inputs)
    x = toolkit.layers.GRU(3, reset_after=False, go_backwards=True)(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


def _masked_model():
    inputs = keras.Input((None,), dtype="int32")  # any length
    x = keras.layers.Embedding(10, 3, mask_zero=True)(inputs)
    x = toolkit.layers.LSTM(4, return_sequences=True, coupled_input_forget=True)(x)
    x = toolkit.layers.Recurrent(toolkit.cells.SimpleRNNCell(3))(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


def _bidirectional_model():
    inputs = keras.Input((5, 3))
    x = keras.layers.Bidirectional(toolkit.layers.GRU(3, return_sequences=True))(inputs)
    x = keras.layers.Bidirectional(toolkit.layers.LSTM(2), merge_mode="sum")(x)
    return keras.Model(inputs, x)


def test_exported_models_serve_without_toolkit(tmp_path):
    rng = np.random.default_rng(0)
    masked_ids = rng.integers(1, 10, size=(3, 6)).astype("int32")
    masked_ids[0, 4:] = 0  # right padding
    masked_ids[1, :2] = 0  # left padding
    cases = {
        "sequence": (_sequence_model(), rng.normal(size=(2, 4, 3)).astype("float32")),
        "masked": (_masked_model(), masked_ids),
        "bidirectional": (_bidirectional_model(), rng.normal(size=(2, 5, 3)).astype("float32")),
    }
    expected = {}
    for name, (model, inputs) in cases.items():
        expected[name] = keras.ops.convert_to_numpy(model(inputs, training=False))
        model.export(str(tmp_path / name), verbose=False)
    np.savez(tmp_path / "inputs.npz", **{name: inputs for name, (_, inputs) in cases.items()})

    # The padding is really masked: the padded sequences give what they give
    # alone.
    masked_model = cases["masked"][0]
    for row, real_steps in ((0, slice(0, 4)), (1, slice(2, 6))):
        alone = keras.ops.convert_to_numpy(masked_model(masked_ids[row : row + 1, real_steps]))
        np.testing.assert_allclose(expected["masked"][row : row + 1], alone, atol=1e-5)

    serve_without_toolkit(tmp_path, SERVE, ",".join(cases))

    served = np.load(tmp_path / "outputs.npz")
    for name in cases:
        np.testing.assert_allclose(served[name], expected[name], rtol=1e-5, atol=1e-5)
