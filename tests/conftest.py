"""Test configuration shared by the whole suite.

The suite runs once per Keras backend (`KERAS_BACKEND=tensorflow`, then
`KERAS_BACKEND=jax`; see `scripts/test.sh`). Tests that need TensorFlow itself
(SavedModel export, tf.data) carry the `tensorflow_only` marker and are
skipped on the other backends.

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
commands do (`toolkit.runtime.reuse_freed_memory`).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from toolkit.runtime import reuse_freed_memory  # noqa: E402


def pytest_configure(config):
    reuse_freed_memory()  # in each xdist worker: conftest is loaded there too


def pytest_collection_modifyitems(config, items):
    if keras.backend.backend() == "tensorflow":
        return
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
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session(free_memory=False)  # gc.collect() per test cost ~0.3 s
