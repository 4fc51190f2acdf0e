"""`AttentionPooling` against a NumPy reference (Yang et al. 2016; Lin et al. 2017).

Weights are set to random non-default values; the mask has a full row, a row
with holes and a fully padded row.
"""

import os
import tempfile

import attention_references as references
import keras
import layer_test
import numpy as np
import pytest

import toolkit

ATOL = 1e-5
BATCH, TIME, FEATURES = 3, 5, 4
MASK = np.array([[1, 1, 1, 1, 1], [1, 0, 1, 1, 0], [0, 0, 0, 0, 0]], bool)
VALID_ROWS = [0, 1]

Pooling = toolkit.attention.AttentionPooling

# id -> constructor arguments
CASES = {
    "yang": dict(units=6),
    "yang_no_bias": dict(units=6, use_bias=False),
    "lin_3_heads": dict(units=6, heads=3, use_bias=False, penalty=0.5),
    "lin_3_heads_bias": dict(units=6, heads=3),
}


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def assert_close(actual, expected, atol=ATOL):
    np.testing.assert_allclose(to_numpy(actual), expected, atol=atol, rtol=atol)


def make_layer(kwargs, seed=7):
    layer = Pooling(**kwargs)
    layer.build((BATCH, TIME, FEATURES))
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.uniform(-1, 1, size=w.shape) for w in layer.weights])
    return layer


def make_inputs(seed=0):
    return np.random.default_rng(seed).normal(size=(BATCH, TIME, FEATURES)).astype("float32")


def reference(layer, kwargs, inputs, mask):
    pooled, weights = references.attention_pooling(
        layer, inputs, mask, heads=kwargs.get("heads", 1), use_bias=kwargs.get("use_bias", True)
    )
    return pooled, (weights[:, 0] if kwargs.get("heads", 1) == 1 else weights)


@pytest.mark.parametrize("case", list(CASES))
def test_matches_numpy_reference(case):
    kwargs = CASES[case]
    heads = kwargs.get("heads", 1)
    inputs = make_inputs()
    layer = make_layer(kwargs)
    for mask in (MASK, None):
        pooled, weights = layer(inputs, mask=mask)
        expected_pooled, expected_weights = reference(layer, kwargs, inputs, mask)
        assert tuple(pooled.shape) == (BATCH, heads * FEATURES)
        assert tuple(weights.shape) == ((BATCH, TIME) if heads == 1 else (BATCH, heads, TIME))
        assert_close(pooled, expected_pooled)
        assert_close(weights, expected_weights)
        weights, pooled = to_numpy(weights), to_numpy(pooled)
        if mask is None:
            np.testing.assert_allclose(weights.sum(-1), 1.0, atol=ATOL)
            continue
        full_mask = MASK if heads == 1 else np.broadcast_to(MASK[:, None], weights.shape)
        assert np.all(weights[~full_mask] == 0.0)
        np.testing.assert_allclose(weights[VALID_ROWS].sum(-1), 1.0, atol=ATOL)
        assert np.all(weights[2] == 0.0) and np.all(pooled[2] == 0.0)
    # Lin et al.: the pooled vector is the heads' weighted sums, head by head.
    weights3 = weights if heads > 1 else weights[:, None]
    for r in range(heads):
        head = np.einsum("bt,btf->bf", weights3[:, r], inputs)
        assert_close(pooled[:, r * FEATURES : (r + 1) * FEATURES], head)


@pytest.mark.parametrize("heads", [1, 3])
def test_penalty_is_lins_formula(heads):
    inputs = make_inputs()
    layer = make_layer(dict(units=6, heads=heads, penalty=0.25))
    _, weights = layer(inputs, mask=MASK)
    assert len(layer.losses) == 1
    weights = to_numpy(weights).reshape(BATCH, heads, TIME)
    expected = 0.25 * references.redundancy_penalty(weights)
    np.testing.assert_allclose(to_numpy(layer.losses[0]), expected, rtol=1e-5)
    # Independent of the layer's own weights: the NumPy reference's weights.
    _, reference_weights = references.attention_pooling(layer, inputs, MASK, heads=heads)
    np.testing.assert_allclose(
        to_numpy(layer.losses[0]), 0.25 * references.redundancy_penalty(reference_weights), 1e-5
    )
    no_penalty = make_layer(dict(units=6, heads=heads))
    no_penalty(inputs, mask=MASK)
    assert not no_penalty.losses


