"""The LSTM ablations of Greff et al. (2017), "LSTM: A Search Space Odyssey".

Greff's vanilla LSTM (peepholes on) and each of its eight variants, as
options of `LSTMCell` / `LSTM`, against the independent NumPy reference
(`references.lstm`, written from the paper's equations): from a random
initial state, with padding of every shape, with the other cell options, in
`go_backwards`, `Bidirectional` and `keras.layers.RNN`; and their weight
layouts, parameter counts, gate traces, gradients (against finite
differences of the reference), serialization, execution path and errors.
"""

import types

import keras
import numpy as np
import pytest
import references
from layer_test import check_config_round_trip
from layer_test import run_cell_test
from serving import serve_without_toolkit

import toolkit
from toolkit.cells.lstm import LSTMCell
from toolkit.inspect import trace_gates
from toolkit.layers.lstm import LSTM

ATOL = 1e-5
BATCH, TIME, FEATURES, UNITS = 4, 6, 3, 4
# The time loop (`lax.scan` on JAX, `tf.while_loop` on TensorFlow) is compiled
# anew for every layer; the unrolled Python loop runs the same step and the
# same masked update, with cached per-op kernels. The test that compares every
# variant against the reference and FGR's gradients run the compiled loop; the
# others run unrolled to keep the JAX run short.
UNROLLED = {"unroll": True}

VANILLA = {"peephole": True}
# Greff et al.'s names -> options; every variant is the vanilla LSTM with one change.
VARIANTS = {
    "V": VANILLA,
    "NIG": {**VANILLA, "input_gate": False},
    "NFG": {**VANILLA, "forget_gate": False},
    "NOG": {**VANILLA, "output_gate": False},
    "NIAF": {**VANILLA, "input_squashing": False},
    "NOAF": {**VANILLA, "output_squashing": False},
    "NP": {},
    "CIFG": {**VANILLA, "coupled_input_forget": True},
    "FGR": {**VANILLA, "full_gate_recurrence": True},
}

# Weight names and shapes with FEATURES = 3 and UNITS = 4, worked out by hand
# from the paper: four blocks [i, f, g, o] of 4 units, a removed gate's block
# left out, one peephole vector per remaining sigmoid gate, and FGR's nine
# (4, 4) matrices R_ba as one (12, 12) kernel.
_FULL = [("kernel", (3, 16)), ("recurrent_kernel", (4, 16)), ("bias", (16,))]
_THREE_BLOCKS = [("kernel", (3, 12)), ("recurrent_kernel", (4, 12)), ("bias", (12,))]
_PEEPHOLES = [("input_peephole", (4,)), ("forget_peephole", (4,)), ("output_peephole", (4,))]
EXPECTED_WEIGHTS = {
    "V": _FULL + _PEEPHOLES,
    "NIG": _THREE_BLOCKS + [("forget_peephole", (4,)), ("output_peephole", (4,))],
    "NFG": _THREE_BLOCKS + [("input_peephole", (4,)), ("output_peephole", (4,))],
    "NOG": _THREE_BLOCKS + [("input_peephole", (4,)), ("forget_peephole", (4,))],
    "NIAF": _FULL + _PEEPHOLES,
    "NOAF": _FULL + _PEEPHOLES,
    "NP": _FULL,
    "CIFG": _THREE_BLOCKS + [("forget_peephole", (4,)), ("output_peephole", (4,))],
    "FGR": _FULL + _PEEPHOLES + [("gate_recurrent_kernel", (12, 12))],
}
# 4 blocks: 16 * (3 + 4 + 1) = 128 (+ 12 peepholes); 3 blocks: 96 (+ 8);
# FGR: + 9 * 4 * 4 = 144.
EXPECTED_PARAMETERS = {
    "V": 140,
    "NIG": 104,
    "NFG": 104,
    "NOG": 104,
    "NIAF": 140,
    "NOAF": 140,
    "NP": 128,
    "CIFG": 104,
    "FGR": 284,
}
EXPECTED_GATE_ORDER = {
    "NIG": ("forget_gate", "candidate", "output_gate"),
    "NFG": ("input_gate", "candidate", "output_gate"),
    "NOG": ("input_gate", "forget_gate", "candidate"),
    "CIFG": ("forget_gate", "candidate", "output_gate"),
}
KERAS_ORDER = ("input_gate", "forget_gate", "candidate", "output_gate")

