"""The cuDNN LSTM path on JAX (`toolkit/layers/cudnn.py`) against the generic step loop.

cuDNN itself runs only on an NVIDIA GPU. Here the GPU check is patched to true and the
kernel replaced by JAX's own CPU reference of it, `jax.experimental.rnn.lstm_ref`, which
takes the same flat weight vector (unpacked by `jax.experimental.rnn.unpack_lstm_weights`)
and the same per-row lengths. So these tests pin everything the toolkit does around the
kernel - the weight packing and gate order, any mask compacted to right padding and
the outputs moved back, `go_backwards`, empty rows, states and gradients - to the step
loop at 1e-5. `test_on_the_gpu_cudnn_equals_the_step_loop` runs
the real kernel where JAX has a GPU and is skipped elsewhere.
"""

import keras
import numpy as np
import pytest
from kernel_masks import kernel_masks

import toolkit
from toolkit.layers import cudnn

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="the cuDNN path is JAX's; needs JAX"
)

BATCH, TIME, FEATURES, UNITS = 4, 7, 5, 3


MASKS = kernel_masks()


@pytest.fixture
def kernel_runs(monkeypatch):
    """Pretends JAX runs on a GPU, with cuDNN's kernel replaced by its CPU reference;
    returns a list that gets one entry each time the kernel actually runs."""
    import jax
    from jax.experimental import rnn

    runs = []

    def reference(inputs, hidden, carry, weights, lengths, input_size, hidden_size):
        jax.debug.callback(lambda _: runs.append(1), lengths)
        unpacked = rnn.unpack_lstm_weights(weights, input_size, hidden_size, 1, False)
        return rnn.lstm_ref(
            inputs, hidden, carry, *unpacked, lengths, input_size, hidden_size, 1, 0.0, False
        )

    monkeypatch.setattr(cudnn, "jax_on_gpu", lambda: True)
    monkeypatch.setattr(cudnn, "_lstm_kernel", reference)
    return runs


def _pair(go_backwards=False, **options):
    layers = [
        toolkit.layers.LSTM(
            UNITS,
            return_sequences=True,
            return_state=True,
            go_backwards=go_backwards,
            fused=fused,
            **options,
        )
        for fused in ("auto", False)
    ]
    layers[0].build((BATCH, TIME, FEATURES))
    layers[1].build((BATCH, TIME, FEATURES))
    rng = np.random.default_rng(3)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layers[0].weights]
    for layer in layers:
        layer.set_weights(weights)
    return layers


def _outputs_and_gradients(layer, inputs, states, mask):
    """The layer's outputs and the gradients of a loss using all of them, with respect to
    the inputs, the initial states and every weight."""
    import jax

    weights = np.linspace(-1.0, 1.0, UNITS).astype("float32")
    fixed = [v.value for v in layer.non_trainable_variables]

    def loss(variables, inputs, states):
        outputs, _ = layer.stateless_call(
            variables, fixed, inputs, initial_state=list(states), mask=mask
        )
        value = (outputs[0] * weights).sum()
        value += sum((state * (index + 2.0)).sum() for index, state in enumerate(outputs[1:]))
        return value, outputs

    variables = [v.value for v in layer.trainable_variables]
    gradients, outputs = jax.grad(loss, argnums=(0, 1, 2), has_aux=True)(
        variables, inputs, tuple(states)
    )
    return [np.asarray(o) for o in outputs], [np.asarray(g) for g in jax.tree.leaves(gradients)]


def _data():
    rng = np.random.default_rng(11)
    inputs = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    states = [rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in range(2)]
    return inputs, states


@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_cudnn_path_equals_the_step_loop_with_gradients(kernel_runs, mask_name, go_backwards):
    inputs, states = _data()
    fast, slow = _pair(go_backwards=go_backwards)
    mask = MASKS[mask_name]
    fast_outputs, fast_gradients = _outputs_and_gradients(fast, inputs, states, mask)
    slow_outputs, slow_gradients = _outputs_and_gradients(slow, inputs, states, mask)
    assert fast.execution_path.startswith("cuDNN")
    assert slow.execution_path == "step loop (fused=False)"
    for ours, reference in zip(fast_outputs + fast_gradients, slow_outputs + slow_gradients):
        np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=1e-5)
    # cuDNN ran for every mask: left padding, holes and empty rows compacted.
    assert kernel_runs


def test_padded_outputs_are_zero_and_the_last_output_is_the_last_valid_one(kernel_runs):
    inputs, _ = _data()
    mask = MASKS["right"]
    layer = toolkit.layers.LSTM(UNITS, return_sequences=True)
    outputs = np.asarray(layer(inputs, mask=mask))
    last = toolkit.layers.LSTM(UNITS)
    last.build(inputs.shape)
    last.set_weights(layer.get_weights())
    assert kernel_runs
    np.testing.assert_array_equal(outputs[~mask], 0.0)
    lengths = mask.sum(axis=1)
    expected = outputs[np.arange(BATCH), lengths - 1]
    np.testing.assert_allclose(np.asarray(last(inputs, mask=mask)), expected, atol=1e-6)


