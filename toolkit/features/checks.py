"""Argument checks of the feature layers (those not already in `toolkit.cells.base`)."""


def check_non_negative_int(argument_name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"Argument `{argument_name}` expected a non-negative integer. "
            f"Received: {argument_name}={value!r}"
        )
    return value


def check_fraction(argument_name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(
            f"Argument `{argument_name}` expected a number in [0, 1]. "
            f"Received: {argument_name}={value!r}"
        )
    return float(value)
