"""`toolkit.runtime.timing`: interleaved rounds of timed calls (the study, the benchmarks)."""

import collections
import itertools

import pytest

from toolkit.runtime import timing

pytestmark = pytest.mark.no_keras_state


def test_interleaved_rounds_pause_change_order_and_drop_a_failing_function(monkeypatch):
    calls = []
    clock = iter(range(1000))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(timing.time, "sleep", lambda seconds: calls.append(seconds))

    def make(name, fail_at=None):
        def function():
            calls.append(name)
            if fail_at is not None and calls.count(name) == fail_at:
                raise RuntimeError(f"{name} broke")

        return function

    functions = {"a": make("a"), "b": make("b"), "c": make("c", fail_at=5)}
    timings, errors = timing.interleaved_timings(functions, 3, warmup=1, block=2)

    pause = timing.SETTLE_SECONDS
    assert calls[:3] == ["a", "b", "c"]  # warm-up, one call each, no pause
    # Round 1: a, b, c, each a pause, one untimed call and 2 timed ones; round 2 takes
    # the second balanced order, b, c, a, and needs 1 more timing each; c fails on its
    # 5th call (round 2's untimed one) and is dropped.
    assert calls[3:15] == [pause, "a", "a", "a", pause, "b", "b", "b", pause, "c", "c", "c"]
    assert calls[15:] == [pause, "b", "b", pause, "c", pause, "a", "a"]
    assert timings == {"a": [1, 1, 1], "b": [1, 1, 1]}
    assert set(errors) == {"c"} and "c broke" in str(errors["c"])


def test_a_function_failing_in_warm_up_is_never_timed():
    def broken():
        raise ValueError("no")

    timings, errors = timing.interleaved_timings(
        {"ok": lambda: None, "broken": broken}, 2, warmup=2, block=1
    )
    assert list(timings) == ["ok"] and len(timings["ok"]) == 2
    assert list(errors) == ["broken"]


@pytest.mark.parametrize("count", range(1, 8))
def test_balanced_orders_put_every_item_right_after_every_other_equally_often(count):
    orders = timing.balanced_orders(count)
    assert len(orders) == (2 * count if count % 2 else count)
    assert all(sorted(order) == list(range(count)) for order in orders)
    pairs = collections.Counter(pair for order in orders for pair in itertools.pairwise(order))
    expected = {pair: 2 if count % 2 else 1 for pair in itertools.permutations(range(count), 2)}
    assert pairs == expected


def test_no_function_always_follows_the_same_one(monkeypatch):
    """The rotating order this replaced put "a" after "d" in every round but the first
    (the layer benchmark's toolkit model after `torch.nn`'s)."""
    calls = []
    functions = {name: (lambda name=name: calls.append(name)) for name in "abcd"}
    timing.interleaved_timings(functions, 8, warmup=0, block=1, settle=0)
    turns = [name for name, _ in itertools.groupby(calls)]  # one entry per turn
    rounds = [turns[start : start + 4] for start in range(0, len(turns), 4)]
    assert len(rounds) == 8 and all(sorted(turn) == list("abcd") for turn in rounds)
    before = collections.Counter(pair for turn in rounds for pair in itertools.pairwise(turn))
    assert before == {pair: 2 for pair in itertools.permutations("abcd", 2)}
    assert timing.balanced_orders(0) == [[]]
