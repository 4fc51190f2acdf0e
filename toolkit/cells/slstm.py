"""The sLSTM cell of xLSTM: exponential gating with a normalizer and a stabilizer."""

import keras
from keras import ops

from toolkit.arguments import check_positive_int
from toolkit.arguments import resolve_argument
from toolkit.cells.base import RecurrentCell

FORGET_GATES = ("sigmoid", "exponential")


@keras.saving.register_keras_serializable(package="toolkit")
class sLSTMCell(RecurrentCell):
    """Scalar-memory LSTM cell with exponential gating (sLSTM, Beck et al., 2024).

    The cell of the sLSTM block in "xLSTM: Extended Long Short-Term Memory"
    (Beck et al., 2024, Section 2.2). With `x_t` the input, `h_{t-1}`,
    `c_{t-1}`, `n_{t-1}`, `m_{t-1}` the previous hidden, cell, normalizer and
    stabilizer states, `phi` the `activation` and `sigma` the
    `recurrent_activation`:

    ```
    [i~, f~, z~, o~] = x_t W + h_{t-1} R + b   # R block-diagonal over heads
    z_t = phi(z~)                              # candidate (cell input)
    o_t = sigma(o~)                            # output gate
    log i_t = i~                               # exponential input gate
    log f_t = log_sigmoid(f~)                  # forget_gate="sigmoid"
    log f_t = f~                               # forget_gate="exponential"
    m_t = max(log f_t + m_{t-1}, log i_t)      # stabilizer state
    i'_t = exp(log i_t - m_t)                  # stabilized input gate
    f'_t = exp(log f_t + m_{t-1} - m_t)        # stabilized forget gate
    c_t = f'_t * c_{t-1} + i'_t * z_t          # cell state
    n_t = f'_t * n_{t-1} + i'_t                # normalizer state
    h_t = o_t * c_t / n_t                      # hidden state
    ```

    The stabilizer cancels in `c_t / n_t`: `h_t` is that of the recursion with
    the unstabilized gates `i_t = exp(i~)`, `f_t`, but `i'_t` and `f'_t` never
    exceed 1 (one of them is exactly 1), so no pre-activation overflows.
    A normalizer of zero means an empty memory (the zero initial state): where
    `n_{t-1} = 0`, `m_t = log i_t` and `f'_t = 0`, as in the official
    implementation (NX-AI/xlstm, which also starts from all-zero states). So
    `n_t >= 1` after the first step and `h_t` never divides by zero; a given
    initial state with `n = 0` must have `c = 0` too.

    The paper allows a sigmoid or an exponential forget gate; the default is
    the sigmoid, which is what the official implementation computes.

    `R` holds one `(head_size, 4 * head_size)` block per head,
    `head_size = units // num_heads`: head `k` reads the units
    `[k * head_size, (k + 1) * head_size)` of `h_{t-1}` and feeds the same
    units of each gate. Weights: `kernel` `(features, 4 * units)`,
    `recurrent_kernel` `(num_heads, head_size, 4 * head_size)`, `bias`
    `(4 * units,)`; gate order `[i, f, z, o]` (that of `keras.layers.LSTMCell`
    and of the official implementation), within each head in `R`.

    Args:
        units: Positive integer, dimensionality of the states.
        num_heads: Positive integer dividing `units` (default `1`), number of
            diagonal blocks of the recurrent kernel.
        forget_gate: `"sigmoid"` (default) or `"exponential"`, see above.
        activation: Activation `phi` of the candidate (default `"tanh"`).
        recurrent_activation: Output gate activation `sigma` (default
            `"sigmoid"`).
        use_bias: Boolean (default `True`).
        kernel_initializer: (default `"glorot_uniform"`).
        recurrent_initializer: (default `"orthogonal"`), for the
            `(num_heads, head_size, 4 * head_size)` kernel.
        bias_initializer: (default `"zeros"`).
        unit_forget_bias: Boolean (default `True`). Adds 1 to the forget-gate
            bias at initialization (Jozefowicz et al., 2015).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: (default
            `None`).
        kernel_constraint, recurrent_constraint, bias_constraint: (default
            `None`).
        dropout: Float in [0, 1) (default `0.0`), input dropout.
        recurrent_dropout: Float in [0, 1) (default `0.0`), dropout of
            `h_{t-1}` before `R`.
        zoneout: Float in [0, 1) (default `0.0`), zoneout on the hidden state
            `h` only (`c`, `n`, `m` are scaled by the stabilizer and cannot be
            mixed across steps unit by unit).
        seed: Integer (default `None`), seed for dropout and zoneout.

    Call arguments:
        inputs: `(batch, features)` tensor.
        states: list `[h, c, n, m]`, each of shape `(batch, units)`.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np, keras
    >>> from toolkit.cells.slstm import sLSTMCell
    >>> cell = sLSTMCell(4, num_heads=2, forget_gate="exponential")
    >>> layer = keras.layers.RNN(cell, return_state=True)
    >>> output, h, c, n, m = layer(np.ones((3, 5, 6), "float32"))
    >>> tuple(output.shape), tuple(n.shape)
    ((3, 4), (3, 4))
    """

    _extra_config = (
        "num_heads",
        "forget_gate",
        "activation",
        "recurrent_activation",
        "unit_forget_bias",
    )
    gate_names = (
        "input_gate",
        "forget_gate",
        "output_gate",
        "candidate",
        "cell_state",
        "normalizer_state",
        "stabilizer_state",
        "hidden_state",
    )

    def __init__(
        self,
        units,
        num_heads=1,
        forget_gate="sigmoid",
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
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
        self.num_heads = check_positive_int("num_heads", num_heads)
        if self.units % self.num_heads:
            raise ValueError(
                "Argument `num_heads` expected a divisor of `units`. Received: "
                f"num_heads={num_heads!r} with units={self.units}"
            )
        if forget_gate not in FORGET_GATES:
            raise ValueError(
                f"Argument `forget_gate` expected one of {list(FORGET_GATES)}. "
                f"Received: forget_gate={forget_gate!r}"
            )
        self.forget_gate = forget_gate
        self.activation = resolve_argument("activation", activation)
        self.recurrent_activation = resolve_argument("recurrent_activation", recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def head_size(self):
        return self.units // self.num_heads

    @property
    def state_size(self):
        return [self.units] * 4

    @property
    def output_size(self):
        return self.units

    @property
    def zoneout_rates(self):
        return [self.zoneout, 0.0, 0.0, 0.0]

    def build(self, input_shape):
        initializer = self._unit_forget_bias_initializer if self.unit_forget_bias else None
        recurrent_shape = (self.num_heads, self.head_size, 4 * self.head_size)
        self._build_weights(input_shape, 4 * self.units, recurrent_shape, initializer=initializer)

    def _unit_forget_bias_initializer(self, shape, dtype=None):
        units = self.units
        return ops.concatenate(
            [
                self.bias_initializer((units,), dtype=dtype),
                keras.initializers.get("ones")((units,), dtype=dtype),
                self.bias_initializer((2 * units,), dtype=dtype),
            ]
        )

    def _recurrent_projection(self, recurrent_inputs):
        """`h_{t-1} R` with the block-diagonal `R`, as `(batch, 4 * units)`, gate-major."""
        if self.num_heads == 1:
            return ops.matmul(recurrent_inputs, self.recurrent_kernel[0])
        heads, head_size = self.num_heads, self.head_size
        per_head = ops.reshape(recurrent_inputs, (-1, heads, head_size))
        per_head = ops.einsum("bhk,hkg->bhg", per_head, self.recurrent_kernel)
        # (batch, head, gate, unit) -> (batch, gate, head, unit): gate-major like the kernel.
        per_head = ops.reshape(per_head, (-1, heads, 4, head_size))
        return ops.reshape(ops.transpose(per_head, (0, 2, 1, 3)), (-1, 4 * self.units))

    def recurrent_step(
        self,
        projected_inputs,
        states,
        recurrent_dropout_mask=None,
        zoneout_masks=None,
        training=False,
        return_gates=False,
    ):
        previous_hidden, previous_cell, previous_normalizer, previous_stabilizer = states[:4]
        recurrent_inputs = previous_hidden
        if recurrent_dropout_mask is not None:
            recurrent_inputs = recurrent_inputs * recurrent_dropout_mask
        gate_inputs = projected_inputs + self._recurrent_projection(recurrent_inputs)
        log_input, forget_z, candidate_z, output_z = ops.split(gate_inputs, 4, axis=-1)
        if self.forget_gate == "sigmoid":
            log_forget = ops.log_sigmoid(forget_z)
        else:
            log_forget = forget_z
        candidate = self.activation(candidate_z)
        output_gate = self.recurrent_activation(output_z)

        # An empty memory (n = 0) has no scale yet: its stabilizer counts as
        # -inf, so the input alone sets m_t (i'_t = 1) and f'_t = exp(-inf) = 0,
        # with zero (not NaN) gradients.
        empty = ops.equal(previous_normalizer, 0.0)
        previous_stabilizer = ops.where(empty, float("-inf"), previous_stabilizer)
        log_forget_scaled = log_forget + previous_stabilizer
        stabilizer = ops.maximum(log_forget_scaled, log_input)
        input_gate = ops.exp(log_input - stabilizer)
        forget_gate = ops.exp(log_forget_scaled - stabilizer)
        cell = forget_gate * previous_cell + input_gate * candidate
        normalizer = forget_gate * previous_normalizer + input_gate
        hidden = output_gate * cell / normalizer
        # Zoneout on h only (`zoneout_rates`): the other states are zero-rate.
        (hidden,) = self.apply_zoneout([previous_hidden], [hidden], zoneout_masks, training)
        new_states = [hidden, cell, normalizer, stabilizer]
        gates = None
        if return_gates:
            gates = {
                "input_gate": input_gate,
                "forget_gate": forget_gate,
                "output_gate": output_gate,
                "candidate": candidate,
                "cell_state": cell,
                "normalizer_state": normalizer,
                "stabilizer_state": stabilizer,
                "hidden_state": hidden,
            }
        return hidden, new_states, gates
