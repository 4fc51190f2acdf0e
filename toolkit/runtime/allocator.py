"""Keeping freed tensor memory in the process: glibc `malloc` settings."""

import ctypes
import sys
import warnings

# `mallopt` parameters, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_INT_MAX = 2**31 - 1  # `mallopt` takes a C int


def reuse_freed_memory(mmap_threshold=2**30, trim_threshold=_INT_MAX, top_pad=64 * 2**20):
    """Lets the C allocator keep freed tensor buffers for reuse instead of returning them.

    TensorFlow, XLA (JAX) and NumPy take their CPU buffers from `malloc`. With
    glibc's default settings, a buffer of more than a few megabytes is mapped
    fresh from the operating system and unmapped when freed, and the free
    memory at the top of a heap is given back beyond a small threshold. A
    training step allocates and frees the same large buffers every step, so
    each one is faulted in again, page by page: the speech-tagging recipe's
    default run (40 epochs on a 2-core CPU) took 30.9 million page faults and
    111 s of kernel time, and trained in 152.8 s. With these settings the
    memory stays in the process and is reused: 1.4 million page faults, 10 s of
    kernel time, 80.5 s of training, the same scores; the peak memory grew
    from 1.30 to 1.48 GB. Runs whose steps are a few large matmuls gain little
    (the text-classification recipe trained in the same time).

    The settings are process-wide and stay until the process ends; the cost is
    that memory freed after a peak is kept (up to `trim_threshold` per heap)
    rather than given back to the system. Call it once, early, in a process
    that trains or serves models, as the recipes' commands and the test suite
    do. The same settings can be given before the process starts with
    glibc's environment variables `MALLOC_MMAP_THRESHOLD_`,
    `MALLOC_TRIM_THRESHOLD_` and `MALLOC_TOP_PAD_` (all three together: a
    fixed mmap threshold alone turns off glibc's own adaptation and makes
    things worse). Elsewhere than Linux with glibc (macOS, musl) it does
    nothing and returns `False`.

    Args:
        mmap_threshold: Integer, bytes (default 1 GiB). Allocations at least
            this large are mapped from the system on their own; smaller ones
            come from the heap, whose freed memory is reused.
        trim_threshold: Integer, bytes (default the largest C int, about
            2 GiB). Free memory at the top of a heap is given back to the
            system only beyond this.
        top_pad: Integer, bytes (default 64 MiB). Extra memory asked for
            whenever a heap grows, so that it grows in fewer, larger steps.

    Returns:
        `True` if glibc took all three settings; `False` if there is no
        glibc, or if it refused the mmap threshold (older versions cap it at
        32 MiB; a warning names the value), in which case nothing is changed.

    Example:

    >>> from toolkit.runtime import reuse_freed_memory
    >>> applied = reuse_freed_memory()  # once, early; `True` on Linux with glibc
    >>> isinstance(applied, bool)
    True
    """
    settings = {
        "mmap_threshold": mmap_threshold,
        "trim_threshold": trim_threshold,
        "top_pad": top_pad,
    }
    for name, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT_MAX:
            raise ValueError(
                f"Argument `{name}` expected an integer number of bytes from 0 to {_INT_MAX}. "
                f"Received: {name}={value!r}"
            )
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    # The mmap threshold first: a trim threshold alone would fix the mmap threshold
    # at its 128 KiB default (glibc stops adapting it), mapping every larger buffer.
    if not mallopt(_M_MMAP_THRESHOLD, mmap_threshold):
        warnings.warn(
            f"glibc refused mmap_threshold={mmap_threshold}; malloc settings left unchanged",
            stacklevel=2,
        )
        return False
    accepted = mallopt(_M_TRIM_THRESHOLD, trim_threshold) and mallopt(_M_TOP_PAD, top_pad)
    return bool(accepted)


def _glibc_mallopt():
    """glibc's `mallopt(param, value) -> int` of this process, or `None` without glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the C library the process already runs on
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None  # musl, for one, has a `mallopt` that does nothing
    mallopt = libc.mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt
