"""Greedy and beam search over any step function with a nested state.

The search runs in-graph: `keras.ops` only, one `keras.ops.while_loop` that
stops as soon as every hypothesis is finished, and fixed-shape output buffers
written with elementwise `where` (no scatter or slice updates), so it traces
inside a `tf.function` (and exports into a SavedModel with plain TensorFlow
ops) and inside `jax.jit`.

We checked `keras_hub.samplers` (`GreedySampler`, `BeamSampler`) first. They
fill a fixed-width prompt of a decoder-only model through `next(prompt,
cache, index)` with `slice_update`, keep extending beams that already emitted
the end token (no frozen finished hypotheses), and have no length penalty,
no per-example maximum length, no n-best scores from the greedy path and no
alignments, so the search is written here instead of bending them.
"""

import numbers

import keras
from keras import ops

from toolkit.arguments import check_positive_float
from toolkit.arguments import check_positive_int
from toolkit.decoding.beams import batch_offsets
from toolkit.decoding.beams import gather_rows
from toolkit.decoding.beams import tile_batch
from toolkit.decoding.top_k import top_k

_NEG_INF = float("-inf")


# === Argument checks ===


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_token(argument_name, value):
    if not _is_int(value) or value < 0:
        raise ValueError(
            f"Argument `{argument_name}` expected a non-negative integer token id. "
            f"Received: {argument_name}={value!r}"
        )
    return int(value)


def _check_number(argument_name, value, minimum=None):
    valid = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not valid or (minimum is not None and value < minimum):
        requirement = "a number" if minimum is None else f"a number >= {minimum}"
        raise ValueError(
            f"Argument `{argument_name}` expected {requirement}. "
            f"Received: {argument_name}={value!r}"
        )
    return float(value)


def _check_vector(argument_name, value, integer):
    if value is None:
        return None
    tensor = ops.convert_to_tensor(value)
    dtype = keras.backend.standardize_dtype(tensor.dtype)
    if len(tensor.shape) != 1 or (integer and "int" not in dtype):
        kind = "an integer tensor" if integer else "a tensor"
        raise ValueError(
            f"Argument `{argument_name}` expected {kind} of shape (batch,). "
            f"Received: {argument_name} with shape {tuple(tensor.shape)} and dtype {dtype}"
        )
    return tensor


def _check_common(
    step_fn,
    end_token,
    max_length,
    source_lengths,
    max_length_ratio,
    max_length_offset,
    pad_token,
    return_alignments,
):
    if not callable(step_fn):
        raise ValueError(f"Argument `step_fn` expected a callable. Received: step_fn={step_fn!r}")
    _check_token("end_token", end_token)
    _check_token("pad_token", pad_token)
    check_positive_int("max_length", max_length)
    check_positive_float("max_length_ratio", max_length_ratio, allow_none=True)
    _check_number("max_length_offset", max_length_offset)
    if (source_lengths is None) != (max_length_ratio is None):
        raise ValueError(
            "Arguments `source_lengths` and `max_length_ratio` go together: the "
            "per-example limit is floor(max_length_ratio * source_lengths + "
            "max_length_offset). Received: source_lengths="
            f"{'None' if source_lengths is None else 'a tensor'}, "
            f"max_length_ratio={max_length_ratio!r}"
        )
    if not isinstance(return_alignments, bool):
        raise ValueError(
            "Argument `return_alignments` expected a boolean. "
            f"Received: return_alignments={return_alignments!r}"
        )


# === Scores ===


def _penalised(log_probs, lengths, alpha):
    """GNMT length penalty (Wu et al., 2016): `log P / ((5 + |Y|) / 6) ** alpha`."""
    if alpha == 0.0:
        return log_probs
    lengths = ops.cast(lengths, "float32")
    return log_probs / ops.power((5.0 + lengths) / 6.0, alpha)


def _greedy_select(log_probs, log_prob_sums, lengths, finished, time):
    del lengths, time
    tokens = ops.cast(ops.argmax(log_probs, axis=-1), "int32")  # (batch, 1)
    chosen = ops.take_along_axis(log_probs, tokens[:, :, None], axis=-1)[:, :, 0]
    sums = ops.where(finished, log_prob_sums, log_prob_sums + chosen)
    return ops.zeros_like(tokens), tokens, sums


