"""`BlankPadding` and `MaskedCTC`: CTC over a padded batch, against a NumPy CTC."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from layer_test import to_numpy

import toolkit
from toolkit.losses import BlankPadding
from toolkit.losses import MaskedCTC
from toolkit.losses.ctc import BLANK


def numpy_ctc_loss(labels, logits):
    """-log p(labels | logits): the CTC forward algorithm (Graves et al., 2006), float64.

    `logits` `(frames, classes)` of one unpadded sequence, `labels` its label list
    (classes >= 1), the blank at class 0.
    """
    logits = np.asarray(logits, np.float64)
    log_probs = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    extended = [BLANK]
    for label in labels:
        extended += [label, BLANK]
    alpha = np.full(len(extended), -np.inf)
    alpha[0] = log_probs[0, BLANK]
    if len(extended) > 1:
        alpha[1] = log_probs[0, extended[1]]
    for frame in range(1, len(log_probs)):
        previous, alpha = alpha, np.full(len(extended), -np.inf)
        for s, symbol in enumerate(extended):
            paths = [previous[s]]
            if s >= 1:
                paths.append(previous[s - 1])
            if s >= 2 and symbol != BLANK and symbol != extended[s - 2]:
                paths.append(previous[s - 2])  # skip the blank between two different labels
            alpha[s] = np.logaddexp.reduce(paths) + log_probs[frame, symbol]
    ends = alpha[-2:] if len(extended) > 1 else alpha[-1:]
    return -np.logaddexp.reduce(ends)


def padded_batch(seed=0):
    """Random logits `(4, 9, 5)`, valid frames, targets padded with -1 and their lengths."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(4, 9, 5)).astype("float32")
    frames = np.array([9, 6, 4, 7])
    targets = np.array(
        [[1, 2, 2, 3], [3, 1, -1, -1], [4, -1, -1, -1], [2, 2, 2, -1]],  # repeats need blanks
        dtype="int32",
    )
    counts = [4, 2, 1, 3]
    mask = np.arange(9)[None, :] < frames[:, None]
    return logits, mask, frames, targets, counts


# === BlankPadding ===


@pytest.mark.parametrize("holes", [False, True])
def test_blank_padding_keeps_valid_frames_and_makes_padded_ones_blank_only(holes):
    logits, mask, *_ = padded_batch()
    if holes:  # any mask pattern is followed, frame by frame
        mask = np.random.default_rng(3).uniform(size=mask.shape) < 0.5
    outputs = to_numpy(BlankPadding()([logits, mask]))
    blank_only = np.array([0.0, -1e4, -1e4, -1e4, -1e4], "float32")
    np.testing.assert_array_equal(outputs, np.where(mask[..., None], logits, blank_only))
    # A padded frame emits the blank with probability one (in float32).
    probabilities = to_numpy(keras.ops.softmax(outputs))
    np.testing.assert_array_equal(probabilities[~mask][:, BLANK], 1.0)


def test_blank_padding_keeps_the_logits_dtype_and_ends_the_keras_mask():
    logits = keras.Input((None, 3))
    mask = keras.Input((None,), dtype="bool")
    layer = BlankPadding()
    outputs = layer([logits, mask])
    assert outputs.shape == (None, None, 3) and outputs.dtype == "float32"
    assert layer.compute_mask([logits, mask]) is None
    half = BlankPadding(dtype="float16")([np.ones((1, 2, 3), "float16"), np.array([[1, 0]], bool)])
    half = to_numpy(half)
    assert half.dtype == np.float16
    np.testing.assert_array_equal(half[0, 1], [0.0, -1e4, -1e4])


# === MaskedCTC ===


def test_masked_ctc_equals_the_ctc_loss_of_each_unpadded_row():
    logits, mask, frames, targets, counts = padded_batch()
    padded = BlankPadding()([logits, mask])
    losses = to_numpy(MaskedCTC(reduction=None)(targets, padded))
    assert losses.shape == (4,)
    for row, (length, count) in enumerate(zip(frames, counts)):
        labels, row_logits = targets[row, :count], logits[row, :length]
        np.testing.assert_allclose(losses[row], numpy_ctc_loss(labels, row_logits), rtol=1e-5)
        keras_loss = keras.ops.ctc_loss(
            labels[None], row_logits[None], np.array([count]), np.array([length]), mask_index=0
        )
        np.testing.assert_allclose(losses[row], to_numpy(keras_loss)[0], rtol=1e-5)


