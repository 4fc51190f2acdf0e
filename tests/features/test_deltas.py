"""`Deltas` against the HTK formula: hand-computed ramps and a NumPy loop."""

import feature_references as references
import numpy as np
import pytest
from feature_calls import call

import toolkit

Deltas = toolkit.features.Deltas
LENGTHS = np.array([9, 4, 1, 0])
TIME, CHANNELS = 9, 3


def padded_batch(seed=0):
    """Random features, garbage (1e3) in the padding, and the mask."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(len(LENGTHS), TIME, CHANNELS)).astype("float32")
    mask = np.arange(TIME)[None, :] < LENGTHS[:, None]
    features[~mask] = 1e3
    return features, mask


def test_deltas_of_a_ramp_are_its_slope_away_from_the_edges():
    slope = np.array([0.5, -2.0], "float32")
    ramp = (np.arange(12, dtype="float32")[:, None] * slope)[None]  # (1, 12, 2)
    outputs = call(Deltas(order=2, window=2), ramp)
    assert outputs.shape == (1, 12, 6)
    np.testing.assert_allclose(outputs[0, :, :2], ramp[0])
    np.testing.assert_allclose(outputs[0, 2:-2, 2:4], np.broadcast_to(slope, (8, 2)), atol=1e-6)
    # The first frame is replicated: (1 * 1 + 2 * 2) steps / 10 = half the slope.
    np.testing.assert_allclose(outputs[0, 0, 2:4], 0.5 * slope, atol=1e-6)
    # Delta-deltas of the constant-slope middle vanish.
    np.testing.assert_allclose(outputs[0, 4:-4, 4:], 0.0, atol=1e-6)


@pytest.mark.parametrize("order, window", [(1, 1), (2, 2), (3, 3)])
def test_matches_numpy_reference_at_each_sequences_own_edges(order, window):
    features, mask = padded_batch()
    outputs = call(Deltas(order=order, window=window), features, mask)
    assert outputs.shape == (len(LENGTHS), TIME, CHANNELS * (order + 1))
    for row, length in enumerate(LENGTHS):
        if length:
            expected = references.deltas_and_accelerations(features[row, :length], order, window)
            np.testing.assert_allclose(outputs[row, :length], expected, rtol=1e-5, atol=1e-5)
        assert np.all(outputs[row, length:] == 0.0), "padded frames are not zero"


def test_padding_never_changes_the_valid_frames():
    features, mask = padded_batch()
    layer = Deltas()
    batched = call(layer, features, mask)
    for row, length in enumerate(LENGTHS[LENGTHS > 0]):
        alone = call(layer, features[row : row + 1, :length])
        np.testing.assert_allclose(batched[row, :length], alone[0], rtol=1e-6, atol=1e-6)


def test_without_a_mask_every_frame_is_valid():
    features, _ = padded_batch()
    layer = Deltas(order=1)
    full_mask = np.ones(features.shape[:2], bool)
    np.testing.assert_array_equal(call(layer, features), call(layer, features, full_mask))
