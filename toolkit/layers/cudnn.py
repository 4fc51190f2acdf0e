"""The LSTM on NVIDIA GPUs under JAX: cuDNN's fused kernel.

On JAX with a GPU, a standard `LSTMCell` (the cells `fused.py` accepts, LSTM only:
JAX wraps no cuDNN GRU) runs through `jax.experimental.rnn.lstm`, cuDNN's LSTM with
its own backward pass, instead of a `jax.lax.scan` of `cell.recurrent_step`. Nothing
about the weights changes: they keep the toolkit's (and Keras') layout, `kernel`
`(features, 4 * units)`, `recurrent_kernel` `(units, 4 * units)`, `bias` `(4 * units,)`
in gate order `[i, f, c, o]`, which is cuDNN's `[i, f, g, o]`, and are packed into
cuDNN's flat weight vector at every call (`cudnn_weights`). So the kernel is chosen
when a function is traced, not when a model is built: a model trained on a GPU saves
the same `model.keras`, and an export traced on a CPU-only machine (the recipes export
with the TensorFlow backend) runs the portable loops.

Masks: cuDNN takes one length per sequence, so it runs right padding. Any other mask
(left padding, holes, an empty row) is compacted first (`compaction.py`): each row's
valid steps are gathered to its front, cuDNN runs them with the row's length, and the
outputs are gathered back to their steps - exactly the step loop's results, since a
masked step only carries the state. `go_backwards` flips the time axis (inputs and
mask) first, as the step loop does.

Precision: the kernel follows JAX's matmul precision setting as
`jax.experimental.rnn.lstm` reads it (`jax_default_matmul_precision`: unset, cuDNN
may use TF32 on Ampere and later GPUs, like XLA's own float32 matmuls there;
`"highest"` asks for full float32).
"""

import keras
from keras import ops

from toolkit.cells.lstm import LSTMCell
from toolkit.layers.compaction import compaction
from toolkit.layers.compaction import gather_steps
from toolkit.layers.compaction import keep_empty_rows
from toolkit.layers.fused import plain_cell_reason
from toolkit.layers.time_loop import jax_platform


def jax_on_gpu():
    """Whether the code runs on JAX with a GPU as its default backend."""
    return jax_platform() == "gpu"


def cudnn_unsupported_reason(cell, training, return_gates=False, unroll=False):
    """Why cuDNN cannot run this cell (a short string), or `None` if it can."""
    if not jax_on_gpu():
        platform = jax_platform()
        if platform is None:
            return f"backend {keras.backend.backend()!r}"
        return f"JAX runs on {platform!r}, not a GPU"
    if not isinstance(cell, LSTMCell):
        return f"cell {type(cell).__name__} has no cuDNN kernel in JAX"
    plain_reason = plain_cell_reason(cell, training, return_gates, unroll)
    if plain_reason is not None:
        return plain_reason
    if cell.compute_dtype != "float32":
        return f"compute dtype {cell.compute_dtype!r} (cuDNN path: float32)"
    return None


def cudnn_weights(cell):
    """The cell's weights as cuDNN's flat vector: `W_ih, W_hh, b_ih, b_hh`, row-major.

    cuDNN's matrices are `(4 * units, features)` and `(4 * units, units)`, the
    transposes of the toolkit's; it adds two biases, so `b_hh` is zeros.
    """
    kernel = ops.convert_to_tensor(cell.kernel)
    recurrent = ops.convert_to_tensor(cell.recurrent_kernel)
    bias = ops.convert_to_tensor(cell.bias) if cell.use_bias else ops.zeros_like(kernel[0])
    parts = [ops.transpose(kernel), ops.transpose(recurrent), bias, ops.zeros_like(bias)]
    return ops.concatenate([ops.reshape(part, (-1,)) for part in parts], axis=0)


def _lstm_kernel(inputs, hidden, carry, weights, lengths, input_size, hidden_size):
    """`jax.experimental.rnn.lstm` for one layer and direction (tests substitute its
    CPU reference, which takes the same arguments)."""
    from jax.experimental import rnn

    return rnn.lstm(
        inputs,
        hidden,
        carry,
        weights,
        lengths,
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=1,
        dropout=0.0,
        bidirectional=False,
    )


def cudnn_lstm(cell, sequences, states, mask, go_backwards, return_sequences):
    """Runs an LSTM layer's call with cuDNN, any mask compacted to right padding.

    Args:
        cell: A `LSTMCell` for which `cudnn_unsupported_reason` is `None`.
        sequences: `(batch, time, features)` inputs (input dropout applied).
        states: `[h, c]`, each `(batch, units)`.
        mask: Boolean `(batch, time)` or `None`, in input order.
        go_backwards: Whether the layer runs over reversed time.
        return_sequences: Whether the outputs are wanted.

    Returns:
        `(last_output, outputs, [h, c])` as the step loop gives them: `outputs`
        `(batch, time, units)` in the layer's output order, zero at masked steps,
        or `None` unless `return_sequences`.
    """
    import jax.numpy as jnp

    batch, steps, features = sequences.shape
    if go_backwards:
        sequences = jnp.flip(sequences, axis=1)
        mask = None if mask is None else jnp.flip(mask, axis=1)
    hidden, carry = states
    weights = cudnn_weights(cell)

    def run(inputs, lengths):
        outputs, h, c = _lstm_kernel(
            inputs, hidden[None], carry[None], weights, lengths, features, cell.units
        )
        return outputs, [h[0], c[0]]

    if mask is None:
        outputs, final = run(sequences, jnp.full((batch,), steps, "int32"))
        return final[0], outputs if return_sequences else None, final

    source, destination, lengths = compaction(mask)
    # cuDNN takes no zero length: an empty row runs one step, and keeps its initial states.
    outputs, final = run(gather_steps(sequences, source), jnp.maximum(lengths, 1))
    final = keep_empty_rows(lengths, final, states)
    last_output = jnp.where((lengths > 0)[:, None], final[0], 0.0)
    if not return_sequences:
        return last_output, None, final
    outputs = jnp.where(mask[:, :, None], gather_steps(outputs, destination), 0.0)
    return last_output, outputs, final
