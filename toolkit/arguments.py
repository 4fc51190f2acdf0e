"""Argument checks and Keras-identifier arguments shared by every toolkit package.

Cells, layers, attention, decoding, features, data and models check their
constructor arguments here, so every error has the same form: "Argument `x`
expected ... Received: x=...". `resolve_argument` / `serialize_argument`
turn an `*_initializer`, `*_regularizer`, `*_constraint` or `*_activation`
argument into its Keras object and back (by the argument's name suffix).
"""

import keras

_SERIALIZABLE_KINDS = (
    ("initializer", keras.initializers),
    ("regularizer", keras.regularizers),
    ("constraint", keras.constraints),
    ("activation", keras.activations),
)


def _kind_of(argument_name):
    for suffix, module in _SERIALIZABLE_KINDS:
        if argument_name.endswith(suffix):
            return suffix, module
    return None, None


def resolve_argument(argument_name, value):
    """Turns an identifier (`"tanh"`, `"zeros"`, a config dict) into an object.

    Raises a `ValueError` naming the argument when Keras cannot interpret it.
    """
    kind, module = _kind_of(argument_name)
    if module is None:
        return value
    try:
        resolved = module.get(value)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"Argument `{argument_name}` expected a valid Keras {kind} "
            f"identifier. Received: {argument_name}={value!r} ({error})"
        ) from None
    if kind == "activation" and resolved is None:
        # keras.activations.get(None) means "linear"; spell it out.
        resolved = keras.activations.linear
    return resolved


def serialize_argument(argument_name, value):
    _, module = _kind_of(argument_name)
    if module is None or value is None:
        return value
    return module.serialize(value)


def check_positive_int(argument_name, value, allow_none=False):
    if allow_none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Argument `{argument_name}` expected a positive integer"
            f"{' or None' if allow_none else ''}. "
            f"Received: {argument_name}={value!r}"
        )
    return value


def check_rate(argument_name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"Argument `{argument_name}` expected a float in [0, 1). "
            f"Received: {argument_name}={value!r}"
        )
    if not 0.0 <= value < 1.0:
        raise ValueError(
            f"Argument `{argument_name}` expected a float in [0, 1). "
            f"Received: {argument_name}={value!r}"
        )
    return float(value)


def check_positive_float(argument_name, value, allow_none=False):
    if allow_none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(
            f"Argument `{argument_name}` expected a positive number"
            f"{' or None' if allow_none else ''}. "
            f"Received: {argument_name}={value!r}"
        )
    return float(value)


def check_choice(argument_name, value, choices):
    """`value` lower-cased and stripped if it is one of `choices`; else a `ValueError`."""
    key = value.strip().lower() if isinstance(value, str) else None
    if key not in choices:
        raise ValueError(
            f"Argument `{argument_name}` expected one of {list(choices)}. "
            f"Received: {argument_name}={value!r}"
        )
    return key


def check_bool(argument_name, value):
    if not isinstance(value, bool):
        raise ValueError(
            f"Argument `{argument_name}` expected a boolean. Received: {argument_name}={value!r}"
        )
    return value
