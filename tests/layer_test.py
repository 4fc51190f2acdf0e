"""`run_layer_test`: the project's one-config check of a recurrent layer.

Modelled on Keras' own `keras.src.testing.TestCase.run_layer_test`, written
with the public Keras API only. For one layer configuration it checks:

1. `get_config` / `from_config` round trip (equal configs);
2. `keras.saving.serialize_keras_object` / `deserialize_keras_object` round
   trip through JSON (same class, equal configs);
3. `build(input_shape)` and the number of trainable / non-trainable weights;
4. a symbolic call on `keras.Input` with the expected output shape(s);
5. an eager call (inference and training mode) with the expected shapes and
   finite values;
6. one real training step with `model.fit` on a tiny random dataset (finite
   loss, every trainable weight changes);
7. a `.keras` save / `keras.models.load_model` round trip (default
   `safe_mode=True`) with identical outputs;
8. mixed precision (`mixed_float16`, `mixed_bfloat16`): outputs in the compute
   dtype and finite, variables in float32, `fit` works (one step; a few with
   `mixed_float16`, whose dynamic loss scaling may skip an overflowing step).

`run_cell_test` runs the cell's own config round trips, then
`run_layer_test` on the cell wrapped in `keras.layers.RNN(cell)` and in
`toolkit.layers.Recurrent(cell)`, each under one of the two mixed policies
(`Recurrent` under `mixed_float16`), so each policy is checked once per cell.
"""

import copy
import json
import os
import tempfile

import keras
import numpy as np

import toolkit

MIXED_PRECISION_POLICIES = ("mixed_float16", "mixed_bfloat16")
# `run_cell_test` with both wrappers: which mixed policy each one is checked under.
MIXED_POLICY_OF_WRAPPER = {"recurrent": ("mixed_float16",), "keras_rnn": ("mixed_bfloat16",)}


# === Small utilities ===


def as_list(values):
    """A layer's output(s) as a list."""
    if isinstance(values, (list, tuple)) and not _is_shape(values):
        return list(values)
    return [values]


def _is_shape(value):
    return isinstance(value, tuple) and all(d is None or isinstance(d, int) for d in value)


def _expected_shapes(expected_output_shape):
    if _is_shape(expected_output_shape):
        return [expected_output_shape]
    return [tuple(shape) for shape in expected_output_shape]


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def _plain(config):
    """Configs compared as JSON: tuples and lists are the same thing."""
    return json.loads(json.dumps(config, sort_keys=True, default=repr))


def _make(layer_factory_or_cls, init_kwargs):
    layer = layer_factory_or_cls(**init_kwargs)
    assert isinstance(layer, keras.layers.Layer), f"factory returned {layer!r}"
    return layer


def _random_inputs(input_shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=input_shape).astype("float32")


def _random_targets(shapes, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.0, size=shape).astype("float32") for shape in shapes]


def _check_shapes(outputs, expected_shapes, what):
    outputs = as_list(outputs)
    received = [tuple(output.shape) for output in outputs]
    assert len(received) == len(expected_shapes), (
        f"{what}: expected {len(expected_shapes)} output(s) {expected_shapes}, received {received}"
    )
    for got, expected in zip(received, expected_shapes):
        assert len(got) == len(expected) and all(
            e is None or e == g for g, e in zip(got, expected)
        ), f"{what}: expected output shapes {expected_shapes}, received {received}"


def _check_finite(outputs, what):
    for index, output in enumerate(as_list(outputs)):
        values = to_numpy(output).astype("float32")
        assert np.all(np.isfinite(values)), f"{what}: output {index} is not finite: {values}"


def _check_weight_counts(layer, trainable, non_trainable, what):
    if trainable is not None:
        assert len(layer.trainable_weights) == trainable, (
            f"{what}: expected {trainable} trainable weights, received "
            f"{[w.path for w in layer.trainable_weights]}"
        )
    if non_trainable is not None:
        assert len(layer.non_trainable_weights) == non_trainable, (
            f"{what}: expected {non_trainable} non-trainable weights, received "
            f"{[w.path for w in layer.non_trainable_weights]}"
        )


def _functional_model(layer, input_shape):
    inputs = keras.Input(batch_shape=input_shape)
    outputs = layer(inputs)
    return keras.Model(inputs, outputs)


# === Config round trips ===


