"""Linear recurrences run over a whole sequence at once: `h_t = a_t * h_{t-1} + b_t`.

A cell whose recurrence is linear in its (single) state - `MinGRUCell`,
`MinLSTMCell` (Feng et al., 2024) - exposes it as
`cell.parallel_coefficients(projected, zoneout_masks, training) -> (a, b)`,
time-major `(time, batch, units)` tensors computed from the inputs alone, and
names its method in `cell.scan`. `Recurrent` then runs `parallel_sequence`
instead of a step loop: `log2(time)` levels of element-wise work instead of
`time` sequential steps, the same results.

Two implementations of the scan (the cell's `scan` argument):

* `associative_linear_scan` (`"associative"`, the default): an associative
  scan with the affine combine `(a1, b1), (a2, b2) -> (a1 * a2, a2 * b1 +
  b2)`, the composition of `h -> a1 h + b1` then `h -> a2 h + b2`. Any signs;
  only products and sums of the step values, no division, no logarithm.
  On TensorFlow, `parallel_sequence` runs it as the blocked scan of
  `toolkit/layers/blocked_scan.py` (sequential within `sqrt(T)` blocks, all
  blocks at once; XLA-compiled with a hand-written backward in training).
  On JAX's CPU backend it runs as one sequential `jax.lax.scan`, which
  XLA:CPU makes the fastest there (`associative_linear_scan` has the
  numbers). Elsewhere (JAX on accelerators; `linear_scan` on TensorFlow),
  `keras.ops.associative_scan` runs it whenever the length is static; a
  TensorFlow graph over sequences of any length (a SavedModel, a
  `tf.function` with a `None` time axis) runs the same combine as Hillis &
  Steele's doubling in one `while_loop` (`_prefix_scan` says why).
* `log_space_linear_scan` (`"log_space"`; Heinsen, 2023, "Efficient
  Parallelization of a Ubiquitous Sequential Computation", the recipe of the
  paper's appendix): with `A_t = a_1 ... a_t`,
  `h_t = A_t h_0 + A_t sum_{s<=t} b_s / A_s`, computed as
  `log A = cumsum(log a)` and the sum as `exp(log A + logcumsumexp(log b -
  log A))` (`keras.ops` has no `logcumsumexp`: it is an associative scan of
  `logaddexp`). Needs `a > 0` and `b >= 0` (the initial-state term stays
  outside the logarithms, so `h_0` may have any sign).

Why the associative scan is the default: it is as accurate as the float32
step loop at every length, and the log-space scan is not. Measured against
the float64 NumPy loop (`benchmarks/scan_error.py`, numbers in
`docs/parallel_scan.md`): at 4096 steps the associative scan's largest output
error is 3e-7 to 6e-7 on TensorFlow and JAX, the step loop's 3e-7 to 9e-7;
the log-space scan's grows linearly with length, to 4e-4 to 8e-4 with gates
near one half (outputs of size 2 to 3), beyond the toolkit's 1e-5 bar from a
few hundred steps on. The cause: `log A_t` falls by about `0.7` per step
there, and float32 keeps `log b - log A_t` only to `|log A_t| * 6e-8` before
the `exp` turns that absolute error into a relative one. The associative
form adds nothing of the kind: each output is a `log2(time)`-deep tree of
products and sums of values in `[0, 1]` and `O(1)`.

Masks follow `Recurrent`'s step loop: a masked step has `a = 1, b = 0` (the
state is kept) and outputs zero; a row with no valid step keeps its initial
state exactly. Under mixed precision the scan runs in float32 and the results
are cast back to the compute dtype.
"""

import keras
import numpy as np
from keras import ops

from toolkit.cells.minimal import SCAN_METHODS
from toolkit.layers import blocked_scan
from toolkit.layers.time_loop import jax_on_cpu


