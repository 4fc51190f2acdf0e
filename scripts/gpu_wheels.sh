#!/usr/bin/env bash
# Downloads into .whl/ (git ignores it) the wheels that a GPU machine with JAX but without
# this project's packages needs for `scripts/gpu_check.sh`: Keras at the version setup.py
# pins, and the two packages Keras needs that such an image lacks (namex, optree), for
# CPython on x86-64 Linux. Run it where PyPI can be reached; carry .whl/ to the GPU machine.
# Usage: bash scripts/gpu_wheels.sh [PYTHON_VERSION]   (default 3.12, the GPU image's)
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-3.12}
keras=$(grep -o '"keras==[^"]*"' setup.py | tr -d '"')
python=python3
[ -x .venv/bin/python ] && python=.venv/bin/python
rm -rf .whl && mkdir .whl
platforms=()
for n in 17 24 27 28 31 34; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
$python -m pip download --quiet --no-deps --only-binary=:all: --python-version "$version" \
  --implementation cp "${platforms[@]}" --platform manylinux2014_x86_64 -d .whl \
  "$keras" namex optree
ls .whl
