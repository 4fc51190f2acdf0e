"""Independent NumPy references for the minimal RNN cells (minGRU, minLSTM).

Feng, Tung, Ahmed, Bengio & Hajimirsadeghi (2024), "Were RNNs All We
Needed?", arXiv:2410.01201, Section 3 and Appendix B. Each function is a plain
Python loop over time in float64, written from the paper's equations; it reads
only the weights from the toolkit cell (`kernel`, `bias`, by name) and takes
the options from the caller, as `tests/references.py` does.

Unlike `tests/references.py` these loops take a `mask` `(batch, time)`: at a
masked step the state is kept and the output is zero, which is the toolkit's
documented masking rule, written here independently of its code.

Every function takes `x` of shape `(batch, time, features)` and returns
`(outputs, [h])`: `outputs` `(batch, time, units)` in input time order and the
final state.
"""

import numpy as np
from references import ACTIVATIONS
from references import weight


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def g(z):
    """Appendix B.3: g(x) = x + 0.5 if x >= 0 else sigmoid(x)."""
    return np.where(z >= 0, z + 0.5, sigmoid(z))


CANDIDATES = {
    **ACTIVATIONS,
    "g": g,
    "exponential": np.exp,
    "softplus": lambda z: np.logaddexp(0.0, z),
}


def _blocks(cell, count, use_bias):
    W = weight(cell, "kernel")
    units = W.shape[1] // count
    b = weight(cell, "bias") if use_bias else np.zeros(count * units)
    return (
        [W[:, k * units : (k + 1) * units] for k in range(count)],
        [b[k * units : (k + 1) * units] for k in range(count)],
        units,
    )


def _run(x, initial_state, mask, units, zoneout, step):
    """The time loop, masks and inference-time zoneout shared by both cells."""
    x = np.asarray(x, dtype="float64")
    batch, time = x.shape[:2]
    if initial_state is None:
        h = np.zeros((batch, units))
    else:
        h = np.asarray(initial_state[0], dtype="float64").copy()
    outputs = np.zeros((batch, time, units))
    for t in range(time):
        new_h = step(x[:, t], h)
        # Zoneout at inference (Krueger et al., 2016): the expectation.
        new_h = zoneout * h + (1.0 - zoneout) * new_h
        keep = np.ones((batch, 1), bool) if mask is None else np.asarray(mask)[:, t, None]
        h = np.where(keep, new_h, h)
        outputs[:, t] = np.where(keep, new_h, 0.0)
    return outputs, [h]


def min_gru(
    x,
    cell,
    initial_state=None,
    mask=None,
    candidate_activation="g",
    use_bias=True,
    zoneout=0.0,
    **_,
):
    """minGRU, Section 3.1 (Eq. for minGRU); kernel blocks [z, h].

    z_t = sigmoid(Linear_z(x_t)), htilde_t = g(Linear_h(x_t)),
    h_t = (1 - z_t) * h_{t-1} + z_t * htilde_t.
    """
    (Wz, Wh), (bz, bh), units = _blocks(cell, 2, use_bias)
    candidate = CANDIDATES[candidate_activation]

    def step(xt, h):
        z = sigmoid(xt @ Wz + bz)
        htilde = candidate(xt @ Wh + bh)
        return (1.0 - z) * h + z * htilde

    return _run(x, initial_state, mask, units, zoneout, step)


def min_lstm(
    x,
    cell,
    initial_state=None,
    mask=None,
    candidate_activation="g",
    use_bias=True,
    zoneout=0.0,
    **_,
):
    """minLSTM, Section 3.2 (length independence scaling); kernel blocks [f, i, h].

    f_t = sigmoid(Linear_f(x_t)), i_t = sigmoid(Linear_i(x_t)),
    htilde_t = g(Linear_h(x_t)), f'_t = f_t / (f_t + i_t),
    i'_t = i_t / (f_t + i_t), h_t = f'_t * h_{t-1} + i'_t * htilde_t.
    """
    (Wf, Wi, Wh), (bf, bi, bh), units = _blocks(cell, 3, use_bias)
    candidate = CANDIDATES[candidate_activation]

    def step(xt, h):
        f = sigmoid(xt @ Wf + bf)
        i = sigmoid(xt @ Wi + bi)
        htilde = candidate(xt @ Wh + bh)
        return f / (f + i) * h + i / (f + i) * htilde

    return _run(x, initial_state, mask, units, zoneout, step)


REFERENCES = {"mingru": min_gru, "minlstm": min_lstm}


def last_outputs(outputs, mask=None):
    """The output of each row's last valid step, zero for a row with none."""
    if mask is None:
        return outputs[:, -1]
    mask = np.asarray(mask, bool)
    last = np.zeros((outputs.shape[0], outputs.shape[2]))
    for row in range(outputs.shape[0]):
        valid = np.flatnonzero(mask[row])
        if valid.size:
            last[row] = outputs[row, valid[-1]]
    return last
