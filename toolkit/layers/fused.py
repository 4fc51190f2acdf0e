"""Fused LSTM and GRU recurrences with a hand-written backward pass through time.

The generic loop (`time_loop.scan` over `cell.recurrent_step`) is differentiated
by the framework: on TensorFlow every step of the backward loop then also
computes its own share of the recurrent-kernel gradient, a small
`(units, batch) x (batch, gates * units)` matmul and an accumulation per step.
Here the backward loop does only what must be sequential - the gate
derivatives and one `(batch, gates * units) x (gates * units, units)` matmul
per step - and collects the gate-input gradients `dZ` of all steps; the
recurrent-kernel gradient is then a single large matmul over all steps,
`H_prev^T dZ` with `H_prev` of shape `(time * batch, units)`, and the input
kernel's gradient comes from the (hoisted) input projection the same way.

The forward loop stores what the backward loop reads (the LSTM's four gate
activations and cell states; the GRU's gates and `h U + b`), so the backward
loop recomputes only cheap element-wise values (`tanh(c_t)`). The previous
hidden states are the outputs shifted by one step unless a mask can hold them
back. The large products of the backward pass (recurrent-kernel and bias
gradients) run as plain TensorFlow ops after the compiled loop: TensorFlow's
CPU matmul (oneDNN) is faster than XLA's for them.

Masks follow `Recurrent`: at a masked step the states are kept and the output
is zero. Time-major tensors throughout: `projected` is `(time, batch, gates *
units)`, the already projected inputs (`cell.project_inputs`), and `mask` is
`(time, batch, 1)` or `None`.

That is training (`fused_sequence`), which runs a sequence in a few time
chunks where TensorFlow can run one chunk's large matmuls beside another
chunk's loop (`_side_by_side`). Inference (`fused_inference`) stores nothing,
projects the inputs a block of steps at a time inside its loop and splits the
batch to use two threads (`_inference_split`).

Only the standard cells qualify (`fused_unsupported_reason`): tanh and
sigmoid activations, no peepholes, layer norm, clipping, projection,
coupled gates, zoneout or recurrent dropout; input dropout is fine (it acts
before the projection). TensorFlow backend only (`tf.custom_gradient`);
elsewhere the generic loop runs.
"""

import inspect
import os

import keras

from toolkit.cells.gru import GRUCell
from toolkit.cells.lstm import LSTMCell

_LSTM_PLAIN = {
    "peephole": False,
    "coupled_input_forget": False,
    "input_gate": True,
    "forget_gate": True,
    "output_gate": True,
    "input_squashing": True,
    "output_squashing": True,
    "full_gate_recurrence": False,
    "layer_norm": False,
    "cell_clip": None,
    "projection": None,
    "zoneout": 0.0,
    "cell_zoneout": 0.0,
}
_GRU_PLAIN = {"zoneout": 0.0, "reset_after": True}


def fused_unsupported_reason(cell, training, return_gates=False, unroll=False):
    """Why the fused loop cannot run this cell (a short string), or `None` if it can."""
    if keras.backend.backend() != "tensorflow":
        return f"backend {keras.backend.backend()!r} (fused loops are TensorFlow-only)"
    return plain_cell_reason(cell, training, return_gates, unroll)


def plain_cell_reason(cell, training, return_gates=False, unroll=False):
    """Why the cell or call is not a standard LSTM or GRU one (a short string), or `None`.

    The condition shared by the fast kernels of these cells (this module's loops and
    cuDNN's, `cudnn.py`), whatever the backend.
    """
    if return_gates:
        return "gate tracing"
    if unroll:
        return "unroll=True"
    if isinstance(cell, LSTMCell):
        plain = _LSTM_PLAIN
    elif isinstance(cell, GRUCell):
        plain = _GRU_PLAIN
    else:
        return f"cell {type(cell).__name__} has no fused loop"
    for name, value in plain.items():
        if getattr(cell, name, value) != value:
            return f"{name}={getattr(cell, name)!r}"
    # Keras' own functions, compared by identity: `keras.activations.serialize` does
    # not trace under `torch.compile` (Keras' `jit_compile=True` on torch).
    tanh, sigmoid = keras.activations.tanh, keras.activations.sigmoid
    if cell.activation is not tanh or cell.recurrent_activation is not sigmoid:
        names = [_name(cell.activation), _name(cell.recurrent_activation)]
        return f"activations {names[0]!r}/{names[1]!r} (fused: tanh/sigmoid)"
    if training and cell.recurrent_dropout:
        return f"recurrent_dropout={cell.recurrent_dropout}"
    return None


def _name(activation):
    return getattr(activation, "__name__", type(activation).__name__)


