"""The standard LSTM and GRU on the PyTorch backend: PyTorch's own fused kernels.

On `KERAS_BACKEND=torch` the generic loop is a Python loop over time steps
(`time_loop.scan`), with autograd recording every step. A standard `LSTMCell` or
`GRUCell` (the cells `fused.py` accepts) runs instead through `torch.lstm` /
`torch.gru`, the functions behind `torch.nn.LSTM` / `torch.nn.GRU`, with their own
backward pass: oneDNN's LSTM on a CPU (full sequences), PyTorch's C++ loops
otherwise, cuDNN on an NVIDIA GPU.

The weights keep the toolkit's (and Keras') layout and are converted at every call,
so autograd takes the gradients back to them and a saved model does not depend on
the backend that trained it (`torch_weights`):
- LSTM: `kernel` `(features, 4 * units)` in gate order `[i, f, c, o]` is PyTorch's
  `weight_ih_l0` `(4 * units, features)` in order `[i, f, g, o]`, transposed; the
  same for `recurrent_kernel`; `bias` is `bias_ih_l0` and `bias_hh_l0` is zeros.
- GRU (`reset_after=True`, the only form PyTorch has): the toolkit's blocks are
  `[z, r, h]`, PyTorch's `[r, z, n]`; the first two are swapped and the
  matrices transposed; `bias[0]` is `bias_ih_l0` and `bias[1]` `bias_hh_l0`
  (PyTorch's `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))` is the toolkit's
  candidate with `reset_after=True`).

Masks: no mask, or a mask that is `True` everywhere, runs the kernel over the
whole batch. Any other mask (right or left padding, holes, empty rows) is
compacted (`compaction.py`): each row's valid steps are gathered to its front,
the kernel runs them as a packed sequence (`pack_padded_sequence`), and the
outputs are gathered back to their steps, zero at masked ones - exactly what the
step loop computes, since a masked step only carries the state. `go_backwards`
flips the time axis (inputs and mask) first, as the step loop does.
"""

import keras
from keras import ops

from toolkit.cells.lstm import LSTMCell
from toolkit.layers.compaction import compaction
from toolkit.layers.compaction import gather_steps
from toolkit.layers.compaction import keep_empty_rows
from toolkit.layers.fused import plain_cell_reason


def torch_unsupported_reason(cell, training, return_gates=False, unroll=False):
    """Why PyTorch's kernels cannot run this cell (a short string), or `None` if they can."""
    if keras.backend.backend() != "torch":
        return f"backend {keras.backend.backend()!r} (PyTorch's kernels need the torch backend)"
    return plain_cell_reason(cell, training, return_gates, unroll)


def torch_weights(cell, dtype=None):
    """The cell's weights as PyTorch's one-layer list `[w_ih, w_hh, b_ih, b_hh]`
    (`[w_ih, w_hh]` without bias), differentiable with respect to the variables.

    Args:
        cell: A standard `LSTMCell` or `GRUCell` (`reset_after=True`).
        dtype: The dtype to cast them to (the layer's compute dtype), or `None`.
    """

    def value(variable):
        tensor = ops.convert_to_tensor(variable)
        return tensor if dtype is None else ops.cast(tensor, dtype)

    kernel, recurrent = value(cell.kernel), value(cell.recurrent_kernel)
    if isinstance(cell, LSTMCell):
        weights = [kernel, recurrent]
        if cell.use_bias:
            bias = value(cell.bias)
            weights += [bias, ops.zeros_like(bias)]
        return [ops.transpose(w) if len(w.shape) == 2 else w for w in weights]
    weights = [_gru_order(kernel), _gru_order(recurrent)]
    if cell.use_bias:
        bias = value(cell.bias)
        weights += [_gru_order(bias[0]), _gru_order(bias[1])]
    return [ops.transpose(w) if len(w.shape) == 2 else w for w in weights]


def _gru_order(weights):
    """The toolkit's gate blocks `[z, r, h]` (last axis) in PyTorch's order `[r, z, n]`."""
    update, reset, candidate = ops.split(weights, 3, axis=-1)
    return ops.concatenate([reset, update, candidate], axis=-1)


