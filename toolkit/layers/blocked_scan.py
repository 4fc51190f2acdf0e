"""The associative scan of `scan.py` as a blocked scan on TensorFlow, with a hand-written backward.

`h_t = a_t * h_{t-1} + b_t` composes affine maps, an associative operation, so
any grouping of the steps gives the same states. The blocked grouping is the
one that suits a CPU (Blelloch, 1990, "Prefix sums and their applications",
section 1.4): cut the `T` steps into `K` blocks of `L ~ sqrt(T)` steps, then

1. run all blocks at once, step by step from a zero state, keeping only each
   block's last value; each block's product of coefficients is one reduction;
2. run the `K` block-level maps in order from `h_0`: the state entering
   every block;
3. run all blocks at once again, from their entering states, writing every
   state.

That is `2 L + K ~ 3 sqrt(T)` sequential steps, each an element-wise update
of `K` blocks' worth of rows, instead of `T` updates of one row (on a CPU a
single row is too little work to hide a loop iteration's cost) or the
`log2(T)` levels of full-length tensors, with their slicing, padding and
concatenation, of Keras' associative scan (which TensorFlow also cannot
XLA-compile: it branches with `tf.cond`). The states are computed by the
same multiplications and additions as the step loop, in the same order
within a block, so they are as accurate.

The backward pass is the same recurrence run backwards: with `g_t = dL/dh_t`
(the state's total gradient), `g_t = dh_t + a_{t+1} g_{t+1}`, and then
`dL/da_t = g_t h_{t-1}`, `dL/db_t = g_t`, `dL/dh_0 = a_1 g_1`. So
`blocked_parallel_sequence` stores the states, runs one reversed blocked scan
for `g`, and differentiates the cell's element-wise coefficient function
(`cell.parallel_coefficients`) with `g h_{t-1}` and `g` as its output
gradients. In training the forward and backward functions are each one
XLA-compiled `tf.function` (the coefficient math, masks and scan fused);
inference runs plain TensorFlow ops, so a SavedModel needs no XLA, over any
length.
"""

import weakref

import keras


def blocked_linear_scan(coefficients, values, initial, reverse=False):
    """All states of `h_t = a_t * h_{t-1} + b_t` by the blocked scan (TensorFlow ops).

    Args:
        coefficients: `a`, `(time, ...)`; the length may be unknown until the
            graph runs.
        values: `b`, shaped like `coefficients`.
        initial: `h_0`, shaped like one step.
        reverse: Run from the last step to the first: `h_t = a_t * h_{t+1} +
            b_t` with `h_{T+1} = initial`.

    Returns:
        The states, shaped like `coefficients`.

    Example:

    >>> import numpy as np
    >>> a = np.full((4, 1), 0.5, "float32")
    >>> b = np.ones((4, 1), "float32")
    >>> blocked_linear_scan(a, b, np.zeros((1,), "float32")).numpy()[:, 0].tolist()
    [1.0, 1.5, 1.75, 1.875]
    """
    import tensorflow as tf

    coefficients = tf.convert_to_tensor(coefficients)
    values = tf.convert_to_tensor(values, coefficients.dtype)
    initial = tf.convert_to_tensor(initial, coefficients.dtype)
    shape = tf.shape(coefficients)
    steps = shape[0]
    width = tf.reduce_prod(shape[1:])
    length = tf.cast(tf.math.ceil(tf.sqrt(tf.cast(steps, "float32"))), "int32")
    length = tf.maximum(length, 1)
    blocks = (steps + length - 1) // length
    padding = blocks * length - steps

    def blocked(x, fill):
        # (time, ...) -> (blocks, length, width): step j of every block is x[:, j].
        x = tf.pad(tf.reshape(x, [steps, width]), [[0, padding], [0, 0]], constant_values=fill)
        return tf.reshape(x, [blocks, length, width])

    a, b = blocked(coefficients, 1.0), blocked(values, 0.0)
    decay = tf.reduce_prod(a, axis=1)  # each block's coefficient, (blocks, width)

    # Backwards, the steps run from the last index to the first; the padding (a = 1,
    # b = 0, after the last step) then comes first and keeps the initial state.
    step = -1 if reverse else 1

    def loop(count, body, carry):
        def run(i, *carry):
            return (i + step, *body(i, *carry))

        return tf.while_loop(
            lambda i, *_: (i >= 0) if reverse else (i < count),
            run,
            (count - 1 if reverse else 0, *carry),
            parallel_iterations=1,
        )[1:]

    (ends,) = loop(length, lambda j, h: (a[:, j] * h + b[:, j],), (tf.zeros_like(decay),))

    def entering(k, h, array):
        return decay[k] * h + ends[k], array.write(k, h)

    array = tf.TensorArray(a.dtype, size=blocks)
    _, entries = loop(blocks, entering, (tf.reshape(initial, [width]), array))

    def states(j, h, array):
        h = a[:, j] * h + b[:, j]
        return h, array.write(j, h)

    _, written = loop(length, states, (entries.stack(), tf.TensorArray(a.dtype, size=length)))
    hidden = tf.reshape(tf.transpose(written.stack(), [1, 0, 2]), [blocks * length, width])
    return tf.reshape(hidden[:steps], shape)


