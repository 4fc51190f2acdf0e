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

Masks: cuDNN takes one length per sequence, so it runs a mask that is right padding
(every row `True` for its first `length >= 1` steps and `False` after). Whether a
mask is one is a property of its values, so it is decided on the device, per batch,
by `jax.lax.cond`: any other mask (left padding, holes, an empty row) runs the
generic step loop, with the same results. With `go_backwards`, right padding is
reversed within each row's length for cuDNN and the outputs shifted back, which is
what the step loop computes over the flipped sequence.

Precision: the kernel follows JAX's matmul precision setting as
`jax.experimental.rnn.lstm` reads it (`jax_default_matmul_precision`: unset, cuDNN
may use TF32 on Ampere and later GPUs, like XLA's own float32 matmuls there;
`"highest"` asks for full float32).
"""

import keras
from keras import ops

from toolkit.cells.lstm import LSTMCell
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


def _row_gather(values, index):
    """`values[b, index[b, t]]` for batch-major `values` `(batch, time, width)`."""
    import jax.numpy as jnp

    return jnp.take_along_axis(values, index[:, :, None], axis=1)


def cudnn_lstm(cell, sequences, states, mask, go_backwards, return_sequences, step_loop):
    """Runs an LSTM layer's call with cuDNN; masks that are not right padding take
    `step_loop`.

    Args:
        cell: A `LSTMCell` for which `cudnn_unsupported_reason` is `None`.
        sequences: `(batch, time, features)` inputs (input dropout applied).
        states: `[h, c]`, each `(batch, units)`.
        mask: Boolean `(batch, time)` or `None`, in input order.
        go_backwards: Whether the layer runs over reversed time.
        return_sequences: Whether the outputs are wanted.
        step_loop: A function of no arguments running the generic loop and
            returning `(last_output, outputs, states)`, `outputs` `None` unless
            `return_sequences`.

    Returns:
        `(last_output, outputs, [h, c])` as the step loop gives them: `outputs`
        `(batch, time, units)` in the layer's output order, zero at masked steps.
    """
    import jax
    import jax.numpy as jnp

    batch, steps, features = sequences.shape
    hidden, carry = states
    weights = cudnn_weights(cell)

    def run(inputs, lengths):
        outputs, h, c = _lstm_kernel(
            inputs, hidden[None], carry[None], weights, lengths, features, cell.units
        )
        return outputs, h[0], c[0]

    if mask is None:
        inputs = jnp.flip(sequences, axis=1) if go_backwards else sequences
        outputs, h, c = run(inputs, jnp.full((batch,), steps, "int32"))
        return h, outputs if return_sequences else None, [h, c]

    lengths = jnp.sum(mask, axis=1, dtype="int32")
    time = jnp.arange(steps, dtype="int32")[None, :]
    right_padded = jnp.all(mask == (time < lengths[:, None])) & jnp.all(lengths > 0)

    def with_cudnn():
        if not go_backwards:
            outputs, h, c = run(sequences, lengths)
            outputs = jnp.where(mask[:, :, None], outputs, 0.0)
        else:
            # Each row's valid steps reversed, padding kept at the end; the outputs then
            # moved to where the flipped sequence has them (its valid steps last).
            reversed_inputs = _row_gather(sequences, (lengths[:, None] - 1 - time) % steps)
            outputs, h, c = run(reversed_inputs, lengths)
            shift = steps - lengths[:, None]
            outputs = _row_gather(outputs, (time - shift) % steps)
            outputs = jnp.where((time >= shift)[:, :, None], outputs, 0.0)
        return h, outputs if return_sequences else None, [h, c]

    return jax.lax.cond(right_padded, with_cudnn, step_loop)