def parallel_unsupported_reason(cell, return_gates=False, unroll=False):
    """Why `parallel_sequence` cannot run this call (a short string), or `None` if it can."""
    if not hasattr(cell, "parallel_coefficients"):
        return f"cell {type(cell).__name__} has no parallel form"
    if return_gates:
        return "gate tracing"
    if unroll:
        return "unroll=True"
    return None


def parallel_sequence(cell, projected, states, mask=None, training=False, zoneout_masks=None):
    """Runs a cell with a linear recurrence over a time-major sequence in parallel.

    Args:
        cell: A cell with `parallel_coefficients` and a single state.
        projected: `(time, batch, projection)`, `cell.project_inputs` of the
            inputs.
        states: `[h_0]`, the initial state `(batch, units)`.
        mask: Boolean `(time, batch, 1)` or `None`.
        training: Boolean, training mode (zoneout).
        zoneout_masks: `None` or `[(time, batch, units)]` keep masks.

    Returns:
        `(outputs, [h_T])`: the outputs `(time, batch, units)` (zero at masked
        steps) and the final state.
    """
    if cell.scan == "associative" and blocked_scan.supported():
        outputs, final = blocked_scan.blocked_parallel_sequence(
            cell, projected, states[0], mask, training, zoneout_masks
        )
        return outputs, [final]
    coefficients, values = cell.parallel_coefficients(
        projected, zoneout_masks=zoneout_masks, training=training
    )
    if mask is not None:
        coefficients = ops.where(mask, coefficients, ops.ones_like(coefficients))
        values = ops.where(mask, values, ops.zeros_like(values))
    (initial,) = states
    hidden = linear_scan(coefficients, values, initial, method=cell.scan)
    final = hidden[-1]
    if mask is not None:
        hidden = ops.where(mask, hidden, ops.zeros_like(hidden))
        # Exactly the initial state where nothing was valid (the log-space
        # scan would add underflow-sized terms to it).
        final = ops.where(ops.any(mask, axis=0), final, initial)
    return hidden, [final]


def linear_scan(coefficients, values, initial, method="associative"):
    """All states of `h_t = a_t * h_{t-1} + b_t`, `t = 1..T`, over the leading axis.

    Args:
        coefficients: `a`, `(time, ...)`.
        values: `b`, `(time, ...)`, the shape of `coefficients`.
        initial: `h_0`, shaped like one step, `(...)`.
        method: `"associative"` (default, any signs) or `"log_space"`
            (needs `a > 0`, `b >= 0`).

    Returns:
        `(time, ...)`: `h_1 ... h_T`, in the inputs' dtype (computed in at
        least float32).

    Example:

    >>> import numpy as np
    >>> a = np.full((4, 1), 0.5, "float32")
    >>> b = np.ones((4, 1), "float32")
    >>> np.asarray(linear_scan(a, b, np.zeros((1,), "float32")))[:, 0].tolist()
    [1.0, 1.5, 1.75, 1.875]
    """
    if method not in SCAN_METHODS:
        raise ValueError(
            f"Argument `method` expected one of {list(SCAN_METHODS)}. Received: method={method!r}"
        )
    coefficients = ops.convert_to_tensor(coefficients)
    dtype = keras.backend.standardize_dtype(coefficients.dtype)
    compute_dtype = "float32" if dtype in ("float16", "bfloat16") else dtype
    coefficients, values, initial = (
        ops.cast(x, compute_dtype) for x in (coefficients, values, initial)
    )
    scan = associative_linear_scan if method == "associative" else log_space_linear_scan
    return ops.cast(scan(coefficients, values, initial), dtype)


