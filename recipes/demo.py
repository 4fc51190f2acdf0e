"""Demo job: train a toolkit LSTM with `model.fit`, evaluate it and export it.

The synthetic task of `notebooks/01_gates_unveiled.ipynb`; it needs no download:
classify which of a few frequencies a noisy sine wave has, from sequences
of different lengths (padded on the right and masked), so it also exercises the toolkit's masking.

Run it with `python -m recipes.demo --out runs/demo`. The output folder holds
`config.json`, `metrics.json`, `model.keras` and `saved_model/`; it is written
to a temporary folder first and moved into place only when everything
succeeded, so a failed run leaves nothing that looks complete.
"""

import argparse
import dataclasses
import json
import pathlib
import sys

import keras
import numpy as np

import toolkit
from recipes.runner import config_to_dict
from recipes.runner import load_config
from recipes.runner import staged_output
from recipes.runner.cli import add_debug_argument
from recipes.runner.errors import run_command
from recipes.runner.outputs import check_out_dir


@dataclasses.dataclass
class DemoConfig:
    """Defaults of the demo job; every field can be set with `--set key=value`."""

    cell: str = "lstm"
    units: int = 32
    frequencies: tuple[float, ...] = (1.0, 2.0, 3.0)
    min_length: int = 12
    max_length: int = 40
    train_examples: int = 900
    test_examples: int = 300
    noise: float = 0.3
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-2
    seed: int = 7


def make_dataset(config, examples, seed):
    """Noisy sine waves of random length, right-padded with zeros.

    Returns `(waves, labels)`: `(examples, max_length, 1)` float32 and
    `(examples,)` int32. Padded steps are exactly zero, real steps never are
    (noise makes an exact zero practically impossible), so
    `keras.layers.Masking` finds the padding.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(config.frequencies), size=examples).astype("int32")
    lengths = rng.integers(config.min_length, config.max_length + 1, size=examples)
    waves = np.zeros((examples, config.max_length, 1), dtype="float32")
    for index, (label, length) in enumerate(zip(labels, lengths)):
        time = np.arange(length) / config.min_length
        phase = rng.uniform(0, 2 * np.pi)
        signal = np.sin(2 * np.pi * config.frequencies[label] * time + phase)
        signal += config.noise * rng.normal(size=length)
        waves[index, :length, 0] = signal
    return waves, labels


def build_model(config):
    if config.cell not in toolkit.layers.available():
        raise ValueError(
            f"Config field `cell` expected one of {list(toolkit.layers.available())}. "
            f"Received: cell={config.cell!r}"
        )
    inputs = keras.Input(shape=(config.max_length, 1), name="waves")
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    encoded = toolkit.layers.get(config.cell)(config.units, name="encoder")(masked)
    outputs = keras.layers.Dense(len(config.frequencies), activation="softmax")(encoded)
    return keras.Model(inputs, outputs, name="sine_classifier")


def run(config, out_dir):
    """Trains, evaluates and exports; returns the metrics dict."""
    out_dir = pathlib.Path(out_dir)
    check_out_dir(out_dir)  # before training, not after it
    keras.utils.set_random_seed(config.seed)
    train_x, train_y = make_dataset(config, config.train_examples, config.seed)
    test_x, test_y = make_dataset(config, config.test_examples, config.seed + 1)

    model = build_model(config)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        train_x,
        train_y,
        epochs=config.epochs,
        batch_size=config.batch_size,
        validation_split=0.1,
        verbose=2,
    )
    test_loss, test_accuracy = model.evaluate(test_x, test_y, verbose=0)

    with staged_output(out_dir) as staging:
        model.save(staging / "model.keras")
        reloaded = keras.models.load_model(staging / "model.keras")
        reload_gap = float(
            np.max(
                np.abs(
                    reloaded.predict(test_x[:16], verbose=0) - model.predict(test_x[:16], verbose=0)
                )
            )
        )
        if not reload_gap <= 1e-6:  # NaN fails too
            raise RuntimeError(
                f"The reloaded .keras model differs from the trained one by {reload_gap}"
            )
        if keras.backend.backend() == "tensorflow":
            model.export(str(staging / "saved_model"), verbose=False)
        metrics = {
            "test_accuracy": float(test_accuracy),
            "test_loss": float(test_loss),
            "chance_accuracy": 1.0 / len(config.frequencies),
            "train_loss_first_epoch": float(history.history["loss"][0]),
            "train_loss_last_epoch": float(history.history["loss"][-1]),
            "keras_reload_max_abs_diff": reload_gap,
            "backend": keras.backend.backend(),
        }
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        (staging / "config.json").write_text(json.dumps(config_to_dict(config), indent=2) + "\n")
    return metrics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    parser.add_argument("--preset", help="YAML file of config fields")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    config = load_config(DemoConfig, args.preset, args.set)
    out_dir = pathlib.Path(args.out)
    metrics = run(config, out_dir)
    print(json.dumps(metrics, indent=2))
    print(f"Wrote {out_dir}/: config.json metrics.json model.keras saved_model/")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main, prog="python -m recipes.demo"))
