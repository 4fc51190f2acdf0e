"""A tiny attentional seq2seq end to end: trained teacher-forced with
`model.fit`, decoded step by step with `toolkit.decoding`, in graph, and
exported to a SavedModel that serves with TensorFlow alone."""

import keras
import numpy as np
import pytest
from keras import ops
from serving import serve_without_toolkit

import toolkit
from toolkit.attention import AttentionDecoder
from toolkit.attention import AttentionDecoderCell
from toolkit.decoding import beam_search
from toolkit.decoding import greedy_search
from toolkit.decoding import tile_batch

PAD, START, END, VOCAB = 0, 1, 2, 9
BEAM = 3


def numpy(value):
    return ops.convert_to_numpy(value)


class TinySeq2Seq:
    """Reverse-the-source task: encoder LSTM, Luong decoder with input feeding."""

    def __init__(self, seed=0):
        keras.utils.set_random_seed(seed)
        self.source_embedding = keras.layers.Embedding(VOCAB, 8, mask_zero=True)
        self.encoder = toolkit.layers.LSTM(16, return_sequences=True, return_state=True)
        self.target_embedding = keras.layers.Embedding(VOCAB, 8, mask_zero=True)
        self.cell = AttentionDecoderCell(
            toolkit.cells.LSTMCell(16),
            toolkit.attention.LuongAttention(score="general"),
            attention_layer_size=16,
        )
        self.projection = keras.layers.Dense(VOCAB)
        source = keras.Input((None,), dtype="int32")
        target = keras.Input((None,), dtype="int32")
        memory, h, c = self.encoder(self.source_embedding(source))
        outputs = AttentionDecoder(self.cell)(
            self.target_embedding(target), memory, initial_state=[h, c]
        )
        self.model = keras.Model([source, target], self.projection(outputs))

    @staticmethod
    def data(count=256, seed=0):
        rng = np.random.default_rng(seed)
        lengths = rng.integers(2, 6, size=count)
        source = np.zeros((count, 5), "int32")
        target = np.zeros((count, 6), "int32")
        for row, length in enumerate(lengths):
            tokens = rng.integers(3, VOCAB, size=length)
            source[row, :length] = tokens
            target[row, : length + 1] = list(tokens[::-1]) + [END]
        decoder_inputs = np.concatenate([np.full((count, 1), START, "int32"), target[:, :-1]], 1)
        decoder_inputs[target == PAD] = PAD
        return source, decoder_inputs, target

    def fit(self, epochs=25):
        source, decoder_inputs, target = self.data()
        self.model.compile(
            keras.optimizers.Adam(0.02),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        self.model.fit([source, decoder_inputs], target, batch_size=32, epochs=epochs, verbose=0)
        return self

    def search(self, source_ids, beam_width=None, **kwargs):
        """Greedy (`beam_width=None`) or beam search over the decoder cell."""
        source_ids = ops.convert_to_tensor(source_ids, dtype="int32")
        mask = ops.not_equal(source_ids, PAD)
        memory, h, c = self.encoder(self.source_embedding(source_ids), mask=mask)
        initial = self.cell.get_initial_state(memory, [h, c])
        rows = 1 if beam_width is None else beam_width
        context = self.cell.prepare_memory(tile_batch(memory, rows), tile_batch(mask, rows))

        def step_fn(tokens, state):
            output, state, alignments = self.cell(self.target_embedding(tokens), state, context)
            return self.projection(output), state, alignments

        common = dict(
            start_tokens=ops.full((ops.shape(source_ids)[0],), START, dtype="int32"),
            end_token=END,
            max_length=8,
            source_lengths=ops.sum(ops.cast(mask, "int32"), axis=1),
            max_length_ratio=1.0,
            max_length_offset=2,
            return_alignments=True,
            **kwargs,
        )
        if beam_width is None:
            return greedy_search(step_fn, initial, **common)
        return beam_search(step_fn, initial, beam_width=beam_width, **common)


@pytest.fixture(scope="module")
def trained():
    return TinySeq2Seq().fit()


SOURCES = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 3, 4], [8, 5, 0, 0, 0]], "int32")


def test_the_trained_model_reverses_with_greedy_and_beam_search(trained):
    greedy = trained.search(SOURCES)
    beam = trained.search(SOURCES, beam_width=BEAM, length_penalty=0.6, num_results=2)

    expected = [[5, 4, 3, END], [4, 3, 8, 7, 6, END], [5, 8, END]]
    for row, want in enumerate(expected):
        assert numpy(greedy["tokens"])[row, : len(want)].tolist() == want
        assert numpy(beam["tokens"])[row, 0, : len(want)].tolist() == want
        assert numpy(beam["lengths"])[row, 0] == len(want)
        # The decoder attends to the source word it copies: the alignment
        # peaks on the reversed position.
        source_length = int((SOURCES[row] > 0).sum())
        peaks = numpy(beam["alignments"])[row, 0, :source_length].argmax(-1)
        assert peaks.tolist() == list(range(source_length - 1, -1, -1))
    assert np.all(np.diff(numpy(beam["scores"]), axis=1) <= 0)


