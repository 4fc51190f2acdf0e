"""Independent NumPy references for the sLSTM and MGU cells, and test helpers.

As in `references.py`: plain Python loops over time in float64, written from
the papers' equations (see the docstrings). Weights are read by name
(`kernel`, `recurrent_kernel`, `bias`) from a built toolkit cell or from a
dict of arrays (finite differences perturb the dict); options come from the
caller, nothing else of the toolkit is used.

Every reference takes `x` of shape `(batch, time, features)` and returns
`(outputs, states)`, or `(outputs, states, trace)` with `return_trace=True`,
where `trace` maps each gate name to a `(batch, time, units)` array. There are
no masks here: a test that needs one runs the valid steps alone.
"""

import keras
import numpy as np

ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
    # Keras 3: hard_sigmoid(x) = relu6(x + 3) / 6.
    "hard_sigmoid": lambda z: np.clip((z + 3.0) / 6.0, 0.0, 1.0),
    "linear": lambda z: z,
}


def weight(cell, name):
    """`cell.<name>` (or `cell[name]` for a dict) as float64, or `None`."""
    value = cell.get(name) if isinstance(cell, dict) else getattr(cell, name, None)
    if value is None:
        return None
    return np.asarray(keras.ops.convert_to_numpy(value), dtype="float64")


def weights_of(cell):
    """The cell's weights as a dict of float64 arrays, by name."""
    weights = {name: weight(cell, name) for name in ("kernel", "recurrent_kernel", "bias")}
    return {name: value for name, value in weights.items() if value is not None}


def _initial(x, initial_state, count, units):
    if initial_state is None:
        return [np.zeros((x.shape[0], units)) for _ in range(count)]
    return [np.asarray(s, dtype="float64").copy() for s in initial_state]


def _log_sigmoid(z):
    # log(1 / (1 + e^-z)) without overflow for large |z|.
    return -np.logaddexp(0.0, -z)


def _finish(outputs, states, trace, return_trace):
    outputs = np.stack(outputs, axis=1)
    if not return_trace:
        return outputs, states
    return outputs, states, {name: np.stack(values, axis=1) for name, values in trace.items()}


# === sLSTM (Beck et al., 2024, "xLSTM", Section 2.2) ===


def block_diagonal_recurrent_kernel(recurrent_kernel, num_heads):
    """The dense `(units, 4 * units)` matrix `R` of the per-head blocks.

    Head `k`'s block `(head_size, 4 * head_size)` has gate-major columns
    `[i, f, z, o]`; in the dense matrix gate `g` of unit `k * head_size + j`
    is column `g * units + k * head_size + j`, rows of other heads are zero.
    """
    heads, head_size, width = recurrent_kernel.shape
    assert heads == num_heads and width == 4 * head_size, recurrent_kernel.shape
    units = heads * head_size
    dense = np.zeros((units, 4 * units))
    for head in range(heads):
        rows = slice(head * head_size, (head + 1) * head_size)
        for gate in range(4):
            block = recurrent_kernel[head][:, gate * head_size : (gate + 1) * head_size]
            start = gate * units + head * head_size
            dense[rows, start : start + head_size] = block
    return dense


def _slstm_preactivations(cell, num_heads, use_bias):
    W = weight(cell, "kernel")
    R = block_diagonal_recurrent_kernel(weight(cell, "recurrent_kernel"), num_heads)
    units = R.shape[0]
    b = weight(cell, "bias") if use_bias else np.zeros(4 * units)
    return W, R, b, units