def _beam_select(beam_width, alpha):
    def select(log_probs, log_prob_sums, lengths, finished, time):
        vocab_size = ops.shape(log_probs)[-1]
        finished = finished[:, :, None]
        sums = log_prob_sums[:, :, None]
        # A live beam proposes every token, its new length is `time + 1`; a
        # finished beam proposes one candidate (column 0), itself unchanged.
        first_column = ops.arange(vocab_size) == 0
        candidates = ops.where(finished, ops.where(first_column, sums, _NEG_INF), sums + log_probs)
        scores = ops.where(
            finished,
            _penalised(candidates, lengths[:, :, None], alpha),
            _penalised(candidates, time + 1, alpha),
        )
        flat_shape = (-1, beam_width * vocab_size)
        _, indices = top_k(ops.reshape(scores, flat_shape), beam_width)
        parents = ops.floor_divide(indices, vocab_size)
        tokens = ops.mod(indices, vocab_size)
        sums = ops.take_along_axis(ops.reshape(candidates, flat_shape), indices, axis=1)
        return parents, tokens, sums

    return select


# === The loop ===


def _write(buffer, values, time, max_length, live, filler):
    """Writes `values` (rows, ...) at position `time` of `buffer` (rows, max_length, ...).

    An elementwise `where` against a one-hot of `time`; rows where `live` is
    false keep the buffer. A `None` buffer starts as `filler` (broadcast).
    """
    values = ops.expand_dims(values, 1)
    trailing = (1,) * (len(values.shape) - 2)
    mask = ops.reshape(ops.equal(ops.arange(max_length), time), (1, max_length) + trailing)
    if live is not None:
        mask = ops.logical_and(mask, ops.reshape(live, (-1, 1) + trailing))
    return ops.where(mask, values, filler if buffer is None else buffer)


