"""Long short-term memory cell and its common variants."""

import keras
from keras import ops

from toolkit.arguments import check_positive_float
from toolkit.arguments import check_positive_int
from toolkit.arguments import check_rate
from toolkit.arguments import resolve_argument
from toolkit.cells.base import RecurrentCell
from toolkit.cells.base import layer_normalize

# The blocks of columns of `kernel`, `recurrent_kernel` and `bias`, in Keras'
# order; a removed gate's block is left out.
_BLOCKS = ("input_gate", "forget_gate", "candidate", "output_gate")
# The sigmoid gates, in the order of the full-gate-recurrence state.
_SIGMOID_GATES = ("input_gate", "forget_gate", "output_gate")


def _check_bool(argument_name, value):
    if not isinstance(value, bool):
        raise ValueError(
            f"Argument `{argument_name}` expected a boolean (True or False). "
            f"Received: {argument_name}={value!r}"
        )
    return value


@keras.saving.register_keras_serializable(package="toolkit")
class LSTMCell(RecurrentCell):
    """Long short-term memory cell (Hochreiter & Schmidhuber, 1997).

    The forget gate follows Gers, Schmidhuber & Cummins (2000). With `x_t` the
    input, `h_{t-1}` and `c_{t-1}` the previous hidden and cell states,
    `sigma` the `recurrent_activation` and `phi` the `activation`:

    ```
    [z_i, z_f, z_g, z_o] = x_t W + h_{t-1} U + b
    i_t = sigma(z_i + p_i * c_{t-1})          # input gate
    f_t = sigma(z_f + p_f * c_{t-1})          # forget gate
    g_t = phi(z_g)                            # candidate
    c_t = f_t * c_{t-1} + i_t * g_t           # cell state
    o_t = sigma(z_o + p_o * c_t)              # output gate
    h_t = o_t * phi(c_t)                      # hidden state
    ```

    The peephole terms `p * c` are present only with `peephole=True`
    (Gers & Schmidhuber, 2000). Options, each off by default:

    * `coupled_input_forget=True` (CIFG, Greff et al., 2017): `i_t = 1 - f_t`;
      the input-gate columns are dropped from `W`, `U` and `b`. (Greff et al.
      write `f_t = 1 - i_t`; with a sigmoid the two are the same model.)
    * `layer_norm=True` (Ba et al., 2016):
      `z = LN(x_t W; s_x) + LN(h_{t-1} U; s_h) + b` and
      `h_t = o_t * phi(LN(c_t; s_c, b_c))`. The cell state carried to the
      next step is not normalized; `b` plays the role of the offsets of the
      two gate normalizations.
    * `cell_clip=v`: `c_t` is clipped to `[-v, v]`.
    * `projection=p` (LSTMP, Sak et al., 2014): `r_t = h_t P` with `P` of
      shape `(units, p)` replaces `h_t` as the output and recurrent state;
      `projection_clip=v` clips `r_t` to `[-v, v]`.
    * `zoneout` / `cell_zoneout` (Krueger et al., 2016) on `h_t` / `c_t`.

    Ablations of Greff et al. (2017), "LSTM: A Search Space Odyssey", each an
    option that can be combined with the others:

    * `input_gate=False` (NIG): `i_t = 1`.
    * `forget_gate=False` (NFG): `f_t = 1`.
    * `output_gate=False` (NOG): `o_t = 1`.
    * `input_squashing=False` (NIAF, no input activation function):
      `g_t = z_g`, no `phi` on the candidate.
    * `output_squashing=False` (NOAF, no output activation function):
      `h_t = o_t * c_t`, no `phi` on the cell state (with `layer_norm`,
      `h_t = o_t * LN(c_t; s_c, b_c)`).
    * `full_gate_recurrence=True` (FGR): each gate also reads the previous
      step's gate activations through the paper's nine matrices `R_{ba}`
      `(units, units)`, the blocks of one `gate_recurrent_kernel` `R` of
      shape `(3 units, 3 units)` (rows: the previous gate `b`, columns: the
      gate `a`, both in the order `[i, f, o]`):

      ```
      z_a += i_{t-1} R_{ia} + f_{t-1} R_{fa} + o_{t-1} R_{oa}   for a in i, f, o
      ```

      added like the peepholes (after layer norm). The previous gates are a
      third state `[i_{t-1}, f_{t-1}, o_{t-1}]` of size `3 * units`, zeros at
      the start like `h` and `c` and kept at masked steps like them (never
      zoned out). Only the gates that have weights take part: without a
      gate, or with CIFG (whose `i = 1 - f` adds nothing `f` does not give),
      its rows and columns are left out of `R` and of the state
      (`sigmoid_gates` lists the others).

    (The squashing options are booleans; `activation` stays the function
    `phi` wherever it is still applied.) Greff et al.'s vanilla LSTM has
    peepholes; their variants map to options:

    | Greff et al. | options                                    |
    | ------------ | ------------------------------------------ |
    | V (vanilla)  | `peephole=True`                            |
    | NIG          | `peephole=True, input_gate=False`          |
    | NFG          | `peephole=True, forget_gate=False`         |
    | NOG          | `peephole=True, output_gate=False`         |
    | NIAF         | `peephole=True, input_squashing=False`     |
    | NOAF         | `peephole=True, output_squashing=False`    |
    | NP           | `peephole=False` (the default)             |
    | CIFG         | `peephole=True, coupled_input_forget=True` |
    | FGR          | `peephole=True, full_gate_recurrence=True` |

    Weights follow `keras.layers.LSTMCell`: `kernel` `(features, 4 * units)`,
    `recurrent_kernel` `(units, 4 * units)`, `bias` `(4 * units,)`, gate order
    `[i, f, g, o]`, so weights move both ways between the two. A removed gate
    (`input_gate=False`, `forget_gate=False`, `output_gate=False`, the input
    gate of CIFG) has no weights: its columns are left out and the others
    keep their order (`gate_order` lists them; e.g. `[f, g, o]` for CIFG and
    NIG, `[i, g, o]` for NFG), and it has no peephole. Extra weights come
    after them: `input_peephole`, `forget_peephole`, `output_peephole`
    `(units,)`; `input_norm_scale`, `recurrent_norm_scale` `(gates * units,)`,
    `cell_norm_scale`, `cell_norm_offset` `(units,)`; `projection_kernel`
    `(units, projection)`; `gate_recurrent_kernel`
    `(sigmoid gates * units, sigmoid gates * units)`.

    Gate tracing (`recurrent_step(..., return_gates=True)`,
    `toolkit.inspect`) reports every name of `gate_names` for every variant:
    a removed gate reports its constant value, ones (the CIFG input gate
    reports `1 - f_t`), and the candidate reports `g_t` as used, `z_g` under
    NIAF.

    Args:
        units: Positive integer, dimensionality of the cell state.
        activation: Activation `phi` (default `"tanh"`).
        recurrent_activation: Gate activation `sigma` (default `"sigmoid"`).
        use_bias: Boolean (default `True`).
        kernel_initializer: (default `"glorot_uniform"`).
        recurrent_initializer: (default `"orthogonal"`).
        bias_initializer: (default `"zeros"`).
        unit_forget_bias: Boolean (default `True`). Adds 1 to the forget-gate
            bias at initialization (Jozefowicz et al., 2015); without a
            forget gate there is nothing to add it to.
        peephole: Boolean (default `False`). Peephole connections.
        coupled_input_forget: Boolean (default `False`). CIFG variant; needs
            both `input_gate` and `forget_gate`.
        input_gate: Boolean (default `True`). `False` is NIG, `i_t = 1`.
        forget_gate: Boolean (default `True`). `False` is NFG, `f_t = 1`.
        output_gate: Boolean (default `True`). `False` is NOG, `o_t = 1`.
        input_squashing: Boolean (default `True`), whether `phi` squashes the
            candidate. `False` is NIAF, a linear candidate `g_t = z_g`.
        output_squashing: Boolean (default `True`), whether `phi` squashes the
            cell state into the output. `False` is NOAF, `h_t = o_t * c_t`.
        full_gate_recurrence: Boolean (default `False`). FGR, recurrent
            connections from every gate to every gate; needs at least one
            gate.
        layer_norm: Boolean (default `False`). Layer-normalized LSTM.
        layer_norm_epsilon: Float (default `1e-5`).
        projection: Positive integer or `None` (default). LSTMP projection size.
        cell_clip: Positive float or `None` (default).
        projection_clip: Positive float or `None` (default); needs `projection`.
        peephole_initializer: (default `"zeros"`, so training starts from a
            plain LSTM).
        projection_initializer: (default `"glorot_uniform"`).
        gate_recurrent_initializer: Initializer of `gate_recurrent_kernel`
            (default `"zeros"`, so training starts from an LSTM without gate
            recurrence); it is regularized and constrained like
            `recurrent_kernel`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: (default
            `None`).
        kernel_constraint, recurrent_constraint, bias_constraint: (default
            `None`).
        dropout: Float in [0, 1) (default `0.0`), input dropout.
        recurrent_dropout: Float in [0, 1) (default `0.0`).
        zoneout: Float in [0, 1) (default `0.0`), zoneout on the hidden state.
        cell_zoneout: Float in [0, 1) (default `0.0`), zoneout on the cell
            state.
        seed: Integer (default `None`), seed for dropout and zoneout.

    Call arguments:
        inputs: `(batch, features)` tensor.
        states: list `[h, c]` of `(batch, output_size)` and `(batch, units)`;
            with `full_gate_recurrence=True`, `[h, c, gates]` with the
            previous gates `(batch, sigmoid gates * units)`.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np, keras, toolkit
    >>> cell = toolkit.cells.LSTMCell(4, peephole=True, projection=2)
    >>> layer = keras.layers.RNN(cell)
    >>> tuple(layer(np.zeros((3, 5, 6), "float32")).shape)
    (3, 2)
    >>> nig = toolkit.cells.LSTMCell(4, input_gate=False, full_gate_recurrence=True)
    >>> nig.gate_order, nig.state_size
    (('forget_gate', 'candidate', 'output_gate'), [4, 4, 8])
    """

    _extra_config = (
        "activation",
        "recurrent_activation",
        "unit_forget_bias",
        "peephole",
        "coupled_input_forget",
        "input_gate",
        "forget_gate",
        "output_gate",
        "input_squashing",
        "output_squashing",
        "full_gate_recurrence",
        "layer_norm",
        "layer_norm_epsilon",
        "projection",
        "cell_clip",
        "projection_clip",
        "peephole_initializer",
        "projection_initializer",
        "gate_recurrent_initializer",
        "cell_zoneout",
    )

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        peephole=False,
        coupled_input_forget=False,
        input_gate=True,
        forget_gate=True,
        output_gate=True,
        input_squashing=True,
        output_squashing=True,
        full_gate_recurrence=False,
        layer_norm=False,
        layer_norm_epsilon=1e-5,
        projection=None,
        cell_clip=None,
        projection_clip=None,
        peephole_initializer="zeros",
        projection_initializer="glorot_uniform",
        gate_recurrent_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        zoneout=0.0,
        cell_zoneout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            zoneout=zoneout,
            seed=seed,
            **kwargs,
        )
        self.activation = resolve_argument("activation", activation)
        self.recurrent_activation = resolve_argument("recurrent_activation", recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.peephole = bool(peephole)
        self.coupled_input_forget = bool(coupled_input_forget)
        self.input_gate = _check_bool("input_gate", input_gate)
        self.forget_gate = _check_bool("forget_gate", forget_gate)
        self.output_gate = _check_bool("output_gate", output_gate)
        self.input_squashing = _check_bool("input_squashing", input_squashing)
        self.output_squashing = _check_bool("output_squashing", output_squashing)
        self.full_gate_recurrence = _check_bool("full_gate_recurrence", full_gate_recurrence)
        self._check_gate_options()
        self.layer_norm = bool(layer_norm)
        self.layer_norm_epsilon = check_positive_float("layer_norm_epsilon", layer_norm_epsilon)
        self.projection = check_positive_int("projection", projection, allow_none=True)
        self.cell_clip = check_positive_float("cell_clip", cell_clip, allow_none=True)
        self.projection_clip = check_positive_float(
            "projection_clip", projection_clip, allow_none=True
        )
        if self.projection_clip is not None and self.projection is None:
            raise ValueError(
                "Argument `projection_clip` needs a `projection`. Received: "
                f"projection_clip={projection_clip!r} with projection=None"
            )
        self.peephole_initializer = resolve_argument("peephole_initializer", peephole_initializer)
        self.projection_initializer = resolve_argument(
            "projection_initializer", projection_initializer
        )
        self.gate_recurrent_initializer = resolve_argument(
            "gate_recurrent_initializer", gate_recurrent_initializer
        )
        self.cell_zoneout = check_rate("cell_zoneout", cell_zoneout)

    def _check_gate_options(self):
        if self.coupled_input_forget:
            for name in ("input_gate", "forget_gate"):
                if not getattr(self, name):
                    raise ValueError(
                        f"Argument `{name}` must be True with `coupled_input_forget=True` "
                        "(CIFG computes the input gate as 1 - forget gate). "
                        f"Received: {name}=False, coupled_input_forget=True"
                    )
        if not self.sigmoid_gates:
            received = "input_gate=False, forget_gate=False, output_gate=False"
            for name in ("full_gate_recurrence", "peephole"):
                if getattr(self, name):
                    raise ValueError(
                        f"Argument `{name}` needs at least one of the input, forget and "
                        f"output gates. Received: {name}=True with {received}"
                    )

    gate_names = (
        "input_gate",
        "forget_gate",
        "output_gate",
        "candidate",
        "cell_state",
        "hidden_state",
    )

    @property
    def gate_order(self):
        """The blocks of columns of `kernel`, `recurrent_kernel` and `bias`, in order.

        A subset of `("input_gate", "forget_gate", "candidate", "output_gate")`:
        the gates removed by `input_gate=False`, `forget_gate=False`,
        `output_gate=False` or `coupled_input_forget=True` have no columns.
        """
        removed = set()
        if not self.input_gate or self.coupled_input_forget:
            removed.add("input_gate")
        if not self.forget_gate:
            removed.add("forget_gate")
        if not self.output_gate:
            removed.add("output_gate")
        return tuple(block for block in _BLOCKS if block not in removed)

    @property
    def sigmoid_gates(self):
        """The gates computed by `sigma` from their own weights, in `[i, f, o]` order."""
        return tuple(gate for gate in _SIGMOID_GATES if gate in self.gate_order)

    @property
    def num_gates(self):
        return len(self.gate_order)

    @property
    def state_size(self):
        if self.full_gate_recurrence:
            return [self.output_size, self.units, len(self.sigmoid_gates) * self.units]
        return [self.output_size, self.units]

    @property
    def output_size(self):
        return self.projection or self.units

    @property
    def zoneout_rates(self):
        if self.full_gate_recurrence:
            return [self.zoneout, self.cell_zoneout, 0.0]
        return [self.zoneout, self.cell_zoneout]

    def build(self, input_shape):
        width = self.num_gates * self.units
        initializer = None
        if self.unit_forget_bias and "forget_gate" in self.gate_order:
            initializer = self._unit_forget_bias_initializer
        recurrent_shape = (self.output_size, width)
        self._build_weights(input_shape, width, recurrent_shape, initializer=initializer)
        self.input_peephole = self.forget_peephole = self.output_peephole = None
        if self.peephole:
            for gate in self.sigmoid_gates:
                name = gate.replace("_gate", "_peephole")
                setattr(self, name, self._vector(name, self.peephole_initializer))
        if self.layer_norm:
            self.input_norm_scale = self._vector("input_norm_scale", "ones", width)
            self.recurrent_norm_scale = self._vector("recurrent_norm_scale", "ones", width)
            self.cell_norm_scale = self._vector("cell_norm_scale", "ones")
            self.cell_norm_offset = self._vector("cell_norm_offset", "zeros")
        self.projection_kernel = None
        if self.projection is not None:
            self.projection_kernel = self._weight(
                "kernel",
                (self.units, self.projection),
                "projection_kernel",
                initializer=self.projection_initializer,
            )
        self.gate_recurrent_kernel = None
        if self.full_gate_recurrence:
            gates_width = len(self.sigmoid_gates) * self.units
            self.gate_recurrent_kernel = self._weight(
                "recurrent",
                (gates_width, gates_width),
                "gate_recurrent_kernel",
                initializer=self.gate_recurrent_initializer,
            )

    def _vector(self, name, initializer, size=None):
        return self.add_weight(shape=(size or self.units,), name=name, initializer=initializer)

    def _unit_forget_bias_initializer(self, shape, dtype=None):
        # The blocks around the forget gate's ones are drawn in runs, one call
        # each, as keras.layers.LSTMCell draws them.
        units = self.units
        parts, run = [], 0
        for block in self.gate_order:
            if block != "forget_gate":
                run += 1
                continue
            if run:
                parts.append(self.bias_initializer((run * units,), dtype=dtype))
                run = 0
            parts.append(keras.initializers.get("ones")((units,), dtype=dtype))
        if run:
            parts.append(self.bias_initializer((run * units,), dtype=dtype))
        return ops.concatenate(parts)

    def project_inputs(self, inputs):
        projected = ops.matmul(inputs, self.kernel)
        if self.layer_norm:
            projected = layer_normalize(
                projected, self.input_norm_scale, epsilon=self.layer_norm_epsilon
            )
        if self.use_bias:
            projected = projected + self.bias
        return projected

    def recurrent_step(
        self,
        projected_inputs,
        states,
        recurrent_dropout_mask=None,
        zoneout_masks=None,
        training=False,
        return_gates=False,
    ):
        previous_hidden, previous_cell = states[0], states[1]
        recurrent_inputs = previous_hidden
        if recurrent_dropout_mask is not None:
            recurrent_inputs = recurrent_inputs * recurrent_dropout_mask
        recurrent = ops.matmul(recurrent_inputs, self.recurrent_kernel)
        if self.layer_norm:
            recurrent = layer_normalize(
                recurrent, self.recurrent_norm_scale, epsilon=self.layer_norm_epsilon
            )
        gate_inputs = projected_inputs + recurrent
        if self.num_gates == 1:
            z = {"candidate": gate_inputs}
        else:
            z = dict(zip(self.gate_order, ops.split(gate_inputs, self.num_gates, axis=-1)))
        sigmoid_gates = self.sigmoid_gates
        if self.full_gate_recurrence:
            feedback = ops.matmul(states[2], self.gate_recurrent_kernel)
            if len(sigmoid_gates) > 1:
                feedback = ops.split(feedback, len(sigmoid_gates), axis=-1)
            else:
                feedback = [feedback]
            for gate, value in zip(sigmoid_gates, feedback):
                z[gate] = z[gate] + value
        if self.peephole:
            for gate in ("input_gate", "forget_gate"):
                if gate in z:
                    peephole = getattr(self, gate.replace("_gate", "_peephole"))
                    z[gate] = z[gate] + peephole * previous_cell

        # A removed gate is the constant 1: `None` here, so nothing multiplies by it.
        forget_gate = input_gate = output_gate = None
        if "forget_gate" in z:
            forget_gate = self.recurrent_activation(z["forget_gate"])
        if self.coupled_input_forget:
            input_gate = 1.0 - forget_gate
        elif "input_gate" in z:
            input_gate = self.recurrent_activation(z["input_gate"])
        candidate = z["candidate"]
        if self.input_squashing:
            candidate = self.activation(candidate)
        kept = previous_cell if forget_gate is None else forget_gate * previous_cell
        cell = kept + (candidate if input_gate is None else input_gate * candidate)
        if self.cell_clip is not None:
            cell = ops.clip(cell, -self.cell_clip, self.cell_clip)
        if "output_gate" in z:
            output_z = z["output_gate"]
            if self.peephole:
                output_z = output_z + self.output_peephole * cell
            output_gate = self.recurrent_activation(output_z)
        cell_output = cell
        if self.layer_norm:
            cell_output = layer_normalize(
                cell,
                self.cell_norm_scale,
                self.cell_norm_offset,
                epsilon=self.layer_norm_epsilon,
            )
        if self.output_squashing:
            cell_output = self.activation(cell_output)
        hidden = cell_output if output_gate is None else output_gate * cell_output
        if self.projection is not None:
            hidden = ops.matmul(hidden, self.projection_kernel)
            if self.projection_clip is not None:
                hidden = ops.clip(hidden, -self.projection_clip, self.projection_clip)
        new_states = [hidden, cell]
        if self.full_gate_recurrence:
            computed = {"input_gate": input_gate, "forget_gate": forget_gate}
            computed["output_gate"] = output_gate
            values = [computed[gate] for gate in sigmoid_gates]
            new_states.append(values[0] if len(values) == 1 else ops.concatenate(values, -1))
        new_states = self.apply_zoneout(states, new_states, zoneout_masks, training)
        hidden, cell = new_states[0], new_states[1]
        gates = None
        if return_gates:
            ones = ops.ones_like(cell)
            gates = {
                "input_gate": ones if input_gate is None else input_gate,
                "forget_gate": ones if forget_gate is None else forget_gate,
                "output_gate": ones if output_gate is None else output_gate,
                "candidate": candidate,
                "cell_state": cell,
                "hidden_state": hidden,
            }
        return hidden, new_states, gates
