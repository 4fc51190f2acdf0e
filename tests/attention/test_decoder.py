"""The attentional decoder: sequence run vs step run, a NumPy reference,
masks, initial states, training, serialization and errors."""

import keras
import numpy as np
import pytest
import references
from layer_test import check_config_round_trip
from layer_test import run_layer_test

import toolkit
from toolkit.attention import AttentionDecoder
from toolkit.attention import AttentionDecoderCell

ATOL = 1e-5
BATCH, TARGET, SOURCE, FEATURES, MEMORY = 3, 5, 6, 4, 7


def numpy(value):
    return keras.ops.convert_to_numpy(value)


def random(shape, seed):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def source_mask():
    # Right padding, left padding and a full row.
    return np.array([[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]], dtype=bool)


MECHANISMS = {
    "bahdanau": lambda: toolkit.attention.BahdanauAttention(6),
    "bahdanau_normalized": lambda: toolkit.attention.BahdanauAttention(6, normalize=True),
    "luong_general": lambda: toolkit.attention.LuongAttention(score="general"),
    "luong_concat_scaled": lambda: toolkit.attention.LuongAttention(5, score="concat", scale=True),
    "location_cumulative": lambda: toolkit.attention.LocationAwareAttention(
        6, filters=3, kernel_size=3, cumulative=True
    ),
}
CELLS = {
    "lstm": lambda: toolkit.cells.LSTMCell(MEMORY),
    "gru": lambda: toolkit.cells.GRUCell(MEMORY),
    "lstm_projection": lambda: toolkit.cells.LSTMCell(9, projection=MEMORY, layer_norm=True),
}
OPTIONS = {
    "luong": dict(attention_layer_size=5),
    "no_attention_layer": dict(),
    "bahdanau_style": dict(attention_layer_size=5, output_attention=False),
    "no_input_feeding": dict(attention_layer_size=5, input_feeding=False),
}


def make_cell(cell="lstm", mechanism="luong_general", **options):
    return AttentionDecoderCell(CELLS[cell](), MECHANISMS[mechanism](), **options)


def perturbed_decoder(cell, **kwargs):
    decoder = AttentionDecoder(cell, **kwargs)
    decoder.build((BATCH, TARGET, FEATURES), (BATCH, SOURCE, MEMORY))
    references.perturb_weights(decoder, seed=3, scale=0.4)
    return decoder


def run_steps(cell, targets, memory, memory_mask, initial_state=None):
    """The decoding path: prepare the memory once, then one call per step."""
    context = cell.prepare_memory(memory, memory_mask)
    state = cell.get_initial_state(context, cell_states=initial_state)
    outputs, alignments = [], []
    for t in range(targets.shape[1]):
        output, state, step_alignments = cell(targets[:, t], state, context)
        outputs.append(numpy(output))
        alignments.append(numpy(step_alignments))
    return np.stack(outputs, 1), np.stack(alignments, 1), state


