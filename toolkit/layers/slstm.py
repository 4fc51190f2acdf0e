"""The sLSTM sequence layer."""

import keras

from toolkit.cells.slstm import sLSTMCell
from toolkit.layers.cell_layer import CellLayer


@keras.saving.register_keras_serializable(package="toolkit")
class sLSTM(CellLayer):
    """sLSTM layer: the xLSTM scalar-memory LSTM over time (Beck et al., 2024).

    Runs a `toolkit.cells.sLSTMCell` over time (see that class for the
    equations, the stabilizer, `num_heads` and `forget_gate`) with the
    generic step loop. Only the cell's recurrence is here, not the rest of
    the paper's sLSTM block (convolution, group norm, up-projection). Masked
    (padded) steps leave the states unchanged and output zeros, whichever side
    the padding is on.

    Args:
        units: Positive integer, dimensionality of the output space.
        return_sequences: Boolean (default `False`). Return the full sequence
            `(batch, time, units)` instead of the last output `(batch, units)`.
        return_state: Boolean (default `False`). Also return the final states
            `[h, c, n, m]`.
        go_backwards: Boolean (default `False`). Process the input in reverse
            (returned sequences are in reversed order, as in Keras).
        stateful: Boolean (default `False`). Carry states across batches;
            needs a static batch size; `reset_state()` clears them.
        unroll: Boolean (default `False`). Unroll the time loop in Python.
        fused: `"auto"` (default), `True` or `False`. The sLSTM has no fused
            loop: `"auto"` and `False` run the step loop, `True` raises.
        **kwargs: Every `toolkit.cells.sLSTMCell` argument (`num_heads=1`,
            `forget_gate="sigmoid"`, `activation="tanh"`,
            `recurrent_activation="sigmoid"`, `use_bias=True`,
            `kernel_initializer="glorot_uniform"`,
            `recurrent_initializer="orthogonal"`, `bias_initializer="zeros"`,
            `unit_forget_bias=True`, regularizers and constraints (`None`),
            `dropout=0.0`, `recurrent_dropout=0.0`, `zoneout=0.0`,
            `seed=None`) and the base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: `(batch, time, features)` tensor.
        initial_state: Optional list `[h, c, n, m]` of `(batch, units)`
            tensors (a zero `n` marks an empty memory; its `c` must be zero).
        mask: Optional boolean `(batch, time)` tensor, `True` at real steps.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np
    >>> from toolkit.layers.slstm import sLSTM
    >>> layer = sLSTM(4, num_heads=2, return_sequences=True, return_state=True)
    >>> outputs, h, c, n, m = layer(np.ones((2, 7, 3), "float32"))
    >>> tuple(outputs.shape), tuple(m.shape)
    ((2, 7, 4), (2, 4))
    """

    cell_class = sLSTMCell
