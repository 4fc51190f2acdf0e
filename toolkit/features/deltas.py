"""Delta (regression) features, HTK style, at each sequence's own edges."""

import keras
from keras import ops

from toolkit.arguments import check_positive_int
from toolkit.features.lengths import gather_neighbours
from toolkit.features.lengths import mask_lengths
from toolkit.features.lengths import time_steps
from toolkit.features.lengths import valid_mask


@keras.saving.register_keras_serializable(package="toolkit")
class Deltas(keras.layers.Layer):
    """Appends delta (and delta-delta, ...) features (HTK regression formula).

    With window `N`, the deltas `d` of features `c` are, at every valid
    frame `t` of a sequence of `length` valid frames:

    ```
    d_t = sum_{n=1..N} n * (c_{t+n} - c_{t-n}) / (2 * sum_{n=1..N} n^2)
    c_{t+n} := c_{min(t+n, length-1)},  c_{t-n} := c_{max(t-n, 0)}
    ```

    i.e. the sequence's own first and last valid frames are replicated
    beyond its edges (as in HTK; padding is never read). Order `k`
    applies the same formula to order `k - 1` (HTK's accelerations are the
    deltas of the deltas). The output is `[c, d, dd, ...]` along the
    channels, and zero at padded frames.

    Args:
        order: Positive integer (default `2`), highest order appended: `1`
            deltas, `2` deltas and delta-deltas.
        window: Positive integer (default `2`), `N` above.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, frames, channels)`.
        mask: Optional boolean `(batch, frames)`, `True` at the valid frames,
            which must be a prefix of each sequence (right padding, as
            `sequence_mask` gives). `None`: every frame is valid.

    Returns:
        `(batch, frames, channels * (order + 1))`.

    Example:

    >>> import keras, numpy as np
    >>> ramp = 0.5 * np.arange(10, dtype="float32").reshape(1, 10, 1)  # slope 0.5
    >>> mask = np.arange(10)[None] < 8  # 8 valid frames, 2 padded
    >>> outputs = Deltas(order=2, window=2)(ramp, mask=mask)
    >>> tuple(outputs.shape)
    (1, 10, 3)
    >>> keras.ops.convert_to_numpy(outputs)[0, :, 1].astype(float).round(4).tolist()  # deltas
    [0.25, 0.4, 0.5, 0.5, 0.5, 0.5, 0.4, 0.25, 0.0, 0.0]
    """

    def __init__(self, order=2, window=2, **kwargs):
        super().__init__(**kwargs)
        self.order = check_positive_int("order", order)
        self.window = check_positive_int("window", window)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        mask = valid_mask(mask, inputs)
        last_step = ops.maximum(mask_lengths(mask) - 1, 0)
        steps = ops.arange(time_steps(inputs), dtype="int32")
        distances = range(1, self.window + 1)
        offsets = [*distances, *(-n for n in distances)]  # c_{t+n}, then c_{t-n}
        denominator = 2.0 * sum(n * n for n in distances)
        weights = ops.convert_to_tensor([offset / denominator for offset in offsets])
        outputs = [ops.cast(inputs, "float32")]
        for _ in range(self.order):
            neighbours = gather_neighbours(outputs[-1], steps, offsets, last_step)
            outputs.append(ops.einsum("btkc,k->btc", neighbours, weights))
        outputs = ops.concatenate(outputs, axis=-1)
        outputs = ops.where(ops.expand_dims(mask, -1), outputs, ops.zeros_like(outputs))
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        batch, frames, channels = tuple(input_shape)
        channels = None if channels is None else channels * (self.order + 1)
        return (batch, frames, channels)

    def get_config(self):
        config = super().get_config()
        config.update(order=self.order, window=self.window)
        return config