@pytest.mark.parametrize("mechanism", sorted(MECHANISMS))
@pytest.mark.parametrize("cell_name", sorted(CELLS))
def test_sequence_run_equals_step_by_step_run(cell_name, mechanism):
    cell = make_cell(cell_name, mechanism, attention_layer_size=5)
    decoder = perturbed_decoder(cell, return_alignments=True, return_state=True)
    targets, memory = random((BATCH, TARGET, FEATURES), 0), random((BATCH, SOURCE, MEMORY), 1)
    mask = source_mask()

    outputs, alignments, state = decoder(targets, memory, memory_mask=mask)
    step_outputs, step_alignments, step_state = run_steps(cell, targets, memory, mask)

    np.testing.assert_allclose(numpy(outputs), step_outputs, atol=ATOL)
    np.testing.assert_allclose(numpy(alignments), step_alignments, atol=ATOL)
    for got, want in zip(keras.tree.flatten(state), keras.tree.flatten(step_state)):
        np.testing.assert_allclose(numpy(got), numpy(want), atol=ATOL)
    # Padded source positions get exactly zero weight, the rest sums to one.
    assert np.all(numpy(alignments)[~np.broadcast_to(mask[:, None], alignments.shape)] == 0.0)
    np.testing.assert_allclose(numpy(alignments).sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("mechanism", sorted(MECHANISMS))
def test_a_batch_k_times_the_memory_attends_as_the_memory_tiled_k_times(mechanism):
    """Beam search's layout: rows b * k .. b * k + k - 1 attend to memory row b.

    The untiled memory (grouped queries, read once a step) gives the results of
    the memory tiled k times, step after step, the alignment state included
    (location-aware attention reads it)."""
    cell = make_cell("gru", mechanism, attention_layer_size=5)
    perturbed_decoder(cell)
    k = 4
    memory, mask = random((BATCH, SOURCE, MEMORY), 1), source_mask()
    targets = random((BATCH * k, TARGET, FEATURES), 0)
    tiled_memory, tiled_mask = np.repeat(memory, k, axis=0), np.repeat(mask, k, axis=0)
    shared = cell.prepare_memory(memory, mask)
    tiled = cell.prepare_memory(tiled_memory, tiled_mask)
    state = cell.get_initial_state(tiled)
    state["cell"] = [random((BATCH * k, MEMORY), 5)]  # beams that differ
    shared_state = tiled_state = state
    for t in range(TARGET):
        output, shared_state, alignments = cell(targets[:, t], shared_state, shared)
        want, tiled_state, want_alignments = cell(targets[:, t], tiled_state, tiled)
        np.testing.assert_allclose(numpy(output), numpy(want), atol=1e-6)
        np.testing.assert_allclose(numpy(alignments), numpy(want_alignments), atol=1e-6)
    assert np.all(numpy(alignments)[~tiled_mask] == 0.0)
    for got, want in zip(keras.tree.flatten(shared_state), keras.tree.flatten(tiled_state)):
        np.testing.assert_allclose(numpy(got), numpy(want), atol=1e-6)


def test_a_batch_that_is_not_a_multiple_of_the_memory_is_refused():
    cell = make_cell("gru", "luong_general")
    perturbed_decoder(cell)
    context = cell.prepare_memory(random((BATCH, SOURCE, MEMORY), 1))
    state = cell.get_initial_state(random((BATCH + 1, SOURCE, MEMORY), 1))
    with pytest.raises(ValueError, match="4 decoder rows for 3 memory rows"):
        cell(random((BATCH + 1, FEATURES), 0), state, context)


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_options_sequence_run_equals_step_run(option):
    cell = make_cell("lstm", "bahdanau", **OPTIONS[option])
    decoder = perturbed_decoder(cell, return_alignments=True)
    targets, memory = random((BATCH, TARGET, FEATURES), 4), random((BATCH, SOURCE, MEMORY), 5)

    outputs, alignments = decoder(targets, memory, memory_mask=source_mask())
    step_outputs, step_alignments, _ = run_steps(cell, targets, memory, source_mask())

    np.testing.assert_allclose(numpy(outputs), step_outputs, atol=ATOL)
    np.testing.assert_allclose(numpy(alignments), step_alignments, atol=ATOL)
    assert outputs.shape[-1] == cell.output_size


def numpy_luong_decoder(cell, targets, memory, mask, initial_state, output_attention=True):
    """Luong et al. (2015), general score, input feeding, written from the paper.

    x'_t = [x_t; a_{t-1}]; h_t = LSTM(x'_t); score_j = h_t . (W_a m_j);
    alpha = softmax over unmasked j; c_t = sum_j alpha_j m_j;
    a_t = tanh([h_t; c_t] W_c).
    """
    keys = memory.astype("float64") @ references.weight(cell.attention, "memory_kernel")
    w_c = references.weight(cell, "attention_kernel")
    states = [np.asarray(s, "float64") for s in initial_state]
    attention = np.zeros((targets.shape[0], w_c.shape[1]))
    outputs, alignments = [], []
    for t in range(targets.shape[1]):
        cell_input = np.concatenate([targets[:, t], attention], axis=-1)[:, None]
        hidden, states = references.lstm(cell_input, cell.cell, initial_state=states)
        hidden = hidden[:, 0]
        scores = np.einsum("bd,btd->bt", hidden, keys)
        scores = np.where(mask, scores, -np.inf)
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        context = np.einsum("bt,btd->bd", weights, memory)
        attention = np.tanh(np.concatenate([hidden, context], -1) @ w_c)
        outputs.append(attention if output_attention else hidden)
        alignments.append(weights)
    return np.stack(outputs, 1), np.stack(alignments, 1)


@pytest.mark.parametrize("output_attention", [True, False])
def test_against_a_numpy_luong_decoder(output_attention):
    cell = AttentionDecoderCell(
        toolkit.cells.LSTMCell(MEMORY),
        toolkit.attention.LuongAttention(score="general"),
        attention_layer_size=5,
        output_attention=output_attention,
    )
    decoder = perturbed_decoder(cell, return_alignments=True)
    targets, memory = random((BATCH, TARGET, FEATURES), 6), random((BATCH, SOURCE, MEMORY), 7)
    initial = [random((BATCH, MEMORY), 8), random((BATCH, MEMORY), 9)]

    outputs, alignments = decoder(targets, memory, initial_state=initial, memory_mask=source_mask())
    want_outputs, want_alignments = numpy_luong_decoder(
        cell, targets, memory, source_mask(), initial, output_attention
    )

    np.testing.assert_allclose(numpy(outputs), want_outputs, atol=ATOL)
    np.testing.assert_allclose(numpy(alignments), want_alignments, atol=ATOL)


def test_each_sequence_gets_what_it_gets_alone_under_target_and_memory_padding():
    cell = make_cell("gru", "location_cumulative", attention_layer_size=5)
    decoder = perturbed_decoder(cell, return_alignments=True, return_state=True)
    targets, memory = random((BATCH, TARGET, FEATURES), 10), random((BATCH, SOURCE, MEMORY), 11)
    target_mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=bool)
    memory_mask = source_mask()

    outputs, alignments, state = decoder(
        targets, memory, sequences_mask=target_mask, memory_mask=memory_mask
    )

    for b in range(BATCH):
        t_valid, m_valid = target_mask[b], memory_mask[b]
        alone_outputs, alone_alignments, alone_state = decoder(
            targets[b : b + 1, t_valid], memory[b : b + 1, m_valid]
        )
        np.testing.assert_allclose(numpy(outputs)[b, t_valid], numpy(alone_outputs)[0], atol=ATOL)
        np.testing.assert_allclose(
            numpy(alignments)[b][np.ix_(t_valid, m_valid)], numpy(alone_alignments)[0], atol=ATOL
        )
        # Padded target steps: zero outputs and alignments; the state is kept.
        assert np.all(numpy(outputs)[b, ~t_valid] == 0.0)
        assert np.all(numpy(alignments)[b, ~t_valid] == 0.0)
        assert np.all(numpy(alignments)[b][:, ~m_valid] == 0.0)
        for got, want in zip(state["cell"], alone_state["cell"]):
            np.testing.assert_allclose(numpy(got)[b], numpy(want)[0], atol=ATOL)
        np.testing.assert_allclose(
            numpy(state["attention"])[b], numpy(alone_state["attention"])[0], atol=ATOL
        )


