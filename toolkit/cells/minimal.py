"""The minimal RNNs of Feng et al. (2024): `MinGRUCell` and `MinLSTMCell`.

"Were RNNs All We Needed?" (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi, 2024,
arXiv:2410.01201) removes the previous state from every gate of the GRU and the
LSTM. What is left is a recurrence that is linear in the state,

```
h_t = a_t * h_{t-1} + b_t        (a_t, b_t computed from x_t alone)
```

so a whole training sequence can run as a parallel scan
(`toolkit.layers.scan`), while decoding and streaming run the same weights one
step at a time. Each cell computes `a_t` and `b_t` in one place
(`_coefficients`), used by both `recurrent_step` and `parallel_coefficients`,
so the two forms cannot drift apart.

The candidate state goes through `g`, the paper's positive map for its
log-space version (Appendix B.3), `g(x) = x + 0.5` for `x >= 0` and
`sigmoid(x)` otherwise, so the states stay positive when the initial state is;
`candidate_activation="linear"` gives the paper's plain (non log-space) cells.

Options that make no sense here: there is no recurrent matmul, so there is no
recurrent kernel (its initializer, regularizer and constraint are not
arguments) and no recurrent input to drop: `recurrent_dropout` must be 0 (a
fixed per-sequence mask on `h_{t-1}` would scale the kept units by
`1 / (1 - rate)` at every step, so the state would grow geometrically with
length). Zoneout keeps the recurrence linear (`a'_t = k_t + (1 - k_t) a_t`,
`b'_t = (1 - k_t) b_t` with `k_t` the keep mask in training and the rate at
inference), so it is supported in both forms.
"""

import keras
from keras import ops

from toolkit.arguments import resolve_argument
from toolkit.cells.base import RecurrentCell

SCAN_METHODS = ("associative", "log_space")
_NO_RECURRENT_KERNEL = ("recurrent_initializer", "recurrent_regularizer", "recurrent_constraint")
# Candidate maps whose values are positive, as the log-space scan needs.
POSITIVE_CANDIDATES = ("g", "sigmoid", "softplus", "exponential")


def positive_candidate(x):
    """The paper's `g`: `x + 0.5` for `x >= 0`, `sigmoid(x)` otherwise.

    Continuous, positive and increasing, linear for positive inputs.

    Args:
        x: Tensor.

    Returns:
        `g(x)`, a tensor of the same shape and dtype.

    Example:

    >>> import numpy as np
    >>> values = positive_candidate(np.array([-1.0, 0.0, 2.0], "float32"))
    >>> [round(float(value), 4) for value in np.asarray(values)]
    [0.2689, 0.5, 2.5]
    """
    x = ops.convert_to_tensor(x)
    return ops.where(x >= 0, x + 0.5, ops.sigmoid(x))