def _decode(
    step_fn,
    initial_state,
    start_tokens,
    end_token,
    max_length,
    beam_width,
    select,
    source_lengths,
    max_length_ratio,
    max_length_offset,
    pad_token,
    return_alignments,
):
    """Runs the search on `batch * beam_width` rows.

    Returns `(tokens, lengths, log_prob_sums, alignments, offsets)`: tokens
    `(rows, max_length)`, lengths and sums `(batch, beam_width)`, alignments
    `(rows, max_length, ...)` or `None`, offsets `(batch,)` = `b * beam_width`.
    """
    flat_initial = keras.tree.flatten(initial_state)
    first_tensor = next((x for x in flat_initial if x is not None), None)
    if _is_int(start_tokens):
        start = _check_token("start_tokens", start_tokens)
        if first_tensor is None:
            raise ValueError(
                "Argument `start_tokens` is an integer, so the batch size is read from "
                "`initial_state`, which holds no tensor. Pass `start_tokens` as a "
                f"(batch,) tensor. Received: start_tokens={start_tokens!r}, "
                f"initial_state={initial_state!r}"
            )
        batch_tokens = ops.zeros(ops.shape(ops.convert_to_tensor(first_tensor))[:1], "int32")
        batch_tokens = batch_tokens + start
    else:
        batch_tokens = ops.cast(_check_vector("start_tokens", start_tokens, integer=True), "int32")

    if source_lengths is None:
        limits = max_length
    else:
        source = ops.cast(source_lengths, "float32")
        limits = ops.floor(max_length_ratio * source + max_length_offset)
        limits = ops.cast(ops.clip(limits, 1.0, float(max_length)), "int32")[:, None]

    template = initial_state
    none_positions = [x is None for x in flat_initial]
    flat_state = [
        ops.convert_to_tensor(x)
        for x in keras.tree.flatten(tile_batch(initial_state, beam_width))
        if x is not None
    ]

    def call_step(tokens, tensors):
        leaves = iter(tensors)
        flat = [None if is_none else next(leaves) for is_none in none_positions]
        state = keras.tree.pack_sequence_as(template, flat)
        outputs = step_fn(tokens, state)
        expected = 3 if return_alignments else 2
        if not isinstance(outputs, (tuple, list)) or len(outputs) not in (expected, 3):
            shape = "(logits, new_state" + (", alignments)" if return_alignments else ")")
            raise ValueError(
                f"`step_fn(tokens, state)` must return {shape} when "
                f"return_alignments={return_alignments}. Received: {outputs!r}"
            )
        new_flat = keras.tree.flatten(outputs[1])
        if [x is None for x in new_flat] != none_positions:
            raise ValueError(
                "`step_fn` must return a new state with the structure of the state it "
                f"received. Received: {outputs[1]!r}, expected the structure of "
                f"{initial_state!r}"
            )
        alignments = outputs[2] if return_alignments else None
        return outputs[0], [x for x in new_flat if x is not None], alignments

    def advance(time, tokens, sums, lengths, finished, token_buffer, align_buffer, tensors):
        logits, tensors, step_alignments = call_step(tokens, tensors)
        log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        log_probs = ops.reshape(log_probs, (-1, beam_width, ops.shape(log_probs)[-1]))
        parents, new_tokens, sums = select(log_probs, sums, lengths, finished, time)
        parent_finished = ops.take_along_axis(finished, parents, axis=1)
        live = ops.logical_not(parent_finished)
        new_tokens = ops.cast(new_tokens, "int32")
        lengths = ops.where(live, time + 1, ops.take_along_axis(lengths, parents, axis=1))
        finished = ops.logical_or(
            ops.logical_or(
                parent_finished, ops.logical_and(live, ops.equal(new_tokens, end_token))
            ),
            # A dead candidate (-inf: a filler pick when fewer than beam_width
            # candidates are possible) is finished at once.
            ops.logical_or(ops.greater_equal(lengths, limits), ops.equal(sums, _NEG_INF)),
        )
        if beam_width > 1:
            rows = ops.reshape(offsets[:, None] + parents, (-1,))
            tensors = gather_rows(tensors, rows)
            buffers = [token_buffer, align_buffer, step_alignments]
            token_buffer, align_buffer, step_alignments = gather_rows(buffers, rows)
        flat_live = ops.reshape(live, (-1,))
        new_tokens = ops.reshape(new_tokens, (-1,))
        written = ops.where(flat_live, new_tokens, pad_token)
        token_buffer = ops.cast(
            _write(token_buffer, written, time, max_length, None, pad_token), "int32"
        )
        # Finished rows are fed the end token (always a valid input id).
        tokens = ops.where(ops.reshape(finished, (-1,)), end_token, new_tokens)
        if step_alignments is not None:
            zeros = ops.zeros_like(ops.expand_dims(step_alignments, 1))
            align_buffer = _write(align_buffer, step_alignments, time, max_length, flat_live, zeros)
        return tokens, sums, lengths, finished, token_buffer, align_buffer, tensors

    offsets = batch_offsets(batch_tokens, beam_width)
    initial_sums = ops.convert_to_tensor([[0.0] + [_NEG_INF] * (beam_width - 1)], "float32")
    sums = ops.zeros_like(ops.cast(batch_tokens, "float32"))[:, None] + initial_sums
    lengths = ops.zeros_like(ops.cast(sums, "int32"))
    # Beams 1.. start dead (-inf) so that the first step expands beam 0 only.
    finished = ops.equal(sums, _NEG_INF)
    tokens = tile_batch(batch_tokens, beam_width)
    # The first step runs outside the loop: it gives the alignment buffer its
    # shape and dtype, and builds any lazily built layer outside the loop.
    carry = advance(0, tokens, sums, lengths, finished, None, None, flat_state)
    tokens, sums, lengths, finished, token_buffer, align_buffer, flat_state = carry

    has_alignments = align_buffer is not None
    num_fixed = 7 if has_alignments else 6  # time, tokens, ..., buffers

    def unpack(loop_vars):
        fixed = list(loop_vars[:num_fixed])
        if not has_alignments:
            fixed.append(None)
        return fixed + [list(loop_vars[num_fixed:])]

    def pack(time, tokens, sums, lengths, finished, token_buffer, align_buffer, tensors):
        fixed = [time, tokens, sums, lengths, finished, token_buffer]
        if has_alignments:
            fixed.append(align_buffer)
        return tuple(fixed) + tuple(tensors)

    def cond(time, tokens, sums, lengths, finished, *rest):
        return ops.logical_and(ops.less(time, max_length), ops.logical_not(ops.all(finished)))

    def body(*loop_vars):
        time, *carry = unpack(loop_vars)
        return pack(time + 1, *advance(time, *carry))

    loop_vars = pack(
        ops.convert_to_tensor(1, "int32"),
        tokens,
        sums,
        lengths,
        finished,
        token_buffer,
        align_buffer,
        flat_state,
    )
    loop_vars = ops.while_loop(cond, body, loop_vars)
    _, _, sums, lengths, _, token_buffer, align_buffer, _ = unpack(loop_vars)
    return token_buffer, lengths, sums, align_buffer, offsets


