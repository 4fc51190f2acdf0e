"""Independent NumPy references for `toolkit.attention`.

Each function is written from the papers' equations with explicit Python
loops over batch, query and memory positions, in float64. Weights are read by
name from a built toolkit layer (`layer.query_kernel`, `layer.attention_v`,
...) and nothing else of the toolkit is used: options come from the caller
(the same keyword arguments the test gave to the layer), so a layer that
misreads an option disagrees with its reference.

Mechanisms take `query` `(batch, query_dim)` or `(batch, query_time,
query_dim)`, `memory` `(batch, memory_time, memory_dim)` and `mask` `None` or
boolean `(batch, memory_time)`, and return `(context, alignments)` with the
query's leading axes. Masked positions get weight 0; a row with no valid
position gets all-zero weights and a zero context.
"""

import keras
import numpy as np


def weight(layer, name):
    """`layer.<name>` as a float64 array."""
    return keras.ops.convert_to_numpy(getattr(layer, name)).astype("float64")


def softmax(scores, valid):
    """Softmax of a vector over its `valid` positions; zeros elsewhere."""
    scores = np.asarray(scores, "float64")
    weights = np.zeros_like(scores)
    if valid.any():
        shifted = np.exp(scores[valid] - scores[valid].max())
        weights[valid] = shifted / shifted.sum()
    return weights


def _attend(query, memory, mask, score_fn, previous_alignments=None):
    """`alpha_j = softmax_j(e_j)`, `c = sum_j alpha_j h_j` for every query.

    `score_fn(b, q, h, previous)` returns the vector of scores `e` over the
    memory positions of batch entry `b` for one query vector `q`.
    """
    query = np.asarray(query, "float64")
    memory = np.asarray(memory, "float64")
    squeeze = query.ndim == 2
    if squeeze:
        query = query[:, None, :]
        if previous_alignments is not None:
            previous_alignments = np.asarray(previous_alignments)[:, None, :]
    batch, query_time, _ = query.shape
    memory_time = memory.shape[1]
    if mask is None:
        mask = np.ones((batch, memory_time), bool)
    mask = np.asarray(mask, bool)
    contexts = np.zeros((batch, query_time, memory.shape[2]))
    alignments = np.zeros((batch, query_time, memory_time))
    for b in range(batch):
        for i in range(query_time):
            previous = None if previous_alignments is None else previous_alignments[b, i]
            scores = score_fn(b, query[b, i], memory[b], previous)
            alpha = softmax(scores, mask[b])
            alignments[b, i] = alpha
            contexts[b, i] = sum(alpha[j] * memory[b, j] for j in range(memory_time))
    if squeeze:
        return contexts[:, 0], alignments[:, 0]
    return contexts, alignments


def bahdanau(layer, query, memory, mask=None, normalize=False):
    """Bahdanau et al. (2014): `e_j = v^T tanh(W_1 q + W_2 h_j)`.

    With `normalize` (Salimans & Kingma, 2016, as TensorFlow Addons):
    `e_j = (g v / ||v||)^T tanh(W_1 q + W_2 h_j + b)`.
    """
    w1 = weight(layer, "query_kernel")
    w2 = weight(layer, "memory_kernel")
    v = weight(layer, "attention_v")
    bias = np.zeros(v.shape)
    if normalize:
        v = weight(layer, "attention_g") * v / np.sqrt(np.sum(v * v))
        bias = weight(layer, "attention_b")

    def score(b, q, h, previous):
        return np.array([v @ np.tanh(q @ w1 + h_j @ w2 + bias) for h_j in h])

    return _attend(query, memory, mask, score)


def luong(layer, query, memory, mask=None, score="general", scale=False):
    """Luong et al. (2015): `dot` `q^T h_j`; `general` `q^T W_a h_j`;
    `concat` `v^T tanh(W_a [q; h_j])`; times `g` with `scale`.

    For `concat`, `W_a [q; h_j]` is `q W_q + h_j W_k` with the layer's
    `query_kernel` `W_q` and `memory_kernel` `W_k` (the two halves of `W_a`).
    """
    g = weight(layer, "attention_g") if scale else 1.0
    if score == "dot":
        score_fn = lambda b, q, h, previous: np.array([q @ h_j for h_j in h])
    elif score == "general":
        w_a = weight(layer, "memory_kernel")  # (memory_dim, query_dim)
        score_fn = lambda b, q, h, previous: np.array([q @ (h_j @ w_a) for h_j in h])
    elif score == "concat":
        w_q = weight(layer, "query_kernel")
        w_k = weight(layer, "memory_kernel")
        v = weight(layer, "attention_v")
        w_a = np.concatenate([w_q, w_k], axis=0)

        def score_fn(b, q, h, previous):
            return np.array([v @ np.tanh(np.concatenate([q, h_j]) @ w_a) for h_j in h])
    else:
        raise ValueError(score)
    return _attend(query, memory, mask, lambda *a: g * score_fn(*a))


