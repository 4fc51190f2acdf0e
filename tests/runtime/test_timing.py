"""`toolkit.runtime.timing`: interleaved rounds of timed calls (the study, the benchmarks)."""

import pytest

from toolkit.runtime import timing

pytestmark = pytest.mark.no_keras_state


def test_interleaved_rounds_rotate_the_order_and_drop_a_failing_function(monkeypatch):
    calls = []
    clock = iter(range(1000))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))

    def make(name, fail_at=None):
        def function():
            calls.append(name)
            if fail_at is not None and calls.count(name) == fail_at:
                raise RuntimeError(f"{name} broke")

        return function

    functions = {"a": make("a"), "b": make("b"), "c": make("c", fail_at=5)}
    timings, errors = timing.interleaved_timings(functions, 3, warmup=1, block=2)

    assert calls[:3] == ["a", "b", "c"]  # warm-up, one call each
    # Round 1: a, b, c, each one untimed call and 2 timed ones; round 2 rotates to b, c, a
    # and needs 1 more timing each; c fails on its 5th call (round 2's untimed one) and
    # is dropped.
    assert calls[3:12] == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    assert calls[12:] == ["b", "b", "c", "a", "a"]
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
