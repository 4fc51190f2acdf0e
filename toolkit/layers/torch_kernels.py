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
compacted (`compaction.py`): each row's valid steps are gathered to its front
(one `index_select`), the kernel runs them, and the outputs go back to their
steps (one `index_copy`), zero at masked ones - exactly what the step loop
computes, since a masked step only carries the state. The kernel runs them in
one of two forms:
- packed (`_packed_layout`, a `PackedSequence`): exact final states for every
  row; PyTorch runs it on its C++ loop, whose backward is slow. For an LSTM
  whose final states are used (`return_state`, `stateful`) and for the GRU in
  inference.
- padded (`_padded_layout`): the compacted batch right-padded to its longest
  row, every row run for that many steps (oneDNN's LSTM on a CPU); exact
  outputs and hidden states after each row's last valid step, not the LSTM's
  final cell state. Everywhere else: about 3.5x faster than the packed form
  to train an LSTM on 2 CPU cores, and faster than `torch.nn`'s own packed
  sequences.
`go_backwards` reads each row's steps from its end (the gather's indices).
"""

import weakref

import keras
from keras import ops

from toolkit.cells.lstm import LSTMCell
from toolkit.layers.compaction import compaction
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

    Without gradients (inference) the list is kept until a variable changes
    (torch counts in-place writes, which is how Keras assigns): the GRU's block
    reordering took about 1.5 ms a call, 4% of a `base` inference, on 2 CPU cores.

    Args:
        cell: A standard `LSTMCell` or `GRUCell` (`reset_after=True`).
        dtype: The dtype to cast them to (the layer's compute dtype), or `None`.
    """
    import torch

    if torch.is_grad_enabled():
        return _converted_weights(cell, dtype)
    variables = [cell.kernel, cell.recurrent_kernel] + ([cell.bias] if cell.use_bias else [])
    tensors = [ops.convert_to_tensor(variable) for variable in variables]
    key = (str(dtype), *((id(tensor), tensor._version) for tensor in tensors))
    cached = _INFERENCE_WEIGHTS.get(cell)
    if cached is None or cached[0] != key:
        cached = (key, _converted_weights(cell, dtype))
        _INFERENCE_WEIGHTS[cell] = cached
    return cached[1]


_INFERENCE_WEIGHTS = weakref.WeakKeyDictionary()  # cell -> (variables' versions, weights)


def _converted_weights(cell, dtype):
    def value(variable):
        tensor = ops.convert_to_tensor(variable)
        return tensor if dtype is None else ops.cast(tensor, dtype)

    kernel, recurrent = value(cell.kernel), value(cell.recurrent_kernel)
    if isinstance(cell, LSTMCell):
        weights = [kernel, recurrent]
        if cell.use_bias:
            bias = value(cell.bias)
            weights += [bias, ops.zeros_like(bias)]
        # Contiguous for oneDNN's LSTM: given transposed views, a batch-1 `latency`
        # inference took 1.80 ms against 1.44 (2 CPU cores, `toolkit.layers.LSTM` on
        # torch, predict_on_batch, medians of 30 interleaved). The GRU's CPU kernel
        # (matmuls) gained nothing from it: its matrices stay views.
        return [w.T.contiguous() if w.dim() == 2 else w for w in weights]
    weights = [_gru_order(kernel), _gru_order(recurrent)]
    if cell.use_bias:
        bias = value(cell.bias)
        weights += [_gru_order(bias[0]), _gru_order(bias[1])]
    return [ops.transpose(w) if len(w.shape) == 2 else w for w in weights]


def _gru_order(weights):
    """The toolkit's gate blocks `[z, r, h]` (last axis) in PyTorch's order `[r, z, n]`."""
    update, reset, candidate = ops.split(weights, 3, axis=-1)
    return ops.concatenate([reset, update, candidate], axis=-1)


