"""Long short-term memory cell and its common variants."""

import keras
from keras import ops

from toolkit.cells.base import RecurrentCell
from toolkit.cells.base import check_positive_float
from toolkit.cells.base import check_positive_int
from toolkit.cells.base import check_rate
from toolkit.cells.base import layer_normalize
from toolkit.cells.base import resolve_argument


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
      the input-gate columns are dropped from `W`, `U` and `b`, whose gate
      order becomes `[f, g, o]`.
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

    Weights follow `keras.layers.LSTMCell`: `kernel` `(features, 4 * units)`,
    `recurrent_kernel` `(units, 4 * units)`, `bias` `(4 * units,)`, gate order
    `[i, f, g, o]`, so weights move both ways between the two. Extra weights
    come after them: `input_peephole`, `forget_peephole`, `output_peephole`
    `(units,)`; `input_norm_scale`, `recurrent_norm_scale` `(gates * units,)`,
    `cell_norm_scale`, `cell_norm_offset` `(units,)`; `projection_kernel`
    `(units, projection)`.

    Args:
        units: Positive integer, dimensionality of the cell state.
        activation: Activation `phi` (default `"tanh"`).
        recurrent_activation: Gate activation `sigma` (default `"sigmoid"`).
        use_bias: Boolean (default `True`).
        kernel_initializer: (default `"glorot_uniform"`).
        recurrent_initializer: (default `"orthogonal"`).
        bias_initializer: (default `"zeros"`).
        unit_forget_bias: Boolean (default `True`). Adds 1 to the forget-gate
            bias at initialization (Jozefowicz et al., 2015).
        peephole: Boolean (default `False`). Peephole connections.
        coupled_input_forget: Boolean (default `False`). CIFG variant.
        layer_norm: Boolean (default `False`). Layer-normalized LSTM.
        layer_norm_epsilon: Float (default `1e-5`).
        projection: Positive integer or `None` (default). LSTMP projection size.
        cell_clip: Positive float or `None` (default).
        projection_clip: Positive float or `None` (default); needs `projection`.
        peephole_initializer: (default `"zeros"`, so training starts from a
            plain LSTM).
        projection_initializer: (default `"glorot_uniform"`).
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
        states: list `[h, c]` of `(batch, output_size)` and `(batch, units)`.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np, keras, toolkit
    >>> cell = toolkit.cells.LSTMCell(4, peephole=True, projection=2)
    >>> layer = keras.layers.RNN(cell)
    >>> tuple(layer(np.zeros((3, 5, 6), "float32")).shape)
    (3, 2)
    """

    _extra_config = (
        "activation",
        "recurrent_activation",
        "unit_forget_bias",
        "peephole",
        "coupled_input_forget",
        "layer_norm",
        "layer_norm_epsilon",
        "projection",
        "cell_clip",
        "projection_clip",
        "peephole_initializer",
        "projection_initializer",
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
        layer_norm=False,
        layer_norm_epsilon=1e-5,
        projection=None,
        cell_clip=None,
        projection_clip=None,
        peephole_initializer="zeros",
        projection_initializer="glorot_uniform",
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
        self.cell_zoneout = check_rate("cell_zoneout", cell_zoneout)

    gate_names = (
        "input_gate",
        "forget_gate",
        "output_gate",
        "candidate",
        "cell_state",
        "hidden_state",
    )

    @property
    def num_gates(self):
        return 3 if self.coupled_input_forget else 4

    @property
    def state_size(self):
        return [self.output_size, self.units]

    @property
    def output_size(self):
        return self.projection or self.units

    @property
    def zoneout_rates(self):
        return [self.zoneout, self.cell_zoneout]

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                "The last dimension of the inputs to an LSTMCell must be defined. "
                f"Received: input_shape={input_shape}"
            )
        width = self.num_gates * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.output_size, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            bias_initializer = self.bias_initializer
            if self.unit_forget_bias:
                bias_initializer = self._unit_forget_bias_initializer
            self.bias = self.add_weight(
                shape=(width,),
                name="bias",
                initializer=bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.input_peephole = self.forget_peephole = self.output_peephole = None
        if self.peephole:
            if not self.coupled_input_forget:
                self.input_peephole = self._vector("input_peephole", self.peephole_initializer)
            self.forget_peephole = self._vector("forget_peephole", self.peephole_initializer)
            self.output_peephole = self._vector("output_peephole", self.peephole_initializer)
        if self.layer_norm:
            self.input_norm_scale = self._vector("input_norm_scale", "ones", width)
            self.recurrent_norm_scale = self._vector("recurrent_norm_scale", "ones", width)
            self.cell_norm_scale = self._vector("cell_norm_scale", "ones")
            self.cell_norm_offset = self._vector("cell_norm_offset", "zeros")
        self.projection_kernel = None
        if self.projection is not None:
            self.projection_kernel = self.add_weight(
                shape=(self.units, self.projection),
                name="projection_kernel",
                initializer=self.projection_initializer,
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )

    def _vector(self, name, initializer, size=None):
        return self.add_weight(shape=(size or self.units,), name=name, initializer=initializer)

    def _unit_forget_bias_initializer(self, shape, dtype=None):
        units = self.units
        forget = keras.initializers.get("ones")((units,), dtype=dtype)
        if self.coupled_input_forget:
            rest = self.bias_initializer((2 * units,), dtype=dtype)
            return ops.concatenate([forget, rest])
        return ops.concatenate(
            [
                self.bias_initializer((units,), dtype=dtype),
                forget,
                self.bias_initializer((2 * units,), dtype=dtype),
            ]
        )

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
        if self.coupled_input_forget:
            forget_z, candidate_z, output_z = ops.split(gate_inputs, 3, axis=-1)
        else:
            input_z, forget_z, candidate_z, output_z = ops.split(gate_inputs, 4, axis=-1)
        if self.peephole:
            forget_z = forget_z + self.forget_peephole * previous_cell
            if not self.coupled_input_forget:
                input_z = input_z + self.input_peephole * previous_cell
        forget_gate = self.recurrent_activation(forget_z)
        if self.coupled_input_forget:
            input_gate = 1.0 - forget_gate
        else:
            input_gate = self.recurrent_activation(input_z)
        candidate = self.activation(candidate_z)
        cell = forget_gate * previous_cell + input_gate * candidate
        if self.cell_clip is not None:
            cell = ops.clip(cell, -self.cell_clip, self.cell_clip)
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
        hidden = output_gate * self.activation(cell_output)
        if self.projection is not None:
            hidden = ops.matmul(hidden, self.projection_kernel)
            if self.projection_clip is not None:
                hidden = ops.clip(hidden, -self.projection_clip, self.projection_clip)
        hidden, cell = self.apply_zoneout(
            [previous_hidden, previous_cell], [hidden, cell], zoneout_masks, training
        )
        gates = None
        if return_gates:
            gates = {
                "input_gate": input_gate,
                "forget_gate": forget_gate,
                "output_gate": output_gate,
                "candidate": candidate,
                "cell_state": cell,
                "hidden_state": hidden,
            }
        return hidden, [hidden, cell], gates
