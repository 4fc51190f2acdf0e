"""Frame stacking with subsampling (low frame rate acoustic models)."""

import keras
from keras import ops

from toolkit.arguments import check_positive_int
from toolkit.features.checks import check_non_negative_int
from toolkit.features.lengths import gather_neighbours
from toolkit.features.lengths import mask_lengths
from toolkit.features.lengths import sequence_mask
from toolkit.features.lengths import time_steps
from toolkit.features.lengths import valid_mask


@keras.saving.register_keras_serializable(package="toolkit")
class FrameStacking(keras.layers.Layer):
    """Stacks neighbouring frames and keeps every `stride`-th one.

    Output frame `j` is the concatenation, oldest first, of the input frames

    ```
    j * stride - left_context, ..., j * stride, ..., j * stride + right_context
    ```

    with each index clipped to the sequence's valid frames
    `[0, length - 1]` (its edge frames are repeated; padding is never read).
    A sequence of `length` valid frames has `ceil(length / stride)` valid
    output frames (`output_lengths`); the others are zero. The padded time
    axis `T` becomes `ceil(T / stride)`.

    Labels: output frame `j` is centred on input frame `j * stride`, so
    frame-level labels `(batch, frames)` follow as `labels[:, ::stride]`
    (and the mask as `mask[:, ::stride]`, which `compute_mask` returns).

    Args:
        left_context: Non-negative integer (default `0`), past frames stacked.
        right_context: Non-negative integer (default `0`), future frames
            stacked.
        stride: Positive integer (default `1`), subsampling factor.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, frames, channels)`.
        mask: Optional boolean `(batch, frames)`, `True` at the valid frames,
            a prefix of each sequence (right padding). `None`: every frame is
            valid.

    Returns:
        `(batch, ceil(frames / stride), channels * (left_context + 1 +
        right_context))`.

    Example:

    >>> import keras, numpy as np
    >>> frames = np.arange(7, dtype="float32").reshape(1, 7, 1)
    >>> layer = FrameStacking(left_context=1, right_context=1, stride=3)
    >>> outputs = layer(frames, mask=np.arange(7)[None] < 5)  # 5 valid frames
    >>> keras.ops.convert_to_numpy(outputs)[0].tolist()
    [[0.0, 0.0, 1.0], [2.0, 3.0, 4.0], [0.0, 0.0, 0.0]]
    >>> keras.ops.convert_to_numpy(layer.output_lengths([5, 7, 0])).tolist()
    [2, 3, 0]
    """

    def __init__(self, left_context=0, right_context=0, stride=1, **kwargs):
        super().__init__(**kwargs)
        self.left_context = check_non_negative_int("left_context", left_context)
        self.right_context = check_non_negative_int("right_context", right_context)
        self.stride = check_positive_int("stride", stride)
        self.supports_masking = True

    def output_lengths(self, lengths):
        """Valid output frames `ceil(lengths / stride)`, int32, of `lengths` input frames."""
        lengths = ops.cast(ops.convert_to_tensor(lengths), "int32")
        return ops.floor_divide(lengths + self.stride - 1, self.stride)

    def call(self, inputs, mask=None):
        mask = valid_mask(mask, inputs)
        lengths = mask_lengths(mask)
        last_step = ops.maximum(lengths - 1, 0)
        centres = ops.arange(0, time_steps(inputs), self.stride, dtype="int32")
        offsets = range(-self.left_context, self.right_context + 1)
        neighbours = gather_neighbours(inputs, centres, offsets, last_step)
        channels = inputs.shape[-1] or ops.shape(inputs)[-1]
        stacked = ops.reshape(neighbours, (ops.shape(inputs)[0], -1, len(offsets) * channels))
        valid = sequence_mask(self.output_lengths(lengths), ops.shape(centres)[0])
        return ops.where(ops.expand_dims(valid, -1), stacked, ops.zeros_like(stacked))

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[:, :: self.stride]

    def compute_output_shape(self, input_shape):
        batch, frames, channels = tuple(input_shape)
        if frames is not None:
            frames = -(-frames // self.stride)
        if channels is not None:
            channels *= self.left_context + 1 + self.right_context
        return (batch, frames, channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            left_context=self.left_context, right_context=self.right_context, stride=self.stride
        )
        return config