def check_config_round_trip(layer):
    """`get_config`/`from_config` and `serialize`/`deserialize` round trips."""
    cls = type(layer)
    config = layer.get_config()
    revived = cls.from_config(copy.deepcopy(config))  # some from_config pop keys
    assert type(revived) is cls
    assert _plain(revived.get_config()) == _plain(config), "from_config changed the config"

    serialized = keras.saving.serialize_keras_object(layer)
    serialized = json.loads(json.dumps(serialized))  # must be plain JSON
    if cls.__module__.split(".")[0] == "toolkit":
        assert serialized["registered_name"] == f"toolkit>{cls.__name__}", serialized
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is cls, f"deserialized {type(revived)} instead of {cls}"
    assert _plain(revived.get_config()) == _plain(config), "deserialize changed the config"
    return revived


# === Training and saving ===


def _fit(model, input_data, output_shapes, optimizer, what, steps=1):
    """`model.fit` for `steps` steps (one batch each) on a tiny random dataset.

    Checks a finite loss, finite weights, and that every trainable weight
    changed.
    """
    targets = _random_targets(output_shapes)
    model.compile(optimizer=optimizer, loss=["mse"] * len(targets))
    before = [to_numpy(w).copy() for w in model.trainable_weights]
    repeat = lambda values: np.concatenate([values] * steps, axis=0)
    history = model.fit(
        repeat(input_data),
        [repeat(t) for t in targets] if len(targets) > 1 else repeat(targets[0]),
        batch_size=input_data.shape[0],
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    loss = history.history["loss"][-1]
    assert np.isfinite(loss), f"{what}: fit produced a non-finite loss {loss}"
    after = [to_numpy(w) for w in model.trainable_weights]
    for weight, old, new in zip(model.trainable_weights, before, after):
        assert np.all(np.isfinite(new)), f"{what}: {weight.path} is not finite after fit"
        assert not np.array_equal(old, new), f"{what}: {weight.path} did not change in fit"
    return loss


def _check_save_load(model, input_data, what):
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        loaded = keras.models.load_model(path)  # safe_mode=True by default
    # Predict only after saving: a stateful layer's states change with every
    # call, and both models must start from the same saved states.
    expected = as_list(model(input_data, training=False))
    received = as_list(loaded(input_data, training=False))
    assert len(received) == len(expected)
    for index, (got, want) in enumerate(zip(received, expected)):
        np.testing.assert_allclose(
            to_numpy(got),
            to_numpy(want),
            rtol=0,
            atol=1e-6,
            err_msg=f"{what}: output {index} changed through save/load",
        )
    original_layers = [type(layer) for layer in model.layers]
    assert [type(layer) for layer in loaded.layers] == original_layers
    return loaded


# === The checks ===


def run_layer_test(
    layer_factory_or_cls,
    init_kwargs,
    input_shape,
    expected_output_shape,
    *,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    supports_masking=None,
    run_training_check=True,
    run_saving_check=True,
    run_mixed_precision_check=True,
    mixed_precision_policies=MIXED_PRECISION_POLICIES,
):
    """Runs the standard checks on one layer configuration.

    Args:
        layer_factory_or_cls: A layer class or any callable that returns a
            fresh layer from `**init_kwargs` (for example
            `lambda **kw: keras.layers.RNN(toolkit.cells.LSTMCell(**kw))`).
        init_kwargs: Dict of constructor arguments.
        input_shape: Full input shape `(batch, time, features)`, static.
        expected_output_shape: One shape tuple, or a list of shape tuples for
            layers with several outputs (`return_state=True`).
        expected_num_trainable_weights: Optional expected count.
        expected_num_non_trainable_weights: Optional expected count.
        supports_masking: Optional expected `layer.supports_masking`.
        run_training_check: Whether to run the training-mode calls and the
            `fit` steps.
        run_saving_check: Whether to run the `.keras` save/load round trip.
        run_mixed_precision_check: Whether to run the mixed precision checks.
        mixed_precision_policies: Which mixed policies to check.
    """
    init_kwargs = dict(init_kwargs or {})
    input_shape = tuple(input_shape)
    expected_shapes = _expected_shapes(expected_output_shape)
    counts = (expected_num_trainable_weights, expected_num_non_trainable_weights)
    input_data = _random_inputs(input_shape)

    # 1-2. Config and serialization round trips.
    layer = _make(layer_factory_or_cls, init_kwargs)
    name = type(layer).__name__
    check_config_round_trip(layer)
    if supports_masking is not None:
        assert layer.supports_masking == supports_masking

    # 3. Build.
    layer = _make(layer_factory_or_cls, init_kwargs)
    layer.build(input_shape)
    assert layer.built, f"{name}: not built after build()"
    _check_weight_counts(layer, *counts, f"{name} after build")

    # 4. Symbolic call.
    layer = _make(layer_factory_or_cls, init_kwargs)
    symbolic_outputs = layer(keras.Input(batch_shape=input_shape))
    _check_shapes(symbolic_outputs, expected_shapes, f"{name} symbolic call")
    _check_weight_counts(layer, *counts, f"{name} after symbolic call")
    # The config of a built layer still round-trips.
    check_config_round_trip(layer)

    # 5. Eager call, inference and training mode.
    layer = _make(layer_factory_or_cls, init_kwargs)
    outputs = layer(input_data)
    _check_shapes(outputs, expected_shapes, f"{name} eager call")
    _check_finite(outputs, f"{name} eager call")
    _check_weight_counts(layer, *counts, f"{name} after eager call")
    if run_training_check:
        training_outputs = layer(input_data, training=True)
        _check_shapes(training_outputs, expected_shapes, f"{name} eager call, training")
        _check_finite(training_outputs, f"{name} eager call, training")

    # 6. One training step, then 7. save / load.
    if run_training_check or run_saving_check:
        model = _functional_model(_make(layer_factory_or_cls, init_kwargs), input_shape)
        if run_training_check:
            _fit(
                model,
                input_data,
                expected_shapes,
                keras.optimizers.SGD(learning_rate=0.1),
                f"{name} fit",
            )
        if run_saving_check:
            _check_save_load(model, input_data, f"{name} save/load")

    # 8. Mixed precision.
    if run_mixed_precision_check:
        for policy in mixed_precision_policies:
            run_mixed_precision_test(
                layer_factory_or_cls,
                init_kwargs,
                input_shape,
                expected_shapes,
                policy,
                run_training_check=run_training_check,
            )


def _check_predictions(model, input_data, expected_shapes, compute_dtype, what):
    outputs = as_list(model.predict(input_data, verbose=0))
    _check_shapes(outputs, expected_shapes, what)
    _check_finite(outputs, what)
    for output in outputs:
        dtype = keras.backend.standardize_dtype(output.dtype)
        assert dtype == compute_dtype, f"{what}: output dtype {dtype}"


def run_mixed_precision_test(
    layer_factory_or_cls,
    init_kwargs,
    input_shape,
    expected_output_shape,
    policy,
    run_training_check=True,
):
    """Checks one layer under the global mixed precision `policy`."""
    expected_shapes = _expected_shapes(expected_output_shape)
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    input_data = _random_inputs(input_shape)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        layer = _make(layer_factory_or_cls, init_kwargs)
        what = f"{type(layer).__name__} under {policy}"
        model = _functional_model(layer, input_shape)
        for output in as_list(model.outputs):
            assert keras.backend.standardize_dtype(output.dtype) == compute_dtype, (
                f"{what}: symbolic output dtype {output.dtype}"
            )
        float_variables = [
            v for v in layer.variables if "float" in keras.backend.standardize_dtype(v.dtype)
        ]
        assert float_variables, f"{what}: no float variables"
        for variable in float_variables:
            dtype = keras.backend.standardize_dtype(variable.dtype)
            assert dtype == "float32", f"{what}: variable {variable.path} is {dtype}"
        if not run_training_check:
            _check_predictions(model, input_data, expected_shapes, compute_dtype, what)
        else:
            optimizer = keras.optimizers.SGD(learning_rate=0.1)
            steps = 1
            if policy == "mixed_float16":
                # Dynamic loss scaling skips a step whose scaled gradients
                # overflow float16 and halves the scale. That is expected
                # (layer norm of the all-zero initial state has gradients
                # ~1/sqrt(epsilon)), so give it a few steps from a modest
                # scale; every weight must have moved at the end.
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=2.0**8)
                steps = 6
            _fit(model, input_data, expected_shapes, optimizer, f"{what} fit", steps=steps)
            # Training mode ran in fit (finite loss and weights); now the
            # compiled inference.
            _check_predictions(
                model, input_data, expected_shapes, compute_dtype, f"{what} after fit"
            )
    finally:
        keras.config.set_dtype_policy(previous_policy)


