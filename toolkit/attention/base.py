"""The base class shared by the toolkit's attention mechanisms.

An attention mechanism scores a query against every position of a memory
(the encoder outputs), turns the scores into alignment weights with a softmax
over the memory positions, and returns the weighted sum of the memory (the
context vector). The work is split in two so that a decoder can reuse it at
every step:

* `prepare_memory(memory, memory_mask)`: the memory-side work, done once per
  source sequence (the projection of the memory into keys).
* `attend(query, memory_context, previous_alignments)`: the query-side work,
  done once per decoder step (or once for a whole sequence of queries).

`call(query, memory, memory_mask)` chains the two, so a mechanism is also a
plain Keras layer.
"""

import keras
from keras import ops

from toolkit.arguments import check_positive_int
from toolkit.arguments import resolve_argument
from toolkit.arguments import serialize_argument

# Scores of masked positions before the softmax; far below any real score in
# float32 but finite, so that nothing in the forward or backward pass is NaN.
_MASKED_SCORE = -1e9


def masked_softmax(scores, mask=None):
    """Softmax over the last axis that gives masked positions exactly zero.

    Computed in float32 and cast back to the dtype of `scores`, so it stays
    stable under mixed precision. A row whose positions are all masked gets
    all-zero weights (not NaN), with finite gradients.

    Args:
        scores: `(batch, memory_time)` or `(batch, query_time, memory_time)`
            tensor.
        mask: `None` or a boolean `(batch, memory_time)` tensor, `True` at the
            positions that may be attended to; for rank-3 scores it is
            broadcast over the query axis. A mask of the same rank as
            `scores` is used as is.

    Returns:
        Weights shaped like `scores`, in the dtype of `scores`.
    """
    dtype = scores.dtype
    scores32 = ops.cast(scores, "float32")
    if scores32.shape[-1] == 0:  # no memory steps: no weights (eager `max` refuses it)
        return ops.cast(scores32, dtype)
    if mask is None:
        return ops.cast(ops.softmax(scores32, axis=-1), dtype)
    mask = ops.cast(mask, "bool")
    while len(mask.shape) < len(scores32.shape):
        mask = ops.expand_dims(mask, axis=-2)
    masked_scores = ops.where(mask, scores32, _MASKED_SCORE)
    # The shift only keeps `exp` in range; it does not change the softmax.
    shift = ops.stop_gradient(ops.max(masked_scores, axis=-1, keepdims=True))
    exponentials = ops.where(mask, ops.exp(masked_scores - shift), 0.0)
    total = ops.sum(exponentials, axis=-1, keepdims=True)
    weights = exponentials / ops.where(total > 0.0, total, 1.0)
    return ops.cast(weights, dtype)


def _rank_of(shape, argument_name, ranks):
    if shape is None or len(shape) not in ranks:
        expected = " or ".join(str(rank) for rank in ranks)
        raise ValueError(
            f"Argument `{argument_name}` expected a tensor of rank {expected}. "
            f"Received: {argument_name} with shape {None if shape is None else tuple(shape)}"
        )
    return len(shape)


def _check_leading_dims(argument_name, shape, expected, what):
    """Raises a `ValueError` where a known leading dimension of `shape` differs from the
    known one of `expected` (`what` says what `expected` is)."""
    for axis, (received, wanted) in enumerate(zip(shape, expected)):
        if received is not None and wanted is not None and received != wanted:
            raise ValueError(
                f"Argument `{argument_name}` expected the {what} {tuple(expected)}. "
                f"Received: {argument_name} with shape {tuple(shape)} (axis {axis} differs)"
            )


