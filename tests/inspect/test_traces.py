"""Tests of `toolkit.inspect.trace_gates` and `GateTrace`.

The reference values are computed by hand in NumPy from the equations of each
cell, not with toolkit code.
"""

import doctest

import keras
import numpy as np
import pytest

import toolkit
from toolkit.inspect import GateTrace
from toolkit.inspect import trace_gates
from toolkit.inspect import traces as traces_module

ATOL = 1e-5
LSTM_GATES = ("input_gate", "forget_gate", "output_gate", "candidate", "cell_state", "hidden_state")
GRU_GATES = ("update_gate", "reset_gate", "candidate", "hidden_state")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def uniform(shape, seed):
    return np.random.default_rng(seed).uniform(-0.8, 0.8, size=shape).astype("float32")


# === Hand-computed references ===


def lstm_by_hand(x, kernel, recurrent_kernel, bias, h0=None, c0=None):
    """Keras LSTM equations, gate order [i, f, c, o], one sequence (time, features)."""
    units = recurrent_kernel.shape[0]
    h = np.zeros(units) if h0 is None else np.asarray(h0, "float64")
    c = np.zeros(units) if c0 is None else np.asarray(c0, "float64")
    W_i, W_f, W_c, W_o = (kernel[:, k * units : (k + 1) * units] for k in range(4))
    U_i, U_f, U_c, U_o = (recurrent_kernel[:, k * units : (k + 1) * units] for k in range(4))
    b_i, b_f, b_c, b_o = (bias[k * units : (k + 1) * units] for k in range(4))
    steps = {name: [] for name in LSTM_GATES}
    for x_t in x:
        i = sigmoid(x_t @ W_i + h @ U_i + b_i)
        f = sigmoid(x_t @ W_f + h @ U_f + b_f)
        o = sigmoid(x_t @ W_o + h @ U_o + b_o)
        g = np.tanh(x_t @ W_c + h @ U_c + b_c)
        c = f * c + i * g
        h = o * np.tanh(c)
        for name, value in zip(LSTM_GATES, (i, f, o, g, c, h)):
            steps[name].append(value)
    return {name: np.stack(values) for name, values in steps.items()}


def gru_by_hand(x, kernel, recurrent_kernel, bias, reset_after, h0=None):
    """Keras GRU equations, gate order [z, r, h], one sequence (time, features)."""
    units = recurrent_kernel.shape[0]
    h = np.zeros(units) if h0 is None else np.asarray(h0, "float64")
    W_z, W_r, W_h = (kernel[:, k * units : (k + 1) * units] for k in range(3))
    U_z, U_r, U_h = (recurrent_kernel[:, k * units : (k + 1) * units] for k in range(3))
    if reset_after:
        input_bias, recurrent_bias = bias[0], bias[1]
    else:
        input_bias, recurrent_bias = bias, np.zeros_like(bias)
    bi_z, bi_r, bi_h = (input_bias[k * units : (k + 1) * units] for k in range(3))
    br_z, br_r, br_h = (recurrent_bias[k * units : (k + 1) * units] for k in range(3))
    steps = {name: [] for name in GRU_GATES}
    for x_t in x:
        z = sigmoid(x_t @ W_z + bi_z + h @ U_z + br_z)
        r = sigmoid(x_t @ W_r + bi_r + h @ U_r + br_r)
        if reset_after:
            n = np.tanh(x_t @ W_h + bi_h + r * (h @ U_h + br_h))
        else:
            n = np.tanh(x_t @ W_h + (r * h) @ U_h + bi_h)
        h = z * h + (1.0 - z) * n
        for name, value in zip(GRU_GATES, (z, r, n, h)):
            steps[name].append(value)
    return {name: np.stack(values) for name, values in steps.items()}


def simple_rnn_by_hand(x, kernel, recurrent_kernel, bias):
    h = np.zeros(recurrent_kernel.shape[0])
    outputs = []
    for x_t in x:
        h = np.tanh(x_t @ kernel + h @ recurrent_kernel + bias)
        outputs.append(h)
    return {"hidden_state": np.stack(outputs)}