def torch_recurrent(cell, sequences, states, mask, go_backwards, return_sequences):
    """Runs a layer's call with `torch.lstm` / `torch.gru`.

    Args:
        cell: A cell for which `torch_unsupported_reason` is `None`.
        sequences: `(batch, time, features)` inputs (input dropout applied).
        states: The initial states, as `cell.state_size`, each `(batch, units)`.
        mask: Boolean `(batch, time)` or `None`, in input order.
        go_backwards: Whether the layer runs over reversed time.
        return_sequences: Whether the outputs are wanted.

    Returns:
        `(last_output, outputs, states)` as the step loop gives them: `outputs`
        `(batch, time, units)` in the layer's output order, zero at masked
        steps, or `None` unless `return_sequences`.
    """
    import torch

    if torch.compiler.is_compiling():
        # Keras' `jit_compile=True` on torch: Dynamo cannot trace oneDNN's LSTM
        # (`mkldnn_rnn_layer`), the packing or the mask checks; the kernel runs
        # eagerly between the compiled parts (a graph break), as a module would.
        run = torch.compiler.disable(_run_kernel)
    else:
        run = _run_kernel
    return run(cell, sequences, states, mask, go_backwards, return_sequences)


def _run_kernel(cell, sequences, states, mask, go_backwards, return_sequences):
    import torch

    if go_backwards:
        sequences = torch.flip(sequences, (1,))
        mask = None if mask is None else torch.flip(mask, (1,))
    if mask is not None and bool(torch.all(mask)):
        mask = None
    weights = torch_weights(cell, sequences.dtype)
    run = _lstm if isinstance(cell, LSTMCell) else _gru
    initial = [ops.cast(state, sequences.dtype)[None] for state in states]
    if mask is None:
        outputs, final = run(sequences, None, initial, weights)
        final = [state[0] for state in final]
        return final[0], outputs if return_sequences else None, final

    source, destination, lengths = compaction(mask)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        gather_steps(sequences, source),
        torch.clamp(lengths, min=1).cpu(),  # an empty row runs one ignored step
        batch_first=True,
        enforce_sorted=False,
    )
    order, inverse = packed.sorted_indices, packed.unsorted_indices
    data, final = run(
        packed.data,
        packed.batch_sizes,
        [state.index_select(1, order) for state in initial],
        weights,
    )
    final = keep_empty_rows(lengths, [state.index_select(1, inverse)[0] for state in final], states)
    last_output = torch.where((lengths > 0)[:, None], final[0], torch.zeros_like(final[0]))
    if not return_sequences:
        return last_output, None, final
    outputs, _ = torch.nn.utils.rnn.pad_packed_sequence(
        torch.nn.utils.rnn.PackedSequence(data, packed.batch_sizes, order, inverse),
        batch_first=True,
        total_length=sequences.shape[1],
    )
    outputs = gather_steps(outputs, destination)
    outputs = torch.where(mask[:, :, None], outputs, torch.zeros_like(outputs))
    return last_output, outputs, final


def _lstm(inputs, batch_sizes, states, weights):
    """`torch.lstm` (what `torch.nn.LSTM` calls) for one layer and direction:
    `(outputs, [h, c])`, batch-first when `batch_sizes` is `None`, else packed."""
    import torch

    arguments = (weights, len(weights) == 4, 1, 0.0, torch.is_grad_enabled(), False)
    if batch_sizes is None:
        outputs, hidden, carry = torch.lstm(inputs, tuple(states), *arguments, True)
    else:
        outputs, hidden, carry = torch.lstm(inputs, batch_sizes, tuple(states), *arguments)
    return outputs, [hidden, carry]


def _gru(inputs, batch_sizes, states, weights):
    """`torch.gru` (what `torch.nn.GRU` calls), as `_lstm`: `(outputs, [h])`."""
    import torch

    arguments = (weights, len(weights) == 4, 1, 0.0, torch.is_grad_enabled(), False)
    if batch_sizes is None:
        outputs, hidden = torch.gru(inputs, states[0], *arguments, True)
    else:
        outputs, hidden = torch.gru(inputs, batch_sizes, states[0], *arguments)
    return outputs, [hidden]