def fused_sequence(cell, inputs, states, mask):
    """Runs a supported cell over a time-major sequence in training.

    Where TensorFlow's executor can run independent pieces side by side
    (`_side_by_side`: a graph without XLA, two or more CPU threads, a layer
    that is not half of a `Bidirectional`) and the batch has at least
    `MIN_CHUNK_ROWS` rows, the sequence runs in up to `TRAINING_CHUNKS`
    consecutive time chunks (`training_chunks`; decided in the graph where the
    length or the batch is known only at run time), each
    projected (`cell.project_inputs`) and run by the forward loop in turn, the
    states carried from chunk to chunk; each chunk has its own hand-written
    gradient. Both passes are then independent pieces TensorFlow runs side by
    side: the next chunk's input projection beside the current chunk's loop,
    and a chunk's large weight-gradient matmuls beside the backward loop of
    the chunk before it, while the loops themselves are mostly
    single-threaded. A `Bidirectional` layer's two directions already fill two
    threads, and chunks there made training up to 28% slower; elsewhere the
    sequence is one chunk. The forward and backward loops are XLA-compiled
    (`jit_compile`), whatever the model's own setting; inference runs
    `fused_inference` instead.

    Args:
        cell: An `LSTMCell` or `GRUCell` for which `fused_unsupported_reason`
            is `None`.
        inputs: `(time, batch, features)`, the layer's inputs, time-major.
        states: The initial states, as `cell.state_size`.
        mask: Boolean `(time, batch, 1)` or `None`.

    Returns:
        `(outputs, final_states)`: `(time, batch, units)` outputs (zero at
        masked steps) and the list of final states.
    """
    import tensorflow as tf

    steps, batch = inputs.shape[:2]
    if not _side_by_side():
        chunks = 1
    elif steps is not None and batch is not None:
        chunks = training_chunks(steps, batch)
    else:  # the length or the batch is known at run time only: decided in the graph
        chunks = training_chunks(steps or TRAINING_CHUNKS * MIN_CHUNK_STEPS, MIN_CHUNK_ROWS)
    if chunks == 1 or (steps is not None and batch is not None):
        outputs, final = _chunked(cell, inputs, states, mask, chunks)
    else:
        enough = tf.logical_and(
            tf.shape(inputs)[0] >= chunks * MIN_CHUNK_STEPS, tf.shape(inputs)[1] >= MIN_CHUNK_ROWS
        )
        outputs, final = tf.cond(
            enough,
            lambda: _chunked(cell, inputs, states, mask, chunks),
            lambda: _chunked(cell, inputs, states, mask, 1),
        )
    return _static_shapes(cell, outputs, list(final), inputs, states)


# Training's time chunks (`fused_sequence`): at most 4, each at least 16 steps long,
# for batches of at least 32 rows. Measured on 2 CPU cores (gradients of an LSTM / GRU
# layer's loss, one process, interleaved, medians of 15, ms for 1 / 2 / 4 / 8 chunks):
# batch 64, 100 steps, 128 features, 256 units: LSTM 66.6 / 63.6 / 60.1 / 61.8, GRU
# 47.1 / 43.7 / 41.8 / 43.5; batch 32, 500 steps, 64 features, 128 units: LSTM 62.4 /
# 57.5 / 54.2 / 55.0, GRU 45.1 / 40.7 / 38.0 / 38.8; 20 and 40 steps: within 5% either
# way. `train_on_batch` at 100 steps, 128 features, 256 units, 1 / 4 chunks: batch 32
# LSTM 39.1 / 36.5; batch 16 LSTM 21.5 / 20.3 but GRU 14.7 / 16.7; batch 8 LSTM 13.0 /
# 14.9, GRU 10.4 / 12.0.
TRAINING_CHUNKS = 4
MIN_CHUNK_STEPS = 16
MIN_CHUNK_ROWS = 32


