"""How a side-by-side measurement is taken: interleaved rounds of timed calls.

Used by the study's cost experiment (`recipes/study/cost.py`) and the layer
benchmark (`benchmarks/recurrent_layers.py`). It lives in the library because
the study cannot import from `benchmarks/`, which is not an installed package,
and it is not a recipe's business. Importable as `toolkit.runtime.timing`; not
part of `toolkit.runtime`'s public names.
"""

import time
import traceback

SETTLE_SECONDS = 0.05  # `interleaved_timings`' pause before each function's turn


def interleaved_timings(functions, repeats, warmup, block, settle=SETTLE_SECONDS):
    """Seconds of each call of several named functions, timed in interleaved rounds.

    Each function is first called `warmup` times, untimed (tracing, compilation).
    Then every round gives each function, in the round's order, a pause of
    `settle` seconds, one untimed call (caches and worker threads back to its own
    work) and up to `block` timed calls, until each has `repeats` timings. Timing
    the functions in turns, not one after the other, spreads a slow spell of a
    shared machine over all of them, so their ratios hold when absolute times
    drift (ratios taken round by round cancel it further); the untimed call keeps
    what is timed a steady state, as in a training loop, not a cold switch from
    another function (which slowed the next one by up to a fifth in the layer
    benchmark).

    What one function leaves behind can still slow the next: PyTorch's OpenMP
    workers spin-wait on the cores for milliseconds after a call (GNU OpenMP's
    default), longer than a batch-1 call and its untimed twin. Hence the pause,
    which lets them sleep, and the orders: they follow `balanced_orders`, so
    that each function comes right after every other equally often. A rotating
    order (round `k` starting at the `k`-th function) kept every function's
    predecessor the same in all but one round in `len(functions)`: in the layer
    benchmark the toolkit's model came after `torch.nn`'s in 4 rounds of 5, and
    its batch-1 latency read 2.34 ms against 1.94 without `torch.nn` in the
    rounds (Keras' 1.98 in both).

    A function that raises is dropped, with its traceback on stderr; the others go
    on.

    Args:
        functions: Dict `{name: callable}`, each called without arguments.
        repeats: Integer, timed calls per function.
        warmup: Integer, untimed calls per function before the first round.
        block: Integer, timed calls per function and round.
        settle: Seconds of pause before each function's turn in a round (untimed).
            With one function there is no pause.

    Returns:
        `(timings, errors)`: `{name: [seconds, ...]}` of the functions that did not
        raise, in call order (`block` per round, the last round what is left), and
        `{name: exception}` of those that did.
    """
    errors = {}

    def call(name):
        try:
            functions[name]()
        except Exception as error:  # the caller reports it
            traceback.print_exc()
            errors[name] = error
            return False
        return True

    for name in list(functions):
        for _ in range(warmup):
            if not call(name):
                break
    names = [name for name in functions if name not in errors]
    timings = {name: [] for name in names}
    orders = balanced_orders(len(names))
    for round_index in range(-(-repeats // block)):
        for name in (names[index] for index in orders[round_index % len(orders)]):
            if name in errors:
                continue
            if len(names) > 1:
                time.sleep(settle)
            if not call(name):
                continue
            for _ in range(min(block, repeats - len(timings[name]))):
                start = time.perf_counter()
                if not call(name):
                    break
                timings[name].append(time.perf_counter() - start)
    return {name: values for name, values in timings.items() if name not in errors}, errors


def balanced_orders(count):
    """Orders of `count` items in which each item comes right after every other
    equally often (a Williams design).

    The first order takes the items `0, 1, count - 1, 2, count - 2, ...`; the
    others add `1, 2, ..., count - 1` to it (modulo `count`). For an even count
    the steps from one item to the next in the first order all differ, so every
    ordered pair is adjacent in exactly one order; an odd count also takes the
    reversed orders, and every ordered pair is then adjacent in exactly two.

    Args:
        count: Integer, the number of items (0 gives one empty order).

    Returns:
        A list of `count` orders (`2 * count` for an odd count), each a list of
        the indices `0 .. count - 1`.

    Example:

    >>> balanced_orders(4)
    [[0, 1, 3, 2], [1, 2, 0, 3], [2, 3, 1, 0], [3, 0, 2, 1]]
    """
    if count == 0:
        return [[]]
    first, low, high = [0], 1, count - 1
    while len(first) < count:
        if len(first) % 2:
            first.append(low)
            low += 1
        else:
            first.append(high)
            high -= 1
    orders = [[(item + shift) % count for item in first] for shift in range(count)]
    if count % 2:
        orders += [order[::-1] for order in orders]
    return orders
