"""The minimal gated unit: a GRU with a single gate."""

import keras
from keras import ops

from toolkit.arguments import resolve_argument
from toolkit.cells.base import RecurrentCell


@keras.saving.register_keras_serializable(package="toolkit")
class MGUCell(RecurrentCell):
    """Minimal gated unit cell (Zhou et al., 2016).

    "Minimal Gated Unit for Recurrent Neural Networks" (Zhou, Wu, Zhang &
    Zhou, 2016): one forget gate serves as both the GRU's reset and update
    gates. With `x_t` the input, `h_{t-1}` the previous state, `sigma` the
    `recurrent_activation` and `phi` the `activation`:

    ```
    f_t = sigma(x_t W_f + h_{t-1} U_f + b_f)                # forget gate
    htilde_t = phi(x_t W_h + (f_t * h_{t-1}) U_h + b_h)     # candidate
    h_t = (1 - f_t) * h_{t-1} + f_t * htilde_t              # hidden state
    ```

    Weights: `kernel` `(features, 2 * units)`, `recurrent_kernel`
    `(units, 2 * units)`, `bias` `(2 * units,)`, gate order `[f, h]`.

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
        recurrent_dropout: Float in [0, 1) (default `0.0`), dropout of
            `h_{t-1}` where it enters the recurrent kernels.
        zoneout: Float in [0, 1) (default `0.0`), zoneout on the hidden state.
        seed: Integer (default `None`), seed for dropout and zoneout.

    Call arguments:
        inputs: `(batch, features)` tensor.
        states: list `[h]` with `h` of shape `(batch, units)`.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np, keras
    >>> from toolkit.cells.mgu import MGUCell
    >>> layer = keras.layers.RNN(MGUCell(4))
    >>> tuple(layer(np.zeros((3, 5, 6), "float32")).shape)
    (3, 4)
    """

    _extra_config = ("activation", "recurrent_activation")
    gate_names = ("forget_gate", "candidate", "hidden_state")

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

    @property
    def state_size(self):
        return [self.units]

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        self._build_weights(input_shape, 2 * self.units, (self.units, 2 * self.units))

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
        input_f, input_h = ops.split(projected_inputs, 2, axis=-1)
        units = self.units
        recurrent_f = ops.matmul(recurrent_inputs, self.recurrent_kernel[:, :units])
        forget_gate = self.recurrent_activation(input_f + recurrent_f)
        recurrent_h = ops.matmul(forget_gate * recurrent_inputs, self.recurrent_kernel[:, units:])
        candidate = self.activation(input_h + recurrent_h)
        hidden = (1.0 - forget_gate) * previous_hidden + forget_gate * candidate
        (hidden,) = self.apply_zoneout([previous_hidden], [hidden], zoneout_masks, training)
        gates = None
        if return_gates:
            gates = {"forget_gate": forget_gate, "candidate": candidate, "hidden_state": hidden}
        return hidden, [hidden], gates