def slstm(
    x,
    cell,
    initial_state=None,
    num_heads=1,
    forget_gate="sigmoid",
    activation="tanh",
    recurrent_activation="sigmoid",
    use_bias=True,
    zoneout=0.0,
    return_trace=False,
    **_,
):
    """Stabilized sLSTM, gate order [i, f, z, o] in the kernels.

    [i~, f~, z~, o~] = x W + h R + b (R block-diagonal over the heads)
    z = phi(z~), o = sigma(o~), log i = i~,
    log f = log sigmoid(f~) (sigmoid forget gate) or f~ (exponential)
    m = max(log f + m', log i), i' = exp(log i - m), f' = exp(log f + m' - m)
    c = f' c' + i' z, n = f' n' + i', h = o c / n
    Empty memory (n' = 0, the zero initial state, as in the official code):
    m = log i and f' = 0.
    Zoneout at inference, on h only: h = rate * h' + (1 - rate) * h.
    """
    x = np.asarray(x, dtype="float64")
    phi, sigma = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    W, R, b, units = _slstm_preactivations(cell, num_heads, use_bias)
    h, c, n, m = _initial(x, initial_state, 4, units)
    outputs, trace = [], {}
    for t in range(x.shape[1]):
        pre = x[:, t] @ W + h @ R + b
        i_pre, f_pre, z_pre, o_pre = (pre[:, k * units : (k + 1) * units] for k in range(4))
        z, o = phi(z_pre), sigma(o_pre)
        log_i = i_pre
        log_f = _log_sigmoid(f_pre) if forget_gate == "sigmoid" else f_pre
        empty = n == 0.0
        new_m = np.where(empty, log_i, np.maximum(log_f + m, log_i))
        i_stab = np.exp(log_i - new_m)
        with np.errstate(over="ignore"):  # the empty rows' exponent is discarded
            f_stab = np.where(empty, 0.0, np.exp(log_f + m - new_m))
        c = f_stab * c + i_stab * z
        n = f_stab * n + i_stab
        m = new_m
        h = zoneout * h + (1.0 - zoneout) * (o * c / n)
        outputs.append(h)
        step = {
            "input_gate": i_stab,
            "forget_gate": f_stab,
            "output_gate": o,
            "candidate": z,
            "cell_state": c,
            "normalizer_state": n,
            "stabilizer_state": m,
            "hidden_state": h,
        }
        for name, value in step.items():
            trace.setdefault(name, []).append(value)
    return _finish(outputs, [h, c, n, m], trace, return_trace)


def slstm_unstabilized(
    x,
    cell,
    num_heads=1,
    forget_gate="sigmoid",
    activation="tanh",
    recurrent_activation="sigmoid",
    use_bias=True,
    **_,
):
    """The sLSTM without its stabilizer, from zero states: outputs only.

    i = exp(i~), f = sigmoid(f~) or exp(f~), c = f c' + i z, n = f n' + i,
    h = o c / n. Equal to the stabilized outputs in exact arithmetic; in
    float64 it holds for pre-activations up to about 700, where float32's exp
    has long overflowed (above about 88).
    """
    x = np.asarray(x, dtype="float64")
    phi, sigma = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    W, R, b, units = _slstm_preactivations(cell, num_heads, use_bias)
    h, c, n = _initial(x, None, 3, units)
    outputs = []
    for t in range(x.shape[1]):
        pre = x[:, t] @ W + h @ R + b
        i_pre, f_pre, z_pre, o_pre = (pre[:, k * units : (k + 1) * units] for k in range(4))
        i = np.exp(i_pre)
        f = ACTIVATIONS["sigmoid"](f_pre) if forget_gate == "sigmoid" else np.exp(f_pre)
        c = f * c + i * phi(z_pre)
        n = f * n + i
        h = sigma(o_pre) * c / n
        outputs.append(h)
    return np.stack(outputs, axis=1)


# === MGU (Zhou et al., 2016, "Minimal Gated Unit for Recurrent Neural Networks") ===


def mgu(
    x,
    cell,
    initial_state=None,
    activation="tanh",
    recurrent_activation="sigmoid",
    use_bias=True,
    zoneout=0.0,
    return_trace=False,
    **_,
):
    """Gate order [f, h] in the kernels.

    f = sigma(x W_f + h' U_f + b_f)
    htilde = phi(x W_h + (f * h') U_h + b_h)
    h = (1 - f) * h' + f * htilde
    Zoneout at inference: h = rate * h' + (1 - rate) * h.
    """
    x = np.asarray(x, dtype="float64")
    phi, sigma = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    W, U = weight(cell, "kernel"), weight(cell, "recurrent_kernel")
    units = U.shape[0]
    W_f, W_h, U_f, U_h = W[:, :units], W[:, units:], U[:, :units], U[:, units:]
    b = weight(cell, "bias") if use_bias else np.zeros(2 * units)
    b_f, b_h = b[:units], b[units:]
    (h,) = _initial(x, initial_state, 1, units)
    outputs, trace = [], {}
    for t in range(x.shape[1]):
        xt = x[:, t]
        f = sigma(xt @ W_f + h @ U_f + b_f)
        htilde = phi(xt @ W_h + (f * h) @ U_h + b_h)
        h = zoneout * h + (1.0 - zoneout) * ((1.0 - f) * h + f * htilde)
        outputs.append(h)
        for name, value in (("forget_gate", f), ("candidate", htilde), ("hidden_state", h)):
            trace.setdefault(name, []).append(value)
    return _finish(outputs, [h], trace, return_trace)


