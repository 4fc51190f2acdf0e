"""Checks shared by the tests of cells with a NumPy step-loop reference (MGU, sLSTM).

Every check takes the layer under test (weights already perturbed, so a weight read wrongly
shows) and `run(x, cell, initial_state=None) -> (outputs, states)`, the reference step loop
(`references_slstm_mgu.mgu`, `.slstm` with the cell's options bound). `cell` is the layer's
cell or a dict of float64 weights by name, as the references accept both.
"""

import keras
import numpy as np
import references_slstm_mgu as references
from serving import serve_without_toolkit

ATOL = 1e-5

SERVE = """
inputs = np.load(f"{directory}/inputs.npz")
restored = tf.saved_model.load(f"{directory}/model")
np.save(f"{directory}/served.npy", np.asarray(restored.serve(tf.constant(inputs["ids"]))))
"""


def to_numpy(value):
    return keras.ops.convert_to_numpy(value)


def assert_close(actual, expected, atol=ATOL):
    np.testing.assert_allclose(to_numpy(actual), expected, atol=atol, rtol=atol)


def random_inputs(features, seed=0, batch=3, time=5):
    """Standard-normal float32 `(batch, time, features)`."""
    return np.random.default_rng(seed).normal(size=(batch, time, features)).astype("float32")


def check_masked_gradients(layer, run, features, seed=14):
    """The gradients of a padded batch (`references.MASK`, a fully masked row included) are
    the finite differences of the reference run on each row's valid steps.

    `layer` returns sequences; its kernel, recurrent kernel and bias are compared.
    """
    mask = references.MASK
    x = random_inputs(features, seed=seed, batch=len(mask), time=mask.shape[1])
    target = np.random.default_rng(seed + 1).normal(size=(*mask.shape, layer.cell.units))
    target = target.astype("float32")  # `ops.multiply` with float32 outputs stays float32

    def reference_loss(weights):
        loss = 0.0
        for row in range(len(mask)):
            if mask[row].any():
                outputs, _ = run(x[row : row + 1, mask[row]], weights)
                loss += np.sum(outputs[0] * target[row, mask[row]])
        return loss

    expected = references.finite_difference_gradients(
        reference_loss, references.weights_of(layer.cell)
    )
    gradients = references.autodiff_gradients(
        layer, lambda out: keras.ops.sum(keras.ops.multiply(out, target)), x, mask=mask
    )
    assert set(gradients) == set(expected) == {"kernel", "recurrent_kernel", "bias"}
    for name in expected:
        np.testing.assert_allclose(gradients[name], expected[name], atol=2e-4, rtol=1e-3)
        assert np.abs(expected[name]).max() > 1e-3, name  # the weight matters here


def check_padding(layer, run, features, initial_state, seed=18):
    """Right, left and hole padding and a fully masked row (`references.MASK`), from
    `initial_state`: each row gets the reference run on its valid steps alone, processed
    in the layer's direction (`go_backwards`). `layer` returns sequences and states."""
    go_backwards = layer.go_backwards
    mask = references.MASK
    x = random_inputs(features, seed=seed, batch=len(mask), time=mask.shape[1])
    outputs, *states = layer(x, mask=mask, initial_state=initial_state)
    outputs = to_numpy(outputs)[:, ::-1] if go_backwards else outputs

    def reference(row, row_state):
        valid = x[row : row + 1, mask[row]]
        expected_outputs, expected_states = run(
            valid[:, ::-1] if go_backwards else valid, layer.cell, row_state
        )
        return (expected_outputs[:, ::-1] if go_backwards else expected_outputs), expected_states

    references.check_masked_rows(outputs, states, mask, reference, initial_state)


def check_bidirectional(layer, run, features, seed=22):
    """A built `keras.layers.Bidirectional` (merge `sum` or `concat`) equals the reference
    run forwards plus the reference run backwards, with and without `references.MASK`;
    masked steps give zeros."""
    mask = references.MASK
    x = random_inputs(features, seed=seed, batch=len(mask), time=mask.shape[1])

    def reference(sequences):
        forward, _ = run(sequences, layer.forward_layer.cell)
        backward, _ = run(sequences[:, ::-1], layer.backward_layer.cell)
        backward = backward[:, ::-1]
        if layer.merge_mode == "sum":
            return forward + backward
        return np.concatenate([forward, backward], axis=-1)

    assert_close(layer(x), reference(x))
    outputs = to_numpy(layer(x, mask=mask))
    np.testing.assert_array_equal(outputs[~mask], 0.0)
    for row in range(len(mask)):
        if mask[row].any():
            assert_close(outputs[row, mask[row]], reference(x[row : row + 1, mask[row]])[0])


def check_stateful_chunks(make_layer, run, features, splits, seed=23):
    """A stateful layer (`make_layer()`, returning sequences) fed a batch of 2 in chunks cut
    at `splits` equals one reference run over the whole sequences, in outputs and in every
    state; after `reset_state` it starts again from zeros."""
    sequences = keras.Input(shape=(None, features), batch_size=2)
    layer = make_layer()
    model = keras.Model(sequences, layer(sequences))
    references.perturb_weights(layer, seed=seed)
    x = random_inputs(features, seed=seed + 1, batch=2, time=6)
    bounds = [0, *splits, x.shape[1]]
    chunks = [to_numpy(model(x[:, a:b])) for a, b in zip(bounds[:-1], bounds[1:])]
    expected_outputs, expected_states = run(x, layer.cell)
    assert_close(np.concatenate(chunks, axis=1), expected_outputs)
    assert len(layer.states) == len(expected_states)
    for state, expected in zip(layer.states, expected_states):
        assert_close(state, expected)
    layer.reset_state()
    assert_close(model(x[:, : splits[0]]), expected_outputs[:, : splits[0]])


def check_export_serves_padded_ids(tmp_path, body, features, seed=25):
    """A model `ids -> Embedding(mask_zero) -> body -> Dense(2)` gives right- and
    left-padded rows the result of their valid tokens alone, and its SavedModel
    (`model.export`) serves the same in a process without Keras or the toolkit."""
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, features, mask_zero=True)(ids)
    model = keras.Model(ids, keras.layers.Dense(2)(body(x)))
    references.perturb_weights(model, seed=seed)
    batch = np.random.default_rng(seed + 1).integers(1, 10, size=(3, 6)).astype("int32")
    batch[0, 4:] = 0  # right padding
    batch[1, :2] = 0  # left padding
    expected = to_numpy(model(batch))
    for row, valid in ((0, slice(0, 4)), (1, slice(2, 6))):
        assert_close(expected[row : row + 1], to_numpy(model(batch[row : row + 1, valid])))
    model.export(str(tmp_path / "model"), verbose=False)
    np.savez(tmp_path / "inputs.npz", ids=batch)
    serve_without_toolkit(tmp_path, SERVE)
    np.testing.assert_allclose(np.load(tmp_path / "served.npy"), expected, rtol=1e-5, atol=1e-5)
