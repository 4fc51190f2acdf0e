"""The sequence layers: `run_layer_test` on every layer and its variants, and
the behaviour of dropout, zoneout and `jit_compile` observed from outside.
"""

import keras
import numpy as np
import pytest
import references_slstm_mgu as references
from layer_test import run_layer_test
from layer_test import to_numpy

import toolkit

B, T, F, U = 2, 4, 3, 3
INPUT_SHAPE = (B, T, F)


def _recurrent(cell_factory, **layer_kwargs):
    """A factory `init_kwargs -> Recurrent(cell_factory(), **layer_kwargs, **init_kwargs)`."""

    def factory(**init_kwargs):
        return toolkit.layers.Recurrent(cell_factory(), **layer_kwargs, **init_kwargs)

    return factory


# (id, layer class or factory, constructor arguments, expected output
# shape(s), number of trainable weights)
LAYER_CASES = [
    ("lstm", toolkit.layers.LSTM, {"units": U}, (B, U), 3),
    (
        "lstm_sequences_backwards_options",
        toolkit.layers.LSTM,
        {
            "units": U,
            "return_sequences": True,
            "go_backwards": True,
            "peephole": True,
            "cell_clip": 1.0,
            "dropout": 0.2,
            "recurrent_dropout": 0.2,
            "zoneout": 0.1,
            "cell_zoneout": 0.1,
        },
        (B, T, U),
        6,
    ),
    (
        "lstm_projection_state",
        toolkit.layers.LSTM,
        {
            "units": U,
            "projection": 2,
            "projection_clip": 0.5,
            "layer_norm": True,
            "return_sequences": True,
            "return_state": True,
        },
        [(B, T, 2), (B, 2), (B, U)],
        3 + 4 + 1,
    ),
    (
        "lstm_state_backwards_cifg",
        toolkit.layers.LSTM,
        {"units": U, "return_state": True, "go_backwards": True, "coupled_input_forget": True},
        [(B, U), (B, U), (B, U)],
        3,
    ),
    ("lstm_unroll", toolkit.layers.LSTM, {"units": U, "unroll": True}, (B, U), 3),
    (
        "lstm_stateful",
        toolkit.layers.LSTM,
        {"units": U, "stateful": True, "return_sequences": True},
        (B, T, U),
        3,
    ),
    ("gru", toolkit.layers.GRU, {"units": U}, (B, U), 3),
    (
        "gru_reset_before_everything",
        toolkit.layers.GRU,
        {
            "units": U,
            "reset_after": False,
            "return_sequences": True,
            "return_state": True,
            "go_backwards": True,
        },
        [(B, T, U), (B, U)],
        3,
    ),
    (
        "gru_random",
        toolkit.layers.GRU,
        {"units": U, "dropout": 0.2, "recurrent_dropout": 0.3, "zoneout": 0.2, "seed": 1},
        (B, U),
        3,
    ),
    ("simple_rnn", toolkit.layers.SimpleRNN, {"units": U}, (B, U), 3),
    (
        "simple_rnn_everything",
        toolkit.layers.SimpleRNN,
        {
            "units": U,
            "activation": "relu",
            "return_sequences": True,
            "return_state": True,
            "go_backwards": True,
            "dropout": 0.3,
            "zoneout": 0.2,
        },
        [(B, T, U), (B, U)],
        3,
    ),
    (
        "recurrent_lstm_cell",
        _recurrent(lambda: toolkit.cells.LSTMCell(U, layer_norm=True, peephole=True)),
        {"return_state": True},
        [(B, U), (B, U), (B, U)],
        3 + 3 + 4,
    ),
    (
        "recurrent_gru_cell_backwards",
        _recurrent(lambda: toolkit.cells.GRUCell(U, reset_after=False)),
        {"return_sequences": True, "go_backwards": True},
        (B, T, U),
        3,
    ),
]


@pytest.mark.parametrize(
    "layer, init_kwargs, expected_shape, num_weights",
    [case[1:] for case in LAYER_CASES],
    ids=[case[0] for case in LAYER_CASES],
)
def test_layer(layer, init_kwargs, expected_shape, num_weights):
    run_layer_test(
        layer,
        init_kwargs,
        INPUT_SHAPE,
        expected_shape,
        expected_num_trainable_weights=num_weights,
        expected_num_non_trainable_weights=0,
        supports_masking=True,
    )


def test_recurrent_config_names_the_cell():
    layer = toolkit.layers.Recurrent(toolkit.cells.GRUCell(2, reset_after=False))
    config = layer.get_config()
    assert config["cell"]["class_name"] == "GRUCell"
    assert config["cell"]["registered_name"] == "toolkit>GRUCell"
    revived = toolkit.layers.Recurrent.from_config(config)
    assert revived.cell.reset_after is False