def assert_trace_matches(trace, expected, index=0):
    values = trace.sequence(index)
    assert set(values) == set(expected)
    for name, reference in expected.items():
        np.testing.assert_allclose(values[name], reference, atol=ATOL, err_msg=name)


# === Values ===


@pytest.mark.parametrize("steps", [1, 2])
def test_lstm_gates_equal_hand_computed_steps(steps):
    units, features = 2, 3
    layer = toolkit.layers.LSTM(units, name="lstm")
    model = keras.Sequential([keras.Input((steps, features)), layer])
    kernel = uniform((features, 4 * units), 1)
    recurrent_kernel = uniform((units, 4 * units), 2)
    bias = uniform((4 * units,), 3)
    layer.set_weights([kernel, recurrent_kernel, bias])
    x = uniform((2, steps, features), 4)

    traces = trace_gates(model, x)

    assert list(traces) == ["lstm"]
    trace = traces["lstm"]
    assert trace.layer_name == "lstm"
    assert trace.gate_names == LSTM_GATES
    assert trace.gates["input_gate"].shape == (2, steps, units)
    assert trace.mask.shape == (2, steps) and trace.mask.all()
    for index in range(2):
        expected = lstm_by_hand(x[index], kernel, recurrent_kernel, bias)
        assert_trace_matches(trace, expected, index)


def test_lstm_gates_from_an_initial_state_on_a_single_layer():
    units, features = 2, 3
    layer = toolkit.layers.LSTM(units, return_sequences=True)
    x = uniform((1, 2, features), 5)
    layer(x)
    kernel = uniform((features, 4 * units), 6)
    recurrent_kernel = uniform((units, 4 * units), 7)
    bias = uniform((4 * units,), 8)
    layer.set_weights([kernel, recurrent_kernel, bias])
    h0, c0 = uniform((1, units), 9), uniform((1, units), 10)

    traces = trace_gates(layer, x, initial_state=[h0, c0])

    assert list(traces) == [layer.name]
    expected = lstm_by_hand(x[0], kernel, recurrent_kernel, bias, h0[0], c0[0])
    assert_trace_matches(traces[layer.name], expected)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_gates_equal_hand_computed_steps(reset_after):
    units, features = 2, 3
    layer = toolkit.layers.GRU(units, reset_after=reset_after, name="gru")
    model = keras.Sequential([keras.Input((2, features)), layer])
    kernel = uniform((features, 3 * units), 11)
    recurrent_kernel = uniform((units, 3 * units), 12)
    bias = uniform((2, 3 * units) if reset_after else (3 * units,), 13)
    layer.set_weights([kernel, recurrent_kernel, bias])
    x = uniform((2, 2, features), 14)

    trace = trace_gates(model, x)["gru"]

    assert trace.gate_names == GRU_GATES
    for index in range(2):
        expected = gru_by_hand(x[index], kernel, recurrent_kernel, bias, reset_after)
        assert_trace_matches(trace, expected, index)


def test_simple_rnn_gates_equal_hand_computed_steps():
    units, features = 3, 2
    layer = toolkit.layers.SimpleRNN(units, name="rnn")
    model = keras.Sequential([keras.Input((2, features)), layer])
    kernel = uniform((features, units), 15)
    recurrent_kernel = uniform((units, units), 16)
    bias = uniform((units,), 17)
    layer.set_weights([kernel, recurrent_kernel, bias])
    x = uniform((1, 2, features), 18)

    trace = trace_gates(model, x)["rnn"]

    assert trace.gate_names == ("hidden_state",)
    assert_trace_matches(trace, simple_rnn_by_hand(x[0], kernel, recurrent_kernel, bias))


def test_hidden_and_cell_state_equal_the_layer_outputs_and_final_state():
    lengths = [5, 3, 1]
    x = uniform((3, 5, 2), 19)
    for index, length in enumerate(lengths):
        x[index, length:] = 0.0
    inputs = keras.Input((None, 2))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    outputs = toolkit.layers.LSTM(4, return_sequences=True, return_state=True, name="lstm")(masked)
    model = keras.Model(inputs, outputs)

    sequence_output, h, c = (keras.ops.convert_to_numpy(y) for y in model(x))
    trace = trace_gates(model, x)["lstm"]

    np.testing.assert_array_equal(trace.lengths, lengths)
    for index, length in enumerate(lengths):
        values = trace.sequence(index)
        np.testing.assert_allclose(
            values["hidden_state"], sequence_output[index, :length], atol=ATOL
        )
        np.testing.assert_allclose(values["hidden_state"][-1], h[index], atol=ATOL)
        np.testing.assert_allclose(values["cell_state"][-1], c[index], atol=ATOL)


