"""The blocked top-k of beam search against `keras.ops.top_k` and NumPy."""

import keras
import numpy as np
import pytest

from toolkit.decoding.top_k import _block_length
from toolkit.decoding.top_k import top_k


def numpy(value):
    return keras.ops.convert_to_numpy(value)


def rows(n, seed=0):
    """Seven rows of `n` values: ties across blocks whose maxima rank them
    against their order, one finite value among -inf, ties at the top, all
    -inf, a winner in the last (padded) block, large negatives, normal."""
    values = np.random.default_rng(seed).normal(size=(7, n)).astype("float32")
    values[0] = np.minimum(values[0], 0.0)
    values[0, [n - 5, 3]] = [5.0, 4.0]
    values[0, [n - 4, 4, n - 3, 5]] = 2.0
    values[1] = -np.inf
    values[1, 17] = 0.5
    values[2] = np.minimum(values[2], 1.0)
    values[3] = -np.inf
    values[4, -1] = 9.0
    values[5] -= 1e6
    return values


# (n, k): divisible blocks, padded blocks (4001 is prime), k = 1, wide k, short rows.
SHAPES = [(20000, 5), (4001, 3), (12345, 8), (30000, 1), (30000, 12), (100, 5)]


@pytest.mark.parametrize("n, k", SHAPES)
def test_top_k_gives_the_values_of_a_full_sort_at_their_indices(n, k):
    values = rows(n)
    top_values, indices = top_k(values, k)
    top_values, indices = numpy(top_values), numpy(indices)
    assert indices.dtype == np.int32 and top_values.shape == indices.shape == (7, k)
    np.testing.assert_array_equal(top_values, -np.sort(-values, axis=-1)[:, :k])
    np.testing.assert_array_equal(np.take_along_axis(values, indices, axis=1), top_values)
    assert all(len(set(row)) == k for row in indices.tolist())


@pytest.mark.parametrize("n, k", SHAPES)
def test_ties_resolve_to_the_lowest_index_as_keras_top_k(n, k):
    # TensorFlow and JAX document the lowest index first; torch.topk does not.
    if keras.backend.backend() == "torch":
        pytest.skip("torch.topk orders equal values arbitrarily")
    values = rows(n, seed=1)
    _, indices = top_k(values, k)
    _, want = keras.ops.top_k(values, k)
    np.testing.assert_array_equal(numpy(indices), numpy(want))


def test_block_lengths_divide_the_row_when_they_can():
    assert _block_length(20000, 5) == 50  # 20000 / 5 = 4000 -> sqrt 63 -> nearest divisor
    assert 20000 % _block_length(20000, 5) == 0
    assert _block_length(4001, 3) == 64  # prime: padded with -inf
    # Given explicitly, any block length gives the same values.
    values = rows(5000)
    for block in (7, 64, 500):
        np.testing.assert_array_equal(
            numpy(top_k(values, 4, block=block)[0]), -np.sort(-values, axis=-1)[:, :4]
        )
