#!/usr/bin/env bash
# The whole test suite: lint, then pytest on the TensorFlow (every test), the JAX and the
# PyTorch backends (the library's contract tests, tests/conftest.py's LIBRARY_PASS; the JAX
# pass adds a smoke set of recipe runs and the README's examples, JAX_SMOKE).
# Extra arguments go to every pytest run, e.g. `bash scripts/test.sh -k lstm`.
# Two pytest-xdist workers (the machine's two cores; most tests are bound by Python and
# compilation, not by TensorFlow's thread pool), each taking whole files so that the recipes'
# module-scoped training fixtures run once; the 25 slowest tests are listed at the end.
EXTRAS="test,jax,torch" source "$(dirname "$0")/setup_env.sh"
.venv/bin/python -m ruff check toolkit recipes tests benchmarks
PYTEST_ARGS="-n 2 --dist loadfile --durations=25"
echo "== pytest, KERAS_BACKEND=tensorflow"
KERAS_BACKEND=tensorflow .venv/bin/python -m pytest $PYTEST_ARGS "$@"
echo "== pytest, KERAS_BACKEND=jax"
# Status 5 (no test collected) is fine in the JAX and torch passes: arguments may name only
# tests outside them.
KERAS_BACKEND=jax .venv/bin/python -m pytest $PYTEST_ARGS "$@" || [ $? -eq 5 ]
echo "== pytest, KERAS_BACKEND=torch"
KERAS_BACKEND=torch .venv/bin/python -m pytest $PYTEST_ARGS "$@" || [ $? -eq 5 ]