# === Cells ===


def keras_rnn_factory(cell_cls, **rnn_kwargs):
    """`init_kwargs -> keras.layers.RNN(cell_cls(**init_kwargs), **rnn_kwargs)`."""

    def factory(**init_kwargs):
        return keras.layers.RNN(cell_cls(**init_kwargs), **rnn_kwargs)

    return factory


def recurrent_factory(cell_cls, **layer_kwargs):
    """`init_kwargs -> toolkit.layers.Recurrent(cell_cls(**init_kwargs), ...)`."""

    def factory(**init_kwargs):
        return toolkit.layers.Recurrent(cell_cls(**init_kwargs), **layer_kwargs)

    return factory


def uses_randomness(cell):
    """Whether a cell draws dropout or zoneout masks in training mode."""
    return bool(cell.dropout or cell.recurrent_dropout or any(cell.zoneout_rates))


def step_training_unsupported(cell):
    """Training a random cell step by step is refused on JAX (documented).

    Drawing masks inside `keras.layers.RNN`'s `lax.scan` would leak a tracer,
    so the cell raises a `NotImplementedError` pointing to
    `toolkit.layers.Recurrent` (see `RecurrentCell` and docs/DESIGN.md).
    """
    return keras.backend.backend() == "jax" and uses_randomness(cell)


