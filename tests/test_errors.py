"""Bad arguments raise a `ValueError` that names the argument and shows the
value received."""

import re

import keras
import numpy as np
import pytest

import toolkit

CELLS = {
    "SimpleRNNCell": toolkit.cells.SimpleRNNCell,
    "LSTMCell": toolkit.cells.LSTMCell,
    "GRUCell": toolkit.cells.GRUCell,
}
LAYERS = {
    "SimpleRNN": toolkit.layers.SimpleRNN,
    "LSTM": toolkit.layers.LSTM,
    "GRU": toolkit.layers.GRU,
}
EVERY_CONSTRUCTOR = {**CELLS, **LAYERS}
LSTM_CONSTRUCTORS = {"LSTMCell": toolkit.cells.LSTMCell, "LSTM": toolkit.layers.LSTM}


def _received(argument, value):
    """The regex for "names the argument and shows the value"."""
    return rf"`{argument}`.*Received: {argument}={re.escape(repr(value))}"


def _expect_value_error(make, pattern, case):
    """`make()` raises a ValueError matching `pattern`; `case` names the case."""
    with pytest.raises(ValueError, match=pattern) as info:
        try:
            make()
        except ValueError:
            raise
        except Exception as error:  # the wrong kind of error
            raise AssertionError(f"{case}: raised {error!r} instead of a ValueError") from error
        else:
            raise AssertionError(f"{case}: no error")
    return info


def test_units_must_be_a_positive_integer():
    for name, constructor in EVERY_CONSTRUCTOR.items():
        for units in [0, -1, "8", None, 2.5, True]:
            _expect_value_error(
                lambda: constructor(units),  # noqa: B023
                _received("units", units),
                f"{name}(units={units!r})",
            )


COMMON_BAD_ARGUMENTS = [
    ("activation", "foo"),
    ("kernel_initializer", "not_an_initializer"),
    ("recurrent_regularizer", "nope"),
    ("bias_constraint", "nope"),
    ("dropout", 1.5),
    ("dropout", 1.0),
    ("recurrent_dropout", -0.2),
    ("recurrent_dropout", "0.1"),
    ("zoneout", -0.1),
    ("zoneout", 1.0),
    ("seed", "7"),
]


def test_common_arguments():
    for name, constructor in EVERY_CONSTRUCTOR.items():
        arguments = list(COMMON_BAD_ARGUMENTS)
        if name not in ("SimpleRNNCell", "SimpleRNN"):
            arguments.append(("recurrent_activation", "foo"))
        for argument, value in arguments:
            _expect_value_error(
                lambda: constructor(3, **{argument: value}),  # noqa: B023
                _received(argument, value),
                f"{name}({argument}={value!r})",
            )


LSTM_BAD_ARGUMENTS = [
    ("projection", 0),
    ("projection", -2),
    ("projection", 2.0),
    ("cell_clip", -1),
    ("cell_clip", 0),
    ("projection_clip", -1.0),
    ("cell_zoneout", 1.5),
    ("cell_zoneout", -0.1),
    ("layer_norm_epsilon", 0),
]


def test_lstm_options():
    for name, constructor in LSTM_CONSTRUCTORS.items():
        for argument, value in LSTM_BAD_ARGUMENTS:
            kwargs = {argument: value}
            if argument == "projection_clip":
                kwargs["projection"] = 2
            _expect_value_error(
                lambda: constructor(3, **kwargs),  # noqa: B023
                _received(argument, value),
                f"{name}({kwargs})",
            )
        # projection_clip without a projection: both values are shown.
        _expect_value_error(
            lambda: constructor(3, projection_clip=1.0),  # noqa: B023
            r"`projection_clip`.*projection_clip=1\.0.*projection=None",
            f"{name}: projection_clip without projection",
        )


def test_recurrent_needs_a_toolkit_cell():
    for cell in [keras.layers.LSTMCell(3), keras.layers.GRUCell(3), "lstm", None]:
        _expect_value_error(
            lambda: toolkit.layers.Recurrent(cell=cell),  # noqa: B023
            rf"`cell`.*Received: cell={re.escape(repr(cell))}",
            f"cell={cell!r}",
        )