@pytest.mark.parametrize("name", toolkit.layers.available())
def test_named_layers_forward_cell_options_and_find_their_cell(name):
    """On torch a layer is a `torch.nn.Module`, which keeps the cell in `_modules`:
    the cell-option forwarding (`CellLayer.__getattr__`) must still find it, before and
    after the layer builds (it once failed there with "no attribute 'cell'")."""
    layer = toolkit.layers.get(name)(3, return_sequences=True)
    assert isinstance(layer.cell, layer.cell_class) and layer.units == 3
    outputs = layer(np.zeros((2, 4, F), "float32"))
    assert tuple(outputs.shape) == (2, 4, 3) and layer.cell.built
    with pytest.raises(AttributeError, match="no attribute 'not_an_option'"):
        _ = layer.not_an_option


# === An explicit dtype policy on the layer (global policy float32) ===

DTYPE_CASES = {
    "lstm_bfloat16": (
        lambda dtype: toolkit.layers.LSTM(U, layer_norm=True, zoneout=0.1, dtype=dtype),
        "mixed_bfloat16",
    ),
    "gru_float16": (lambda dtype: toolkit.layers.GRU(U, dropout=0.1, dtype=dtype), "mixed_float16"),
    # The cell keeps the default policy; the layer's policy rules the loop.
    "recurrent_of_default_cell_bfloat16": (
        lambda dtype: toolkit.layers.Recurrent(
            toolkit.cells.LSTMCell(U, projection=2, cell_zoneout=0.1), dtype=dtype
        ),
        "mixed_bfloat16",
    ),
    "recurrent_of_default_cell_float16": (
        lambda dtype: toolkit.layers.Recurrent(toolkit.cells.SimpleRNNCell(U), dtype=dtype),
        "mixed_float16",
    ),
}


@pytest.mark.parametrize("case", list(DTYPE_CASES))
def test_layer_dtype_argument(case):
    make_layer, policy = DTYPE_CASES[case]
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    x = np.random.default_rng(0).normal(size=(B, T, F)).astype("float32")
    layer = make_layer(policy)
    for training in (False, True):
        outputs = layer(x, training=training)
        assert keras.backend.standardize_dtype(outputs.dtype) == compute_dtype
        assert np.all(np.isfinite(to_numpy(outputs).astype("float32")))
    for weight in layer.weights:
        assert keras.backend.standardize_dtype(weight.dtype) == "float32", weight.path
    inputs = keras.Input((T, F))
    model = keras.Model(inputs, make_layer(policy)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, np.zeros((B, model.outputs[0].shape[-1]), "float32"), verbose=0)
    assert np.isfinite(history.history["loss"][0])


# === Dropout: one mask per sequence ===


def _pass_through_rnn(units, **options):
    """SimpleRNN computing `h_t = x_t * input_mask`: the mask is visible."""
    return toolkit.layers.SimpleRNN(
        units,
        activation="linear",
        use_bias=False,
        kernel_initializer="identity",
        recurrent_initializer="zeros",
        return_sequences=True,
        **options,
    )


def test_input_dropout_uses_one_mask_per_sequence():
    batch, steps, units, rate = 8, 5, 6, 0.5
    rng = np.random.default_rng(0)
    values = rng.uniform(1.0, 2.0, size=(batch, 1, units)).astype("float32")
    inputs = np.repeat(values, steps, axis=1)  # constant over time
    layer = _pass_through_rnn(units, dropout=rate, seed=42)

    outputs = to_numpy(layer(inputs, training=True))
    dropped = outputs == 0.0
    # The same input units are zeroed at every step of a sequence...
    assert np.all(dropped == dropped[:, :1, :]), dropped
    # ... and the kept units are scaled by 1 / (1 - rate).
    np.testing.assert_allclose(outputs[~dropped], (inputs / (1.0 - rate))[~dropped], rtol=1e-6)
    # The mask really drops something, keeps something, and differs between
    # the sequences of the batch.
    assert 0.2 < dropped.mean() < 0.8
    first_step = dropped[:, 0, :]
    assert any(not np.array_equal(first_step[0], row) for row in first_step[1:])

    # A new call draws a new mask.
    again = to_numpy(layer(inputs, training=True)) == 0.0
    assert not np.array_equal(again, dropped)

    # Inference: no dropout at all.
    np.testing.assert_allclose(to_numpy(layer(inputs, training=False)), inputs, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(layer(inputs)), inputs, rtol=1e-6)