# The ablations together with the other cell options, where that is meaningful.
COMBINATIONS = {
    "NIG_layer_norm_projection_clip_no_bias": {
        "input_gate": False,
        "peephole": True,
        "layer_norm": True,
        "projection": 3,
        "projection_clip": 0.3,
        "use_bias": False,
    },
    "NFG_NOAF_cell_clip_relu_hard_sigmoid": {
        "forget_gate": False,
        "output_squashing": False,
        "peephole": True,
        "cell_clip": 0.5,
        "activation": "relu",
        "recurrent_activation": "hard_sigmoid",
    },
    "NIAF_NOAF_layer_norm_zoneout": {
        "input_squashing": False,
        "output_squashing": False,
        "layer_norm": True,
        "zoneout": 0.3,
        "cell_zoneout": 0.5,
    },
    "FGR_everything": {
        "full_gate_recurrence": True,
        "peephole": True,
        "layer_norm": True,
        "projection": 2,
        "cell_clip": 0.4,
        "projection_clip": 0.3,
        "zoneout": 0.2,
        "cell_zoneout": 0.4,
    },
    "FGR_CIFG": {"full_gate_recurrence": True, "coupled_input_forget": True, "peephole": True},
    "FGR_NIG_NOG": {
        "full_gate_recurrence": True,
        "input_gate": False,
        "output_gate": False,
        "peephole": True,
    },
    "no_gates_NIAF_cell_clip": {
        "input_gate": False,
        "forget_gate": False,
        "output_gate": False,
        "input_squashing": False,
        "cell_clip": 1.0,
    },
}

# Rows: right padding, left padding, holes, nothing valid.
MASK = np.array(
    [
        [1, 1, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 1],
        [1, 0, 1, 1, 0, 1],
        [0, 0, 0, 0, 0, 0],
    ],
    dtype=bool,
)


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def assert_close(actual, expected, atol=ATOL):
    np.testing.assert_allclose(to_numpy(actual), expected, atol=atol, rtol=atol)


def inputs(seed=0, batch=BATCH, time=TIME, features=FEATURES):
    return np.random.default_rng(seed).normal(size=(batch, time, features)).astype("float32")


def random_states(cell, seed=1, batch=BATCH):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=0.5, size=(batch, size)).astype("float32") for size in cell.state_size]


def build_layer(options, seed=0, **layer_kwargs):
    layer = LSTM(UNITS, return_sequences=True, return_state=True, **options, **layer_kwargs)
    layer.build((None, TIME, FEATURES))
    references.perturb_weights(layer, seed=seed)
    return layer


# === Weights ===


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_weight_layout_and_parameter_count(variant):
    layer = LSTM(UNITS, **VARIANTS[variant])
    layer.build((BATCH, TIME, FEATURES))
    received = [(w.path.split("/")[-1], tuple(w.shape)) for w in layer.weights]
    assert received == EXPECTED_WEIGHTS[variant]
    assert layer.count_params() == EXPECTED_PARAMETERS[variant]
    assert layer.cell.gate_order == EXPECTED_GATE_ORDER.get(variant, KERAS_ORDER)
    expected_states = [UNITS, UNITS, 3 * UNITS] if variant == "FGR" else [UNITS, UNITS]
    assert layer.cell.state_size == expected_states


def test_unit_forget_bias_follows_the_forget_gate_block():
    expected = {
        "V": [0, 1, 0, 0],
        "NIG": [1, 0, 0],
        "NFG": [0, 0, 0],
        "NOG": [0, 1, 0],
        "CIFG": [1, 0, 0],
    }
    for variant, blocks in expected.items():
        layer = LSTM(UNITS, **VARIANTS[variant])
        layer.build((BATCH, TIME, FEATURES))
        np.testing.assert_array_equal(layer.get_weights()[2], np.repeat(blocks, UNITS))


def test_default_keeps_the_keras_weight_layout():
    ours = LSTM(UNITS)
    theirs = keras.layers.LSTM(UNITS)
    ours.build((BATCH, TIME, FEATURES))
    theirs.build((BATCH, TIME, FEATURES))
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]


# === Against the NumPy reference ===


