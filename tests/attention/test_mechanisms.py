"""Bahdanau, Luong and location-aware attention against NumPy references.

The references (`tests/attention_references.py`) are written from the papers'
equations and read only the weights from the toolkit layer. All weights,
scalar gains and biases included, are set to random non-default values first,
so a weight that is read wrongly (or not at all) shows. The memory mask has a
full row, a row with holes and a fully padded row.
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
BATCH, QUERY_TIME, MEMORY_TIME = 3, 2, 5
# A full row, a row with holes and a fully padded row.
MASK = np.array([[1, 1, 1, 1, 1], [1, 0, 1, 1, 0], [0, 0, 0, 0, 0]], bool)
VALID_ROWS = [0, 1]

Bahdanau = toolkit.attention.BahdanauAttention
Luong = toolkit.attention.LuongAttention
Location = toolkit.attention.LocationAwareAttention

# id -> (class, constructor arguments, query dim, memory dim)
CASES = {
    "bahdanau": (Bahdanau, dict(units=6), 4, 3),
    "bahdanau_normalized": (Bahdanau, dict(units=6, normalize=True), 4, 3),
    "luong_dot": (Luong, dict(score="dot"), 3, 3),
    "luong_dot_scaled": (Luong, dict(score="dot", scale=True), 3, 3),
    "luong_general": (Luong, dict(score="general"), 4, 3),
    "luong_general_scaled": (Luong, dict(score="general", scale=True), 4, 3),
    "luong_concat": (Luong, dict(units=6, score="concat"), 4, 3),
    "luong_concat_scaled": (Luong, dict(units=6, score="concat", scale=True), 4, 3),
    "location": (Location, dict(units=6, filters=2, kernel_size=3), 4, 3),
    # An even kernel size checks where 'same' padding puts the extra zero.
    "location_cumulative": (
        Location,
        dict(units=6, filters=3, kernel_size=4, cumulative=True),
        4,
        3,
    ),
}
# One configuration of each class, for the slower tests.
REPRESENTATIVE = [
    "bahdanau_normalized",
    "luong_general_scaled",
    "luong_concat",
    "location_cumulative",
]


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def assert_close(actual, expected, atol=ATOL):
    np.testing.assert_allclose(to_numpy(actual), expected, atol=atol, rtol=atol)


def randomize_weights(layer, seed=7):
    """Non-default values for every weight; scalar gains in [0.5, 1.5]."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [
            rng.uniform(0.5, 1.5, size=w.shape)
            if len(w.shape) == 0
            else rng.uniform(-1, 1, w.shape)
            for w in layer.weights
        ]
    )


def make_inputs(case, query_rank, seed=0):
    """`(query, memory, previous_alignments)`; the last is `None` except for
    location-aware attention, where it is a random alignment state."""
    cls, _, query_dim, memory_dim = CASES[case]
    rng = np.random.default_rng(seed)
    leading = (BATCH,) if query_rank == 2 else (BATCH, QUERY_TIME)
    query = rng.normal(size=leading + (query_dim,)).astype("float32")
    memory = rng.normal(size=(BATCH, MEMORY_TIME, memory_dim)).astype("float32")
    previous = None
    if cls.requires_previous_alignments:
        previous = rng.dirichlet(np.ones(MEMORY_TIME), size=leading).astype("float32")
    return query, memory, previous


def make_layer(case, query_shape, memory_shape):
    cls, kwargs, _, _ = CASES[case]
    layer = cls(**kwargs)
    layer.build(query_shape, memory_shape)
    randomize_weights(layer)
    return layer


def reference(case, layer, query, memory, mask, previous):
    cls, kwargs, _, _ = CASES[case]
    if cls is Bahdanau:
        return references.bahdanau(
            layer, query, memory, mask, normalize=kwargs.get("normalize", False)
        )
    if cls is Luong:
        return references.luong(
            layer, query, memory, mask, score=kwargs["score"], scale=kwargs.get("scale", False)
        )
    return references.location_aware(layer, query, memory, previous, mask)


def broadcast_mask(mask, query_rank):
    return (
        mask
        if query_rank == 2
        else np.broadcast_to(mask[:, None, :], (BATCH, QUERY_TIME, MEMORY_TIME))
    )


