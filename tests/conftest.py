"""Test configuration shared by the whole suite.

The suite runs once per Keras backend (`KERAS_BACKEND=tensorflow`, then
`jax`, then `torch`; see `scripts/test.sh`). The TensorFlow pass runs every
test. The JAX and torch passes run the library's contract tests
(`LIBRARY_PASS`), and the JAX pass a smoke set besides (`JAX_SMOKE`): each
recipe trained under JAX once, the recipes' and the study's JAX-only code
(`jax.jit` searches and decoders, `jax.grad`), the README's examples and the
export functions' refusal of other backends. The rest (data readers, export,
recipe and study tests, notebooks, benchmarks) is deselected there: it is
TensorFlow's (tf.data, SavedModels) or Python that runs the same on every
backend. Tests that need TensorFlow itself carry the `tensorflow_only` marker
and are skipped on the other backends.

A test outside a pass is deselected even when the command line names it
(`pytest tests/recipes` on JAX runs the smoke tests only); `ALL_TESTS=1`
selects every test on any backend. Tests marked `tensorflow_pass` are skipped
on JAX and torch although they could run there: recipe variations (other
cells, attentions, feature settings), notebooks and the study's quick runs;
none is in `LIBRARY_PASS` or `JAX_SMOKE` today, so the marker matters for a
test moved into them or under `ALL_TESTS=1`. It takes an optional `reason` for
the skip message, e.g. `@pytest.mark.tensorflow_pass(reason="the notebooks
call toolkit code the JAX pass covers")`.

Every test process keeps freed tensor memory for reuse, as the recipes'
commands do (`toolkit.runtime.reuse_freed_memory`). The pytest-xdist
controller, which runs no test, does not import Keras: each pass's workers
start about 9 s sooner (`runs_tests`).

Two settings make the test processes cheaper; the tests run the same
operations (`configure_test_process`, before TensorFlow or JAX start):
- One thread per worker when pytest-xdist runs as many workers as the machine
  has cores (`scripts/test.sh`): each worker's thread pools would otherwise
  spin for cores the other worker is using.
- In the JAX pass, XLA compiles with LLVM's optimizations off
  (`--xla_backend_optimization_level=0`). The JAX pass compiles thousands of
  small programs that then run a few steps, and LLVM's optimizations were about
  a quarter of its time. XLA's own graph passes (fusion, layout) still run:
  the programs are the same, only their machine code is less optimized
  (results may differ in the last bits). The TensorFlow pass keeps the default:
  the recipes' quality-bar runs there are long enough for the slower code to
  cost more than the compile time saved.

Tried and not kept: TensorFlow's graph optimizer (Grappler) off in the
TensorFlow pass. The cell and layer test files took 11% less time without it,
but the whole pass did not get faster in CI (1125 s, 1108 s with it).
"""

import os


