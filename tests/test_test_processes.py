"""The suite's own process settings (`tests/conftest.py::configure_test_process`)."""

import pytest

from tests.conftest import configure_test_process

pytestmark = pytest.mark.no_keras_state


def test_workers_filling_the_cores_get_one_thread_each():
    environ = {"PYTEST_XDIST_WORKER_COUNT": "2", "KERAS_BACKEND": "tensorflow"}
    configure_test_process(environ, cores=2)
    assert environ["TF_NUM_INTRAOP_THREADS"] == environ["TF_NUM_INTEROP_THREADS"] == "1"
    assert environ["OMP_NUM_THREADS"] == "1"
    assert environ["XLA_FLAGS"].split() == [
        "--xla_cpu_multi_thread_eigen=false",
        "intra_op_parallelism_threads=1",
    ]


def test_a_single_process_keeps_its_threads_and_the_jax_pass_compiles_without_llvm_passes():
    environ = {"KERAS_BACKEND": "jax"}
    configure_test_process(environ, cores=2)
    assert "TF_NUM_INTRAOP_THREADS" not in environ and "OMP_NUM_THREADS" not in environ
    assert environ["XLA_FLAGS"] == "--xla_backend_optimization_level=0"
    # The TensorFlow pass compiles with XLA's defaults.
    environ = {"KERAS_BACKEND": "tensorflow"}
    configure_test_process(environ, cores=2)
    assert "XLA_FLAGS" not in environ


def test_settings_of_the_environment_are_kept_and_flags_appended():
    environ = {
        "PYTEST_XDIST_WORKER_COUNT": "4",
        "KERAS_BACKEND": "jax",
        "OMP_NUM_THREADS": "3",
        "XLA_FLAGS": "--xla_dump_to=/tmp/dump --xla_backend_optimization_level=2",
    }
    configure_test_process(environ, cores=2)
    assert environ["OMP_NUM_THREADS"] == "3"
    assert environ["XLA_FLAGS"].split() == [
        "--xla_dump_to=/tmp/dump",
        "--xla_backend_optimization_level=2",
        "--xla_cpu_multi_thread_eigen=false",
        "intra_op_parallelism_threads=1",
    ]
    # Run twice (the xdist controller, then its worker): nothing is added twice.
    configure_test_process(environ, cores=2)
    assert len(environ["XLA_FLAGS"].split()) == 4
