"""Valid lengths: samples to frames, lengths to masks, masks to lengths.

The toolkit's frame convention (shared with the data loaders) is Kaldi's and
HTK's "snip edges": no centering and no padding of the waveform, so frame `t`
covers samples `[t * frame_step, t * frame_step + frame_length)` and a
waveform of `n` samples has

```
frames(n) = 0                                      if n < frame_length
          = 1 + (n - frame_length) // frame_step   otherwise
```

frames. A frame is valid when all its samples are valid samples.

Layers that read neighbouring frames (deltas, frame stacking) clip the frame
indices to each sequence's valid frames (`gather_neighbours`),
so its edge frames are repeated and padding is never read.
"""

from keras import ops

from toolkit.arguments import check_positive_int
from toolkit.layers.masks import check_mask


def frame_lengths(sample_lengths, frame_length=400, frame_step=160):
    """Number of whole frames in waveforms of `sample_lengths` samples.

    The "snip edges" convention of Kaldi and HTK: no centering, frame `t`
    covers samples `[t * frame_step, t * frame_step + frame_length)`, so

    ```
    frames(n) = 0 if n < frame_length else 1 + (n - frame_length) // frame_step
    ```

    This is the number of valid frames `LogMelSpectrogram` and `MFCC` return
    for a waveform of `n` valid samples (followed by any amount of padding).

    Args:
        sample_lengths: Integer tensor (any shape, typically `(batch,)`) of
            valid sample counts.
        frame_length: Positive integer (default `400`, 25 ms at 16 kHz),
            samples per frame.
        frame_step: Positive integer (default `160`, 10 ms at 16 kHz),
            samples between the starts of consecutive frames.

    Returns:
        An int32 tensor of frame counts, shaped like `sample_lengths`.

    Example:

    >>> import keras, numpy as np
    >>> lengths = frame_lengths(np.array([0, 399, 400, 559, 560, 16000]))
    >>> keras.ops.convert_to_numpy(lengths).tolist()
    [0, 0, 1, 1, 2, 98]
    """
    frame_length = check_positive_int("frame_length", frame_length)
    frame_step = check_positive_int("frame_step", frame_step)
    sample_lengths = ops.cast(ops.convert_to_tensor(sample_lengths), "int32")
    frames = 1 + ops.floor_divide(sample_lengths - frame_length, frame_step)
    return ops.where(sample_lengths >= frame_length, frames, ops.zeros_like(frames))


def sequence_mask(lengths, max_length=None):
    """Boolean mask `(batch, max_length)`, `True` at the first `lengths` steps.

    Args:
        lengths: Integer tensor `(batch,)` of valid lengths.
        max_length: Integer (or scalar integer tensor), the length of the mask's
            time axis, typically the padded number of frames
            `keras.ops.shape(features)[1]`. `None` (default) uses
            `max(lengths)`.

    Returns:
        A bool tensor `(batch, max_length)`.

    Example:

    >>> import keras, numpy as np
    >>> mask = sequence_mask(np.array([2, 0, 3]), 4)
    >>> keras.ops.convert_to_numpy(mask).astype(int).tolist()
    [[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0]]
    """
    lengths = ops.cast(ops.convert_to_tensor(lengths), "int32")
    if max_length is None:
        max_length = ops.max(lengths)
    steps = ops.arange(max_length, dtype="int32")
    return ops.expand_dims(steps, 0) < ops.expand_dims(lengths, 1)


def mask_lengths(mask):
    """Valid lengths `(batch,)` int32 of a boolean `(batch, time)` mask."""
    return ops.sum(ops.cast(mask, "int32"), axis=1)


def valid_mask(mask, inputs):
    """The boolean `(batch, time)` mask of `inputs`: `mask`, or all `True`."""
    if mask is not None:
        return check_mask(mask, inputs)
    return ops.ones(ops.shape(inputs)[:2], dtype="bool")


def time_steps(inputs):
    """The length of axis 1 of `inputs`: an int when static, else a scalar tensor."""
    steps = inputs.shape[1]
    return ops.shape(inputs)[1] if steps is None else steps


def gather_neighbours(features, centres, offsets, last_step):
    """Frames around `centres`, clipped to each sequence's valid frames.

    Returns `(batch, len(centres), len(offsets), channels)`:
    `features[b, clip(centres[j] + offsets[k], 0, last_step[b]), :]` for the
    int32 `(steps,)` tensor `centres`, a list of int `offsets` and the
    `(batch,)` last valid step of each sequence. One gather for all offsets.
    """
    offsets = ops.convert_to_tensor(list(offsets), dtype="int32")
    steps = ops.reshape(ops.expand_dims(centres, 1) + ops.expand_dims(offsets, 0), (1, -1))
    steps = ops.minimum(ops.maximum(steps, 0), ops.expand_dims(last_step, 1))
    batch = ops.shape(features)[0]
    channels = features.shape[-1] or ops.shape(features)[-1]
    indices = ops.broadcast_to(ops.expand_dims(steps, -1), (batch, ops.shape(steps)[1], channels))
    gathered = ops.take_along_axis(features, indices, axis=1)
    return ops.reshape(gathered, (batch, -1, ops.shape(offsets)[0], channels))
