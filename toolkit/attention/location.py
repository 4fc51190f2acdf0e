"""Location-aware attention (Chorowski et al., 2015)."""

import keras
from keras import ops

from toolkit.arguments import check_positive_int
from toolkit.attention.base import AttentionMechanism


@keras.saving.register_keras_serializable(package="toolkit")
class LocationAwareAttention(AttentionMechanism):
    """Location-aware attention for speech (Chorowski et al., 2015).

    The score also sees where the previous step attended, through location
    features: a convolution `F` over the previous alignments. With `s` the
    query (the decoder state `s_{i-1}`), `h_j` the memory at position `j`
    and `alpha_{i-1}` the alignment state:

    ```
    f_i = F * alpha_{i-1}                           # Conv1D, 'same' padding
    e_ij = w^T tanh(W s + V h_j + U f_ij + b)
    alpha_ij = exp(e_ij) / sum_k exp(e_ik)          # over unmasked positions
    c_i = sum_j alpha_ij h_j
    ```

    The alignment state is the previous step's alignments, or with
    `cumulative=True` the running sum of all past alignments, as in
    Tacotron 2 (Shen et al., 2018): `next_alignment_state(state, alignments)`
    returns `alignments`, or `state + alignments`. The first state is
    `initial_alignments(memory_context)` (zeros).

    Weights: `query_kernel` `W` `(query_dim, units)`, `memory_kernel` `V`
    `(memory_dim, units)`, `location_filters` `F` `(kernel_size, 1, filters)`
    (the layout of a `keras.layers.Conv1D` kernel; no bias),
    `location_kernel` `U` `(filters, units)`, `attention_b` `b` `(units,)`,
    `attention_v` `w` `(units,)`. 'same' padding follows TensorFlow: with an
    even `kernel_size` the extra padded position is at the end. The keys of
    `prepare_memory` are `h V`.

    Args:
        units: Positive integer, the attention depth.
        filters: Positive integer (default `32`), number of location filters.
        kernel_size: Positive integer (default `31`), width of the location
            filters.
        cumulative: Boolean (default `False`), use the running sum of past
            alignments as the alignment state.
        kernel_initializer: Initializer of `W`, `V`, `F`, `U` and `w`
            (default `"glorot_uniform"`).
        kernel_regularizer: Regularizer of `W`, `V`, `F`, `U` and `w`
            (default `None`).
        kernel_constraint: Constraint of `W`, `V`, `F`, `U` and `w`
            (default `None`).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        query: `(batch, query_dim)`, or `(batch, query_time, query_dim)` for
            many queries at once (each with its own alignment state row).
        memory: `(batch, memory_time, memory_dim)`.
        memory_mask: Optional boolean `(batch, memory_time)`, `True` at valid
            positions; filled automatically from the Keras mask of `memory`.
        previous_alignments: Required: the alignment state,
            `(batch, memory_time)` for a rank-2 query or
            `(batch, query_time, memory_time)` for a rank-3 query.

    Returns:
        `(context, alignments)`: `(batch, memory_dim)` and
        `(batch, memory_time)` for a rank-2 query;
        `(batch, query_time, memory_dim)` and
        `(batch, query_time, memory_time)` for a rank-3 query. Masked
        positions have exactly zero weight.

    Example:

    >>> import numpy as np, toolkit
    >>> attention = toolkit.attention.LocationAwareAttention(
    ...     8, filters=4, kernel_size=5, cumulative=True)
    >>> query = np.zeros((2, 5), "float32")
    >>> memory = np.ones((2, 7, 6), "float32")
    >>> attention.build(query.shape, memory.shape)
    >>> memory_context = attention.prepare_memory(memory)
    >>> state = attention.initial_alignments(memory_context)
    >>> for _ in range(3):  # three decoder steps
    ...     context, alignments = attention.attend(query, memory_context, state)
    ...     state = attention.next_alignment_state(state, alignments)
    >>> tuple(context.shape), tuple(state.shape)
    ((2, 6), (2, 7))
    """

    requires_previous_alignments = True
    _extra_config = ("filters", "kernel_size", "cumulative")

    def __init__(
        self,
        units,
        filters=32,
        kernel_size=31,
        cumulative=False,
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
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.cumulative = bool(cumulative)

    def build(self, query_shape, memory_shape):
        query_dim, memory_dim = self._check_shapes(query_shape, memory_shape)
        self.query_kernel = self._add_kernel("query_kernel", (query_dim, self.units))
        self.memory_kernel = self._add_kernel("memory_kernel", (memory_dim, self.units))
        self.location_filters = self._add_kernel(
            "location_filters", (self.kernel_size, 1, self.filters)
        )
        self.location_kernel = self._add_kernel("location_kernel", (self.filters, self.units))
        self.attention_b = self.add_weight(
            name="attention_b", shape=(self.units,), initializer="zeros"
        )
        self.attention_v = self._add_kernel("attention_v", (self.units,))

    def _project_memory(self, memory):
        return ops.matmul(memory, ops.cast(self.memory_kernel, memory.dtype))

    def _location_features(self, alignment_state):
        """`F * alpha`: `(batch, query_time, memory_time)` -> `(..., filters)`."""
        dtype = alignment_state.dtype
        # A Conv1D over memory time for every query row at once, as a 2-D
        # convolution with a (1, kernel_size) window.
        filters = ops.reshape(
            ops.cast(self.location_filters, dtype), (1, self.kernel_size, 1, self.filters)
        )
        return ops.conv(ops.expand_dims(alignment_state, -1), filters, padding="same")

    def _score(self, query, keys, previous_alignments):
        dtype = query.dtype
        projected_query = ops.matmul(query, ops.cast(self.query_kernel, dtype))
        location = ops.matmul(
            self._location_features(previous_alignments), ops.cast(self.location_kernel, dtype)
        )
        hidden = ops.expand_dims(projected_query, 2) + ops.expand_dims(keys, 1) + location
        hidden = ops.tanh(hidden + ops.cast(self.attention_b, dtype))
        return ops.sum(hidden * ops.cast(self.attention_v, dtype), axis=-1)

    def next_alignment_state(self, alignment_state, alignments):
        """`alignments`, or `alignment_state + alignments` with `cumulative`."""
        if self.cumulative:
            return alignment_state + alignments
        return alignments
