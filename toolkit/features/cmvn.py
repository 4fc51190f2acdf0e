"""Cepstral mean and variance normalization over valid frames only."""

import keras
import numpy as np
from keras import ops

from toolkit.arguments import check_positive_float
from toolkit.features.lengths import valid_mask

MODES = ("utterance", "global")


def _as_numpy(value):
    return np.asarray(value)  # NumPy, TensorFlow and JAX arrays alike


def _batches(data, mask, lengths):
    """`(features (batch, frames, channels), valid (batch, frames))` NumPy pairs."""
    if hasattr(data, "shape"):
        yield _valid_batch(data, mask, lengths)
        return
    if mask is not None or lengths is not None:
        raise ValueError(
            "CMVN.adapt takes `mask` or `lengths` only with an array `data`; the "
            "batches of an iterable carry their own as `(features, mask_or_lengths)`."
        )
    for batch in data:
        if isinstance(batch, (tuple, list)):
            features, valid = batch
            valid = _as_numpy(valid)
            is_mask = valid.ndim == 2
            yield _valid_batch(features, valid if is_mask else None, None if is_mask else valid)
        else:
            yield _valid_batch(batch, None, None)


def _valid_batch(features, mask, lengths):
    features = _as_numpy(features).astype(np.float64)
    if features.ndim == 2:
        features = features[None]
    if features.ndim != 3:
        raise ValueError(
            "CMVN.adapt expected features of rank 2 (frames, channels) or 3 (batch, "
            f"frames, channels). Received: shape={features.shape}"
        )
    batch, frames, _ = features.shape
    if mask is not None and lengths is not None:
        raise ValueError("CMVN.adapt takes `mask` or `lengths`, not both.")
    if lengths is not None:
        lengths = _as_numpy(lengths).reshape(-1)
        mask = np.arange(frames)[None, :] < lengths[:, None]
    if mask is None:
        mask = np.ones((batch, frames), bool)
    mask = _as_numpy(mask).astype(bool).reshape(batch, frames)
    return features, mask


@keras.saving.register_keras_serializable(package="toolkit")
class CMVN(keras.layers.Layer):
    """Mean (and variance) normalization of features over valid frames.

    For every channel, with `mu` and `sigma^2` the mean and (biased)
    variance of the valid frames:

    ```
    y_t = (x_t - mu) / sqrt(sigma^2 + epsilon)     # normalize_variance=True
    y_t = x_t - mu                                 # normalize_variance=False
    ```

    `mode="utterance"`: `mu`, `sigma^2` of each sequence's own valid frames
    (the `mask`; any pattern of valid frames). `mode="global"`: the statistics
    of a training set, held in the non-trainable weights `mean` and
    `variance` (`(channels,)`, float32) and set by `adapt`; they are saved
    with the model (`.keras`) and restored with it. Before `adapt`, the
    statistics are `0` and `1` (the layer only scales by
    `1 / sqrt(1 + epsilon)`). Padded frames never enter the statistics and
    are zero in the output. The statistics are computed in float32 (float64
    in `adapt`) under mixed precision. (`keras.layers.Normalization` is not
    used: its `adapt` would count the padded frames.)

    Args:
        mode: `"utterance"` (default) or `"global"`.
        normalize_variance: Boolean (default `True`), also divide by the
            standard deviation.
        epsilon: Positive float (default `1e-5`), added to the variance.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, frames, channels)`.
        mask: Optional boolean `(batch, frames)`, `True` at valid frames.
            `None`: every frame is valid.

    Returns:
        `(batch, frames, channels)`.

    Example:

    >>> import keras, numpy as np
    >>> features = np.array([[[1.0], [3.0], [9.0]]], "float32")  # 9.0: padding
    >>> mask = np.array([[True, True, False]])
    >>> outputs = CMVN(epsilon=1e-12)(features, mask=mask)
    >>> keras.ops.convert_to_numpy(outputs)[0, :, 0].astype(float).round(4).tolist()
    [-1.0, 1.0, 0.0]
    >>> cmvn = CMVN(mode="global")
    >>> cmvn.adapt(features, lengths=np.array([2]))
    >>> keras.ops.convert_to_numpy(cmvn.mean).tolist()
    [2.0]
    """

    def __init__(self, mode="utterance", normalize_variance=True, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"Argument `mode` expected one of {MODES}. Received: mode={mode!r}")
        self.mode = mode
        self.normalize_variance = bool(normalize_variance)
        self.epsilon = check_positive_float("epsilon", epsilon)
        self.supports_masking = True

    def build(self, input_shape):
        channels = input_shape[-1]
        if self.mode != "global":
            return
        if channels is None:
            raise ValueError(
                "CMVN(mode='global') needs the last dimension of `inputs` to be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        # autocast=False: the statistics are read in float32 under mixed precision.
        self.mean = self.add_weight(
            name="mean", shape=(channels,), initializer="zeros", trainable=False, autocast=False
        )
        self.variance = self.add_weight(
            name="variance",
            shape=(channels,),
            initializer="ones",
            trainable=False,
            autocast=False,
        )

    def adapt(self, data, mask=None, lengths=None):
        """Sets the global statistics from the valid frames of `data`.

        Args:
            data: `(frames, channels)` or `(batch, frames, channels)` array
                (NumPy or tensor), with an optional `mask` (bool
                `(batch, frames)`) or `lengths` (`(batch,)`); or an iterable
                (a `tf.data.Dataset`, a list) of batches, each either features
                or a `(features, mask_or_lengths)` pair (a rank 2 second item
                is a mask, rank 1 lengths).
            mask: Optional boolean `(batch, frames)` for an array `data`.
            lengths: Optional integers `(batch,)` for an array `data`.
        """
        if self.mode != "global":
            raise ValueError(f"CMVN.adapt needs mode='global'. Received: mode={self.mode!r}")
        count, mean, squares = 0, 0.0, 0.0  # Chan et al.'s parallel combination
        for features, valid in _batches(data, mask, lengths):
            frames = features[valid]  # (valid frames, channels)
            if not len(frames):
                continue
            batch_mean = frames.mean(axis=0)
            batch_squares = np.square(frames - batch_mean).sum(axis=0)
            total = count + len(frames)
            delta = batch_mean - mean
            mean = mean + delta * len(frames) / total
            squares = squares + batch_squares + np.square(delta) * count * len(frames) / total
            count = total
        if count == 0:
            raise ValueError("CMVN.adapt received no valid frame.")
        if not self.built:
            self.build((None, None, frames.shape[-1]))
        self.mean.assign(mean.astype("float32"))
        self.variance.assign((squares / count).astype("float32"))

    def call(self, inputs, mask=None):
        mask = valid_mask(mask, inputs)
        valid = ops.expand_dims(mask, -1)
        features = ops.cast(inputs, "float32")
        if self.mode == "global":
            mean, variance = self.mean, self.variance
        else:
            weights = ops.cast(valid, "float32")
            count = ops.maximum(ops.sum(weights, axis=1, keepdims=True), 1.0)
            mean = ops.sum(features * weights, axis=1, keepdims=True) / count
            variance = ops.sum(ops.square((features - mean) * weights), axis=1, keepdims=True)
            variance = variance / count
        outputs = features - mean
        if self.normalize_variance:
            outputs = outputs * ops.rsqrt(variance + self.epsilon)
        outputs = ops.where(valid, outputs, ops.zeros_like(outputs))
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            mode=self.mode, normalize_variance=self.normalize_variance, epsilon=self.epsilon
        )
        return config
