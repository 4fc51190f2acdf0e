"""Greedy and beam search: hand-computed cases, a NumPy reference beam search,
exhaustive enumeration, alignments along the ancestry, and tracing."""

import itertools
import math

import keras
import numpy as np
import pytest
from keras import ops

from toolkit import decoding

EOS = 1


def to_numpy(outputs):
    return {key: ops.convert_to_numpy(value) for key, value in outputs.items()}


def penalised(log_prob, length, alpha):
    return log_prob / ((5.0 + length) / 6.0) ** alpha


def markov_step(probabilities):
    """`step_fn` whose logits are the log of a transition table row."""
    with np.errstate(divide="ignore"):
        table = np.log(np.asarray(probabilities, "float32"))

    def step_fn(tokens, state):
        return ops.take(table, tokens, axis=0), state

    return step_fn


class RandomModel:
    """A fixed random recurrent step with a nested state, in Keras and NumPy.

    The logits depend on the hidden state and on the token two steps back
    (kept in `state["history"]`), so a state gathered from the wrong parent
    beam changes the scores.
    """

    def __init__(self, vocab, units=4, seed=0, eos_bias=0.0):
        rng = np.random.RandomState(seed)
        self.vocab = vocab
        self.embedding = rng.randn(vocab, units).astype("float32")
        self.recurrent = (0.7 * rng.randn(units, units)).astype("float32")
        self.output = (1.5 * rng.randn(units, vocab)).astype("float32")
        self.bonus = (1.0 * rng.randn(vocab, vocab)).astype("float32")
        self.output_bias = np.zeros(vocab, "float32")
        self.output_bias[EOS] = eos_bias
        self.initial_h = (0.5 * rng.randn(3, units)).astype("float32")

    def initial_state(self, batch):
        h = np.resize(self.initial_h, (batch, self.initial_h.shape[1]))
        zeros = np.zeros(batch, "int32")
        return {"h": h, "history": [zeros, zeros], "unused": None}

    def step(self, tokens, state):
        h = ops.tanh(ops.take(self.embedding, tokens, axis=0) + state["h"] @ self.recurrent)
        two_back = state["history"][1]
        logits = h @ self.output + ops.take(self.bonus, two_back, axis=0) + self.output_bias
        new_state = {"h": h, "history": [tokens, state["history"][0]], "unused": state["unused"]}
        return logits, new_state

    def numpy_step(self, token, state):
        """One hypothesis: `(log_probs (vocab,), new_state)`."""
        h, previous, two_back = state
        h = np.tanh(self.embedding[token] + h @ self.recurrent)
        logits = (h @ self.output + self.bonus[two_back] + self.output_bias).astype("float64")
        log_probs = logits - logits.max()
        log_probs = log_probs - np.log(np.exp(log_probs).sum())
        return log_probs, (h, token, previous)

    def numpy_state(self, example):
        state = self.initial_state(example + 1)
        return (state["h"][example].astype("float64"), 0, 0)


def reference_beam_search(model, example, start, limit, beam_width, alpha):
    """Beam search written plainly on Python lists (one example)."""
    beams = [([], 0.0, model.numpy_state(example), start, False)]
    for _ in range(limit):
        if all(beam[4] for beam in beams):
            break
        candidates = []
        for tokens, log_prob, state, last, finished in beams:
            if finished:  # one candidate: itself, unchanged
                score = penalised(log_prob, len(tokens), alpha)
                candidates.append((score, tokens, log_prob, state, last, True))
                continue
            log_probs, new_state = model.numpy_step(last, state)
            for token in range(model.vocab):
                new_tokens = tokens + [token]
                new_log_prob = log_prob + log_probs[token]
                done = token == EOS or len(new_tokens) >= limit
                score = penalised(new_log_prob, len(new_tokens), alpha)
                candidates.append((score, new_tokens, new_log_prob, new_state, token, done))
        candidates.sort(key=lambda c: -c[0])
        beams = [c[1:] for c in candidates[:beam_width]]
    return sorted(
        [(penalised(lp, len(tokens), alpha), tokens, lp) for tokens, lp, *_ in beams],
        key=lambda c: -c[0],
    )


