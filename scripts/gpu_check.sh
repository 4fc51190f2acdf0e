#!/usr/bin/env bash
# The GPU checks, in one command, on a machine with an NVIDIA GPU, JAX and PyTorch (the
# lent GPU machines have no TensorFlow, so Keras runs on JAX, then on torch): on JAX, the
# cuDNN path's tests, including the real kernel's parity cases that are skipped without a
# GPU, and the benchmark suite with PyTorch's cuDNN modules beside (`--torch-device cuda`);
# on torch, the parity tests of PyTorch's kernels (cuDNN's there) and the same benchmark.
# Usage: bash scripts/gpu_check.sh OUT_DIR [benchmark arguments, e.g. --configs base]
# Writes OUT_DIR/machine.txt, test_cudnn.log, benchmark.log, benchmark/results.{json,md},
# test_torch_kernels.log, benchmark_torch.log and benchmark_torch/results.{json,md}.
# Packages the machine lacks are installed from the wheels in $WHEELS (default .whl/) when
# there are any (`bash scripts/gpu_wheels.sh` downloads them). Exits non-zero if a step
# failed; the later steps still run.
set -uo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bash scripts/gpu_check.sh OUT_DIR [benchmark arguments]" >&2
  exit 2
fi
out=$(realpath -m "$1")
shift
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
wheels=${WHEELS:-.whl}
if compgen -G "$wheels/*.whl" > /dev/null; then
  $python -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/gpu_check_site "$wheels"/*.whl || exit 1
  export PYTHONPATH=/tmp/gpu_check_site${PYTHONPATH:+:$PYTHONPATH}
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
mkdir -p "$out"
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  $python -c "import jax, keras; print('jax', jax.__version__, jax.devices()); print('keras', keras.__version__)"
  $python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
} 2>&1 | tee "$out/machine.txt"
status=0
$python -m pytest tests/layers/test_cudnn.py -q -rs -p no:cacheprovider 2>&1 \
  | tee "$out/test_cudnn.log" || status=1
device=cpu
$python -c "import torch, sys; sys.exit(not torch.cuda.is_available())" 2>/dev/null && device=cuda
$python -m benchmarks.recurrent_layers --torch-device "$device" --out "$out/benchmark" "$@" 2>&1 \
  | tee "$out/benchmark.log" || status=1
KERAS_BACKEND=torch $python -m pytest tests/layers/test_torch_kernels.py \
  tests/layers/test_compaction.py -q -rs -p no:cacheprovider 2>&1 \
  | tee "$out/test_torch_kernels.log" || status=1
KERAS_BACKEND=torch $python -m benchmarks.recurrent_layers --torch-device "$device" \
  --out "$out/benchmark_torch" "$@" 2>&1 | tee "$out/benchmark_torch.log" || status=1
exit $status