# === Call-time errors ===


def _layer(name, **kwargs):
    if name == "Recurrent":
        return toolkit.layers.Recurrent(toolkit.cells.LSTMCell(3), **kwargs)
    return LAYERS[name](3, **kwargs)


CALL_LAYERS = ["SimpleRNN", "LSTM", "GRU", "Recurrent"]


def test_two_dimensional_input():
    # Eager and symbolic: the message shows the rank expected and the shape.
    for name in CALL_LAYERS:
        _expect_value_error(
            lambda: _layer(name)(np.zeros((2, 5), "float32")),  # noqa: B023
            r"ndim=3.*found ndim=2.*\(2, 5\)",
            f"{name}, eager",
        )
        _expect_value_error(
            lambda: _layer(name)(keras.Input((5,))),  # noqa: B023
            r"ndim=3.*found ndim=2.*\(None, 5\)",
            f"{name}, symbolic",
        )


def test_four_dimensional_input():
    for name in CALL_LAYERS:
        _expect_value_error(
            lambda: _layer(name)(np.zeros((2, 4, 3, 1), "float32")),  # noqa: B023
            r"max_ndim=3.*found ndim=4",
            name,
        )


def test_wrong_mask_shape():
    inputs = np.zeros((2, 4, 3), "float32")
    for name in CALL_LAYERS:
        for mask_shape in [(2, 5), (3, 4), (2, 4, 1), (2,)]:
            _expect_value_error(
                lambda: _layer(name)(inputs, mask=np.ones(mask_shape, bool)),  # noqa: B023
                rf"`mask`.*\(2, 4\).*Received: mask\.shape={re.escape(str(mask_shape))}",
                f"{name}, mask of shape {mask_shape}",
            )


def test_wrong_number_of_initial_states():
    inputs = np.zeros((2, 4, 3), "float32")
    state = np.zeros((2, 3), "float32")
    for name, count in [
        ("LSTM", 1),
        ("LSTM", 3),
        ("GRU", 2),
        ("SimpleRNN", 2),
        ("Recurrent", 1),
    ]:
        expected = 2 if name in ("LSTM", "Recurrent") else 1
        _expect_value_error(
            lambda: _layer(name)(inputs, initial_state=[state] * count),  # noqa: B023
            rf"`initial_state` expected {expected} tensor\(s\).*Received: {count} tensor",
            f"{name} with {count} initial states",
        )


def test_wrong_initial_state_shape():
    inputs = np.zeros((2, 4, 3), "float32")
    for name in ["LSTM", "GRU"]:
        layer = _layer(name)
        states = [np.zeros((2, 5), "float32")] * len(layer.cell.state_size)
        _expect_value_error(
            lambda: layer(inputs, initial_state=states),  # noqa: B023
            r"`initial_state`.*\(batch, 3\).*shape=\(2, 5\)",
            name,
        )


def test_stateful_needs_a_static_batch_size():
    with pytest.raises(ValueError, match=r"batch size.*Received: sequences\.shape=\(None, 4, 3\)"):
        toolkit.layers.LSTM(3, stateful=True)(keras.Input((4, 3)))


@pytest.mark.tensorflow_only
def test_unroll_with_unknown_time_dimension():
    # Only TensorFlow can run a layer on a tensor whose time dimension is
    # unknown (a traced function with a relaxed signature); JAX always
    # traces with concrete shapes.
    import tensorflow as tf

    for name in CALL_LAYERS:
        layer = _layer(name, unroll=True)
        layer.build((None, 4, 3))
        function = tf.function(
            lambda x: layer(x),  # noqa: B023
            input_signature=[tf.TensorSpec((None, None, 3), "float32")],
        )
        _expect_value_error(
            function.get_concrete_function,
            r"unroll.*Received: time dimension=None",
            name,
        )
        # The same layer unrolls a static time dimension.
        assert tuple(layer(np.zeros((2, 4, 3), "float32")).shape) == (2, 3)