def test_bidirectional_masked_batch_matches_the_step_loop(kernel_runs):
    inputs, _ = _data()
    mask = MASKS["right"]
    layers = [
        keras.layers.Bidirectional(toolkit.layers.LSTM(UNITS, return_sequences=True, fused=f))
        for f in ("auto", False)
    ]
    layers[0].build(inputs.shape)
    layers[1].build(inputs.shape)
    layers[1].set_weights(layers[0].get_weights())
    fast, slow = (np.asarray(layer(inputs, mask=mask)) for layer in layers)
    assert layers[0].forward_layer.execution_path.startswith("cuDNN")
    assert layers[0].backward_layer.execution_path.startswith("cuDNN")
    np.testing.assert_allclose(fast, slow, atol=1e-5)
    assert kernel_runs


def test_in_a_trained_model_the_weights_keep_the_toolkit_layout(kernel_runs, tmp_path):
    """`model.fit` runs cuDNN; the saved model, loaded where there is no GPU, runs the
    step loop on the same weights and gives the same outputs."""
    inputs, _ = _data()
    targets = np.random.default_rng(5).normal(size=(BATCH, UNITS)).astype("float32")
    model = keras.Sequential([keras.Input((TIME, FEATURES)), toolkit.layers.LSTM(UNITS)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = model.get_weights()
    model.fit(inputs, targets, epochs=2, batch_size=BATCH, verbose=0)
    assert model.layers[0].execution_path.startswith("cuDNN") and kernel_runs
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    expected = np.asarray(model(inputs))
    model.save(tmp_path / "model.keras")

    cudnn.jax_on_gpu = lambda: False  # undone by the fixture's monkeypatch
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(np.asarray(loaded(inputs)), expected, atol=1e-6)
    assert loaded.layers[0].execution_path == "step loop (JAX runs on 'cpu', not a GPU)"


def test_cudnn_weights_pack_the_toolkit_layout():
    layer = toolkit.layers.LSTM(UNITS)
    layer.build((BATCH, TIME, FEATURES))
    kernel, recurrent, bias = (np.asarray(w) for w in layer.get_weights())
    flat = np.asarray(cudnn.cudnn_weights(layer.cell))
    width = 4 * UNITS
    sizes = [width * FEATURES, width * UNITS, width, width]
    w_ih, w_hh, b_ih, b_hh = np.split(flat, np.cumsum(sizes)[:-1])
    np.testing.assert_array_equal(w_ih.reshape(width, FEATURES), kernel.T)
    np.testing.assert_array_equal(w_hh.reshape(width, UNITS), recurrent.T)
    np.testing.assert_array_equal(b_ih, bias)
    np.testing.assert_array_equal(b_hh, 0.0)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda: toolkit.layers.GRU(UNITS), "cell GRUCell has no cuDNN kernel in JAX"),
        (lambda: toolkit.layers.LSTM(UNITS, peephole=True), "peephole=True"),
        (lambda: toolkit.layers.LSTM(UNITS, activation="relu"), "activations 'relu'"),
        (lambda: toolkit.layers.LSTM(UNITS, dtype="mixed_bfloat16"), "compute dtype 'bfloat16'"),
    ],
)
def test_calls_cudnn_cannot_run_take_the_step_loop_and_say_why(kernel_runs, make, reason):
    inputs, _ = _data()
    layer = make()
    layer(inputs)
    assert layer.execution_path.startswith("step loop (") and reason in layer.execution_path
    assert not kernel_runs


def test_recurrent_dropout_in_training_takes_the_step_loop(kernel_runs):
    inputs, _ = _data()
    layer = toolkit.layers.LSTM(UNITS, recurrent_dropout=0.5)
    layer(inputs, training=True)
    assert layer.execution_path == "step loop (recurrent_dropout=0.5)"
    layer(inputs, training=False)
    assert layer.execution_path.startswith("cuDNN")


def test_without_a_gpu_the_step_loop_runs_and_fused_true_says_why():
    inputs, _ = _data()
    if cudnn.jax_on_gpu():
        pytest.skip("JAX has a GPU here")
    layer = toolkit.layers.LSTM(UNITS)
    layer(inputs)
    assert layer.execution_path.startswith("step loop (JAX runs on")
    strict = toolkit.layers.LSTM(UNITS, fused=True)
    with pytest.raises(ValueError, match="`fused=True` needs a standard LSTM cell, on JAX only"):
        strict(inputs)


@pytest.mark.skipif(
    keras.backend.backend() != "jax" or not cudnn.jax_on_gpu(), reason="needs JAX on a GPU"
)
@pytest.mark.parametrize("mask_name", ["none", "right", "left", "holes", "empty"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_on_the_gpu_cudnn_equals_the_step_loop(mask_name, go_backwards):
    """The real kernel, at full float32 precision (cuDNN and XLA may otherwise use TF32)."""
    import jax

    inputs, states = _data()
    fast, slow = _pair(go_backwards=go_backwards)
    with jax.default_matmul_precision("highest"):
        fast_results = _outputs_and_gradients(fast, inputs, states, MASKS[mask_name])
        slow_results = _outputs_and_gradients(slow, inputs, states, MASKS[mask_name])
    assert fast.execution_path.startswith("cuDNN")
    for ours, reference in zip(sum(fast_results, []), sum(slow_results, [])):
        np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=1e-5)
