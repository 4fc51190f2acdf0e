"""PyTorch's fused kernels on the torch backend (`toolkit/layers/torch_kernels.py`).

The standard LSTM and GRU run `torch.lstm` / `torch.gru` there. These tests pin them to
two independent references: the toolkit's generic step loop (`fused=False`) with the
same weights, outputs and gradients (inputs, initial states, every weight) at 1e-5 for
every mask (none, right and left padding, holes, an empty row) in both directions; and
`torch.nn.LSTM` / `torch.nn.GRU` modules given the converted weights. The kernels run on
a CPU here; on a GPU (`scripts/gpu_check.sh`) the same tests run cuDNN's, in full
float32.
"""

import keras
import numpy as np
import pytest
from kernel_masks import kernel_masks

import toolkit
from toolkit.layers import torch_kernels

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch", reason="PyTorch's kernels need the torch backend"
)

BATCH, TIME, FEATURES, UNITS = 4, 7, 5, 3
LAYERS = {"lstm": toolkit.layers.LSTM, "gru": toolkit.layers.GRU}


MASKS = {**kernel_masks(), "full": np.ones((BATCH, TIME), bool)}


@pytest.fixture(autouse=True)
def _full_float32_on_gpus():
    """cuDNN may compute in TF32 on Ampere and later GPUs; the parity checks want float32."""
    import torch

    allowed = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32 = allowed


@pytest.fixture
def kernel_runs(monkeypatch):
    """Counts the calls of PyTorch's kernels (a list that gets one entry per call)."""
    runs = []
    for name in ("_lstm", "_gru"):
        original = getattr(torch_kernels, name)

        def counted(*args, original=original, name=name):
            runs.append(name)
            return original(*args)

        monkeypatch.setattr(torch_kernels, name, counted)
    return runs


def _pair(kind, go_backwards=False, use_bias=True, return_state=True):
    layers = [
        LAYERS[kind](
            UNITS,
            return_sequences=True,
            return_state=return_state,
            go_backwards=go_backwards,
            use_bias=use_bias,
            fused=fused,
        )
        for fused in ("auto", False)
    ]
    for layer in layers:
        layer.build((BATCH, TIME, FEATURES))
    rng = np.random.default_rng(3)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layers[0].weights]
    for layer in layers:
        layer.set_weights(weights)
    return layers


def _data(kind):
    rng = np.random.default_rng(11)
    inputs = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    states = [
        rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in LAYERS[kind](1).cell.state_size
    ]
    return inputs, states


def _outputs_and_gradients(layer, inputs, states, mask):
    """The layer's outputs and the gradients of a loss using all of them, with respect to
    the inputs, the initial states and every weight (torch autograd)."""
    import torch

    # On Keras' device (a GPU where there is one), as leaves of the autograd graph.
    leaf = lambda array: keras.ops.convert_to_tensor(array).detach().requires_grad_(True)
    inputs, states = leaf(inputs), [leaf(state) for state in states]
    mask = None if mask is None else keras.ops.convert_to_tensor(mask)
    for variable in layer.trainable_variables:
        variable.value.grad = None
    outputs = layer(inputs, initial_state=states, mask=mask)
    outputs = outputs if layer.return_state else [outputs]
    scale = torch.linspace(-1.0, 1.0, UNITS, device=inputs.device)
    loss = (outputs[0] * scale).sum()
    loss = loss + sum((state * (index + 2.0)).sum() for index, state in enumerate(outputs[1:]))
    loss.backward()
    gradients = [inputs.grad, *(s.grad for s in states)]
    gradients += [v.value.grad for v in layer.trainable_variables]
    assert all(gradient is not None for gradient in gradients)
    numpy = lambda tensor: tensor.detach().cpu().numpy()
    return [numpy(o) for o in outputs], [numpy(g) for g in gradients]


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("mask_name", list(MASKS))
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_state", [True, False], ids=["states", "outputs_only"])
def test_torch_kernel_equals_the_step_loop_with_gradients(
    kernel_runs, kind, mask_name, go_backwards, return_state
):
    """With the states returned a masked batch runs packed; without, a masked LSTM (and
    the GRU in training) runs the compacted batch padded, whose outputs and hidden
    state after each row's last step are exact too."""
    inputs, states = _data(kind)
    fast, slow = _pair(kind, go_backwards=go_backwards, return_state=return_state)
    mask = MASKS[mask_name]
    fast_outputs, fast_gradients = _outputs_and_gradients(fast, inputs, states, mask)
    assert kernel_runs == [f"_{kind}"]
    slow_outputs, slow_gradients = _outputs_and_gradients(slow, inputs, states, mask)
    assert kernel_runs == [f"_{kind}"]
    assert fast.execution_path.startswith(f"PyTorch's fused kernel (torch.{kind}")
    assert slow.execution_path == "step loop (fused=False)"
    for ours, reference in zip(fast_outputs + fast_gradients, slow_outputs + slow_gradients):
        np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=1e-5)
    if mask is not None:
        np.testing.assert_array_equal(fast_outputs[0][~mask[:, ::-1] if go_backwards else ~mask], 0)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("return_state", [True, False], ids=["packed", "padded"])
