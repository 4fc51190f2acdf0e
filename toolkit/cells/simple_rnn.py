"""Elman's simple recurrent cell, the ungated baseline."""

import keras
from keras import ops

from toolkit.arguments import resolve_argument
from toolkit.cells.base import RecurrentCell


@keras.saving.register_keras_serializable(package="toolkit")
class SimpleRNNCell(RecurrentCell):
    """Fully connected recurrent cell (Elman, 1990), the ungated baseline.

    ```
    h_t = phi(x_t W + b + h_{t-1} U)
    ```

    Weights follow `keras.layers.SimpleRNNCell`: `kernel` `(features, units)`,
    `recurrent_kernel` `(units, units)`, `bias` `(units,)`.

    Args:
        units: Positive integer, dimensionality of the hidden state.
        activation: Activation `phi` (default `"tanh"`).
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
        seed: Integer (default `None`), seed for dropout and zoneout.

    Call arguments:
        inputs: `(batch, features)` tensor.
        states: list `[h]` with `h` of shape `(batch, units)`.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np, keras, toolkit
    >>> layer = keras.layers.RNN(toolkit.cells.SimpleRNNCell(4))
    >>> tuple(layer(np.zeros((3, 5, 6), "float32")).shape)
    (3, 4)
    """

    _extra_config = ("activation",)
    gate_names = ("hidden_state",)

    def __init__(
        self,
        units,
        activation="tanh",
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

    @property
    def state_size(self):
        return [self.units]

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        self._build_weights(input_shape, self.units, (self.units, self.units))

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
        hidden = self.activation(
            projected_inputs + ops.matmul(recurrent_inputs, self.recurrent_kernel)
        )
        (hidden,) = self.apply_zoneout([previous_hidden], [hidden], zoneout_masks, training)
        gates = {"hidden_state": hidden} if return_gates else None
        return hidden, [hidden], gates