def enumerate_hypotheses(model, example, start, limit, alpha):
    """Every complete hypothesis (ends in EOS, or truncated at `limit`), best first."""
    results = []
    for length in range(1, limit + 1):
        for tokens in itertools.product(range(model.vocab), repeat=length):
            if EOS in tokens[:-1] or (tokens[-1] != EOS and length < limit):
                continue
            state, last, log_prob = model.numpy_state(example), start, 0.0
            for token in tokens:
                log_probs, state = model.numpy_step(last, state)
                log_prob += log_probs[token]
                last = token
            results.append((penalised(log_prob, length, alpha), list(tokens), log_prob))
    return sorted(results, key=lambda c: -c[0])


def hypotheses(outputs, example):
    """`[(score, tokens up to length, log_prob)]` of one example of beam output."""
    return [
        (score, tokens[:length].tolist(), log_prob)
        for score, tokens, length, log_prob in zip(
            outputs["scores"][example],
            outputs["tokens"][example],
            outputs["lengths"][example],
            outputs["log_probs"][example],
        )
    ]


# === tile_batch ===


def test_tile_batch_repeats_rows_consecutively_in_nested_structures():
    structure = {
        "h": np.arange(6, dtype="float32").reshape(2, 3),
        "pair": (np.array([5, 7], "int32"), None),
        "list": [np.zeros((2, 1, 4), "float32")],
    }
    tiled = decoding.tile_batch(structure, 3)
    h = ops.convert_to_numpy(tiled["h"])
    np.testing.assert_array_equal(h, np.repeat(structure["h"], 3, axis=0))
    np.testing.assert_array_equal(h[4], structure["h"][1])  # row b * 3 + k is copy k of b
    assert ops.convert_to_numpy(tiled["pair"][0]).tolist() == [5, 5, 5, 7, 7, 7]
    assert tiled["pair"][1] is None
    assert tuple(tiled["list"][0].shape) == (6, 1, 4)
    assert isinstance(tiled["pair"], tuple) and isinstance(tiled["list"], list)
    same = decoding.tile_batch(structure, 1)
    np.testing.assert_array_equal(ops.convert_to_numpy(same["h"]), structure["h"])


# === Hand-built cases ===

# Tokens: 0 start/pad, 1 EOS, 2 "a", 3 "b". Greedy takes "a" (.5) then EOS (.4)
# = .2; beam search finds "b" (.3) then EOS (.9) = .27.
GREEDY_TRAP = [
    [0.1, 0.1, 0.5, 0.3],
    [0.25, 0.25, 0.25, 0.25],
    [0.1, 0.4, 0.25, 0.25],
    [0.02, 0.9, 0.04, 0.04],
]


def test_beam_search_finds_the_sequence_greedy_misses():
    step_fn = markov_step(GREEDY_TRAP)
    start = np.zeros(2, "int32")
    greedy = to_numpy(decoding.greedy_search(step_fn, {}, start, EOS, max_length=4))
    assert greedy["tokens"].tolist() == [[2, 1, 0, 0]] * 2
    assert greedy["lengths"].tolist() == [2, 2]
    np.testing.assert_allclose(greedy["scores"], [math.log(0.5 * 0.4)] * 2, rtol=1e-6)
    for beam_width in (2, 3):
        beam = to_numpy(
            decoding.beam_search(step_fn, {}, start, EOS, max_length=4, beam_width=beam_width)
        )
        assert beam["tokens"].tolist() == [[[3, 1, 0, 0]]] * 2
        assert beam["lengths"].tolist() == [[2]] * 2
        np.testing.assert_allclose(beam["scores"], [[math.log(0.3 * 0.9)]] * 2, rtol=1e-6)
        np.testing.assert_allclose(beam["log_probs"], beam["scores"])


# Tokens: 0 start/pad, 1 EOS, 2 "a". [EOS] has P = .4; [a, EOS] has .6 * .6 = .36.
SHORT_OR_LONG = [
    [0.0, 0.4, 0.6],
    [1 / 3, 1 / 3, 1 / 3],
    [0.0, 0.6, 0.4],
]