def test_non_finite_values_at_masked_steps_do_not_reach_the_results(kind, return_state):
    """Masked steps may hold anything (NaN padding): neither layout lets it through."""
    inputs, states = _data(kind)
    mask = MASKS["holes"] | MASKS["left"]
    mask[2, :] = False
    dirty = np.where(mask[:, :, None], inputs, np.nan).astype("float32")
    clean = np.where(mask[:, :, None], inputs, 0.0).astype("float32")
    fast, slow = _pair(kind, return_state=return_state)
    fast_outputs, fast_gradients = _outputs_and_gradients(fast, dirty, states, mask)
    slow_outputs, slow_gradients = _outputs_and_gradients(slow, clean, states, mask)
    # The input gradient at masked steps is NaN times zero weights for the step loop too:
    # compare it at valid steps only.
    fast_gradients[0], slow_gradients[0] = fast_gradients[0][mask], slow_gradients[0][mask]
    for ours, reference in zip(fast_outputs + fast_gradients, slow_outputs + slow_gradients):
        assert np.isfinite(ours).all()
        np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=1e-5)


@pytest.fixture
def layouts(monkeypatch):
    """Records the layout of each masked kernel call (`"_packed_layout"` or `"_padded_layout"`)."""
    chosen = []
    for name in ("_packed_layout", "_padded_layout"):
        original = getattr(torch_kernels, name)
        monkeypatch.setattr(
            torch_kernels, name, lambda *a, o=original, n=name: chosen.append(n) or o(*a)
        )
    return chosen


def test_without_the_states_a_masked_lstm_runs_the_padded_form(layouts):
    """The layer tells the kernel whether its states are used: `return_state` and
    `stateful` need the packed form's exact cell states."""
    inputs, _ = _data("lstm")
    mask = MASKS["left"]
    toolkit.layers.LSTM(UNITS)(inputs, mask=mask)
    toolkit.layers.LSTM(UNITS, return_state=True)(inputs, mask=mask)
    stateful = toolkit.layers.LSTM(UNITS, stateful=True)
    stateful.build(inputs.shape)
    stateful(inputs, mask=mask)
    assert layouts == ["_padded_layout", "_packed_layout", "_packed_layout"]


@pytest.mark.parametrize("kind", list(LAYERS))
def test_without_bias_the_kernel_runs_without_bias(kernel_runs, kind):
    inputs, states = _data(kind)
    fast, slow = _pair(kind, use_bias=False)
    mask = MASKS["holes"]
    fast_results = _outputs_and_gradients(fast, inputs, states, mask)
    slow_results = _outputs_and_gradients(slow, inputs, states, mask)
    assert kernel_runs
    for ours, reference in zip(sum(fast_results, []), sum(slow_results, [])):
        np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_converted_weights_give_torch_nn_modules_the_same_outputs(kind):
    """An independent reference: `torch.nn.LSTM` / `torch.nn.GRU` loaded with
    `torch_weights` compute what the toolkit's step loop computes."""
    import torch

    inputs, states = _data(kind)
    _, slow = _pair(kind)
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](FEATURES, UNITS, batch_first=True)
    converted = torch_kernels.torch_weights(slow.cell)
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    with torch.no_grad():
        for name, value in zip(names, converted):
            getattr(module, name).copy_(value)
        hidden = [torch.tensor(state)[None] for state in states]
        outputs, final = module(
            torch.tensor(inputs), tuple(hidden) if kind == "lstm" else hidden[0]
        )
    expected = slow(inputs, initial_state=states)
    np.testing.assert_allclose(outputs.numpy(), keras.ops.convert_to_numpy(expected[0]), atol=1e-6)
    final = final if kind == "lstm" else [final]
    for ours, reference in zip(final, expected[1:]):
        np.testing.assert_allclose(
            ours[0].numpy(), keras.ops.convert_to_numpy(reference), atol=1e-6
        )


