"""The fused LSTM / GRU loops against the generic step loop (the reference).

The generic loop is itself pinned to NumPy step loops and to Keras' layers
(`test_numpy_reference.py`, `test_keras_parity.py`); here the fused loop with
its hand-written backward pass must give the same outputs, final states and
gradients (inputs, initial states, every weight) to 1e-5, with masks of every
shape, `go_backwards`, initial states and inside `Bidirectional`.
"""

import keras
import numpy as np
import pytest

import toolkit

pytestmark = pytest.mark.tensorflow_only


def _masks(batch, time):
    right = np.ones((batch, time), bool)
    right[1, time // 2 :] = False
    holes = np.ones((batch, time), bool)
    holes[0, 1::3] = False
    holes[2, :3] = False  # left padding
    holes[3, :] = False  # nothing valid: state kept, outputs zero
    return {"none": None, "right": right, "holes": holes}


def _pair(kind, **options):
    fast = toolkit.layers.get(kind)(5, return_sequences=True, return_state=True, **options)
    slow = toolkit.layers.get(kind)(
        5, return_sequences=True, return_state=True, fused=False, **options
    )
    return fast, slow


def _run_with_gradients(layer, inputs, states, mask, training=False):
    import tensorflow as tf

    inputs = tf.constant(inputs)
    states = [tf.constant(state) for state in states]
    weights = np.linspace(-1.0, 1.0, 5).astype("float32")
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        tape.watch(states)
        outputs = layer(inputs, initial_state=states, mask=mask, training=training)
        # Every output reaches the loss with its own weight, so every gradient path is used.
        loss = tf.reduce_sum(outputs[0] * weights) + sum(
            tf.reduce_sum(state * (index + 2.0)) for index, state in enumerate(outputs[1:])
        )
    gradients = tape.gradient(loss, [inputs, *states, *layer.trainable_weights])
    return [np.asarray(o) for o in outputs], [np.asarray(g) for g in gradients]


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("mask_name", ["none", "right", "holes"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training-xla"])
def test_fused_loop_equals_the_step_loop_with_gradients(kind, mask_name, go_backwards, training):
    rng = np.random.default_rng(7)
    inputs = rng.normal(size=(4, 9, 3)).astype("float32")
    fast, slow = _pair(kind, go_backwards=go_backwards)
    fast.build(inputs.shape)
    slow.build(inputs.shape)
    # Random weights, biases included (initially zero or one per gate, where a misplaced
    # or missing bias could go unseen).
    weights = [rng.normal(size=w.shape).astype("float32") * 0.5 for w in fast.get_weights()]
    fast.set_weights(weights)
    slow.set_weights(weights)
    states = [rng.normal(size=(4, 5)).astype("float32") for _ in fast.cell.state_size]
    mask = _masks(4, 9)[mask_name]

    fast_outputs, fast_gradients = _run_with_gradients(fast, inputs, states, mask, training)
    slow_outputs, slow_gradients = _run_with_gradients(slow, inputs, states, mask, training)

    assert fast.execution_path.startswith("fused")
    assert slow.execution_path == "step loop (fused=False)"
    for got, want in zip(fast_outputs + fast_gradients, slow_outputs + slow_gradients):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_training_runs_up_to_four_chunks_of_at_least_sixteen_steps():
    from toolkit.layers.fused import training_chunks

    lengths = [1, 15, 31, 32, 47, 48, 63, 64, 100, 5000]
    assert [training_chunks(n, 32) for n in lengths] == [1, 1, 1, 2, 2, 3, 3, 4, 4, 4]
    assert [training_chunks(100, rows) for rows in (1, 16, 31, 32, 64)] == [1, 1, 1, 4, 4]


def _chunked_anywhere(monkeypatch, rows=1):
    """Chunks as where they run side by side, from `rows` rows."""
    from toolkit.layers import fused

    monkeypatch.setattr(fused, "_side_by_side", lambda: True)
    monkeypatch.setattr(fused, "MIN_CHUNK_ROWS", rows)


def _count_chunks(monkeypatch):
    from toolkit.layers import fused

    calls = []
    run_chunk = fused._fused_chunk

    def counted(cell, projected, states, mask):
        calls.append(projected.shape[0])
        return run_chunk(cell, projected, states, mask)

    monkeypatch.setattr(fused, "_fused_chunk", counted)
    return calls


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("mask_name", ["none", "right", "holes"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_training_in_time_chunks_equals_the_step_loop(monkeypatch, kind, mask_name, go_backwards):
    """Chunks carry the states (and their gradients) across their borders: 9 steps in
    chunks of 2, 2, 2 and 3 (chunks of at least 2 steps here) give the step loop's
    outputs, final states and every gradient; so does the rule's own chunking of 64
    steps (4 chunks of 16)."""
    from toolkit.layers import fused

    rng = np.random.default_rng(5)
    fast, slow = _pair(kind, go_backwards=go_backwards)
    fast.build((4, None, 3))
    slow.build((4, None, 3))
    weights = [rng.normal(size=w.shape).astype("float32") * 0.5 for w in fast.get_weights()]
    fast.set_weights(weights)
    slow.set_weights(weights)
    calls = _count_chunks(monkeypatch)
    _chunked_anywhere(monkeypatch)
    for time, shortest in ((9, 2), (64, fused.MIN_CHUNK_STEPS)):
        monkeypatch.setattr(fused, "MIN_CHUNK_STEPS", shortest)
        inputs = rng.normal(size=(4, time, 3)).astype("float32")
        states = [rng.normal(size=(4, 5)).astype("float32") for _ in fast.cell.state_size]
        mask = _masks(4, time)[mask_name]
        calls.clear()
        fast_outputs, fast_gradients = _run_with_gradients(fast, inputs, states, mask, True)
        assert calls == ([2, 2, 2, 3] if time == 9 else [16] * 4)
        slow_outputs, slow_gradients = _run_with_gradients(slow, inputs, states, mask, True)
        for got, want in zip(fast_outputs + fast_gradients, slow_outputs + slow_gradients):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_training_chunks_with_a_time_axis_known_at_run_time(monkeypatch, kind):
    """A traced training step whose time and batch axes are `None` (a `fit` over
    batches of several lengths) decides in the graph: `TRAINING_CHUNKS` chunks from
    `TRAINING_CHUNKS * MIN_CHUNK_STEPS` steps and `MIN_CHUNK_ROWS` rows on, one
    below. Both branches give the step loop's outputs and gradients."""
    import tensorflow as tf

    from toolkit.layers import fused

    monkeypatch.setattr(fused, "MIN_CHUNK_STEPS", 2)  # 4 chunks from 8 steps on
    _chunked_anywhere(monkeypatch, rows=2)
    rng = np.random.default_rng(9)
    fast, slow = _pair(kind)
    fast.build((3, None, 2))
    slow.build((3, None, 2))
    slow.set_weights(fast.get_weights())
    calls = _count_chunks(monkeypatch)

    def gradients(layer, inputs, mask):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs, *states = layer(inputs, mask=mask, training=True)
            loss = tf.reduce_sum(outputs * tf.range(5.0)) + sum(
                tf.reduce_sum(state) * (k + 2.0) for k, state in enumerate(states)
            )
        return [outputs, *states, *tape.gradient(loss, [inputs, *layer.trainable_weights])]

    signature = [tf.TensorSpec([None, None, 2]), tf.TensorSpec([None, None], tf.bool)]
    traced = tf.function(lambda x, mask: gradients(fast, x, mask), input_signature=signature)
    for time, rows in ((3, 3), (7, 3), (8, 3), (11, 3), (11, 1)):
        inputs = tf.constant(rng.normal(size=(rows, time, 2)).astype("float32"))
        mask = np.ones((rows, time), bool)
        mask[-1, time // 2 :] = False
        got = traced(inputs, mask)
        want = gradients(slow, inputs, mask)
        for value, expected in zip(got, want):
            np.testing.assert_allclose(np.asarray(value), np.asarray(expected), atol=1e-5)
    assert calls == [None] * 5  # traced once: four chunks and one, in a `tf.cond`


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("mask_name", ["none", "holes"])
@pytest.mark.parametrize("trace", ["eager", "dynamic_time", "xla"])
def test_inference_blocks_give_the_step_loop_at_every_length(kind, mask_name, trace):
    """Inference projects and runs `INFERENCE_BLOCK` steps per iteration, the rest
    one by one: every length around the blocks (shorter than one, whole blocks, a
    remainder), with a static time axis, a dynamic one (guarded empty parts) and
    under XLA (a model's `jit_compile=True`)."""
    import tensorflow as tf

    from toolkit.layers.fused import INFERENCE_BLOCK

    rng = np.random.default_rng(11)
    fast, slow = _pair(kind, go_backwards=mask_name == "holes")
    fast.build((4, None, 3))
    slow.build((4, None, 3))
    weights = [rng.normal(size=w.shape).astype("float32") * 0.5 for w in fast.get_weights()]
    fast.set_weights(weights)
    slow.set_weights(weights)
    signature = [tf.TensorSpec([4, None, 3]), tf.TensorSpec([4, None], tf.bool)]
    if trace == "eager":
        run = fast
    elif trace == "dynamic_time":
        run = tf.function(lambda x, mask: fast(x, mask=mask), input_signature=signature)
    else:
        run = tf.function(lambda x, mask: fast(x, mask=mask), jit_compile=True)
    assert sorted(INFERENCE_BLOCK.values()) == [2, 4]
    for time in (1, 2, 3, 4, 5, 8, 9):
        inputs = rng.normal(size=(4, time, 3)).astype("float32")
        mask = np.ones((4, time), bool) if mask_name == "none" else _masks(4, time)["holes"]
        got = run(inputs, mask=mask)
        want = slow(inputs, mask=mask)
        assert fast.execution_path.startswith("fused")
        for value, expected in zip(got, want):
            assert tuple(value.shape)[1:] == tuple(expected.shape)[1:]
            np.testing.assert_allclose(np.asarray(value), np.asarray(expected), atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_inference_serves_an_empty_batch(kind):
    """Regression: the block projection reshaped with -1, which a batch of 0 rows
    cannot infer (a served SavedModel's empty request failed)."""
    import tensorflow as tf

    fast, _ = _pair(kind)
    traced = tf.function(fast, input_signature=[tf.TensorSpec([None, None, 3])])
    outputs, *states = traced(tf.zeros((0, 5, 3)))
    assert tuple(outputs.shape) == (0, 5, 5)
    assert [tuple(state.shape) for state in states] == [(0, 5)] * len(states)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fused_loop_keeps_exactness_over_long_sequences_in_fit(kind):
    """A whole `fit` step (Adam) on 200 steps moves both copies' weights alike."""
    rng = np.random.default_rng(3)
    inputs = rng.normal(size=(8, 200, 4)).astype("float32")
    targets = rng.normal(size=(8, 6)).astype("float32")
    models = []
    for fused in ("auto", False):
        layer = toolkit.layers.get(kind)(6, fused=fused)
        model = keras.Sequential([keras.Input((200, 4)), layer])
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    for model in models:
        model.fit(inputs, targets, batch_size=8, epochs=2, verbose=0, shuffle=False)
    assert models[0].layers[0].execution_path.startswith("fused")
    for got, want in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_bidirectional_and_input_dropout_keep_the_fused_loop():
    layer = keras.layers.Bidirectional(toolkit.layers.LSTM(4, return_sequences=True, dropout=0.2))
    layer(np.zeros((2, 5, 3), "float32"), training=True)
    assert layer.forward_layer.execution_path.startswith("fused")
    assert layer.backward_layer.execution_path.startswith("fused")


@pytest.mark.parametrize(
    "options, reason",
    [
        ({"peephole": True}, "peephole=True"),
        ({"layer_norm": True}, "layer_norm=True"),
        ({"projection": 3}, "projection=3"),
        ({"activation": "relu"}, "activations 'relu'"),
        ({"zoneout": 0.1}, "zoneout=0.1"),
    ],
)
def test_unsupported_options_say_why_the_step_loop_runs(options, reason):
    layer = toolkit.layers.LSTM(4, **options)
    layer(np.zeros((2, 5, 3), "float32"))
    assert layer.execution_path.startswith("step loop") and reason in layer.execution_path
    strict = toolkit.layers.LSTM(4, fused=True, **options)
    with pytest.raises(ValueError, match="`fused=True` needs a standard LSTM or GRU"):
        strict(np.zeros((2, 5, 3), "float32"))


def test_recurrent_dropout_in_training_uses_the_step_loop():
    layer = toolkit.layers.GRU(4, recurrent_dropout=0.3)
    layer(np.zeros((2, 5, 3), "float32"), training=True)
    assert "recurrent_dropout=0.3" in layer.execution_path
    layer(np.zeros((2, 5, 3), "float32"), training=False)
    assert layer.execution_path.startswith("fused")


def test_fused_setting_round_trips_and_is_checked():
    layer = toolkit.layers.GRU(4, fused=False)
    assert toolkit.layers.GRU.from_config(layer.get_config()).fused is False
    with pytest.raises(ValueError, match="`fused` expected 'auto', True or False"):
        toolkit.layers.GRU(4, fused="yes")


@pytest.mark.parametrize("training", [False, True])
def test_fused_outputs_keep_static_shapes_inside_a_traced_step(training):
    """Regression: the compiled loops are shared by every layer and traced for relaxed
    shapes, so after layers of several widths had run they returned `(None, None, None)`,
    which broke layers reading `inputs.shape[-1]` (AttentionPooling) inside `fit`."""
    import tensorflow as tf

    for units in (2, 3, 4):  # other layers, other widths: the loops retrace, relaxed
        toolkit.layers.GRU(units)(np.zeros((2, 3 + units, 3), "float32"), training=training)
    layer = toolkit.layers.GRU(5, return_sequences=True, return_state=True)
    shapes = []

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])
    def traced(inputs):
        outputs = layer(inputs, training=training)
        shapes.append([tuple(value.shape) for value in outputs])
        return outputs[0]

    traced(tf.zeros((2, 4, 3)))
    assert layer.execution_path.startswith("fused")
    assert shapes[0] == [(None, None, 5), (None, 5)]


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("parts, batch", [(2, 5), (3, 4), (2, 1)])
def test_batch_slices_of_the_compiled_loop_give_the_same_results(monkeypatch, kind, parts, batch):
    """The training loops may run on slices of the batch side by side (`_in_parts`):
    uneven slices and an empty one (batch 1 in two slices) change nothing."""
    from toolkit.layers import fused

    monkeypatch.setattr(fused, "_batch_parts", lambda cell, rows: parts)
    rng = np.random.default_rng(11)
    inputs = rng.normal(size=(batch, 7, 3)).astype("float32")
    fast, slow = _pair(kind)
    fast.build(inputs.shape)
    slow.build(inputs.shape)
    slow.set_weights(fast.get_weights())
    states = [rng.normal(size=(batch, 5)).astype("float32") for _ in fast.cell.state_size]
    mask = np.ones((batch, 7), bool)
    mask[-1, 4:] = False
    mask[0, :2] = False

    fast_outputs, fast_gradients = _run_with_gradients(fast, inputs, states, mask, True)
    slow_outputs, slow_gradients = _run_with_gradients(slow, inputs, states, mask, True)

    for got, want in zip(fast_outputs + fast_gradients, slow_outputs + slow_gradients):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("split", ["steps", "loops", "loops_unknown_batch"])
def test_inference_batch_splits_give_the_step_loop(monkeypatch, kind, split):
    """Inference may split the batch (`_inference_split`): each step on two slices
    (under XLA) or two loops over half the rows each (plain ops; with the batch
    unknown when traced, chosen in the graph). Uneven halves, an empty one (one
    row), masks with holes and a row with no valid step, `go_backwards`, initial
    states and a remainder after the blocks change nothing."""
    import tensorflow as tf

    from toolkit.layers import fused

    monkeypatch.setattr(fused, "_inference_split", lambda batch: split.split("_")[0])
    monkeypatch.setattr(fused, "TWO_LOOPS_ROWS", 1 if split == "loops" else 3)
    rng = np.random.default_rng(5)
    fast, slow = _pair(kind, go_backwards=True)
    fast.build((None, 7, 3))
    slow.build((None, 7, 3))
    weights = [rng.normal(size=w.shape).astype("float32") * 0.5 for w in fast.get_weights()]
    fast.set_weights(weights)
    slow.set_weights(weights)

    def call(x, mask, *states):
        return fast(x, mask=mask, initial_state=list(states))

    if split == "steps":
        run = tf.function(call, jit_compile=True)
    elif split == "loops":
        run = tf.function(call)
    else:  # one trace for every batch: `tf.cond` picks halves (5 rows) or one loop (1)
        specs = [tf.TensorSpec([None, 7, 3]), tf.TensorSpec([None, 7], tf.bool)]
        specs += [tf.TensorSpec([None, 5])] * len(fast.cell.state_size)
        run = tf.function(call, input_signature=specs)
    for batch in (5, 1):
        inputs = rng.normal(size=(batch, 7, 3)).astype("float32")
        states = [rng.normal(size=(batch, 5)).astype("float32") for _ in fast.cell.state_size]
        mask = _masks(max(batch, 4), 7)["holes"][-batch:]  # batch 1: its row with no valid step
        got = run(inputs, mask, *states)
        want = slow(inputs, mask=mask, initial_state=states)
        assert fast.execution_path.startswith("fused")
        for value, expected in zip(got, want):
            np.testing.assert_allclose(np.asarray(value), np.asarray(expected), atol=1e-5)


def test_inference_split_follows_the_trace_and_bidirectional(monkeypatch):
    """On two or more CPU threads: slices of each step under XLA (from
    `STEP_SLICES_ROWS` rows), two loops in a plain graph, nothing eagerly or for
    either direction of a `Bidirectional` (whose directions already run side by
    side); nothing on one thread."""
    import tensorflow as tf

    from toolkit.layers import fused

    decide, seen = fused._inference_split, []

    def recorded(batch):
        seen.append(decide(batch))
        return seen[-1]

    monkeypatch.setattr(fused, "_inference_split", recorded)
    lone = toolkit.layers.LSTM(4)
    pair = keras.layers.Bidirectional(toolkit.layers.GRU(4))
    calls = {
        "xla": tf.function(lambda x: lone(x), jit_compile=True),
        "graph": tf.function(lambda x: lone(x)),
        "eager": lone,
        "bidirectional": tf.function(lambda x: pair(x)),
    }
    assert fused.STEP_SLICES_ROWS == 4
    cases = (
        (2, 4, {"xla": "steps", "graph": "loops", "eager": None, "bidirectional": None}),
        (2, 3, {"xla": None, "graph": "loops", "eager": None, "bidirectional": None}),
        (1, 5, dict.fromkeys(calls)),
    )
    _check_decisions(monkeypatch, calls, seen, cases, time=3, features=3)


def _check_decisions(monkeypatch, calls, seen, cases, time, features):
    """For each `(threads, rows, want)` case: every call, on `rows` rows (a new shape, so
    traced again) with `threads` CPU threads, records only `want[call's name]` in `seen`."""
    from toolkit.layers import fused

    for threads, rows, want in cases:
        monkeypatch.setattr(fused, "_cpu_threads", lambda threads=threads: threads)
        for name, call in calls.items():
            seen.clear()
            call(np.ones((rows, time, features), "float32"))
            assert seen and set(seen) == {want[name]}, (name, threads, rows)


def test_training_chunks_only_where_they_run_side_by_side(monkeypatch):
    """Chunks in a graph without XLA on two or more threads, for a batch of at least
    `MIN_CHUNK_ROWS` rows; one chunk under XLA, eagerly, on one thread and for the
    directions of a `Bidirectional` (which already run side by side: chunks there
    made the recipes' models up to 28% slower)."""
    import tensorflow as tf

    from toolkit.layers import fused

    seen = []
    chunked = fused._chunked
    monkeypatch.setattr(fused, "_chunked", lambda *args: seen.append(args[-1]) or chunked(*args))
    lone = toolkit.layers.LSTM(3)
    pair = keras.layers.Bidirectional(toolkit.layers.GRU(3))
    calls = {
        "xla": tf.function(lambda x: lone(x, training=True), jit_compile=True),
        "graph": tf.function(lambda x: lone(x, training=True)),
        "eager": lambda x: lone(x, training=True),
        "bidirectional": tf.function(lambda x: pair(x, training=True)),
    }
    cases = (
        (2, 32, {"xla": 1, "graph": 4, "eager": 1, "bidirectional": 1}),
        (2, 31, dict.fromkeys(calls, 1)),
        (1, 33, dict.fromkeys(calls, 1)),
    )
    _check_decisions(monkeypatch, calls, seen, cases, time=64, features=2)


def test_no_thread_splits_where_tensorflow_has_a_gpu(monkeypatch):
    """The batch slices, loops and time chunks are for a CPU's threads: with a GPU
    visible to TensorFlow (which places the loops there) there is one thread to count."""
    import tensorflow as tf

    from toolkit.layers import fused

    monkeypatch.setattr(fused.os, "sched_getaffinity", lambda pid: {0, 1})
    assert fused._cpu_threads() == 2
    devices = tf.config.list_logical_devices

    def with_a_gpu(kind=None):
        return ["GPU:0"] if kind == "GPU" else devices(kind)

    monkeypatch.setattr(tf.config, "list_logical_devices", with_a_gpu)
    assert fused._cpu_threads() == 1
    assert fused._batch_parts(toolkit.cells.GRUCell(5), None) == 1


def test_gru_fit_with_an_unknown_batch_and_a_last_batch_of_one_row(monkeypatch):
    """Inside `fit` the batch is unknown when the loop is traced, so the GRU takes two
    slices (on two or more CPU threads); a last batch of one row leaves one slice empty.
    Training matches the step loop."""
    from toolkit.layers import fused

    monkeypatch.setattr(fused.os, "sched_getaffinity", lambda pid: {0, 1})
    gru, lstm = toolkit.cells.GRUCell(5), toolkit.cells.LSTMCell(5)
    assert fused._batch_parts(gru, None) == 2 and fused._batch_parts(gru, 8) == 1
    assert fused._batch_parts(lstm, None) == 1
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(33, 4, 3)).astype("float32")
    targets = rng.normal(size=(33, 5)).astype("float32")
    models = []
    for fused_setting in ("auto", False):
        model = keras.Sequential([keras.Input((4, 3)), toolkit.layers.GRU(5, fused=fused_setting)])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    for model in models:
        model.fit(inputs, targets, batch_size=16, epochs=2, verbose=0, shuffle=False)
    assert models[0].layers[0].execution_path.startswith("fused")
    for got, want in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