@pytest.mark.parametrize("alpha, best", [(0.0, [1]), (0.5, [1]), (1.0, [2, 1]), (2.0, [2, 1])])
def test_length_penalty_changes_the_choice_as_the_formula_says(alpha, best):
    step_fn = markov_step(SHORT_OR_LONG)
    outputs = to_numpy(
        decoding.beam_search(
            step_fn,
            {},
            np.zeros(1, "int32"),
            EOS,
            max_length=3,
            beam_width=4,
            length_penalty=alpha,
            num_results=4,
        )
    )
    by_hand = {  # every complete hypothesis: log P, length
        (1,): (math.log(0.4), 1),
        (2, 1): (math.log(0.6 * 0.6), 2),
        (2, 2, 1): (math.log(0.6 * 0.4 * 0.6), 3),
        (2, 2, 2): (math.log(0.6 * 0.4 * 0.4), 3),
    }
    expected = sorted(
        ((penalised(lp, n, alpha), list(tokens), lp) for tokens, (lp, n) in by_hand.items()),
        key=lambda c: -c[0],
    )
    assert expected[0][1] == best  # the case is what the parametrization says
    found = hypotheses(outputs, 0)
    assert [tokens for _, tokens, _ in found] == [tokens for _, tokens, _ in expected]
    np.testing.assert_allclose([s for s, _, _ in found], [s for s, _, _ in expected], rtol=1e-5)
    np.testing.assert_allclose([p for *_, p in found], [p for *_, p in expected], rtol=1e-5)


# Tokens: 0 pad, 1 EOS, 2 "a", 3 "b", 4 start. After EOS (or pad) the table
# would continue with "a" at probability ~1, which lengthens a hypothesis at
# no cost, so extending finished beams would raise their penalised score.
FINISH_TRAP = [
    [1e-6, 1e-6, 1.0, 1e-6, 1e-6],
    [1e-6, 1e-6, 1.0, 1e-6, 1e-6],
    [0.0, 0.6, 0.2, 0.2, 0.0],
    [0.0, 0.1, 0.45, 0.45, 0.0],
    [0.0, 0.5, 0.3, 0.2, 0.0],
]


def test_finished_hypotheses_are_frozen():
    step_fn = markov_step(FINISH_TRAP)
    start = np.full(1, 4, "int32")
    table = np.asarray(FINISH_TRAP, "float64")
    table = table / table.sum(axis=1, keepdims=True)
    greedy = to_numpy(decoding.greedy_search(step_fn, {}, start, EOS, max_length=4, pad_token=9))
    assert greedy["tokens"].tolist() == [[1, 9, 9, 9]]
    assert greedy["lengths"].tolist() == [1]
    np.testing.assert_allclose(greedy["scores"], [math.log(table[4, 1])], rtol=1e-6)

    outputs = to_numpy(
        decoding.beam_search(
            step_fn,
            {},
            start,
            EOS,
            max_length=4,
            beam_width=3,
            length_penalty=1.0,
            num_results=3,
            pad_token=9,
        )
    )
    for score, tokens, length, log_prob in zip(
        outputs["scores"][0], outputs["tokens"][0], outputs["lengths"][0], outputs["log_probs"][0]
    ):
        tokens = tokens.tolist()
        if EOS in tokens:
            assert length == tokens.index(EOS) + 1
        else:
            assert length == 4
        assert tokens[length:] == [9] * (4 - length)
        previous, by_hand = 4, 0.0
        for token in tokens[:length]:
            by_hand += math.log(table[previous, token])
            previous = token
        np.testing.assert_allclose(log_prob, by_hand, rtol=1e-5)
        np.testing.assert_allclose(score, penalised(by_hand, length, 1.0), rtol=1e-5)
    # [EOS] (P .5) stays first although continuing it with "a" would cost nothing.
    assert outputs["tokens"][0][0].tolist() == [1, 9, 9, 9]


# === Against references ===


