"""The toolkit layers against Keras' built-in LSTM, GRU and SimpleRNN.

For every configuration both support, weights are copied both ways between
the two layers (`set_weights(other.get_weights())`) and the outputs, and
the gradients of a fixed random projection of the outputs with respect to
the inputs (sequences, initial states) and to every weight, must agree.
"""

import keras
import numpy as np
import pytest
import references

import toolkit

ATOL = 1e-5
BATCH, TIME, FEATURES, UNITS = 3, 5, 4, 3


# === Helpers ===


def assert_close(actual, expected, atol=ATOL):
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(actual),
        keras.ops.convert_to_numpy(expected),
        atol=atol,
        rtol=atol,
    )


def as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def cotangents(outputs, seed=0):
    """Fixed random weights, one array per output, for the scalar loss."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=tuple(o.shape)).astype("float32") for o in as_list(outputs)]


def _loss(outputs, weights):
    return sum(keras.ops.sum(keras.ops.multiply(o, w)) for o, w in zip(as_list(outputs), weights))


def outputs_and_gradients(layer, x, initial_state=None, mask=None, seed=0):
    """Runs `layer(x, initial_state=..., mask=...)` and differentiates
    `sum_k sum(output_k * w_k)` (fixed random `w_k`) with respect to `x`, the
    initial states and `layer.trainable_variables`.

    Returns `(outputs, grad_x, grad_initial_state, grad_weights)` as NumPy
    arrays; `grad_initial_state` is `[]` without initial states. Uses
    `tf.GradientTape` on TensorFlow and `jax.vjp` over `stateless_call` on
    JAX.
    """
    call_kwargs = {} if mask is None else {"mask": mask}
    x = np.asarray(x, "float32")
    states = [np.asarray(s, "float32") for s in initial_state or []]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        states = [tf.constant(s) for s in states]
        variables = list(layer.trainable_variables)
        with tf.GradientTape() as tape:
            tape.watch([x] + states)
            outputs = layer(x, initial_state=states or None, **call_kwargs)
            loss = _loss(outputs, cotangents(outputs, seed))
        grads = tape.gradient(loss, [x] + states + variables)
        grad_x, grad_states = grads[0], grads[1 : 1 + len(states)]
        grad_weights = grads[1 + len(states) :]
    elif backend == "jax":
        import jax

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def forward(x_j, states_j, trainable_j):
            outputs, _ = layer.stateless_call(
                trainable_j, non_trainable, x_j, initial_state=states_j or None, **call_kwargs
            )
            return outputs

        trainable = [v.value for v in layer.trainable_variables]
        outputs, pullback = jax.vjp(forward, x, states, trainable)
        grad_x, grad_states, grad_weights = pullback(
            keras.tree.pack_sequence_as(outputs, cotangents(outputs, seed))
        )
    elif backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        states = [torch.tensor(s, requires_grad=True) for s in states]
        variables = [v.value for v in layer.trainable_variables]
        outputs = layer(x, initial_state=states or None, **call_kwargs)
        loss = _loss(outputs, cotangents(outputs, seed))
        grads = torch.autograd.grad(loss, [x] + states + variables, allow_unused=True)
        grad_x, grad_states = grads[0], grads[1 : 1 + len(states)]
        grad_weights = grads[1 + len(states) :]
    else:
        pytest.skip(f"no gradient helper for backend {backend}")
    assert len(grad_weights) == len(layer.trainable_variables) > 0
    assert all(g is not None for g in grad_weights), "a weight got no gradient"
    to_numpy = keras.ops.convert_to_numpy
    return (
        [to_numpy(o) for o in as_list(outputs)],
        to_numpy(grad_x),
        [to_numpy(g) for g in grad_states],
        [to_numpy(g) for g in grad_weights],
    )


def assert_same_results(ours, theirs):
    our_outputs, our_gx, our_gs, our_gw = ours
    their_outputs, their_gx, their_gs, their_gw = theirs
    assert len(our_outputs) == len(their_outputs)
    for a, b in zip(our_outputs, their_outputs):
        assert_close(a, b)
    assert_close(our_gx, their_gx)
    assert len(our_gs) == len(their_gs)
    for a, b in zip(our_gs, their_gs):
        assert_close(a, b)
    assert len(our_gw) == len(their_gw)
    for a, b in zip(our_gw, their_gw):
        assert a.shape == b.shape
        assert_close(a, b)


def inputs(seed=0, batch=BATCH, time=TIME, features=FEATURES):
    return np.random.default_rng(seed).normal(size=(batch, time, features)).astype("float32")


KINDS = {
    "lstm": (toolkit.layers.LSTM, keras.layers.LSTM, {}),
    "gru_reset_after": (toolkit.layers.GRU, keras.layers.GRU, {"reset_after": True}),
    "gru_reset_before": (toolkit.layers.GRU, keras.layers.GRU, {"reset_after": False}),
    "simple_rnn": (toolkit.layers.SimpleRNN, keras.layers.SimpleRNN, {}),
}


def make_pair(kind, **kwargs):
    ours_class, keras_class, kind_kwargs = KINDS[kind]
    kwargs = {**kind_kwargs, **kwargs}
    if kind == "simple_rnn":
        kwargs.pop("recurrent_activation", None)
    return ours_class(UNITS, **kwargs), keras_class(UNITS, **kwargs)


def copy_weights(source, target, seed):
    """Gives `source` random weights, copies them into `target`."""
    references.perturb_weights(source, seed=seed)
    target.set_weights(source.get_weights())
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)


# === Tests ===

# The plain forward loop returning sequences and states is also compared
# (with gradients) by test_initial_state_matches_keras below.
CONFIGS = {
    "backwards_unrolled_sequences_state": {
        "go_backwards": True,
        "unroll": True,
        "return_sequences": True,
        "return_state": True,
    },
    "no_bias_relu_hard_sigmoid_last": {
        "use_bias": False,
        "activation": "relu",
        "recurrent_activation": "hard_sigmoid",
    },
}


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_outputs_and_gradients_match_keras(kind, config):
    ours, theirs = make_pair(kind, **CONFIGS[config])
    x = inputs()
    ours(x)
    theirs(x)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]

    # Keras -> ours: outputs and gradients.
    copy_weights(theirs, ours, seed=1)
    assert_same_results(outputs_and_gradients(ours, x), outputs_and_gradients(theirs, x))

    # Ours -> Keras: outputs.
    copy_weights(ours, theirs, seed=2)
    x = inputs(seed=3)
    for a, b in zip(as_list(ours(x)), as_list(theirs(x))):
        assert_close(a, b)


@pytest.mark.parametrize("kind", list(KINDS))
def test_initial_state_matches_keras(kind):
    ours, theirs = make_pair(kind, return_sequences=True, return_state=True)
    x = inputs(seed=4)
    ours(x)
    theirs(x)
    copy_weights(theirs, ours, seed=5)
    rng = np.random.default_rng(6)
    state_sizes = [UNITS, UNITS] if kind == "lstm" else [UNITS]
    initial_state = [rng.normal(size=(BATCH, size)).astype("float32") for size in state_sizes]
    assert_same_results(
        outputs_and_gradients(ours, x, initial_state=initial_state),
        outputs_and_gradients(theirs, x, initial_state=initial_state),
    )


# Right padding, left padding, a hole; every row keeps at least one step.
MASK = np.array(
    [
        [True, True, True, False, False],
        [False, False, True, True, True],
        [True, False, True, True, False],
    ]
)


def assert_masked_pair_matches(kind, seed, **kwargs):
    """Ours and Keras' layer with the same weights: outputs and gradients under `MASK`
    agree. Returns our layer and the inputs."""
    ours, theirs = make_pair(kind, **kwargs)
    x = inputs(seed=seed)
    ours(x)
    theirs(x)
    copy_weights(theirs, ours, seed=seed + 1)
    assert_same_results(
        outputs_and_gradients(ours, x, mask=MASK),
        outputs_and_gradients(theirs, x, mask=MASK),
    )
    return ours, x


MASK_CASES = [
    ("lstm", False),
    ("gru_reset_after", True),
    ("gru_reset_before", False),
    ("simple_rnn", True),
]


@pytest.mark.parametrize(
    "kind, go_backwards",
    MASK_CASES,
    ids=[f"{kind}-{'backwards' if back else 'forward'}" for kind, back in MASK_CASES],
)
def test_masked_last_output_and_states_match_keras(kind, go_backwards):
    """With a mask Keras also keeps the state over masked steps, so with
    `return_sequences=False` the last output and the states agree."""
    ours, x = assert_masked_pair_matches(kind, 7, return_state=True, go_backwards=go_backwards)
    # The mask does matter here.
    unmasked = ours(x)
    assert np.abs(keras.ops.convert_to_numpy(unmasked[0] - ours(x, mask=MASK)[0])).max() > 1e-3


def test_masked_sequences_match_keras_at_valid_steps():
    # Keras repeats the previous output at masked steps where the toolkit
    # writes zeros; at valid steps the outputs agree.
    for kind in ("lstm", "gru_reset_before"):
        ours, theirs = make_pair(kind, return_sequences=True)
        x = inputs(seed=9)
        ours(x)
        theirs(x)
        copy_weights(theirs, ours, seed=10)
        our_outputs = keras.ops.convert_to_numpy(ours(x, mask=MASK))
        their_outputs = keras.ops.convert_to_numpy(theirs(x, mask=MASK))
        assert_close(our_outputs[MASK], their_outputs[MASK])
        np.testing.assert_array_equal(our_outputs[~MASK], 0.0)


@pytest.mark.parametrize(
    "kind, go_backwards",
    MASK_CASES,
    ids=[f"{kind}-{'backwards' if back else 'forward'}" for kind, back in MASK_CASES],
)
def test_zero_output_for_mask_false_repeats_outputs_as_keras_does(kind, go_backwards):
    """Keras' default: a masked step's output is that of the last unmasked step (zeros
    before the first); with it, whole sequences and their gradients match Keras."""
    assert_masked_pair_matches(
        kind, 11, return_sequences=True, go_backwards=go_backwards, zero_output_for_mask=False
    )


@pytest.mark.parametrize("kind", ["lstm", "gru_reset_after", "simple_rnn"])
def test_keras_configs_construct_toolkit_layers_that_compute_the_same(kind):
    """A Keras layer's config (with `use_cudnn` and `zero_output_for_mask`, which the
    toolkit layers refused) builds the toolkit layer, with Keras' masked outputs."""
    ours_class, keras_class, _ = KINDS[kind]
    theirs = keras_class(UNITS, return_sequences=True)
    ours = ours_class.from_config(theirs.get_config())
    assert ours.fused == "auto" and ours.zero_output_for_mask is False
    x = inputs(seed=13)
    theirs(x)
    ours(x)
    copy_weights(theirs, ours, seed=14)
    assert_close(ours(x, mask=MASK), theirs(x, mask=MASK))
    assert ours_class(UNITS, use_cudnn=False).fused is False
    with pytest.raises(ValueError, match="`fused` and `use_cudnn` are the same switch"):
        ours_class(UNITS, fused=True, use_cudnn=False)
    with pytest.raises(ValueError, match="Argument `use_cudnn` expected None, 'auto'"):
        ours_class(UNITS, use_cudnn="yes")
    round_trip = ours_class.from_config(ours.get_config())
    assert round_trip.zero_output_for_mask is False and "use_cudnn" not in ours.get_config()


