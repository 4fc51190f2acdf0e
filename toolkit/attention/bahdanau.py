"""Additive attention (Bahdanau et al., 2014)."""

import math

import keras
from keras import ops

from toolkit.arguments import check_positive_int
from toolkit.attention.base import AttentionMechanism


@keras.saving.register_keras_serializable(package="toolkit")
class BahdanauAttention(AttentionMechanism):
    """Additive attention (Bahdanau, Cho & Bengio, 2014).

    With `q` the query (the decoder state), `h_j` the memory at position `j`
    and `c` the context:

    ```
    e_j = v^T tanh(W_1 q + W_2 h_j)
    alpha_j = exp(e_j) / sum_k exp(e_k)   # over unmasked positions only
    c = sum_j alpha_j h_j
    ```

    With `normalize=True` the score vector is weight-normalized (Salimans &
    Kingma, 2016), as `normalize=True` in TensorFlow Addons' attention, and a
    bias is added inside the `tanh`:

    ```
    e_j = (g v / ||v||)^T tanh(W_1 q + W_2 h_j + b)
    ```

    with the scalar `g` initialized to `sqrt(1 / units)` and `b` to zeros.

    Weights: `query_kernel` `W_1` `(query_dim, units)`, `memory_kernel` `W_2`
    `(memory_dim, units)`, `attention_v` `v` `(units,)`, and with `normalize`
    `attention_g` `g` `()` and `attention_b` `b` `(units,)`. The keys of
    `prepare_memory` are `h W_2`.

    Args:
        units: Positive integer, the attention depth.
        normalize: Boolean (default `False`), weight normalization of `v`
            with the bias `b`.
        kernel_initializer: Initializer of `W_1`, `W_2` and `v`
            (default `"glorot_uniform"`).
        kernel_regularizer: Regularizer of `W_1`, `W_2` and `v`
            (default `None`).
        kernel_constraint: Constraint of `W_1`, `W_2` and `v`
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

    >>> import keras, numpy as np, toolkit
    >>> attention = toolkit.attention.BahdanauAttention(8, normalize=True)
    >>> query = np.zeros((2, 5), "float32")
    >>> memory = np.ones((2, 7, 6), "float32")
    >>> mask = np.arange(7)[None, :] < np.array([[7], [4]])
    >>> context, alignments = attention(query, memory, memory_mask=mask)
    >>> tuple(context.shape), tuple(alignments.shape)
    ((2, 6), (2, 7))
    >>> float(keras.ops.convert_to_numpy(alignments)[1, 4:].sum())  # padding
    0.0
    """

    _extra_config = ("normalize",)

    def __init__(
        self,
        units,
        normalize=False,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        kernel_constraint=None,
        **kwargs,
    ):
        check_positive_int("units", units)
        super().__init__(
            units=units,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            kernel_constraint=kernel_constraint,
            **kwargs,
        )
        self.normalize = bool(normalize)

    def build(self, query_shape, memory_shape):
        query_dim, memory_dim = self._check_shapes(query_shape, memory_shape)
        self.query_kernel = self._add_kernel("query_kernel", (query_dim, self.units))
        self.memory_kernel = self._add_kernel("memory_kernel", (memory_dim, self.units))
        self.attention_v = self._add_kernel("attention_v", (self.units,))
        if self.normalize:
            self.attention_g = self.add_weight(
                name="attention_g",
                shape=(),
                initializer=keras.initializers.Constant(math.sqrt(1.0 / self.units)),
            )
            self.attention_b = self.add_weight(
                name="attention_b", shape=(self.units,), initializer="zeros"
            )

    def _project_memory(self, memory):
        return ops.matmul(memory, ops.cast(self.memory_kernel, memory.dtype))

    def _score_vector(self, dtype):
        v = ops.cast(self.attention_v, "float32")
        if self.normalize:
            g = ops.cast(self.attention_g, "float32")
            v = g * v / ops.sqrt(ops.sum(ops.square(v)))
        return ops.cast(v, dtype)

    def _score(self, query, keys, previous_alignments):
        dtype = query.dtype
        projected_query = ops.matmul(query, ops.cast(self.query_kernel, dtype))
        hidden = ops.expand_dims(projected_query, 2) + ops.expand_dims(keys, 1)
        if self.normalize:
            hidden = hidden + ops.cast(self.attention_b, dtype)
        return ops.sum(ops.tanh(hidden) * self._score_vector(dtype), axis=-1)