def training_chunks(steps, batch):
    """How many time chunks `fused_sequence` runs a sequence of `steps` steps and
    `batch` rows in, where chunks can run side by side (`_side_by_side`)."""
    if batch < MIN_CHUNK_ROWS:
        return 1
    return max(1, min(TRAINING_CHUNKS, steps // MIN_CHUNK_STEPS))


def _chunked(cell, inputs, states, mask, chunks):
    """`fused_sequence` in `chunks` consecutive time chunks, whose lengths differ by
    at most one step."""
    import tensorflow as tf

    if chunks == 1:
        return _fused_chunk(cell, cell.project_inputs(inputs), states, mask)
    steps = inputs.shape[0] if inputs.shape[0] is not None else tf.shape(inputs)[0]
    outputs = []
    for index in range(chunks):
        start, stop = steps * index // chunks, steps * (index + 1) // chunks
        projected = cell.project_inputs(inputs[start:stop])
        part, states = _fused_chunk(
            cell, projected, states, None if mask is None else mask[start:stop]
        )
        outputs.append(part)
    return _join(outputs), states


def _fused_chunk(cell, projected, states, mask):
    """One chunk of `fused_sequence`: `projected` is `cell.project_inputs` of its inputs."""
    import tensorflow as tf

    dtype = projected.dtype
    mask = None if mask is None else tf.cast(mask, dtype)
    kernel = tf.cast(cell.recurrent_kernel, dtype)
    parts = _batch_parts(cell, projected.shape[1])
    if isinstance(cell, LSTMCell):
        outputs, *final = _lstm(projected, kernel, states[0], states[1], mask, parts)
    else:
        outputs, *final = _gru(projected, kernel, _gru_bias(cell, kernel), states[0], mask, parts)
    return outputs, final


def fused_inference(cell, inputs, states, mask):
    """Runs a supported cell over a time-major sequence in inference.

    Plain TensorFlow ops (an exported SavedModel needs no XLA; under a model's
    `jit_compile=True` XLA compiles them with the rest). Nothing is kept for a
    backward pass (a gradient taken anyway is TensorFlow's own, through the
    loop). The input projection is not one matmul over the whole sequence
    ahead of the loop, as in training: each iteration projects its own
    `INFERENCE_BLOCK` steps (4 for the LSTM, 2 for the GRU), then runs them.
    Writing a `(time * batch, gates * units)` projection out and reading it
    back cost more than the one large matmul saved, and fewer, longer
    iterations spend less on the loop itself (the measurements are at
    `INFERENCE_BLOCK`). The batch is split to use two CPU threads: each step
    on two slices under XLA, two loops over half the rows each in plain ops
    outside a `Bidirectional` (`_inference_split`).

    Args:
        cell: An `LSTMCell` or `GRUCell` for which `fused_unsupported_reason`
            is `None`.
        inputs: `(time, batch, features)`, the layer's inputs, time-major.
        states: The initial states, as `cell.state_size`.
        mask: Boolean `(time, batch, 1)` or `None`.

    Returns:
        `(outputs, final_states)` as `fused_sequence`.
    """
    import tensorflow as tf

    dtype = inputs.dtype
    kernel = tf.cast(cell.recurrent_kernel, dtype)
    if isinstance(cell, LSTMCell):
        step, block = _lstm_inference_step(kernel), INFERENCE_BLOCK[LSTMCell]
    else:
        step, block = _gru_inference_step(kernel, _gru_bias(cell, kernel)), INFERENCE_BLOCK[GRUCell]

    def project(rows):  # (rows, features) -> (rows, gates * units), the cell's own projection
        return tf.cast(cell.project_inputs(rows), dtype)

    mask = None if mask is None else tf.cast(mask, dtype)
    split = _inference_split(inputs.shape[1])
    if split == "steps":
        step = _parted_step(step, 2)

    def run(inputs, mask, states):
        return _blocked_loop(step, project, inputs, mask, states, block)

    if split == "loops":
        final, outputs = _in_two_loops(run, inputs, mask, tuple(states))
    else:
        final, outputs = run(inputs, mask, tuple(states))
    return _static_shapes(cell, outputs, list(final), inputs, states)


# Steps per iteration of the inference loop (`fused_inference`), per cell. Measured at
# batch 64, time 100, 128 features, 256 units on 2 cores, one process, blocks of 1, 2 and
# 4 steps interleaved (medians of 15, plain ops / XLA-compiled, ms): LSTM 47.9 / 35.9,
# 43.3 / 32.1, 40.7 / 31.7 (whole sequence projected ahead: 46.2 / 43.5; Keras' LSTM
# 51.0 / 32.7); GRU 33.4 / 35.5, 33.6 / 30.0, 40.7 / 32.1 (Keras' GRU 37.8 / 34.2).
INFERENCE_BLOCK = {LSTMCell: 4, GRUCell: 2}


def _inference_split(batch):
    """How `fused_inference` splits a batch of `batch` rows (`None`: unknown when
    traced) to use two CPU threads: `"steps"`, `"loops"` or `None`.

    * `"steps"` where XLA compiles the loop (a model's `jit_compile=True`) and
      the batch is unknown or has at least `STEP_SLICES_ROWS` rows: each step
      runs on two slices of the batch side by side (`_in_parts`). XLA's CPU
      runtime runs a model's loops one after another and a step's element-wise
      gate math on one thread; two slices run it on two.
    * `"loops"` in plain TensorFlow ops (`predict` without XLA, the exported
      SavedModels) traced in a graph, unless the layer is half of a
      `Bidirectional`: two independent loops, each over half the rows
      (`_in_two_loops`), which TensorFlow's executor runs side by side. A
      `Bidirectional` layer's two directions already fill two threads that way,
      and halves there were slower.
    * `None` eagerly (operations run one at a time) and on one CPU thread.

    Measured on 2 cores (`predict_on_batch`; batch 64, time 100, 128 features,
    256 units unless named; medians, one process; ms, whole -> split):

    * steps, XLA: LSTM 23.2 -> 22.5, GRU 23.0 -> 19.5; batch 8 LSTM 5.0 -> 4.5,
      GRU 4.5 -> 3.9; with `torch.nn` timed in the same rounds (its threads
      spinning between calls) batch 8 LSTM 4.12 -> 3.79, GRU 3.76 -> 3.30, batch
      4 LSTM 2.92 -> 2.93, GRU 2.81 -> 2.40, but batch 2 LSTM 2.38 -> 3.54, GRU
      1.68 -> 2.45 and batch 1 (one slice empty) LSTM 1.94 -> 2.12, GRU 1.57
      -> 1.63 (hence `STEP_SLICES_ROWS`); one bidirectional
      layer LSTM 49.1 -> 46.9, GRU 44.4 -> 36.9; two stacked bidirectional
      layers LSTM 134 -> 131, GRU 107 -> 102; `long` (batch 32, time 500, 64
      features, 128 units) LSTM 24.4 -> 21.0 but GRU 20.6 -> 21.6.
    * loops, plain ops: LSTM 28.1 -> 18.8, GRU 21.6 -> 17.4; masked LSTM 35.7
      -> 24.4; batch 16 LSTM 10.1 -> 7.7, GRU 8.2 -> 7.1; batch 8 a tie; batch 1
      LSTM 3.6 -> 3.9 and GRU 3.1 -> 3.8 (hence `TWO_LOOPS_ROWS`);
      inside `Bidirectional` LSTM 37.9 -> 38.2, GRU 29.9 -> 34.1, two stacked
      bidirectional layers LSTM 112.9 -> 122.6, GRU 92.5 -> 98.6 (hence one
      loop there); in-loop slices in plain ops: LSTM 32.7 -> 26.6.
    """
    import tensorflow as tf

    if tf.executing_eagerly():  # every eager call: decided before anything costlier
        return None
    if tf.__internal__.get_enclosing_xla_context() is not None:
        enough = batch is None or batch >= STEP_SLICES_ROWS
        return "steps" if enough and _cpu_threads() >= 2 else None
    return "loops" if _side_by_side() else None


STEP_SLICES_ROWS = 4  # `_inference_split`: fewer rows run whole under XLA


def _side_by_side():
    """Whether TensorFlow's executor may run independent pieces of this layer's loop
    side by side to use a second thread: traced in a graph without XLA, on two or
    more CPU threads, for a layer that is not one direction of a `Bidirectional`
    (whose two directions already run side by side)."""
    import tensorflow as tf

    if tf.executing_eagerly() or _cpu_threads() < 2:
        return False
    if tf.__internal__.get_enclosing_xla_context() is not None:
        return False  # XLA runs a model's loops one after another
    return not _inside_bidirectional()


def _inside_bidirectional():
    """Whether a `keras.layers.Bidirectional` is calling this layer (one of its two
    directions): a `Bidirectional` method on the Python stack. Keras passes the
    wrapped layers nothing else that says so."""
    frame = inspect.currentframe()
    try:
        while frame is not None:
            if isinstance(frame.f_locals.get("self"), keras.layers.Bidirectional):
                return True
            frame = frame.f_back
        return False
    finally:
        del frame


def _in_two_loops(run, inputs, mask, states):
    """`run(inputs, mask, states) -> (final states, outputs)` as two independent loops,
    each over half the batch, where the batch has at least `TWO_LOOPS_ROWS` rows
    (checked in the graph when the batch is not known when traced); one loop
    otherwise.

    Time-major `inputs` and `mask`, batch-major `states`; the results are joined
    along the batch.
    """
    import tensorflow as tf

    def halves():
        input_halves = _split_rows(inputs, 2, axis=1)
        mask_halves = (None, None) if mask is None else _split_rows(mask, 2, axis=1)
        state_halves = _split_states(states, 2)
        results = [run(*half) for half in zip(input_halves, mask_halves, state_halves)]
        final = _join_states([result[0] for result in results])
        return final, tf.concat([result[1] for result in results], 1)

    def whole():
        return run(inputs, mask, states)

    batch = inputs.shape[1]
    if batch is not None:
        return halves() if batch >= TWO_LOOPS_ROWS else whole()
    return tf.cond(tf.shape(inputs)[1] >= TWO_LOOPS_ROWS, halves, whole)


TWO_LOOPS_ROWS = 16  # `_in_two_loops`: below it, a second loop costs more than it saves


def _parted_step(step, parts):
    """An inference `step(x, m, *states) -> (states, y)` run on `parts` slices of the
    batch (`_in_parts`), with the same signature."""

    def flat(inputs, *states):
        x, m = inputs if len(inputs) == 2 else (inputs[0], None)
        new, y = step(x, m, *states)
        return new, (y,)

    run = _in_parts(flat, parts)

    def parted(x, m, *states):
        new, (y,) = run((x,) if m is None else (x, m), _split_states(states, parts))
        return _join_states(new), y

    return parted


def _gru_bias(cell, kernel):
    import tensorflow as tf

    return tf.cast(cell.bias[1], kernel.dtype) if cell.use_bias else tf.zeros_like(kernel[0])


def _static_shapes(cell, outputs, final, sequence, states):
    """The loops are traced for relaxed shapes: give back the static ones."""
    import tensorflow as tf

    outputs = tf.ensure_shape(outputs, [*sequence.shape[:2], cell.units])
    final = [tf.ensure_shape(value, state.shape) for value, state in zip(final, states)]
    return outputs, final


def _batch_parts(cell, batch):
    """In how many slices of the batch the compiled GRU training loops run (`_in_parts`).

    Two where there are two or more CPU threads and the batch (if known) has
    at least 16 rows. Measured on 2 CPU cores: two slices take 10-25% off a
    GRU training step (`base` 52 -> 44 ms, `long` 46 -> 41 ms) and four are
    slower than two; the LSTM, whose single fused gate pass is already cheap,
    gains nothing (`base` 57 -> 62 ms) and runs whole.
    """
    if isinstance(cell, LSTMCell) or _cpu_threads() < 2 or (batch is not None and batch < 16):
        return 1
    return 2


def _cpu_threads():
    """The CPU threads the loops' operations may spread over, which the batch slices,
    loops and time chunks are for: TensorFlow's intra-op setting, else the CPUs this
    process may run on; 1 where TensorFlow sees a GPU, which runs them instead."""
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        return 1
    return tf.config.threading.get_intra_op_parallelism_threads() or len(os.sched_getaffinity(0))


def _ones_mask(projected):
    import tensorflow as tf

    return tf.ones_like(projected[:, :, :1])


def _compiled(function):
    """`function` as an XLA-compiled `tf.function` (one cache per function)."""
    import tensorflow as tf

    key = function.__name__
    if key not in _COMPILED:
        _COMPILED[key] = tf.function(
            function, jit_compile=True, reduce_retracing=True, autograph=False
        )
    return _COMPILED[key]


_COMPILED = {}


def _lstm(projected, kernel, hidden, carry, mask, parts):
    import tensorflow as tf

    has_mask = mask is not None
    mask = mask if has_mask else _ones_mask(projected)
    forward = _compiled(_lstm_forward)
    backward = _compiled(_lstm_backward)

    @tf.custom_gradient
    def run(projected, kernel, hidden, carry):
        # The tape must not record inside the compiled loop (its while-loop lists cannot
        # cross the XLA boundary): the gradient is `grad`, not the loop's own.
        arguments = _unwatched(projected, kernel, hidden, carry, mask)
        outputs, h_last, c_last, stored = forward(*arguments, has_mask, parts)

        def grad(d_outputs, d_hidden, d_carry):
            ys, stored_values = outputs, stored
            d_hidden = _zeros_if_none(d_hidden, hidden)
            d_carry = _zeros_if_none(d_carry, carry)
            d_outputs = _zeros_if_none(d_outputs, outputs)
            inputs = _unwatched(d_outputs, d_hidden, d_carry, mask, kernel, carry, stored_values)
            dz, dh_first, dc_first = backward(*inputs, has_mask, parts)
            h_prev = stored_values[2] if has_mask else None
            d_kernel = _recurrent_kernel_gradient(hidden, ys, h_prev, dz)
            return dz, d_kernel, dh_first, dc_first

        return (outputs, h_last, c_last), grad

    return run(projected, kernel, hidden, carry)


def _lstm_forward(projected, kernel, hidden, carry, mask, has_mask, parts=1):
    """Outputs, final states and what the backward pass reads.

    Stored per step: the gate activations `(i, f, (g + 1) / 2, o)` and the cell
    state, plus, with a mask, the previous hidden state (without one, it is the
    previous output). The four gates come from one sigmoid, `tanh(x) = 2
    sigmoid(2 x) - 1` giving the candidate `g`: one fused element-wise pass
    instead of four in the XLA-compiled loop.
    """
    import tensorflow as tf

    units = tf.shape(kernel)[0]  # (units, 4 * units); shapes may be relaxed
    scale = tf.concat([tf.ones([2 * units]), tf.fill([units], 2.0), tf.ones([units])], 0)
    scale = tf.cast(scale, projected.dtype)

    def step(x, m, h, c):
        z = x + tf.matmul(h, kernel)
        gates = tf.sigmoid(z * scale)
        i, f, g, o = tf.split(gates, 4, axis=-1)
        g = 2.0 * g - 1.0
        c_new = f * c + i * g
        h_new = o * tf.tanh(c_new)
        if has_mask:
            y = m * h_new
            h_new, c_new = _masked(m, h_new, h), _masked(m, c_new, c)
        else:
            y = h_new
        saved = (gates, c_new, h) if has_mask else (gates, c_new)
        return (h_new, c_new), y, saved

    (h_last, c_last), outputs, stored = _time_loop(step, projected, mask, (hidden, carry), parts)
    return outputs, h_last, c_last, stored


def _lstm_inference_step(kernel):
    """`step(x, m, h, c) -> ((h, c), y)` of `fused_inference`: plain ops, few of them."""
    import tensorflow as tf

    def step(x, m, h, c):
        z_i, z_f, z_g, z_o = tf.split(x + tf.matmul(h, kernel), 4, axis=-1)
        c_new = tf.sigmoid(z_f) * c + tf.sigmoid(z_i) * tf.tanh(z_g)
        h_new = tf.sigmoid(z_o) * tf.tanh(c_new)
        if m is None:
            return (h_new, c_new), h_new
        return (_masked(m, h_new, h), _masked(m, c_new, c)), m * h_new

    return step


def _gru_inference_step(kernel, bias):
    """`step(x, m, h) -> ((h,), y)` of `fused_inference`."""
    import tensorflow as tf

    def step(x, m, h):
        x_z, x_r, x_h = tf.split(x, 3, axis=-1)
        r_z, r_r, r_h = tf.split(tf.matmul(h, kernel) + bias, 3, axis=-1)
        z, r = tf.sigmoid(x_z + r_z), tf.sigmoid(x_r + r_r)
        n = tf.tanh(x_h + r * r_h)
        h_new = z * h + (1.0 - z) * n
        if m is None:
            return (h_new,), h_new
        return (_masked(m, h_new, h),), m * h_new

    return step


def _blocked_loop(step, project, inputs, mask, states, block):
    """Runs `step` over time, `block` steps (and their projection) per iteration.

    `project` maps `(rows, features)` inputs to `(rows, gates * units)` (the
    cell's `project_inputs`); the last `time % block` steps run one per
    iteration in a second loop. Returns `(final states, outputs (time, batch,
    units))`.
    """
    import tensorflow as tf

    # Static sizes where known: a state that enters the loop `(1, units)` must not
    # come out `(None, units)`.
    steps, batch, features = (
        dynamic if static is None else static
        for static, dynamic in zip(inputs.shape, tf.unstack(tf.shape(inputs)))
    )
    units = states[0].shape[-1]
    full = steps // block * block

    def project_steps(x):  # (k, batch, features) -> (k, batch, gates * units)
        z = project(tf.reshape(x, [-1, features]))
        return tf.reshape(z, [tf.shape(x)[0], batch, z.shape[-1]])  # batch may be 0

    def run(inputs, mask, states, length):
        count = tf.shape(inputs)[0] // length
        inputs = tf.reshape(inputs, [count, length, batch, features])
        if mask is not None:
            mask = tf.reshape(mask, [count, length, batch, 1])

        def body(t, states, array):
            projected, ys = project_steps(inputs[t]), []
            for k in range(length):
                states, y = step(projected[k], None if mask is None else mask[t, k], *states)
                ys.append(y)
            return t + 1, states, array.write(t, tf.stack(ys))

        array = tf.TensorArray(inputs.dtype, size=count, element_shape=[length, None, units])
        _, states, array = tf.while_loop(
            lambda t, *_: t < count, body, (tf.constant(0), states, array)
        )
        return states, tf.reshape(array.stack(), [count * length, batch, units])

    def part(start, stop, length, states):
        """`run` over steps `start:stop`; where the time axis is dynamic, guarded
        against an empty part (a `TensorArray` of none cannot stack)."""
        piece = (inputs[start:stop], None if mask is None else mask[start:stop])
        if inputs.shape[0] is not None:
            return run(*piece, states, length)
        empty = tf.zeros([0, batch, units], inputs.dtype)
        return tf.cond(stop > start, lambda: run(*piece, states, length), lambda: (states, empty))

    static = inputs.shape[0]
    if static is not None and static < block:
        return run(inputs, mask, states, 1)
    states, outputs = part(0, full, block, states)
    if static is not None and static % block == 0:
        return states, outputs
    states, tail = part(full, steps, 1, states)
    return states, tf.concat([outputs, tail], 0)


def _time_loop(step, projected, mask, states, parts=1):
    """Runs `step(x_t, m_t, *states) -> (states, y_t, saved_t)` over time with `tf.while_loop`.

    Only `y` and the `saved` tensors are written per step, into `TensorArray`s;
    returns `(final states, stacked y, stacked saved)`. With `parts > 1` every
    step runs on that many slices of the batch (`_in_parts`).
    """
    import tensorflow as tf

    def flat_step(inputs, *states):
        new_states, y, saved = step(*inputs, *states)
        return new_states, (y, *saved)

    steps = tf.shape(projected)[0]
    run_step = _in_parts(flat_step, parts)
    states = _split_states(states, parts)
    _, outputs_0 = run_step((projected[0], mask[0]), states)  # traced for shapes only

    def body(t, states, arrays):
        states, outputs = run_step((projected[t], mask[t]), states)
        return t + 1, states, _written(arrays, t, outputs)

    _, states, arrays = tf.while_loop(
        lambda t, *_: t < steps, body, (tf.constant(0), states, _arrays(outputs_0, steps))
    )
    ys, *saved = (array.stack() for array in arrays)
    return _join_states(states), ys, tuple(saved)


def _reverse_loop(back, sequences, initial, parts=1, previous=()):
    """Runs `back(inputs_t, *carry) -> (carry, outputs_t)` from the last step to the first.

    `sequences` are time-major and read at each step by index (no copies);
    `previous` holds `(first, sequence)` pairs read one step behind, `first` at
    step 0; their values follow the others in `inputs_t`. Returns `(carry
    before the first step, stacked outputs)`.
    """
    import tensorflow as tf

    steps = tf.shape(sequences[0])[0]
    run_step = _in_parts(back, parts)
    carry = _split_states(initial, parts)

    def inputs_at(t):
        behind = tf.maximum(t - 1, 0)
        earlier = tuple(tf.where(t > 0, sequence[behind], first) for first, sequence in previous)
        return tuple(sequence[t] for sequence in sequences) + earlier

    _, outputs_0 = run_step(inputs_at(0), carry)

    def body(t, carry, arrays):
        carry, outputs = run_step(inputs_at(t), carry)
        return t - 1, carry, _written(arrays, t, outputs)

    _, carry, arrays = tf.while_loop(
        lambda t, *_: t >= 0, body, (steps - 1, carry, _arrays(outputs_0, steps))
    )
    return _join_states(carry), tuple(array.stack() for array in arrays)


def _arrays(likes, steps):
    import tensorflow as tf

    return tuple(tf.TensorArray(like.dtype, size=steps, element_shape=like.shape) for like in likes)


def _written(arrays, t, values):
    return tuple(array.write(t, value) for array, value in zip(arrays, values))


def _in_parts(step, parts):
    """`step(inputs, *states) -> (states, outputs)` over `parts` slices of the batch.

    A step is row-wise independent except for the shared weights, and XLA's CPU
    runtime runs independent operations concurrently: with two slices the
    element-wise gate math, which XLA would run on one thread, runs on two.
    `inputs` is a tuple of `(batch, ...)` tensors, `states` one tuple of state
    slices per part (`_split_states`); the outputs are joined along the batch.
    """

    def run(inputs, states):
        sliced = [_split_rows(value, parts) for value in inputs]
        results = [step(tuple(pieces[k] for pieces in sliced), *states[k]) for k in range(parts)]
        new_states = tuple(tuple(result[0]) for result in results)
        outputs = tuple(_join(list(values)) for values in zip(*[result[1] for result in results]))
        return new_states, outputs

    return run


def _split_rows(value, parts, axis=0):
    """`parts` slices of `value` along `axis` (sizes differ by at most one)."""
    import tensorflow as tf

    if parts == 1:
        return (value,)
    rows = tf.shape(value)[axis]
    bounds = [rows * k // parts for k in range(parts + 1)]
    before = (slice(None),) * axis
    return tuple(value[(*before, slice(bounds[k], bounds[k + 1]))] for k in range(parts))


def _join(values):
    import tensorflow as tf

    return values[0] if len(values) == 1 else tf.concat(values, 0)


def _split_states(states, parts):
    """`(state, ...)` -> one tuple of state slices per part."""
    pieces = [_split_rows(state, parts) for state in states]
    return tuple(tuple(piece[k] for piece in pieces) for k in range(parts))


def _join_states(states):
    return tuple(_join(list(values)) for values in zip(*states))


def _lstm_backward(d_outputs, d_hidden, d_carry, mask, kernel, carry, stored, has_mask, parts):
    """`dZ` of every step (the gate-input gradients) and those of the initial states."""
    import tensorflow as tf

    gates, cells = stored[0], stored[1]
    kernel_t = tf.transpose(kernel)  # once, not a transposed product at every step

    def back(inputs, dh, dc):
        dy, m, gate, c, c_before = inputs
        i, f, g, o = tf.split(gate, 4, axis=-1)
        g = 2.0 * g - 1.0
        tc = tf.tanh(c)  # at masked steps `c` is the kept state, but nothing flows there
        if has_mask:
            dh_new, dh_keep = m * (dh + dy), (1.0 - m) * dh
            dc_new, dc_keep = m * dc, (1.0 - m) * dc
        else:
            dh_new, dh_keep, dc_new, dc_keep = dh + dy, 0.0, dc, 0.0
        do = dh_new * tc
        dc_new = dc_new + dh_new * o * (1.0 - tc * tc)
        dz = tf.concat(
            [
                dc_new * g * i * (1.0 - i),
                dc_new * c_before * f * (1.0 - f),
                dc_new * i * (1.0 - g * g),
                do * o * (1.0 - o),
            ],
            -1,
        )
        dh_prev = tf.matmul(dz, kernel_t) + dh_keep
        dc_prev = dc_new * f + dc_keep
        return (dh_prev, dc_prev), (dz,)

    sequences = (d_outputs, mask, gates, cells)
    (dh_first, dc_first), (dz,) = _reverse_loop(
        back, sequences, (d_hidden, d_carry), parts, previous=((carry, cells),)
    )
    return dz, dh_first, dc_first


def _recurrent_kernel_gradient(hidden, outputs, previous_hidden, d_recurrent):
    """`sum_t h_{t-1}^T dZ_t` as large matmuls, in plain TensorFlow ops.

    Outside the compiled loop on purpose: TensorFlow's own (oneDNN) matmul runs
    this large product faster than XLA's CPU one. Without a mask the previous
    hidden states are the initial state and the outputs shifted by one step.
    """
    import tensorflow as tf

    if previous_hidden is not None:
        return _summed_outer(previous_hidden, d_recurrent)
    first = tf.matmul(hidden, d_recurrent[0], transpose_a=True)
    return first + _summed_outer(outputs[:-1], d_recurrent[1:])


def _gru(projected, kernel, bias, hidden, mask, parts):
    import tensorflow as tf

    has_mask = mask is not None
    mask = mask if has_mask else _ones_mask(projected)
    forward = _compiled(_gru_forward)
    backward = _compiled(_gru_backward)

    @tf.custom_gradient
    def run(projected, kernel, bias, hidden):
        arguments = _unwatched(projected, kernel, bias, hidden, mask)
        outputs, h_last, stored = forward(*arguments, has_mask, parts)

        def grad(d_outputs, d_hidden):
            ys, stored_values = outputs, stored
            d_hidden = _zeros_if_none(d_hidden, hidden)
            d_outputs = _zeros_if_none(d_outputs, outputs)
            inputs = _unwatched(d_outputs, d_hidden, hidden, ys, mask, kernel, stored_values)
            d_input, d_recurrent, dh_first = backward(*inputs, has_mask, parts)
            h_prev = stored_values[2] if has_mask else None
            d_kernel = _recurrent_kernel_gradient(hidden, ys, h_prev, d_recurrent)
            d_bias = tf.reduce_sum(d_recurrent, axis=[0, 1])
            return d_input, d_kernel, d_bias, dh_first

        return (outputs, h_last), grad

    return run(projected, kernel, bias, hidden)


def _gru_forward(projected, kernel, bias, hidden, mask, has_mask, parts=1):
    """Outputs, the final state and what the backward pass reads.

    Stored per step: the gates `z, r, n` and `h U + b` of the candidate, plus,
    with a mask, the previous hidden state (without one, it is the previous
    output). One sigmoid gives `z` and `r`.
    """
    import tensorflow as tf

    units = tf.shape(kernel)[0]  # (units, 3 * units); shapes may be relaxed

    def step(x, m, h):
        recurrent = tf.matmul(h, kernel) + bias
        r_h = recurrent[:, 2 * units :]
        update_reset = tf.sigmoid(x[:, : 2 * units] + recurrent[:, : 2 * units])
        z, r = update_reset[:, :units], update_reset[:, units:]
        n = tf.tanh(x[:, 2 * units :] + r * r_h)
        h_new = z * h + (1.0 - z) * n
        if has_mask:
            y = m * h_new
            h_new = _masked(m, h_new, h)
        else:
            y = h_new
        gates = tf.concat([update_reset, n], -1)
        saved = (gates, r_h, h) if has_mask else (gates, r_h)
        return (h_new,), y, saved

    (h_last,), outputs, stored = _time_loop(step, projected, mask, (hidden,), parts)
    return outputs, h_last, stored


def _gru_backward(d_outputs, d_hidden, hidden, outputs, mask, kernel, stored, has_mask, parts):
    """The gradients of the projected inputs and of `h U + b` at every step, and `dh_0`."""
    import tensorflow as tf

    gates, recurrent_h = stored[0], stored[1]
    kernel_t = tf.transpose(kernel)  # once, not a transposed product at every step

    def back(inputs, dh):
        dy, m, gate, r_h, h_before = inputs
        z, r, n = tf.split(gate, 3, axis=-1)
        if has_mask:
            dh_new, dh_keep = m * (dh + dy), (1.0 - m) * dh
        else:
            dh_new, dh_keep = dh + dy, 0.0
        dn = dh_new * (1.0 - z) * (1.0 - n * n)
        dz = dh_new * (h_before - n) * z * (1.0 - z)
        dr = dn * r_h * r * (1.0 - r)
        d_recurrent = tf.concat([dz, dr, dn * r], -1)
        d_input = tf.concat([dz, dr, dn], -1)
        dh_prev = dh_new * z + tf.matmul(d_recurrent, kernel_t) + dh_keep
        return (dh_prev,), (d_input, d_recurrent)

    # The state before each step: stored where a mask can hold it back, else the
    # previous output.
    sequences = (d_outputs, mask, gates, recurrent_h, *stored[2:])
    previous = () if has_mask else ((hidden, outputs),)
    (dh_first,), (d_input, d_recurrent) = _reverse_loop(
        back, sequences, (d_hidden,), parts, previous
    )
    return d_input, d_recurrent, dh_first


def _unwatched(*values):
    import tensorflow as tf

    return tf.nest.map_structure(tf.stop_gradient, values)


def _masked(mask, new, old):
    return mask * new + (1.0 - mask) * old


def _zeros_if_none(gradient, like):
    import tensorflow as tf

    return tf.zeros_like(like) if gradient is None else gradient


def _summed_outer(left, right):
    """`sum_t left_t^T right_t` as one matmul: `(time * batch, a)^T (time * batch, b)`."""
    import tensorflow as tf

    a, b = tf.shape(left)[-1], tf.shape(right)[-1]
    return tf.matmul(tf.reshape(left, [-1, a]), tf.reshape(right, [-1, b]), transpose_a=True)
