"""The suite's own process settings and pass selection (`tests/conftest.py`)."""

import ast
import pathlib

import pytest

from tests.conftest import JAX_SMOKE
from tests.conftest import LIBRARY_PASS
from tests.conftest import configure_test_process
from tests.conftest import in_pass

ROOT = pathlib.Path(__file__).resolve().parents[1]

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


def test_each_pass_selects_its_tests():
    layer_test = "tests/layers/test_cudnn.py::test_bidirectional_masked_batch_matches_the_step_loop"
    smoke = "tests/recipes/test_translation.py::test_memorized_pairs_are_translated_exactly"
    variation = (
        "tests/recipes/test_translation.py::test_other_attentions_and_cells_train[none-gru-loss]"
    )
    demo = "tests/recipes/test_demo.py::test_demo_trains_evaluates_and_exports"
    for backend in ("tensorflow", "jax", "torch"):
        assert in_pass(backend, layer_test)
    assert all(in_pass("tensorflow", test) for test in (smoke, variation, f"{demo}[gru]"))
    # JAX: the recipe file's smoke test, one parametrized case, a whole file; not the rest.
    assert in_pass("jax", smoke) and not in_pass("jax", variation)
    assert in_pass("jax", f"{demo}[lstm]") and not in_pass("jax", f"{demo}[gru]")
    assert in_pass("jax", "tests/test_readme.py::test_readme_tagger_example_runs")
    assert not in_pass("jax", "tests/test_notebooks.py::test_notebook_runs[01_first_layer]")
    # A test whose name starts like a smoke test's is not one.
    assert not in_pass("jax", "tests/recipes/test_runner.py::test_strategies_by_name_and_more")
    # torch: the library's tests only.
    assert not in_pass("torch", smoke) and not in_pass("torch", "tests/test_readme.py::test_x")


def test_the_smoke_set_and_the_library_pass_name_tests_that_exist():
    """A renamed test or file would otherwise leave the JAX pass without it, silently."""
    for prefix in LIBRARY_PASS:
        assert (ROOT / prefix).exists(), prefix
    for entry in JAX_SMOKE:
        path, _, test = entry.partition("::")
        assert (ROOT / path).is_file(), entry
        if test:
            tree = ast.parse((ROOT / path).read_text())
            names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
            assert test.split("[")[0] in names, entry
