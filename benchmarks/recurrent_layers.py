"""Speed of the toolkit's recurrent layers beside Keras' built-in ones and PyTorch.

Times one training step (forward + backward) and one inference pass of a
single recurrent layer on the same shapes, each framework compiled the way
its users run it (Keras: a `tf.function` / `jax.jit` through
`model.train_on_batch` and `model.predict_on_batch`; PyTorch: eager). Reports
the median over repeats and the ratios to Keras' layer, measured side by side
in one run. Run:

    python -m benchmarks.recurrent_layers --layer lstm --batch 32 --time 100

PyTorch is optional (`pip install torch`); without it that column is skipped.
Not part of the test suite: timings on shared machines are noisy, so compare
ratios from one run, never absolute numbers across runs.
"""

import argparse
import json
import statistics
import time

import keras
import numpy as np

import toolkit

KERAS_LAYERS = {
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "simple": keras.layers.SimpleRNN,
}


def median_seconds(function, repeats, warmup=2):
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def keras_timings(layer, inputs, targets, repeats):
    model = keras.Sequential([keras.Input(inputs.shape[1:], batch_size=inputs.shape[0]), layer])
    model.compile(optimizer="sgd", loss="mse")
    train = median_seconds(lambda: model.train_on_batch(inputs, targets), repeats)
    infer = median_seconds(lambda: model.predict_on_batch(inputs), repeats)
    return train, infer


def torch_timings(kind, inputs, units, repeats):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(max(1, torch.get_num_threads()))
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "simple": torch.nn.RNN}[kind](
        inputs.shape[-1], units, batch_first=True
    )
    optimizer = torch.optim.SGD(module.parameters(), lr=0.01)
    x = torch.from_numpy(inputs)
    target = torch.zeros(inputs.shape[0], units)

    def train():
        optimizer.zero_grad()
        outputs, _ = module(x)
        loss = ((outputs[:, -1] - target) ** 2).mean()
        loss.backward()
        optimizer.step()

    def infer():
        with torch.no_grad():
            module(x)

    return median_seconds(train, repeats), median_seconds(infer, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", choices=sorted(KERAS_LAYERS), default="lstm")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--time", type=int, default=100)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(args.batch, args.time, args.features)).astype("float32")
    targets = np.zeros((args.batch, args.units), "float32")
    results = {"backend": keras.backend.backend(), "shape": vars(args)}
    results["keras"] = keras_timings(
        KERAS_LAYERS[args.layer](args.units), inputs, targets, args.repeats
    )
    results["toolkit"] = keras_timings(
        toolkit.layers.get(args.layer)(args.units), inputs, targets, args.repeats
    )
    results["torch"] = torch_timings(args.layer, inputs, args.units, args.repeats)
    base_train, base_infer = results["keras"]
    for name in ("keras", "toolkit", "torch"):
        if results[name] is None:
            print(f"{name:8s} not installed")
            continue
        train, infer = results[name]
        print(
            f"{name:8s} train step {train * 1e3:8.2f} ms ({train / base_train:5.2f}x keras)   "
            f"inference {infer * 1e3:8.2f} ms ({infer / base_infer:5.2f}x keras)"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
