"""`CMVN`: per-utterance and global statistics over valid frames only."""

import feature_references as references
import keras
import numpy as np
import pytest
from feature_calls import call
from layer_test import to_numpy

import toolkit

CMVN = toolkit.features.CMVN
LENGTHS = np.array([6, 3, 1, 0])
TIME, CHANNELS = 6, 4


def padded_batch(seed=0):
    rng = np.random.default_rng(seed)
    features = (rng.normal(size=(len(LENGTHS), TIME, CHANNELS)) * 3 + 5).astype("float32")
    mask = np.arange(TIME)[None, :] < LENGTHS[:, None]
    features[~mask] = 1e3  # garbage that must not enter any statistic
    return features, mask


def test_hand_computed_utterance():
    features = np.array([[[1.0, 2.0], [3.0, 2.0], [5.0, 8.0], [99.0, -99.0]]], "float32")
    mask = np.array([[True, True, True, False]])
    # Channel 0: mean 3, variance 8/3; channel 1: mean 4, variance 8.
    outputs = call(CMVN(epsilon=1e-6), features, mask)
    expected = np.array([[-2, -2], [0, -2], [2, 4]]) / np.sqrt(np.array([8 / 3, 8]) + 1e-6)
    np.testing.assert_allclose(outputs[0, :3], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(outputs[0, 3], 0.0)
    means_only = call(CMVN(normalize_variance=False), features, mask)
    np.testing.assert_allclose(means_only[0, :3], [[-2, -2], [0, -2], [2, 4]], atol=1e-6)
    np.testing.assert_array_equal(means_only[0, 3], 0.0)


@pytest.mark.parametrize("normalize_variance", [True, False])
def test_utterance_mode_matches_numpy_reference(normalize_variance):
    features, mask = padded_batch()
    layer = CMVN(normalize_variance=normalize_variance)
    outputs = call(layer, features, mask)
    for row, length in enumerate(LENGTHS):
        if length:
            expected = references.cmvn(features[row, :length], normalize_variance)
            np.testing.assert_allclose(outputs[row, :length], expected, rtol=1e-4, atol=1e-4)
        assert np.all(outputs[row, length:] == 0.0)
    assert np.all(np.isfinite(outputs))


def test_utterance_mode_padding_never_changes_the_valid_frames():
    features, mask = padded_batch()
    layer = CMVN()
    batched = call(layer, features, mask)
    for row, length in enumerate(LENGTHS[LENGTHS > 0]):
        alone = call(layer, features[row : row + 1, :length])
        np.testing.assert_allclose(batched[row, :length], alone[0], rtol=1e-5, atol=1e-5)


def _expected_statistics(features, mask):
    frames = features[mask].astype(np.float64)
    return frames.mean(axis=0), frames.var(axis=0)


def test_global_adapt_with_mask_lengths_and_iterables():
    features, mask = padded_batch()
    mean, variance = _expected_statistics(features, mask)
    adapted = []
    for data, kwargs in [
        (features, dict(mask=mask)),
        (features, dict(lengths=LENGTHS)),
        ([(features[:2], LENGTHS[:2]), (features[2:], mask[2:])], {}),
        ((features[row, :length] for row, length in enumerate(LENGTHS)), {}),  # (frames, ch)
    ]:
        layer = CMVN(mode="global")
        layer.adapt(data, **kwargs)
        adapted.append(layer)
        np.testing.assert_allclose(to_numpy(layer.mean), mean, rtol=1e-5)
        np.testing.assert_allclose(to_numpy(layer.variance), variance, rtol=1e-5)
    outputs = to_numpy(adapted[0](features, mask=mask))
    expected = (features - mean) / np.sqrt(variance + 1e-5)
    np.testing.assert_allclose(outputs[mask], expected[mask], rtol=1e-4, atol=1e-4)
    assert np.all(outputs[~mask] == 0.0)


@pytest.mark.tensorflow_only
def test_global_adapt_from_tf_data():
    import tensorflow as tf

    features, mask = padded_batch()
    dataset = tf.data.Dataset.from_tensor_slices((features, LENGTHS)).batch(3)
    layer = CMVN(mode="global")
    layer.adapt(dataset)
    mean, variance = _expected_statistics(features, mask)
    np.testing.assert_allclose(to_numpy(layer.mean), mean, rtol=1e-5)
    np.testing.assert_allclose(to_numpy(layer.variance), variance, rtol=1e-5)


def test_adapt_errors():
    with pytest.raises(ValueError, match="mode='global'"):
        CMVN().adapt(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="no valid frame"):
        CMVN(mode="global").adapt(np.zeros((1, 3, 2)), lengths=np.array([0]))


def test_global_statistics_survive_keras_round_trip(tmp_path):
    features, mask = padded_batch()
    layer = CMVN(mode="global", name="cmvn")
    layer.adapt(features, mask=mask)
    inputs = keras.Input((None, CHANNELS))
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "cmvn.keras")
    loaded = keras.models.load_model(tmp_path / "cmvn.keras")
    np.testing.assert_array_equal(to_numpy(loaded.get_layer("cmvn").mean), to_numpy(layer.mean))
    np.testing.assert_array_equal(to_numpy(loaded(features)), to_numpy(model(features)))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_float32_statistics(policy):
    features, mask = padded_batch()
    keras.config.set_dtype_policy(policy)
    layer = CMVN(mode="global")
    layer.adapt(features, mask=mask)
    outputs = layer(features, mask=mask)
    assert keras.backend.standardize_dtype(outputs.dtype) == layer.compute_dtype
    assert keras.backend.standardize_dtype(layer.mean.dtype) == "float32"
    assert np.all(np.isfinite(to_numpy(outputs).astype("float32")))
