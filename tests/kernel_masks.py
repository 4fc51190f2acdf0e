"""The masks the kernel tests run (`tests/layers/test_cudnn.py`, `test_torch_kernels.py`):
the same batch of 4 rows of 7 steps with no mask, right and left padding, holes and a
row with no valid step, so each kernel meets every case the compaction handles."""

import numpy as np

BATCH, TIME = 4, 7


def kernel_masks():
    """`{name: (BATCH, TIME) boolean mask or None}`."""
    right = np.ones((BATCH, TIME), bool)
    right[1, 4:] = False
    right[3, 1:] = False
    left = np.ones((BATCH, TIME), bool)
    left[2, :3] = False
    left[0, :6] = False
    holes = np.ones((BATCH, TIME), bool)
    holes[0, 2::3] = False
    holes[3, ::2] = False
    empty = right.copy()
    empty[2, :] = False  # neither cuDNN nor packed sequences take a zero length
    return {"none": None, "right": right, "left": left, "holes": holes, "empty": empty}
