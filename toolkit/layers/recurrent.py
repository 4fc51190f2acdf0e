"""`Recurrent`: runs any toolkit cell over masked batches of sequences."""

import keras
from keras import ops

from toolkit.cells.base import RecurrentCell
from toolkit.cells.lstm import LSTMCell
from toolkit.layers.cudnn import cudnn_lstm
from toolkit.layers.cudnn import cudnn_unsupported_reason
from toolkit.layers.fused import fused_inference
from toolkit.layers.fused import fused_sequence
from toolkit.layers.fused import fused_unsupported_reason
from toolkit.layers.masks import check_mask
from toolkit.layers.masks import check_rank
from toolkit.layers.masks import masked_update
from toolkit.layers.scan import parallel_sequence
from toolkit.layers.scan import parallel_unsupported_reason
from toolkit.layers.time_loop import jax_on_cpu
from toolkit.layers.time_loop import scan
from toolkit.layers.torch_kernels import torch_recurrent
from toolkit.layers.torch_kernels import torch_unsupported_reason


def _projects_per_step():
    """Whether the step loop computes each step's input projection inside the loop.

    Only JAX on the CPU. There, hoisting the projection out of `jax.lax.scan` (one large
    matmul, then the loop reads its `(time, batch, gates * units)` result) was slower
    than projecting every step: `benchmarks/recurrent_layers.py` at batch 64, time 100,
    features 128, units 256 (XLA:CPU, 2 cores, quiet, 2026-11-25) measured an LSTM
    training step of 115 ms and inference of 36.9 ms hoisted, against 78.6 and 15.6 ms
    per step (Keras' LSTM, which projects per step: 78.4 and 15.5); the GRU 79.1 and
    35.4 ms against 62.6 and 17.2 (the hoisted runs with this function patched to return
    `False`, a one-off script). TensorFlow's loops, which XLA does not compile, and
    accelerators keep the single large matmul.
    """
    return jax_on_cpu()