@pytest.mark.parametrize("kind", list(LAYERS))
def test_bidirectional_masked_batch_matches_the_step_loop(kernel_runs, kind):
    inputs, _ = _data(kind)
    mask = MASKS["left"]
    layers = [
        keras.layers.Bidirectional(LAYERS[kind](UNITS, return_sequences=True, fused=f))
        for f in ("auto", False)
    ]
    for layer in layers:
        layer.build(inputs.shape)
    layers[1].set_weights(layers[0].get_weights())
    fast, slow = (keras.ops.convert_to_numpy(layer(inputs, mask=mask)) for layer in layers)
    assert layers[0].forward_layer.execution_path.startswith("PyTorch's fused kernel")
    assert layers[0].backward_layer.execution_path.startswith("PyTorch's fused kernel")
    assert len(kernel_runs) == 2
    np.testing.assert_allclose(fast, slow, atol=1e-5)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_a_model_trained_on_the_kernel_saves_the_keras_layout(kernel_runs, kind, tmp_path):
    """`model.fit` runs the kernel; the saved model, loaded with the step loop forced, gives
    the same outputs (the weights never left the toolkit's layout)."""
    inputs, _ = _data(kind)
    mask_inputs = np.where(MASKS["left"][:, :, None], inputs, 0.0)
    targets = np.random.default_rng(5).normal(size=(BATCH, UNITS)).astype("float32")
    model = keras.Sequential(
        [keras.Input((TIME, FEATURES)), keras.layers.Masking(0.0), LAYERS[kind](UNITS)]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = model.get_weights()
    model.fit(mask_inputs, targets, epochs=2, batch_size=BATCH, verbose=0)
    assert kernel_runs and model.layers[-1].execution_path.startswith("PyTorch's fused kernel")
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    expected = keras.ops.convert_to_numpy(model(mask_inputs))
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    loaded.layers[-1].fused = False
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(mask_inputs)), expected, atol=1e-5)
    assert loaded.layers[-1].execution_path == "step loop (fused=False)"


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda: toolkit.layers.LSTM(UNITS, peephole=True), "peephole=True"),
        (lambda: toolkit.layers.GRU(UNITS, reset_after=False), "reset_after=False"),
        (lambda: toolkit.layers.LSTM(UNITS, activation="relu"), "activations 'relu'"),
        (lambda: toolkit.layers.SimpleRNN(UNITS), "cell SimpleRNNCell has no fused loop"),
    ],
)
def test_calls_the_kernels_cannot_run_take_the_step_loop_and_say_why(kernel_runs, make, reason):
    inputs, _ = _data("lstm")
    layer = make()
    layer(inputs)
    assert layer.execution_path.startswith("step loop (") and reason in layer.execution_path
    assert not kernel_runs


def test_recurrent_dropout_in_training_takes_the_step_loop(kernel_runs):
    inputs, _ = _data("gru")
    layer = toolkit.layers.GRU(UNITS, recurrent_dropout=0.5)
    layer(inputs, training=True)
    assert layer.execution_path == "step loop (recurrent_dropout=0.5)" and not kernel_runs
    layer(inputs, training=False)
    assert layer.execution_path.startswith("PyTorch's fused kernel") and kernel_runs


def test_fused_true_with_a_cell_the_kernels_cannot_run_says_why():
    inputs, _ = _data("lstm")
    with pytest.raises(ValueError, match="`fused=True` needs a standard LSTM or GRU cell"):
        toolkit.layers.LSTM(UNITS, peephole=True, fused=True)(inputs)