def classifier(kwargs, vocabulary=20):
    tokens = keras.Input(shape=(TIME,), dtype="int32")
    embedded = keras.layers.Embedding(vocabulary, FEATURES, mask_zero=True)(tokens)
    pooled, _ = Pooling(**kwargs, name="pooling")(embedded)
    outputs = keras.layers.Dense(2, activation="softmax")(pooled)
    return keras.Model(tokens, outputs)


def tokens_data(seed=0):
    return np.where(MASK, np.random.default_rng(seed).integers(1, 20, MASK.shape), 0)


@pytest.mark.parametrize("case", ["yang", "lin_3_heads"])
def test_text_classifier_trains_one_step(case):
    """Embedding(mask_zero=True) -> AttentionPooling -> Dense, with a fully
    padded sequence in the batch."""
    model = classifier(CASES[case])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    tokens = tokens_data()
    labels = np.array([0, 1, 1])
    before = [to_numpy(w).copy() for w in model.trainable_weights]
    loss = model.fit(tokens, labels, batch_size=BATCH, epochs=1, verbose=0).history["loss"][-1]
    assert np.isfinite(loss)
    after = [to_numpy(w) for w in model.trainable_weights]
    assert all(np.all(np.isfinite(w)) for w in after)
    changed = [not np.array_equal(a, b) for a, b in zip(before, after)]
    assert all(changed), [w.path for w, c in zip(model.trainable_weights, changed) if not c]
    if CASES[case].get("penalty"):
        # The penalty is part of the training loss.
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        with_penalty = model.evaluate(tokens, labels, batch_size=BATCH, verbose=0)
        model.get_layer("pooling").penalty = 0.0
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        without_penalty = model.evaluate(tokens, labels, batch_size=BATCH, verbose=0)
        assert with_penalty > without_penalty


def test_mask_comes_from_the_keras_mask():
    """Embedding(mask_zero=True) and Masking give the same as an explicit mask."""
    kwargs = CASES["lin_3_heads"]
    model = classifier(kwargs)
    tokens = tokens_data()
    pooling = model.get_layer("pooling")
    embedding = model.layers[1]
    outputs = keras.Model(model.input, pooling.output)(tokens)
    embedded = to_numpy(embedding(tokens))
    expected = pooling(embedded, mask=MASK)
    for got, want in zip(outputs, expected):
        assert_close(got, to_numpy(want), atol=1e-6)

    inputs = keras.Input(shape=(TIME, FEATURES))
    masked = keras.layers.Masking(0.0)(inputs)
    masking_model = keras.Model(inputs, pooling(masked))
    outputs = masking_model(embedded * MASK[:, :, None])
    expected = pooling(embedded * MASK[:, :, None], mask=MASK)
    for got, want in zip(outputs, expected):
        assert_close(got, to_numpy(want), atol=1e-6)
    assert np.all(to_numpy(outputs[1])[~np.broadcast_to(MASK[:, None], (BATCH, 3, TIME))] == 0.0)


def test_gradients_are_finite_with_a_fully_padded_row():
    layer = make_layer(CASES["lin_3_heads_bias"])
    inputs = make_inputs()
    rng = np.random.default_rng(3)
    w_pooled = rng.normal(size=(BATCH, 3 * FEATURES)).astype("float32")
    w_weights = rng.normal(size=(BATCH, 3, TIME)).astype("float32")

    def loss(x):
        pooled, weights = layer(x, mask=MASK)
        return keras.ops.sum(keras.ops.multiply(pooled, w_pooled)) + keras.ops.sum(
            keras.ops.multiply(weights, w_weights)
        )

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(inputs)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(x)
        grad = tape.gradient(value, x)
    elif backend == "jax":
        import jax

        grad = jax.grad(loss)(inputs)
    elif backend == "torch":
        import torch

        x = torch.tensor(inputs, requires_grad=True)
        (grad,) = torch.autograd.grad(loss(x), [x])
    else:
        pytest.skip(f"no gradient helper for backend {backend}")
    grad = to_numpy(grad)
    assert np.all(np.isfinite(grad))
    assert np.all(grad[~MASK] == 0.0)
    assert np.any(grad[MASK] != 0.0)