def test_beam_width_one_equals_greedy_with_a_nested_state():
    model = RandomModel(vocab=6, seed=3)
    start = np.array([0, 2, 5], "int32")
    kwargs = dict(source_lengths=np.array([2, 9, 4]), max_length_ratio=1.0, max_length_offset=1)
    greedy = to_numpy(
        decoding.greedy_search(model.step, model.initial_state(3), start, EOS, 7, **kwargs)
    )
    assert len(set(greedy["lengths"].tolist())) > 1
    for alpha in (0.0, 0.6):
        beam = to_numpy(
            decoding.beam_search(
                model.step,
                model.initial_state(3),
                start,
                EOS,
                7,
                beam_width=1,
                length_penalty=alpha,
                **kwargs,
            )
        )
        np.testing.assert_array_equal(beam["tokens"][:, 0], greedy["tokens"])
        np.testing.assert_array_equal(beam["lengths"][:, 0], greedy["lengths"])
        np.testing.assert_allclose(beam["log_probs"][:, 0], greedy["scores"], rtol=1e-6)
        expected = penalised(greedy["scores"], greedy["lengths"], alpha)
        np.testing.assert_allclose(beam["scores"][:, 0], expected, rtol=1e-6)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 3.0])
def test_n_best_matches_a_reference_beam_search(alpha):
    # Seed 1 has an example where a finished beam and live candidates compete
    # for the last place, so penalising candidates with a wrong length shows.
    model = RandomModel(vocab=5, seed=1)
    start = np.array([0, 3, 2, 4], "int32")
    source_lengths = np.array([3, 2, 4, 3])
    limits = [5, 3, 6, 5]  # min(6, floor(1.5 * source_lengths + 0.5))
    outputs = to_numpy(
        decoding.beam_search(
            model.step,
            model.initial_state(4),
            start,
            EOS,
            max_length=6,
            beam_width=3,
            length_penalty=alpha,
            num_results=3,
            source_lengths=source_lengths,
            max_length_ratio=1.5,
            max_length_offset=0.5,
        )
    )
    for example in range(4):
        found = hypotheses(outputs, example)
        expected = reference_beam_search(model, example, start[example], limits[example], 3, alpha)
        assert [tokens for _, tokens, _ in found] == [tokens for _, tokens, _ in expected]
        np.testing.assert_allclose([s for s, *_ in found], [s for s, *_ in expected], rtol=1e-4)
        np.testing.assert_allclose([p for *_, p in found], [p for *_, p in expected], rtol=1e-4)
        scores = [s for s, *_ in found]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(tokens) for _, tokens, _ in found}) == 3  # distinct


def test_wide_beam_returns_every_hypothesis_of_exhaustive_enumeration():
    model = RandomModel(vocab=3, seed=11)
    start = np.array([2, 0], "int32")
    limits = [3, 2]
    alpha = 0.7
    # With limit 3 there are 1 + 2 + 4 hypotheses ending in EOS and 8 truncated
    # ones: a beam of 15 never prunes, so its n-best is the whole enumeration.
    outputs = to_numpy(
        decoding.beam_search(
            model.step,
            model.initial_state(2),
            start,
            EOS,
            max_length=3,
            beam_width=16,
            length_penalty=alpha,
            num_results=16,
            source_lengths=np.array(limits),
            max_length_ratio=1.0,
        )
    )
    for example in range(2):
        expected = enumerate_hypotheses(model, example, start[example], limits[example], alpha)
        found = hypotheses(outputs, example)
        assert len(expected) == {3: 15, 2: 7}[limits[example]]
        assert [tokens for _, tokens, _ in found[: len(expected)]] == [
            tokens for _, tokens, _ in expected
        ]
        np.testing.assert_allclose(
            [s for s, *_ in found[: len(expected)]], [s for s, *_ in expected], rtol=1e-4
        )
        assert np.all(np.isneginf(outputs["scores"][example][len(expected) :]))
    # The best of each example, by itself, with a narrower beam.
    narrow = to_numpy(
        decoding.beam_search(
            model.step,
            model.initial_state(2),
            start,
            EOS,
            max_length=3,
            beam_width=4,
            length_penalty=alpha,
            source_lengths=np.array(limits),
            max_length_ratio=1.0,
        )
    )
    for example in range(2):
        best = enumerate_hypotheses(model, example, start[example], limits[example], alpha)[0]
        assert hypotheses(narrow, example)[0][1] == best[1]


