"""Per-token cross-entropy with label smoothing, zero at padding."""

import keras
from keras import ops

from toolkit.arguments import check_rate


@keras.saving.register_keras_serializable(package="toolkit")
class LabelSmoothedCrossEntropy(keras.losses.Loss):
    """Per-token sparse cross-entropy from logits, label-smoothed, 0 at padding.

    With `p = softmax(logits)` over a vocabulary of `V` classes, target `y`
    and smoothing `s` (Szegedy et al., 2016; the uniform prior of Vaswani et
    al., 2017):

    ```
    loss = -(1 - s) log p_y - s / V * sum_k log p_k    if y != ignore_class
         = 0                                          otherwise
    ```

    `call` gives the per-token losses `(batch, time)`. Calling the loss
    reduces them; under the default reduction the mean is over the real
    tokens when the logits carry the targets' Keras mask (a decoder fed by an
    `Embedding(mask_zero=True)` of the shifted targets), which `Loss` turns
    into weights `total / valid`. Otherwise pass the weights as
    `sample_weight`, or the mean counts the padded tokens as zeros.

    Args:
        label_smoothing: Float in `[0, 1)` (default `0.0`), the probability
            mass spread uniformly over the vocabulary.
        ignore_class: Integer or `None` (default `0`, the padding id of
            `Embedding(mask_zero=True)`), the target id whose tokens get a
            loss of 0 (as Keras' `SparseCategoricalCrossentropy(ignore_class)`).
        name: String (default `"label_smoothed_cross_entropy"`).
        **kwargs: `keras.losses.Loss` arguments (`reduction`, `dtype`).

    Call arguments:
        y_true: Integer targets `(batch, time)`.
        y_pred: Logits `(batch, time, vocabulary)`; computed in float32.

    Returns:
        The reduced loss (per-token `(batch, time)` with `reduction=None`).

    Example:

    >>> import keras, numpy as np
    >>> logits = np.log(np.array([[[0.5, 0.25, 0.25], [0.2, 0.4, 0.4]]], "float32"))
    >>> loss = LabelSmoothedCrossEntropy(0.1, reduction=None)
    >>> losses = keras.ops.convert_to_numpy(loss(np.array([[1, 0]]), logits))
    >>> [round(float(value), 4) for value in losses[0]]  # the second token is padding
    [1.3632, 0.0]
    """

    def __init__(
        self, label_smoothing=0.0, ignore_class=0, name="label_smoothed_cross_entropy", **kwargs
    ):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = check_rate("label_smoothing", label_smoothing)
        if ignore_class is not None and (
            isinstance(ignore_class, bool) or not isinstance(ignore_class, int)
        ):
            raise ValueError(
                "Argument `ignore_class` expected an integer or None. "
                f"Received: ignore_class={ignore_class!r}"
            )
        self.ignore_class = ignore_class

    def call(self, y_true, y_pred):
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        targets = ops.cast(y_true, "int32")
        # An ignored id may lie outside the vocabulary (-1): pick a valid class there.
        if self.ignore_class is None:
            valid = None
            picked_targets = targets
        else:
            valid = ops.not_equal(targets, self.ignore_class)
            picked_targets = ops.where(valid, targets, 0)
        picked = ops.take_along_axis(log_probs, ops.expand_dims(picked_targets, -1), axis=-1)
        smoothing = self.label_smoothing
        losses = -(1.0 - smoothing) * picked[..., 0] - smoothing * ops.mean(log_probs, -1)
        return losses if valid is None else ops.where(valid, losses, 0.0)

    def get_config(self):
        return {
            **super().get_config(),
            "label_smoothing": self.label_smoothing,
            "ignore_class": self.ignore_class,
        }
