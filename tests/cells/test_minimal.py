"""`MinGRUCell` and `MinLSTMCell` (Feng et al., 2024): the step form.

The cells run step by step (`keras.layers.RNN(cell)`, and `Recurrent` with
`fused=False`) against the independent NumPy loops of
`tests/references_minimal.py`, with every weight perturbed; their arguments,
configs and gates. The parallel form is pinned to this step form in
`tests/layers/test_parallel_scan.py`.
"""

import keras
import numpy as np
import pytest
import references
import references_minimal
from layer_test import check_config_round_trip
from layer_test import run_cell_test

import toolkit
from toolkit.cells.minimal import MinGRUCell
from toolkit.cells.minimal import MinLSTMCell
from toolkit.cells.minimal import positive_candidate
from toolkit.layers.recurrent import Recurrent

ATOL = 1e-5
BATCH, TIME, FEATURES, UNITS = 3, 6, 4, 4
CELLS = {"mingru": MinGRUCell, "minlstm": MinLSTMCell}
GATE_COUNTS = {"mingru": 2, "minlstm": 3}


def to_numpy(value):
    return keras.ops.convert_to_numpy(value)


def assert_close(actual, expected):
    np.testing.assert_allclose(to_numpy(actual), expected, atol=ATOL, rtol=ATOL)


def inputs(seed=0, batch=BATCH, time=TIME):
    return np.random.default_rng(seed).normal(size=(batch, time, FEATURES)).astype("float32")


def step_layer(kind, options, seed=0, **layer_kwargs):
    """The cell in `Recurrent`'s step loop, weights perturbed."""
    layer = Recurrent(
        CELLS[kind](UNITS, **options),
        return_sequences=True,
        return_state=True,
        fused=False,
        **layer_kwargs,
    )
    layer.build((None, TIME, FEATURES))
    references.perturb_weights(layer, seed=seed)
    return layer


# === The standard checks (config, build, calls, fit, save / load, mixed precision) ===


@pytest.mark.parametrize(
    "kind, options",
    [
        ("mingru", {}),
        ("minlstm", {"candidate_activation": "linear", "use_bias": False, "dropout": 0.2}),
    ],
    ids=["mingru", "minlstm-linear-no_bias-dropout"],
)
def test_cell(kind, options):
    # In keras.layers.RNN. Inside Recurrent (the parallel scan) the layers run the
    # same checks, mixed precision included, in tests/layers/test_parallel_scan.py.
    run_cell_test(
        CELLS[kind],
        {"units": 3, **options},
        (2, 4, 3),
        3,
        expected_num_weights=2 if options.get("use_bias", True) else 1,
        expected_state_size=[3],
        wrappers=("keras_rnn",),
        run_mixed_precision_check=False,
    )


# === The step form against NumPy ===

OPTIONS = {
    "default": {},
    "linear_no_bias": {"candidate_activation": "linear", "use_bias": False},
    "tanh": {"candidate_activation": "tanh"},
    "zoneout": {"zoneout": 0.3},
}


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("name", list(OPTIONS))
def test_step_loop_matches_numpy_reference(kind, name):
    options = OPTIONS[name]
    layer = step_layer(kind, options)
    x = inputs()
    initial_state = [np.random.default_rng(1).normal(size=(BATCH, UNITS)).astype("float32")]
    outputs, state = layer(x, initial_state=initial_state)
    expected, (expected_state,) = references_minimal.REFERENCES[kind](
        x, layer.cell, initial_state=initial_state, **options
    )
    assert layer.execution_path == "step loop (fused=False)"
    assert_close(outputs, expected)
    assert_close(state, expected_state)


@pytest.mark.parametrize("kind", list(CELLS))
def test_keras_rnn_steps_the_cell_like_the_reference(kind):
    cell = CELLS[kind](UNITS, zoneout=0.2)
    layer = keras.layers.RNN(cell, return_sequences=True, go_backwards=True)
    layer.build((None, TIME, FEATURES))
    references.perturb_weights(layer, seed=2)
    x = inputs(seed=3)
    expected, _ = references_minimal.REFERENCES[kind](x[:, ::-1], cell, zoneout=0.2)
    assert_close(layer(x), expected)


def test_options_are_active_in_these_tests():
    """The comparisons above are not vacuous: candidate map, bias and zoneout each change
    the reference's result with these weights and inputs."""
    x = inputs()
    for kind in CELLS:
        layer = step_layer(kind, {})
        default, _ = references_minimal.REFERENCES[kind](x, layer.cell)
        for options in OPTIONS.values():
            if options:
                changed, _ = references_minimal.REFERENCES[kind](x, layer.cell, **options)
                assert np.abs(changed - default).max() > 1e-3, (kind, options)