# === Public API ===


def greedy_search(
    step_fn,
    initial_state,
    start_tokens,
    end_token,
    max_length,
    source_lengths=None,
    max_length_ratio=None,
    max_length_offset=0,
    pad_token=0,
    return_alignments=False,
):
    """Greedy search: the most likely next token at every step.

    Each row feeds its previous token to `step_fn` and appends the argmax of
    the returned logits. A row that emits `end_token` (kept in the output and
    counted in its length) or reaches its maximum length is finished: it is
    never extended again, its score stays, and later positions hold
    `pad_token`. The loop (`keras.ops.while_loop`) stops as soon as every row
    is finished, so it runs inside a `tf.function` or `jax.jit`.

    Args:
        step_fn: Callable `step_fn(tokens, state) -> (logits, new_state)`;
            `tokens` int32 `(batch,)` are the previous tokens (`end_token` for
            finished rows), `logits` `(batch, vocab)` are unnormalised
            (`log_softmax` is applied inside, in float32), `new_state` has the
            structure, shapes and dtypes of `state`. With
            `return_alignments=True` it returns `(logits, new_state,
            alignments)`, alignments `(batch, source_time)`. It must be
            traceable (called inside the loop body); it is called once
            before the loop as well.
        initial_state: Any nested structure (dicts, lists, tuples) of tensors
            `(batch, ...)`; `None` leaves are passed through.
        start_tokens: Integer, or int tensor `(batch,)`: the token fed at the
            first step. The batch size comes from it when it is a tensor,
            else from the first tensor of `initial_state`.
        end_token: Non-negative integer, the end-of-sequence token id.
        max_length: Positive integer, the maximum number of generated tokens
            and the width of the outputs.
        source_lengths: Optional int tensor `(batch,)`; with
            `max_length_ratio`, the per-example limit is
            `min(max_length, floor(max_length_ratio * source_lengths +
            max_length_offset))`, at least 1 (computed in float32). A row
            reaching its limit without `end_token` is finished (truncated).
        max_length_ratio: Positive float, required with `source_lengths`.
        max_length_offset: Number added to the scaled source length
            (default `0`).
        pad_token: Non-negative integer written after a row finished
            (default `0`).
        return_alignments: Boolean (default `False`): also return the
            alignments the step function reports.

    Returns:
        A dict: `"tokens"` int32 `(batch, max_length)`; `"lengths"` int32
        `(batch,)`; `"scores"` float32 `(batch,)`, the sum of the log-probs of
        the generated tokens; and with `return_alignments`, `"alignments"`
        `(batch, max_length, source_time)`, zeros after a row finished.

    Example:

    >>> import numpy as np
    >>> table = np.log(np.array([[.1, .1, .5, .3],    # after token 0 (start)
    ...                          [.25, .25, .25, .25],
    ...                          [.1, .4, .25, .25],  # after 2: end (1) is .4
    ...                          [.02, .9, .04, .04]], "float32"))
    >>> def step_fn(tokens, state):  # a Markov chain: no state needed
    ...     return keras.ops.take(table, tokens, axis=0), state
    >>> out = greedy_search(step_fn, {}, start_tokens=np.array([0], "int32"),
    ...                     end_token=1, max_length=4)
    >>> keras.ops.convert_to_numpy(out["tokens"]).tolist()
    [[2, 1, 0, 0]]
    >>> keras.ops.convert_to_numpy(out["lengths"]).tolist()
    [2]
    >>> round(float(keras.ops.convert_to_numpy(out["scores"])[0]), 4)  # log(.5 * .4)
    -1.6094
    """
    _check_common(
        step_fn,
        end_token,
        max_length,
        source_lengths,
        max_length_ratio,
        max_length_offset,
        pad_token,
        return_alignments,
    )
    source_lengths = _check_vector("source_lengths", source_lengths, integer=False)
    tokens, lengths, sums, alignments, _ = _decode(
        step_fn,
        initial_state,
        start_tokens,
        end_token,
        max_length,
        1,
        _greedy_select,
        source_lengths,
        max_length_ratio,
        max_length_offset,
        pad_token,
        return_alignments,
    )
    outputs = {"tokens": tokens, "lengths": lengths[:, 0], "scores": sums[:, 0]}
    if return_alignments:
        outputs["alignments"] = alignments
    return outputs