def configure_test_process(environ=os.environ, cores=None):
    """Sets the thread and XLA options of a test process (see the module docstring).

    Appends to `XLA_FLAGS` rather than replacing it, and leaves alone what the
    environment already sets, so a run can still choose its own values.
    """
    environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    flags = environ.get("XLA_FLAGS", "").split()
    wanted = []
    workers = int(environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers >= (cores or os.cpu_count() or 1):
        for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
            environ.setdefault(name, "1")
        wanted += ["--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1"]
    if environ.get("KERAS_BACKEND") == "jax":
        wanted.append("--xla_backend_optimization_level=0")
    already = {flag.split("=")[0] for flag in flags}
    flags += [flag for flag in wanted if flag.split("=")[0] not in already]
    if flags:
        environ["XLA_FLAGS"] = " ".join(flags)


configure_test_process()

import pytest  # noqa: E402


def runs_tests(config):
    """Whether this process runs tests (the pytest-xdist controller only hands them out)."""
    return "PYTEST_XDIST_WORKER" in os.environ or not getattr(config.option, "numprocesses", None)


def pytest_configure(config):
    if runs_tests(config):
        from toolkit.runtime import reuse_freed_memory

        reuse_freed_memory()  # in each xdist worker: conftest is loaded there too


# The library's contract tests: cells, layers, attention, decoding, features, losses,
# inspection, runtime, the task models (tests/models: build, fit, predict, translate /
# tag, .keras round trips), serialization, the Keras interchange, the public API's
# examples and `.keras` files across backends. The JAX and torch passes run these; the
# TensorFlow pass runs everything. Data readers, export, recipes, the study, notebooks
# and benchmarks are TensorFlow's (tf.data, SavedModels) or backend-independent Python.
LIBRARY_PASS = (
    "tests/cells/",
    "tests/layers/",
    "tests/attention/",
    "tests/decoding/",
    "tests/features/",
    "tests/losses/",
    "tests/inspect/",
    "tests/runtime/",
    "tests/models/",
    "tests/test_serialization.py",
    "tests/test_keras_wrappers.py",
    "tests/test_errors.py",
    "tests/test_backend_portability.py",
    "tests/test_public_api.py",
)

# What the JAX pass runs besides `LIBRARY_PASS`: a file, a test (all its parameters) or
# one parametrized case. Only the code paths that differ under JAX: each recipe trained
# under JAX once (the translation and speech runs export their SavedModels through a
# TensorFlow subprocess; the text run says how to get one), the recipes' `jax.jit`
# searches and decoders, the study's `jax.grad`, the README's examples (they branch on
# the backend) and the export functions' refusal of other backends.
JAX_SMOKE = (
    "tests/test_readme.py",
    "tests/recipes/test_text_classification.py::test_run_writes_every_output",
    "tests/recipes/test_text_classification.py::"
    "test_export_command_writes_the_saved_model_of_a_run_folder",
    "tests/recipes/test_translation.py::test_memorized_pairs_are_translated_exactly",
    "tests/recipes/test_translation.py::test_the_test_greedy_decode_reuses_the_dev_bleu_search",
    "tests/recipes/test_translation.py::test_run_folder_and_metrics",
    "tests/recipes/test_translation.py::test_saved_model_translates_strings_without_the_project",
    "tests/recipes/test_translation.py::test_compiled_search_reads_the_current_weights_and_traces_once",
    "tests/recipes/test_speech_tagging.py::"
    "test_run_writes_every_output_and_scores_what_the_model_predicts",
    "tests/recipes/test_speech_tagging.py::test_saved_model_serves_waveforms_without_the_project",
    "tests/recipes/test_speech_tagging.py::test_batched_ctc_decoding_equals_decoding_each_utterance",
    "tests/recipes/test_speech_tagging.py::test_ctc_decoding_compiles_once_per_shape_under_jax",
    "tests/recipes/test_demo.py::test_demo_trains_evaluates_and_exports[lstm]",
    "tests/recipes/test_study.py::test_gradient_norms_of_a_linear_rnn_are_powers_of_its_weight",
    "tests/recipes/test_study.py::test_gradient_norms_of_a_tanh_rnn_match_numpy_backpropagation",
    "tests/recipes/test_runner.py::test_strategies_by_name",
    "tests/export/test_export_text_classifier.py::test_bad_arguments_name_what_was_expected",
    "tests/export/test_export_translator.py::test_bad_arguments_name_what_was_expected",
    "tests/export/test_export_frame_tagger.py::test_other_backends_are_told_to_use_tensorflow",
)


def in_pass(backend, nodeid):
    """Whether the test `nodeid` (relative to the repository root) runs in `backend`'s pass."""
    path = nodeid.split("::")[0]
    if backend == "tensorflow" or path.startswith(LIBRARY_PASS):
        return True
    if backend != "jax":
        return False
    return path in JAX_SMOKE or nodeid in JAX_SMOKE or nodeid.split("[")[0] in JAX_SMOKE


def pytest_collection_modifyitems(config, items):
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return
    every = os.environ.get("ALL_TESTS") == "1"
    kept = [item for item in items if every or in_pass(backend, item.nodeid)]
    left = [item for item in items if not (every or in_pass(backend, item.nodeid))]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept
    skip = pytest.mark.skip(reason=f"needs TensorFlow; backend is {backend}")
    for item in items:
        if "tensorflow_only" in item.keywords:
            item.add_marker(skip)
        elif marker := item.get_closest_marker("tensorflow_pass"):
            reason = marker.kwargs.get("reason", "a recipe variation")
            item.add_marker(pytest.mark.skip(reason=f"{reason}; run in the TensorFlow pass only"))


@pytest.fixture(autouse=True)
def _isolated_keras_state(request):
    """Each test starts from float32, a fixed seed and a fresh name scope.

    Tests marked `no_keras_state` (they build no Keras object) skip it: its
    `clear_session()` without garbage collection is cheap; with it, about 0.3 s.
    """
    if request.node.get_closest_marker("no_keras_state"):
        yield
        return
    import keras
    import numpy as np

    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session(free_memory=False)  # gc.collect() per test cost ~0.3 s