# === Values ===


def check_against_reference(case, query_rank, masked):
    query, memory, previous = make_inputs(case, query_rank)
    layer = make_layer(case, query.shape, memory.shape)
    mask = MASK if masked else None
    context, alignments = layer(query, memory, memory_mask=mask, previous_alignments=previous)
    expected_context, expected_alignments = reference(case, layer, query, memory, mask, previous)
    assert tuple(context.shape) == expected_context.shape
    assert tuple(alignments.shape) == expected_alignments.shape
    assert_close(context, expected_context)
    assert_close(alignments, expected_alignments)

    alignments, context = to_numpy(alignments), to_numpy(context)
    sums = alignments.sum(axis=-1)
    if not masked:
        np.testing.assert_allclose(sums, 1.0, atol=ATOL)
        return
    full_mask = broadcast_mask(MASK, query_rank)
    assert np.all(alignments[~full_mask] == 0.0), "a masked position got weight"
    np.testing.assert_allclose(sums[VALID_ROWS], 1.0, atol=ATOL)
    # The fully padded row: zero weights and a zero context, no NaN.
    assert np.all(alignments[2] == 0.0) and np.all(context[2] == 0.0)


@pytest.mark.parametrize("case", list(CASES))
def test_matches_numpy_reference(case):
    """Rank-2 and rank-3 queries, with and without a memory mask."""
    for query_rank in (2, 3):
        for masked in (True, False):
            check_against_reference(case, query_rank, masked)


# id -> {weight name: shape} with query dim 4 (3 for dot), memory dim 3, units 6.
WEIGHTS = {
    "bahdanau": {"query_kernel": (4, 6), "memory_kernel": (3, 6), "attention_v": (6,)},
    "bahdanau_normalized": {
        "query_kernel": (4, 6),
        "memory_kernel": (3, 6),
        "attention_v": (6,),
        "attention_g": (),
        "attention_b": (6,),
    },
    "luong_dot": {},
    "luong_dot_scaled": {"attention_g": ()},
    "luong_general": {"memory_kernel": (3, 4)},
    "luong_general_scaled": {"memory_kernel": (3, 4), "attention_g": ()},
    "luong_concat": {"query_kernel": (4, 6), "memory_kernel": (3, 6), "attention_v": (6,)},
    "luong_concat_scaled": {
        "query_kernel": (4, 6),
        "memory_kernel": (3, 6),
        "attention_v": (6,),
        "attention_g": (),
    },
    "location": {
        "query_kernel": (4, 6),
        "memory_kernel": (3, 6),
        "location_filters": (3, 1, 2),
        "location_kernel": (2, 6),
        "attention_b": (6,),
        "attention_v": (6,),
    },
    "location_cumulative": {
        "query_kernel": (4, 6),
        "memory_kernel": (3, 6),
        "location_filters": (4, 1, 3),
        "location_kernel": (3, 6),
        "attention_b": (6,),
        "attention_v": (6,),
    },
}


def test_build_creates_every_weight():
    """All weights exist after `build` (JAX needs them before tracing)."""
    for case, (cls, kwargs, query_dim, memory_dim) in CASES.items():
        layer = cls(**kwargs)
        layer.build((BATCH, query_dim), (BATCH, MEMORY_TIME, memory_dim))
        shapes = {w.name: tuple(w.shape) for w in layer.weights}
        assert shapes == WEIGHTS[case], case
        assert all(w.trainable for w in layer.weights), case
        # Initial values: g = sqrt(1 / units) (normalize) or 1 (scale), b = 0.
        if "attention_g" in shapes:
            expected = np.sqrt(1 / 6) if kwargs.get("normalize") else 1.0
            np.testing.assert_allclose(to_numpy(layer.attention_g), expected, rtol=1e-6)
        if "attention_b" in shapes:
            np.testing.assert_array_equal(to_numpy(layer.attention_b), 0.0)


def test_prepare_memory_and_attend_are_call():
    for case in CASES:
        check_prepare_memory_and_attend(case)