@keras.saving.register_keras_serializable(package="toolkit")
class Recurrent(keras.layers.Layer):
    """Sequence layer that runs a toolkit cell over time.

    The layer owns time, masks and state; the cell owns the math of one step.
    The input half of every step is computed for the whole sequence with one
    matmul (`cell.project_inputs`), then a loop runs only the recurrent half
    (`cell.recurrent_step`). The exception is the step loop on JAX's CPU
    backend, which XLA:CPU runs faster with the projection inside the loop.

    Masks: a padded batch gives, for every sequence, exactly the result of
    running that sequence alone, whether the padding is on the right, on the
    left, or in holes: masked steps leave the states unchanged, their outputs
    are zero, and the last output is the output of the last unmasked step.

    Dropout (`cell.dropout`, `cell.recurrent_dropout`) uses one mask per
    sequence, shared by all its time steps (Gal & Ghahramani, 2016); zoneout
    draws a fresh mask at every step.

    Args:
        cell: A toolkit cell (`toolkit.cells.*`).
        return_sequences: Boolean (default `False`). Whether to return every
            output `(batch, time, output_size)` or only the last one
            `(batch, output_size)`.
        return_state: Boolean (default `False`). Whether to return the final
            states after the output.
        go_backwards: Boolean (default `False`). Process the sequence in
            reverse; returned sequences are then in reversed order, as in
            Keras.
        stateful: Boolean (default `False`). Carry the final states of a
            batch over as the initial states of the next one; needs a static
            batch size. `reset_state()` sets them back to zeros. The state
            variables are saved with the model but are not part of
            `get_weights()`, so weight layouts stay those of Keras.
        unroll: Boolean (default `False`). Run the loop in Python, which needs
            a static number of timesteps; can be faster for short sequences.
        fused: `"auto"` (default), `True` or `False`. Whether to run a fast
            path instead of the generic step loop, same results: for a cell
            whose recurrence is linear in its state (`MinGRUCell`,
            `MinLSTMCell`), a parallel scan over time (`toolkit/layers/scan.py`,
            every backend; not with `unroll=True` or gate tracing); for a
            standard LSTM or GRU cell on the TensorFlow backend, the fused
            loop with a hand-written backward pass through time
            (`toolkit/layers/fused.py`); for a standard LSTM cell on JAX with
            a GPU, cuDNN's kernel (`toolkit/layers/cudnn.py`); for a standard
            LSTM or GRU cell on PyTorch, PyTorch's own kernels (`torch.lstm`,
            `torch.gru`: `toolkit/layers/torch_kernels.py`). The last two take
            any mask, compacted to right padding (`toolkit/layers/compaction.py`).
            `"auto"` uses it whenever
            the cell and call qualify, `True` raises where they do not, `False` always runs
            the generic step loop. After a call, `execution_path` says which
            path ran and why (as Keras' `use_cudnn` does for cuDNN), e.g.
            `"parallel scan (associative)"`.
        zero_output_for_mask: Boolean (default `True`). Whether the returned
            sequences hold zeros at masked steps (the default) or, as Keras'
            recurrent layers do by default (`False`), the output of the last
            unmasked step before them (zeros before the first one). Only
            `return_sequences` outputs differ; `keras.layers.Bidirectional`
            sets it to `return_sequences`, as for Keras' layers.
        use_cudnn: `None` (default) or Keras' `"auto"`, `True`, `False`: the
            same as `fused` (the switch of the fast paths, cuDNN's among
            them), so that Keras code and configs construct these layers.
            Read into `fused`, which is what the config keeps.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: `(batch, time, features)` tensor.
        initial_state: Optional list of initial state tensors, one per entry
            of `cell.state_size`.
        mask: Optional boolean `(batch, time)` tensor, `True` at real steps.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np, toolkit
    >>> cell = toolkit.cells.LSTMCell(4, layer_norm=True)
    >>> layer = toolkit.layers.Recurrent(cell, return_sequences=True)
    >>> tuple(layer(np.zeros((2, 5, 3), "float32")).shape)
    (2, 5, 4)
    """

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        fused="auto",
        zero_output_for_mask=True,
        use_cudnn=None,
        **kwargs,
    ):
        if not isinstance(cell, RecurrentCell):
            raise ValueError(
                "Argument `cell` expected a toolkit cell (an instance of "
                f"toolkit.cells.RecurrentCell). Received: cell={cell!r}"
            )
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        if fused not in ("auto", True, False):
            raise ValueError(
                f"Argument `fused` expected 'auto', True or False. Received: fused={fused!r}"
            )
        if use_cudnn is not None:
            if use_cudnn not in ("auto", True, False):
                raise ValueError(
                    "Argument `use_cudnn` expected None, 'auto', True or False. "
                    f"Received: use_cudnn={use_cudnn!r}"
                )
            if fused != "auto" and use_cudnn != fused:
                raise ValueError(
                    "Arguments `fused` and `use_cudnn` are the same switch; give one. "
                    f"Received: fused={fused!r}, use_cudnn={use_cudnn!r}"
                )
            fused = use_cudnn
        self.fused = fused
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.execution_path = None  # set by each call: which loop ran
        self.supports_masking = True
        self.input_spec = keras.layers.InputSpec(min_ndim=3, max_ndim=3)
        self.states = None
        self._state_batch_size = None
        self._trace_sink = None

    @property
    def state_size(self):
        return self.cell.state_size

    # === Build ===

    def build(self, sequences_shape, initial_state_shape=None):
        sequences_shape = tuple(sequences_shape)
        check_rank("sequences", sequences_shape)
        if not self.cell.built:
            self.cell.build((sequences_shape[0], sequences_shape[-1]))
        if self.stateful:
            batch_size = sequences_shape[0]
            if batch_size is None:
                raise ValueError(
                    "A stateful recurrent layer needs a static batch size: give "
                    "the input a `batch_size` (`keras.Input(..., batch_size=N)`). "
                    f"Received: sequences.shape={sequences_shape}"
                )
            self._state_batch_size = batch_size
            self.states = [
                self.add_weight(
                    shape=(batch_size, size),
                    initializer="zeros",
                    trainable=False,
                    name=f"state_{index}",
                )
                for index, size in enumerate(self.cell.state_size)
            ]

    @property
    def weights(self):
        # The stateful state is saved with the model (it is a tracked
        # variable) but is not a weight: get_weights/set_weights keep the
        # layout of the Keras layers.
        state_ids = {id(state) for state in self.states or ()}
        return [weight for weight in super().weights if id(weight) not in state_ids]

    def reset_state(self):
        """Sets the carried states of a stateful layer back to zeros."""
        if not self.stateful:
            raise ValueError("`reset_state()` is for layers built with `stateful=True`.")
        for state in self.states or ():
            state.assign(ops.zeros(state.shape, dtype=state.dtype))

    def reset_states(self):
        """Alias of `reset_state()`, as in Keras."""
        self.reset_state()

    # === Call ===

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if self._trace_sink is not None:
            self._trace_sink.append((sequences, initial_state, mask))
        last_output, outputs, states, _ = self._run(
            sequences, initial_state, mask, training, return_gates=False
        )
        if self.stateful:
            for variable, state in zip(self.states, states):
                variable.assign(ops.cast(state, variable.dtype))
        if self.return_sequences and mask is not None and not self.zero_output_for_mask:
            step_mask = ops.flip(mask, axis=1) if self.go_backwards else mask
            outputs = _repeat_last_valid_output(outputs, step_mask)
        output = outputs if self.return_sequences else last_output
        if self.return_state:
            return [output] + list(states)
        return output

    def trace(self, sequences, initial_state=None, mask=None):
        """Runs the layer in inference mode and returns its per-step gates.

        Args:
            sequences: `(batch, time, features)` tensor.
            initial_state: Optional list of initial state tensors.
            mask: Optional boolean `(batch, time)` tensor.

        Returns:
            A dict from each of `cell.gate_names` to a `(batch, time, size)`
            tensor, in input time order (also with `go_backwards=True`). The
            values at masked steps are zeros; see `toolkit.inspect` for a
            view that excludes them. Stateful states are read, not updated.
        """
        # Through a Keras layer call, so that under mixed precision the same
        # autocast scope as in `call` applies to the cell's variables.
        return _GateTracer(self)(sequences, initial_state=initial_state, step_mask=mask)

    def _trace_gates(self, sequences, initial_state=None, mask=None):
        _, _, _, gates = self._run(sequences, initial_state, mask, False, return_gates=True)
        if self.go_backwards:
            gates = {name: ops.flip(value, axis=1) for name, value in gates.items()}
        return gates

    def _run(self, sequences, initial_state, mask, training, return_gates):
        sequences = ops.convert_to_tensor(sequences)
        check_rank("sequences", sequences.shape)
        states = self._initial_states(sequences, initial_state)
        if mask is not None:
            mask = check_mask(mask, sequences)
        steps = sequences.shape[1]
        if steps is not None and steps > 0:
            return self._run_steps(sequences, states, mask, training, return_gates)
        return self._run_maybe_empty(sequences, states, mask, training, return_gates)

    def _run_maybe_empty(self, sequences, states, mask, training, return_gates):
        """`_run_steps` for a batch that may have zero time steps.

        Zero steps is a batch whose every step is masked, shortened to
        nothing: outputs `(batch, 0, units)`, a zero last output and the
        initial states, what a fully masked row gives. The loops cannot run
        zero steps themselves (TensorFlow's read step 0 to fix their output
        structure and stack `TensorArray`s of a dynamic batch; the parallel
        scan indexes step 0 on every backend), so the layer answers it here,
        once for every path: the sequence gets one zero step when it has none
        (and its mask a masked one), the loop runs, and the results of that
        step are dropped. With the time axis unknown until run time
        (`tf.function` with a `None` time dimension, e.g. a SavedModel
        signature) this is decided in the graph: an empty pad and an
        identity slice otherwise, which TensorFlow forwards without a copy,
        so longer sequences run as before.
        """
        steps = ops.shape(sequences)[1]
        if isinstance(steps, int):  # statically zero steps
            has_steps, extra = False, 1
        else:
            has_steps = ops.greater(steps, 0)
            extra = 1 - ops.minimum(steps, 1)
        sequences = _pad_time(sequences, extra, 0)
        if mask is not None:
            mask = _pad_time(mask, extra, False)
        last_output, outputs, new_states, gates = self._run_steps(
            sequences, states, mask, training, return_gates
        )
        if has_steps is False:
            last_output = ops.zeros_like(last_output)
            new_states = list(states)
        else:
            last_output = ops.where(has_steps, last_output, ops.zeros_like(last_output))
            new_states = [
                ops.where(has_steps, new, ops.cast(old, new.dtype))
                for new, old in zip(new_states, states)
            ]
        if outputs is not None:
            outputs = outputs[:, :steps]
        if gates is not None:
            gates = {name: value[:, :steps] for name, value in gates.items()}
        return last_output, outputs, new_states, gates

    def _run_steps(self, sequences, states, mask, training, return_gates):
        """The layer's run over a batch of at least one time step."""
        cell = self.cell
        recurrent_mask = None
        if training:
            input_mask = cell.input_dropout_mask(sequences[:, 0, :])
            if input_mask is not None:
                sequences = sequences * ops.expand_dims(input_mask, 1)
            recurrent_mask = cell.recurrent_dropout_mask(states[0])

        path = self._fast_path(training, return_gates)
        # The kernels that take lengths (any mask compacted to the front of its row).
        direction = (self.go_backwards, self.return_sequences)
        if path == "cudnn":
            last_output, outputs, states = cudnn_lstm(cell, sequences, states, mask, *direction)
            return last_output, outputs, states, None
        if path == "torch":
            states_used = self.return_state or self.stateful
            last_output, outputs, states = torch_recurrent(
                cell, sequences, states, mask, *direction, states_used
            )
            return last_output, outputs, states, None
        return self._time_major_run(
            sequences, states, mask, training, recurrent_mask, path, return_gates
        )

    def _time_major_run(
        self, sequences, states, mask, training, recurrent_mask, path=None, return_gates=False
    ):
        """`_run` after the initial states, dropout and the path are settled: the
        parallel scan, the fused loops or (`path=None`) the generic step loop."""
        cell = self.cell
        batch_size = ops.shape(sequences)[0]
        # Time-major from here: one projection matmul for the whole sequence, of the
        # transposed inputs (features wide, not gates * units wide: the cheaper transpose),
        # except in a step loop on XLA:CPU (`_projects_per_step`) and in the fused loops,
        # which project a chunk of steps at a time (`fused_sequence`, `fused_inference`).
        time_major = ops.transpose(sequences, (1, 0, 2))
        per_step = path is None and _projects_per_step()
        if per_step or path == "fused":
            step_inputs = {"inputs": time_major}
        else:
            step_inputs = {"projected": cell.project_inputs(time_major)}
        if mask is not None:
            step_inputs["mask"] = ops.expand_dims(ops.transpose(mask, (1, 0)), -1)
        if training:
            zoneout_masks = cell.zoneout_masks((ops.shape(sequences)[1], batch_size))
            if zoneout_masks is not None:
                step_inputs["zoneout"] = zoneout_masks
        if self.go_backwards:
            step_inputs = keras.tree.map_structure(lambda x: ops.flip(x, axis=0), step_inputs)

        if path == "parallel":
            outputs, states = parallel_sequence(
                cell,
                step_inputs["projected"],
                states,
                step_inputs.get("mask"),
                training,
                zoneout_masks=step_inputs.get("zoneout"),
            )
        elif path == "fused" and training:
            outputs, states = fused_sequence(
                cell, step_inputs["inputs"], states, step_inputs.get("mask")
            )
        elif path == "fused":
            outputs, states = fused_inference(
                cell, step_inputs["inputs"], states, step_inputs.get("mask")
            )
        if path is not None:
            last_output = states[0]
            if "mask" in step_inputs:  # no valid step: the last output stays zero
                seen = ops.any(step_inputs["mask"], axis=0)
                last_output = ops.where(seen, last_output, ops.zeros_like(last_output))
            return last_output, ops.transpose(outputs, (1, 0, 2)), states, None

        def step(carry, step_input):
            previous_states, previous_output = carry
            if per_step:
                projected = cell.project_inputs(step_input["inputs"])
            else:
                projected = step_input["projected"]
            output, new_states, gates = cell.recurrent_step(
                projected,
                previous_states,
                recurrent_dropout_mask=recurrent_mask,
                zoneout_masks=step_input.get("zoneout"),
                training=training,
                return_gates=return_gates,
            )
            last_output = output
            if "mask" in step_input:
                new_states, last_output, output, gates = masked_update(
                    step_input["mask"], new_states, previous_states, output, previous_output, gates
                )
            step_outputs = None
            if self.return_sequences or return_gates:
                step_outputs = (output, gates) if return_gates else output
            return (list(new_states), last_output), step_outputs

        initial_output = ops.zeros((batch_size, cell.output_size), dtype=self.compute_dtype)
        (states, last_output), stacked = scan(
            step, (states, initial_output), step_inputs, unroll=self.unroll
        )
        outputs = gates = None
        if return_gates:
            outputs, gates = stacked
            gates = {name: ops.transpose(value, (1, 0, 2)) for name, value in gates.items()}
        else:
            outputs = stacked
        if outputs is not None:
            outputs = ops.transpose(outputs, (1, 0, 2))
        return last_output, outputs, states, gates

    def _fast_path(self, training, return_gates):
        """Chooses `"parallel"`, `"fused"`, `"cudnn"` or `None` (the step loop); sets
        `execution_path`."""
        if self.fused is False:
            self.execution_path = "step loop (fused=False)"
            return None
        if hasattr(self.cell, "parallel_coefficients"):
            reason = parallel_unsupported_reason(self.cell, return_gates, self.unroll)
            path, needs = "parallel", "a call the parallel scan can run"
            ran = f"parallel scan ({self.cell.scan.replace('_', ' ')})"
            if self.cell.scan == "associative" and jax_on_cpu():
                ran += ", run as one jax.lax.scan on XLA:CPU"
        elif keras.backend.backend() == "jax":
            reason = cudnn_unsupported_reason(self.cell, training, return_gates, self.unroll)
            path, needs = "cudnn", "a standard LSTM cell, on JAX only on a GPU (cuDNN)"
            ran = "cuDNN (jax.experimental.rnn.lstm; any mask compacted to right padding)"
        elif keras.backend.backend() == "torch":
            reason = torch_unsupported_reason(self.cell, training, return_gates, self.unroll)
            path, needs = "torch", "a standard LSTM or GRU cell"
            kernel = "lstm" if isinstance(self.cell, LSTMCell) else "gru"
            ran = f"PyTorch's fused kernel (torch.{kernel}; any mask compacted)"
        else:
            reason = fused_unsupported_reason(self.cell, training, return_gates, self.unroll)
            path, needs = "fused", "a standard LSTM or GRU cell on the TensorFlow backend"
            ran = "fused (hand-written backward through time)"
        if reason is None:
            self.execution_path = ran
            return path
        if self.fused is True and not return_gates:
            raise ValueError(f"Argument `fused=True` needs {needs}. Received: {reason}")
        self.execution_path = f"step loop ({reason})"
        return None

    def _initial_states(self, sequences, initial_state):
        cell = self.cell
        if initial_state is None:
            if self.stateful:
                static_batch = sequences.shape[0]
                if static_batch is not None and static_batch != self._state_batch_size:
                    raise ValueError(
                        "A stateful recurrent layer must be called with the batch "
                        f"size it was built with. Expected batch size: "
                        f"{self._state_batch_size}. Received: "
                        f"sequences.shape={tuple(sequences.shape)}"
                    )
                # Copies: on torch a variable's value is the tensor that `assign` updates
                # in place after the call, while autograd still needs the value read here
                # (Keras' own RNN copies the states for torch too).
                return [ops.copy(ops.cast(state, self.compute_dtype)) for state in self.states]
            # In the layer's compute dtype, which is the loop's dtype even
            # when the cell has another policy (`Recurrent(cell, dtype=...)`).
            return [
                ops.cast(state, self.compute_dtype)
                for state in cell.get_initial_state(ops.shape(sequences)[0])
            ]
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        if len(initial_state) != len(cell.state_size):
            raise ValueError(
                f"Argument `initial_state` expected {len(cell.state_size)} "
                f"tensor(s) of sizes {list(cell.state_size)}. Received: "
                f"{len(initial_state)} tensor(s)"
            )
        states = []
        for index, (state, size) in enumerate(zip(initial_state, cell.state_size)):
            state = ops.cast(ops.convert_to_tensor(state), self.compute_dtype)
            if len(state.shape) != 2 or state.shape[-1] not in (None, size):
                raise ValueError(
                    f"Argument `initial_state` expected entry {index} of shape "
                    f"(batch, {size}). Received: shape={tuple(state.shape)}"
                )
            states.append(state)
        return states

    # === Shapes and masks ===

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch_size, steps = sequences_shape[0], sequences_shape[1]
        size = self.cell.output_size
        output_shape = (batch_size, steps, size) if self.return_sequences else (batch_size, size)
        if self.return_state:
            # A tuple, as Keras' RNN returns it (`Bidirectional` adds tuples to it).
            return (output_shape, *[(batch_size, s) for s in self.cell.state_size])
        return output_shape

    def compute_mask(self, sequences, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.cell.state_size)
        return output_mask

    # === Config ===

    def _loop_config(self):
        config = keras.layers.Layer.get_config(self)
        config.update(
            {
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "go_backwards": self.go_backwards,
                "stateful": self.stateful,
                "unroll": self.unroll,
                "fused": self.fused,
                "zero_output_for_mask": self.zero_output_for_mask,
            }
        )
        return config

    def get_config(self):
        config = self._loop_config()
        config["cell"] = keras.saving.serialize_keras_object(self.cell)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)