def torch_recurrent(cell, sequences, states, mask, go_backwards, return_sequences, states_used):
    """Runs a layer's call with `torch.lstm` / `torch.gru`.

    Args:
        cell: A cell for which `torch_unsupported_reason` is `None`.
        sequences: `(batch, time, features)` inputs (input dropout applied).
        states: The initial states, as `cell.state_size`, each `(batch, units)`.
        mask: Boolean `(batch, time)` or `None`, in input order.
        go_backwards: Whether the layer runs over reversed time.
        return_sequences: Whether the outputs are wanted.
        states_used: Whether the caller uses the final states (`return_state`,
            `stateful`). Without it, a masked LSTM runs its faster padded form
            (`_padded_layout`), whose final cell state is not the rows' own.

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
    return run(cell, sequences, states, mask, go_backwards, return_sequences, states_used)


def _run_kernel(cell, sequences, states, mask, go_backwards, return_sequences, states_used):
    import torch

    if mask is not None and bool(torch.all(mask)):
        mask = None
    weights = torch_weights(cell, sequences.dtype)
    lstm = isinstance(cell, LSTMCell)
    run = _lstm if lstm else _gru
    initial = [ops.cast(state, sequences.dtype)[None] for state in states]
    if mask is None:
        if go_backwards:
            sequences = torch.flip(sequences, (1,))
        outputs, final = run(sequences, None, initial, weights)
        final = [state[0] for state in final]
        return final[0], outputs if return_sequences else None, final

    batch, steps = mask.shape
    if go_backwards:  # positions in the flipped sequence, the layer's output order
        mask = torch.flip(mask, (1,))
    source, _, lengths = compaction(mask)
    # The packed form where a masked LSTM's final cell state is used, and for the GRU
    # in inference (it skips the padding's steps); else the padded one (`_padded_layout`).
    packed = states_used if lstm else not torch.is_grad_enabled()
    layout = (_packed_layout if packed else _padded_layout)(source, lengths)
    read = layout.flat_steps
    if go_backwards:  # flipped position p of a row is its input step steps - 1 - p
        read = read + (steps - 1) - 2 * (read % steps)
    data = sequences.reshape(batch * steps, -1).index_select(0, read)
    # Finite values at the steps run past a row's end, whose outputs are dropped.
    data = torch.where(layout.real[:, None], data, torch.zeros_like(data))
    if packed:
        order = layout.order
        data, final = run(
            data, layout.batch_sizes, [state.index_select(1, order) for state in initial], weights
        )
        final = [state.index_select(1, torch.argsort(order))[0] for state in final]
    else:
        span = layout.span
        data, ran_on = run(data.reshape(batch, span, -1), None, initial, weights)
        # The hidden state after each row's last valid step is its output there; the
        # LSTM's cell state (unused) is the kernel's.
        last = torch.clamp(lengths - 1, min=0).long()
        final = [data[torch.arange(batch, device=data.device), last]]
        final += [state[0] for state in ran_on[1:]]
        data = data.reshape(batch * span, -1)
    final = keep_empty_rows(lengths, final, states)
    last_output = torch.where((lengths > 0)[:, None], final[0], torch.zeros_like(final[0]))
    if not return_sequences:
        return last_output, None, final
    # Each output back at its step; masked steps and the steps past a row's end stay zero.
    data = torch.where(layout.real[:, None], data, torch.zeros_like(data))
    outputs = data.new_zeros((batch * steps, data.shape[-1])).index_copy(0, layout.flat_steps, data)
    return last_output, outputs.reshape(batch, steps, -1), final


class _Layout:
    """Where a mask's valid steps, compacted to each row's front, go in a kernel's
    input: one entry per kernel step and row (`_packed_layout`, `_padded_layout`)."""

    def __init__(self, flat_steps, real, order=None, batch_sizes=None, span=None):
        self.flat_steps = flat_steps  # per entry, `row * time + step` of the input it reads
        self.real = real  # per entry, whether that step is valid (else past the row's end)
        self.order = order  # packed: rows by decreasing length (stable)
        self.batch_sizes = batch_sizes  # packed: rows still running at each step (CPU)
        self.span = span  # padded: steps the kernel runs, the longest row's length


def _packed_layout(source, lengths):
    """A packed sequence of the valid steps (`torch.nn.utils.rnn.PackedSequence`'s order).

    A packed sequence lists, for each compacted step `j` in turn, the rows still
    running (longest first): `batch_sizes[j]` entries. One `index_select` of the
    flattened `(batch * time, features)` inputs builds its data and one `index_copy`
    puts the outputs back: compaction and packing in one gather each way, whose
    gradients are the row-wise `index_add` / `index_select`. Exact final states for
    every row; but PyTorch runs packed sequences on its C++ loop (not oneDNN), whose
    backward is slow (each step's slice of the packed gradient is a full-size
    tensor): 4x the padded form's training time for the LSTM on 2 CPU cores.
    """
    import torch

    batch, steps = source.shape
    running = torch.clamp(lengths, min=1)  # an empty row runs one ignored step
    order = torch.argsort(running, descending=True, stable=True)
    sorted_lengths = running[order]
    compacted = torch.arange(int(sorted_lengths[0]), device=source.device)
    runs = compacted[:, None] < sorted_lengths[None, :]  # (packed steps, sorted rows)
    rows = order[None, :].expand_as(runs)[runs]
    positions = compacted[:, None].expand_as(runs)[runs]
    return _Layout(
        flat_steps=rows * steps + source[rows, positions].long(),
        real=positions < lengths[rows],
        order=order,
        batch_sizes=runs.sum(dim=1).cpu(),
    )


def _padded_layout(source, lengths):
    """The compacted batch, right-padded to its longest row, for the batch-first kernel.

    Every row runs the longest row's number of steps (oneDNN's LSTM on a CPU): the
    outputs at each row's valid steps are exact, since the padding comes after
    them, and so is the hidden state after its last valid step (its output there).
    The LSTM's final cell state is not: it ran on past shorter rows' ends (so this
    form is for calls whose states are not used). The steps past a row's end read
    zeros and their outputs are dropped.
    """
    import torch

    batch, steps = source.shape
    span = max(int(torch.max(lengths)), 1)
    positions = torch.arange(span, device=source.device)
    rows = torch.arange(batch, device=source.device)[:, None] * steps
    return _Layout(
        flat_steps=(rows + source[:, :span].long()).reshape(-1),
        real=(positions[None, :] < lengths[:, None]).reshape(-1),
        span=span,
    )


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
