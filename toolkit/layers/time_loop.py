"""The time loop: a scan over the leading (time) axis, per backend.

`keras.ops.scan` on TensorFlow requires the per-step outputs to have the
structure of the carry, which a recurrent layer does not have (it carries
states, it emits outputs and gate traces), so the loop is written here: a
`tf.while_loop` over `TensorArray`s on TensorFlow, `jax.lax.scan` on JAX and a
Python loop elsewhere or when unrolling. On torch the Python loop is the loop, as in
Keras' own torch RNNs: PyTorch runs eagerly and autograd records each step, and the
time axis is always static there.
"""

import keras
from keras import ops


def jax_platform():
    """JAX's default backend (`"cpu"`, `"gpu"`, ...) when Keras runs on JAX, else `None`."""
    if keras.backend.backend() != "jax":
        return None
    import jax

    return jax.default_backend()


def jax_on_cpu():
    """Whether the code runs on JAX's CPU backend (XLA:CPU), where sequential
    `jax.lax.scan` loops are cheap: a step costs about a microsecond, so some
    loops run faster than the forms meant for TensorFlow or accelerators (see
    `Recurrent`'s per-step projection and `scan.associative_linear_scan`)."""
    return jax_platform() == "cpu"


def scan(step, carry, sequences, unroll=False):
    """Runs `step(carry, step_inputs) -> (carry, step_outputs)` over time.

    Args:
        step: The step function. `step_outputs` may be any nested structure
            of tensors, or `None`.
        carry: Nested structure of tensors, the initial carry.
        sequences: Nested structure of time-major tensors `(time, ...)`.
        unroll: Boolean; when `True` the loop is a Python loop, which needs a
            static number of steps.

    Returns:
        `(final_carry, stacked_outputs)` with the outputs stacked time-major.
    """
    flat_sequences = keras.tree.flatten(sequences)
    steps = flat_sequences[0].shape[0]
    backend = keras.backend.backend()
    if unroll or backend not in ("tensorflow", "jax"):
        if steps is None:
            raise ValueError(
                "Cannot unroll a recurrent layer over an undefined number of "
                "timesteps; give the input a static time dimension. Received: "
                f"time dimension={steps}"
            )
        return _python_scan(step, carry, sequences, steps)
    if backend == "jax":
        import jax

        return jax.lax.scan(step, carry, sequences)
    return _tensorflow_scan(step, carry, sequences)


def _python_scan(step, carry, sequences, steps):
    outputs = []
    for time in range(steps):
        step_inputs = keras.tree.map_structure(lambda x, t=time: x[t], sequences)
        carry, step_outputs = step(carry, step_inputs)
        outputs.append(step_outputs)
    if not outputs or outputs[0] is None:
        return carry, None
    stacked = keras.tree.map_structure(lambda *xs: ops.stack(xs, axis=0), *outputs)
    return carry, stacked


def _tensorflow_scan(step, carry, sequences):
    import tensorflow as tf

    flat_sequences = [tf.convert_to_tensor(x) for x in keras.tree.flatten(sequences)]
    steps = tf.shape(flat_sequences[0])[0]
    input_arrays = [
        tf.TensorArray(x.dtype, size=steps, element_shape=x.shape[1:]).unstack(x)
        for x in flat_sequences
    ]

    def read(time):
        return keras.tree.pack_sequence_as(sequences, [array.read(time) for array in input_arrays])

    # The first step runs outside the loop: it fixes the structure, dtypes
    # and shapes of the outputs the TensorArrays must hold.
    carry, first_outputs = step(carry, read(0))
    if first_outputs is None:

        def body_no_outputs(time, loop_carry):
            new_carry, _ = step(loop_carry, read(time))
            return time + 1, new_carry

        _, carry = tf.while_loop(
            lambda time, _: time < steps,
            body_no_outputs,
            (tf.constant(1), carry),
            # XLA (jit_compile=True) needs a bound for the gradient's
            # accumulators of the loop.
            maximum_iterations=steps,
        )
        return carry, None

    flat_first = keras.tree.flatten(first_outputs)
    output_arrays = [
        tf.TensorArray(y.dtype, size=steps, element_shape=y.shape).write(0, y) for y in flat_first
    ]

    def body(time, loop_carry, arrays):
        new_carry, step_outputs = step(loop_carry, read(time))
        arrays = [
            array.write(time, y) for array, y in zip(arrays, keras.tree.flatten(step_outputs))
        ]
        return time + 1, new_carry, arrays

    _, carry, output_arrays = tf.while_loop(
        lambda time, *_: time < steps,
        body,
        (tf.constant(1), carry, output_arrays),
        maximum_iterations=steps,
    )
    static_steps = flat_sequences[0].shape[0]
    stacked = []
    for array in output_arrays:
        values = array.stack()
        values.set_shape(tf.TensorShape([static_steps]).concatenate(values.shape[1:]))
        stacked.append(values)
    return carry, keras.tree.pack_sequence_as(first_outputs, stacked)
