# Sourced by run.sh and test.sh: creates .venv on first use and installs the
# project into it with the extras given in $EXTRAS. Needs python3 (>= 3.10).
#
# The install goes through uv (put into .venv from PyPI), which downloads and
# unpacks the wheels in parallel: on a fresh 2-core machine with an empty cache
# the test extras (TensorFlow, JAX, Jupyter) took 36 s against 103 s with pip,
# the same versions. It compiles the bytecode at install time, as pip does:
# where PYTHONDONTWRITEBYTECODE is set, nothing writes it later, and every
# process compiled TensorFlow's and JAX's sources again on import (19 s
# against 7 s for `import tensorflow, keras, jax, sklearn, matplotlib.pyplot`).
# Where uv cannot be installed or cannot reach the index (it reads no
# pip.conf), pip installs the project instead.
#
# The torch extra (Keras' PyTorch backend) is installed first and with pip, not
# uv: PyPI's Linux torch wheel is the CUDA build (several GB of nvidia-* wheels),
# and uv would resolve it from PyPI with the rest of the project. pip takes
# torch==2.13.0 from what pip.conf / PIP_FIND_LINKS offer (on this project's
# machines a CPU wheel lies on disk), or from $TORCH_INDEX_URL when it is set
# (e.g. https://download.pytorch.org/whl/cpu, where 2.13.0+cpu outranks PyPI's
# 2.13.0); the project then installs without the extra, so nothing swaps that
# build. For the CUDA build, install torch==2.13.0 from PyPI yourself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-${EXTRAS:-base}"
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ]; then
  extras="${EXTRAS:-}"
  if [[ ",$extras," == *",torch,"* ]]; then
    .venv/bin/python -m pip install --quiet "torch==2.13.0" \
      ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"}
    extras="$(echo ",$extras," | sed 's/,torch,/,/; s/^,//; s/,$//')"
  fi
  project=".${extras:+[$extras]}"
  if .venv/bin/python -m pip install --quiet uv \
    && .venv/bin/python -m uv pip install --quiet --compile-bytecode \
      --python .venv/bin/python -e "$project"; then
    :
  else
    echo "setup_env.sh: installing with pip (uv could not install the project)" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e "$project"
  fi
  touch "$stamp"
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
