"""Synthetic long-range tasks: the adding problem and the copy memory task.

Both are the classic probes of whether a recurrent network carries information
across many steps: the adding problem (Hochreiter & Schmidhuber, 1997, in the
form of Le et al., 2015) must remember two numbers marked anywhere in a long
sequence; the copy memory task (Arjovsky et al., 2016) must reproduce a short
sequence of symbols after a long blank delay. Each comes with the error of a
model that learnt nothing long-range (the baseline), so a result can be read as
"solved" or "stuck at the baseline". The arrays are NumPy, drawn from
`numpy.random.default_rng(seed)`: the same arguments and seed give the same
data on every machine and backend.
"""

import math
import numbers

import numpy as np

# Copy memory alphabet: 0 is the blank, 1..num_symbols the symbols, then the delimiter.
BLANK = 0


def adding_problem(num_examples, length, seed=None):
    """Examples of the adding problem (Hochreiter & Schmidhuber, 1997).

    In the form of Le et al. (2015), "A Simple Way to Initialize Recurrent
    Networks of Rectified Linear Units": each step has two channels; channel 0
    holds a value drawn uniformly from `[0, 1)`, channel 1 is a marker that is
    1 at exactly two steps and 0 elsewhere. The first marked step is drawn
    uniformly from the first half, `[0, length // 2)`, the second from the
    second half, `[length // 2, length)`. The target is the sum of the two
    marked values, so a model must find the markers and carry the first value
    across up to `length - 1` steps.

    Baseline: predicting the constant 1 (the mean of the target) has a mean
    squared error of `Var(u1 + u2) = 2 / 12 ~= 0.167`, the error of a model that
    learnt nothing; Le et al. call the problem solved well below it (an MSE
    below 0.01 is the usual mark).

    Args:
        num_examples: Positive integer, the number of sequences.
        length: Integer of at least 2, the number of steps per sequence.
        seed: Optional non-negative integer (default `None`: fresh randomness).
            The same seed and arguments give the same arrays.

    Returns:
        A tuple `(inputs, targets)` of float32 arrays: `inputs` of shape
        `(num_examples, length, 2)` (value, marker) and `targets` of shape
        `(num_examples, 1)`.

    Raises:
        ValueError: an argument that is not an integer in its range.

    Example:

    >>> import numpy as np
    >>> from toolkit.data.synthetic import adding_problem
    >>> inputs, targets = adding_problem(3, 10, seed=0)
    >>> inputs.shape, targets.shape, inputs.dtype
    ((3, 10, 2), (3, 1), dtype('float32'))
    >>> inputs[:, :, 1].sum(axis=1)
    array([2., 2., 2.], dtype=float32)
    >>> bool(np.allclose(targets[:, 0], (inputs[:, :, 0] * inputs[:, :, 1]).sum(axis=1)))
    True
    """
    num_examples = _check_integer("num_examples", num_examples, minimum=1)
    length = _check_integer("length", length, minimum=2)
    rng = _generator(seed)
    values = rng.uniform(0.0, 1.0, size=(num_examples, length))
    half = length // 2
    first = rng.integers(0, half, size=num_examples)
    second = rng.integers(half, length, size=num_examples)
    rows = np.arange(num_examples)
    markers = np.zeros((num_examples, length))
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    inputs = np.stack([values, markers], axis=-1).astype("float32")
    # The sum of the float32 values, so that targets match the inputs exactly.
    targets = inputs[rows, first, 0] + inputs[rows, second, 0]
    return inputs, targets[:, None].astype("float32")


