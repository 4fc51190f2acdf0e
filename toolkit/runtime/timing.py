"""How a side-by-side measurement is taken: interleaved rounds of timed calls.

Used by the study's cost experiment (`recipes/study/cost.py`) and the layer
benchmark (`benchmarks/recurrent_layers.py`). It lives in the library because
the study cannot import from `benchmarks/`, which is not an installed package,
and it is not a recipe's business. Importable as `toolkit.runtime.timing`; not
part of `toolkit.runtime`'s public names.
"""

import time
import traceback


def interleaved_timings(functions, repeats, warmup, block):
    """Seconds of each call of several named functions, timed in interleaved rounds.

    Each function is first called `warmup` times, untimed (tracing, compilation).
    Then every round gives each function, in an order that rotates from round to
    round, one untimed call (caches and worker threads back to its own work) and
    up to `block` timed calls, until each has `repeats` timings. Timing the
    functions in turns, not one after the other, spreads a slow spell of a shared
    machine over all of them, so their ratios hold when absolute times drift
    (ratios taken round by round cancel it further); the untimed call keeps what
    is timed a steady state, as in a training loop, not a cold switch from another
    function (which slowed the next one by up to a fifth in the layer benchmark).

    A function that raises is dropped, with its traceback on stderr; the others go
    on.

    Args:
        functions: Dict `{name: callable}`, each called without arguments.
        repeats: Integer, timed calls per function.
        warmup: Integer, untimed calls per function before the first round.
        block: Integer, timed calls per function and round.

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
    for round_index in range(-(-repeats // block)):
        shift = round_index % max(1, len(names))
        for name in names[shift:] + names[:shift]:
            if name in errors or not call(name):
                continue
            for _ in range(min(block, repeats - len(timings[name]))):
                start = time.perf_counter()
                if not call(name):
                    break
                timings[name].append(time.perf_counter() - start)
    return {name: values for name, values in timings.items() if name not in errors}, errors