def same_padded_correlation(signal, filters):
    """Keras/TensorFlow `Conv1D(padding="same")` of a 1-D `signal` `(time,)`.

    `filters` `(kernel_size, 1, channels)`; output `(time, channels)`. The
    `kernel_size - 1` padded zeros go `(kernel_size - 1) // 2` before and the
    rest after.
    """
    kernel_size, _, channels = filters.shape
    before = (kernel_size - 1) // 2
    padded = np.concatenate([np.zeros(before), signal, np.zeros(kernel_size - 1 - before)])
    out = np.zeros((len(signal), channels))
    for j in range(len(signal)):
        for m in range(kernel_size):
            out[j] += padded[j + m] * filters[m, 0]
    return out


def location_aware(layer, query, memory, previous_alignments, mask=None):
    """Chorowski et al. (2015): `f = F * alpha_prev`,
    `e_j = w^T tanh(W s + V h_j + U f_j + b)`.

    `previous_alignments` is shaped like the returned alignments.
    """
    w = weight(layer, "query_kernel")
    v_kernel = weight(layer, "memory_kernel")
    f_filters = weight(layer, "location_filters")
    u = weight(layer, "location_kernel")
    bias = weight(layer, "attention_b")
    w_vec = weight(layer, "attention_v")

    def score(b, s, h, previous):
        f = same_padded_correlation(np.asarray(previous, "float64"), f_filters)
        return np.array(
            [w_vec @ np.tanh(s @ w + h[j] @ v_kernel + f[j] @ u + bias) for j in range(len(h))]
        )

    return _attend(query, memory, mask, score, previous_alignments)


def location_aware_decode(layer, queries, memory, mask=None, cumulative=False):
    """Runs `location_aware` step by step over `queries` `(batch, steps, dim)`.

    The alignment state starts at zeros and is the previous alignments, or
    with `cumulative` their running sum (Tacotron 2). Returns the per-step
    contexts `(batch, steps, memory_dim)`, alignments `(batch, steps,
    memory_time)` and the final state.
    """
    batch, steps, _ = queries.shape
    state = np.zeros((batch, memory.shape[1]))
    contexts, alignments = [], []
    for t in range(steps):
        context, alpha = location_aware(layer, queries[:, t], memory, state, mask)
        state = state + alpha if cumulative else alpha
        contexts.append(context)
        alignments.append(alpha)
    return np.stack(contexts, 1), np.stack(alignments, 1), state


def attention_pooling(layer, inputs, mask=None, heads=1, use_bias=True):
    """Yang et al. (2016) for one head, Lin et al. (2017) for several.

    `u_t = tanh(W h_t + b)`, `A[r, t] = softmax_t(u_t . C[:, r])`,
    `s = concat_r(sum_t A[r, t] h_t)`. Returns `(pooled, weights)`:
    `(batch, heads * features)` and `(batch, heads, time)` (always with the
    heads axis).
    """
    inputs = np.asarray(inputs, "float64")
    batch, time, features = inputs.shape
    kernel = weight(layer, "kernel")
    bias = weight(layer, "bias") if use_bias else np.zeros(kernel.shape[1])
    context = weight(layer, "context")
    if mask is None:
        mask = np.ones((batch, time), bool)
    mask = np.asarray(mask, bool)
    weights = np.zeros((batch, heads, time))
    pooled = np.zeros((batch, heads * features))
    for b in range(batch):
        hidden = [np.tanh(inputs[b, t] @ kernel + bias) for t in range(time)]
        for r in range(heads):
            scores = np.array([hidden[t] @ context[:, r] for t in range(time)])
            weights[b, r] = softmax(scores, mask[b])
            head = sum(weights[b, r, t] * inputs[b, t] for t in range(time))
            pooled[b, r * features : (r + 1) * features] = head
    return pooled, weights


def redundancy_penalty(weights):
    """Lin et al. (2017): `mean_batch ||A A^T - I||_F^2`, `weights` `(batch, heads, time)`."""
    weights = np.asarray(weights, "float64")
    heads = weights.shape[1]
    values = [np.sum((a @ a.T - np.eye(heads)) ** 2) for a in weights]
    return float(np.mean(values))