def check_padded_batch_against_alone_runs(options, seed=0, **layer_kwargs):
    """Each row of a padded batch gives the reference run on its valid steps alone."""
    layer = build_layer(options, seed=seed, **layer_kwargs)
    x = inputs(seed=seed + 1)
    initial_state = random_states(layer.cell, seed=seed + 2)
    outputs, *states = layer(x, initial_state=initial_state, mask=MASK)
    assert len(states) == len(layer.cell.state_size)
    outputs = to_numpy(outputs)
    np.testing.assert_array_equal(outputs[~MASK], 0.0)
    for row, valid in enumerate(MASK):
        row_state = [state[row : row + 1] for state in initial_state]
        if not valid.any():  # states kept
            for state, initial in zip(states, row_state):
                np.testing.assert_array_equal(to_numpy(state)[row : row + 1], initial)
            continue
        expected_outputs, expected_states = references.lstm(
            x[row : row + 1, valid], layer.cell, initial_state=row_state, **options
        )
        assert_close(outputs[row, valid], expected_outputs[0])
        for state, expected in zip(states, expected_states):
            assert_close(to_numpy(state)[row : row + 1], expected)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_matches_reference_from_initial_states_with_padding(variant):
    # Rows with right padding, left padding, holes, and nothing valid, each
    # from its own random initial state.
    check_padded_batch_against_alone_runs(VARIANTS[variant])


@pytest.mark.parametrize("name", list(COMBINATIONS))
def test_combination_with_other_options_matches_reference(name):
    check_padded_batch_against_alone_runs(COMBINATIONS[name], seed=3, **UNROLLED)


def test_ablation_options_are_active_in_these_tests():
    """Guards the comparisons against being vacuous: with these weights and
    inputs each option that keeps the weights changes the reference result."""
    layer = build_layer(VARIANTS["FGR"])
    x = inputs()
    initial_state = random_states(layer.cell)
    vanilla, _ = references.lstm(x, layer.cell, initial_state=initial_state, **VANILLA)
    for option, value in (
        ("input_squashing", False),
        ("output_squashing", False),
        ("full_gate_recurrence", True),
    ):
        changed, _ = references.lstm(
            x, layer.cell, initial_state=initial_state, **{**VANILLA, option: value}
        )
        assert np.abs(changed - vanilla).max() > 1e-3, option


@pytest.mark.parametrize("unroll", [False, True], ids=["loop", "unrolled"])
def test_go_backwards_matches_reference_on_reversed_inputs(unroll):
    options = COMBINATIONS["FGR_CIFG"]
    layer = build_layer(options, go_backwards=True, unroll=unroll)
    x = inputs(seed=4)
    outputs, *states = layer(x)
    expected_outputs, expected_states = references.lstm(x[:, ::-1], layer.cell, **options)
    assert_close(outputs, expected_outputs)
    for state, expected in zip(states, expected_states):
        assert_close(state, expected)


def test_bidirectional_matches_reference_in_both_directions():
    options = {**VANILLA, "input_gate": False, "full_gate_recurrence": True}
    layer = keras.layers.Bidirectional(LSTM(UNITS, return_sequences=True, **options))
    x = inputs(seed=5)
    layer(x)
    references.perturb_weights(layer, seed=6)
    outputs = to_numpy(layer(x))
    forward, _ = references.lstm(x, layer.forward_layer.cell, **options)
    backward, _ = references.lstm(x[:, ::-1], layer.backward_layer.cell, **options)
    assert_close(outputs[..., :UNITS], forward)
    assert_close(outputs[..., UNITS:], backward[:, ::-1])


@pytest.mark.parametrize("variant", ["FGR", "NOG"])
def test_cell_stepped_by_keras_rnn_matches_reference(variant):
    options = VARIANTS[variant]
    cell = LSTMCell(UNITS, **options)
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    x = inputs(seed=7)
    initial_state = random_states(cell, seed=8)
    rnn(x, initial_state=initial_state)
    references.perturb_weights(rnn, seed=9)
    outputs, *states = rnn(x, initial_state=initial_state)
    expected_outputs, expected_states = references.lstm(
        x, cell, initial_state=initial_state, **options
    )
    assert_close(outputs, expected_outputs)
    assert len(states) == len(expected_states)
    for state, expected in zip(states, expected_states):
        assert_close(state, expected)