def _pad_time(values, extra, fill):
    """`values` `(batch, time, ...)` with `extra` (0 or 1, an int or a scalar tensor)
    steps of `fill` appended on the time axis."""
    if isinstance(extra, int):
        shape = (ops.shape(values)[0], extra) + tuple(ops.shape(values)[2:])
        padding = ops.full(shape, fill, dtype=values.dtype)
        return ops.concatenate([values, padding], axis=1)
    import tensorflow as tf  # a dynamic time axis: TensorFlow graphs only

    paddings = [[0, 0], [0, extra]] + [[0, 0]] * (len(values.shape) - 2)
    return tf.pad(values, paddings, constant_values=fill)


def _repeat_last_valid_output(outputs, mask):
    """`outputs` `(batch, time, units)` with each masked step's output replaced by that
    of the last unmasked step before it, or zeros before the first (Keras' default)."""
    steps = ops.shape(outputs)[1]
    positions = ops.arange(steps, dtype="int32")[None, :]
    valid = ops.cast(mask, "bool")
    last = ops.associative_scan(ops.maximum, ops.where(valid, positions, -1), axis=1)
    taken = ops.take_along_axis(outputs, ops.expand_dims(ops.maximum(last, 0), -1), axis=1)
    return ops.where(ops.expand_dims(last >= 0, -1), taken, ops.zeros_like(taken))


class _GateTracer(keras.layers.Layer):
    """Runs `Recurrent._trace_gates` inside a layer call with the layer's policy.

    A plain method call enters no autocast scope, so under a mixed precision
    policy the float32 variables would meet float16 inputs.
    """

    def __init__(self, layer):
        super().__init__(dtype=layer.dtype_policy, name=f"{layer.name}_gate_tracer")
        self.supports_masking = True  # the mask is an argument here, not metadata
        self._trace_gates = layer._trace_gates  # a bound method: no sublayer tracking
        self.built = True

    def call(self, sequences, initial_state=None, step_mask=None):
        return self._trace_gates(sequences, initial_state=initial_state, mask=step_mask)

    def compute_mask(self, *args, **kwargs):
        return None