class _MinimalCell(RecurrentCell):
    """What `MinGRUCell` and `MinLSTMCell` share: arguments, weights, both forms."""

    gate_count = None  # input-projection blocks, the candidate included
    _extra_config = ("scan",)
    # No recurrent kernel: its initializer, regularizer and constraint are not arguments.
    _base_config = (
        "units",
        "use_bias",
        "kernel_initializer",
        "bias_initializer",
        "kernel_regularizer",
        "bias_regularizer",
        "kernel_constraint",
        "bias_constraint",
        "dropout",
        "recurrent_dropout",
        "zoneout",
        "seed",
    )

    def __init__(
        self,
        units,
        candidate_activation="g",
        scan="associative",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        zoneout=0.0,
        seed=None,
        **kwargs,
    ):
        for name in _NO_RECURRENT_KERNEL:
            if name in kwargs:
                raise ValueError(
                    f"Argument `{name}` does not apply to {type(self).__name__}: it has no "
                    f"recurrent kernel. Received: {name}={kwargs[name]!r}"
                )
        super().__init__(
            units,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            zoneout=zoneout,
            seed=seed,
            **kwargs,
        )
        if self.recurrent_dropout:
            raise ValueError(
                f"Argument `recurrent_dropout` must be 0 for {type(self).__name__}: its "
                "gates do not read the previous state, and a fixed dropout mask on the "
                "carried state would rescale it by 1 / (1 - rate) at every step. Use "
                "`dropout` (on the inputs) or `zoneout` instead. Received: "
                f"recurrent_dropout={recurrent_dropout!r}"
            )
        if isinstance(candidate_activation, str) and candidate_activation == "g":
            self.candidate_activation = positive_candidate
        else:
            self.candidate_activation = resolve_argument(
                "candidate_activation", candidate_activation
            )
        if scan not in SCAN_METHODS:
            raise ValueError(
                f"Argument `scan` expected one of {list(SCAN_METHODS)}. Received: scan={scan!r}"
            )
        if scan == "log_space" and self._candidate_name() not in POSITIVE_CANDIDATES:
            raise ValueError(
                "Argument `scan='log_space'` needs a positive candidate_activation, one of "
                f"{list(POSITIVE_CANDIDATES)}. Received: "
                f"candidate_activation={self._candidate_name()!r}"
            )
        self.scan = scan

    def _candidate_name(self):
        if self.candidate_activation is positive_candidate:
            return "g"
        return keras.activations.serialize(self.candidate_activation)

    @property
    def state_size(self):
        return [self.units]

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        self._build_weights(input_shape, self.gate_count * self.units, recurrent_shape=None)

    def _coefficients(self, projected):
        """`(a, b, gates)` of `h_t = a_t * h_{t-1} + b_t` for projected inputs of any rank."""
        raise NotImplementedError

    def _zoned(self, coefficient, value, zoneout_masks, training):
        """Zoneout on the linear form: `h = k h' + (1 - k)(a h' + b)`."""
        if not self.zoneout:
            return coefficient, value
        if training and zoneout_masks is not None:
            keep = ops.cast(zoneout_masks[0], coefficient.dtype)
        else:
            keep = self.zoneout
        return keep + (1.0 - keep) * coefficient, (1.0 - keep) * value

    def recurrent_step(
        self,
        projected_inputs,
        states,
        recurrent_dropout_mask=None,
        zoneout_masks=None,
        training=False,
        return_gates=False,
    ):
        del recurrent_dropout_mask  # always None: recurrent_dropout is 0
        previous_hidden = states[0]
        coefficient, value, gates = self._coefficients(projected_inputs)
        coefficient, value = self._zoned(coefficient, value, zoneout_masks, training)
        hidden = coefficient * previous_hidden + value
        if not return_gates:
            return hidden, [hidden], None
        gates["hidden_state"] = hidden
        return hidden, [hidden], gates

    def parallel_coefficients(self, projected, zoneout_masks=None, training=False):
        """The whole sequence as `h_t = a_t * h_{t-1} + b_t`, for a parallel scan.

        Args:
            projected: `(time, batch, projection)`, `project_inputs` of a
                time-major sequence.
            zoneout_masks: `None` or a list with one `(time, batch, units)`
                keep mask, used when `training`.
            training: Boolean, training mode (zoneout).

        Returns:
            `(a, b)`, two `(time, batch, units)` tensors: the step `t` of
            `recurrent_step` is `h_t = a[t] * h_{t-1} + b[t]`.
        """
        coefficient, value, _ = self._coefficients(projected)
        return self._zoned(coefficient, value, zoneout_masks, training)

    def get_config(self):
        config = super().get_config()
        # Not in `_extra_config`: "g" is ours, not a Keras activation identifier.
        config["candidate_activation"] = self._candidate_name()
        return config


@keras.saving.register_keras_serializable(package="toolkit")
class MinGRUCell(_MinimalCell):
    """Minimal GRU cell, minGRU (Feng et al., 2024, "Were RNNs All We Needed?").

    The gates read only the input, so the recurrence is linear in the state
    and a sequence layer runs it as a parallel scan over time (the same
    weights also run step by step). With `x_t` the input and `g` the
    `candidate_activation`:

    ```
    z_t = sigmoid(x_t W_z + b_z)                    # update gate
    htilde_t = g(x_t W_h + b_h)                     # candidate
    h_t = (1 - z_t) * h_{t-1} + z_t * htilde_t      # hidden state, the output
    ```

    i.e. `h_t = a_t * h_{t-1} + b_t` with `a_t = 1 - z_t`, `b_t = z_t * htilde_t`.
    Weights: `kernel` `(features, 2 * units)`, `bias` `(2 * units,)`, block
    order `[z, h]`; no recurrent kernel.

    Args:
        units: Positive integer, dimensionality of the hidden state.
        candidate_activation: The candidate map `g` (default `"g"`: the
            paper's positive map, `x + 0.5` for `x >= 0`, `sigmoid(x)`
            otherwise), or any Keras activation identifier (`"linear"`: the
            paper's plain version; `"tanh"`, ...).
        scan: `"associative"` (default) or `"log_space"`: how
            `toolkit.layers.Recurrent` runs the sequence in parallel
            (`toolkit/layers/scan.py`; the associative scan is the more
            accurate one in float32). `"log_space"` (Heinsen, 2023) needs a
            positive candidate (`"g"`, `"sigmoid"`, `"softplus"`,
            `"exponential"`).
        use_bias: Boolean (default `True`).
        kernel_initializer: (default `"glorot_uniform"`).
        bias_initializer: (default `"zeros"`).
        kernel_regularizer, bias_regularizer: (default `None`).
        kernel_constraint, bias_constraint: (default `None`).
        dropout: Float in [0, 1) (default `0.0`), input dropout (one mask per
            sequence in `toolkit.layers.Recurrent`).
        recurrent_dropout: Must be `0.0` (default): there is no recurrent
            input to drop; any other value raises a `ValueError`.
        zoneout: Float in [0, 1) (default `0.0`), zoneout on the hidden state
            (Krueger et al., 2016); it keeps the recurrence linear, so the
            parallel scan supports it.
        seed: Integer (default `None`), seed for dropout and zoneout.

    Call arguments:
        inputs: `(batch, features)` tensor.
        states: list `[h]` with `h` of shape `(batch, units)`.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np, keras
    >>> from toolkit.cells.minimal import MinGRUCell
    >>> layer = keras.layers.RNN(MinGRUCell(4))
    >>> tuple(layer(np.zeros((3, 5, 6), "float32")).shape)
    (3, 4)
    """

    gate_count = 2
    gate_names = ("update_gate", "candidate", "hidden_state")

    def _coefficients(self, projected):
        input_z, input_h = ops.split(projected, 2, axis=-1)
        update_gate = ops.sigmoid(input_z)
        candidate = self.candidate_activation(input_h)
        gates = {"update_gate": update_gate, "candidate": candidate}
        return 1.0 - update_gate, update_gate * candidate, gates


