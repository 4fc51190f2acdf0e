"""CTC over a padded batch without output lengths: `BlankPadding` and `MaskedCTC`.

Keras' `losses.CTC` takes every target position as a label and every frame
as an output frame. A padded batch needs both lengths per row. The two pieces
here supply them without a second input to the loss:

* the output lengths: `BlankPadding` makes every padded frame a certain blank,
  so the CTC likelihood over the padded frame axis equals the likelihood over
  each row's valid frames;
* the target lengths: `MaskedCTC` counts each row's labels, its targets being
  right-padded with `-1`.

The blank is class `BLANK` (0, as in `keras.ops.ctc_loss`'s default
`mask_index`); label `i` of `n` labels is class `i + 1` of `n + 1` logits.
"""

import keras
from keras import ops

BLANK = 0  # the CTC blank's class index

# Padded frames' logits: the blank's logit 0, every other class this much below.
# exp(-1e4) is 0 in float32, so a padded frame emits the blank with probability
# one; -1e4 is also finite in float16.
_NOT_BLANK_LOGIT = -1e4


@keras.saving.register_keras_serializable(package="toolkit")
class BlankPadding(keras.layers.Layer):
    """CTC logits whose padded frames emit the blank with probability one.

    At a padded frame (`mask` false) the logits become `0` for the blank
    (class `0`) and `-1e4` for every other class:

    ```
    outputs[b, t] = logits[b, t]          if mask[b, t]
                  = [0, -1e4, ..., -1e4]  otherwise
    ```

    Every CTC path must then take the blank at the padded frames, which adds
    nothing to its log-probability, so the CTC likelihood over the padded
    length equals the likelihood over the valid frames alone, and the loss
    (`MaskedCTC`) needs no output lengths. Greedy decoding over the padded
    length likewise emits nothing at the padded frames. The Keras mask ends
    here: the CTC loss is per sequence, not per frame.

    Args:
        **kwargs: Base layer arguments (`name`, `dtype`, ...). Keep the CTC
            logits in float32 under mixed precision (`dtype="float32"`).

    Call arguments:
        inputs: A list `[logits, mask]`: `logits` `(batch, frames, classes)`
            with the blank at class `0`; `mask` bool `(batch, frames)`, `True`
            at the valid frames (any pattern; CTC needs them to be a prefix).

    Returns:
        The logits `(batch, frames, classes)`, blank-only at padded frames.

    Example:

    >>> import keras, numpy as np
    >>> logits = np.ones((1, 3, 3), "float32")
    >>> mask = np.array([[True, True, False]])
    >>> keras.ops.convert_to_numpy(BlankPadding()([logits, mask]))[0].tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, -10000.0, -10000.0]]
    """

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def call(self, inputs):
        logits, mask = inputs
        classes = ops.shape(logits)[-1]
        blank = ops.where(ops.arange(classes) == BLANK, 0.0, _NOT_BLANK_LOGIT)
        blank = ops.cast(blank, logits.dtype)
        return ops.where(ops.cast(mask, "bool")[:, :, None], logits, blank[None, None, :])

    def compute_output_spec(self, inputs):
        logits, _ = inputs
        return keras.KerasTensor(logits.shape, dtype=logits.dtype)


@keras.saving.register_keras_serializable(package="toolkit")
class MaskedCTC(keras.losses.Loss):
    """CTC loss of label sequences right-padded with `-1` (`keras.ops.ctc_loss`).

    The target length of each row is its count of labels `>= 0`; the output
    length is the whole frame axis, so the logits should come from
    `BlankPadding` (padded frames are certain blanks, and the loss is then
    the loss over each row's valid frames). Targets hold class indices
    `1..classes - 1`; `0` is the blank. Computed in float32.

    Args:
        name: String (default `"masked_ctc"`), the loss's name.
        **kwargs: `keras.losses.Loss` arguments (`reduction`, `dtype`).

    Call arguments:
        y_true: Integer `(batch, max_labels)`: each row's labels, then `-1`.
        y_pred: Logits `(batch, frames, classes)`, blank at class `0`.

    Returns:
        The negative log-likelihood of each row `(batch,)`, reduced by
        `reduction` (default: the mean over the batch).

    Example:

    >>> import keras, numpy as np
    >>> logits = np.zeros((2, 4, 3), "float32")  # 2 labels and the blank
    >>> logits = BlankPadding()([logits, np.arange(4)[None] < np.array([[4], [2]])])
    >>> targets = np.array([[1, 2], [2, -1]])
    >>> losses = MaskedCTC(reduction=None)(targets, logits)
    >>> [round(float(loss), 4) for loss in keras.ops.convert_to_numpy(losses)]
    [1.6864, 1.0986]

    With uniform logits each path has probability `3**-frames`: 15 paths of
    4 frames spell `[1, 2]`, and 3 paths of the second row's 2 valid frames
    spell `[2]` (`-log(15 / 81)` and `-log(3 / 9)`).
    """

    def __init__(self, name="masked_ctc", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        targets = ops.cast(y_true, "int32")
        target_lengths = ops.sum(ops.cast(targets >= 0, "int32"), axis=-1)
        batch, frames = ops.shape(y_pred)[0], ops.shape(y_pred)[1]
        output_lengths = ops.full((batch,), frames, dtype="int32")
        return ops.ctc_loss(
            ops.maximum(targets, 0),
            ops.cast(y_pred, "float32"),
            target_lengths,
            output_lengths,
            mask_index=BLANK,
        )