def check_prepare_memory_and_attend(case):
    query, memory, previous = make_inputs(case, 2)
    layer = make_layer(case, query.shape, memory.shape)
    memory_context = layer.prepare_memory(memory, MASK.astype("int32"))
    assert set(memory_context) == {"keys", "values", "mask"}
    keys = to_numpy(memory_context["keys"])
    assert keys.shape[:2] == (BATCH, MEMORY_TIME)
    if CASES[case][1].get("score") == "dot":
        np.testing.assert_array_equal(keys, memory)
    else:
        assert_close(keys, memory @ to_numpy(layer.memory_kernel))
    np.testing.assert_array_equal(to_numpy(memory_context["values"]), memory)
    np.testing.assert_array_equal(to_numpy(memory_context["mask"]), MASK)
    assert layer.prepare_memory(memory)["mask"] is None

    if previous is None:
        previous = to_numpy(layer.initial_alignments(memory_context)) + 0.3  # ignored
    context, alignments = layer.attend(query, memory_context, previous)
    expected_context, expected_alignments = layer(
        query, memory, memory_mask=MASK, previous_alignments=previous
    )
    assert_close(context, to_numpy(expected_context), atol=1e-6)
    assert_close(alignments, to_numpy(expected_alignments), atol=1e-6)


@pytest.mark.parametrize("case", ["bahdanau", "luong_general", "location", "location_cumulative"])
def test_step_by_step_decoding_matches_reference(case):
    """`initial_alignments` -> `attend` -> `next_alignment_state`, three steps."""
    cls, kwargs, query_dim, memory_dim = CASES[case]
    rng = np.random.default_rng(3)
    queries = rng.normal(size=(BATCH, 3, query_dim)).astype("float32")
    memory = rng.normal(size=(BATCH, MEMORY_TIME, memory_dim)).astype("float32")
    layer = make_layer(case, (BATCH, query_dim), memory.shape)
    memory_context = layer.prepare_memory(memory, MASK)
    state = layer.initial_alignments(memory_context)
    assert tuple(state.shape) == (BATCH, MEMORY_TIME)
    assert keras.backend.standardize_dtype(state.dtype) == layer.compute_dtype
    np.testing.assert_array_equal(to_numpy(state), 0.0)
    contexts, all_alignments = [], []
    for t in range(queries.shape[1]):
        context, alignments = layer.attend(queries[:, t], memory_context, state)
        state = layer.next_alignment_state(state, alignments)
        contexts.append(to_numpy(context))
        all_alignments.append(to_numpy(alignments))
    if cls is Location:
        expected_contexts, expected_alignments, expected_state = references.location_aware_decode(
            layer, queries, memory, MASK, cumulative=kwargs.get("cumulative", False)
        )
        assert_close(np.stack(contexts, 1), expected_contexts)
        assert_close(np.stack(all_alignments, 1), expected_alignments)
        assert_close(state, expected_state)
        if kwargs.get("cumulative"):
            assert_close(state, np.sum(all_alignments, axis=0))
    else:
        # Other mechanisms ignore the state; it is the last step's alignments.
        np.testing.assert_array_equal(to_numpy(state), all_alignments[-1])
        expected_context, _ = reference(case, layer, queries, memory, MASK, None)
        assert_close(np.stack(contexts, 1), expected_context)


def test_only_location_aware_attention_requires_previous_alignments():
    assert Location.requires_previous_alignments
    assert not Bahdanau.requires_previous_alignments
    assert not Luong.requires_previous_alignments
    query, memory, _ = make_inputs("location", 2)
    layer = make_layer("location", query.shape, memory.shape)
    with pytest.raises(ValueError, match="previous_alignments"):
        layer(query, memory)
    with pytest.raises(ValueError, match="previous_alignments"):
        layer(query, memory, previous_alignments=np.zeros((BATCH, 1, MEMORY_TIME), "float32"))


# === Gradients ===


