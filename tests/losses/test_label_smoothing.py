"""`LabelSmoothedCrossEntropy` against its NumPy formula, padding ignored."""

import keras
import numpy as np
import pytest
from layer_test import to_numpy

from toolkit.losses import LabelSmoothedCrossEntropy


def numpy_losses(targets, logits, smoothing, ignore_class=0):
    """Per-token losses: -(1 - s) log p_y - s mean_k log p_k, 0 at `ignore_class`."""
    logits = np.asarray(logits, np.float64)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    losses = np.zeros(targets.shape)
    for index in np.ndindex(targets.shape):
        target = targets[index]
        if ignore_class is not None and target == ignore_class:
            continue
        losses[index] = -(1 - smoothing) * log_probs[index][target]
        losses[index] -= smoothing * log_probs[index].mean()
    return losses


LOGITS = np.random.default_rng(0).normal(scale=2.0, size=(2, 4, 5)).astype("float32")
TARGETS = np.array([[4, 2, 1, 0], [1, 3, 0, 0]], "int32")  # 0: padding


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_per_token_losses_against_numpy(smoothing):
    losses = to_numpy(LabelSmoothedCrossEntropy(smoothing).call(TARGETS, LOGITS))
    np.testing.assert_allclose(
        losses, numpy_losses(TARGETS, LOGITS, smoothing), rtol=1e-5, atol=1e-6
    )


def test_without_smoothing_it_is_keras_sparse_cross_entropy_at_real_tokens():
    losses = to_numpy(LabelSmoothedCrossEntropy(reduction=None)(TARGETS, LOGITS))
    keras_losses = to_numpy(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)(
            TARGETS, LOGITS
        )
    )
    np.testing.assert_allclose(losses, np.where(TARGETS != 0, keras_losses, 0.0), rtol=1e-5)


@pytest.mark.parametrize("ignore_class", [None, -1, 2])
def test_ignore_class(ignore_class):
    targets = np.where(TARGETS == 0, -1, TARGETS) if ignore_class == -1 else TARGETS
    loss = LabelSmoothedCrossEntropy(0.1, ignore_class=ignore_class)
    np.testing.assert_allclose(
        to_numpy(loss.call(targets, LOGITS)),
        numpy_losses(targets, LOGITS, 0.1, ignore_class),
        rtol=1e-5,
        atol=1e-6,
    )


def test_mean_is_over_the_real_tokens_when_the_logits_carry_the_mask():
    """A decoder fed by `Embedding(mask_zero=True)` of the shifted targets."""
    decoder_ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(6, 3, mask_zero=True)(decoder_ids)
    logits = keras.layers.Dense(5)(x)
    model = keras.Model(decoder_ids, logits)
    model.compile(loss=LabelSmoothedCrossEntropy(0.1))
    inputs = np.array([[2, 4, 2, 1], [2, 1, 3, 0]], "int32")  # start token, targets[:-1]
    targets = np.array([[4, 2, 1, 3], [1, 3, 3, 0]], "int32")  # padded where the inputs are
    loss = model.evaluate(inputs, targets, verbose=0)
    per_token = numpy_losses(targets, to_numpy(model(inputs)), 0.1)
    np.testing.assert_allclose(loss, per_token.sum() / np.count_nonzero(targets), rtol=1e-5)
    # Without a mask on the logits, the default reduction counts padded tokens as zeros.
    plain = LabelSmoothedCrossEntropy(0.1)(targets, to_numpy(model(inputs)))
    np.testing.assert_allclose(to_numpy(plain), per_token.mean(), rtol=1e-5)


def test_config_round_trip_and_keras_file(tmp_path):
    assert (
        keras.saving.get_registered_name(LabelSmoothedCrossEntropy)
        == "toolkit>LabelSmoothedCrossEntropy"
    )
    # A registered class, not a closure: a compiled model is cloned (the recipes'
    # `local_copy` after multi-worker training) and saved with its loss.
    loss = LabelSmoothedCrossEntropy(0.2, ignore_class=-1, reduction="sum", name="smoothed")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is LabelSmoothedCrossEntropy
    assert restored.get_config() == loss.get_config()
    assert (restored.label_smoothing, restored.ignore_class) == (pytest.approx(0.2), -1)

    inputs = keras.Input((None, 5))
    model = keras.Model(inputs, keras.layers.Dense(5)(inputs))
    model.compile(optimizer="sgd", loss=LabelSmoothedCrossEntropy(0.1))
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded.loss) is LabelSmoothedCrossEntropy
    assert loaded.loss.get_config() == model.loss.get_config()
    np.testing.assert_allclose(
        loaded.evaluate(LOGITS, TARGETS, verbose=0),
        model.evaluate(LOGITS, TARGETS, verbose=0),
        rtol=1e-6,
    )


@pytest.mark.no_keras_state
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(label_smoothing=1.0), "`label_smoothing` expected a float in \\[0, 1\\)"),
        (dict(label_smoothing="high"), "Received: label_smoothing='high'"),
        (dict(ignore_class=0.5), "`ignore_class` expected an integer or None"),
        (dict(ignore_class=True), "Received: ignore_class=True"),
    ],
)
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LabelSmoothedCrossEntropy(**kwargs)
