"""`LogMelSpectrogram`, `MFCC` and `mel_filterbank` against the NumPy reference."""

import feature_references as references
import keras
import numpy as np
import pytest
from feature_calls import call
from layer_test import to_numpy

import toolkit

features = toolkit.features
TOLERANCE = dict(rtol=1e-4, atol=1e-4)
# Identical on TensorFlow; XLA on CPU rounds differently shaped batches differently.
PADDING_TOLERANCE = dict(rtol=1e-5, atol=1e-4)


def waveforms(batch=2, samples=2400, seed=0):
    """Tones plus noise, in [-1, 1]: every mel band well above the floor."""
    rng = np.random.default_rng(seed)
    time = np.arange(samples) / 16000.0
    tones = [0.4 * np.sin(2 * np.pi * (300 + 500 * b) * time) for b in range(batch)]
    signal = np.stack(tones) + rng.uniform(-0.2, 0.2, (batch, samples)) + 0.05
    return signal.astype("float32")


LOG_MEL_CASES = {
    "defaults": dict(),
    "hann_no_pre_emphasis_no_dc": dict(window="hann", pre_emphasis=0.0, remove_dc=False),
    "magnitude_band_limited": dict(
        power=1.0, num_mel_bins=23, lower_edge_hertz=64.0, upper_edge_hertz=7000.0
    ),
    "8_khz_odd_fft": dict(
        sample_rate=8000, frame_length=200, frame_step=80, fft_length=300, num_mel_bins=15
    ),
}


def reference_arguments(kwargs):
    layer = features.LogMelSpectrogram(**kwargs)
    names = [
        name for name in layer.get_config() if name in features.LogMelSpectrogram._config_names
    ]
    arguments = {name: getattr(layer, name) for name in names}  # the resolved defaults
    arguments["window_name"] = arguments.pop("window")
    return layer, arguments


@pytest.mark.parametrize("case", list(LOG_MEL_CASES))
def test_log_mel_matches_numpy_reference(case):
    layer, arguments = reference_arguments(LOG_MEL_CASES[case])
    inputs = waveforms()
    outputs = call(layer, inputs)
    for row, waveform in enumerate(inputs):
        np.testing.assert_allclose(
            outputs[row], references.log_mel(waveform, **arguments), **TOLERANCE
        )


def test_mel_filterbank_matches_the_loop_reference():
    received = features.mel_filterbank(40, 512, 16000, 20.0, None)
    expected = references.filterbank(40, 512, 16000, 20.0, 8000.0)
    np.testing.assert_allclose(received, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.tensorflow_only
@pytest.mark.parametrize(
    "arguments", [(40, 512, 16000, 20.0, 8000.0), (23, 256, 8000, 0.0, 3800.0)]
)
def test_mel_filterbank_matches_tensorflow(arguments):
    import tensorflow as tf

    num_mel_bins, fft_length, sample_rate, lower, upper = arguments
    expected = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins, fft_length // 2 + 1, sample_rate, lower, upper
    ).numpy()
    received = features.mel_filterbank(num_mel_bins, fft_length, sample_rate, lower, upper)
    np.testing.assert_allclose(received, expected, atol=2e-5)


MFCC_CASES = {
    "defaults": dict(),
    "energy_no_lifter": dict(use_energy=True, lifter=0, num_coefficients=20),
    "energy_40_bins": dict(use_energy=True, num_mel_bins=40, window="hann"),
}


@pytest.mark.parametrize("case", list(MFCC_CASES))
def test_mfcc_matches_numpy_reference(case):
    kwargs = MFCC_CASES[case]
    layer = features.MFCC(**kwargs)
    inputs = waveforms(samples=1600)
    outputs = call(layer, inputs)
    assert outputs.shape == (2, 8, kwargs.get("num_coefficients", 13))
    window = kwargs.pop("window", "hamming")
    for row, waveform in enumerate(inputs):
        expected = references.mfcc(waveform, window_name=window, **kwargs)
        np.testing.assert_allclose(outputs[row], expected, **TOLERANCE)


@pytest.mark.parametrize("factory", [features.LogMelSpectrogram, features.MFCC])
def test_padding_never_changes_the_valid_frames(factory):
    layer = factory()
    alone = waveforms(batch=1, samples=1900)
    padded = np.zeros((2, 3000), "float32")
    padded[0, :1900] = alone[0]
    padded[1] = waveforms(batch=1, samples=3000, seed=5)[0]
    valid = int(to_numpy(layer.output_lengths([1900]))[0])
    assert valid == 10
    np.testing.assert_allclose(
        call(layer, padded)[0, :valid], call(layer, alone)[0], **PADDING_TOLERANCE
    )


def test_silence_is_floored_not_minus_infinity():
    outputs = call(features.LogMelSpectrogram(log_floor=1e-6), np.zeros((1, 800), "float32"))
    np.testing.assert_allclose(outputs, np.log(1e-6), rtol=1e-6)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("factory", [features.LogMelSpectrogram, features.MFCC])
def test_mixed_precision_computes_in_float32(factory, policy):
    inputs = waveforms()
    expected = call(factory(), inputs)
    keras.config.set_dtype_policy(policy)
    layer = factory()
    outputs = call(layer, inputs)
    assert keras.backend.standardize_dtype(outputs.dtype) == layer.compute_dtype
    # Only the final cast rounds: float16 keeps 11 bits, bfloat16 8.
    rtol = 2e-3 if policy == "mixed_float16" else 1e-2
    np.testing.assert_allclose(outputs.astype("float32"), expected, rtol=rtol, atol=rtol)