def test_keras_masks_are_read_from_embeddings_in_a_functional_model():
    source_embedding = keras.layers.Embedding(12, 4, mask_zero=True)
    encoder = toolkit.layers.LSTM(MEMORY, return_sequences=True)
    target_embedding = keras.layers.Embedding(12, FEATURES, mask_zero=True)
    decoder = AttentionDecoder(make_cell(attention_layer_size=5), return_alignments=True)
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    outputs, alignments = decoder(target_embedding(target), encoder(source_embedding(source)))
    model = keras.Model([source, target], [outputs, alignments])
    source_ids = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6]], "int32")
    target_ids = np.array([[7, 8, 0, 0, 0], [1, 2, 3, 4, 5]], "int32")

    got_outputs, got_alignments = model([source_ids, target_ids])

    # The same layers, the masks passed by hand.
    memory = encoder(source_embedding(source_ids), mask=source_ids > 0)
    want_outputs, want_alignments = decoder(
        target_embedding(target_ids),
        memory,
        sequences_mask=target_ids > 0,
        memory_mask=source_ids > 0,
    )
    np.testing.assert_allclose(numpy(got_outputs), numpy(want_outputs), atol=ATOL)
    np.testing.assert_allclose(numpy(got_alignments), numpy(want_alignments), atol=ATOL)
    assert np.all(numpy(got_alignments)[0, :, 3:] == 0.0)
    assert np.all(numpy(got_outputs)[0, 2:] == 0.0)