# === Gate tracing ===


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_traces_report_every_gate_and_ones_for_removed_gates(variant):
    options = VARIANTS[variant]
    layer = build_layer(options, **UNROLLED)
    x = inputs(seed=10)
    initial_state = random_states(layer.cell, seed=11)
    traced = layer.trace(x, initial_state=initial_state, mask=MASK)
    assert set(traced) == set(layer.cell.gate_names)
    for row, valid in enumerate(MASK):
        if not valid.any():
            continue
        row_state = [state[row : row + 1] for state in initial_state]
        _, _, expected = references.lstm(
            x[row : row + 1, valid],
            layer.cell,
            initial_state=row_state,
            return_gates=True,
            **options,
        )
        for name in layer.cell.gate_names:
            assert_close(to_numpy(traced[name])[row, valid], expected[name][0])
    removed = {"NIG": "input_gate", "NFG": "forget_gate", "NOG": "output_gate"}.get(variant)
    if removed is not None:
        np.testing.assert_array_equal(to_numpy(traced[removed])[MASK], 1.0)
    if variant == "CIFG":
        total = to_numpy(traced["input_gate"]) + to_numpy(traced["forget_gate"])
        assert_close(total[MASK], np.ones_like(total[MASK]))


def test_inspect_trace_gates_on_an_ablated_model():
    model = keras.Sequential(
        [
            keras.Input((TIME, FEATURES)),
            LSTM(
                UNITS,
                return_sequences=True,
                name="nig_fgr",
                **COMBINATIONS["FGR_NIG_NOG"],
                **UNROLLED,
            ),
            LSTM(2, name="noaf", output_squashing=False, **UNROLLED),
        ]
    )
    x = inputs(seed=12)
    traces = trace_gates(model, x)
    assert set(traces) == {"nig_fgr", "noaf"}
    for trace in traces.values():
        assert trace.gate_names == LSTMCell.gate_names
    np.testing.assert_array_equal(traces["nig_fgr"].gates["input_gate"], 1.0)
    np.testing.assert_array_equal(traces["nig_fgr"].gates["output_gate"], 1.0)
    # NOAF: the hidden state is the output gate times the (unsquashed) cell state.
    noaf = traces["noaf"].gates
    assert_close(noaf["hidden_state"], noaf["output_gate"] * noaf["cell_state"])


# === Gradients ===


def _loss(outputs):
    sequence, *states = outputs
    weights = keras.ops.linspace(-1.0, 1.0, sequence.shape[-1])
    loss = keras.ops.sum(sequence * weights)
    for index, state in enumerate(states):
        loss = loss + (index + 2.0) * keras.ops.sum(state)
    return loss


def _numpy_loss(outputs, states):
    loss = np.sum(outputs * np.linspace(-1.0, 1.0, outputs.shape[-1]))
    return loss + sum((index + 2.0) * np.sum(state) for index, state in enumerate(states))