# === Lengths and early stopping ===


def test_per_example_maximum_length_from_source_lengths():
    model = RandomModel(vocab=5, seed=5, eos_bias=-30.0)  # never ends by itself
    source_lengths = np.array([1, 3, 9, 0], "int32")
    expected = [2, 4, 5, 1]  # min(5, floor(1.0 * source + 1)), at least 1
    kwargs = dict(source_lengths=source_lengths, max_length_ratio=1.0, max_length_offset=1)
    start = np.zeros(4, "int32")
    greedy = to_numpy(
        decoding.greedy_search(model.step, model.initial_state(4), start, EOS, 5, **kwargs)
    )
    beam = to_numpy(
        decoding.beam_search(
            model.step, model.initial_state(4), start, EOS, 5, beam_width=2, num_results=2, **kwargs
        )
    )
    assert greedy["lengths"].tolist() == expected
    assert beam["lengths"].tolist() == [[n, n] for n in expected]
    for example, limit in enumerate(expected):
        assert np.all(greedy["tokens"][example, limit:] == 0)
        assert np.all(beam["tokens"][example, :, limit:] == 0)
        assert EOS not in greedy["tokens"][example].tolist()
    half = to_numpy(
        decoding.greedy_search(
            model.step,
            model.initial_state(2),
            start[:2],
            EOS,
            5,
            source_lengths=np.array([3, 7]),
            max_length_ratio=0.5,
        )
    )
    assert half["lengths"].tolist() == [1, 3]  # floor(1.5), floor(3.5)


class CountingStep:
    """Counts its calls; on JAX run under `jax.disable_jit()` so the loop is Python."""

    def __init__(self, step_fn):
        self.step_fn = step_fn
        self.calls = 0

    def __call__(self, tokens, state):
        self.calls += 1
        return self.step_fn(tokens, state)


def run_eagerly(function):
    if keras.backend.backend() == "jax":
        import jax

        with jax.disable_jit():
            return function()
    return function()


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_loop_stops_as_soon_as_every_hypothesis_is_finished(search):
    def run(step_fn, max_length, **kwargs):
        state = model.initial_state(2)
        start = np.zeros(2, "int32")
        if search == "greedy":
            return decoding.greedy_search(step_fn, state, start, EOS, max_length, **kwargs)
        return decoding.beam_search(step_fn, state, start, EOS, max_length, beam_width=3, **kwargs)

    model = RandomModel(vocab=4, seed=2, eos_bias=-40.0)  # never ends by itself
    only_eos = markov_step([[0.0, 1.0, 0.0, 0.0]] * 4)  # every other token impossible
    counting = CountingStep(only_eos)
    outputs = to_numpy(run_eagerly(lambda: run(counting, 10)))
    assert counting.calls == 1
    assert np.all(outputs["lengths"] == 1)
    counting = CountingStep(model.step)
    limits = dict(source_lengths=np.array([1, 2]), max_length_ratio=1.0, max_length_offset=1)
    outputs = to_numpy(run_eagerly(lambda: run(counting, 10, **limits)))
    assert counting.calls == 3
    assert outputs["lengths"].max() == 3


# === Alignments ===


def alignment_model(vocab, seed):
    """A Markov step whose alignments are `[step + 1, prefix code, previous token]`.

    The prefix code is `1` followed by the generated tokens in base `vocab`,
    so the alignments show which ancestry each returned position came from.
    """
    rng = np.random.RandomState(seed)
    table = rng.randn(vocab, vocab).astype("float32")
    table[:, EOS] += np.linspace(-1.0, 2.0, vocab).astype("float32")

    def step_fn(tokens, state):
        logits = ops.take(table, tokens, axis=0) + 0.1 * state["code"][:, None]
        alignments = ops.stack(
            [state["step"] + 1.0, state["code"], ops.cast(tokens, "float32")], axis=1
        )
        new_state = {
            "step": state["step"] + 1.0,
            "code": state["code"] * vocab + ops.cast(tokens, "float32"),
        }
        return logits, new_state, alignments

    return step_fn