def test_bfloat16_runs_the_kernel_in_bfloat16(kernel_runs):
    inputs, states = _data("lstm")
    fast = toolkit.layers.LSTM(UNITS, return_sequences=True, dtype="mixed_bfloat16")
    slow = toolkit.layers.LSTM(UNITS, return_sequences=True, dtype="mixed_bfloat16", fused=False)
    fast.build(inputs.shape)
    slow.build(inputs.shape)
    slow.set_weights(fast.get_weights())
    ours, reference = fast(inputs, mask=MASKS["holes"]), slow(inputs, mask=MASKS["holes"])
    assert kernel_runs and str(ours.dtype) == "torch.bfloat16"
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours).astype("float32"),
        keras.ops.convert_to_numpy(reference).astype("float32"),
        atol=0.03,
    )


def test_under_jit_compile_the_kernel_runs_between_compiled_parts(kernel_runs):
    """Keras' `jit_compile=True` on torch is `torch.compile`, which cannot trace oneDNN's
    LSTM: the kernel runs eagerly inside the compiled step, with the same results."""
    inputs, _ = _data("lstm")
    targets = np.zeros((BATCH, UNITS), "float32")
    models = []
    for jit_compile in (True, False):
        keras.utils.set_random_seed(7)
        model = keras.Sequential([keras.Input((TIME, FEATURES)), toolkit.layers.LSTM(UNITS)])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=jit_compile)
        model.fit(inputs, targets, epochs=1, batch_size=BATCH, verbose=0)
        models.append(model)
    assert models[0].jit_compile and kernel_runs
    for ours, reference in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(ours, reference, atol=1e-5)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("mask_name", ["right", "left", "holes", "empty"])
def test_in_inference_a_masked_gru_runs_packed_and_equals_the_step_loop(layouts, kind, mask_name):
    """Without gradients the GRU takes the packed form (it skips the padding's steps); in
    training the padded one (the packed backward is slow)."""
    import torch

    inputs, states = _data(kind)
    fast, slow = _pair(kind, go_backwards=mask_name == "holes")
    with torch.no_grad():
        ours = fast(inputs, initial_state=states, mask=MASKS[mask_name])
        reference = slow(inputs, initial_state=states, mask=MASKS[mask_name])
    for mine, theirs in zip(ours, reference):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(theirs), atol=1e-5
        )
    assert layouts == ["_packed_layout"]  # return_state: the LSTM's too
    _outputs_and_gradients(fast, inputs, states, MASKS[mask_name])
    assert layouts[1] == ("_packed_layout" if kind == "lstm" else "_padded_layout")


@pytest.mark.parametrize("kind", list(LAYERS))
def test_inference_weights_follow_every_change_of_the_variables(kind):
    """Without gradients the converted weights are kept between calls, until a variable
    is assigned (`set_weights`, an optimizer step)."""
    import torch

    inputs, _ = _data(kind)
    fast, slow = _pair(kind, return_state=False)
    with torch.no_grad():
        first = keras.ops.convert_to_numpy(fast(inputs))
        assert torch_kernels.torch_weights(fast.cell) is torch_kernels.torch_weights(fast.cell)
        new = [weight * 0.5 for weight in fast.get_weights()]
        fast.set_weights(new)
        slow.set_weights(new)
        second = keras.ops.convert_to_numpy(fast(inputs))
        fast.cell.kernel.assign(fast.cell.kernel * 2.0)
        slow.cell.kernel.assign(slow.cell.kernel * 2.0)
        third = keras.ops.convert_to_numpy(fast(inputs))
        expected = keras.ops.convert_to_numpy(slow(inputs))
    assert not np.allclose(first, second) and not np.allclose(second, third)
    np.testing.assert_allclose(third, expected, atol=1e-5)


@pytest.mark.parametrize("grad", [False, True])
def test_lstm_weights_reach_onednn_contiguous(grad):
    """oneDNN's LSTM given transposed views of the kernels ran a batch-1 inference
    about a quarter slower (`torch_kernels._converted_weights`): the converted
    matrices are contiguous, in inference (cached) and in training (autograd)."""
    import torch

    layer, _ = _pair("lstm")
    layer.build((None, None, FEATURES))
    with torch.set_grad_enabled(grad):
        weights = torch_kernels.torch_weights(layer.cell)
    assert [tuple(w.shape) for w in weights[:2]] == [(4 * UNITS, FEATURES), (4 * UNITS, UNITS)]
    assert all(w.is_contiguous() for w in weights)
    assert all(w.requires_grad for w in weights[:3]) == grad
