"""What a measurement ran on: package versions and the CPU model, for reports."""

import importlib.metadata
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