def test_positive_candidate_is_the_papers_g():
    x = np.array([-30.0, -2.0, -1e-3, 0.0, 1e-3, 3.0], "float32")
    expected = np.where(x >= 0, x + 0.5, 1.0 / (1.0 + np.exp(-x.astype("float64"))))
    assert_close(positive_candidate(x), expected)
    assert np.all(to_numpy(positive_candidate(x)) > 0)


def test_minlstm_gates_are_normalized_and_traced():
    layer = step_layer("minlstm", {})
    x = inputs(seed=4)
    gates = {name: to_numpy(value) for name, value in layer.trace(x).items()}
    assert set(gates) == set(layer.cell.gate_names)
    forget, remember = gates["forget_gate"], gates["input_gate"]
    assert_close(gates["normalized_forget_gate"], forget / (forget + remember))
    assert_close(gates["normalized_input_gate"] + gates["normalized_forget_gate"], 1.0)
    outputs, _ = layer(x)
    assert_close(gates["hidden_state"], to_numpy(outputs))


@pytest.mark.parametrize("scan", ["associative", "log_space"])
@pytest.mark.parametrize("fused", ["auto", False])
@pytest.mark.parametrize("precision", ["float32", "mixed_float16"])
def test_minlstm_gates_stay_finite_where_both_sigmoids_underflow(scan, fused, precision):
    """Both gate pre-activations far below zero: `f / (f + i)` was 0 / 0 = NaN (float32
    below about -104, float16 below about -17); the normalized gates are 1/2 each."""
    value = -120.0 if precision == "float32" else -20.0
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        layer = toolkit.layers.MinLSTM(
            2,
            kernel_initializer="ones",
            use_bias=False,
            scan=scan,
            fused=fused,
            return_sequences=True,
        )
        outputs = to_numpy(layer(np.full((1, 3, 1), value, "float32"))).astype("float64")
    finally:
        keras.mixed_precision.set_global_policy(previous)
    candidate = 1.0 / (1.0 + np.exp(-value))  # the paper's g at a negative input
    expected, hidden = [], 0.0
    for _ in range(3):
        hidden = 0.5 * hidden + 0.5 * candidate
        expected.append(hidden)
    assert np.all(np.isfinite(outputs))
    np.testing.assert_allclose(outputs[0, :, 0], expected, atol=1e-6)


def test_mingru_trace_reports_its_gates():
    layer = step_layer("mingru", {"candidate_activation": "linear"})
    x = inputs(seed=5)
    gates = {name: to_numpy(value) for name, value in layer.trace(x).items()}
    assert set(gates) == {"update_gate", "candidate", "hidden_state"}
    kernel, bias = (to_numpy(w) for w in (layer.cell.kernel, layer.cell.bias))
    assert_close(gates["candidate"], x @ kernel[:, UNITS:] + bias[UNITS:])
    assert np.all((gates["update_gate"] > 0) & (gates["update_gate"] < 1))


# === Weights, arguments and configs ===


@pytest.mark.parametrize("kind", list(CELLS))
def test_weights_have_no_recurrent_kernel(kind):
    cell = CELLS[kind](5)
    cell.build((None, 3))
    assert [w.path.split("/")[-1] for w in cell.weights] == ["kernel", "bias"]
    assert tuple(cell.kernel.shape) == (3, GATE_COUNTS[kind] * 5)
    assert tuple(cell.bias.shape) == (GATE_COUNTS[kind] * 5,)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("candidate", ["g", "linear", "tanh"])
def test_config_round_trip_keeps_the_candidate(kind, candidate):
    cell = CELLS[kind](3, candidate_activation=candidate, scan="associative", zoneout=0.1)
    config = cell.get_config()
    assert config["candidate_activation"] == candidate
    assert "recurrent_initializer" not in config
    revived = check_config_round_trip(cell)
    assert revived.get_config()["candidate_activation"] == candidate


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"units": 0}, "`units` expected a positive integer. Received: units=0"),
        ({"recurrent_dropout": 0.2}, "`recurrent_dropout` must be 0"),
        ({"scan": "sequential"}, "`scan` expected one of"),
        (
            {"scan": "log_space", "candidate_activation": "linear"},
            "`scan='log_space'` needs a positive candidate_activation",
        ),
        ({"candidate_activation": "nope"}, "`candidate_activation` expected a valid Keras"),
        ({"zoneout": 1.0}, "`zoneout` expected a float in \\[0, 1\\)"),
    ],
)
@pytest.mark.parametrize("kind", list(CELLS))
def test_bad_arguments_name_the_argument_and_the_value(kind, arguments, message):
    arguments = {"units": 3, **arguments}
    with pytest.raises(ValueError, match=message):
        CELLS[kind](**arguments)


@pytest.mark.parametrize("kind", list(CELLS))
def test_recurrent_kernel_arguments_are_refused(kind):
    with pytest.raises(ValueError, match="`recurrent_initializer` does not apply to Min"):
        CELLS[kind](3, recurrent_initializer="orthogonal")