# === Helpers shared by the tests ===


def perturb_weights(layer, seed=0, scale=0.5):
    """Gives every weight of `layer` a random value around zero."""
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        variable.assign(rng.normal(scale=scale, size=tuple(variable.shape)).astype(variable.dtype))


def finite_difference_gradients(loss, weights, epsilon=1e-6):
    """Central differences of `loss(weights) -> float` for every entry of every weight."""
    gradients = {}
    for name, value in weights.items():
        gradient = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = {key: array.copy() for key, array in weights.items()}
            shifted[name][index] = value[index] + epsilon
            plus = loss(shifted)
            shifted[name][index] = value[index] - epsilon
            minus = loss(shifted)
            gradient[index] = (plus - minus) / (2.0 * epsilon)
        gradients[name] = gradient
    return gradients


def autodiff_gradients(layer, loss_of_outputs, x, **call_kwargs):
    """Gradients of `loss_of_outputs(layer(x, **call_kwargs))` for the trainable weights.

    Returned as a dict by weight name (`kernel`, ...), as NumPy arrays.
    """
    names = [variable.path.split("/")[-1] for variable in layer.trainable_variables]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_of_outputs(layer(x, **call_kwargs))
        gradients = tape.gradient(loss, layer.trainable_variables)
    elif backend == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss_fn(values):
            outputs, _ = layer.stateless_call(values, non_trainable, x, **call_kwargs)
            return loss_of_outputs(outputs)

        gradients = jax.grad(loss_fn)(trainable)
    elif backend == "torch":
        import torch

        loss = loss_of_outputs(layer(x, **call_kwargs))
        gradients = torch.autograd.grad(loss, [v.value for v in layer.trainable_variables])
    else:
        raise NotImplementedError(f"no gradient helper for backend {backend!r}")
    return {
        name: np.asarray(keras.ops.convert_to_numpy(g), dtype="float64")
        for name, g in zip(names, gradients)
    }


def check_masked_rows(outputs, states, mask, reference, initial_state=None, atol=1e-5):
    """A padded batch gives each row the reference run on its valid steps alone.

    `outputs` `(batch, time, units)` (in input time order) and the final
    `states` come from one call of a layer on a batch padded as `mask` says;
    `reference(row, row_initial_state) -> (outputs, states)` runs the NumPy
    reference on that row's valid steps alone. Checks that outputs are exactly
    zero at masked steps, that a row with no valid step keeps its initial
    states exactly, and that every other row's valid outputs and final states
    are the reference's.
    """
    outputs = np.asarray(keras.ops.convert_to_numpy(outputs))
    states = [np.asarray(keras.ops.convert_to_numpy(s)) for s in states]
    np.testing.assert_array_equal(outputs[~mask], 0.0)
    for row in range(mask.shape[0]):
        row_state = None if initial_state is None else [s[row : row + 1] for s in initial_state]
        if not mask[row].any():
            kept = row_state or [np.zeros((1, s.shape[-1])) for s in states]
            for state, expected in zip(states, kept):
                np.testing.assert_array_equal(state[row : row + 1], expected)
            continue
        expected_outputs, expected_states = reference(row, row_state)
        np.testing.assert_allclose(
            outputs[row, mask[row]], expected_outputs[0], atol=atol, rtol=atol
        )
        for state, expected in zip(states, expected_states):
            np.testing.assert_allclose(state[row : row + 1], expected, atol=atol, rtol=atol)


# One row per padding pattern: right, left, holes, none, fully masked, a
# single valid step at the end.
MASK = np.array(
    [
        [1, 1, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 1],
        [1, 0, 1, 1, 0, 1],
        [1, 1, 1, 1, 1, 1],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 1],
    ],
    dtype=bool,
)
