"""The minimal RNN sequence layers of Feng et al. (2024): `MinGRU` and `MinLSTM`."""

import keras

from toolkit.cells.minimal import MinGRUCell
from toolkit.cells.minimal import MinLSTMCell
from toolkit.layers.cell_layer import CellLayer


@keras.saving.register_keras_serializable(package="toolkit")
class MinGRU(CellLayer):
    """Minimal GRU layer, minGRU (Feng et al., 2024), trained as a parallel scan.

    Runs a `toolkit.cells.minimal.MinGRUCell` over time (see that class for the
    equations and `candidate_activation`). Its gates read only the inputs, so
    `h_t = a_t * h_{t-1} + b_t` is linear in the state and the whole sequence
    runs as a parallel scan over time (`fused="auto"`, `execution_path`
    `"parallel scan (associative)"`); `fused=False`, `unroll=True` and gate
    tracing run the step loop instead, with the same results. Masked (padded)
    steps leave the state unchanged and output zeros.

    Args:
        units: Positive integer, dimensionality of the output space.
        return_sequences: Boolean (default `False`). Return the full sequence
            `(batch, time, units)` instead of the last output `(batch, units)`.
        return_state: Boolean (default `False`). Also return the final state.
        go_backwards: Boolean (default `False`). Process the input in reverse.
        stateful: Boolean (default `False`). Carry states across batches.
        unroll: Boolean (default `False`). Unroll the step loop in Python
            (and so not use the parallel scan).
        fused: `"auto"` (default), `True` or `False`: run the parallel scan
            where the call allows it, always (raise where it cannot run), or
            never (step loop).
        **kwargs: Every `MinGRUCell` argument (`candidate_activation="g"`,
            `scan="associative"`, `use_bias=True`, initializers,
            regularizers, constraints, `dropout=0.0`, `recurrent_dropout=0.0`
            (must stay 0), `zoneout=0.0`, `seed=None`) and the base layer
            arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: `(batch, time, features)` tensor.
        initial_state: Optional list `[h]` with `h` of shape `(batch, units)`.
        mask: Optional boolean `(batch, time)` tensor, `True` at real steps.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np
    >>> from toolkit.layers.minimal import MinGRU
    >>> layer = MinGRU(4, return_sequences=True)
    >>> tuple(layer(np.zeros((2, 7, 3), "float32")).shape)
    (2, 7, 4)
    >>> layer.execution_path  # JAX on a CPU adds ", run as one jax.lax.scan on XLA:CPU"
    'parallel scan (associative)...'
    """

    cell_class = MinGRUCell


@keras.saving.register_keras_serializable(package="toolkit")
class MinLSTM(CellLayer):
    """Minimal LSTM layer, minLSTM (Feng et al., 2024), trained as a parallel scan.

    Runs a `toolkit.cells.minimal.MinLSTMCell` over time (see that class for
    the equations and `candidate_activation`). Its normalized gates read only
    the inputs, so `h_t = a_t * h_{t-1} + b_t` is linear in the state and the
    whole sequence runs as a parallel scan over time (`fused="auto"`,
    `execution_path` `"parallel scan (associative)"`); `fused=False`,
    `unroll=True` and gate tracing run the step loop instead, with the same
    results. Masked (padded) steps leave the state unchanged and output zeros.

    Args:
        units: Positive integer, dimensionality of the output space.
        return_sequences: Boolean (default `False`). Return the full sequence
            `(batch, time, units)` instead of the last output `(batch, units)`.
        return_state: Boolean (default `False`). Also return the final state.
        go_backwards: Boolean (default `False`). Process the input in reverse.
        stateful: Boolean (default `False`). Carry states across batches.
        unroll: Boolean (default `False`). Unroll the step loop in Python
            (and so not use the parallel scan).
        fused: `"auto"` (default), `True` or `False`: run the parallel scan
            where the call allows it, always (raise where it cannot run), or
            never (step loop).
        **kwargs: Every `MinLSTMCell` argument (`candidate_activation="g"`,
            `scan="associative"`, `use_bias=True`, initializers,
            regularizers, constraints, `dropout=0.0`, `recurrent_dropout=0.0`
            (must stay 0), `zoneout=0.0`, `seed=None`) and the base layer
            arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: `(batch, time, features)` tensor.
        initial_state: Optional list `[h]` with `h` of shape `(batch, units)`.
        mask: Optional boolean `(batch, time)` tensor, `True` at real steps.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np
    >>> from toolkit.layers.minimal import MinLSTM
    >>> layer = MinLSTM(4, scan="log_space")
    >>> tuple(layer(np.zeros((2, 7, 3), "float32")).shape)
    (2, 4)
    >>> layer.execution_path
    'parallel scan (log space)'
    """

    cell_class = MinLSTMCell