@keras.saving.register_keras_serializable(package="toolkit")
class MinLSTMCell(_MinimalCell):
    """Minimal LSTM cell, minLSTM (Feng et al., 2024, "Were RNNs All We Needed?").

    The gates read only the input and are normalized to sum to one, so the
    recurrence is linear in the state (there is no separate cell state) and a
    sequence layer runs it as a parallel scan over time (the same weights also
    run step by step). With `x_t` the input and `g` the `candidate_activation`:

    ```
    f_t = sigmoid(x_t W_f + b_f)                    # forget gate
    i_t = sigmoid(x_t W_i + b_i)                    # input gate
    htilde_t = g(x_t W_h + b_h)                     # candidate
    f'_t = f_t / (f_t + i_t)                        # normalized forget gate
    i'_t = i_t / (f_t + i_t)                        # normalized input gate
    h_t = f'_t * h_{t-1} + i'_t * htilde_t          # hidden state, the output
    ```

    i.e. `h_t = a_t * h_{t-1} + b_t` with `a_t = f'_t`, `b_t = i'_t * htilde_t`.
    Weights: `kernel` `(features, 3 * units)`, `bias` `(3 * units,)`, block
    order `[f, i, h]`; no recurrent kernel.

    Args:
        units: Positive integer, dimensionality of the hidden state.
        candidate_activation: The candidate map `g` (default `"g"`: the
            paper's positive map, `x + 0.5` for `x >= 0`, `sigmoid(x)`
            otherwise), or any Keras activation identifier (`"linear"`: the
            paper's plain version; `"tanh"`, ...).
        scan: `"associative"` (default) or `"log_space"`: how
            `toolkit.layers.Recurrent` runs the sequence in parallel
            (`toolkit/layers/scan.py`; the associative scan is the more
            accurate one in float32). `"log_space"` (Heinsen, 2023) needs a
            positive candidate (`"g"`, `"sigmoid"`, `"softplus"`,
            `"exponential"`).
        use_bias: Boolean (default `True`).
        kernel_initializer: (default `"glorot_uniform"`).
        bias_initializer: (default `"zeros"`).
        kernel_regularizer, bias_regularizer: (default `None`).
        kernel_constraint, bias_constraint: (default `None`).
        dropout: Float in [0, 1) (default `0.0`), input dropout (one mask per
            sequence in `toolkit.layers.Recurrent`).
        recurrent_dropout: Must be `0.0` (default): there is no recurrent
            input to drop; any other value raises a `ValueError`.
        zoneout: Float in [0, 1) (default `0.0`), zoneout on the hidden state
            (Krueger et al., 2016); it keeps the recurrence linear, so the
            parallel scan supports it.
        seed: Integer (default `None`), seed for dropout and zoneout.

    Call arguments:
        inputs: `(batch, features)` tensor.
        states: list `[h]` with `h` of shape `(batch, units)`.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np, keras
    >>> from toolkit.cells.minimal import MinLSTMCell
    >>> layer = keras.layers.RNN(MinLSTMCell(4, candidate_activation="linear"))
    >>> tuple(layer(np.zeros((3, 5, 6), "float32")).shape)
    (3, 4)
    """

    gate_count = 3
    gate_names = (
        "forget_gate",
        "input_gate",
        "normalized_forget_gate",
        "normalized_input_gate",
        "candidate",
        "hidden_state",
    )

    def _coefficients(self, projected):
        input_f, input_i, input_h = ops.split(projected, 3, axis=-1)
        forget_gate = ops.sigmoid(input_f)
        input_gate = ops.sigmoid(input_i)
        candidate = self.candidate_activation(input_h)
        # f / (f + i) = sigmoid(log f - log i): no 0 / 0 where both sigmoids underflow
        # (pre-activations below about -104 in float32, -17 in float16).
        log_ratio = ops.log_sigmoid(input_f) - ops.log_sigmoid(input_i)
        normalized_forget = ops.sigmoid(log_ratio)
        normalized_input = ops.sigmoid(-log_ratio)
        gates = {
            "forget_gate": forget_gate,
            "input_gate": input_gate,
            "normalized_forget_gate": normalized_forget,
            "normalized_input_gate": normalized_input,
            "candidate": candidate,
        }
        return normalized_forget, normalized_input * candidate, gates
