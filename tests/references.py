"""Independent NumPy references for the toolkit's recurrent cells.

Each function runs a plain Python loop over time, written from the papers'
equations (see the docstrings), in float64. Weights are read by name from a
built toolkit cell (`cell.kernel`, `cell.forget_peephole`, ...) and nothing
else of the toolkit is used: options come from the caller (the same keyword
arguments the test gave to the toolkit layer), so a cell that misreads an
option disagrees with its reference.

Every function takes `x` of shape `(batch, time, features)` and returns
`(outputs, states)`: `outputs` of shape `(batch, time, output_size)` in input
time order, `states` the list of final states (`[h]`, or `[h, c]` for LSTM).
There are no masks here: a test that needs one runs the valid steps alone.
"""

import keras
import numpy as np

# === Activations (Keras 3 definitions) ===

ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
    # Keras 3: hard_sigmoid(x) = relu6(x + 3) / 6.
    "hard_sigmoid": lambda z: np.clip((z + 3.0) / 6.0, 0.0, 1.0),
    "linear": lambda z: z,
    None: lambda z: z,
}

LAYER_NORM_EPSILON = 1e-5


def activation(name):
    return ACTIVATIONS[name]


def weight(cell, name):
    """`cell.<name>` as a float64 array, or `None` if the cell has none."""
    value = getattr(cell, name, None)
    if value is None:
        return None
    return keras.ops.convert_to_numpy(value).astype("float64")


def _initial(x, initial_state, sizes):
    batch = x.shape[0]
    if initial_state is None:
        return [np.zeros((batch, size)) for size in sizes]
    return [np.asarray(s, dtype="float64").copy() for s in initial_state]


def _layer_norm(v, scale, offset=None, epsilon=LAYER_NORM_EPSILON):
    """Ba et al. (2016): statistics over the last axis."""
    mean = v.mean(axis=-1, keepdims=True)
    var = ((v - mean) ** 2).mean(axis=-1, keepdims=True)
    out = (v - mean) / np.sqrt(var + epsilon) * scale
    if offset is not None:
        out = out + offset
    return out


# === SimpleRNN (Elman, 1990) ===


def simple_rnn(x, cell, initial_state=None, activation="tanh", use_bias=True, zoneout=0.0, **_):
    """h_t = phi(x_t W + h_{t-1} U + b).

    Zoneout at inference: h_t = rate * h_{t-1} + (1 - rate) * h_t.
    """
    x = np.asarray(x, dtype="float64")
    phi = ACTIVATIONS[activation]
    W, U = weight(cell, "kernel"), weight(cell, "recurrent_kernel")
    b = weight(cell, "bias") if use_bias else 0.0
    (h,) = _initial(x, initial_state, [U.shape[0]])
    outputs = []
    for t in range(x.shape[1]):
        new_h = phi(x[:, t] @ W + h @ U + b)
        h = zoneout * h + (1.0 - zoneout) * new_h
        outputs.append(h)
    return np.stack(outputs, axis=1), [h]


# === GRU (Cho et al., 2014; reset_after as in cuDNN) ===


def gru(
    x,
    cell,
    initial_state=None,
    activation="tanh",
    recurrent_activation="sigmoid",
    use_bias=True,
    reset_after=True,
    zoneout=0.0,
    **_,
):
    """Gate order [z, r, h] in the kernels.

    z = sigma(x W_z + h U_z + b_z), r = sigma(x W_r + h U_r + b_r)
    reset_after=False: n = phi(x W_h + (r * h) U_h + b_h)
    reset_after=True:  n = phi(x W_h + b_h + r * (h U_h + b'_h)),
                       with bias rows [input biases, recurrent biases]
    h_t = z * h_{t-1} + (1 - z) * n
    Zoneout at inference: h_t = rate * h_{t-1} + (1 - rate) * h_t.
    """
    x = np.asarray(x, dtype="float64")
    phi, sigma = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    W, U = weight(cell, "kernel"), weight(cell, "recurrent_kernel")
    units = U.shape[0]
    Wz, Wr, Wh = W[:, :units], W[:, units : 2 * units], W[:, 2 * units :]
    Uz, Ur, Uh = U[:, :units], U[:, units : 2 * units], U[:, 2 * units :]
    if use_bias:
        bias = weight(cell, "bias")
        if reset_after:
            b_in, b_rec = bias[0], bias[1]
        else:
            b_in, b_rec = bias, np.zeros(3 * units)
    else:
        b_in = b_rec = np.zeros(3 * units)
    (h,) = _initial(x, initial_state, [units])
    outputs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        z = sigma(xt @ Wz + b_in[:units] + h @ Uz + b_rec[:units])
        r = sigma(xt @ Wr + b_in[units : 2 * units] + h @ Ur + b_rec[units : 2 * units])
        if reset_after:
            n = phi(xt @ Wh + b_in[2 * units :] + r * (h @ Uh + b_rec[2 * units :]))
        else:
            n = phi(xt @ Wh + (r * h) @ Uh + b_in[2 * units :])
        new_h = z * h + (1.0 - z) * n
        h = zoneout * h + (1.0 - zoneout) * new_h
        outputs.append(h)
    return np.stack(outputs, axis=1), [h]