def blocked_parallel_sequence(cell, projected, initial, mask=None, training=False, zoneout=None):
    """`scan.parallel_sequence` on TensorFlow: the blocked scan, compiled in training.

    Args:
        cell: A cell with `parallel_coefficients`.
        projected: `(time, batch, projection)`.
        initial: `h_0`, `(batch, units)`.
        mask: Boolean `(time, batch, 1)` or `None`.
        training: Boolean; in training both passes are XLA-compiled.
        zoneout: `None` or `[(time, batch, units)]` keep masks.

    Returns:
        `(outputs, final)`: `(time, batch, units)` outputs, zero at masked
        steps, and the final state `(batch, units)`.
    """
    import tensorflow as tf

    dtype = projected.dtype
    # Half precisions compute in float32 (the scan's sums run long).
    compute = tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype
    arguments = [tf.cast(projected, compute), tf.cast(initial, compute)]
    if mask is not None:
        arguments.append(mask)
    if zoneout is not None:
        arguments.append(tf.cast(zoneout[0], compute))
    forward, backward = _functions(cell, training, mask is not None, zoneout is not None)

    @tf.custom_gradient
    def run(projected, initial):
        # The tape must not record inside the compiled functions: the gradient is `grad`.
        rest = [tf.stop_gradient(x) for x in arguments[2:]]
        hidden = forward(tf.stop_gradient(projected), tf.stop_gradient(initial), *rest)
        outputs = hidden if mask is None else tf.where(mask, hidden, tf.zeros_like(hidden))

        def grad(d_outputs, d_final):
            d_outputs = tf.zeros_like(hidden) if d_outputs is None else d_outputs
            d_final = tf.zeros_like(initial) if d_final is None else d_final
            inputs = [projected, initial, hidden, d_outputs, d_final]
            return backward(*[tf.stop_gradient(x) for x in inputs], *rest)

        return (outputs, hidden[-1]), grad

    outputs, final = run(*arguments[:2])
    outputs = tf.ensure_shape(outputs, [*projected.shape[:2], initial.shape[-1]])
    return tf.cast(outputs, dtype), tf.cast(tf.ensure_shape(final, initial.shape), dtype)


# cell -> {(training, has_mask, has_zoneout): (forward, backward)}; a cell's functions
# are traced once, not at every call.
_FUNCTIONS = weakref.WeakKeyDictionary()


def _functions(cell, training, has_mask, has_zoneout):
    import tensorflow as tf

    key = (bool(training), has_mask, has_zoneout)
    cached = _FUNCTIONS.setdefault(cell, {})
    if key in cached:
        return cached[key]

    def coefficients(projected, rest):
        mask = rest[0] if has_mask else None
        zoneout = [rest[-1]] if has_zoneout else None
        a, b = cell.parallel_coefficients(projected, zoneout_masks=zoneout, training=training)
        if mask is not None:
            a = tf.where(mask, a, tf.ones_like(a))
            b = tf.where(mask, b, tf.zeros_like(b))
        return a, b

    def forward(projected, initial, *rest):
        a, b = coefficients(projected, rest)
        return blocked_linear_scan(a, b, initial)

    def backward(projected, initial, hidden, d_outputs, d_final, *rest):
        with tf.GradientTape() as tape:
            tape.watch(projected)
            a, b = coefficients(projected, rest)
        d_hidden = d_outputs if not has_mask else tf.where(rest[0], d_outputs, 0.0)
        d_hidden = tf.concat([d_hidden[:-1], d_hidden[-1:] + d_final[None]], 0)
        # g_t = dh_t + a_{t+1} g_{t+1}: the scan backwards, coefficients one step ahead.
        ahead = tf.concat([a[1:], tf.zeros_like(a[:1])], 0)
        total = blocked_linear_scan(ahead, d_hidden, tf.zeros_like(initial), reverse=True)
        before = tf.concat([initial[None], hidden[:-1]], 0)
        d_projected = tape.gradient((a, b), projected, output_gradients=(total * before, total))
        return d_projected, a[0] * total[0]

    jit = bool(training)
    functions = tuple(
        tf.function(f, jit_compile=jit, reduce_retracing=True, autograph=False)
        for f in (forward, backward)
    )
    cached[key] = functions
    return functions


def supported():
    """Whether the blocked scan can run: the TensorFlow backend."""
    return keras.backend.backend() == "tensorflow"
