"""SpecAugment frequency and time masking (Park et al., 2019)."""

import keras
from keras import ops

from toolkit.features.checks import check_fraction
from toolkit.features.checks import check_non_negative_int
from toolkit.features.lengths import mask_lengths
from toolkit.features.lengths import time_steps
from toolkit.features.lengths import valid_mask


def _random_bands(uniform, max_width, size, axis_length):
    """Boolean `(batch, axis_length)`: `uniform.shape[1]` random bands per row.

    `uniform` `(batch, masks, 2)` in [0, 1); `max_width` and `size` are
    `(batch, 1)` (or scalars): a band has width `w ~ U{0..max_width}` and
    starts at `s ~ U{0..size - w}`.
    """
    max_width = ops.cast(max_width, "float32")
    width = ops.minimum(ops.floor(uniform[..., 0] * (max_width + 1.0)), max_width)
    room = ops.maximum(ops.cast(size, "float32") - width, 0.0)
    start = ops.minimum(ops.floor(uniform[..., 1] * (room + 1.0)), room)
    positions = ops.cast(ops.arange(axis_length, dtype="int32"), "float32")
    positions = ops.reshape(positions, (1, 1, -1))
    start, end = ops.expand_dims(start, -1), ops.expand_dims(start + width, -1)
    inside = ops.logical_and(positions >= start, positions < end)
    return ops.any(inside, axis=1)


@keras.saving.register_keras_serializable(package="toolkit")
class SpecAugment(keras.layers.Layer):
    """SpecAugment frequency and time masking (Park et al., 2019).

    In training only (`training=True`; identity otherwise), each sequence
    gets its own random masks, set to zero (the mean of CMVN-normalized
    features, where the layer belongs; Park et al. mask with the mean):

    ```
    frequency mask (x frequency_masks): f ~ U{0..F}, f0 ~ U{0..channels - f},
        channels [f0, f0 + f) zeroed at every frame
    time mask (x time_masks):           t ~ U{0..T'}, t0 ~ U{0..length - t},
        frames [t0, t0 + t) zeroed,  T' = min(T, floor(p * length))
    ```

    with `F = min(frequency_mask_width, channels)`, `T = time_mask_width`,
    `p = time_mask_max_ratio` and `length` the sequence's number of valid
    frames: time masks lie inside the valid frames; padded frames pass through
    unchanged. Masks of one kind may overlap. Time warping, the third
    augmentation of the paper, is not implemented (the paper found it the
    least useful and it is the costliest).

    Randomness comes from `keras.random` with the layer's own
    `keras.random.SeedGenerator(seed)`, so the layer works in `model.fit` on
    every backend (including under `jax.jit`), and two layers with the same
    integer seed draw the same masks.

    Args:
        frequency_masks: Non-negative integer (default `2`), masks per
            sequence along the channels.
        frequency_mask_width: Non-negative integer (default `8`), `F`.
        time_masks: Non-negative integer (default `2`), masks per sequence
            along time.
        time_mask_width: Non-negative integer (default `20`), `T`.
        time_mask_max_ratio: Float in [0, 1] (default `1.0`), `p`: a time mask
            covers at most this fraction of the sequence's valid frames.
        seed: Optional integer seed.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, frames, channels)`.
        mask: Optional boolean `(batch, frames)`, `True` at the valid frames,
            a prefix of each sequence (right padding). `None`: every frame is
            valid.
        training: Boolean; masks are applied only when `True`.

    Returns:
        `(batch, frames, channels)`.

    Example:

    >>> import keras, numpy as np
    >>> features = np.ones((2, 50, 10), "float32")
    >>> layer = SpecAugment(frequency_mask_width=3, time_mask_width=5, seed=1)
    >>> bool((keras.ops.convert_to_numpy(layer(features)) == 1.0).all())
    True
    >>> augmented = keras.ops.convert_to_numpy(layer(features, training=True))
    >>> bool((augmented == 0.0).any()), bool((augmented[0] != augmented[1]).any())
    (True, True)
    """

    _config_names = (
        "frequency_masks",
        "frequency_mask_width",
        "time_masks",
        "time_mask_width",
        "time_mask_max_ratio",
        "seed",
    )

    def __init__(
        self,
        frequency_masks=2,
        frequency_mask_width=8,
        time_masks=2,
        time_mask_width=20,
        time_mask_max_ratio=1.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.frequency_masks = check_non_negative_int("frequency_masks", frequency_masks)
        self.frequency_mask_width = check_non_negative_int(
            "frequency_mask_width", frequency_mask_width
        )
        self.time_masks = check_non_negative_int("time_masks", time_masks)
        self.time_mask_width = check_non_negative_int("time_mask_width", time_mask_width)
        self.time_mask_max_ratio = check_fraction("time_mask_max_ratio", time_mask_max_ratio)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, mask=None, training=None):
        if not training:
            return inputs
        mask = valid_mask(mask, inputs)
        batch = ops.shape(inputs)[0]
        masked = ops.zeros(ops.shape(inputs), dtype="bool")
        if self.frequency_masks:
            channels = inputs.shape[-1]
            uniform = keras.random.uniform(
                (batch, self.frequency_masks, 2), seed=self.seed_generator
            )
            max_width = min(self.frequency_mask_width, channels)
            bands = _random_bands(uniform, max_width, channels, channels)
            masked = ops.logical_or(masked, ops.expand_dims(bands, 1))
        if self.time_masks:
            lengths = ops.cast(ops.expand_dims(mask_lengths(mask), 1), "float32")
            max_width = ops.minimum(
                float(self.time_mask_width), ops.floor(self.time_mask_max_ratio * lengths)
            )
            uniform = keras.random.uniform((batch, self.time_masks, 2), seed=self.seed_generator)
            bands = _random_bands(uniform, max_width, lengths, time_steps(inputs))
            masked = ops.logical_or(masked, ops.expand_dims(bands, -1))
        masked = ops.logical_and(masked, ops.expand_dims(mask, -1))  # padding untouched
        return ops.where(masked, ops.zeros_like(inputs), inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in self._config_names})
        return config
