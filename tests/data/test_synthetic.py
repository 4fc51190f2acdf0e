"""The synthetic long-range tasks: shapes, layouts checked by hand, baselines, errors."""

import math

import numpy as np
import pytest

from toolkit.data.synthetic import adding_problem
from toolkit.data.synthetic import copy_memory
from toolkit.data.synthetic import copy_memory_baseline

# No Keras object is built here: skip the suite's per-test Keras reset.
pytestmark = pytest.mark.no_keras_state


# === Adding problem ===


def test_adding_problem_shapes_and_dtypes():
    inputs, targets = adding_problem(5, 9, seed=0)
    assert inputs.shape == (5, 9, 2) and inputs.dtype == np.float32
    assert targets.shape == (5, 1) and targets.dtype == np.float32


@pytest.mark.parametrize("length", [2, 3, 7, 10])
def test_adding_problem_marks_one_step_in_each_half_and_sums_them(length):
    inputs, targets = adding_problem(200, length, seed=length)
    values, markers = inputs[..., 0], inputs[..., 1]
    assert set(np.unique(markers)) <= {0.0, 1.0}
    assert np.all((values >= 0.0) & (values < 1.0))
    half = length // 2
    for row in range(len(inputs)):
        marked = np.flatnonzero(markers[row])
        assert len(marked) == 2
        assert marked[0] < half <= marked[1]
        # The target is the sum of the two marked values, by hand.
        assert targets[row, 0] == pytest.approx(values[row, marked[0]] + values[row, marked[1]])


def test_adding_problem_markers_cover_each_half_uniformly():
    inputs, _ = adding_problem(6000, 6, seed=1)
    markers = inputs[..., 1]
    counts = markers.sum(axis=0)  # each of the 3 steps of a half is marked about 2000 times
    np.testing.assert_allclose(counts / 2000, np.ones(6), atol=0.1)


def test_adding_problem_small_case_by_hand():
    inputs, targets = adding_problem(1, 2, seed=3)
    # Length 2: the halves are steps {0} and {1}, so both are marked.
    np.testing.assert_array_equal(inputs[0, :, 1], [1.0, 1.0])
    assert targets[0, 0] == inputs[0, 0, 0] + inputs[0, 1, 0]


def test_adding_problem_always_one_baseline_is_one_sixth():
    _, targets = adding_problem(40000, 20, seed=2)
    # Var(u1 + u2) = 2 / 12 for u uniform in [0, 1); the target's mean is 1.
    assert float(np.mean(targets)) == pytest.approx(1.0, abs=0.01)
    assert float(np.mean((1.0 - targets.astype("float64")) ** 2)) == pytest.approx(1 / 6, abs=0.004)


# === Copy memory ===


def test_copy_memory_shapes_and_dtypes():
    inputs, targets = copy_memory(4, delay=5, sequence_length=3, num_symbols=6, seed=0)
    assert inputs.shape == targets.shape == (4, 5 + 2 * 3)
    assert inputs.dtype == targets.dtype == np.int32
    inputs, _ = copy_memory(2, delay=100, seed=0)  # defaults: 10 symbols of 8
    assert inputs.shape == (2, 120)


def test_copy_memory_layout_by_hand():
    inputs, targets = copy_memory(50, delay=4, sequence_length=3, num_symbols=5, seed=7)
    delimiter = 6
    for row in range(len(inputs)):
        a, b, c = inputs[row, :3]
        assert all(1 <= symbol <= 5 for symbol in (a, b, c))
        # 3 symbols, delay - 1 = 3 blanks, the delimiter, 3 blanks.
        assert inputs[row].tolist() == [a, b, c, 0, 0, 0, delimiter, 0, 0, 0]
        # Blanks for delay + sequence_length = 7 steps, then the symbols.
        assert targets[row].tolist() == [0, 0, 0, 0, 0, 0, 0, a, b, c]


