"""Checks and the masked update shared by the toolkit's sequence loops.

A masked step leaves the carried state unchanged, outputs zeros, and keeps
the previous "last output", so padding anywhere in a sequence (right, left,
holes) gives each sequence the result it gets alone.
"""

import keras
from keras import ops


def check_rank(argument_name, shape):
    """Raises a `ValueError` naming the argument unless `shape` is rank 3."""
    shape = tuple(shape)
    if len(shape) != 3:
        raise ValueError(
            f"Argument `{argument_name}` expected a tensor of rank 3 (batch, time, "
            f"features). Received: {argument_name}.shape={shape}"
        )


def check_mask(mask, sequences, argument_name="mask"):
    """`mask` as a boolean `(batch, time)` tensor matching `sequences`."""
    mask = ops.convert_to_tensor(mask)
    expected = tuple(sequences.shape[:2])
    received = tuple(mask.shape)
    compatible = len(received) == 2 and all(
        e is None or r is None or e == r for e, r in zip(expected, received)
    )
    if not compatible:
        raise ValueError(
            f"Argument `{argument_name}` expected shape (batch, time) = {expected}. "
            f"Received: {argument_name}.shape={received}"
        )
    return ops.cast(mask, "bool")


def masked_update(keep, new_states, previous_states, output, previous_output, zeroed=None):
    """One step under a `(batch, 1)` boolean `keep` mask.

    Returns `(states, last_output, output, zeroed)`: the new states where
    `keep` else the previous ones (any nested structure), the new output where
    `keep` else the previous last output, the output zeroed where not `keep`,
    and `zeroed` (any nested structure of per-step values, e.g. gates or
    alignments) zeroed where not `keep`.
    """
    states = keras.tree.map_structure(
        lambda new, old: ops.where(keep, new, old), new_states, previous_states
    )
    last_output = ops.where(keep, output, previous_output)
    zero = lambda value: ops.where(keep, value, ops.zeros_like(value))
    if zeroed is not None:
        zeroed = keras.tree.map_structure(zero, zeroed)
    return states, last_output, zero(output), zeroed