def copy_memory(num_examples, delay, sequence_length=10, num_symbols=8, seed=None):
    """Examples of the copy memory task (Arjovsky et al., 2016).

    From "Unitary Evolution Recurrent Neural Networks" (their `T` is `delay`):
    the input is `sequence_length` symbols drawn uniformly from
    `1..num_symbols`, then `delay - 1` blanks (`0`), then the delimiter
    (`num_symbols + 1`), then `sequence_length` blanks. The target is blank
    for the first `delay + sequence_length` steps, then the `sequence_length`
    symbols in order: after the delimiter the model must recall what it saw
    `delay + sequence_length` steps earlier. Sequences have
    `delay + 2 * sequence_length` steps; inputs use `num_symbols + 2` token
    ids, targets `num_symbols + 1` (the delimiter is never a target).

    Baseline: a memoryless model that predicts blanks until the delimiter and
    then the uniform distribution over the symbols has the cross-entropy per
    step `sequence_length * log(num_symbols) / (delay + 2 * sequence_length)`
    (natural log), and recalls each symbol with probability
    `1 / num_symbols`.

    Args:
        num_examples: Positive integer, the number of sequences.
        delay: Positive integer, the steps from the last symbol to the
            delimiter (`T` in Arjovsky et al.).
        sequence_length: Positive integer (default `10`), the symbols to copy.
        num_symbols: Positive integer (default `8`), the size of the symbol
            alphabet.
        seed: Optional non-negative integer (default `None`: fresh randomness).
            The same seed and arguments give the same arrays.

    Returns:
        A tuple `(inputs, targets)` of int32 arrays, both of shape
        `(num_examples, delay + 2 * sequence_length)`.

    Raises:
        ValueError: an argument that is not an integer in its range.

    Example:

    >>> from toolkit.data.synthetic import copy_memory
    >>> inputs, targets = copy_memory(1, delay=3, sequence_length=2, num_symbols=4, seed=0)
    >>> inputs.shape, inputs.dtype
    ((1, 7), dtype('int32'))
    >>> symbols = inputs[0, :2]
    >>> inputs[0, 2:].tolist(), targets[0, :5].tolist()
    ([0, 0, 5, 0, 0], [0, 0, 0, 0, 0])
    >>> bool((targets[0, 5:] == symbols).all())
    True
    """
    num_examples = _check_integer("num_examples", num_examples, minimum=1)
    delay = _check_integer("delay", delay, minimum=1)
    sequence_length = _check_integer("sequence_length", sequence_length, minimum=1)
    num_symbols = _check_integer("num_symbols", num_symbols, minimum=1)
    rng = _generator(seed)
    symbols = rng.integers(1, num_symbols + 1, size=(num_examples, sequence_length))
    total = delay + 2 * sequence_length
    inputs = np.full((num_examples, total), BLANK, dtype="int32")
    targets = np.full((num_examples, total), BLANK, dtype="int32")
    inputs[:, :sequence_length] = symbols
    inputs[:, sequence_length + delay - 1] = num_symbols + 1
    targets[:, delay + sequence_length :] = symbols
    return inputs, targets


def copy_memory_baseline(delay, sequence_length=10, num_symbols=8):
    """The memoryless cross-entropy per step of `copy_memory` (natural log).

    `sequence_length * log(num_symbols) / (delay + 2 * sequence_length)`: blanks
    predicted with certainty until the delimiter, then a uniform guess over the
    symbols (see `copy_memory`).

    Args:
        delay: Positive integer, as in `copy_memory`.
        sequence_length: Positive integer (default `10`), as in `copy_memory`.
        num_symbols: Positive integer (default `8`), as in `copy_memory`.

    Returns:
        The cross-entropy in nats per step, a float.

    Example:

    >>> from toolkit.data.synthetic import copy_memory_baseline
    >>> round(copy_memory_baseline(100), 4)
    0.1733
    """
    delay = _check_integer("delay", delay, minimum=1)
    sequence_length = _check_integer("sequence_length", sequence_length, minimum=1)
    num_symbols = _check_integer("num_symbols", num_symbols, minimum=1)
    return sequence_length * math.log(num_symbols) / (delay + 2 * sequence_length)


def _check_integer(argument_name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
        raise ValueError(
            f"Argument `{argument_name}` expected {kind}. Received: {argument_name}={value!r}"
        )
    return int(value)


def _generator(seed):
    if seed is not None:
        is_integer = isinstance(seed, numbers.Integral) and not isinstance(seed, bool)
        if not is_integer or seed < 0:
            raise ValueError(
                f"Argument `seed` expected a non-negative integer or None. Received: seed={seed!r}"
            )
        seed = int(seed)
    return np.random.default_rng(seed)