def input_gradients(layer, query, memory, mask, previous, seed=5):
    """Gradients of `sum(context * w_c) + sum(alignments * w_a)` (fixed random
    `w`) with respect to `query` and `memory`."""
    rng = np.random.default_rng(seed)
    context_shape, alignments_shape = layer.compute_output_shape(query.shape, memory.shape)
    w_context = rng.normal(size=context_shape).astype("float32")
    w_alignments = rng.normal(size=alignments_shape).astype("float32")
    ops = keras.ops

    def loss(q, m):
        context, alignments = layer(q, m, memory_mask=mask, previous_alignments=previous)
        return ops.sum(ops.multiply(context, w_context)) + ops.sum(
            ops.multiply(alignments, w_alignments)
        )

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        q, m = tf.constant(query), tf.constant(memory)
        with tf.GradientTape() as tape:
            tape.watch([q, m])
            value = loss(q, m)
        grads = tape.gradient(value, [q, m])
    elif backend == "jax":
        import jax

        grads = jax.grad(loss, argnums=(0, 1))(query, memory)
    elif backend == "torch":
        import torch

        q, m = torch.tensor(query, requires_grad=True), torch.tensor(memory, requires_grad=True)
        grads = torch.autograd.grad(loss(q, m), [q, m])
    else:
        pytest.skip(f"no gradient helper for backend {backend}")
    return [to_numpy(g) for g in grads]


def test_gradients_are_finite_and_zero_at_padding():
    for case in CASES:
        for query_rank in (2, 3):
            query, memory, previous = make_inputs(case, query_rank)
            layer = make_layer(case, query.shape, memory.shape)
            grad_query, grad_memory = input_gradients(layer, query, memory, MASK, previous)
            what = f"{case}, rank-{query_rank} query"
            assert np.all(np.isfinite(grad_query)) and np.all(np.isfinite(grad_memory)), what
            # Masked memory positions influence nothing; nor does the query
            # of a fully padded row.
            assert np.all(grad_memory[~MASK] == 0.0), what
            assert np.all(grad_query[2] == 0.0), what
            assert np.any(grad_query[VALID_ROWS] != 0.0), what


# === In models ===


def encoder_model(case, memory_dim, query_rank, vocabulary=10):
    """tokens -> Embedding(mask_zero) -> LSTM(return_sequences) -> attention,
    with the mask reaching the attention only as the memory's Keras mask."""
    cls, kwargs, query_dim, _ = CASES[case]
    tokens = keras.Input(shape=(MEMORY_TIME,), dtype="int32", name="tokens")
    query_shape = (query_dim,) if query_rank == 2 else (QUERY_TIME, query_dim)
    query = keras.Input(shape=query_shape, name="query")
    embedded = keras.layers.Embedding(vocabulary, 3, mask_zero=True)(tokens)
    memory = toolkit.layers.LSTM(memory_dim, return_sequences=True)(embedded)
    inputs = [query, tokens]
    extra = {}
    if cls.requires_previous_alignments:
        previous = keras.Input(shape=query_shape[:-1] + (MEMORY_TIME,), name="previous")
        inputs.append(previous)
        extra["previous_alignments"] = previous
    attention = cls(**kwargs, name="attention")
    context, alignments = attention(query, memory, **extra)
    model = keras.Model(inputs, [context, alignments])
    encoder = keras.Model(tokens, memory)
    return model, encoder, attention


def model_data(case, query_rank, seed=0):
    query, _, previous = make_inputs(case, query_rank, seed)
    tokens = np.where(MASK, np.random.default_rng(seed).integers(1, 10, MASK.shape), 0)
    return [query, tokens] + ([] if previous is None else [previous])


@pytest.mark.parametrize("case", REPRESENTATIVE)
def test_memory_mask_comes_from_the_keras_mask(case):
    for query_rank in (2, 3):
        check_memory_mask_from_keras_mask(case, query_rank)


def check_memory_mask_from_keras_mask(case, query_rank):
    model, encoder, attention = encoder_model(case, CASES[case][3], query_rank)
    randomize_weights(attention)
    data = model_data(case, query_rank)
    context, alignments = model(data)
    memory = to_numpy(encoder(data[1]))  # a NumPy array carries no Keras mask
    previous = data[2] if len(data) > 2 else None
    expected = attention(data[0], memory, memory_mask=data[1] != 0, previous_alignments=previous)
    assert_close(context, to_numpy(expected[0]), atol=1e-6)
    assert_close(alignments, to_numpy(expected[1]), atol=1e-6)
    assert np.all(to_numpy(alignments)[~broadcast_mask(MASK, query_rank)] == 0.0)
    # Without the mask the padding would get weight: the mask did arrive.
    unmasked = attention(data[0], memory, previous_alignments=previous)[1]
    assert np.any(to_numpy(unmasked)[~broadcast_mask(MASK, query_rank)] > 0.0)


