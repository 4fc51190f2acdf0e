"""Mean of a sequence over its unmasked steps."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="toolkit")
class MaskedMeanPooling(keras.layers.Layer):
    """Average of `(batch, time, features)` over the valid time steps.

    `keras.layers.GlobalAveragePooling1D` divides by the number of valid
    steps too, but a sequence with none (an empty text) gives NaN there; here
    it pools to zeros. The sum is taken in float32 under mixed precision.

    Args:
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`, `True` at valid steps; set
            automatically from the Keras mask of `inputs`.

    Returns:
        `(batch, features)`.
    """

    def call(self, inputs, mask=None):
        values = ops.cast(inputs, "float32")
        if mask is None:
            pooled = ops.mean(values, axis=1)
        else:
            weights = ops.cast(ops.expand_dims(mask, -1), "float32")
            count = ops.sum(weights, axis=1)
            pooled = ops.sum(values * weights, axis=1) / ops.maximum(count, 1.0)
        return ops.cast(pooled, self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
