"""Layers of valid lengths: sample counts to frame counts, frame counts to a mask.

`frame_lengths` and `sequence_mask` as layers, so a functional model that
takes `lengths` next to its waveform (or features) input computes its valid
frames and the boolean mask its feature and recurrent layers take inside the
model, and `model.keras` and an exported SavedModel do the same.
"""

import keras
from keras import ops

from toolkit.arguments import check_positive_int
from toolkit.features.lengths import frame_lengths
from toolkit.features.lengths import sequence_mask


@keras.saving.register_keras_serializable(package="toolkit")
class FrameLengths(keras.layers.Layer):
    """Valid frame counts `(batch,)` from valid sample (or frame) counts.

    With `frame_length` set, `n` valid samples make
    `frames(n) = 0 if n < frame_length else 1 + (n - frame_length) // frame_step`
    frames (`frame_lengths`: the frames `LogMelSpectrogram` and `MFCC` give
    for `n` valid samples); with `frame_length=None` the lengths already count
    frames (precomputed features). Then the frame stacking's subsampling
    applies: `ceil(frames / stride)` (`FrameStacking.output_lengths`).

    Args:
        frame_length: Positive integer (default `400`, 25 ms at 16 kHz),
            samples per frame; or `None` when the lengths already count
            frames.
        frame_step: Positive integer (default `160`, 10 ms at 16 kHz),
            samples between the starts of consecutive frames. Ignored (and may
            be `None`) when `frame_length` is `None`.
        stride: Positive integer (default `1`), the stride of a
            `FrameStacking` after the front-end.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        lengths: Integer tensor `(batch,)` of valid sample counts (or frame
            counts with `frame_length=None`).

    Returns:
        An int32 tensor `(batch,)` of valid frame counts.

    Example:

    >>> import keras, numpy as np
    >>> layer = FrameLengths(frame_length=400, frame_step=160, stride=2)
    >>> keras.ops.convert_to_numpy(layer(np.array([399, 400, 16000]))).tolist()
    [0, 1, 49]
    >>> frames = FrameLengths(frame_length=None, stride=3)
    >>> keras.ops.convert_to_numpy(frames(np.array([0, 3, 4]))).tolist()
    [0, 1, 2]
    """

    def __init__(self, frame_length=400, frame_step=160, stride=1, **kwargs):
        super().__init__(**kwargs)
        self.frame_length = check_positive_int("frame_length", frame_length, allow_none=True)
        self.frame_step = check_positive_int(
            "frame_step", frame_step, allow_none=frame_length is None
        )
        self.stride = check_positive_int("stride", stride)

    def call(self, lengths):
        lengths = ops.cast(lengths, "int32")
        if self.frame_length is not None:
            lengths = frame_lengths(lengths, self.frame_length, self.frame_step)
        return ops.floor_divide(lengths + self.stride - 1, self.stride)

    def compute_output_shape(self, lengths_shape):
        return tuple(lengths_shape)

    def compute_output_spec(self, lengths):
        return keras.KerasTensor(lengths.shape, dtype="int32")

    def get_config(self):
        return {
            **super().get_config(),
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "stride": self.stride,
        }


@keras.saving.register_keras_serializable(package="toolkit")
class FrameMask(keras.layers.Layer):
    """The boolean mask `(batch, time)` of padded frames from their valid counts.

    `sequence_mask(lengths, time)` as a layer, with `time` the frames' own
    padded length: `mask[b, t] = t < lengths[b]` (right padding). The mask is
    this layer's output, to hand explicitly to the layers that take one
    (`layer(x, mask=mask)`); it is not attached to anything as a Keras mask.

    Args:
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A list `[frames, lengths]`: `frames` `(batch, time, ...)`,
            only its shape is read; `lengths` integer `(batch,)`, valid frames.

    Returns:
        A bool tensor `(batch, time)`, `True` at the first `lengths[b]` frames.

    Example:

    >>> import keras, numpy as np
    >>> frames = np.zeros((2, 4, 3), "float32")
    >>> mask = FrameMask()([frames, np.array([3, 0])])
    >>> keras.ops.convert_to_numpy(mask).astype(int).tolist()
    [[1, 1, 1, 0], [0, 0, 0, 0]]
    """

    def compute_mask(self, inputs, previous_mask=None):
        return None  # the mask is this layer's output, not carried on it

    def call(self, inputs):
        frames, lengths = inputs
        return sequence_mask(lengths, ops.shape(frames)[1])

    def compute_output_spec(self, inputs):
        frames, _ = inputs
        return keras.KerasTensor(tuple(frames.shape[:2]), dtype="bool")
