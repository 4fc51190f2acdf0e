"""The LSTM sequence layer."""

import keras

from toolkit.cells.lstm import LSTMCell
from toolkit.layers.cell_layer import CellLayer


@keras.saving.register_keras_serializable(package="toolkit")
class LSTM(CellLayer):
    """Long short-term memory layer, a drop-in for `keras.layers.LSTM`.

    Runs a `toolkit.cells.LSTMCell` over time (see that class for the
    equations and every cell option: `peephole`, `coupled_input_forget`,
    `layer_norm`, `projection`, `cell_clip`, `projection_clip`, `zoneout`,
    `cell_zoneout`, and the ablations of Greff et al. (2017), `input_gate`,
    `forget_gate`, `output_gate`, `input_squashing`, `output_squashing`,
    `full_gate_recurrence`, with a table from the paper's variant names to
    the options). Weights have the layout of `keras.layers.LSTM`, so
    `set_weights(keras_lstm.get_weights())` works both ways for every option
    Keras also has, and gives the same outputs; a removed gate's columns are
    left out of the kernels and the bias. Masked (padded) steps leave the
    state unchanged and output zeros, whichever side the padding is on. The
    fused loop (`fused`) runs the plain LSTM only; every other option runs
    the step loop, and `execution_path` names the option that decided it.

    Args:
        units: Positive integer, dimensionality of the output space.
        return_sequences: Boolean (default `False`). Return the full sequence
            `(batch, time, units)` instead of the last output `(batch, units)`.
        return_state: Boolean (default `False`). Also return the final states
            `[h, c]` (`[h, c, gates]` with `full_gate_recurrence=True`).
        go_backwards: Boolean (default `False`). Process the input in reverse
            (returned sequences are in reversed order, as in Keras).
        stateful: Boolean (default `False`). Carry states across batches;
            needs a static batch size; `reset_state()` clears them.
        unroll: Boolean (default `False`). Unroll the time loop in Python.
        fused: `"auto"` (default), `True` or `False`; see
            `toolkit.layers.Recurrent`.
        zero_output_for_mask: Boolean (default `True`: zeros at masked steps
            of returned sequences; `False`, Keras' default, repeats the last
            unmasked output there); see `toolkit.layers.Recurrent`.
        use_cudnn: Keras' name of `fused` (default `None`), accepted so that
            Keras code and configs build this layer.
        **kwargs: Every `toolkit.cells.LSTMCell` argument (`activation="tanh"`,
            `recurrent_activation="sigmoid"`, `use_bias=True`,
            `kernel_initializer="glorot_uniform"`,
            `recurrent_initializer="orthogonal"`, `bias_initializer="zeros"`,
            `unit_forget_bias=True`, regularizers and constraints (`None`),
            `dropout=0.0`, `recurrent_dropout=0.0`, `seed=None`, the
            variant options, all off by default, and the ablations, whose
            defaults keep every part of the LSTM: `input_gate=True`,
            `forget_gate=True`, `output_gate=True`, `input_squashing=True`,
            `output_squashing=True`, `full_gate_recurrence=False`), and the
            base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: `(batch, time, features)` tensor.
        initial_state: Optional list `[h, c]` of `(batch, output_size)` and
            `(batch, units)` tensors; with `full_gate_recurrence=True` also the
            previous gates, `(batch, cell.state_size[2])`.
        mask: Optional boolean `(batch, time)` tensor, `True` at real steps.
        training: Boolean, training mode (dropout, zoneout).

    Example:

    >>> import numpy as np, toolkit
    >>> inputs = np.random.rand(2, 7, 3).astype("float32")
    >>> layer = toolkit.layers.LSTM(4, return_sequences=True, return_state=True)
    >>> outputs, h, c = layer(inputs)
    >>> tuple(outputs.shape), tuple(h.shape), tuple(c.shape)
    ((2, 7, 4), (2, 4), (2, 4))
    >>> nfg = toolkit.layers.LSTM(4, peephole=True, forget_gate=False)  # Greff's NFG
    >>> tuple(nfg(inputs).shape), [tuple(w.shape) for w in nfg.get_weights()[:3]]
    ((2, 4), [(3, 12), (4, 12), (12,)])
    """

    cell_class = LSTMCell