def expected_alignments(start, tokens, length, vocab, max_length):
    rows, code, previous = [], 1.0, start
    for step, token in enumerate(tokens[:length]):
        rows.append([step + 1.0, code, float(previous)])
        code, previous = code * vocab + previous, token
    return np.array(rows + [[0.0] * 3] * (max_length - length), "float32").reshape(-1, 3)


def test_alignments_follow_each_hypothesis_ancestry_and_are_zero_after_it_finished():
    vocab, max_length = 4, 5
    step_fn = alignment_model(vocab, seed=1)
    start = np.array([0, 2], "int32")
    state = {"step": np.zeros(2, "float32"), "code": np.ones(2, "float32")}
    outputs = to_numpy(
        decoding.beam_search(
            step_fn,
            state,
            start,
            EOS,
            max_length,
            beam_width=3,
            num_results=3,
            return_alignments=True,
        )
    )
    assert outputs["alignments"].shape == (2, 3, max_length, 3)
    assert len(set(outputs["lengths"].ravel().tolist())) > 1  # some finish early
    for example in range(2):
        for result in range(3):
            tokens = outputs["tokens"][example, result].tolist()
            length = outputs["lengths"][example, result]
            np.testing.assert_array_equal(
                outputs["alignments"][example, result],
                expected_alignments(start[example], tokens, length, vocab, max_length),
            )
    greedy = to_numpy(
        decoding.greedy_search(step_fn, state, start, EOS, max_length, return_alignments=True)
    )
    for example in range(2):
        np.testing.assert_array_equal(
            greedy["alignments"][example],
            expected_alignments(
                start[example],
                greedy["tokens"][example].tolist(),
                greedy["lengths"][example],
                vocab,
                max_length,
            ),
        )


# === Tracing ===


def traced_inputs():
    model = RandomModel(vocab=6, seed=4)
    state = model.initial_state(3)
    return model, state["h"], np.array([0, 1, 4], "int32"), np.array([2, 5, 3], "int32")


def decode_all(model, h, start, source_lengths, beam_width=3):
    """Both searches with a state, a tiled closure and alignments."""
    memory = decoding.tile_batch(h, beam_width)

    def step(tokens, state, memory):
        logits, new_state = model.step(tokens, state)
        alignments = ops.softmax(memory * state["h"], axis=-1)
        return logits, new_state, alignments

    zeros = ops.zeros_like(start)
    state = {"h": h, "history": [zeros, zeros], "unused": None}
    limits = dict(source_lengths=source_lengths, max_length_ratio=1.0, max_length_offset=1)
    greedy = decoding.greedy_search(
        lambda t, s: step(t, s, h), state, start, EOS, 6, return_alignments=True, **limits
    )
    beam = decoding.beam_search(
        lambda t, s: step(t, s, memory),
        state,
        start,
        EOS,
        6,
        beam_width=beam_width,
        length_penalty=0.8,
        num_results=2,
        return_alignments=True,
        **limits,
    )
    return {**{f"greedy_{k}": v for k, v in greedy.items()}, **beam}


def assert_same(traced, eager):
    assert traced.keys() == eager.keys()
    for key in eager:
        np.testing.assert_allclose(traced[key], eager[key], rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.tensorflow_only
def test_runs_inside_tf_function_with_a_dynamic_batch_and_exports(tmp_path):
    import tensorflow as tf

    model, h, start, source_lengths = traced_inputs()
    eager = to_numpy(decode_all(model, h, start, source_lengths))

    class Decoder(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec((None, h.shape[1]), tf.float32),
                tf.TensorSpec((None,), tf.int32),
                tf.TensorSpec((None,), tf.int32),
            ]
        )
        def decode(self, h, start, source_lengths):
            return decode_all(model, h, start, source_lengths)

    decoder = Decoder()
    assert_same(to_numpy(decoder.decode(h, start, source_lengths)), eager)
    graph = decoder.decode.get_concrete_function().graph.as_graph_def()
    op_types = {node.op for node in graph.node}
    for function in graph.library.function:
        op_types |= {node.op for node in function.node_def}
    assert "While" in op_types or "StatelessWhile" in op_types
    assert not {op for op in op_types if "Scatter" in op or "Update" in op or "Assign" in op}
    tf.saved_model.save(decoder, str(tmp_path))
    restored = tf.saved_model.load(str(tmp_path))
    assert_same(
        to_numpy(restored.decode(h[:2], start[:2], source_lengths[:2])),
        {key: value[:2] for key, value in eager.items()},
    )


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="needs JAX")
def test_runs_inside_jax_jit():
    import jax

    model, h, start, source_lengths = traced_inputs()
    eager = to_numpy(decode_all(model, h, start, source_lengths))
    jitted = jax.jit(lambda h, start, lengths: decode_all(model, h, start, lengths))
    assert_same(to_numpy(jitted(h, start, source_lengths)), eager)