def run_cell_test(
    cell_cls,
    init_kwargs,
    input_shape,
    expected_output_size,
    *,
    expected_num_weights=None,
    expected_state_size=None,
    wrappers=("keras_rnn", "recurrent"),
    **run_kwargs,
):
    """Checks a cell alone, then in `keras.layers.RNN` and `Recurrent`.

    Both wrappers run with `return_sequences=True, return_state=True`, so
    the expected outputs are the sequence and one final tensor per state.
    Where the cell cannot train step by step (`step_training_unsupported`),
    the `keras.layers.RNN` wrapper must raise the documented
    `NotImplementedError` in training mode and is checked in inference only.
    """
    cell = cell_cls(**init_kwargs)
    name = cell_cls.__name__
    check_config_round_trip(cell)
    batch, steps, features = input_shape
    cell.build((batch, features))
    if expected_num_weights is not None:
        assert len(cell.trainable_weights) == expected_num_weights, [
            w.path for w in cell.trainable_weights
        ]
    state_size = list(cell.state_size)
    if expected_state_size is not None:
        assert state_size == list(expected_state_size)
    assert cell.output_size == expected_output_size
    check_config_round_trip(cell)

    # One step through the public cell protocol.
    states = cell.get_initial_state(batch_size=batch)
    assert [tuple(s.shape) for s in states] == [(batch, size) for size in state_size]
    step_input = _random_inputs((batch, features))
    for training in (False, True):
        if training and step_training_unsupported(cell):
            try:
                cell(step_input, states, training=True)
            except NotImplementedError as error:
                assert "toolkit.layers.Recurrent" in str(error)
            else:
                raise AssertionError(f"{name}: expected NotImplementedError on JAX")
            continue
        output, new_states = cell(step_input, states, training=training)
        assert tuple(output.shape) == (batch, expected_output_size)
        assert [tuple(s.shape) for s in new_states] == [(batch, size) for size in state_size]
        _check_finite([output] + list(new_states), f"{name} step, training={training}")

    expected_shapes = [(batch, steps, expected_output_size)] + [
        (batch, size) for size in state_size
    ]
    factories = {
        "keras_rnn": keras_rnn_factory(cell_cls, return_sequences=True, return_state=True),
        "recurrent": recurrent_factory(cell_cls, return_sequences=True, return_state=True),
    }
    for wrapper in wrappers:
        kwargs = dict(run_kwargs)
        if len(wrappers) > 1 and "mixed_precision_policies" not in kwargs:
            # Each mixed policy once per cell: the cell's dtype handling is the same code in
            # both wrappers, and `Recurrent`'s own paths meet both policies in
            # tests/layers. float16 (loss scaling, overflow) goes to our layer.
            kwargs["mixed_precision_policies"] = MIXED_POLICY_OF_WRAPPER[wrapper]
        if wrapper == "keras_rnn" and step_training_unsupported(cell):
            layer = factories[wrapper](**init_kwargs)
            try:
                layer(_random_inputs(input_shape), training=True)
            except NotImplementedError as error:
                assert "toolkit.layers.Recurrent" in str(error)
            else:
                raise AssertionError(f"keras.layers.RNN({name}): expected NotImplementedError")
            kwargs["run_training_check"] = False
        run_layer_test(
            factories[wrapper],
            init_kwargs,
            input_shape,
            expected_shapes,
            expected_num_trainable_weights=expected_num_weights,
            expected_num_non_trainable_weights=0,
            **kwargs,
        )
