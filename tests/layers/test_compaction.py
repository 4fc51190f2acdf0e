"""`toolkit/layers/compaction.py`: any mask moved to right padding and back, on every backend."""

import keras
import numpy as np

from toolkit.layers.compaction import compaction
from toolkit.layers.compaction import gather_steps
from toolkit.layers.compaction import keep_empty_rows


def test_valid_steps_move_to_the_front_in_order_and_back():
    mask = np.array(
        [
            [1, 1, 1, 0, 0],  # right padding
            [0, 0, 1, 1, 1],  # left padding
            [1, 0, 1, 0, 1],  # holes
            [0, 0, 0, 0, 0],  # no valid step
        ],
        bool,
    )
    source, destination, lengths = (keras.ops.convert_to_numpy(x) for x in compaction(mask))
    # Hand-computed: the valid steps first, in order, then the masked ones in order.
    np.testing.assert_array_equal(
        source, [[0, 1, 2, 3, 4], [2, 3, 4, 0, 1], [0, 2, 4, 1, 3], [0, 1, 2, 3, 4]]
    )
    np.testing.assert_array_equal(lengths, [3, 3, 3, 0])
    for row in range(4):  # inverse permutations
        np.testing.assert_array_equal(destination[row][source[row]], np.arange(5))

    values = np.arange(4 * 5 * 2, dtype="float32").reshape(4, 5, 2)
    compacted = keras.ops.convert_to_numpy(gather_steps(values, source))
    np.testing.assert_array_equal(compacted[2, :3], values[2, [0, 2, 4]])
    back = keras.ops.convert_to_numpy(gather_steps(compacted, destination))
    np.testing.assert_array_equal(back, values)


def test_empty_rows_keep_their_initial_states():
    lengths = np.array([2, 0, 1], "int32")
    new = [np.full((3, 2), 5.0, "float32")]
    old = [np.arange(6, dtype="float32").reshape(3, 2)]
    kept = keras.ops.convert_to_numpy(keep_empty_rows(lengths, new, old)[0])
    np.testing.assert_array_equal(kept, [[5, 5], [2, 3], [5, 5]])
