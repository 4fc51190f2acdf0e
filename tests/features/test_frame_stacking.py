"""`FrameStacking`: stacked neighbours clipped to the valid frames, subsampled."""

import feature_references as references
import keras
import numpy as np
import pytest
from feature_calls import call
from layer_test import to_numpy

import toolkit

features = toolkit.features
LENGTHS = np.array([10, 7, 3, 1, 0])
TIME, CHANNELS = 10, 2


def padded_batch(seed=0):
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(len(LENGTHS), TIME, CHANNELS)).astype("float32")
    mask = np.arange(TIME)[None, :] < LENGTHS[:, None]
    inputs[~mask] = 1e3
    return inputs, mask


@pytest.mark.parametrize("left, right, stride", [(0, 0, 1), (2, 1, 3), (0, 3, 2), (3, 0, 4)])
def test_matches_numpy_reference(left, right, stride):
    inputs, mask = padded_batch()
    layer = features.FrameStacking(left_context=left, right_context=right, stride=stride)
    outputs = call(layer, inputs, mask)
    expected_time = -(-TIME // stride)
    assert outputs.shape == (len(LENGTHS), expected_time, CHANNELS * (left + 1 + right))
    assert layer.compute_output_shape((None, TIME, CHANNELS)) == (None,) + outputs.shape[1:]
    output_lengths = to_numpy(layer.output_lengths(LENGTHS))
    for row, (length, valid) in enumerate(zip(LENGTHS, output_lengths)):
        assert valid == -(-length // stride)
        if length:
            expected = references.frame_stacking(inputs[row, :length], left, right, stride)
            np.testing.assert_array_equal(outputs[row, :valid], expected)
        assert np.all(outputs[row, valid:] == 0.0)


def test_padding_never_changes_the_valid_frames():
    inputs, mask = padded_batch()
    layer = features.FrameStacking(left_context=1, right_context=2, stride=2)
    batched = call(layer, inputs, mask)
    for row, length in enumerate(LENGTHS[LENGTHS > 0]):
        alone = call(layer, inputs[row : row + 1, :length])[0]
        np.testing.assert_array_equal(batched[row, : len(alone)], alone)


def test_labels_and_mask_follow_every_stride_th_frame():
    """Output frame j is centred on input frame j * stride: labels[:, ::stride]."""
    stride = 3
    positions = np.broadcast_to(np.arange(TIME, dtype="float32")[None, :, None], (5, TIME, 1))
    mask = np.arange(TIME)[None, :] < LENGTHS[:, None]
    layer = features.FrameStacking(left_context=1, right_context=1, stride=stride)
    outputs = call(layer, positions, mask)
    labels = np.broadcast_to(np.arange(TIME)[None], (5, TIME))  # label = frame index
    output_mask = to_numpy(layer.compute_mask(positions, keras.ops.convert_to_tensor(mask)))
    np.testing.assert_array_equal(output_mask, mask[:, ::stride])
    np.testing.assert_array_equal(
        output_mask,
        to_numpy(features.sequence_mask(layer.output_lengths(LENGTHS), outputs.shape[1])),
    )
    np.testing.assert_array_equal(outputs[..., 1][output_mask], labels[:, ::stride][output_mask])