def test_initial_state_as_cell_states_or_whole_dict():
    cell = make_cell("lstm", "bahdanau", attention_layer_size=5)
    decoder = perturbed_decoder(cell, return_state=True)
    targets, memory = random((BATCH, TARGET, FEATURES), 12), random((BATCH, SOURCE, MEMORY), 13)
    cell_states = [random((BATCH, MEMORY), 14), random((BATCH, MEMORY), 15)]

    from_list, _ = decoder(targets, memory, initial_state=cell_states)
    whole = cell.get_initial_state(memory, cell_states=cell_states)
    from_dict, _ = decoder(targets, memory, initial_state=whole)
    zeros, _ = decoder(targets, memory)

    np.testing.assert_allclose(numpy(from_list), numpy(from_dict), atol=ATOL)
    assert not np.allclose(numpy(from_list), numpy(zeros))
    with pytest.raises(ValueError, match="cell_states"):
        decoder(targets, memory, initial_state=cell_states[:1])
    with pytest.raises(ValueError, match="initial_state"):
        decoder(targets, memory, initial_state={"cell": cell_states})


def test_return_sequences_false_gives_the_last_valid_output():
    cell = make_cell("gru", "luong_general", attention_layer_size=5)
    decoder = perturbed_decoder(cell)
    last = AttentionDecoder(cell, return_sequences=False)
    targets, memory = random((BATCH, TARGET, FEATURES), 16), random((BATCH, SOURCE, MEMORY), 17)
    target_mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=bool)

    sequence = numpy(decoder(targets, memory, sequences_mask=target_mask))
    final = numpy(last(targets, memory, sequences_mask=target_mask))

    np.testing.assert_allclose(final, sequence[np.arange(BATCH), [2, 4, 0]], atol=ATOL)


def test_unroll_gives_the_loop_result():
    cell = make_cell("lstm", "location_cumulative", attention_layer_size=5)
    decoder = perturbed_decoder(cell, return_alignments=True)
    unrolled = AttentionDecoder(cell, return_alignments=True, unroll=True)
    targets, memory = random((BATCH, TARGET, FEATURES), 18), random((BATCH, SOURCE, MEMORY), 19)

    for got, want in zip(unrolled(targets, memory), decoder(targets, memory)):
        np.testing.assert_allclose(numpy(got), numpy(want), atol=ATOL)


class SelfAttendingDecoder(keras.layers.Layer):
    """Test wrapper: a decoder that attends over its own input, so the
    one-input `run_layer_test` (config, build, symbolic and eager calls, fit,
    `.keras` save/load, mixed precision) covers `AttentionDecoder`."""

    def __init__(self, decoder, **kwargs):
        super().__init__(**kwargs)
        self.decoder = decoder

    def build(self, input_shape):
        self.decoder.build(input_shape, input_shape)

    def call(self, inputs, training=False):
        return self.decoder(inputs, inputs, training=training)

    def compute_output_shape(self, input_shape):
        return self.decoder.compute_output_shape(input_shape, input_shape)

    def get_config(self):
        config = super().get_config()
        config["decoder"] = keras.saving.serialize_keras_object(self.decoder)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


keras.saving.register_keras_serializable(package="toolkit_tests")(SelfAttendingDecoder)


@pytest.mark.parametrize(
    "cell_kwargs, mechanism, options",
    [
        (dict(dropout=0.2, recurrent_dropout=0.2), "luong_general", dict(attention_layer_size=5)),
        (dict(zoneout=0.1), "bahdanau_normalized", dict(output_attention=False)),
        (dict(), "location_cumulative", dict(attention_layer_size=5)),
    ],
    ids=["dropout_luong", "zoneout_bahdanau", "location"],
)
def test_layer_contract(cell_kwargs, mechanism, options):
    def factory(**kwargs):
        cell = AttentionDecoderCell(
            toolkit.cells.LSTMCell(FEATURES, **cell_kwargs), MECHANISMS[mechanism](), **options
        )
        return SelfAttendingDecoder(AttentionDecoder(cell, **kwargs))

    size = 5 if options.get("output_attention", True) and "attention_layer_size" in options else 4
    run_layer_test(
        factory,
        {"return_alignments": True},
        input_shape=(2, 4, FEATURES),
        expected_output_shape=[(2, 4, size), (2, 4, 4)],
        run_mixed_precision_check=True,
    )