def test_masked_ctc_reduces_to_the_batch_mean_and_takes_float16_logits():
    logits, mask, _, targets, _ = padded_batch(seed=1)
    padded = BlankPadding()([logits, mask])
    per_row = to_numpy(MaskedCTC(reduction=None)(targets, padded))
    np.testing.assert_allclose(to_numpy(MaskedCTC()(targets, padded)), per_row.mean(), rtol=1e-6)
    half = BlankPadding(dtype="float16")([logits.astype("float16"), mask])
    loss = to_numpy(MaskedCTC(reduction=None)(targets, half))
    assert loss.dtype == np.float32  # computed in float32
    np.testing.assert_allclose(loss, per_row, rtol=1e-2)


def ctc_tagger():
    """`[features, lengths] -> CTC logits`, the speech recipe's layers, compiled with MaskedCTC."""
    features = keras.Input((None, 3), name="features")
    lengths = keras.Input((), dtype="int32", name="lengths")
    frame_lengths = toolkit.features.FrameLengths(None, name="frame_lengths")(lengths)
    mask = toolkit.features.FrameMask(name="frame_mask")([features, frame_lengths])
    x = toolkit.layers.GRU(4, return_sequences=True)(features, mask=mask)
    logits = keras.layers.Dense(5, name="logits")(x)
    outputs = BlankPadding(name="blank_padding")([logits, mask])
    model = keras.Model([features, lengths], outputs)
    model.compile(optimizer="adam", loss=MaskedCTC())
    return model


def tagger_batch():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(3, 8, 3)).astype("float32")
    lengths = np.array([8, 5, 3], "int32")
    targets = np.array([[1, 2, 3], [4, 4, -1], [2, -1, -1]], "int32")
    return features, lengths, targets


def test_trains_and_round_trips_through_keras_files(tmp_path):
    model = ctc_tagger()
    features, lengths, targets = tagger_batch()
    history = model.fit([features, lengths], targets, epochs=2, batch_size=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][1] < history.history["loss"][0]
    expected = model.predict([features, lengths], verbose=0)
    loss = model.evaluate([features, lengths], targets, verbose=0)

    path = tmp_path / "ctc.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.loss) is MaskedCTC
    assert type(loaded.get_layer("blank_padding")) is BlankPadding
    np.testing.assert_array_equal(loaded.predict([features, lengths], verbose=0), expected)
    np.testing.assert_allclose(loaded.evaluate([features, lengths], targets, verbose=0), loss)

    # A fresh interpreter needs nothing but `import toolkit` to load and evaluate it.
    script = (
        "import sys, numpy as np, keras, toolkit\n"
        "model = keras.models.load_model(sys.argv[1])\n"
        "features, lengths, targets = (np.load(sys.argv[2])[k] for k in 'flt')\n"
        "loss = model.evaluate([features, lengths], targets, verbose=0)\n"
        "print(type(model.loss).__name__, loss)\n"
    )
    np.savez(tmp_path / "batch.npz", f=features, l=lengths, t=targets)
    result = subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "batch.npz")],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    name, value = result.stdout.strip().splitlines()[-1].split()
    assert name == "MaskedCTC"
    np.testing.assert_allclose(float(value), loss, rtol=1e-5)


def test_masked_ctc_config_round_trip():
    assert keras.saving.get_registered_name(MaskedCTC) == "toolkit>MaskedCTC"
    assert keras.saving.get_registered_name(BlankPadding) == "toolkit>BlankPadding"
    loss = MaskedCTC(reduction="sum", name="ctc")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is MaskedCTC
    assert restored.get_config() == loss.get_config()
    assert restored.reduction == "sum" and restored.name == "ctc"
    layer = BlankPadding(name="padding", dtype="float32")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is BlankPadding and restored.get_config() == layer.get_config()