def test_greedy_tokens_and_score_agree_with_the_teacher_forced_model(trained):
    # The step path (decoding) and the sequence path (training) are the same
    # computation: feeding the greedy output back teacher-forced gives the
    # same argmax at every step and the same total log-probability.
    result = trained.search(SOURCES)
    tokens, lengths = numpy(result["tokens"]), numpy(result["lengths"])
    decoder_inputs = np.concatenate([np.full((len(SOURCES), 1), START, "int32"), tokens[:, :-1]], 1)
    for row, length in enumerate(lengths):
        decoder_inputs[row, length:] = PAD
    logits = numpy(trained.model([SOURCES, decoder_inputs]))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    for row, length in enumerate(lengths):
        assert logits[row, :length].argmax(-1).tolist() == tokens[row, :length].tolist()
        score = log_probs[row, np.arange(length), tokens[row, :length]].sum()
        np.testing.assert_allclose(numpy(result["scores"])[row], score, rtol=1e-4, atol=1e-4)


def test_beam_width_one_equals_greedy_with_the_decoder(trained):
    greedy = trained.search(SOURCES)
    beam = trained.search(SOURCES, beam_width=1)

    np.testing.assert_array_equal(numpy(beam["tokens"])[:, 0], numpy(greedy["tokens"]))
    np.testing.assert_allclose(numpy(beam["scores"])[:, 0], numpy(greedy["scores"]), atol=1e-5)
    np.testing.assert_allclose(
        numpy(beam["alignments"])[:, 0], numpy(greedy["alignments"]), atol=1e-6
    )


def in_graph(function):
    """`function` compiled the backend's way: tf.function or jax.jit."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function, input_signature=[tf.TensorSpec((None, None), tf.int32)])
    if backend == "jax":
        import jax

        return jax.jit(function)
    pytest.skip(f"no graph mode tested for backend {backend}")


def test_beam_search_in_graph_equals_eager(trained):
    search = lambda ids: trained.search(ids, beam_width=BEAM, length_penalty=0.6, num_results=2)

    eager = search(SOURCES)
    compiled = in_graph(search)(SOURCES)

    for key in ("tokens", "lengths"):
        np.testing.assert_array_equal(numpy(compiled[key]), numpy(eager[key]))
    for key in ("scores", "log_probs", "alignments"):
        np.testing.assert_allclose(numpy(compiled[key]), numpy(eager[key]), atol=1e-5)


SERVE = """
sources = np.load(f"{directory}/sources.npy")
restored = tf.saved_model.load(f"{directory}/translator")
result = restored.translate(tf.constant(sources))
np.savez(f"{directory}/served.npz", **{k: np.asarray(v) for k, v in result.items()})
"""


@pytest.mark.tensorflow_only
def test_beam_search_exports_to_a_saved_model_served_by_tensorflow_alone(trained, tmp_path):
    import tensorflow as tf

    search = lambda ids: trained.search(ids, beam_width=BEAM, length_penalty=0.6, num_results=2)
    expected = {key: numpy(value) for key, value in search(SOURCES).items()}
    archive = keras.export.ExportArchive()
    archive.track(trained.model)
    archive.add_endpoint(
        "translate", search, input_signature=[tf.TensorSpec((None, None), tf.int32)]
    )
    archive.write_out(str(tmp_path / "translator"), verbose=False)
    np.save(tmp_path / "sources.npy", SOURCES)

    # Only standard TensorFlow ops in the graph: no custom or XLA-only ops.
    saved = tf.saved_model.load(str(tmp_path / "translator"))
    graph = saved.translate.get_concrete_function().graph.as_graph_def()
    op_types = {node.op for node in graph.node}
    for function in graph.library.function:
        op_types.update(node.op for node in function.node_def)
    assert not [op for op in op_types if op.startswith("Xla")], sorted(op_types)

    serve_without_toolkit(tmp_path, SERVE)

    served = np.load(tmp_path / "served.npz")
    assert sorted(served.files) == sorted(expected)
    for key in ("tokens", "lengths"):
        np.testing.assert_array_equal(served[key], expected[key])
    for key in ("scores", "log_probs", "alignments"):
        np.testing.assert_allclose(served[key], expected[key], atol=1e-5)