# === Masks ===


def embedding_lstm_model():
    inputs = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(12, 3, mask_zero=True, name="embedding")(inputs)
    outputs = toolkit.layers.LSTM(4, return_sequences=True, name="lstm")(embedded)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("padding", ["right", "left"])
def test_masked_steps_are_nan_and_absent_from_sequences(padding):
    model = embedding_lstm_model()
    tokens = [[3, 1, 4, 1, 5], [9, 2, 6], [5]]
    width = 6
    batch = np.zeros((len(tokens), width), "int32")
    for index, sequence in enumerate(tokens):
        if padding == "right":
            batch[index, : len(sequence)] = sequence
        else:
            batch[index, width - len(sequence) :] = sequence

    trace = trace_gates(model, batch)["lstm"]

    np.testing.assert_array_equal(trace.mask, batch != 0)
    for name in LSTM_GATES:
        gate = trace.gates[name]
        assert gate.shape == (3, width, 4)
        assert np.isnan(gate[batch == 0]).all(), name
        assert not np.isnan(gate[batch != 0]).any(), name
    for index, sequence in enumerate(tokens):
        alone = trace_gates(model, np.array([sequence], "int32"))["lstm"]
        values = trace.sequence(index)
        for name in LSTM_GATES:
            assert values[name].shape == (len(sequence), 4)
            # The valid steps are exactly those of the sequence run alone.
            np.testing.assert_allclose(values[name], alone.sequence(0)[name], atol=ATOL)
    # NaN-aware statistics see only the valid steps.
    forget = trace.gates["forget_gate"]
    np.testing.assert_allclose(
        np.nanmean(forget, axis=1)[2], trace.sequence(2)["forget_gate"].mean(axis=0), atol=1e-6
    )


def test_mask_with_holes_on_a_single_layer():
    layer = toolkit.layers.GRU(3, reset_after=False)
    x = uniform((2, 4, 2), 20)
    mask = np.array([[True, False, True, True], [False, True, False, True]])

    trace = trace_gates(layer, x, mask=mask)[layer.name]

    np.testing.assert_array_equal(trace.mask, mask)
    for index in range(2):
        kernel, recurrent_kernel, bias = layer.get_weights()
        expected = gru_by_hand(x[index][mask[index]], kernel, recurrent_kernel, bias, False)
        assert_trace_matches(trace, expected, index)
        assert np.isnan(trace.gates["update_gate"][index][~mask[index]]).all()


# === Finding layers ===


def test_stacked_lstms_in_a_sequential_model():
    first = toolkit.layers.LSTM(4, return_sequences=True)
    second = toolkit.layers.LSTM(3, return_sequences=True)
    model = keras.Sequential([keras.Input((5, 2)), first, second])
    x = uniform((2, 5, 2), 21)

    traces = trace_gates(model, x)

    assert list(traces) == [first.name, second.name]
    assert len(set(traces)) == 2
    assert traces[first.name].gates["hidden_state"].shape == (2, 5, 4)
    assert traces[second.name].gates["hidden_state"].shape == (2, 5, 3)
    # The second layer is traced on what it really received: the first's outputs.
    intermediate = keras.ops.convert_to_numpy(first(x))
    np.testing.assert_allclose(traces[first.name].gates["hidden_state"], intermediate, atol=ATOL)
    np.testing.assert_allclose(
        traces[second.name].gates["hidden_state"],
        keras.ops.convert_to_numpy(model(x)),
        atol=ATOL,
    )
    # Stable: a second call gives the same names in the same order, and values.
    again = trace_gates(model, x)
    assert list(again) == list(traces)
    for name in traces:
        for gate in traces[name].gate_names:
            np.testing.assert_array_equal(again[name].gates[gate], traces[name].gates[gate])


