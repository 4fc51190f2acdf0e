"""The standard layer checks (`layer_test`), configs, and a whole front-end
model through `.keras` saving and `model.fit`."""

import keras
import layer_test
import numpy as np
import pytest
from layer_test import to_numpy

import toolkit

features = toolkit.features
SAMPLES, FRAMES = 1200, 6  # frame_lengths(1200) = 1 + 800 // 160

# id -> (class, constructor arguments, input shape, output shape, non-trainable weights)
CASES = {
    "log_mel": (features.LogMelSpectrogram, dict(num_mel_bins=8), (2, SAMPLES), (2, FRAMES, 8), 0),
    "mfcc": (features.MFCC, dict(use_energy=True), (2, SAMPLES), (2, FRAMES, 13), 0),
    "deltas": (features.Deltas, dict(order=1, window=3), (2, 5, 3), (2, 5, 6), 0),
    "cmvn_utterance": (features.CMVN, dict(), (2, 5, 3), (2, 5, 3), 0),
    "cmvn_global": (features.CMVN, dict(mode="global"), (2, 5, 3), (2, 5, 3), 2),
    "spec_augment": (features.SpecAugment, dict(seed=1), (2, 5, 3), (2, 5, 3), None),
    "frame_stacking": (
        features.FrameStacking,
        dict(left_context=1, right_context=2, stride=2),
        (2, 5, 3),
        (2, 3, 12),
        0,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_standard_layer_checks(case):
    cls, kwargs, input_shape, output_shape, non_trainable = CASES[case]
    layer_test.run_layer_test(
        cls,
        kwargs,
        input_shape,
        output_shape,
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=non_trainable,
        # Mixed precision is checked per layer in its own tests (run_layer_test's
        # check needs float variables, which most of these layers do not have).
        run_mixed_precision_check=case == "cmvn_global",
        run_training_check=False,  # no trainable weights; `fit` is tested below
    )


def test_non_default_configs_round_trip():
    layers = [
        features.LogMelSpectrogram(
            sample_rate=8000,
            frame_length=200,
            frame_step=80,
            fft_length=300,
            num_mel_bins=20,
            lower_edge_hertz=64.0,
            upper_edge_hertz=3000.0,
            window="hann",
            pre_emphasis=0.0,
            remove_dc=False,
            log_floor=1e-3,
            power=1.0,
        ),
        features.MFCC(num_coefficients=20, lifter=0, num_mel_bins=30, window="hann"),
        features.Deltas(order=3, window=1),
        features.CMVN(mode="global", normalize_variance=False, epsilon=1e-3),
        features.SpecAugment(1, 4, 3, 10, 0.5, seed=9),
        features.FrameStacking(3, 0, 3),
    ]
    for layer in layers:
        revived = layer_test.check_config_round_trip(layer)
        if isinstance(layer, features.MFCC):
            assert revived.log_mel.get_config() == layer.log_mel.get_config()


def front_end(adapted_cmvn=None):
    """waveforms + frame mask -> every feature layer -> a trainable head."""
    waveforms = keras.Input((None,), name="waveforms")
    mask = keras.Input((None,), dtype="bool", name="frame_mask")
    x = features.LogMelSpectrogram(num_mel_bins=10, name="log_mel")(waveforms)
    x = features.CMVN(name="cmvn_utterance")(x, mask=mask)
    x = features.Deltas(order=1, name="deltas")(x, mask=mask)
    x = (adapted_cmvn or features.CMVN(mode="global", name="cmvn_global"))(x, mask=mask)
    x = features.SpecAugment(frequency_mask_width=3, time_mask_width=2, seed=3)(x, mask=mask)
    x = features.FrameStacking(left_context=1, stride=2, name="stacking")(x, mask=mask)
    outputs = keras.layers.Dense(2, name="head")(x)
    return keras.Model([waveforms, mask], outputs)


def batch(seed=0):
    rng = np.random.default_rng(seed)
    waveforms = rng.uniform(-0.5, 0.5, (3, 1360)).astype("float32")  # 7 frames
    sample_lengths = np.array([1360, 1000, 700])
    waveforms[np.arange(1360)[None] >= sample_lengths[:, None]] = 0.0
    frames = to_numpy(features.frame_lengths(sample_lengths))
    mask = to_numpy(features.sequence_mask(frames, 7))
    return waveforms, mask, frames


def test_front_end_model_saves_and_loads(tmp_path):
    waveforms, mask, _ = batch()
    cmvn = features.CMVN(mode="global", name="cmvn_global")
    cmvn.adapt(np.random.default_rng(1).normal(2.0, 3.0, (50, 20)))
    model = front_end(cmvn)
    model.save(tmp_path / "front_end.keras")
    loaded = keras.models.load_model(tmp_path / "front_end.keras")
    for layer in ("cmvn_global",):
        for name in ("mean", "variance"):
            np.testing.assert_array_equal(
                to_numpy(getattr(loaded.get_layer(layer), name)), to_numpy(getattr(cmvn, name))
            )
    expected = to_numpy(model([waveforms, mask]))
    np.testing.assert_allclose(to_numpy(loaded([waveforms, mask])), expected, rtol=1e-6, atol=1e-6)


def test_front_end_model_trains_with_fit():
    waveforms, mask, frames = batch()
    model = front_end()
    model.compile(optimizer="sgd", loss="mse")
    targets = np.zeros((3, 4, 2), "float32")
    history = model.fit([waveforms, mask], targets, batch_size=3, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert tuple(model([waveforms, mask]).shape) == (3, 4, 2)
    np.testing.assert_array_equal(frames, [7, 4, 2])
    stacked_lengths = to_numpy(model.get_layer("stacking").output_lengths(frames))
    np.testing.assert_array_equal(stacked_lengths, [4, 2, 1])
