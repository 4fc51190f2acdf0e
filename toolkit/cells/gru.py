"""Gated recurrent unit cell."""

import keras
from keras import ops

from toolkit.arguments import resolve_argument
from toolkit.cells.base import RecurrentCell


@keras.saving.register_keras_serializable(package="toolkit")
class GRUCell(RecurrentCell):
    """Gated recurrent unit cell (Cho et al., 2014).

    With `x_t` the input, `h_{t-1}` the previous state, `sigma` the
    `recurrent_activation` and `phi` the `activation`:

    ```
    z_t = sigma(x_t W_z + h_{t-1} U_z + b_z)                 # update gate
    r_t = sigma(x_t W_r + h_{t-1} U_r + b_r)                 # reset gate
    reset_after=True  (cuDNN, Keras' default):
        n_t = phi(x_t W_h + b_h + r_t * (h_{t-1} U_h + b'_h))
    reset_after=False (Cho et al., 2014):
        n_t = phi(x_t W_h + (r_t * h_{t-1}) U_h + b_h)       # candidate
    h_t = z_t * h_{t-1} + (1 - z_t) * n_t                    # hidden state
    ```

    With `reset_after=True` the bias has separate input and recurrent rows.
    Weights follow `keras.layers.GRUCell`: `kernel` `(features, 3 * units)`,
    `recurrent_kernel` `(units, 3 * units)`, `bias` `(2, 3 * units)` with
    `reset_after=True` else `(3 * units,)`, gate order `[z, r, h]`.

    Args:
        units: Positive integer, dimensionality of the hidden state.
        activation: Activation `phi` (default `"tanh"`).
        recurrent_activation: Gate activation `sigma` (default `"sigmoid"`).
        use_bias: Boolean (default `True`).
        kernel_initializer: (default `"glorot_uniform"`).
        recurrent_initializer: (default `"orthogonal"`).
        bias_initializer: (default `"zeros"`).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: (default
            `None`).
        kernel_constraint, recurrent_constraint, bias_constraint: (default
            `None`).
        dropout: Float in [0, 1) (default `0.0`), input dropout.
        recurrent_dropout: Float in [0, 1) (default `0.0`).
        zoneout: Float in [0, 1) (default `0.0`), zoneout on the hidden state.
        reset_after: Boolean (default `True`), see the equations.
        seed: Integer (default `None`), seed for dropout and zoneout.

    Call arguments:
        inputs: `(batch, features)` tensor.
        states: list `[h]` with `h` of shape `(batch, units)`.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np, keras, toolkit
    >>> layer = keras.layers.RNN(toolkit.cells.GRUCell(4, reset_after=False))
    >>> tuple(layer(np.zeros((3, 5, 6), "float32")).shape)
    (3, 4)
    """

    _extra_config = ("activation", "recurrent_activation", "reset_after")
    gate_names = ("update_gate", "reset_gate", "candidate", "hidden_state")

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        zoneout=0.0,
        reset_after=True,
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
        self.reset_after = bool(reset_after)

    @property
    def state_size(self):
        return [self.units]

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        width = 3 * self.units
        bias_shape = (2, width) if self.reset_after else (width,)
        self._build_weights(input_shape, width, (self.units, width), bias_shape)

    def project_inputs(self, inputs):
        projected = ops.matmul(inputs, self.kernel)
        if self.use_bias:
            projected = projected + (self.bias[0] if self.reset_after else self.bias)
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
        previous_hidden = states[0]
        recurrent_inputs = previous_hidden
        if recurrent_dropout_mask is not None:
            recurrent_inputs = recurrent_inputs * recurrent_dropout_mask
        input_z, input_r, input_h = ops.split(projected_inputs, 3, axis=-1)
        units = self.units
        if self.reset_after:
            recurrent = ops.matmul(recurrent_inputs, self.recurrent_kernel)
            if self.use_bias:
                recurrent = recurrent + self.bias[1]
            recurrent_z, recurrent_r, recurrent_h = ops.split(recurrent, 3, axis=-1)
            update_gate = self.recurrent_activation(input_z + recurrent_z)
            reset_gate = self.recurrent_activation(input_r + recurrent_r)
            candidate = self.activation(input_h + reset_gate * recurrent_h)
        else:
            recurrent = ops.matmul(recurrent_inputs, self.recurrent_kernel[:, : 2 * units])
            recurrent_z, recurrent_r = ops.split(recurrent, 2, axis=-1)
            update_gate = self.recurrent_activation(input_z + recurrent_z)
            reset_gate = self.recurrent_activation(input_r + recurrent_r)
            recurrent_h = ops.matmul(
                reset_gate * recurrent_inputs, self.recurrent_kernel[:, 2 * units :]
            )
            candidate = self.activation(input_h + recurrent_h)
        hidden = update_gate * previous_hidden + (1.0 - update_gate) * candidate
        (hidden,) = self.apply_zoneout([previous_hidden], [hidden], zoneout_masks, training)
        gates = None
        if return_gates:
            gates = {
                "update_gate": update_gate,
                "reset_gate": reset_gate,
                "candidate": candidate,
                "hidden_state": hidden,
            }
        return hidden, [hidden], gates