@pytest.mark.parametrize(
    "case", ["bahdanau_normalized", "luong_general_scaled", "location_cumulative"]
)
def test_trains_one_step_with_a_fully_padded_sequence(case):
    memory_dim = CASES[case][3]
    model, _, _ = encoder_model(case, memory_dim, query_rank=2)
    data = model_data(case, 2)
    targets = [np.ones((BATCH, memory_dim), "float32"), np.ones((BATCH, MEMORY_TIME), "float32")]
    model.compile(optimizer="adam", loss=["mse", "mse"])
    before = [to_numpy(w).copy() for w in model.trainable_weights]
    history = model.fit(data, targets, batch_size=BATCH, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    after = [to_numpy(w) for w in model.trainable_weights]
    assert all(np.all(np.isfinite(w)) for w in after)
    changed = [not np.array_equal(a, b) for a, b in zip(before, after)]
    assert all(changed), [w.path for w, c in zip(model.trainable_weights, changed) if not c]


def test_symbolic_shapes():
    for cls, kwargs, query_dim, memory_dim in CASES.values():
        memory = keras.Input(shape=(None, memory_dim))
        for query_shape in [(query_dim,), (None, query_dim)]:
            query = keras.Input(shape=query_shape)
            extra = {}
            if cls.requires_previous_alignments:
                extra["previous_alignments"] = keras.Input(shape=query_shape[:-1] + (None,))
            context, alignments = cls(**kwargs)(query, memory, **extra)
            assert tuple(context.shape) == (None,) + query_shape[:-1] + (memory_dim,)
            assert tuple(alignments.shape) == (None,) + query_shape[:-1] + (None,)


# === Serialization ===


def test_config_round_trip():
    for cls, kwargs, _, _ in CASES.values():
        layer = cls(**kwargs, kernel_regularizer="l2", kernel_initializer="he_normal")
        revived = layer_test.check_config_round_trip(layer)
        for name, value in kwargs.items():
            assert getattr(revived, name) == value


def test_model_save_and_load():
    for case in CASES:
        check_model_save_and_load(case)


def check_model_save_and_load(case):
    cls, kwargs, query_dim, memory_dim = CASES[case]
    query_input = keras.Input(shape=(query_dim,))
    memory_input = keras.Input(shape=(MEMORY_TIME, memory_dim))
    inputs = [query_input, memory_input]
    extra = {}
    if cls.requires_previous_alignments:
        extra["previous_alignments"] = keras.Input(shape=(MEMORY_TIME,))
        inputs.append(extra["previous_alignments"])
    memory = keras.layers.Masking(0.0)(memory_input)
    attention = cls(**kwargs)
    outputs = attention(query_input, memory, **extra)
    model = keras.Model(inputs, list(outputs))
    randomize_weights(attention)
    query, memory_data, previous = make_inputs(case, 2)
    memory_data = memory_data * MASK[:, :, None]
    data = [query, memory_data] + ([] if previous is None else [previous])
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    assert type(loaded.layers[-1]) is cls
    for got, want in zip(loaded(data), model(data)):
        np.testing.assert_array_equal(to_numpy(got), to_numpy(want))
    assert np.all(to_numpy(loaded(data)[1])[~MASK] == 0.0)


# === Mixed precision ===


@pytest.mark.parametrize("case", REPRESENTATIVE)
def test_mixed_precision(case):
    for policy in ("mixed_float16", "mixed_bfloat16"):
        check_mixed_precision(case, policy)


def check_mixed_precision(case, policy):
    keras.config.set_dtype_policy(policy)
    query, memory, previous = make_inputs(case, 3)
    layer = make_layer(case, query.shape, memory.shape)
    context, alignments = layer(query, memory, memory_mask=MASK, previous_alignments=previous)
    compute_dtype = keras.mixed_precision.Policy(policy).compute_dtype
    for output in (context, alignments):
        assert keras.backend.standardize_dtype(output.dtype) == compute_dtype
        assert np.all(np.isfinite(to_numpy(output).astype("float32")))
    assert all(w.dtype == "float32" for w in layer.weights)
    alignments = to_numpy(alignments).astype("float32")
    assert np.all(alignments[~broadcast_mask(MASK, 3)] == 0.0)
    assert np.all(to_numpy(context).astype("float32")[2] == 0.0)
    expected_context, expected_alignments = reference(case, layer, query, memory, MASK, previous)
    assert_close(alignments, expected_alignments, atol=5e-2)
    assert_close(to_numpy(context).astype("float32"), expected_context, atol=5e-2)


# === Errors ===

BAD_ARGUMENTS = [
    (lambda: Bahdanau(0), "units"),
    (lambda: Bahdanau(None), "units"),
    (lambda: Bahdanau(2.5), "units"),
    (lambda: Bahdanau(4, kernel_initializer="nope"), "kernel_initializer"),
    (lambda: Luong(score="additive"), "score"),
    (lambda: Luong(-1), "units"),
    (lambda: Luong(score="concat"), "units"),
    (lambda: Location(0), "units"),
    (lambda: Location(4, filters=0), "filters"),
    (lambda: Location(4, kernel_size=0), "kernel_size"),
    (lambda: Location(4, kernel_size=3.0), "kernel_size"),
    (lambda: Location(4, kernel_size=True), "kernel_size"),
]


def test_bad_arguments_raise_value_error_naming_them():
    for factory, argument in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=f"`{argument}`.*Received: {argument}="):
            factory()


