"""Batch-major helpers for beams: tiling a batch into beams and gathering rows.

Beam search works on `batch * beam_width` rows, row `b * beam_width + k`
being beam `k` of example `b`. `tile_batch` turns a batch-major structure
into that layout; `gather_rows` reorders rows (by parent beam at every step
of the search).
"""

import keras
from keras import ops

from toolkit.arguments import check_positive_int


def tile_batch(structure, multiplier):
    """Repeats every row of a nested structure `multiplier` times.

    Each tensor `(batch, ...)` becomes `(batch * multiplier, ...)` with row
    `b * multiplier + k` holding copy `k` of row `b` (consecutive copies, as
    `tfa.seq2seq.tile_batch`). This is the row layout of `beam_search`, which
    tiles its `initial_state` itself; anything a step function closes over
    (an encoder memory, a source mask) must be tiled by the caller with
    `tile_batch(x, beam_width)`.

    Args:
        structure: A tensor, or any nested structure (dicts, lists, tuples)
            of tensors with a leading batch axis. `None` leaves stay `None`.
        multiplier: Positive integer, the number of copies of each row
            (the beam width).

    Returns:
        The structure with every tensor tiled to `(batch * multiplier, ...)`.

    Example:

    >>> import numpy as np
    >>> tiled = tile_batch({"h": np.array([[1.0], [2.0]]), "c": None}, 3)
    >>> tuple(tiled["h"].shape)
    (6, 1)
    >>> keras.ops.convert_to_numpy(tiled["h"])[:, 0].tolist()
    [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    >>> tiled["c"] is None
    True
    """
    check_positive_int("multiplier", multiplier)

    def tile(x):
        if x is None:
            return None
        x = ops.convert_to_tensor(x)
        if len(x.shape) == 0:
            raise ValueError(
                "Argument `structure` expected tensors with a leading batch axis. "
                f"Received: a scalar {x!r}"
            )
        if multiplier == 1:
            return x
        return ops.repeat(x, multiplier, axis=0)

    return keras.tree.map_structure(tile, structure)


def batch_offsets(batch_reference, multiplier):
    """`[0, multiplier, 2 * multiplier, ...]`, one per row of `batch_reference`.

    The batch size may be dynamic (a `None` dimension inside a `tf.function`).
    """
    return ops.arange(ops.shape(batch_reference)[0], dtype="int32") * multiplier


def gather_rows(tensors, rows):
    """Takes rows `rows` (int32 `(n,)`) of each tensor in a flat list; `None` stays."""
    return [None if x is None else ops.take(x, rows, axis=0) for x in tensors]
