"""Test configuration shared by the whole suite.

The suite runs once per Keras backend (`KERAS_BACKEND=tensorflow`, then
`jax`, then `torch`; see `scripts/test.sh`). Tests that need TensorFlow itself
(SavedModel export, tf.data) carry the `tensorflow_only` marker and are
skipped on the other backends. The torch pass runs the library's contract
tests and the task models only (`TORCH_PASS`; docs/DESIGN.md, "The PyTorch
backend"): the rest is deselected there.

Tests marked `tensorflow_pass` run in the TensorFlow pass only although they
could run on JAX: recipe variations (other cells, attentions, feature
settings) whose backend-dependent parts the JAX pass covers with the layer,
cell and attention tests and one end-to-end run per recipe. They were the
slowest tests of the JAX pass (about 500 of its 2,900 worker-seconds on the
slower machine of the README's Performance section). The marker takes an
optional `reason` for the skip message, e.g.
`@pytest.mark.tensorflow_pass(reason="the notebooks call toolkit code the JAX
pass covers")`.

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


# What the torch pass runs: the library's contract tests (cells, layers, attention,
# decoding, features, losses, inspection, serialization and the Keras interchange)
# and the task models (tests/models: build, fit, predict, translate / tag, .keras
# round trips; their SavedModel export tests are `tensorflow_only`). Export, data
# readers, recipes, notebooks and benchmarks are left to the TensorFlow and JAX
# passes: what they add is TensorFlow's (tf.data, SavedModels).
TORCH_PASS = (
    "tests/cells/",
    "tests/layers/",
    "tests/attention/",
    "tests/decoding/",
    "tests/features/",
    "tests/losses/",
    "tests/inspect/",
    "tests/test_serialization.py",
    "tests/test_keras_wrappers.py",
    "tests/test_errors.py",
    "tests/test_backend_portability.py",
    "tests/models/",
)


def in_torch_pass(path, root):
    """Whether the test file at `path` belongs to the torch pass (`TORCH_PASS`)."""
    relative = os.path.relpath(str(path), str(root)).replace(os.sep, "/")
    return relative.startswith(TORCH_PASS)


def pytest_collection_modifyitems(config, items):
    import keras

    if keras.backend.backend() == "tensorflow":
        return
    if keras.backend.backend() == "torch":
        kept = [item for item in items if in_torch_pass(item.path, config.rootpath)]
        left = [item for item in items if not in_torch_pass(item.path, config.rootpath)]
        if left:
            config.hook.pytest_deselected(items=left)
            items[:] = kept
    skip = pytest.mark.skip(reason=f"needs TensorFlow; backend is {keras.backend.backend()}")
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