def test_dropout_draws_one_mask_per_sequence_and_is_off_at_inference():
    cell = AttentionDecoderCell(
        toolkit.cells.GRUCell(MEMORY, dropout=0.5, recurrent_dropout=0.5, seed=1),
        toolkit.attention.LuongAttention(score="general"),
        attention_layer_size=5,
    )
    decoder = perturbed_decoder(cell)
    targets, memory = random((BATCH, TARGET, FEATURES), 20), random((BATCH, SOURCE, MEMORY), 21)

    inference = numpy(decoder(targets, memory))
    step_outputs, _, _ = run_steps(cell, targets, memory, None)
    training = numpy(decoder(targets, memory, training=True))

    np.testing.assert_allclose(inference, step_outputs, atol=ATOL)
    assert not np.allclose(training, inference)
    assert np.all(np.isfinite(training))


def test_serialization_round_trips_rebuild_the_same_decoder():
    cell = make_cell("lstm_projection", "location_cumulative", attention_layer_size=5)
    decoder = AttentionDecoder(cell, return_alignments=True, return_state=True)

    revived_cell = check_config_round_trip(cell)
    revived = check_config_round_trip(decoder)

    assert isinstance(revived_cell.attention, toolkit.attention.LocationAwareAttention)
    assert revived.cell.cell.projection == MEMORY
    assert revived.return_alignments and revived.return_state


def test_a_teacher_forced_seq2seq_learns_to_copy():
    # Copy task: the decoder must read the source through attention.
    rng = np.random.default_rng(0)
    source_ids = rng.integers(1, 6, size=(64, 5)).astype("int32")
    decoder_inputs = np.concatenate([np.full((64, 1), 6, "int32"), source_ids[:, :-1]], axis=1)
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    memory = toolkit.layers.GRU(16, return_sequences=True)(
        keras.layers.Embedding(7, 8, mask_zero=True)(source)
    )
    outputs = AttentionDecoder(
        AttentionDecoderCell(
            toolkit.cells.GRUCell(16),
            toolkit.attention.LuongAttention(score="general"),
            attention_layer_size=16,
        )
    )(keras.layers.Embedding(7, 8, mask_zero=True)(target), memory)
    model = keras.Model([source, target], keras.layers.Dense(7)(outputs))
    model.compile(
        keras.optimizers.Adam(0.03),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )

    history = model.fit(
        [source_ids, decoder_inputs], source_ids, batch_size=16, epochs=12, verbose=0
    )

    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.6


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: AttentionDecoderCell(keras.layers.LSTMCell(4), MECHANISMS["bahdanau"]()), "cell="),
        (
            lambda: AttentionDecoderCell(toolkit.cells.LSTMCell(4), keras.layers.Attention()),
            "attention=",
        ),
        (lambda: make_cell(attention_layer_size=0), "attention_layer_size=0"),
        (lambda: make_cell(attention_activation="nope"), "attention_activation"),
        (lambda: AttentionDecoder(toolkit.cells.LSTMCell(4)), "cell="),
    ],
)
def test_bad_arguments_name_the_argument(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_bad_ranks_name_the_argument():
    decoder = AttentionDecoder(make_cell(attention_layer_size=5))
    with pytest.raises(ValueError, match="memory.shape"):
        decoder(random((2, 3, FEATURES), 0), random((2, MEMORY), 1))
    with pytest.raises(ValueError, match="sequences.shape"):
        decoder(random((2, FEATURES), 0), random((2, 3, MEMORY), 1))
    with pytest.raises(ValueError, match="memory_context_shape"):
        make_cell().build((2, FEATURES))


def test_bad_mask_shapes_name_the_argument():
    decoder = AttentionDecoder(make_cell(attention_layer_size=5))
    targets, memory = random((2, 3, FEATURES), 0), random((2, 4, MEMORY), 1)
    with pytest.raises(ValueError, match=r"memory_mask.shape=\(2, 5\)"):
        decoder(targets, memory, memory_mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match=r"sequences_mask.shape=\(2,\)"):
        decoder(targets, memory, sequences_mask=np.ones((2,), bool))