def beam_search(
    step_fn,
    initial_state,
    start_tokens,
    end_token,
    max_length,
    beam_width=4,
    length_penalty=0.0,
    num_results=1,
    source_lengths=None,
    max_length_ratio=None,
    max_length_offset=0,
    pad_token=0,
    return_alignments=False,
):
    """Beam search with the GNMT length penalty and frozen finished beams.

    Keeps `beam_width` hypotheses per example. At each step every live beam
    proposes each vocabulary token (its new length is the step count), and a
    finished beam proposes only itself, unchanged; the `beam_width` best
    candidates by penalised score `log P(Y) / ((5 + |Y|) / 6) ** alpha`
    (Wu et al., 2016; `alpha = length_penalty`) survive, as in
    `tfa.seq2seq.BeamSearchDecoder`. At the first step only beam 0 is live, so
    beams are not duplicates. A beam that emits `end_token` (kept in the
    output and counted in its length) or reaches its maximum length is
    finished: never extended, score unchanged, later positions `pad_token`.
    The loop (`keras.ops.while_loop`) stops as soon as every beam is
    finished; it runs inside a `tf.function` or `jax.jit`, with plain ops.

    The search runs on `rows = batch * beam_width` rows, row
    `b * beam_width + k` being beam `k` of example `b`. `initial_state` is
    given batch-major and tiled here (`tile_batch`), and the state is
    reordered by parent beam at every step. Anything `step_fn` closes over
    (e.g. the encoder memory and its mask) is not seen by the search and must
    be tiled by the caller with `tile_batch(x, beam_width)`.

    Args:
        step_fn: Callable `step_fn(tokens, state) -> (logits, new_state)`
            on rows: `tokens` int32 `(rows,)` are the previous tokens
            (`end_token` for finished beams), `logits` `(rows, vocab)` are
            unnormalised (`log_softmax` is applied inside, in float32),
            `new_state` has the structure, shapes and dtypes of `state`. With
            `return_alignments=True` it returns `(logits, new_state,
            alignments)`, alignments `(rows, source_time)`. It must be
            traceable (called inside the loop body); it is called once
            before the loop as well.
        initial_state: Any nested structure (dicts, lists, tuples) of tensors
            `(batch, ...)`, batch-major (not tiled); `None` leaves are passed
            through.
        start_tokens: Integer, or int tensor `(batch,)`: the token fed at the
            first step. The batch size comes from it when it is a tensor,
            else from the first tensor of `initial_state`.
        end_token: Non-negative integer, the end-of-sequence token id.
        max_length: Positive integer, the maximum number of generated tokens
            and the width of the outputs.
        beam_width: Positive integer (default `4`), beams per example.
        length_penalty: Float `alpha >= 0` of the GNMT length penalty
            (default `0.0`, no penalty).
        num_results: Integer in `[1, beam_width]` (default `1`), the number
            of hypotheses returned per example, best first.
        source_lengths: Optional int tensor `(batch,)`; with
            `max_length_ratio`, the per-example limit is
            `min(max_length, floor(max_length_ratio * source_lengths +
            max_length_offset))`, at least 1 (computed in float32). A beam
            reaching its limit without `end_token` is finished (truncated).
        max_length_ratio: Positive float, required with `source_lengths`.
        max_length_offset: Number added to the scaled source length
            (default `0`).
        pad_token: Non-negative integer written after a beam finished
            (default `0`).
        return_alignments: Boolean (default `False`): also return the
            alignments along each hypothesis' ancestry.

    Returns:
        A dict, hypotheses sorted best first: `"tokens"` int32
        `(batch, num_results, max_length)`; `"lengths"` int32
        `(batch, num_results)`; `"scores"` float32 `(batch, num_results)`,
        the penalised scores; `"log_probs"` float32 `(batch, num_results)`,
        the unpenalised sums of log-probs; and with `return_alignments`,
        `"alignments"` `(batch, num_results, max_length, source_time)`, zeros
        after a hypothesis finished. When fewer than `num_results` hypotheses
        have a finite probability, the rest have score `-inf` (and
        meaningless tokens).

    Example:

    >>> import numpy as np
    >>> table = np.log(np.array([[.1, .1, .5, .3],    # after token 0 (start)
    ...                          [.25, .25, .25, .25],
    ...                          [.1, .4, .25, .25],  # after 2: end (1) is .4
    ...                          [.02, .9, .04, .04]], "float32"))
    >>> def step_fn(tokens, state):  # a Markov chain: no state needed
    ...     return keras.ops.take(table, tokens, axis=0), state
    >>> out = beam_search(step_fn, {}, start_tokens=np.array([0], "int32"),
    ...                   end_token=1, max_length=4, beam_width=2, num_results=2)
    >>> keras.ops.convert_to_numpy(out["tokens"]).tolist()  # greedy finds [2, 1]
    [[[3, 1, 0, 0], [2, 1, 0, 0]]]
    >>> keras.ops.convert_to_numpy(out["lengths"]).tolist()
    [[2, 2]]
    >>> [round(s, 4) for s in keras.ops.convert_to_numpy(out["scores"])[0].tolist()]
    [-1.3093, -1.6094]
    """
    _check_common(
        step_fn,
        end_token,
        max_length,
        source_lengths,
        max_length_ratio,
        max_length_offset,
        pad_token,
        return_alignments,
    )
    check_positive_int("beam_width", beam_width)
    if not _is_int(num_results) or not 1 <= num_results <= beam_width:
        raise ValueError(
            f"Argument `num_results` expected an integer in [1, beam_width={beam_width}]. "
            f"Received: num_results={num_results!r}"
        )
    alpha = _check_number("length_penalty", length_penalty, minimum=0)
    source_lengths = _check_vector("source_lengths", source_lengths, integer=False)
    token_buffer, lengths, sums, align_buffer, offsets = _decode(
        step_fn,
        initial_state,
        start_tokens,
        end_token,
        max_length,
        beam_width,
        _beam_select(beam_width, alpha),
        source_lengths,
        max_length_ratio,
        max_length_offset,
        pad_token,
        return_alignments,
    )
    scores, order = ops.top_k(_penalised(sums, lengths, alpha), num_results)
    order = ops.cast(order, "int32")
    rows = ops.reshape(offsets[:, None] + order, (-1,))

    def per_result(buffer):
        return ops.reshape(
            ops.take(buffer, rows, axis=0), (-1, num_results) + tuple(ops.shape(buffer)[1:])
        )

    outputs = {
        "tokens": per_result(token_buffer),
        "lengths": ops.take_along_axis(lengths, order, axis=1),
        "scores": scores,
        "log_probs": ops.take_along_axis(sums, order, axis=1),
    }
    if return_alignments:
        outputs["alignments"] = per_result(align_buffer)
    return outputs