def test_sequential_model_without_input_is_built_by_the_trace():
    model = keras.Sequential([toolkit.layers.SimpleRNN(2, name="rnn")])
    traces = trace_gates(model, uniform((1, 3, 2), 22))
    assert list(traces) == ["rnn"]
    assert traces["rnn"].gates["hidden_state"].shape == (1, 3, 2)


def test_bidirectional_gru_finds_both_directions():
    units = 3
    inputs = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, 2, mask_zero=True)(inputs)
    outputs = keras.layers.Bidirectional(
        toolkit.layers.GRU(units, return_sequences=True, name="gru"), name="bi"
    )(embedded)
    model = keras.Model(inputs, outputs)
    tokens = np.array([[1, 2, 3, 4], [5, 6, 0, 0]], "int32")

    traces = trace_gates(model, tokens)

    assert list(traces) == ["bi/forward_gru", "bi/backward_gru"]
    output = keras.ops.convert_to_numpy(model(tokens))
    forward, backward = traces["bi/forward_gru"], traces["bi/backward_gru"]
    assert backward.gate_names == GRU_GATES
    for index, length in enumerate([4, 2]):
        # Bidirectional returns both directions in input time order, like the trace.
        np.testing.assert_allclose(
            forward.sequence(index)["hidden_state"], output[index, :length, :units], atol=ATOL
        )
        np.testing.assert_allclose(
            backward.sequence(index)["hidden_state"], output[index, :length, units:], atol=ATOL
        )
    assert np.isnan(backward.gates["reset_gate"][1, 2:]).all()


def test_nested_models_give_unique_paths():
    def encoder(name):
        inputs = keras.Input((None, 2))
        return keras.Model(
            inputs, toolkit.layers.LSTM(3, return_sequences=True, name="rnn")(inputs), name=name
        )

    head = keras.Sequential([toolkit.layers.SimpleRNN(2, name="rnn")], name="head")
    inputs = keras.Input((4, 2))
    left = encoder("left")(inputs)
    right = encoder("right")(inputs)
    merged = keras.layers.Concatenate()([left, right])
    middle = toolkit.layers.GRU(2, return_sequences=True, name="gru")(merged)
    model = keras.Model(inputs, head(middle))
    x = uniform((2, 4, 2), 23)

    traces = trace_gates(model, x)

    assert list(traces) == ["left/rnn", "right/rnn", "gru", "head/rnn"]
    assert [trace.layer_name for trace in traces.values()] == list(traces)
    assert traces["left/rnn"].gate_names == LSTM_GATES
    assert traces["head/rnn"].gate_names == ("hidden_state",)
    np.testing.assert_allclose(
        traces["head/rnn"].gates["hidden_state"][:, -1],
        keras.ops.convert_to_numpy(model(x)),
        atol=ATOL,
    )