def test_recurrent_dropout_uses_one_mask_per_sequence():
    # h_t = (h_{t-1} * mask) I with h_0 given: a unit dropped once stays at
    # zero, a kept one is scaled by 1 / (1 - rate) at every step. A mask
    # drawn afresh at each step would zero more units over time.
    batch, steps, units, rate = 8, 5, 6, 0.5
    rng = np.random.default_rng(1)
    initial = rng.uniform(1.0, 2.0, size=(batch, units)).astype("float32")
    layer = toolkit.layers.SimpleRNN(
        units,
        activation="linear",
        use_bias=False,
        kernel_initializer="zeros",
        recurrent_initializer="identity",
        return_sequences=True,
        recurrent_dropout=rate,
        seed=3,
    )
    inputs = np.zeros((batch, steps, 2), "float32")

    outputs = to_numpy(layer(inputs, initial_state=[initial], training=True))
    dropped = outputs == 0.0
    assert np.all(dropped == dropped[:, :1, :]), dropped
    assert 0.2 < dropped.mean() < 0.8
    scale = (1.0 / (1.0 - rate)) ** np.arange(1, steps + 1)
    expected = initial[:, None, :] * scale[None, :, None]
    np.testing.assert_allclose(outputs[~dropped], expected[~dropped], rtol=1e-5)

    # Inference: the identity recurrence keeps h_0 unchanged.
    inference = to_numpy(layer(inputs, initial_state=[initial], training=False))
    np.testing.assert_allclose(inference, np.repeat(initial[:, None, :], steps, axis=1))


def test_compiled_inference_has_no_dropout():
    units = 4
    inputs = np.random.default_rng(5).uniform(1, 2, size=(4, 3, units)).astype("float32")
    model = keras.Sequential(
        [keras.Input((3, units)), _pass_through_rnn(units, dropout=0.5, recurrent_dropout=0.5)]
    )
    np.testing.assert_allclose(model.predict(inputs, verbose=0), inputs, rtol=1e-6)


# === Zoneout ===

ZONEOUT_CASES = [
    ("simple_rnn", lambda: toolkit.layers.SimpleRNN(8, zoneout=0.3, return_state=True), 0, 0.3),
    ("gru", lambda: toolkit.layers.GRU(8, zoneout=0.4, return_state=True), 0, 0.4),
    (
        "lstm_hidden",
        lambda: toolkit.layers.LSTM(8, zoneout=0.3, return_state=True),
        0,
        0.3,
    ),
    (
        "lstm_cell",
        lambda: toolkit.layers.LSTM(8, cell_zoneout=0.6, return_state=True),
        1,
        0.6,
    ),
]


@pytest.mark.parametrize(
    "make_layer, state_index, rate",
    [case[1:] for case in ZONEOUT_CASES],
    ids=[case[0] for case in ZONEOUT_CASES],
)
def test_zoneout_one_step(make_layer, state_index, rate):
    """One step from a given state: kept with probability `rate` in training,
    the expectation `rate * previous + (1 - rate) * new` at inference."""
    batch, features = 128, 3
    rng = np.random.default_rng(2)
    inputs = rng.normal(size=(batch, 1, features)).astype("float32")
    layer = make_layer()
    layer.build((None, 1, features))
    initial = [
        rng.uniform(-1.0, 1.0, size=(batch, size)).astype("float32")
        for size in layer.cell.state_size
    ]

    # Training: each unit either keeps its previous value exactly or takes
    # the new one, about `rate` of them keep.
    final = to_numpy(layer(inputs, initial_state=initial, training=True)[1 + state_index])
    kept = final == initial[state_index]
    assert abs(kept.mean() - rate) < 0.08, kept.mean()

    # Inference: the expectation, against the same layer without zoneout.
    config = layer.get_config()
    config.update({"zoneout": 0.0, "name": "plain"})
    if "cell_zoneout" in config:
        config["cell_zoneout"] = 0.0
    plain = type(layer).from_config(config)
    plain.build((None, 1, features))
    plain.set_weights(layer.get_weights())
    new = to_numpy(plain(inputs, initial_state=initial)[1 + state_index])
    expected = rate * initial[state_index] + (1.0 - rate) * new
    received = to_numpy(layer(inputs, initial_state=initial, training=False)[1 + state_index])
    np.testing.assert_allclose(received, expected, rtol=1e-5, atol=1e-6)


