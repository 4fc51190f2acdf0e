"""Any mask as right padding: the valid steps of each row moved to its front.

The fused kernels of PyTorch (`torch.lstm` / `torch.gru` with packed sequences)
and cuDNN (`jax.experimental.rnn.lstm`) take one length per row: they run the
first `length` steps and leave the rest. A Keras mask can be anything - left
padding, holes, rows with no valid step - and in the toolkit's loops a masked
step only carries the state forward and outputs zeros. So a row's result
depends only on its valid steps, in order, and running a kernel over them
packed at the front of the row is exact:

1. `compaction(mask)` gives, per row, where each step goes (`destination`:
   valid steps to `0 .. length - 1` in order, masked ones after them) and its
   inverse (`source`), and the lengths.
2. `gather_steps(sequences, source)` is the right-padded batch for the kernel.
3. `gather_steps(outputs, destination)` puts each output back at its step;
   the caller zeroes the masked steps (`ops.where(mask, ...)`).

Both moves are gathers (`take_along_axis`), differentiable on every backend,
so gradients flow back to the original positions; JAX's cuDNN path makes them
so. PyTorch's path (`torch_kernels.py`) takes only `source` and the lengths
from here and moves the steps itself, with one `index_select` in and one
`index_copy` out (into a packed sequence or a right-padded batch). Rows with no valid step
have length 0, which cuDNN and `pack_padded_sequence` refuse: the kernels
run them for one (ignored) step and the caller keeps their initial states
(`keep_empty_rows`).
"""

from keras import ops


def compaction(mask):
    """Per-row step permutations that move the valid steps of `mask` to the front.

    Args:
        mask: Boolean `(batch, time)`.

    Returns:
        `(source, destination, lengths)`: `source[b, j]` is the step that goes to
        position `j` of the compacted row and `destination[b, t]` the position
        step `t` goes to (each the other's inverse), both int32 `(batch, time)`;
        `lengths` is the number of valid steps per row, int32 `(batch,)`.
    """
    valid = ops.cast(mask, "int32")
    lengths = ops.sum(valid, axis=1)
    valid_rank = ops.cumsum(valid, axis=1) - 1
    masked_rank = ops.cumsum(1 - valid, axis=1) - 1 + ops.expand_dims(lengths, 1)
    destination = ops.where(ops.cast(mask, "bool"), valid_rank, masked_rank)
    source = ops.cast(ops.argsort(destination, axis=1), "int32")
    return source, destination, lengths


def gather_steps(values, index):
    """`values[b, index[b, t]]` for batch-major `values` `(batch, time, width)`."""
    return ops.take_along_axis(values, ops.expand_dims(index, -1), axis=1)


def keep_empty_rows(lengths, new_states, initial_states):
    """The kernel's final states, except the initial ones for rows with no valid step."""
    empty = ops.expand_dims(ops.equal(lengths, 0), -1)
    return [
        ops.where(empty, ops.cast(old, new.dtype), new)
        for new, old in zip(new_states, initial_states)
    ]