def _gradients(layer, x, initial_state, mask):
    """Gradients of `_loss` with respect to `layer.trainable_weights`."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = _loss(layer(x, initial_state=initial_state, mask=mask))
        return [to_numpy(g) for g in tape.gradient(loss, layer.trainable_weights)]
    if backend == "jax":
        import jax

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss_of(trainable):
            outputs, _ = layer.stateless_call(
                trainable, non_trainable, x, initial_state=initial_state, mask=mask
            )
            return _loss(outputs)

        gradients = jax.grad(loss_of)([v.value for v in layer.trainable_variables])
        return [to_numpy(g) for g in gradients]
    if backend == "torch":
        import torch

        loss = _loss(layer(x, initial_state=initial_state, mask=mask))
        gradients = torch.autograd.grad(loss, [v.value for v in layer.trainable_variables])
        return [to_numpy(g) for g in gradients]
    pytest.skip(f"no gradient helper for backend {backend!r}")


@pytest.mark.parametrize(
    "variant, unroll",
    [(variant, True) for variant in VARIANTS] + [("FGR", False)],
    ids=[f"{variant}-unrolled" for variant in VARIANTS] + ["FGR-loop"],
)
def test_gradients_are_finite_reach_every_weight_and_match_finite_differences(variant, unroll):
    options = VARIANTS[variant]
    layer = build_layer(options, seed=13, unroll=unroll)
    x = inputs(seed=14)
    initial_state = random_states(layer.cell, seed=15)
    gradients = _gradients(layer, x, initial_state, MASK)
    names = [w.path.split("/")[-1] for w in layer.trainable_weights]
    assert names == [name for name, _ in EXPECTED_WEIGHTS[variant]]
    for name, gradient in zip(names, gradients):
        assert np.all(np.isfinite(gradient)), name
        assert np.abs(gradient).max() > 0.0, f"{name} gets no gradient"

    # Directional derivative along a random direction of every weight, by
    # central differences of the float64 reference over the padded batch.
    rng = np.random.default_rng(16)
    values = {
        name: to_numpy(w).astype("float64") for name, w in zip(names, layer.trainable_weights)
    }
    directions = {name: rng.normal(size=value.shape) for name, value in values.items()}

    def reference_loss(step):
        weights = types.SimpleNamespace(
            **{name: values[name] + step * directions[name] for name in names}
        )
        loss = 0.0
        for row, valid in enumerate(MASK):
            row_state = [state[row : row + 1] for state in initial_state]
            if valid.any():
                outputs, states = references.lstm(
                    x[row : row + 1, valid], weights, initial_state=row_state, **options
                )
            else:
                outputs, states = np.zeros((1, 0, UNITS)), row_state
            loss += _numpy_loss(outputs, states)
        return loss

    epsilon = 1e-4
    expected = (reference_loss(epsilon) - reference_loss(-epsilon)) / (2 * epsilon)
    received = sum(np.sum(g * directions[name]) for name, g in zip(names, gradients))
    np.testing.assert_allclose(received, expected, rtol=1e-4, atol=1e-4)


# === Serialization, the standard layer checks, export ===


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_config_round_trips(variant):
    options = VARIANTS[variant]
    cell = check_config_round_trip(LSTMCell(UNITS, **options))
    layer = check_config_round_trip(LSTM(UNITS, **options))
    config = layer.get_config()
    for option in ("input_gate", "forget_gate", "output_gate"):
        assert config[option] is options.get(option, True)
    for option in ("input_squashing", "output_squashing"):
        assert config[option] is options.get(option, True)
    assert config["full_gate_recurrence"] is options.get("full_gate_recurrence", False)
    assert config["gate_recurrent_initializer"] == keras.initializers.serialize(
        keras.initializers.get("zeros")
    )
    assert cell.gate_order == layer.cell.gate_order
    assert cell.state_size == layer.cell.state_size


def test_every_variant_saves_and_loads_in_one_model(tmp_path):
    sequences = keras.Input((TIME, FEATURES))
    x = sequences
    for variant, options in VARIANTS.items():
        x = LSTM(UNITS, return_sequences=True, name=variant.lower(), **options, **UNROLLED)(x)
    model = keras.Model(sequences, x)
    references.perturb_weights(model, seed=17)
    path = tmp_path / "ablations.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    data = inputs(seed=18)
    np.testing.assert_allclose(to_numpy(loaded(data)), to_numpy(model(data)), rtol=0, atol=1e-6)
    for variant, options in VARIANTS.items():
        cell = loaded.get_layer(variant.lower()).cell
        for option, value in options.items():
            assert getattr(cell, option) == value


def test_standard_layer_checks():
    """Config, build, calls, one `fit` step and `.keras` round trip for one cell
    with FGR (a third state), a removed gate, both squashing options off,
    dropout and zoneout (mixed precision: the next test, eagerly)."""
    options = {
        "peephole": True,
        "full_gate_recurrence": True,
        "forget_gate": False,
        "input_squashing": False,
        "output_squashing": False,
        "dropout": 0.2,
        "recurrent_dropout": 0.2,
        "zoneout": 0.1,
        "cell_zoneout": 0.2,
        "seed": 3,
    }
    run_cell_test(
        LSTMCell,
        {"units": 3, **options},
        (2, 4, 3),
        3,
        # kernel, recurrent_kernel, bias, input and output peepholes, R
        expected_num_weights=6,
        expected_state_size=[3, 3, 6],
        wrappers=("recurrent",),
        run_mixed_precision_check=False,
    )


def test_mixed_precision_keeps_every_state_in_the_compute_dtype():
    policy = "mixed_float16"
    options = {**COMBINATIONS["FGR_everything"], "input_gate": False, "output_squashing": False}
    keras.config.set_dtype_policy(policy)
    layer = LSTM(UNITS, return_sequences=True, return_state=True, **options, **UNROLLED)
    outputs = layer(inputs(), mask=MASK)
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    assert len(outputs) == 4  # the sequence, h, c and the previous gates
    for output in outputs:
        assert keras.backend.standardize_dtype(output.dtype) == compute_dtype
        assert np.all(np.isfinite(to_numpy(output).astype("float32")))
    assert all(w.dtype == "float32" for w in layer.weights)


SERVE = """
restored = tf.saved_model.load(f"{directory}/model")
inputs = np.load(f"{directory}/inputs.npy")
np.save(f"{directory}/outputs.npy", np.asarray(restored.serve(tf.constant(inputs))))
"""


@pytest.mark.tensorflow_only
def test_exported_ablated_model_serves_without_toolkit(tmp_path):
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 3, mask_zero=True)(ids)
    x = LSTM(UNITS, return_sequences=True, **COMBINATIONS["FGR_NIG_NOG"])(x)
    x = LSTM(3, go_backwards=True, **VARIANTS["NOAF"], forget_gate=False)(x)
    model = keras.Model(ids, x)
    references.perturb_weights(model, seed=19)
    data = np.random.default_rng(20).integers(1, 10, size=(3, 6)).astype("int32")
    data[0, 4:] = 0  # right padding
    data[1, :2] = 0  # left padding
    expected = to_numpy(model(data))
    alone = to_numpy(model(data[1:2, 2:]))
    assert_close(expected[1:2], alone)
    model.export(str(tmp_path / "model"), verbose=False)
    np.save(tmp_path / "inputs.npy", data)
    serve_without_toolkit(tmp_path, SERVE)
    np.testing.assert_allclose(np.load(tmp_path / "outputs.npy"), expected, rtol=1e-5, atol=1e-5)


# === Execution path ===

SINGLE_OPTIONS = [
    ("input_gate", False),
    ("forget_gate", False),
    ("output_gate", False),
    ("input_squashing", False),
    ("output_squashing", False),
    ("full_gate_recurrence", True),
]


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("option, value", SINGLE_OPTIONS, ids=[o for o, _ in SINGLE_OPTIONS])
def test_ablated_cells_run_the_step_loop_and_say_why(option, value):
    x = inputs()
    layer = LSTM(UNITS, **{option: value})
    layer(x)
    assert layer.execution_path == f"step loop ({option}={value!r})"
    strict = LSTM(UNITS, fused=True, **{option: value})
    with pytest.raises(ValueError, match=f"`fused=True` needs .*{option}={value!r}"):
        strict(x)
    plain = LSTM(UNITS, **{option: not value})  # the default value
    plain(x)
    assert plain.execution_path.startswith("fused")


# === Errors ===

ABLATION_FLAGS = [name for name, _ in SINGLE_OPTIONS]


@pytest.mark.parametrize("constructor", [LSTMCell, LSTM], ids=["LSTMCell", "LSTM"])
@pytest.mark.parametrize("option", ABLATION_FLAGS)
@pytest.mark.parametrize("value", [0, 1, "no", None], ids=["0", "1", "str", "None"])
def test_flags_must_be_booleans(constructor, option, value):
    with pytest.raises(ValueError, match=f"`{option}` expected a boolean.*{option}={value!r}"):
        constructor(UNITS, **{option: value})


NONSENSE = [
    (
        {"coupled_input_forget": True, "input_gate": False},
        r"`input_gate` must be True with `coupled_input_forget=True`.*"
        r"Received: input_gate=False, coupled_input_forget=True",
    ),
    (
        {"coupled_input_forget": True, "forget_gate": False},
        r"`forget_gate` must be True with `coupled_input_forget=True`.*"
        r"Received: forget_gate=False, coupled_input_forget=True",
    ),
    (
        {
            "full_gate_recurrence": True,
            "input_gate": False,
            "forget_gate": False,
            "output_gate": False,
        },
        r"`full_gate_recurrence` needs at least one of the input, forget and output "
        r"gates. Received: full_gate_recurrence=True with input_gate=False",
    ),
    (
        {"peephole": True, "input_gate": False, "forget_gate": False, "output_gate": False},
        r"`peephole` needs at least one of the input, forget and output gates. "
        r"Received: peephole=True with input_gate=False",
    ),
]


@pytest.mark.parametrize("constructor", [LSTMCell, LSTM], ids=["LSTMCell", "LSTM"])
@pytest.mark.parametrize(
    "options, message", NONSENSE, ids=["CIFG_NIG", "CIFG_NFG", "FGR_no_gates", "peephole_no_gates"]
)
def test_combinations_that_make_no_sense_are_refused(constructor, options, message):
    with pytest.raises(ValueError, match=message):
        constructor(UNITS, **options)


def test_initial_state_of_a_full_gate_recurrence_layer_needs_the_gates():
    layer = LSTM(UNITS, full_gate_recurrence=True)
    with pytest.raises(ValueError, match=r"`initial_state` expected 3 tensor\(s\)"):
        layer(inputs(), initial_state=[np.zeros((BATCH, UNITS), "float32")] * 2)
    assert toolkit.layers.Recurrent(LSTMCell(UNITS, full_gate_recurrence=True)).state_size == [
        UNITS,
        UNITS,
        3 * UNITS,
    ]
