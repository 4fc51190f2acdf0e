"""The attentional decoder: any toolkit cell, an attention mechanism and input
feeding, run over a whole target sequence or one step at a time."""

import keras
from keras import ops

from toolkit.arguments import check_positive_int
from toolkit.arguments import resolve_argument
from toolkit.arguments import serialize_argument
from toolkit.attention.base import AttentionMechanism
from toolkit.cells.base import RecurrentCell
from toolkit.layers.masks import check_mask
from toolkit.layers.masks import check_rank
from toolkit.layers.masks import masked_update
from toolkit.layers.time_loop import scan

STATE_KEYS = ("cell", "attention", "alignments")


@keras.saving.register_keras_serializable(package="toolkit")
class AttentionDecoderCell(keras.layers.Layer):
    """One step of an attentional decoder: a recurrent cell, attention over a
    memory, and input feeding.

    What `tfa.seq2seq.AttentionWrapper` did, as a Keras 3 layer. At step `t`,
    with the previous attention vector `a_{t-1}` (Luong et al., 2015):

        x'_t       = [x_t ; a_{t-1}]                 (input feeding)
        h_t, s_t   = cell(x'_t, s_{t-1})
        c_t, α_t   = attention(query=h_t, memory)     (context, alignments)
        a_t        = act(W_c [h_t ; c_t])             (attention layer)
        output_t   = a_t  (or h_t with output_attention=False)

    Without an attention layer (`attention_layer_size=None`) `a_t = c_t`.
    Without input feeding `x'_t = x_t`.

    The state is a plain dict of tensors, so a search loop can carry, tile
    and reorder it: `{"cell": [cell states...], "attention": a_t (batch,
    attention_size), "alignments": (batch, memory_time)}`. `"alignments"` is
    the mechanism's alignment state: the last alignments, or their running sum
    for `LocationAwareAttention(cumulative=True)`.

    Run it over a whole target sequence with `AttentionDecoder(cell)`
    (teacher forcing, inside `model.fit`) and step by step with
    `prepare_memory` / `get_initial_state` / `call` (decoding); both use the
    same weights and the same step.

    Args:
        cell: A toolkit cell (`toolkit.cells.*`); its input is `x_t`
            concatenated with `a_{t-1}` when `input_feeding`.
        attention: A toolkit attention mechanism
            (`toolkit.attention.BahdanauAttention`, `LuongAttention`,
            `LocationAwareAttention`), queried with the cell output.
        attention_layer_size: Positive integer or `None` (default). Size of
            the attention layer `W_c` that mixes cell output and context; with
            `None` the attention vector is the context itself.
        attention_activation: Activation of the attention layer (default
            `"tanh"`, as in Luong et al.).
        output_attention: Boolean (default `True`). Output the attention
            vector `a_t` (Luong); `False` outputs the cell output `h_t`
            (Bahdanau-style), the attention vector then only feeds the next
            input.
        input_feeding: Boolean (default `True`). Concatenate `a_{t-1}` to the
            input of step `t`.
        kernel_initializer: Initializer of `W_c` (default `"glorot_uniform"`).
        kernel_regularizer: Regularizer of `W_c` (default `None`).
        kernel_constraint: Constraint of `W_c` (default `None`).
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, features)`, one step of the target-side input.
        state: The state dict (see above), from `get_initial_state` or a
            previous step.
        memory_context: The prepared memory, from `prepare_memory`.
        training: Boolean, training mode.

    Returns:
        `(output, new_state, alignments)`: output `(batch, output_size)`, the
        new state dict and this step's alignments `(batch, memory_time)`.

    Example:

    >>> import numpy as np, toolkit
    >>> cell = toolkit.attention.AttentionDecoderCell(
    ...     toolkit.cells.LSTMCell(8),
    ...     toolkit.attention.LuongAttention(8, score="general"),
    ...     attention_layer_size=6,
    ... )
    >>> memory = np.random.rand(2, 5, 8).astype("float32")
    >>> cell.build((2, 3), memory_context_shape={"values": memory.shape})
    >>> context = cell.prepare_memory(memory, np.array([[1] * 5, [1, 1, 1, 0, 0]], bool))
    >>> state = cell.get_initial_state(context)
    >>> output, state, alignments = cell(np.ones((2, 3), "float32"), state, context)
    >>> tuple(output.shape), tuple(alignments.shape)
    ((2, 6), (2, 5))
    """

    def __init__(
        self,
        cell,
        attention,
        attention_layer_size=None,
        attention_activation="tanh",
        output_attention=True,
        input_feeding=True,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        kernel_constraint=None,
        **kwargs,
    ):
        if not isinstance(cell, RecurrentCell):
            raise ValueError(
                "Argument `cell` expected a toolkit cell (an instance of "
                f"toolkit.cells.RecurrentCell). Received: cell={cell!r}"
            )
        if not isinstance(attention, AttentionMechanism):
            raise ValueError(
                "Argument `attention` expected a toolkit attention mechanism (an "
                "instance of toolkit.attention.AttentionMechanism). Received: "
                f"attention={attention!r}"
            )
        super().__init__(**kwargs)
        self.cell = cell
        self.attention = attention
        self.attention_layer_size = check_positive_int(
            "attention_layer_size", attention_layer_size, allow_none=True
        )
        self.attention_activation = resolve_argument("attention_activation", attention_activation)
        self.output_attention = bool(output_attention)
        self.input_feeding = bool(input_feeding)
        self.kernel_initializer = resolve_argument("kernel_initializer", kernel_initializer)
        self.kernel_regularizer = resolve_argument("kernel_regularizer", kernel_regularizer)
        self.kernel_constraint = resolve_argument("kernel_constraint", kernel_constraint)
        self.memory_size = None
        self.attention_kernel = None
        # A step's input may carry an embedding's mask; a single step has no
        # padding to honour (search loops handle finished rows themselves).
        self.supports_masking = True

    # === Sizes ===

    @property
    def attention_size(self):
        """Size of the attention vector `a_t` (known once built)."""
        return self.attention_layer_size or self.memory_size

    @property
    def output_size(self):
        return self.attention_size if self.output_attention else self.cell.output_size

    # === Build ===

    def build(self, inputs_shape, state_shape=None, memory_context_shape=None):
        memory_shape = _memory_shape(memory_context_shape)
        self.memory_size = memory_shape[-1]
        batch_size, features = inputs_shape[0], inputs_shape[-1]
        cell_features = features + (self.attention_size if self.input_feeding else 0)
        if not self.cell.built:
            self.cell.build((batch_size, cell_features))
        if not self.attention.built:
            self.attention.build((batch_size, self.cell.output_size), tuple(memory_shape))
        if self.attention_layer_size is not None:
            self.attention_kernel = self.add_weight(
                shape=(self.cell.output_size + self.memory_size, self.attention_layer_size),
                initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
                name="attention_kernel",
            )
        self._cell_features = cell_features

    def compute_mask(self, inputs, previous_mask=None):
        return None

    # === Decoding protocol ===

    def prepare_memory(self, memory, memory_mask=None):
        """The memory-side work, done once per source batch.

        Args:
            memory: `(batch, memory_time, memory_size)`, the encoder outputs.
            memory_mask: Optional boolean `(batch, memory_time)`, `True` at
                real source steps.

        Returns:
            The prepared memory (a dict of tensors) that `call` attends over.
            A beam search over `beam_width` rows per source row
            (`toolkit.decoding.tile_batch`'s layout: rows `b * beam_width`
            to `b * beam_width + beam_width - 1`) takes the memory untiled:
            when the decoder's batch is `k` times the memory's, each run of
            `k` consecutive rows attends to one memory row, as the `k`
            queries of one rank-3 query, and the memory is read once a
            step instead of once per beam (the results of tiling the memory
            `k` times, with `k` times less memory read).
        """
        return self.attention.prepare_memory(memory, memory_mask)

    def get_initial_state(self, memory, cell_states=None):
        """The state before the first step.

        Args:
            memory: The memory `(batch, memory_time, memory_size)`, or its
                prepared form (`prepare_memory`); only its shape is read, so
                give the untiled memory to a beam search, which tiles the
                state itself.
            cell_states: Optional list of the cell's initial states (for
                example the encoder's final states); zeros by default.

        Returns:
            The state dict: `"cell"` the cell states, `"attention"` zeros
            `(batch, attention_size)`, `"alignments"` the mechanism's initial
            alignments `(batch, memory_time)`.
        """
        memory_context = memory if isinstance(memory, dict) else {"values": memory}
        values = memory_context["values"]
        batch_size = ops.shape(values)[0]
        dtype = self.compute_dtype
        if cell_states is None:
            cell_states = self.cell.get_initial_state(batch_size)
        cell_states = _as_state_list(cell_states, self.cell)
        return {
            "cell": [ops.cast(state, dtype) for state in cell_states],
            "attention": ops.zeros((batch_size, self.attention_size), dtype=dtype),
            "alignments": ops.cast(self.attention.initial_alignments(memory_context), dtype),
        }

    def call(self, inputs, state, memory_context, training=False):
        masks = self.draw_masks(inputs, state) if training else {}
        return self.step(inputs, state, memory_context, masks=masks, training=training)

    # === The step, shared by both ways of running ===

    def draw_masks(self, inputs, state, steps=None):
        """The cell's dropout masks for one sequence, and zoneout masks for
        `steps` steps (one step when `None`)."""
        cell = self.cell
        batch_size = ops.shape(inputs)[0]
        like = ops.zeros((batch_size, self._cell_features), dtype=self.compute_dtype)
        masks = {
            "input": cell.input_dropout_mask(like),
            "recurrent": cell.recurrent_dropout_mask(state["cell"][0]),
        }
        leading = (batch_size,) if steps is None else (steps, batch_size)
        masks["zoneout"] = cell.zoneout_masks(leading)
        return masks

    def step(self, inputs, state, memory_context, masks=None, training=False):
        """One decoder step; see the class docstring for the equations."""
        masks = masks or {}
        cell = self.cell
        cell_inputs = inputs
        if self.input_feeding:
            cell_inputs = ops.concatenate(
                [inputs, ops.cast(state["attention"], inputs.dtype)], axis=-1
            )
        if masks.get("input") is not None:
            cell_inputs = cell_inputs * masks["input"]
        cell_output, cell_states, _ = cell.recurrent_step(
            cell.project_inputs(cell_inputs),
            list(state["cell"]),
            recurrent_dropout_mask=masks.get("recurrent"),
            zoneout_masks=masks.get("zoneout"),
            training=training,
        )
        previous = state["alignments"] if self.attention.requires_previous_alignments else None
        context, alignments = self._attend(cell_output, memory_context, previous)
        context = ops.cast(context, cell_output.dtype)
        if self.attention_kernel is not None:
            mixed = ops.matmul(
                ops.concatenate([cell_output, context], axis=-1), self.attention_kernel
            )
            attention_vector = self.attention_activation(mixed)
        else:
            attention_vector = context
        new_state = {
            "cell": list(cell_states),
            "attention": attention_vector,
            "alignments": self.attention.next_alignment_state(state["alignments"], alignments),
        }
        output = attention_vector if self.output_attention else cell_output
        return output, new_state, alignments

    def _attend(self, query, memory_context, previous_alignments):
        """`attention.attend` for a `(rows, query_dim)` query, `rows` a multiple
        `k` of the memory's rows: each run of `k` consecutive rows attends to
        its memory row as one `(k, query_dim)` query (see `prepare_memory`)."""
        rows = ops.shape(query)[0]
        memory_rows = ops.shape(memory_context["values"])[0]
        if isinstance(rows, int) and isinstance(memory_rows, int):
            if rows == memory_rows:
                return self.attention.attend(query, memory_context, previous_alignments)
            if memory_rows == 0 or rows % memory_rows:
                raise ValueError(
                    "The decoder's batch must be the memory's batch or a multiple of it "
                    "(beam search: rows b * beam_width + k attend to memory row b). "
                    f"Received: {rows} decoder rows for {memory_rows} memory rows"
                )
            groups = rows // memory_rows
        else:  # an empty batch (0 rows of each) has groups of 0
            groups = rows // ops.maximum(memory_rows, 1)

        def grouped(x):
            return ops.reshape(x, (memory_rows, groups, ops.shape(x)[-1]))

        def ungrouped(x):
            return ops.reshape(x, (rows, ops.shape(x)[-1]))

        if previous_alignments is not None:
            previous_alignments = grouped(previous_alignments)
        context, alignments = self.attention.attend(
            grouped(query), memory_context, previous_alignments
        )
        return ungrouped(context), ungrouped(alignments)

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config["cell"] = keras.saving.serialize_keras_object(self.cell)
        config["attention"] = keras.saving.serialize_keras_object(self.attention)
        config["attention_layer_size"] = self.attention_layer_size
        config["output_attention"] = self.output_attention
        config["input_feeding"] = self.input_feeding
        for name in (
            "attention_activation",
            "kernel_initializer",
            "kernel_regularizer",
            "kernel_constraint",
        ):
            config[name] = serialize_argument(name, getattr(self, name))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        config["attention"] = keras.saving.deserialize_keras_object(config["attention"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="toolkit")
class AttentionDecoder(keras.layers.Layer):
    """Runs an `AttentionDecoderCell` over a whole target sequence.

    Teacher forcing for `model.fit`: the target-side inputs of every step are
    given (usually the embedded target shifted right), the memory is prepared
    once, and the loop runs the cell's step. Decoding runs the same step one
    token at a time (see `AttentionDecoderCell` and `toolkit.decoding`), so the
    two ways agree exactly.

    Target masks behave as in `toolkit.layers.Recurrent`: a masked step keeps
    the state, and its output and alignments are zero. Memory masks give
    padded source positions exactly zero attention. Both are read from the
    inputs' Keras masks (`Embedding(mask_zero=True)`, a masking encoder) when
    not passed. Dropout masks of the cell are drawn once per sequence.

    Args:
        cell: An `AttentionDecoderCell`.
        return_sequences: Boolean (default `True`). Return every output
            `(batch, time, output_size)` or only the last one.
        return_alignments: Boolean (default `False`). Also return the
            alignment history `(batch, target_time, memory_time)`, for
            plotting (`toolkit.inspect.plot_attention`) or guided-attention
            losses.
        return_state: Boolean (default `False`). Also return the final state
            dict.
        unroll: Boolean (default `False`). Run the loop in Python (needs a
            static number of target steps).
        **kwargs: Base layer arguments.

    Call arguments:
        sequences: `(batch, target_time, features)`, the target-side inputs.
        memory: `(batch, memory_time, memory_size)`, the encoder outputs.
        initial_state: Optional. The cell's initial states (a list, e.g. the
            encoder's final states) or a whole state dict.
        sequences_mask: Optional boolean `(batch, target_time)`.
        memory_mask: Optional boolean `(batch, memory_time)`.
        training: Boolean, training mode.

    Returns:
        The outputs, then the alignments if `return_alignments`, then the
        final state dict if `return_state`; a single tensor when neither is
        asked for, else a list.

    Example:

    >>> import numpy as np, toolkit
    >>> decoder = toolkit.attention.AttentionDecoder(
    ...     toolkit.attention.AttentionDecoderCell(
    ...         toolkit.cells.GRUCell(8), toolkit.attention.BahdanauAttention(8)
    ...     ),
    ...     return_alignments=True,
    ... )
    >>> targets = np.random.rand(2, 4, 3).astype("float32")
    >>> memory = np.random.rand(2, 6, 5).astype("float32")
    >>> outputs, alignments = decoder(targets, memory)
    >>> tuple(outputs.shape), tuple(alignments.shape)
    ((2, 4, 5), (2, 4, 6))
    """

    def __init__(
        self,
        cell,
        return_sequences=True,
        return_alignments=False,
        return_state=False,
        unroll=False,
        **kwargs,
    ):
        if not isinstance(cell, AttentionDecoderCell):
            raise ValueError(
                "Argument `cell` expected a toolkit.attention.AttentionDecoderCell. "
                f"Received: cell={cell!r}"
            )
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_alignments = bool(return_alignments)
        self.return_state = bool(return_state)
        self.unroll = bool(unroll)
        self.supports_masking = True

    def build(self, sequences_shape, memory_shape, initial_state_shape=None):
        check_rank("sequences", sequences_shape)
        check_rank("memory", memory_shape)
        if not self.cell.built:
            self.cell.build(
                (sequences_shape[0], sequences_shape[-1]),
                memory_context_shape={"values": tuple(memory_shape)},
            )

    def call(
        self,
        sequences,
        memory,
        initial_state=None,
        sequences_mask=None,
        memory_mask=None,
        training=False,
    ):
        cell = self.cell
        sequences = ops.convert_to_tensor(sequences)
        memory = ops.convert_to_tensor(memory)
        check_rank("sequences", sequences.shape)
        check_rank("memory", memory.shape)
        if memory_mask is not None:
            memory_mask = check_mask(memory_mask, memory, "memory_mask")
        context = cell.prepare_memory(memory, memory_mask)
        state = self._initial_state(context, initial_state)

        steps_inputs = {"inputs": ops.transpose(sequences, (1, 0, 2))}
        if sequences_mask is not None:
            mask = check_mask(sequences_mask, sequences, "sequences_mask")
            steps_inputs["mask"] = ops.expand_dims(ops.transpose(mask, (1, 0)), -1)
        masks = {}
        if training:
            masks = cell.draw_masks(sequences[:, 0, :], state, steps=ops.shape(sequences)[1])
            if masks["zoneout"] is not None:
                steps_inputs["zoneout"] = masks["zoneout"]

        def step(carry, step_input):
            previous_state, previous_output = carry
            step_masks = {
                "input": masks.get("input"),
                "recurrent": masks.get("recurrent"),
                "zoneout": step_input.get("zoneout"),
            }
            output, new_state, alignments = cell.step(
                step_input["inputs"], previous_state, context, masks=step_masks, training=training
            )
            last_output = output
            if "mask" in step_input:
                keep = step_input["mask"]
                new_state, last_output, output, alignments = masked_update(
                    keep, new_state, previous_state, output, previous_output, alignments
                )
            step_outputs = {}
            if self.return_sequences:
                step_outputs["outputs"] = output
            if self.return_alignments:
                step_outputs["alignments"] = alignments
            return (new_state, last_output), (step_outputs or None)

        batch_size = ops.shape(sequences)[0]
        initial_output = ops.zeros((batch_size, cell.output_size), dtype=self.compute_dtype)
        (state, last_output), stacked = scan(
            step, (state, initial_output), steps_inputs, unroll=self.unroll
        )
        stacked = stacked or {}
        if self.return_sequences:
            result = [ops.transpose(stacked["outputs"], (1, 0, 2))]
        else:
            result = [last_output]
        if self.return_alignments:
            result.append(ops.transpose(stacked["alignments"], (1, 0, 2)))
        if self.return_state:
            result.append(state)
        return result[0] if len(result) == 1 else result

    def _initial_state(self, memory_context, initial_state):
        if isinstance(initial_state, dict):
            missing = [key for key in STATE_KEYS if key not in initial_state]
            if missing:
                raise ValueError(
                    f"Argument `initial_state` given as a dict must have the keys "
                    f"{list(STATE_KEYS)}. Received keys: {sorted(initial_state)}"
                )
            return {
                "cell": [ops.cast(s, self.compute_dtype) for s in initial_state["cell"]],
                "attention": ops.cast(initial_state["attention"], self.compute_dtype),
                "alignments": ops.cast(initial_state["alignments"], self.compute_dtype),
            }
        return self.cell.get_initial_state(memory_context, cell_states=initial_state)

    # === Shapes and masks ===

    def compute_output_shape(self, sequences_shape, memory_shape, initial_state_shape=None):
        batch_size, steps = sequences_shape[0], sequences_shape[1]
        size = self.cell.attention_layer_size or memory_shape[-1]
        if not self.cell.output_attention:
            size = self.cell.cell.output_size
        shapes = [(batch_size, steps, size) if self.return_sequences else (batch_size, size)]
        if self.return_alignments:
            shapes.append((batch_size, steps, memory_shape[1]))
        if self.return_state:
            attention_size = self.cell.attention_layer_size or memory_shape[-1]
            shapes.append(
                {
                    "cell": [(batch_size, s) for s in self.cell.cell.state_size],
                    "attention": (batch_size, attention_size),
                    "alignments": (batch_size, memory_shape[1]),
                }
            )
        return shapes[0] if len(shapes) == 1 else shapes

    def compute_mask(self, sequences, previous_mask=None):
        output_mask = previous_mask if self.return_sequences else None
        if not (self.return_alignments or self.return_state):
            return output_mask
        masks = [output_mask]
        if self.return_alignments:
            masks.append(None)
        if self.return_state:
            masks.append(
                {
                    "cell": [None] * len(self.cell.cell.state_size),
                    "attention": None,
                    "alignments": None,
                }
            )
        return masks

    # === Config ===

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "cell": keras.saving.serialize_keras_object(self.cell),
                "return_sequences": self.return_sequences,
                "return_alignments": self.return_alignments,
                "return_state": self.return_state,
                "unroll": self.unroll,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)


def _memory_shape(memory_context_shape):
    shape = None
    if isinstance(memory_context_shape, dict):
        shape = memory_context_shape.get("values")
    if shape is None or len(shape) != 3 or shape[-1] is None:
        raise ValueError(
            "AttentionDecoderCell.build needs the memory shape: pass "
            "`memory_context_shape={'values': (batch, memory_time, memory_size)}` "
            "with a known memory_size. Received: "
            f"memory_context_shape={memory_context_shape!r}"
        )
    return tuple(shape)


def _as_state_list(states, cell):
    if not isinstance(states, (list, tuple)):
        states = [states]
    if len(states) != len(cell.state_size):
        raise ValueError(
            f"Argument `cell_states` expected {len(cell.state_size)} tensor(s) of sizes "
            f"{list(cell.state_size)}. Received: {len(states)} tensor(s)"
        )
    return list(states)