class Classifier(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.encoder = toolkit.layers.GRU(3, return_sequences=True, name="encoder")
        self.summary_rnn = toolkit.layers.LSTM(2, name="summary")
        self.dense = keras.layers.Dense(1)

    def call(self, inputs):
        return self.dense(self.summary_rnn(self.encoder(inputs)))


class LazyModel(keras.Model):
    def build(self, input_shape):
        self.rnn = toolkit.layers.SimpleRNN(2, name="lazy_rnn")

    def call(self, inputs):
        return self.rnn(inputs)


def test_subclassed_models():
    x = uniform((2, 3, 2), 24)
    traces = trace_gates(Classifier(), x)
    assert list(traces) == ["encoder", "summary"]
    assert traces["summary"].gates["cell_state"].shape == (2, 3, 2)

    traces = trace_gates(LazyModel(), x)
    assert list(traces) == ["lazy_rnn"]


def test_shared_layer_gives_one_trace_per_call():
    shared = toolkit.layers.GRU(2, name="shared")
    first, second = keras.Input((3, 2)), keras.Input((3, 2))
    model = keras.Model([first, second], keras.layers.Add()([shared(first), shared(second)]))
    a, b = uniform((1, 3, 2), 25), uniform((1, 3, 2), 26)

    traces = trace_gates(model, [a, b])

    assert list(traces) == ["shared/call_0", "shared/call_1"]
    kernel, recurrent_kernel, bias = shared.get_weights()
    assert_trace_matches(
        traces["shared/call_0"], gru_by_hand(a[0], kernel, recurrent_kernel, bias, True)
    )
    assert_trace_matches(
        traces["shared/call_1"], gru_by_hand(b[0], kernel, recurrent_kernel, bias, True)
    )


# === go_backwards and stateful layers ===


def test_go_backwards_trace_is_in_input_time_order():
    backward = toolkit.layers.LSTM(3, go_backwards=True, return_sequences=True)
    forward = toolkit.layers.LSTM(3, return_sequences=True)
    x = uniform((2, 4, 2), 27)
    backward(x)
    forward(x)
    forward.set_weights(backward.get_weights())

    traced = trace_gates(backward, x)[backward.name]
    reference = trace_gates(forward, x[:, ::-1])[forward.name]

    for name in LSTM_GATES:
        np.testing.assert_allclose(traced.gates[name], reference.gates[name][:, ::-1], atol=ATOL)
    # The layer itself returns go_backwards sequences in reversed order.
    np.testing.assert_allclose(
        traced.gates["hidden_state"],
        keras.ops.convert_to_numpy(backward(x))[:, ::-1],
        atol=ATOL,
    )

    # With right padding: each sequence equals the forward run of its
    # reversed valid steps, read back in input order.
    mask = np.array([[True, True, True, True], [True, True, False, False]])
    traced = trace_gates(backward, x, mask=mask)[backward.name]
    for index, length in enumerate([4, 2]):
        alone = trace_gates(forward, x[index : index + 1, :length][:, ::-1])[forward.name]
        for name in LSTM_GATES:
            np.testing.assert_allclose(
                traced.sequence(index)[name], alone.sequence(0)[name][::-1], atol=ATOL
            )


def test_stateful_layer_is_traced_from_its_current_state_and_left_unchanged():
    layer = toolkit.layers.LSTM(2, stateful=True, return_sequences=True, name="lstm")
    model = keras.Sequential([keras.Input((3, 2), batch_size=2), layer])
    first, second = uniform((2, 3, 2), 28), uniform((2, 3, 2), 29)
    model(first)
    states = [keras.ops.convert_to_numpy(state) for state in layer.states]
    assert np.abs(states[0]).sum() > 0

    trace = trace_gates(model, second)["lstm"]

    for before, after in zip(states, layer.states):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(after), before)
    kernel, recurrent_kernel, bias = layer.get_weights()
    for index in range(2):
        expected = lstm_by_hand(
            second[index], kernel, recurrent_kernel, bias, states[0][index], states[1][index]
        )
        assert_trace_matches(trace, expected, index)
    np.testing.assert_allclose(
        trace.gates["hidden_state"], keras.ops.convert_to_numpy(model(second)), atol=ATOL
    )


def test_mixed_precision_model():
    keras.config.set_dtype_policy("mixed_float16")
    inputs = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, 3, mask_zero=True)(inputs)
    outputs = toolkit.layers.LSTM(4, return_sequences=True, name="lstm")(embedded)
    model = keras.Model(inputs, outputs)
    tokens = np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int32")

    trace = trace_gates(model, tokens)["lstm"]

    assert trace.gates["hidden_state"].dtype == np.float32
    output = keras.ops.convert_to_numpy(model(tokens)).astype("float32")
    for index, length in enumerate([3, 2]):
        np.testing.assert_allclose(
            trace.sequence(index)["hidden_state"], output[index, :length], atol=1e-3
        )
    assert np.isnan(trace.gates["cell_state"][1, 2:]).all()


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_layer_trace_called_directly_under_mixed_precision(policy):
    # `Recurrent.trace` enters the layer's autocast scope itself (it used to
    # fail with float32 variables meeting float16 inputs).
    keras.config.set_dtype_policy(policy)
    layer = toolkit.layers.GRU(3, return_sequences=True)
    inputs = uniform((2, 4, 2), 40)
    outputs = keras.ops.convert_to_numpy(keras.ops.cast(layer(inputs), "float32"))
    gates = layer.trace(inputs)
    hidden = keras.ops.convert_to_numpy(keras.ops.cast(gates["hidden_state"], "float32"))
    # The trace runs the step loop; the call may run a kernel (PyTorch's on torch) whose
    # half-precision arithmetic differs from it within the dtype's precision.
    tolerance = {"mixed_float16": 4e-3, "mixed_bfloat16": 3e-2}[policy]  # 4 eps of the dtype
    np.testing.assert_allclose(hidden, outputs, atol=tolerance)
    layer.fused = False
    step_loop = keras.ops.convert_to_numpy(keras.ops.cast(layer(inputs), "float32"))
    np.testing.assert_allclose(hidden, step_loop, atol=1e-6)
    assert keras.backend.standardize_dtype(gates["update_gate"].dtype) == policy.split("_")[1]