def test_unit_forget_bias_initial_bias_matches_keras():
    x = inputs()
    for unit_forget_bias in (True, False):
        ours = toolkit.layers.LSTM(UNITS, unit_forget_bias=unit_forget_bias)
        theirs = keras.layers.LSTM(UNITS, unit_forget_bias=unit_forget_bias)
        ours.build(x.shape)
        theirs.build(x.shape)
        np.testing.assert_array_equal(ours.get_weights()[2], theirs.get_weights()[2])
        expected = np.zeros(4 * UNITS)
        if unit_forget_bias:
            expected[UNITS : 2 * UNITS] = 1.0
        np.testing.assert_array_equal(ours.get_weights()[2], expected)


BIDIRECTIONAL_CASES = [
    ("lstm", "concat", {"return_sequences": True, "return_state": True}),
    ("gru_reset_before", "mul", {"return_state": True}),
]


@pytest.mark.parametrize(
    "kind, merge_mode, kwargs",
    BIDIRECTIONAL_CASES,
    ids=[f"{kind}-{mode}" for kind, mode, _ in BIDIRECTIONAL_CASES],
)
def test_bidirectional_matches_keras(kind, merge_mode, kwargs):
    ours_layer, their_layer = make_pair(kind, **kwargs)
    ours = keras.layers.Bidirectional(ours_layer, merge_mode=merge_mode)
    theirs = keras.layers.Bidirectional(their_layer, merge_mode=merge_mode)
    x = inputs(seed=11)
    ours(x)
    theirs(x)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    copy_weights(theirs, ours, seed=12)
    assert_same_results(outputs_and_gradients(ours, x), outputs_and_gradients(theirs, x))
    copy_weights(ours, theirs, seed=13)
    for a, b in zip(as_list(ours(x)), as_list(theirs(x))):
        assert_close(a, b)


