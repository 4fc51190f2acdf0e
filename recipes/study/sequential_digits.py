"""Sequential digits: scikit-learn's bundled 8x8 digits read one pixel per step.

The small cousin of pixel-by-pixel MNIST (Le et al., 2015): each image of
`sklearn.datasets.load_digits` (1,797 handwritten digits, 8x8 pixels of 0..16, bundled with
scikit-learn, no download) becomes a sequence of 64 steps with one feature, the pixels in
row-major order scaled to [0, 1], and a recurrent layer must classify it from its last output.
The class is decided by pixels spread over the whole sequence, so the first rows must be
carried across up to 63 steps.
"""

import dataclasses
import numbers
import time

import keras
import numpy as np

import toolkit

IMAGE_SIDE = 8
STEPS = IMAGE_SIDE * IMAGE_SIDE
PIXEL_MAX = 16.0  # load_digits pixels are integers 0..16
CLASSES = 10


@dataclasses.dataclass
class DigitSplits:
    """Train and test sequences of the digits, and where each came from.

    Attributes:
        train_inputs: float32 array `(train, 64, 1)`, pixels in row-major order, in [0, 1].
        train_labels: int32 array `(train,)`, the digit 0..9.
        test_inputs: float32 array `(test, 64, 1)`.
        test_labels: int32 array `(test,)`.
        train_indices: The rows of `load_digits()` in `train_inputs`, in order.
        test_indices: The rows of `load_digits()` in `test_inputs`, in order.
    """

    train_inputs: np.ndarray
    train_labels: np.ndarray
    test_inputs: np.ndarray
    test_labels: np.ndarray
    train_indices: np.ndarray
    test_indices: np.ndarray


def sequential_digits(seed=0, test_fraction=0.2):
    """The bundled 8x8 digits as pixel sequences, split into train and test by `seed`.

    Step `t` of image `i` is `images[i, t // 8, t % 8] / 16`: the 64 pixels read row by
    row, one per step, one feature. The split is a permutation of the 1,797 images drawn
    from `numpy.random.default_rng(seed)`; the first `round(test_fraction * 1797)` go to
    test, the rest to train (both kept in permutation order).

    Args:
        seed: Non-negative integer (default `0`), the split's seed.
        test_fraction: Float in (0, 1) (default `0.2`), the share of images held out.

    Returns:
        A `DigitSplits`.

    Example:

    >>> splits = sequential_digits(seed=0)
    >>> splits.train_inputs.shape, splits.test_inputs.shape
    ((1438, 64, 1), (359, 64, 1))
    """
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(
            f"Argument `seed` expected a non-negative integer. Received: seed={seed!r}"
        )
    if not isinstance(test_fraction, numbers.Real) or not 0 < test_fraction < 1:
        raise ValueError(
            "Argument `test_fraction` expected a number in (0, 1). "
            f"Received: test_fraction={test_fraction!r}"
        )
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.asarray(digits.images, dtype="float64")
    labels = np.asarray(digits.target, dtype="int32")
    sequences = (images.reshape(len(images), STEPS, 1) / PIXEL_MAX).astype("float32")
    order = np.random.default_rng(seed).permutation(len(images))
    test_count = int(round(test_fraction * len(images)))
    test_indices, train_indices = order[:test_count], order[test_count:]
    return DigitSplits(
        train_inputs=sequences[train_indices],
        train_labels=labels[train_indices],
        test_inputs=sequences[test_indices],
        test_labels=labels[test_indices],
        train_indices=train_indices,
        test_indices=test_indices,
    )


@dataclasses.dataclass(frozen=True)
class DigitsTask:
    """The classifier: a recurrent layer's last output, then `Dense(10, softmax)`.

    It has the interface `recipes.study.long_range_tasks.units_for_budget` sizes.
    """

    steps: int = STEPS
    features: int = 1

    def recurrent_layer(self, cell, units):
        return toolkit.layers.get(cell)(units, name="recurrent")

    def head(self):
        return keras.layers.Dense(CLASSES, activation="softmax", name="digit")

    def build_model(self, cell, units):
        inputs = keras.Input((self.steps, self.features), name="pixels")
        outputs = self.head()(self.recurrent_layer(cell, units)(inputs))
        return keras.Model(inputs, outputs, name=f"digits_{cell}")


def train_digits(cell, units, splits, settings):
    """Trains one classifier on `splits.train_*` and scores it on `splits.test_*`.

    `settings` holds `seed` (weights and shuffling), `epochs`, `batch_size`,
    `learning_rate` and `clipnorm` (Adam, gradient norm clipped). No epoch is chosen on
    the test set: the weights after the last epoch are scored.

    Returns:
        A dict: `cell`, `units`, `parameters`, `train_accuracy`, `test_accuracy`,
        `train_loss` (one value per epoch), `train_seconds`.
    """
    keras.utils.set_random_seed(settings["seed"])
    model = DigitsTask().build_model(cell, units)
    model.compile(
        optimizer=keras.optimizers.Adam(settings["learning_rate"], clipnorm=settings["clipnorm"]),
        loss="sparse_categorical_crossentropy",
    )
    start = time.perf_counter()
    history = model.fit(
        splits.train_inputs,
        splits.train_labels,
        batch_size=settings["batch_size"],
        epochs=settings["epochs"],
        shuffle=True,
        verbose=0,
    )
    seconds = time.perf_counter() - start

    def accuracy(inputs, labels):
        probabilities = model.predict(inputs, batch_size=512, verbose=0)
        return float(np.mean(np.argmax(probabilities, axis=-1) == labels))

    return {
        "cell": cell,
        "units": units,
        "parameters": model.count_params(),
        "train_accuracy": accuracy(splits.train_inputs, splits.train_labels),
        "test_accuracy": accuracy(splits.test_inputs, splits.test_labels),
        "train_loss": [float(value) for value in history.history["loss"]],
        "train_seconds": seconds,
    }