def associative_linear_scan(coefficients, values, initial):
    """`linear_scan` as an associative scan of the affine combine.

    On JAX's CPU backend the same recurrence runs as one sequential `jax.lax.scan`
    instead: XLA:CPU runs a step of it in about a microsecond, and at (2048 steps,
    batch 16, 128 units) it took 2.6 ms forward and 17 ms with its gradients, against
    24 and 43 ms for `jax.lax.associative_scan` (whose `log2(T)` levels each pass over
    the whole sequence) and 17 and 59 ms for a blocked scan written with `lax.scan`
    (2026-11-25, one run of a throwaway script). Accelerators keep the associative
    form.
    """
    if jax_on_cpu():
        return _sequential_linear_scan(coefficients, values, initial)
    # Fold h_0 into the first step: h_1 = a_1 h_0 + b_1 is then the first value.
    first = coefficients[:1] * ops.expand_dims(initial, 0) + values[:1]
    values = ops.concatenate([first, values[1:]], axis=0)

    def compose(earlier, later):
        # h -> a1 h + b1, then h -> a2 h + b2.
        earlier_a, earlier_b = earlier
        later_a, later_b = later
        return earlier_a * later_a, later_a * earlier_b + later_b

    _, hidden = _prefix_scan(compose, (coefficients, values), identities=(1.0, 0.0))
    return hidden


def _sequential_linear_scan(coefficients, values, initial):
    import jax

    def step(state, coefficient_and_value):
        coefficient, value = coefficient_and_value
        state = coefficient * state + value
        return state, state

    _, hidden = jax.lax.scan(step, initial, (coefficients, values))
    return hidden


def log_space_linear_scan(coefficients, values, initial):
    """`linear_scan` in log space (Heinsen, 2023); `a > 0`, `b >= 0`, any `h_0`."""
    log_decay = ops.cumsum(_floored_log(coefficients), axis=0)  # log A_t
    (log_sums,) = _prefix_scan(
        lambda earlier, later: (ops.logaddexp(earlier[0], later[0]),),
        (_floored_log(values) - log_decay,),
        identities=(_LOG_ZERO,),
    )  # logcumsumexp
    return ops.exp(log_decay) * ops.expand_dims(initial, 0) + ops.exp(log_decay + log_sums)


# The identity of `logaddexp` in the doubling scan: finite, so gradients stay finite.
_LOG_ZERO = -1e30


def _prefix_scan(combine, elements, identities):
    """Inclusive scan over axis 0 of an associative `combine` of tuples of tensors.

    With a static length (always on JAX): `keras.ops.associative_scan`. With a
    length known only when the graph runs (TensorFlow functions and
    SavedModels over any length), Keras' TensorFlow scan nests a conditional
    per possible level (48) and took half a minute to trace; there the scan is
    Hillis & Steele's doubling instead: `ceil(log2(time))` rounds of one
    `combine` each, in one `while_loop`, each step combined with the one
    `shift` steps before it (or with `identities` before the start).
    """
    steps = elements[0].shape[0]
    if steps is not None:
        result = ops.associative_scan(combine, elements, axis=0)
        # TensorFlow's scan (tf.cond inside) loses the static shape; restore it.
        return tuple(ops.reshape(x, ops.shape(e)) for x, e in zip(result, elements))
    steps = ops.shape(elements[0])[0]

    def shifted(value, shift, identity):
        before = ops.full_like(value[:shift], identity)
        return ops.concatenate([before, value[: steps - shift]], axis=0)

    def body(shift, *values):
        earlier = tuple(shifted(v, shift, i) for v, i in zip(values, identities))
        return (shift * 2, *combine(earlier, values))

    _, *result = ops.while_loop(
        lambda shift, *_: shift < steps,
        body,
        (ops.convert_to_tensor(1, "int32"), *elements),
        maximum_iterations=64,
    )
    return tuple(result)


def _floored_log(x):
    """`log(max(x, tiny))`: zeros (masked steps, saturated gates) stay finite.

    A zero `b` becomes the smallest normal float, whose contribution
    `tiny * A_t / A_s <= tiny` is below float resolution; `-inf` instead
    would make NaN gradients through `logaddexp`.
    """
    tiny = float(np.finfo(keras.backend.standardize_dtype(x.dtype)).tiny)
    return ops.log(ops.maximum(x, tiny))