# === LSTM and its variants ===


def lstm(
    x,
    cell,
    initial_state=None,
    activation="tanh",
    recurrent_activation="sigmoid",
    use_bias=True,
    peephole=False,
    coupled_input_forget=False,
    input_gate=True,
    forget_gate=True,
    output_gate=True,
    input_squashing=True,
    output_squashing=True,
    full_gate_recurrence=False,
    layer_norm=False,
    projection=None,
    cell_clip=None,
    projection_clip=None,
    zoneout=0.0,
    cell_zoneout=0.0,
    layer_norm_epsilon=LAYER_NORM_EPSILON,
    return_gates=False,
    **_,
):
    """LSTM with forget gate (Gers et al., 2000) and options.

    Plain: [z_i, z_f, z_g, z_o] = x W + h U + b, i = sigma(z_i), f = sigma(z_f),
        g = phi(z_g), c = f * c' + i * g, o = sigma(z_o), h = o * phi(c).
    peephole (Gers & Schmidhuber, 2000): z_i += p_i * c', z_f += p_f * c',
        z_o += p_o * c (the new cell state).
    coupled_input_forget (CIFG, Greff et al., 2017): gate order [f, g, o],
        i = 1 - f, no input peephole.
    layer_norm (Ba et al., 2016): z = LN(x W; s_x) + LN(h U; s_h) + b over the
        whole gate vector; h = o * phi(LN(c; s_c, b_c)); the carried c is the
        unnormalized one.
    cell_clip: c clipped to [-v, v] (before the output peephole and output).
    projection (LSTMP, Sak et al., 2014): h = (o * phi(c)) P, optionally
        clipped to [-projection_clip, projection_clip]; h is the recurrent
        state and the output.
    zoneout (Krueger et al., 2016), inference: h = rate_h * h' + (1 - rate_h)
        * h_new and c = rate_c * c' + (1 - rate_c) * c_new; the step's own
        output uses the new (not zoned-out) c.

    Ablations of Greff et al. (2017), "LSTM: A Search Space Odyssey", Sec. III
    (y is our h, z the block input g, bars the pre-activations):
    input_gate=False (NIG): i = 1; forget_gate=False (NFG): f = 1;
        output_gate=False (NOG): o = 1. A removed gate has no block in W, U,
        b (the others keep the order [i, f, g, o]) and no peephole.
    input_squashing=False (NIAF): g = z_g. output_squashing=False (NOAF):
        h = o * c (o * LN(c; s_c, b_c) with layer_norm).
    full_gate_recurrence (FGR): for each gate a in (i, f, o),
        z_a += i' R_ia + f' R_fa + o' R_oa with the previous step's gates
        (zero at the start); the nine R_ba are the (b, a) blocks of
        `gate_recurrent_kernel`, rows and columns in [i, f, o] order, over
        the gates that have weights (CIFG's i = 1 - f and removed gates take
        no part). The previous gates are a third state [i', f', o'].

    With `return_gates=True` also returns a dict of `(batch, time, units)`
    arrays: input_gate, forget_gate, output_gate (ones for a removed gate),
    candidate (g as used), cell_state and hidden_state (after zoneout).
    """
    x = np.asarray(x, dtype="float64")
    phi, sigma = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    identity = ACTIVATIONS["linear"]
    phi_g = phi if input_squashing else identity
    phi_h = phi if output_squashing else identity
    has_i = input_gate and not coupled_input_forget
    blocks = [
        name
        for name, present in (("i", has_i), ("f", forget_gate), ("g", True), ("o", output_gate))
        if present
    ]
    sigmoid_blocks = [name for name in ("i", "f", "o") if name in blocks]
    W, U = weight(cell, "kernel"), weight(cell, "recurrent_kernel")
    gates = len(blocks)
    units = W.shape[1] // gates
    b = weight(cell, "bias") if use_bias else np.zeros(gates * units)
    p = {}
    if peephole:
        names = {"i": "input_peephole", "f": "forget_peephole", "o": "output_peephole"}
        p = {name: weight(cell, names[name]) for name in sigmoid_blocks}
    if layer_norm:
        s_x, s_h = weight(cell, "input_norm_scale"), weight(cell, "recurrent_norm_scale")
        s_c, b_c = weight(cell, "cell_norm_scale"), weight(cell, "cell_norm_offset")
    P = weight(cell, "projection_kernel") if projection else None
    out_size = projection or units
    sizes = [out_size, units]
    if full_gate_recurrence:
        R = weight(cell, "gate_recurrent_kernel")
        sizes.append(len(sigmoid_blocks) * units)
    initial = _initial(x, initial_state, sizes)
    h, c = initial[0], initial[1]
    if full_gate_recurrence:
        flat = initial[2]
        previous = {n: flat[:, k * units : (k + 1) * units] for k, n in enumerate(sigmoid_blocks)}
    outputs = []
    trace = {name: [] for name in ("i", "f", "o", "g", "c", "h")}
    for t in range(x.shape[1]):
        xw, hu = x[:, t] @ W, h @ U
        if layer_norm:
            eps = layer_norm_epsilon
            z = _layer_norm(xw, s_x, epsilon=eps) + _layer_norm(hu, s_h, epsilon=eps) + b
        else:
            z = xw + hu + b
        z = {name: z[:, k * units : (k + 1) * units] for k, name in enumerate(blocks)}
        if full_gate_recurrence:
            for k_a, a in enumerate(sigmoid_blocks):
                for k_b, gate_b in enumerate(sigmoid_blocks):
                    R_ba = R[k_b * units : (k_b + 1) * units, k_a * units : (k_a + 1) * units]
                    z[a] = z[a] + previous[gate_b] @ R_ba
        if peephole:
            for name in ("i", "f"):
                if name in z:
                    z[name] = z[name] + p[name] * c
        ones = np.ones_like(c)
        f = sigma(z["f"]) if forget_gate else ones
        if coupled_input_forget:
            i = 1.0 - f
        else:
            i = sigma(z["i"]) if input_gate else ones
        g = phi_g(z["g"])
        new_c = f * c + i * g
        if cell_clip is not None:
            new_c = np.clip(new_c, -cell_clip, cell_clip)
        if output_gate:
            z_o = z["o"] + p["o"] * new_c if peephole else z["o"]
            o = sigma(z_o)
        else:
            o = ones
        shown_c = new_c
        if layer_norm:
            shown_c = _layer_norm(new_c, s_c, b_c, epsilon=layer_norm_epsilon)
        new_h = o * phi_h(shown_c)
        if projection:
            new_h = new_h @ P
            if projection_clip is not None:
                new_h = np.clip(new_h, -projection_clip, projection_clip)
        h = zoneout * h + (1.0 - zoneout) * new_h
        c = cell_zoneout * c + (1.0 - cell_zoneout) * new_c
        if full_gate_recurrence:
            previous = {"i": i, "f": f, "o": o}
        outputs.append(h)
        for name, value in (("i", i), ("f", f), ("o", o), ("g", g), ("c", c), ("h", h)):
            trace[name].append(value)
    states = [h, c]
    if full_gate_recurrence:
        states.append(np.concatenate([previous[name] for name in sigmoid_blocks], axis=-1))
    outputs = np.stack(outputs, axis=1)
    if not return_gates:
        return outputs, states
    names = {
        "i": "input_gate",
        "f": "forget_gate",
        "o": "output_gate",
        "g": "candidate",
        "c": "cell_state",
        "h": "hidden_state",
    }
    traced = {names[k]: np.stack(v, axis=1) for k, v in trace.items()}
    return outputs, states, traced


REFERENCES = {"lstm": lstm, "gru": gru, "simple_rnn": simple_rnn}


# === Helpers shared by the tests ===


def perturb_weights(layer, seed=0, scale=0.5):
    """Gives every weight of `layer` a non-trivial random value.

    Scales (layer norm) are drawn around 1, everything else around 0, so
    peepholes, norm offsets and biases all differ from their initial values.
    """
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        shape = tuple(variable.shape)
        value = rng.normal(scale=scale, size=shape)
        if "scale" in variable.path.split("/")[-1]:
            value = 1.0 + value
        variable.assign(value.astype(variable.dtype))
