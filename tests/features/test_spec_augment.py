"""`SpecAugment`: identity at inference; bounded, per-example masks inside the
valid frames in training; reproducible under a seed."""

import keras
import numpy as np
import pytest
from layer_test import to_numpy

import toolkit

SpecAugment = toolkit.features.SpecAugment
# One input shape for every eager call: JAX compiles each eager op per shape.
BATCH, TIME, CHANNELS = 256, 40, 12
PADDING_VALUE = 7.0


def ones_with_padding(lengths):
    """`BATCH` sequences of ones (`lengths` repeated), padded with `PADDING_VALUE`."""
    lengths = np.resize(np.asarray(lengths), BATCH)
    mask = np.arange(TIME)[None, :] < lengths[:, None]
    features = np.where(mask[..., None], 1.0, PADDING_VALUE).astype("float32")
    return np.broadcast_to(features, (len(lengths), TIME, CHANNELS)).copy(), mask


def zero_rows_and_columns(outputs, mask):
    """Per example: the zeroed frames and zeroed channels; checks that every
    zero lies in one of them (masks cover whole frames or whole channels)."""
    rows, columns = [], []
    for example, valid in zip(outputs, mask):
        if not valid.any():
            rows.append(np.array([], int))
            columns.append(np.array([], int))
            continue
        zero = example[valid] == 0.0
        zero_rows = np.flatnonzero(zero.all(axis=1))
        zero_columns = np.flatnonzero(zero.all(axis=0))
        covered = np.zeros_like(zero)
        covered[zero_rows] = True
        covered[:, zero_columns] = True
        assert np.array_equal(zero, covered), "a zero outside a whole-frame/channel mask"
        rows.append(zero_rows)
        columns.append(zero_columns)
    return rows, columns


@pytest.mark.parametrize("training", [None, False])
def test_identity_unless_training(training):
    features, mask = ones_with_padding([40, 20])
    layer = SpecAugment(seed=1)
    np.testing.assert_array_equal(to_numpy(layer(features, mask=mask, training=training)), features)


def test_masks_stay_inside_valid_frames_and_bounds():
    lengths = np.resize([40, 25, 9, 0], BATCH)
    features, mask = ones_with_padding(lengths)
    layer = SpecAugment(
        frequency_masks=2, frequency_mask_width=3, time_masks=2, time_mask_width=4, seed=2
    )
    outputs = to_numpy(layer(features, mask=mask, training=True))
    np.testing.assert_array_equal(outputs[~mask], PADDING_VALUE)  # padding untouched
    assert set(np.unique(outputs[mask])) <= {0.0, 1.0}
    rows, columns = zero_rows_and_columns(outputs, mask)
    for zero_rows, zero_columns, length in zip(rows, columns, lengths):
        assert len(zero_columns) <= 2 * 3
        if length:
            assert len(zero_rows) <= 2 * 4 and (len(zero_rows) == 0 or zero_rows.max() < length)
    patterns = {outputs[row][mask[row]].tobytes() for row in range(0, 64, 4)}
    assert len(patterns) > 1, "every example got the same masks"


def test_widths_are_uniform_from_zero_to_the_maximum():
    features, mask = ones_with_padding([TIME])
    layer = SpecAugment(frequency_masks=1, frequency_mask_width=4, time_masks=0, seed=3)
    _, columns = zero_rows_and_columns(to_numpy(layer(features, training=True)), mask)
    assert {len(c) for c in columns} == {0, 1, 2, 3, 4}
    assert {int(c.min()) for c in columns if len(c)} >= {0}
    assert max(int(c.max()) for c in columns if len(c)) == CHANNELS - 1
    layer = SpecAugment(frequency_masks=0, time_masks=1, time_mask_width=30, seed=4)
    features, mask = ones_with_padding([20])
    rows, _ = zero_rows_and_columns(to_numpy(layer(features, mask=mask, training=True)), mask)
    assert {len(r) for r in rows} == set(range(21))  # capped at the length, 20
    assert max(int(r.max()) for r in rows if len(r)) == 19


def test_time_mask_max_ratio_caps_time_masks():
    features, mask = ones_with_padding([10])
    layer = SpecAugment(frequency_masks=0, time_masks=1, time_mask_width=8, time_mask_max_ratio=0.2)
    rows, _ = zero_rows_and_columns(to_numpy(layer(features, mask=mask, training=True)), mask)
    assert max(len(r) for r in rows) == 2


def test_deterministic_under_a_seed_and_fresh_masks_at_each_call():
    features, mask = ones_with_padding([40, 30, 20])
    first, second = SpecAugment(seed=5), SpecAugment(seed=5)
    a = to_numpy(first(features, mask=mask, training=True))
    np.testing.assert_array_equal(a, to_numpy(second(features, mask=mask, training=True)))
    b = to_numpy(first(features, mask=mask, training=True))
    assert not np.array_equal(a, b), "the same masks at two calls"


def test_trains_under_fit():
    """Random masks inside `model.fit` (compiled: `tf.function`, `jax.jit`)."""
    inputs = keras.Input((TIME, CHANNELS))
    x = SpecAugment(seed=6)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(optimizer="sgd", loss="mse")
    features, _ = ones_with_padding([TIME])
    history = model.fit(features[:4], np.zeros((4, TIME, 1)), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
