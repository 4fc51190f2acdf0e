"""Numerical error of the minimal RNNs' parallel scans as sequences get longer.

Run (about a minute on a 2-core CPU; once per backend):

    KERAS_BACKEND=tensorflow python -m benchmarks.scan_error
    KERAS_BACKEND=jax python -m benchmarks.scan_error --lengths 16,256,4096

For each cell (`MinGRU`, `MinLSTM`), each gate regime and each length, the
layer runs in float32 three ways with the same weights - the step loop
(`fused=False`), the associative scan and the log-space scan
(`toolkit/layers/scan.py`) - on the same inputs (batch 2, 8 units, 4 features,
normal inputs, one initial state drawn from N(0, 1), no mask), and each is
compared with the float64 NumPy step loop written from the paper
(`tests/references_minimal.py`). Reported: the largest absolute error over
all outputs (every step, unit and row), and the largest output magnitude for
scale.

Regimes: `short memory` - Keras' default initialization (Glorot kernel, zero
bias), so the gates sit near one half and the state forgets within a few
steps; `long memory` - the same with the gate biases set so that the state
keeps about 98% per step (MinGRU update-gate bias -4; MinLSTM forget-gate
bias +4, input-gate bias -4). The log-space scan's error grows with
`|log A_t| = |sum of log a|`, which is largest with short memory.
"""

import argparse
import os
import sys

import keras
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "tests"))
import references_minimal  # noqa: E402

from toolkit.layers.minimal import MinGRU  # noqa: E402
from toolkit.layers.minimal import MinLSTM  # noqa: E402

BATCH, UNITS, FEATURES = 2, 8, 4
LAYERS = {"mingru": MinGRU, "minlstm": MinLSTM}
PATHS = {
    "step loop": {"fused": False},
    "associative scan": {"scan": "associative"},
    "log-space scan": {"scan": "log_space"},
}
# Gate-bias offsets per block of the kernel ([z, h] and [f, i, h]).
LONG_MEMORY_BIAS = {"mingru": (-4.0, 0.0), "minlstm": (4.0, -4.0, 0.0)}


def build_layers(kind, regime, seed):
    """One layer per path, all with the weights of the first."""
    layers = {}
    for path, options in PATHS.items():
        layer = LAYERS[kind](UNITS, return_sequences=True, **options)
        layer.build((None, None, FEATURES))
        layers[path] = layer
    first = layers["step loop"]
    keras.utils.set_random_seed(seed)
    kernel = keras.initializers.GlorotUniform(seed=seed)(first.cell.kernel.shape)
    bias = np.zeros(first.cell.bias.shape, "float32")
    if regime == "long memory":
        bias = np.repeat(np.array(LONG_MEMORY_BIAS[kind], "float32"), UNITS)
    for layer in layers.values():
        layer.set_weights([kernel, bias])
    return layers


def measure(kind, regime, length, seed=0):
    rng = np.random.default_rng(seed + length)
    x = rng.normal(size=(BATCH, length, FEATURES)).astype("float32")
    state = rng.normal(size=(BATCH, UNITS)).astype("float32")
    layers = build_layers(kind, regime, seed)
    reference, _ = references_minimal.REFERENCES[kind](
        x, layers["step loop"].cell, initial_state=[state]
    )
    row = {"scale": float(np.abs(reference).max())}
    for path, layer in layers.items():
        outputs = keras.ops.convert_to_numpy(layer(x, initial_state=[state]))
        row[path] = float(np.abs(outputs.astype("float64") - reference).max())
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="16,64,256,1024,4096")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    lengths = [int(length) for length in args.lengths.split(",")]
    header = "| cell | regime | length | max abs output | " + " | ".join(PATHS) + " |"
    lines = [
        f"Backend: {keras.backend.backend()}; float32 vs the float64 NumPy step loop.",
        "",
        header,
        "|" + "---|" * (4 + len(PATHS)),
    ]
    print("\n".join(lines), flush=True)
    for kind in LAYERS:
        for regime in ("short memory", "long memory"):
            for length in lengths:
                row = measure(kind, regime, length, args.seed)
                cells = " | ".join(f"{row[path]:.1e}" for path in PATHS)
                line = f"| {kind} | {regime} | {length} | {row['scale']:.2f} | {cells} |"
                lines.append(line)
                print(line, flush=True)
    return lines


if __name__ == "__main__":
    from recipes.runner.errors import run_command

    sys.exit(run_command(main, prog="python -m benchmarks.scan_error"))
