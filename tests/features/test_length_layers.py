"""`FrameLengths` and `FrameMask`: the lengths of a functional model's inputs as layers."""

import feature_references as references
import keras
import numpy as np
import pytest
from layer_test import to_numpy

import toolkit

features = toolkit.features


def reference_lengths(lengths, frame_length, frame_step, stride):
    """NumPy: snip-edges frame counts (or the counts themselves), then ceil(/ stride)."""
    frames = [
        n if frame_length is None else references.frame_count(n, frame_length, frame_step)
        for n in lengths
    ]
    return [-(-n // stride) for n in frames]


@pytest.mark.parametrize(
    "frame_length, frame_step, stride",
    [(400, 160, 1), (5, 2, 1), (5, 2, 3), (4, 4, 2), (None, None, 1), (None, 160, 3)],
)
def test_frame_lengths_match_the_formula(frame_length, frame_step, stride):
    lengths = np.arange(0, 30 if frame_length != 400 else 2000, dtype="int32")
    layer = features.FrameLengths(frame_length, frame_step, stride=stride)
    received = to_numpy(layer(lengths))
    assert received.dtype == np.int32
    np.testing.assert_array_equal(
        received, reference_lengths(lengths, frame_length, frame_step, stride)
    )


def test_frame_lengths_defaults_are_the_front_ends():
    layer = features.FrameLengths()
    samples = np.array([0, 399, 400, 559, 560, 16000])
    np.testing.assert_array_equal(to_numpy(layer(samples)), [0, 0, 1, 1, 2, 98])
    log_mel = features.LogMelSpectrogram(num_mel_bins=4)
    np.testing.assert_array_equal(
        to_numpy(layer(samples)), to_numpy(log_mel.output_lengths(samples))
    )


def test_frame_lengths_after_stacking_are_frame_stackings():
    stacking = features.FrameStacking(left_context=1, stride=3)
    lengths = np.arange(0, 12)
    np.testing.assert_array_equal(
        to_numpy(features.FrameLengths(None, stride=3)(lengths)),
        to_numpy(stacking.output_lengths(lengths)),
    )


def test_frame_mask_matches_numpy():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(4, 6, 3)).astype("float32")
    lengths = np.array([6, 0, 3, 1], "int32")
    mask = to_numpy(features.FrameMask()([frames, lengths]))
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, np.arange(6)[None, :] < lengths[:, None])


def lengths_model():
    """`[waveform, lengths] -> [features, frame lengths, mask]`, with stacking."""
    waveform = keras.Input((None,), name="waveform")
    lengths = keras.Input((), dtype="int32", name="lengths")
    x = features.LogMelSpectrogram(
        sample_rate=100, frame_length=8, frame_step=4, num_mel_bins=3, lower_edge_hertz=0.0
    )(waveform)
    x = features.FrameStacking(stride=2)(x)
    frame_lengths = features.FrameLengths(8, 4, stride=2, name="frame_lengths")(lengths)
    mask = features.FrameMask(name="frame_mask")([x, frame_lengths])
    return keras.Model([waveform, lengths], [x, frame_lengths, mask])


def test_symbolic_shapes_and_dtypes():
    _, frame_lengths, mask = lengths_model().outputs
    assert frame_lengths.shape == (None,) and frame_lengths.dtype == "int32"
    assert mask.shape == (None, None) and mask.dtype == "bool"


def test_in_a_model_the_mask_covers_the_valid_stacked_frames_and_round_trips(tmp_path):
    model = lengths_model()
    waveform = np.random.default_rng(1).uniform(-1, 1, (3, 40)).astype("float32")
    lengths = np.array([40, 11, 3], "int32")
    x, frame_lengths, mask = (to_numpy(v) for v in model.predict([waveform, lengths], verbose=0))
    expected = reference_lengths(lengths, 8, 4, 2)  # 9 frames -> 5; 1 frame -> 1; none
    np.testing.assert_array_equal(frame_lengths, expected)
    assert x.shape[:2] == mask.shape == (3, 5)
    np.testing.assert_array_equal(mask, np.arange(5)[None, :] < np.array(expected)[:, None])

    path = tmp_path / "lengths.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.get_layer("frame_lengths")) is features.FrameLengths
    assert type(loaded.get_layer("frame_mask")) is features.FrameMask
    assert loaded.get_layer("frame_lengths").get_config() == (
        model.get_layer("frame_lengths").get_config()
    )
    for got, want in zip(loaded.predict([waveform, lengths], verbose=0), (x, frame_lengths, mask)):
        np.testing.assert_array_equal(to_numpy(got), want)


@pytest.mark.parametrize("cls", [features.FrameLengths, features.FrameMask])
def test_registered_and_config_round_trip(cls):
    assert keras.saving.get_registered_name(cls) == f"toolkit>{cls.__name__}"
    layer = (
        cls(name="lengths") if cls is features.FrameMask else cls(None, stride=4, name="lengths")
    )
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is cls
    assert restored.get_config() == layer.get_config()


@pytest.mark.no_keras_state
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(frame_length=0), "`frame_length` expected a positive integer or None"),
        (
            dict(frame_step=None),
            "`frame_step` expected a positive integer. Received: frame_step=None",
        ),
        (dict(frame_step=2.5), "`frame_step` expected a positive integer"),
        (dict(stride=0), "`stride` expected a positive integer. Received: stride=0"),
    ],
)
def test_frame_lengths_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        features.FrameLengths(**kwargs)
