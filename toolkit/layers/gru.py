"""The GRU sequence layer."""

import keras

from toolkit.cells.gru import GRUCell
from toolkit.layers.cell_layer import CellLayer


@keras.saving.register_keras_serializable(package="toolkit")
class GRU(CellLayer):
    """Gated recurrent unit layer, a drop-in for `keras.layers.GRU`.

    Runs a `toolkit.cells.GRUCell` over time (see that class for the
    equations, `reset_after` and `zoneout`). Weights have the layout of
    `keras.layers.GRU` (for both values of `reset_after`), so
    `set_weights(keras_gru.get_weights())` works both ways and gives the same
    outputs. Masked (padded) steps leave the state unchanged and output zeros.

    Args:
        units: Positive integer, dimensionality of the output space.
        return_sequences: Boolean (default `False`). Return the full sequence
            `(batch, time, units)` instead of the last output `(batch, units)`.
        return_state: Boolean (default `False`). Also return the final state.
        go_backwards: Boolean (default `False`). Process the input in reverse.
        stateful: Boolean (default `False`). Carry states across batches.
        unroll: Boolean (default `False`). Unroll the time loop in Python.
        zero_output_for_mask: Boolean (default `True`: zeros at masked steps
            of returned sequences; `False`, Keras' default, repeats the last
            unmasked output there); see `toolkit.layers.Recurrent`.
        use_cudnn: Keras' name of `fused` (default `None`), accepted so that
            Keras code and configs build this layer.
        **kwargs: Every `toolkit.cells.GRUCell` argument (`activation="tanh"`,
            `recurrent_activation="sigmoid"`, `use_bias=True`,
            initializers, regularizers, constraints, `dropout=0.0`,
            `recurrent_dropout=0.0`, `zoneout=0.0`, `reset_after=True`,
            `seed=None`) and the base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: `(batch, time, features)` tensor.
        initial_state: Optional list `[h]` with `h` of shape `(batch, units)`.
        mask: Optional boolean `(batch, time)` tensor, `True` at real steps.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np, toolkit
    >>> layer = toolkit.layers.GRU(4, reset_after=False)
    >>> tuple(layer(np.zeros((2, 7, 3), "float32")).shape)
    (2, 4)
    """

    cell_class = GRUCell
