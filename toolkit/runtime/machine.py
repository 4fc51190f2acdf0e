"""What a measurement ran on: package versions and the CPU model, for reports.

Used by the study's report and the benchmarks (`benchmarks/recurrent_layers.py`,
`benchmarks/long_range.py`). Importable as `toolkit.runtime.machine`; not part
of `toolkit.runtime`'s public names.
"""

import datetime
import importlib.metadata
import os
import pathlib
import platform


def package_version(name):
    """The installed version of distribution `name`, or `"not installed"`.

    Example:

    >>> package_version("no-such-package-here")
    'not installed'
    """
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_model():
    """The CPU's model name (Linux `/proc/cpuinfo`, else `platform.processor()`)."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(packages):
    """Date, CPU, platform, Keras backend and `packages`' versions, JSON-ready.

    Args:
        packages: Distribution names whose versions are reported (`"not installed"`
            for a missing one).

    Returns:
        A dict: `date` (UTC, ISO 8601), `cpu` (`cpu_model`), `os_cpu_count`,
        `cpus_usable` (the CPUs this process may run on, where the OS says; else
        `os.cpu_count()`), `platform`, `python`, `backend` and `versions`.
    """
    import keras

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "os_cpu_count": os.cpu_count(),
        "cpus_usable": usable or os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "backend": keras.backend.backend(),
        "versions": {name: package_version(name) for name in packages},
    }
