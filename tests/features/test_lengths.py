"""Frame counts (snip edges), lengths -> masks, and the layers' output lengths."""

import feature_references as references
import keras
import numpy as np
import pytest
from feature_calls import call
from layer_test import to_numpy

import toolkit

features = toolkit.features


@pytest.mark.parametrize("frame_length, frame_step", [(400, 160), (5, 2), (4, 4), (1, 1)])
def test_frame_lengths_match_the_formula(frame_length, frame_step):
    samples = np.arange(0, 3 * frame_length + 2 * frame_step + 3)
    received = to_numpy(features.frame_lengths(samples, frame_length, frame_step))
    expected = [references.frame_count(n, frame_length, frame_step) for n in samples]
    assert received.dtype == np.int32
    np.testing.assert_array_equal(received, expected)


def test_frame_lengths_defaults_are_25_ms_windows_every_10_ms_at_16_khz():
    lengths = to_numpy(features.frame_lengths(np.array([0, 399, 400, 559, 560, 16000])))
    np.testing.assert_array_equal(lengths, [0, 0, 1, 1, 2, 98])


def test_sequence_mask():
    mask = to_numpy(features.sequence_mask(np.array([3, 0, 1]), 4))
    np.testing.assert_array_equal(mask, [[1, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0]])
    assert mask.dtype == bool
    assert to_numpy(features.sequence_mask(np.array([2, 1]))).shape == (2, 2)


@pytest.mark.parametrize("samples", [0, 7, 8, 9, 10, 11, 23])
def test_log_mel_frames_follow_frame_lengths(samples):
    layer = features.LogMelSpectrogram(
        sample_rate=100, frame_length=8, frame_step=3, num_mel_bins=4, lower_edge_hertz=0.0
    )
    waveforms = np.random.default_rng(samples).uniform(-1, 1, (2, samples)).astype("float32")
    outputs = call(layer, waveforms)
    expected = references.frame_count(samples, 8, 3)
    assert outputs.shape == (2, expected, 4)
    assert layer.compute_output_shape((2, samples)) == (2, expected, 4)
    assert to_numpy(layer.output_lengths([samples]))[0] == expected


def test_lengths_to_mask_path():
    """Sample lengths -> frame lengths -> the mask of the padded features."""
    layer = features.LogMelSpectrogram(frame_length=400, frame_step=160, num_mel_bins=8)
    sample_lengths = np.array([1000, 399, 560])
    waveforms = np.zeros((3, 1000), "float32")
    log_mel = layer(waveforms)
    mask = features.sequence_mask(layer.output_lengths(sample_lengths), keras.ops.shape(log_mel)[1])
    np.testing.assert_array_equal(to_numpy(mask), [[1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 0, 0]])


def test_frame_stacking_output_lengths_are_ceil_of_lengths_over_stride():
    layer = features.FrameStacking(stride=3)
    lengths = np.arange(0, 11)
    np.testing.assert_array_equal(
        to_numpy(layer.output_lengths(lengths)), [-(-n // 3) for n in lengths]
    )


@pytest.mark.parametrize(
    "factory, argument, value",
    [
        (features.LogMelSpectrogram, "frame_length", 0),
        (features.LogMelSpectrogram, "fft_length", 256),
        (features.LogMelSpectrogram, "window", "blackman"),
        (features.LogMelSpectrogram, "upper_edge_hertz", 9000.0),
        (features.LogMelSpectrogram, "pre_emphasis", 1.5),
        (features.MFCC, "num_coefficients", 24),
        (features.MFCC, "lifter", -1),
        (features.Deltas, "order", 0),
        (features.CMVN, "mode", "speaker"),
        (features.SpecAugment, "time_masks", -1),
        (features.FrameStacking, "stride", 0),
    ],
)
def test_errors_name_the_argument_and_the_received_value(factory, argument, value):
    with pytest.raises(ValueError, match=f"Received: .*{argument}={value!r}"):
        factory(**{argument: value})
