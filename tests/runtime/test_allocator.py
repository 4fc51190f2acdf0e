"""`toolkit.runtime.reuse_freed_memory`: glibc keeps freed buffers for reuse."""

import json
import subprocess
import sys
import textwrap

import pytest

from toolkit.runtime import allocator
from toolkit.runtime import reuse_freed_memory

pytestmark = pytest.mark.no_keras_state

needs_glibc = pytest.mark.skipif(
    allocator._glibc_mallopt() is None, reason="needs Linux with glibc"
)

# In a fresh interpreter (no toolkit, TensorFlow or test-suite settings): page faults per
# allocate-fill-free cycle of NumPy arrays, NumPy taking its buffers from `malloc` as
# TensorFlow and XLA do. The module is loaded from its file alone, so the child process
# imports neither the toolkit nor TensorFlow.
_FAULTS = textwrap.dedent(
    """
    import importlib.util, json, resource, sys
    import numpy as np

    if sys.argv[1] == "reuse":
        spec = importlib.util.spec_from_file_location("allocator", sys.argv[2])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert module.reuse_freed_memory() is True

    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    counts = {}
    for megabytes in (4, 16, 48):
        values = megabytes * 2**20 // 8
        np.ones(values)  # the first allocation may fault in any case
        before = faults()
        for _ in range(10):
            array = np.ones(values)
            del array
        counts[megabytes] = (faults() - before) / 10
    print(json.dumps(counts))
    """
)


def _faults_per_cycle(mode):
    result = subprocess.run(
        [sys.executable, "-c", _FAULTS, mode, allocator.__file__],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


@needs_glibc
def test_freed_buffers_are_reused_instead_of_faulted_in_again():
    default = _faults_per_cycle("default")
    reused = _faults_per_cycle("reuse")
    # glibc's defaults hand a 48 MiB buffer back to the system when it is freed: every
    # cycle faults the new one in again (536 faults here, 2 MiB huge pages backing part
    # of it; at least its 24 huge pages anywhere).
    assert default["48"] >= 24, default
    # With the settings, the memory stays in the process: (almost) no faults.
    assert sum(reused.values()) <= 0.05 * sum(default.values()), (default, reused)


@needs_glibc
def test_the_settings_are_applied_mmap_threshold_first(monkeypatch):
    calls = []

    def mallopt(parameter, value):
        calls.append((parameter, value))
        return 1

    monkeypatch.setattr(allocator, "_glibc_mallopt", lambda: mallopt)
    assert reuse_freed_memory(mmap_threshold=2**25, trim_threshold=2**28, top_pad=2**20)
    assert calls == [
        (allocator._M_MMAP_THRESHOLD, 2**25),
        (allocator._M_TRIM_THRESHOLD, 2**28),
        (allocator._M_TOP_PAD, 2**20),
    ]


def test_a_refused_mmap_threshold_warns_and_changes_nothing(monkeypatch):
    calls = []

    def mallopt(parameter, value):
        calls.append(parameter)
        return 0 if parameter == allocator._M_MMAP_THRESHOLD else 1

    monkeypatch.setattr(allocator, "_glibc_mallopt", lambda: mallopt)
    with pytest.warns(UserWarning, match="mmap_threshold=1073741824"):
        assert reuse_freed_memory() is False
    # The trim threshold alone would pin the mmap threshold low: it is not set.
    assert calls == [allocator._M_MMAP_THRESHOLD]


def test_without_glibc_nothing_is_done(monkeypatch):
    monkeypatch.setattr(allocator, "_glibc_mallopt", lambda: None)
    assert reuse_freed_memory() is False


@pytest.mark.parametrize(
    "argument, value",
    [("mmap_threshold", -1), ("trim_threshold", 2**31), ("top_pad", 1.5), ("top_pad", True)],
)
def test_bad_settings_name_the_argument(monkeypatch, argument, value):
    monkeypatch.setattr(allocator, "_glibc_mallopt", lambda: pytest.fail("mallopt called"))
    with pytest.raises(ValueError, match=f"Argument `{argument}`.*Received: {argument}="):
        reuse_freed_memory(**{argument: value})