def test_copy_memory_delay_one_puts_the_delimiter_right_after_the_symbols():
    inputs, targets = copy_memory(1, delay=1, sequence_length=2, num_symbols=3, seed=0)
    assert inputs[0, 2:].tolist() == [4, 0, 0]
    assert targets[0].tolist() == [0, 0, 0] + inputs[0, :2].tolist()


def test_copy_memory_symbols_are_uniform():
    inputs, _ = copy_memory(4000, delay=2, sequence_length=4, num_symbols=4, seed=1)
    counts = np.bincount(inputs[:, :4].ravel(), minlength=5)
    assert counts[0] == 0
    np.testing.assert_allclose(counts[1:] / 4000, np.ones(4), atol=0.06)


@pytest.mark.parametrize("delay, sequence_length, num_symbols", [(100, 10, 8), (7, 3, 5)])
def test_copy_memory_memoryless_baseline_from_data(delay, sequence_length, num_symbols):
    _, targets = copy_memory(300, delay, sequence_length, num_symbols, seed=4)
    # The memoryless model: blank with certainty until the delimiter, then a uniform
    # guess over the symbols (blank impossible). Its cross-entropy from the targets:
    total = delay + 2 * sequence_length
    probabilities = np.zeros(targets.shape + (num_symbols + 1,))
    probabilities[:, : delay + sequence_length, 0] = 1.0
    probabilities[:, delay + sequence_length :, 1:] = 1.0 / num_symbols
    chosen = np.take_along_axis(probabilities, targets[..., None], axis=-1)
    cross_entropy = float(np.mean(-np.log(chosen)))
    expected = sequence_length * math.log(num_symbols) / total
    assert cross_entropy == pytest.approx(expected, rel=1e-12)
    assert copy_memory_baseline(delay, sequence_length, num_symbols) == pytest.approx(expected)
    assert copy_memory_baseline(100) == pytest.approx(10 * math.log(8) / 120)


# === Determinism ===


@pytest.mark.parametrize(
    "make",
    [lambda seed: adding_problem(6, 8, seed=seed), lambda seed: copy_memory(6, 5, seed=seed)],
    ids=["adding", "copy"],
)
def test_same_seed_same_data_other_seed_other_data(make):
    first, again, other = make(11), make(11), make(12)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    unseeded = make(None)
    assert unseeded[0].shape == first[0].shape


def test_fixed_values_for_a_seed():
    # Pins the generator's use: numpy's default_rng(seed) values, uniform then positions.
    inputs, _ = adding_problem(1, 4, seed=0)
    expected = np.random.default_rng(0).uniform(0.0, 1.0, size=(1, 4)).astype("float32")
    np.testing.assert_array_equal(inputs[..., 0], expected)


# === Errors ===


@pytest.mark.parametrize(
    "call, argument, value",
    [
        (lambda: adding_problem(0, 5), "num_examples", 0),
        (lambda: adding_problem(2.0, 5), "num_examples", 2.0),
        (lambda: adding_problem(2, 1), "length", 1),
        (lambda: adding_problem(2, True), "length", True),
        (lambda: adding_problem(2, "9"), "length", "9"),
        (lambda: adding_problem(2, 5, seed=-1), "seed", -1),
        (lambda: adding_problem(2, 5, seed=1.5), "seed", 1.5),
        (lambda: copy_memory(-3, 5), "num_examples", -3),
        (lambda: copy_memory(2, 0), "delay", 0),
        (lambda: copy_memory(2, 5, sequence_length=0), "sequence_length", 0),
        (lambda: copy_memory(2, 5, num_symbols=None), "num_symbols", None),
        (lambda: copy_memory(2, 5, seed="a"), "seed", "a"),
        (lambda: copy_memory_baseline(0), "delay", 0),
    ],
)
def test_bad_arguments_name_the_argument_and_value(call, argument, value):
    with pytest.raises(ValueError, match=rf"Argument `{argument}` expected .*") as error:
        call()
    assert f"Received: {argument}={value!r}" in str(error.value)
