"""The parallel scan of `MinGRU` / `MinLSTM` against their step loop and NumPy.

`Recurrent` runs a cell whose recurrence is linear in its state as a parallel
scan over time (`toolkit/layers/scan.py`). Here the scan must give the step
loop's outputs, final states and gradients (inputs, initial state, every
weight) to 1e-5 in float32 up to 4096 steps, with masks and an initial state;
masks of every shape, `go_backwards`, `Bidirectional`, stacking, stateful
layers, zoneout and dropout must give what the independent NumPy references
(`tests/references_minimal.py`) give; and the layers serialize and export.
"""

import keras
import numpy as np
import pytest
import references
import references_minimal
from layer_test import run_layer_test
from serving import serve_without_toolkit

from toolkit.layers.minimal import MinGRU
from toolkit.layers.minimal import MinLSTM
from toolkit.layers.scan import linear_scan

ATOL = 1e-5
TIME, FEATURES, UNITS = 6, 3, 4
LAYERS = {"mingru": MinGRU, "minlstm": MinLSTM}
# What `execution_path` reads for the default scan: on JAX (these tests run on its CPU
# backend) the associative scan runs as one sequential `jax.lax.scan`.
ASSOCIATIVE_PATH = "parallel scan (associative)" + (
    ", run as one jax.lax.scan on XLA:CPU" if keras.backend.backend() == "jax" else ""
)
REFERENCES = references_minimal.REFERENCES
# Four rows each: one batch shape for every masked call (JAX compiles per shape).
PATTERNS = {
    "right": [[1, 1, 1, 1, 0, 0], [1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]],
    "left": [[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1], [0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]],
    "holes": [[1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 1, 0], [1, 1, 0, 0, 1, 1], [1, 0, 0, 0, 0, 1]],
    "fully_masked_row": [[1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [1] * 6],
    "mixed": [[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1], [0, 0, 0, 0, 0, 0]],
}


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def assert_close(actual, expected, tolerance=ATOL):
    np.testing.assert_allclose(to_numpy(actual), expected, atol=tolerance, rtol=tolerance)


def inputs(batch, seed=0, time=TIME):
    return np.random.default_rng(seed).normal(size=(batch, time, FEATURES)).astype("float32")


def initial_states(batch, seed=1):
    return [np.random.default_rng(seed).normal(size=(batch, UNITS)).astype("float32")]


def make_layer(kind, weight_seed=0, **kwargs):
    layer = LAYERS[kind](UNITS, return_sequences=True, return_state=True, **kwargs)
    layer.build((None, None, FEATURES))
    references.perturb_weights(layer, seed=weight_seed)
    return layer


# === The scans ===


@pytest.mark.parametrize("method", ["associative", "log_space"])
@pytest.mark.parametrize("length", [1, 2, 13])
def test_linear_scan_equals_a_sequential_loop(method, length):
    rng = np.random.default_rng(length)
    a = rng.uniform(0.05, 1.0, size=(length, 2, 3))
    b = rng.normal(size=(length, 2, 3))
    if method == "log_space":
        b = np.abs(b)  # log space needs b >= 0
    a[::3, 0] = 1.0  # masked steps: a = 1, b = 0
    b[::3, 0] = 0.0
    h0 = rng.normal(size=(2, 3))  # any sign, also in log space
    expected, h = [], h0
    for t in range(length):
        h = a[t] * h + b[t]
        expected.append(h)
    got = linear_scan(*(x.astype("float32") for x in (a, b, h0)), method=method)
    assert_close(got, np.stack(expected))


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("length", [1, 2, 3, 4, 5, 8, 9, 10, 17, 64, 65, 1000])
def test_blocked_scan_equals_a_sequential_loop(length, reverse):
    """Block sizes that divide the length or leave a partial last block; both directions."""
    import tensorflow as tf

    from toolkit.layers.blocked_scan import blocked_linear_scan

    rng = np.random.default_rng(length)
    a = rng.uniform(-1.0, 1.0, size=(length, 2, 3))  # any sign
    b = rng.normal(size=(length, 2, 3))
    h0 = rng.normal(size=(2, 3))
    expected, h = [None] * length, h0
    for t in reversed(range(length)) if reverse else range(length):
        h = a[t] * h + b[t]
        expected[t] = h
    arguments = [x.astype("float32") for x in (a, b, h0)]
    assert_close(blocked_linear_scan(*arguments, reverse=reverse), np.stack(expected))
    # Traced for any length, and XLA-compiled.
    spec = [tf.TensorSpec([None, 2, 3]), tf.TensorSpec([None, 2, 3]), tf.TensorSpec([2, 3])]
    for jit in (False, True):
        run = tf.function(
            lambda a, b, h0: blocked_linear_scan(a, b, h0, reverse=reverse),
            input_signature=spec,
            jit_compile=jit,
        )
        assert_close(run(*arguments), np.stack(expected))


def test_linear_scan_names_a_bad_method():
    with pytest.raises(ValueError, match="`method` expected one of"):
        linear_scan(np.ones((2, 1)), np.ones((2, 1)), np.ones((1,)), method="serial")


# === Parallel scan = step loop: outputs, final states, gradients, up to 4096 steps ===


def loss_and_gradients(layer, sequences, state, mask, dynamic_time=False, training=False):
    """Outputs and d(loss)/d(inputs, initial state, every weight).

    Every output and the final state reach the loss with their own weights.
    Compiled (`tf.function`, `jax.jit`): eager JAX would compile each level of
    the scan separately, which costs more. `dynamic_time` (TensorFlow): traced
    for any batch and length, as a SavedModel is.
    """
    weights = np.linspace(-1.0, 1.0, UNITS).astype("float32")

    def loss_of(outputs):
        return keras.ops.sum(keras.ops.multiply(outputs[0], weights)) + keras.ops.sum(
            outputs[1] * 2.0
        )

    if keras.backend.backend() == "jax":
        import jax

        non_trainable = [variable.value for variable in layer.non_trainable_variables]

        def loss_function(trainable, sequences, state):
            outputs, _ = layer.stateless_call(
                trainable,
                non_trainable,
                sequences,
                initial_state=[state],
                mask=mask,
                training=training,
            )
            return loss_of(outputs), outputs

        gradient_function = jax.jit(jax.value_and_grad(loss_function, (0, 1, 2), has_aux=True))
        trainable = [variable.value for variable in layer.trainable_variables]
        (_, outputs), gradients = gradient_function(trainable, sequences, state)
        gradients = [gradients[1], gradients[2], *gradients[0]]
    elif keras.backend.backend() == "torch":
        import torch  # eager: the toolkit compiles nothing on torch

        sequences, state = (torch.tensor(x, requires_grad=True) for x in (sequences, state))
        outputs = layer(sequences, initial_state=[state], mask=mask, training=training)
        variables = [variable.value for variable in layer.trainable_variables]
        gradients = torch.autograd.grad(loss_of(outputs), [sequences, state, *variables])
    else:
        import tensorflow as tf

        signature = None
        if dynamic_time:
            signature = [
                tf.TensorSpec([None, None, FEATURES]),
                tf.TensorSpec([None, UNITS]),
                tf.TensorSpec([None, None], tf.bool),
            ]

        @tf.function(input_signature=signature)
        def gradient_function(sequences, state, mask):
            with tf.GradientTape() as tape:
                tape.watch([sequences, state])
                outputs = layer(sequences, initial_state=[state], mask=mask, training=training)
                loss = loss_of(outputs)
            return outputs, tape.gradient(loss, [sequences, state, *layer.trainable_weights])

        outputs, gradients = gradient_function(*(tf.constant(x) for x in (sequences, state, mask)))
    return [to_numpy(value) for value in list(outputs) + list(gradients)]


def long_mask(batch, time):
    """Holes and left padding in row 0, right padding in the others (row 1 empty if time 1)."""
    mask = np.ones((batch, time), bool)
    mask[0, 1::7] = False
    mask[0, 0] = time == 1
    mask[1:, time // 2 :] = False
    return mask


GRADIENT_CASES = {
    "mingru-4096": ("mingru", 4096, {}),
    "minlstm-4096-backwards-zoneout": ("minlstm", 4096, {"go_backwards": True, "zoneout": 0.3}),
    # One step, the scan's edge case (row 1 fully masked); a candidate of any sign.
    "mingru-1-linear": ("mingru", 1, {"candidate_activation": "linear"}),
    # The log-space scan meets 1e-5 on short sequences only (docs/parallel_scan.md).
    "minlstm-37-log_space-no_bias-backwards": (
        "minlstm",
        37,
        {"scan": "log_space", "use_bias": False, "go_backwards": True},
    ),
}


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize(
    "kind, time, options", list(GRADIENT_CASES.values()), ids=list(GRADIENT_CASES)
)
def test_parallel_scan_equals_the_step_loop_with_gradients(kind, time, options, training):
    """In training, TensorFlow runs the XLA-compiled blocked scan and its own backward."""
    sequences = inputs(2, seed=time, time=time)
    (state,) = initial_states(2, seed=time + 1)
    mask = long_mask(2, time)
    # The same seed: in training both layers draw the same zoneout masks.
    parallel = make_layer(kind, weight_seed=time, seed=5, **options)
    loop = make_layer(kind, fused=False, seed=5, **options)
    loop.set_weights(parallel.get_weights())

    got = loss_and_gradients(parallel, sequences, state, mask, training=training)
    want = loss_and_gradients(loop, sequences, state, mask, training=training)

    if parallel.cell.scan == "associative":
        assert parallel.execution_path == ASSOCIATIVE_PATH
    else:
        assert parallel.execution_path == "parallel scan (log space)"
    assert loop.execution_path == "step loop (fused=False)"
    assert len(got) == 2 + 2 + (2 if parallel.cell.use_bias else 1)
    for index, (value, expected) in enumerate(zip(got, want)):
        # d(outputs, state; inputs, state, kernel[, bias])
        np.testing.assert_allclose(value, expected, rtol=ATOL, atol=ATOL, err_msg=f"{index}")
    if training and options.get("zoneout"):
        return  # the NumPy reference draws no zoneout masks
    # The loop itself is the paper's recurrence (NumPy, float64).
    if options.get("go_backwards"):
        sequences, mask = sequences[:, ::-1], mask[:, ::-1]
    expected_outputs, (expected_state,) = REFERENCES[kind](
        sequences, parallel.cell, initial_state=[state], mask=mask, **options
    )
    assert_close(got[0], expected_outputs)
    assert_close(got[1], expected_state)


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize(
    "kind, scan, doubling", [("mingru", "associative", []), ("minlstm", "log_space", [None])]
)
def test_unknown_length_graph_equals_the_step_loop_with_gradients(
    kind, scan, doubling, training, monkeypatch
):
    """A TensorFlow graph traced for any length: the blocked scan, or the doubling form."""
    from toolkit.layers import scan as scan_module

    sequences = inputs(2, seed=8, time=45)
    (state,) = initial_states(2, seed=9)
    mask = long_mask(2, 45)
    parallel = make_layer(kind, weight_seed=10, scan=scan)
    loop = make_layer(kind, fused=False, scan=scan)
    loop.set_weights(parallel.get_weights())
    lengths = []
    original = scan_module._prefix_scan
    monkeypatch.setattr(
        scan_module,
        "_prefix_scan",
        lambda combine, elements, identities: (
            lengths.append(elements[0].shape[0]) or original(combine, elements, identities)
        ),
    )
    got = loss_and_gradients(parallel, sequences, state, mask, True, training)
    # Traced without a length: the log-space scan's logcumsumexp ran in the doubling
    # form; the associative scan runs blocked on TensorFlow, with no prefix scan.
    assert lengths == doubling
    want = loss_and_gradients(loop, sequences, state, mask, True, training)
    assert parallel.execution_path.startswith("parallel scan")
    for index, (value, expected) in enumerate(zip(got, want)):
        np.testing.assert_allclose(value, expected, rtol=ATOL, atol=ATOL, err_msg=f"{index}")


# === Masks, initial state, go_backwards: against NumPy ===


def check_masked_call(layer, kind, x, mask, initial_state=None, go_backwards=False, **options):
    """Masked batch = the reference on each row's valid steps alone; padded outputs are 0."""
    outputs, state = layer(x, mask=mask, initial_state=initial_state)
    outputs, state = to_numpy(outputs), to_numpy(state)
    if go_backwards:
        outputs = outputs[:, ::-1]  # returned in processing order
    np.testing.assert_array_equal(outputs[~mask], 0.0)
    for row in range(len(x)):
        row_state = None if initial_state is None else [initial_state[0][row : row + 1]]
        valid = x[row : row + 1, mask[row]]
        if not mask[row].any():
            expected = np.zeros((1, UNITS)) if row_state is None else row_state[0]
            np.testing.assert_array_equal(state[row : row + 1], expected)
            continue
        if go_backwards:
            valid = valid[:, ::-1]
        alone, (alone_state,) = REFERENCES[kind](valid, layer.cell, row_state, **options)
        if go_backwards:
            alone = alone[:, ::-1]
        assert_close(outputs[row, mask[row]], alone[0])
        assert_close(state[row : row + 1], alone_state)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_padding_patterns_equal_alone_runs(kind, pattern):
    mask = np.array(PATTERNS[pattern], bool)
    layer = make_layer(kind)
    check_masked_call(layer, kind, inputs(len(mask)), mask)
    assert layer.execution_path == ASSOCIATIVE_PATH


@pytest.mark.parametrize("kind", list(LAYERS))
def test_initial_state_and_go_backwards_with_mask(kind):
    mask = np.array(PATTERNS["mixed"], bool)
    x = inputs(len(mask), seed=2)
    state = initial_states(len(mask), seed=3)
    check_masked_call(make_layer(kind), kind, x, mask, initial_state=state)
    layer = make_layer(kind, go_backwards=True)
    check_masked_call(layer, kind, x, mask, initial_state=state, go_backwards=True)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_last_output_is_that_of_the_last_valid_step(kind):
    mask = np.array(PATTERNS["mixed"], bool)
    x = inputs(len(mask), seed=4)
    state = initial_states(len(mask), seed=5)
    layer = LAYERS[kind](UNITS)  # return_sequences=False, return_state=False
    layer.build((None, TIME, FEATURES))
    references.perturb_weights(layer, seed=6)
    last = layer(x, mask=mask, initial_state=state)
    assert layer.execution_path == ASSOCIATIVE_PATH
    outputs, _ = REFERENCES[kind](x, layer.cell, state, mask=mask)
    assert_close(last, references_minimal.last_outputs(outputs, mask))
    np.testing.assert_array_equal(to_numpy(last)[~mask.any(axis=1)], 0.0)


# === Wrappers, stacking, stateful layers ===


def test_bidirectional_with_mask_matches_the_reference():
    layer = keras.layers.Bidirectional(MinLSTM(UNITS, return_sequences=True), merge_mode="concat")
    layer.build((None, TIME, FEATURES))
    references.perturb_weights(layer, seed=7)
    mask = np.array(PATTERNS["mixed"], bool)
    x = inputs(len(mask), seed=8)
    outputs = to_numpy(layer(x, mask=mask))
    assert layer.forward_layer.execution_path == ASSOCIATIVE_PATH
    assert layer.backward_layer.execution_path == ASSOCIATIVE_PATH
    forward, _ = REFERENCES["minlstm"](x, layer.forward_layer.cell, mask=mask)
    backward, _ = REFERENCES["minlstm"](x[:, ::-1], layer.backward_layer.cell, mask=mask[:, ::-1])
    assert_close(outputs, np.concatenate([forward, backward[:, ::-1]], axis=-1))


def test_stacked_layers_pass_the_mask_with_an_unknown_length():
    tokens = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, FEATURES, mask_zero=True)(tokens)
    first = MinGRU(UNITS, return_sequences=True, zoneout=0.2)
    second = MinLSTM(UNITS)
    model = keras.Model(tokens, second(first(embedded)))
    references.perturb_weights(model, seed=9)
    ids = np.array([[3, 4, 5, 0, 0, 0], [0, 0, 7, 8, 9, 1], [2, 0, 6, 6, 0, 9]], "int32")
    mask = ids != 0
    got = model.predict(ids, verbose=0)  # compiled, time unknown at trace time on TensorFlow
    assert first.execution_path == second.execution_path == ASSOCIATIVE_PATH
    embeddings = to_numpy(model.layers[1].embeddings)[ids]
    hidden, _ = REFERENCES["mingru"](embeddings, first.cell, mask=mask, zoneout=0.2)
    outputs, _ = REFERENCES["minlstm"](hidden, second.cell, mask=mask)
    assert_close(got, references_minimal.last_outputs(outputs, mask))


def test_stateful_layer_carries_the_state_across_calls():
    sequences = keras.Input((None, FEATURES), batch_size=2)
    layer = MinGRU(UNITS, stateful=True, return_sequences=True)
    model = keras.Model(sequences, layer(sequences))
    references.perturb_weights(layer, seed=10)
    x = inputs(2, seed=11)
    halves = np.concatenate([to_numpy(model(x[:, :3])), to_numpy(model(x[:, 3:]))], axis=1)
    assert layer.execution_path == ASSOCIATIVE_PATH
    expected, (expected_state,) = REFERENCES["mingru"](x, layer.cell)
    assert_close(halves, expected)
    assert_close(layer.states[0], expected_state)
    layer.reset_state()
    assert_close(model(x[:, :3]), expected[:, :3])


# === Training mode: zoneout and dropout draw the same masks in both paths ===


@pytest.mark.parametrize(
    "options", [{"zoneout": 0.4}, {"dropout": 0.3}], ids=["zoneout", "dropout"]
)
def test_training_randomness_is_the_same_in_both_paths(options):
    mask = np.array(PATTERNS["holes"], bool)
    x = inputs(len(mask), seed=12)
    results = []
    for fused in ("auto", False):
        layer = make_layer("minlstm", weight_seed=13, fused=fused, seed=14, **options)
        outputs, state = layer(x, mask=mask, training=True)
        results.append((to_numpy(outputs), to_numpy(state), layer.execution_path))
    (parallel_outputs, parallel_state, path), (loop_outputs, loop_state, _) = results
    assert path == ASSOCIATIVE_PATH
    assert_close(parallel_outputs, loop_outputs)
    assert_close(parallel_state, loop_state)
    # The masks were drawn: training differs from inference.
    inference, _ = layer(x, mask=mask)
    assert np.abs(to_numpy(inference) - loop_outputs).max() > 1e-3


# === Which path runs ===


def test_execution_path_and_fused_setting():
    x = inputs(2)
    layer = MinGRU(UNITS, unroll=True)
    layer(x)
    assert layer.execution_path == "step loop (unroll=True)"
    with pytest.raises(ValueError, match="`fused=True` needs a call the parallel scan can run"):
        MinGRU(UNITS, unroll=True, fused=True)(x)
    strict = make_layer("minlstm", fused=True)
    outputs, _ = strict(x)
    assert strict.execution_path == ASSOCIATIVE_PATH
    # Gate tracing runs the step loop, with the same outputs.
    gates = strict.trace(x)
    assert strict.execution_path == "step loop (gate tracing)"
    assert_close(gates["hidden_state"], to_numpy(outputs))


# === Serialization, training step, mixed precision, SavedModel ===


@pytest.mark.parametrize(
    "layer_class, options, mixed_precision",
    [
        (MinGRU, {"return_sequences": True}, False),
        (MinLSTM, {"return_state": True, "scan": "log_space"}, True),
    ],
    ids=["mingru", "minlstm-log_space-mixed_bfloat16"],
)
def test_run_layer_test(layer_class, options, mixed_precision):
    expected = (2, 4, 3) if options.get("return_sequences") else [(2, 3), (2, 3)]
    run_layer_test(
        layer_class,
        {"units": 3, **options},
        (2, 4, 5),
        expected,
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=0,
        supports_masking=True,
        run_mixed_precision_check=mixed_precision,
        mixed_precision_policies=("mixed_bfloat16",),
    )


SERVE = """
inputs = np.load(f"{directory}/inputs.npz")
restored = tf.saved_model.load(f"{directory}/model")
outputs = {name: np.asarray(restored.serve(tf.constant(inputs[name]))) for name in inputs}
np.savez(f"{directory}/outputs.npz", **outputs)
"""


@pytest.mark.tensorflow_only
def test_saved_model_serves_without_toolkit(tmp_path):
    tokens = keras.Input((None,), dtype="int32")  # any length
    x = keras.layers.Embedding(10, FEATURES, mask_zero=True)(tokens)
    x = keras.layers.Bidirectional(MinLSTM(UNITS, return_sequences=True))(x)
    x = MinGRU(UNITS, go_backwards=True)(x)
    model = keras.Model(tokens, keras.layers.Dense(2)(x))
    rng = np.random.default_rng(0)
    cases = {"short": rng.integers(1, 10, size=(3, 5)), "long": rng.integers(1, 10, size=(2, 9))}
    cases["short"][0, 3:] = 0  # right padding
    cases["short"][1, :2] = 0  # left padding
    cases = {name: ids.astype("int32") for name, ids in cases.items()}
    expected = {name: to_numpy(model(ids)) for name, ids in cases.items()}
    model.export(str(tmp_path / "model"), verbose=False)
    np.savez(tmp_path / "inputs.npz", **cases)

    serve_without_toolkit(tmp_path, SERVE)

    served = np.load(tmp_path / "outputs.npz")
    for name in cases:
        np.testing.assert_allclose(served[name], expected[name], rtol=1e-5, atol=1e-5)


def test_scan_error_benchmark_runs_at_a_tiny_size(capsys):
    from benchmarks import scan_error

    lines = scan_error.main(["--lengths", "6"])
    rows = [line.strip("| ").split(" | ") for line in lines if line.startswith("| min")]
    assert len(rows) == 4  # two cells x two regimes
    for row in rows:
        errors = [float(value) for value in row[4:]]  # step loop, associative, log space
        assert len(errors) == 3 and max(errors) < 1e-5, row
    assert lines[-1] in capsys.readouterr().out
