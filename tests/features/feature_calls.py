"""`call(layer, inputs, mask=None)`: a layer's outputs as NumPy, compiled on JAX.

JAX compiles every eager op anew for each input shape (about half a second
per feature layer call on the CI machine), while one `jax.jit` of the whole
call compiles in a fifth of that; TensorFlow's eager ops are fast. Use it for
layers without random state (not `SpecAugment` in training).
"""

import keras
import numpy as np


def call(layer, inputs, mask=None):
    if keras.backend.backend() == "jax":
        import jax

        if mask is None:
            outputs = jax.jit(lambda x: layer(x))(inputs)
        else:
            outputs = jax.jit(lambda x, m: layer(x, mask=m))(inputs, mask)
    else:
        outputs = layer(inputs) if mask is None else layer(inputs, mask=mask)
    return np.asarray(keras.ops.convert_to_numpy(outputs))
