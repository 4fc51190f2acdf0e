"""Multiplicative (global) attention (Luong et al., 2015)."""

import keras
from keras import ops

from toolkit.arguments import check_positive_int
from toolkit.attention.base import AttentionMechanism

SCORES = ("dot", "general", "concat")


@keras.saving.register_keras_serializable(package="toolkit")
class LuongAttention(AttentionMechanism):
    """Global attention with Luong, Pham & Manning's (2015) score functions.

    With `q` the query (the decoder state `h_t` of the paper), `h_j` the
    memory at position `j` (the source states `h_s`) and `c` the context:

    ```
    score = "dot":      e_j = q^T h_j
    score = "general":  e_j = q^T W_a h_j
    score = "concat":   e_j = v^T tanh(W_q q + W_k h_j)    # W_a [q; h_j], no bias
    e_j <- g e_j                                            # with scale=True
    alpha_j = exp(e_j) / sum_k exp(e_k)                     # over unmasked positions
    c = sum_j alpha_j h_j
    ```

    `g` is a learned scalar initialized to 1 (as `scale=True` in TensorFlow
    Addons' `LuongAttention`).

    `units` per score:

    * `"dot"`: no weights; the query and memory dimensions must be equal.
      `units` may be `None` (default) or that dimension.
    * `"general"`: `W_a` maps the memory to the query space, so the
      attention depth is the query dimension: `units` may be `None`
      (inferred) or the query dimension.
    * `"concat"`: `units` (required) is the size of `v` and of the hidden
      layer.

    Weights: `"general"`: `memory_kernel` `W_a` `(memory_dim, query_dim)`;
    `"concat"`: `query_kernel` `W_q` `(query_dim, units)`, `memory_kernel`
    `W_k` `(memory_dim, units)`, `attention_v` `v` `(units,)`; with `scale`:
    `attention_g` `g` `()`. The keys of `prepare_memory` are the memory
    (`"dot"`), `h W_a` (`"general"`) or `h W_k` (`"concat"`).

    Args:
        units: Positive integer or `None` (default), the attention depth
            (see above).
        score: One of `"dot"`, `"general"` (default), `"concat"`.
        scale: Boolean (default `False`), multiply the score by a learned
            scalar `g` initialized to 1.
        kernel_initializer: Initializer of the kernels and `v`
            (default `"glorot_uniform"`).
        kernel_regularizer: Regularizer of the kernels and `v`
            (default `None`).
        kernel_constraint: Constraint of the kernels and `v`
            (default `None`).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        query: `(batch, query_dim)`, or `(batch, query_time, query_dim)` for
            many queries at once.
        memory: `(batch, memory_time, memory_dim)`.
        memory_mask: Optional boolean `(batch, memory_time)`, `True` at valid
            positions; filled automatically from the Keras mask of `memory`.
        previous_alignments: Ignored (accepted for a uniform interface).

    Returns:
        `(context, alignments)`: `(batch, memory_dim)` and
        `(batch, memory_time)` for a rank-2 query;
        `(batch, query_time, memory_dim)` and
        `(batch, query_time, memory_time)` for a rank-3 query. Masked
        positions have exactly zero weight.

    Example:

    >>> import numpy as np, toolkit
    >>> attention = toolkit.attention.LuongAttention(score="general", scale=True)
    >>> queries = np.zeros((2, 3, 5), "float32")
    >>> memory = np.ones((2, 7, 6), "float32")
    >>> context, alignments = attention(queries, memory)
    >>> tuple(context.shape), tuple(alignments.shape)
    ((2, 3, 6), (2, 3, 7))
    """

    _extra_config = ("score", "scale")

    def __init__(
        self,
        units=None,
        score="general",
        scale=False,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        kernel_constraint=None,
        **kwargs,
    ):
        if score not in SCORES:
            raise ValueError(
                f"Argument `score` expected one of {', '.join(map(repr, SCORES))}. "
                f"Received: score={score!r}"
            )
        check_positive_int("units", units, allow_none=score != "concat")
        super().__init__(
            units=units,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            kernel_constraint=kernel_constraint,
            **kwargs,
        )
        self.score = score
        self.scale = bool(scale)

    def build(self, query_shape, memory_shape):
        query_dim, memory_dim = self._check_shapes(query_shape, memory_shape)
        if self.score == "dot":
            if query_dim != memory_dim:
                raise ValueError(
                    'LuongAttention(score="dot") needs the query dimension to equal '
                    'the memory dimension (use score="general" otherwise). Received: '
                    f"query_dim={query_dim} (query_shape={tuple(query_shape)}), "
                    f"memory_dim={memory_dim} (memory_shape={tuple(memory_shape)})"
                )
            if self.units is not None and self.units != memory_dim:
                raise ValueError(
                    'Argument `units` of LuongAttention(score="dot") must be None or '
                    f"the query and memory dimension ({memory_dim}). "
                    f"Received: units={self.units}"
                )
        elif self.score == "general":
            if self.units is not None and self.units != query_dim:
                raise ValueError(
                    'Argument `units` of LuongAttention(score="general") must be None '
                    f"or the query dimension ({query_dim}): W_a maps the memory to the "
                    f"query space. Received: units={self.units}, "
                    f"query_shape={tuple(query_shape)}"
                )
            self.memory_kernel = self._add_kernel("memory_kernel", (memory_dim, query_dim))
        else:
            self.query_kernel = self._add_kernel("query_kernel", (query_dim, self.units))
            self.memory_kernel = self._add_kernel("memory_kernel", (memory_dim, self.units))
            self.attention_v = self._add_kernel("attention_v", (self.units,))
        if self.scale:
            self.attention_g = self.add_weight(name="attention_g", shape=(), initializer="ones")

    def _project_memory(self, memory):
        if self.score == "dot":
            return memory
        return ops.matmul(memory, ops.cast(self.memory_kernel, memory.dtype))

    def _score(self, query, keys, previous_alignments):
        dtype = query.dtype
        if self.score == "concat":
            projected_query = ops.matmul(query, ops.cast(self.query_kernel, dtype))
            hidden = ops.tanh(ops.expand_dims(projected_query, 2) + ops.expand_dims(keys, 1))
            scores = ops.sum(hidden * ops.cast(self.attention_v, dtype), axis=-1)
        else:
            scores = ops.matmul(query, ops.swapaxes(keys, 1, 2))
        if self.scale:
            scores = scores * ops.cast(self.attention_g, dtype)
        return scores