# === Argument errors ===


def valid_arguments():
    return dict(
        step_fn=markov_step(GREEDY_TRAP),
        initial_state={},
        start_tokens=np.zeros(2, "int32"),
        end_token=EOS,
        max_length=3,
    )


COMMON_ERRORS = [
    ({"step_fn": "not callable"}, "step_fn"),
    ({"end_token": -1}, "end_token"),
    ({"end_token": 1.0}, "end_token"),
    ({"end_token": None}, "end_token"),
    ({"pad_token": -2}, "pad_token"),
    ({"max_length": 0}, "max_length"),
    ({"max_length": 2.5}, "max_length"),
    ({"max_length": True}, "max_length"),
    ({"max_length_ratio": 1.0}, "source_lengths"),
    ({"source_lengths": np.array([1, 2])}, "max_length_ratio"),
    ({"source_lengths": np.array([1, 2]), "max_length_ratio": 0.0}, "max_length_ratio"),
    ({"source_lengths": np.array([[1, 2]]), "max_length_ratio": 1.0}, "source_lengths"),
    ({"max_length_offset": "1"}, "max_length_offset"),
    ({"start_tokens": np.zeros((2, 1), "int32")}, "start_tokens"),
    ({"start_tokens": np.zeros(2, "float32")}, "start_tokens"),
    ({"start_tokens": 0}, "start_tokens"),  # no tensor in initial_state for the batch size
    ({"start_tokens": -1}, "start_tokens"),
    ({"return_alignments": 1}, "return_alignments"),
    ({"return_alignments": True}, "alignments"),  # the step returns two values
]

BEAM_ERRORS = [
    ({"beam_width": 0}, "beam_width"),
    ({"beam_width": 2.0}, "beam_width"),
    ({"num_results": 0}, "num_results"),
    ({"num_results": 5}, "num_results"),  # above beam_width=4
    ({"length_penalty": -0.5}, "length_penalty"),
    ({"length_penalty": "0.6"}, "length_penalty"),
]


@pytest.mark.parametrize("search", ["greedy", "beam"])
@pytest.mark.parametrize("overrides, name", COMMON_ERRORS, ids=[n for _, n in COMMON_ERRORS])
def test_invalid_arguments_raise_a_value_error_naming_them(search, overrides, name):
    search_fn = decoding.greedy_search if search == "greedy" else decoding.beam_search
    with pytest.raises(ValueError, match=name):
        search_fn(**{**valid_arguments(), **overrides})


@pytest.mark.parametrize("overrides, name", BEAM_ERRORS, ids=[n for _, n in BEAM_ERRORS])
def test_invalid_beam_arguments_raise_a_value_error_naming_them(overrides, name):
    with pytest.raises(ValueError, match=name):
        decoding.beam_search(**{**valid_arguments(), **overrides})


def test_step_fn_must_keep_the_state_structure_and_tile_batch_checks_its_arguments():
    def drops_a_leaf(tokens, state):
        return ops.zeros((ops.shape(tokens)[0], 3)), {"h": state["h"], "c": None}

    state = {"h": np.zeros((2, 1), "float32"), "c": np.zeros((2, 1), "float32")}
    with pytest.raises(ValueError, match="structure"):
        decoding.greedy_search(drops_a_leaf, state, 0, EOS, 3)
    with pytest.raises(ValueError, match="multiplier"):
        decoding.tile_batch(state, 0)
    with pytest.raises(ValueError, match="structure"):
        decoding.tile_batch({"scalar": np.float32(1.0)}, 2)
