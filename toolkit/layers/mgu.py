"""The MGU sequence layer."""

import keras

from toolkit.cells.mgu import MGUCell
from toolkit.layers.cell_layer import CellLayer


@keras.saving.register_keras_serializable(package="toolkit")
class MGU(CellLayer):
    """Minimal gated unit layer (Zhou et al., 2016).

    Runs a `toolkit.cells.MGUCell` over time (see that class for the
    equations) with the generic step loop. Masked (padded) steps leave the
    state unchanged and output zeros, whichever side the padding is on.

    Args:
        units: Positive integer, dimensionality of the output space.
        return_sequences: Boolean (default `False`). Return the full sequence
            `(batch, time, units)` instead of the last output `(batch, units)`.
        return_state: Boolean (default `False`). Also return the final state
            `[h]`.
        go_backwards: Boolean (default `False`). Process the input in reverse
            (returned sequences are in reversed order, as in Keras).
        stateful: Boolean (default `False`). Carry states across batches;
            needs a static batch size; `reset_state()` clears them.
        unroll: Boolean (default `False`). Unroll the time loop in Python.
        fused: `"auto"` (default), `True` or `False`. The MGU has no fused
            loop: `"auto"` and `False` run the step loop, `True` raises.
        **kwargs: Every `toolkit.cells.MGUCell` argument (`activation="tanh"`,
            `recurrent_activation="sigmoid"`, `use_bias=True`,
            `kernel_initializer="glorot_uniform"`,
            `recurrent_initializer="orthogonal"`, `bias_initializer="zeros"`,
            regularizers and constraints (`None`), `dropout=0.0`,
            `recurrent_dropout=0.0`, `zoneout=0.0`, `seed=None`) and the base
            layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: `(batch, time, features)` tensor.
        initial_state: Optional list `[h]` with `h` of shape `(batch, units)`.
        mask: Optional boolean `(batch, time)` tensor, `True` at real steps.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np
    >>> from toolkit.layers.mgu import MGU
    >>> layer = MGU(4, return_sequences=True)
    >>> tuple(layer(np.zeros((2, 7, 3), "float32")).shape)
    (2, 7, 4)
    """

    cell_class = MGUCell