def test_zoneout_draws_a_fresh_mask_at_every_step():
    # h_t = keep ? h_{t-1} : x_t with x_t = t + 1: which value a unit holds
    # tells which steps kept it.
    batch, steps, units, rate = 32, 6, 4, 0.3
    layer = toolkit.layers.SimpleRNN(
        units,
        activation="linear",
        use_bias=False,
        kernel_initializer="identity",
        recurrent_initializer="zeros",
        return_sequences=True,
        zoneout=rate,
        seed=9,
    )
    step_values = np.arange(1, steps + 1, dtype="float32")
    inputs = np.broadcast_to(step_values[None, :, None], (batch, steps, units)).copy()

    outputs = to_numpy(layer(inputs, training=True))
    previous = np.concatenate([np.zeros((batch, 1, units), "float32"), outputs[:, :-1]], axis=1)
    kept = outputs == previous
    updated = outputs == inputs
    assert np.all(kept | updated)  # nothing else is possible
    assert abs(kept.mean() - rate) < 0.08, kept.mean()
    # Different steps keep different units (a mask per step, not per sequence).
    assert not np.all(kept == kept[:, :1, :])

    # Inference: h_t = rate * h_{t-1} + (1 - rate) * x_t.
    expected = np.zeros((batch, units), "float32")
    expected_steps = []
    for t in range(steps):
        expected = rate * expected + (1.0 - rate) * inputs[:, t]
        expected_steps.append(expected)
    np.testing.assert_allclose(
        to_numpy(layer(inputs, training=False)), np.stack(expected_steps, axis=1), rtol=1e-5
    )


# === jit_compile ===


def _jit_model(jit_compile):
    inputs = keras.Input((T, F))
    x = toolkit.layers.LSTM(U, peephole=True, layer_norm=True, return_sequences=True)(inputs)
    x = toolkit.layers.GRU(U, reset_after=False, go_backwards=True)(x)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", jit_compile=jit_compile)
    return model


def test_jit_compile_fit_and_predict_match_the_non_jit_model():
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, size=(4, T, F)).astype("float32")
    y = rng.uniform(-1, 1, size=(4, 1)).astype("float32")
    jitted = _jit_model(jit_compile=True)
    plain = _jit_model(jit_compile=False)
    plain.set_weights(jitted.get_weights())
    assert jitted.jit_compile is True and plain.jit_compile is False

    np.testing.assert_allclose(
        jitted.predict(x, verbose=0), plain.predict(x, verbose=0), rtol=1e-5, atol=1e-5
    )
    jit_loss = jitted.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    plain_loss = plain.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(jit_loss.history["loss"][0])
    np.testing.assert_allclose(
        jit_loss.history["loss"][0], plain_loss.history["loss"][0], rtol=1e-5
    )
    for after_jit, after_plain in zip(jitted.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(after_jit, after_plain, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        jitted.predict(x, verbose=0), plain.predict(x, verbose=0), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: toolkit.layers.LSTM(U, return_sequences=True, peephole=True, layer_norm=True),
        lambda: toolkit.layers.GRU(U, return_sequences=True, go_backwards=True, fused=False),
        lambda: toolkit.layers.MGU(U, return_sequences=True, activation="relu"),
    ],
    ids=["lstm_peephole_layer_norm", "gru_backwards", "mgu_relu"],
)
def test_projection_inside_the_loop_equals_the_hoisted_one(make_layer, monkeypatch):
    """The step loop projects the inputs before the loop, or at every step on JAX's CPU
    backend (`recurrent._projects_per_step`); both give the same outputs and gradients."""
    from toolkit.layers import recurrent

    on_jax_cpu = keras.backend.backend() == "jax"
    if on_jax_cpu:
        import jax

        on_jax_cpu = jax.default_backend() == "cpu"
    assert recurrent._projects_per_step() is on_jax_cpu

    x = np.random.default_rng(0).normal(size=(3, 5, F)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1], [1, 1, 1, 1, 1]], dtype=bool)
    target = np.random.default_rng(1).normal(size=(3, 5, U)).astype("float32")
    layer = make_layer()
    layer.build((None, 5, F))
    references.perturb_weights(layer, seed=2)
    results = {}
    for per_step in (False, True):
        monkeypatch.setattr(recurrent, "_projects_per_step", lambda value=per_step: value)
        outputs = layer(x, mask=mask, training=True)
        gradients = references.autodiff_gradients(
            layer,
            lambda out: keras.ops.sum(keras.ops.multiply(out, target)),
            x,
            mask=mask,
            training=True,
        )
        results[per_step] = {"outputs": to_numpy(outputs), **gradients}
    assert np.abs(results[False]["outputs"]).max() > 1e-2
    # Relative as well as absolute: the two orders of summation differ by float32
    # rounding, 1.4e-5 on a gradient of 5.85 (2.4e-6 relative) in one torch CI run.
    for name, value in results[False].items():
        np.testing.assert_allclose(results[True][name], value, rtol=1e-5, atol=1e-5, err_msg=name)