@keras.saving.register_keras_serializable(package="toolkit")
class AttentionMechanism(keras.layers.Layer):
    """Base class of the toolkit's attention mechanisms (abstract).

    With `q` a query, `h_j` the memory at position `j` (the encoder outputs)
    and `e_j = score(q, h_j)` a subclass' score:

    ```
    alpha_j = exp(e_j) / sum_k exp(e_k)   # over unmasked positions only
    c = sum_j alpha_j h_j                 # context vector
    ```

    Masked memory positions get exactly zero weight; a memory with no valid
    position gives zero weights and a zero context (never NaN). The softmax
    is computed in float32 under mixed precision.

    Subclasses implement `build(query_shape, memory_shape)`,
    `_project_memory(memory)` (the keys) and `_score(query, keys,
    previous_alignments)`, with `query` always of rank 3 there; they list the
    constructor arguments they add in `_extra_config`.

    A decoder uses the mechanism in three steps: `prepare_memory` once per
    source sequence, `initial_alignments` for the first alignment state, then
    per step `attend(query, memory_context, alignment_state)` followed by
    `next_alignment_state(alignment_state, alignments)`. Only mechanisms with
    `requires_previous_alignments = True` (location-aware attention) read the
    alignment state; the others ignore it.

    Args:
        units: Positive integer, the attention depth (the size of the space
            in which query and keys are compared); `None` where a subclass
            allows it.
        kernel_initializer: Initializer of the kernels and score vectors
            (default `"glorot_uniform"`).
        kernel_regularizer: Regularizer of the kernels and score vectors
            (default `None`).
        kernel_constraint: Constraint of the kernels and score vectors
            (default `None`).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        query: `(batch, query_dim)` for one decoder step, or
            `(batch, query_time, query_dim)` for many queries at once.
        memory: `(batch, memory_time, memory_dim)`.
        memory_mask: Optional boolean `(batch, memory_time)`, `True` at valid
            memory positions. Filled automatically from the Keras mask of
            `memory` (e.g. after `Embedding(mask_zero=True)`).
        previous_alignments: The alignment state, shaped like the
            alignments; required by location-aware attention, ignored by the
            other mechanisms.

    Returns:
        `(context, alignments)`: `(batch, memory_dim)` and
        `(batch, memory_time)` for a rank-2 query;
        `(batch, query_time, memory_dim)` and
        `(batch, query_time, memory_time)` for a rank-3 query.

    Example:

    The base class is abstract; every mechanism is driven the same way, here
    `BahdanauAttention` step by step as a decoder does:

    >>> import numpy as np, toolkit
    >>> attention = toolkit.attention.BahdanauAttention(8)
    >>> memory = np.ones((2, 7, 6), "float32")
    >>> attention.build((2, 5), memory.shape)
    >>> memory_context = attention.prepare_memory(memory, np.ones((2, 7), bool))
    >>> state = attention.initial_alignments(memory_context)
    >>> query = np.zeros((2, 5), "float32")
    >>> context, alignments = attention.attend(query, memory_context, state)
    >>> state = attention.next_alignment_state(state, alignments)
    >>> tuple(context.shape), tuple(state.shape)
    ((2, 6), (2, 7))
    """

    requires_previous_alignments = False
    _base_config = ("units", "kernel_initializer", "kernel_regularizer", "kernel_constraint")
    _extra_config = ()

    def __init__(
        self,
        units=None,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        kernel_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units, allow_none=True)
        self.kernel_initializer = resolve_argument("kernel_initializer", kernel_initializer)
        self.kernel_regularizer = resolve_argument("kernel_regularizer", kernel_regularizer)
        self.kernel_constraint = resolve_argument("kernel_constraint", kernel_constraint)

    # === Weights ===

    def _add_kernel(self, name, shape):
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def _check_shapes(self, query_shape, memory_shape):
        """Checks ranks and returns `(query_dim, memory_dim)`."""
        _rank_of(query_shape, "query", (2, 3))
        _rank_of(memory_shape, "memory", (3,))
        query_dim, memory_dim = query_shape[-1], memory_shape[-1]
        if query_dim is None or memory_dim is None:
            raise ValueError(
                f"{type(self).__name__} needs the last dimension of `query` and "
                f"`memory` to be known. Received: query_shape={tuple(query_shape)}, "
                f"memory_shape={tuple(memory_shape)}"
            )
        return query_dim, memory_dim

    def build(self, query_shape, memory_shape):
        raise NotImplementedError

    # === Subclass hooks ===

    def _project_memory(self, memory):
        """`(batch, memory_time, memory_dim)` -> keys `(batch, memory_time, key_dim)`."""
        raise NotImplementedError

    def _score(self, query, keys, previous_alignments):
        """Scores `(batch, query_time, memory_time)` from a rank-3 `query`."""
        raise NotImplementedError

    # === The split used by decoders ===

    def prepare_memory(self, memory, memory_mask=None):
        """The memory-side work, done once per source sequence.

        Args:
            memory: `(batch, memory_time, memory_dim)`.
            memory_mask: `None` or `(batch, memory_time)`, `True` (or nonzero)
                at valid positions.

        Returns:
            A dict with `"keys"` `(batch, memory_time, key_dim)` (the memory
            projected by the mechanism's memory layer), `"values"` (the
            memory, in the compute dtype) and `"mask"` (boolean
            `(batch, memory_time)` or `None`).
        """
        _rank_of(memory.shape, "memory", (3,))
        if not self.built:
            raise ValueError(
                f"{type(self).__name__} is not built: call `build(query_shape, "
                "memory_shape)` (or the layer itself) before `prepare_memory`."
            )
        memory = ops.cast(memory, self.compute_dtype)
        if memory_mask is not None:
            _rank_of(memory_mask.shape, "memory_mask", (2,))
            _check_leading_dims(
                "memory_mask", memory_mask.shape, memory.shape[:2], "memory's (batch, time)"
            )
            memory_mask = ops.cast(memory_mask, "bool")
        return {"keys": self._project_memory(memory), "values": memory, "mask": memory_mask}

    def attend(self, query, memory_context, previous_alignments=None):
        """The query-side work, done once per decoder step.

        Args:
            query: `(batch, query_dim)` or `(batch, query_time, query_dim)`.
            memory_context: The dict returned by `prepare_memory`.
            previous_alignments: The alignment state, shaped like the
                returned alignments; required when
                `requires_previous_alignments`, ignored otherwise.

        Returns:
            `(context, alignments)`: `(batch, memory_dim)` and
            `(batch, memory_time)` for a rank-2 query, with an extra
            `query_time` axis after the batch axis for a rank-3 query.
        """
        query = ops.cast(query, self.compute_dtype)
        query_rank = _rank_of(query.shape, "query", (2, 3))
        memory_batch = memory_context["values"].shape[:1]
        _check_leading_dims("query", query.shape[:1], memory_batch, "memory's batch size")
        if query_rank == 2:
            query = ops.expand_dims(query, axis=1)
        if self.requires_previous_alignments:
            if previous_alignments is None:
                raise ValueError(
                    f"{type(self).__name__} requires `previous_alignments` (the "
                    "alignment state, e.g. `initial_alignments(memory_context)` at "
                    "the first step). Received: previous_alignments=None"
                )
            previous_alignments = ops.cast(previous_alignments, self.compute_dtype)
            if len(previous_alignments.shape) != query_rank:
                raise ValueError(
                    "Argument `previous_alignments` expected the rank of the "
                    f"alignments ({query_rank} for a rank-{query_rank} query). "
                    "Received: previous_alignments with shape "
                    f"{tuple(previous_alignments.shape)}"
                )
            if query_rank == 2:
                previous_alignments = ops.expand_dims(previous_alignments, axis=1)
        else:
            previous_alignments = None
        scores = self._score(query, memory_context["keys"], previous_alignments)
        alignments = masked_softmax(scores, memory_context["mask"])
        values = memory_context["values"]
        context = ops.matmul(alignments, ops.cast(values, alignments.dtype))
        if query_rank == 2:
            context = ops.squeeze(context, axis=1)
            alignments = ops.squeeze(alignments, axis=1)
        return context, alignments

    def initial_alignments(self, memory_context):
        """Zeros `(batch, memory_time)` in the compute dtype: the first state."""
        values = memory_context["values"]
        return ops.zeros(ops.shape(values)[:2], dtype=self.compute_dtype)

    def next_alignment_state(self, alignment_state, alignments):
        """The alignment state after a step: the step's `alignments`."""
        return alignments

    # === Layer ===

    def call(self, query, memory, memory_mask=None, previous_alignments=None):
        return self.attend(query, self.prepare_memory(memory, memory_mask), previous_alignments)

    def compute_mask(self, query, previous_mask=None):
        return None

    def compute_output_shape(self, query_shape, memory_shape):
        query_shape, memory_shape = tuple(query_shape), tuple(memory_shape)
        batch = query_shape[0]
        leading = (batch,) if len(query_shape) == 2 else (batch, query_shape[1])
        return leading + (memory_shape[-1],), leading + (memory_shape[1],)

    def get_config(self):
        config = super().get_config()
        for name in self._base_config + tuple(self._extra_config):
            config[name] = serialize_argument(name, getattr(self, name))
        return config