BAD_SHAPES = [
    (lambda: Bahdanau(4), (2, 3, 4, 5), (2, 6, 3), "`query`"),
    (lambda: Bahdanau(4), (2,), (2, 6, 3), "`query`"),
    (lambda: Bahdanau(4), (2, 5), (2, 3), "`memory`"),
    (lambda: Luong(score="dot"), (2, 5), (2, 6, 3), "query_dim=5.*memory_dim=3"),
    (lambda: Luong(4, score="dot"), (2, 3), (2, 6, 3), "`units`"),
    (lambda: Luong(4, score="general"), (2, 5), (2, 6, 3), "`units`"),
    (lambda: Location(4), (2, 5), (2, 6, 3, 1), "`memory`"),
]


def test_bad_shapes_raise_value_error():
    for factory, query_shape, memory_shape, match in BAD_SHAPES:
        with pytest.raises(ValueError, match=match):
            factory().build(query_shape, memory_shape)


def test_bad_call_inputs_raise_value_error():
    query, memory, _ = make_inputs("bahdanau", 2)
    layer = make_layer("bahdanau", query.shape, memory.shape)
    with pytest.raises(ValueError, match="`memory_mask`"):
        layer(query, memory, memory_mask=MASK[:, :, None])
    with pytest.raises(ValueError, match="`query`"):
        layer.attend(query[:, None, None], layer.prepare_memory(memory))
    with pytest.raises(ValueError, match="not built"):
        Bahdanau(4).prepare_memory(memory)


@pytest.mark.parametrize("case", ["bahdanau", "luong_dot"])
def test_mismatched_mask_and_batch_name_the_argument(case):
    """A mask of another length raised a raw broadcasting error of the backend, and a
    query of another batch size was broadcast against the memory without a word."""
    query, memory, _ = make_inputs(case, 2)
    layer = make_layer(case, query.shape, memory.shape)
    batch, time = memory.shape[:2]
    longer = np.ones((batch, time + 1), bool)
    expected = rf"`memory_mask` expected the memory's \(batch, time\) \({batch}, {time}\)"
    with pytest.raises(ValueError, match=expected + r".*axis 1 differs"):
        layer(query, memory, memory_mask=longer)
    with pytest.raises(ValueError, match=r"`query` expected the memory's batch size.*axis 0"):
        layer(query[:1], memory)