def test_symbolic_shapes():
    for heads in (1, 3):
        inputs = keras.Input(shape=(None, FEATURES))
        pooled, weights = Pooling(6, heads=heads)(inputs)
        assert tuple(pooled.shape) == (None, heads * FEATURES)
        assert tuple(weights.shape) == ((None, None) if heads == 1 else (None, heads, None))


def test_config_round_trip_and_model_save_and_load():
    for kwargs in CASES.values():
        layer = Pooling(**kwargs, kernel_regularizer="l2", kernel_initializer="he_normal")
        revived = layer_test.check_config_round_trip(layer)
        for name, value in kwargs.items():
            assert getattr(revived, name) == value

    model = classifier(CASES["lin_3_heads"])
    tokens = tokens_data()
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    assert type(loaded.get_layer("pooling")) is Pooling
    assert loaded.get_layer("pooling").penalty == 0.5
    np.testing.assert_array_equal(to_numpy(loaded(tokens)), to_numpy(model(tokens)))


def test_mixed_precision():
    for policy in ("mixed_float16", "mixed_bfloat16"):
        keras.config.set_dtype_policy(policy)
        kwargs = CASES["lin_3_heads"]
        layer = make_layer(kwargs)
        inputs = make_inputs()
        pooled, weights = layer(inputs, mask=MASK)
        compute_dtype = keras.mixed_precision.Policy(policy).compute_dtype
        for output in (pooled, weights):
            assert keras.backend.standardize_dtype(output.dtype) == compute_dtype
            assert np.all(np.isfinite(to_numpy(output).astype("float32")))
        assert all(w.dtype == "float32" for w in layer.weights)
        assert keras.backend.standardize_dtype(layer.losses[0].dtype) == "float32"
        weights = to_numpy(weights).astype("float32")
        assert np.all(weights[~np.broadcast_to(MASK[:, None], weights.shape)] == 0.0)
        expected_pooled, expected_weights = reference(layer, kwargs, inputs, MASK)
        assert_close(weights, expected_weights, atol=5e-2)
        assert_close(to_numpy(pooled).astype("float32"), expected_pooled, atol=5e-2)
    keras.config.set_dtype_policy("float32")


BAD_ARGUMENTS = [
    (lambda: Pooling(0), "units"),
    (lambda: Pooling(None), "units"),
    (lambda: Pooling(4, heads=0), "heads"),
    (lambda: Pooling(4, heads=2.0), "heads"),
    (lambda: Pooling(4, penalty=-0.1), "penalty"),
    (lambda: Pooling(4, penalty="high"), "penalty"),
    (lambda: Pooling(4, kernel_regularizer="nope"), "kernel_regularizer"),
]


def test_bad_arguments_raise_value_error_naming_them():
    for factory, argument in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=f"`{argument}`.*Received: {argument}="):
            factory()
    with pytest.raises(ValueError, match="`inputs`"):
        Pooling(4)(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="`inputs`"):
        Pooling(4).build((2, 3, 4, 5))


@pytest.mark.parametrize("masked", [False, True], ids=["no_mask", "mask"])
def test_zero_time_steps_pool_to_zeros_eagerly(masked):
    """`model.keras` called eagerly on texts of no tokens failed in the softmax's `max`
    ("Cannot compute the max of an empty tensor"); `predict` and the SavedModel did not."""
    layer = make_layer(CASES["lin_3_heads_bias"])
    inputs = np.zeros((2, 0, FEATURES), "float32")
    mask = np.zeros((2, 0), bool) if masked else None
    pooled, weights = layer(inputs, mask=mask)
    assert tuple(pooled.shape) == (2, 3 * FEATURES) and tuple(weights.shape) == (2, 3, 0)
    assert np.all(to_numpy(pooled) == 0.0)