def test_bidirectional_with_mask_matches_keras_last_output_and_states():
    ours = keras.layers.Bidirectional(toolkit.layers.LSTM(UNITS, return_state=True))
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_state=True))
    x = inputs(seed=14)
    ours(x)
    theirs(x)
    copy_weights(theirs, ours, seed=15)
    assert_same_results(
        outputs_and_gradients(ours, x, mask=MASK),
        outputs_and_gradients(theirs, x, mask=MASK),
    )


def test_functional_model_with_initial_state_inputs_and_masking_matches_keras():
    results, weights = [], None
    x = inputs(seed=16) * MASK[..., None]
    rng = np.random.default_rng(17)
    h0, c0 = (rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in range(2))
    for layer_class in (keras.layers.LSTM, toolkit.layers.LSTM):
        sequences = keras.Input(shape=(None, FEATURES))
        h = keras.Input(shape=(UNITS,))
        c = keras.Input(shape=(UNITS,))
        masked = keras.layers.Masking(mask_value=0.0)(sequences)
        layer = layer_class(UNITS, return_state=True)
        model = keras.Model([sequences, h, c], layer(masked, initial_state=[h, c]))
        if weights is not None:
            layer.set_weights(weights)
        else:
            references.perturb_weights(layer, seed=18)
            weights = layer.get_weights()
        results.append([keras.ops.convert_to_numpy(r) for r in model([x, h0, c0])])
    for ours, theirs in zip(results[1], results[0]):
        assert_close(ours, theirs)
