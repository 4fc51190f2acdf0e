#!/usr/bin/env bash
# The whole test suite: lint, then pytest on the TensorFlow and the JAX backends.
# Extra arguments go to both pytest runs, e.g. `bash scripts/test.sh -k lstm`.
EXTRAS="test,jax" source "$(dirname "$0")/setup_env.sh"
.venv/bin/python -m ruff check toolkit recipes tests benchmarks
echo "== pytest, KERAS_BACKEND=tensorflow"
KERAS_BACKEND=tensorflow .venv/bin/python -m pytest "$@"
echo "== pytest, KERAS_BACKEND=jax"
KERAS_BACKEND=jax .venv/bin/python -m pytest "$@"