# === Errors and cleanup ===


def test_model_without_toolkit_layers_raises():
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.LSTM(2)])
    with pytest.raises(ValueError, match="model_or_layer.*no toolkit recurrent layer"):
        trace_gates(model, uniform((1, 3, 2), 30))


def test_non_layer_raises():
    with pytest.raises(ValueError, match="model_or_layer"):
        trace_gates(lambda x: x, uniform((1, 3, 2), 31))


# Keras itself warns that the unused layer of the subclassed model is unbuilt.
@pytest.mark.filterwarnings("ignore:`build\\(\\)` was called on layer")
def test_layer_that_is_never_called_raises():
    class Unused(keras.Model):
        def __init__(self):
            super().__init__()
            self.used = toolkit.layers.GRU(2, name="used")
            self.unused = toolkit.layers.GRU(2, name="unused")

        def call(self, inputs):
            return self.used(inputs)

    model = Unused()
    with pytest.raises(ValueError, match="model_or_layer.*'unused'.*not called"):
        trace_gates(model, uniform((1, 3, 2), 32))
    assert model.used._trace_sink is None and model.unused._trace_sink is None


def test_training_argument_raises():
    layer = toolkit.layers.GRU(2)
    with pytest.raises(ValueError, match="training"):
        trace_gates(layer, uniform((1, 3, 2), 33), training=True)


def test_trace_sink_is_restored_when_the_forward_pass_fails():
    layer = toolkit.layers.LSTM(2, name="lstm")
    model = keras.Sequential([keras.Input((3, 2)), layer])
    with pytest.raises(Exception):  # noqa: B017 - whatever Keras raises on a bad shape
        trace_gates(model, uniform((1, 3, 5), 34))
    assert layer._trace_sink is None
    trace_gates(model, uniform((1, 3, 2), 35))
    assert layer._trace_sink is None


# === GateTrace ===


def test_gate_trace_by_hand():
    mask = np.array([[False, True, True], [True, False, False]])
    trace = GateTrace("rnn", {"hidden_state": np.arange(12.0).reshape(2, 3, 2)}, mask=mask)

    assert trace.gate_names == ("hidden_state",)
    assert trace.batch_size == 2 and trace.steps == 3
    np.testing.assert_array_equal(trace.lengths, [2, 1])
    np.testing.assert_array_equal(trace.sequence(0)["hidden_state"], [[2.0, 3.0], [4.0, 5.0]])
    np.testing.assert_array_equal(trace.sequence(-1)["hidden_state"], [[6.0, 7.0]])
    assert np.isnan(trace.gates["hidden_state"][~mask]).all()
    assert "GateTrace(layer_name='rnn', hidden_state=(2, 3, 2))" == repr(trace)
    with pytest.raises(ValueError, match="index"):
        trace.sequence(2)
    with pytest.raises(ValueError, match="mask"):
        GateTrace("rnn", {"hidden_state": np.zeros((2, 3, 2))}, mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="gates"):
        GateTrace("rnn", {"hidden_state": np.zeros((2, 3))})


def test_docstring_examples():
    results = doctest.testmod(traces_module, extraglobs={"GateTrace": GateTrace})
    assert results.attempted > 0
    assert results.failed == 0
