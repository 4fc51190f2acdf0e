"""`toolkit.runtime.machine`: what a measurement ran on, for the reports."""

import json

import keras
import pytest

from toolkit.runtime import machine

pytestmark = pytest.mark.no_keras_state


def test_machine_info_is_json_ready_and_names_the_backend_and_versions():
    info = machine.machine_info(("keras", "no-such-package-here"))
    assert json.loads(json.dumps(info)) == info
    assert set(info) == {
        "date",
        "cpu",
        "os_cpu_count",
        "cpus_usable",
        "platform",
        "python",
        "backend",
        "versions",
    }
    assert info["backend"] == keras.backend.backend()
    assert info["versions"] == {"keras": keras.__version__, "no-such-package-here": "not installed"}
    assert 1 <= info["cpus_usable"] <= info["os_cpu_count"]
    assert info["cpu"] == machine.cpu_model() and info["cpu"]
