"""Long-range tasks: which recurrent cells solve the adding problem and the copy task, how long.

Run:

    python -m benchmarks.long_range --cells lstm,gru --tasks adding,copy --lengths 50,100,200
    python -m benchmarks.long_range --cells lstm,gru,simple --tasks adding --lengths 100,400
    python -m benchmarks.long_range --quick        # tiny sizes, a smoke test

Flags: `--cells` (any names of `toolkit.layers.available()`, default all of them), `--tasks`
(`adding`, `copy`), `--lengths` (the adding problem's sequence length; the copy task's delay
`T`, its sequences being `T + 2 * 10` steps long), `--steps` (training steps per run),
`--epochs` (how many slices `--steps` is cut into for the training-loss curve; it must divide
`--steps`), `--batch-size`, `--learning-rate`, `--clipnorm`, `--parameters` (the parameter
budget every model is sized to) or `--units` (the same units for every cell instead),
`--test-examples`, `--seed`, `--out DIR` (default `runs/benchmarks/long_range/`, receives
`results.json` and `results.md`), `--quick`.

The tasks (`toolkit.data.synthetic`):

* adding problem (Hochreiter & Schmidhuber, 1997; the form of Le et al., 2015): two channels,
  values uniform in [0, 1) and a marker on one step of each half; the target is the sum of the
  two marked values. Model: the recurrent layer's last output, then `Dense(1)`; MSE loss.
  Baseline: always predicting 1, MSE `2 / 12 ~= 0.167` (reported as measured on the test set).
  **Solved: test MSE below 0.01** (6% of the baseline).
* copy memory (Arjovsky et al., 2016): 10 symbols from 1..8, `T - 1` blanks, a delimiter and 10
  blanks, one-hot encoded (10 input channels); the targets are blanks, then the 10 symbols.
  Model: the layer with `return_sequences=True`, then `Dense(9, softmax)` at every step;
  sparse categorical cross-entropy over all steps. Baselines: the memoryless cross-entropy
  `10 log(8) / (T + 20)` and the chance recall accuracy 1/8. **Solved: accuracy on the
  recalled symbols (the last 10 steps) of at least 0.99.**

The same budget for every cell: for each task x length x cell a fresh model, initialized
with the same seed, is trained by `model.fit` with Adam (`--learning-rate`, gradient norm
clipped to `--clipnorm` per step), the same batch size and number of steps, on fresh batches
drawn for every step (seeded, so every cell sees the same data; no example repeats), then
scored on `--test-examples` sequences drawn from a seed that training never uses. Every
cell's units are chosen so that the whole model's parameter count is the closest to
`--parameters` (the head included; the count is reported), unless `--units` fixes them.

Reported per run: units, parameters, test metric (MSE / recall accuracy) beside its baseline
and threshold, solved or not, the test loss and its baseline (MSE / cross-entropy), the
training loss at the end of each epoch, training seconds (`model.fit`, compilation
included) and the layer's execution path. `results.md` holds a table cells x lengths per
task (the test metric, "solved" where it passed) and a table of every run; it is printed too.

Measured once, with the defaults (3000 steps, batch 64, Adam at 1e-2, gradient norm clipped to 1,
about 5000 parameters), TensorFlow backend, on the 2-core CPU machine, shared at the time (load
average 4-6 from other jobs):

    python -m benchmarks.long_range --cells lstm,gru --tasks adding --lengths 100

Both solved length 100, in 1 min 30 s wall for the whole command (start-up, sizing, both
runs): LSTM (34 units, 5,067 parameters) test MSE 0.00024 after 42.6 s of training, its
loss leaving the 0.167 plateau between steps 900 and 1200; GRU (39 units, 5,071 parameters)
test MSE 0.00013 after 36.4 s, off the plateau within its first 600 steps (the baseline on
the test set: 0.152). The learning rate and the clipping (Pascanu et al., 2013) were the
first settings tried and were kept, not tuned further. The copy task is harder, as Arjovsky
et al. found: with the same defaults at delay 10 (`--cells lstm,gru --tasks copy --lengths
10`), LSTM and GRU learnt part of it (test cross-entropy 0.476 against the memoryless 0.693;
32% and 41% of the symbols recalled), not enough to count as solved.
"""

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import sys
import time
import traceback

import keras
import numpy as np

import toolkit
from toolkit.data.synthetic import adding_problem
from toolkit.data.synthetic import copy_memory
from toolkit.data.synthetic import copy_memory_baseline

DEFAULT_OUT = pathlib.Path("runs/benchmarks/long_range")
TASKS = ("adding", "copy")
COPY_SEQUENCE_LENGTH = 10
COPY_SYMBOLS = 8
ADDING_THRESHOLD = 0.01  # test MSE below this
COPY_THRESHOLD = 0.99  # recall accuracy at least this
MAX_UNITS = 4096
# Training batches use seeds `seed * TRAIN_SEED_STRIDE + step`; the test set uses
# `TEST_SEED_OFFSET + seed`, far above any training seed.
TRAIN_SEED_STRIDE = 10_000_000
TEST_SEED_OFFSET = 2**40
DEFAULTS = {
    "lengths": [50, 100, 200],
    "steps": 3000,
    "epochs": 10,
    "batch_size": 64,
    "learning_rate": 0.01,
    "clipnorm": 1.0,
    "parameters": 5000,
    "test_examples": 1000,
}
QUICK = {
    "lengths": [6],
    "steps": 3,
    "epochs": 1,
    "batch_size": 4,
    "units": 4,  # fixed: sizing builds a dozen models, seconds each on JAX
    "test_examples": 8,
}


# ---------------------------------------------------------------- tasks


@dataclasses.dataclass(frozen=True)
class Task:
    """One synthetic task at one length: its data, model head, loss and score."""

    name: str
    length: int  # the adding problem's sequence length; the copy task's delay

    @property
    def steps(self):
        """Time steps per sequence."""
        if self.name == "adding":
            return self.length
        return self.length + 2 * COPY_SEQUENCE_LENGTH

    @property
    def features(self):
        return 2 if self.name == "adding" else COPY_SYMBOLS + 2

    @property
    def metric(self):
        return "mse" if self.name == "adding" else "recall_accuracy"

    @property
    def threshold(self):
        return ADDING_THRESHOLD if self.name == "adding" else COPY_THRESHOLD

    def examples(self, num_examples, seed):
        """`(inputs, targets)` for the model: float32 inputs, copy symbols one-hot."""
        if self.name == "adding":
            return adding_problem(num_examples, self.length, seed=seed)
        tokens, targets = copy_memory(
            num_examples, self.length, COPY_SEQUENCE_LENGTH, COPY_SYMBOLS, seed=seed
        )
        return np.eye(self.features, dtype="float32")[tokens], targets

    def recurrent_layer(self, cell, units):
        """`toolkit.layers.get(cell)(units)`, returning every step for the copy task."""
        layer_class = toolkit.layers.get(cell)
        return layer_class(units, return_sequences=self.name == "copy", name="recurrent")

    def head(self):
        if self.name == "adding":
            return keras.layers.Dense(1, name="sum")
        return keras.layers.Dense(COPY_SYMBOLS + 1, activation="softmax", name="symbols")

    def build_model(self, cell, units):
        inputs = keras.Input((self.steps, self.features), name="sequences")
        outputs = self.head()(self.recurrent_layer(cell, units)(inputs))
        return keras.Model(inputs, outputs, name=f"{self.name}_{cell}")

    @property
    def loss(self):
        return "mse" if self.name == "adding" else "sparse_categorical_crossentropy"

    def score(self, predictions, targets):
        """Test metric, loss and their baselines, all from the test data (float64)."""
        if self.name == "adding":
            targets = targets.astype("float64")
            mse = float(np.mean((predictions.astype("float64") - targets) ** 2))
            baseline = float(np.mean((1.0 - targets) ** 2))
            return {
                "test_metric": mse,
                "baseline": baseline,
                "test_loss": mse,
                "baseline_loss": baseline,
                "solved": mse < ADDING_THRESHOLD,
            }
        probabilities = predictions.astype("float64")
        chosen = np.take_along_axis(probabilities, targets[..., None], axis=-1)[..., 0]
        cross_entropy = float(np.mean(-np.log(np.maximum(chosen, 1e-12))))
        recalled = probabilities[:, -COPY_SEQUENCE_LENGTH:].argmax(axis=-1)
        accuracy = float(np.mean(recalled == targets[:, -COPY_SEQUENCE_LENGTH:]))
        return {
            "test_metric": accuracy,
            "baseline": 1.0 / COPY_SYMBOLS,
            "test_loss": cross_entropy,
            "baseline_loss": copy_memory_baseline(self.length, COPY_SEQUENCE_LENGTH, COPY_SYMBOLS),
            "solved": accuracy >= COPY_THRESHOLD,
        }


class FreshBatches(keras.utils.PyDataset):
    """Training batches drawn anew for every step: step `s` uses seed `base + s`."""

    def __init__(self, task, batch_size, steps_per_epoch, seed):
        super().__init__()
        self.task = task
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        self.base_seed = seed * TRAIN_SEED_STRIDE
        self.epoch = 0

    def __len__(self):
        return self.steps_per_epoch

    def __getitem__(self, index):
        step = self.epoch * self.steps_per_epoch + index
        return self.task.examples(self.batch_size, seed=self.base_seed + step)

    def on_epoch_end(self):
        self.epoch += 1


# ---------------------------------------------------------------- one run


def parameter_count(task, cell, units):
    """Parameters of `task.build_model(cell, units)`, from building its two layers alone.

    No symbolic call of the model: on JAX tracing the time loop costs about a second.
    """
    input_shape = (None, task.steps, task.features)
    layer, head = task.recurrent_layer(cell, units), task.head()
    layer.build(input_shape)
    head.build(layer.compute_output_shape(input_shape))
    return layer.count_params() + head.count_params()


def units_for_budget(task, cell, parameters):
    """The units whose model has the parameter count closest to `parameters` (ties: fewer).

    The count grows with the units: doubling from 1 brackets the budget, a bisection
    finds the first units at or above it, and the answer is those or one fewer. Only
    models near the budget are built (a large orthogonal initialization costs seconds).
    """
    counts = {}

    def count(units):
        if units not in counts:
            counts[units] = parameter_count(task, cell, units)
        return counts[units]

    high = 1
    while count(high) < parameters and high < MAX_UNITS:
        high *= 2
    low = high // 2 + 1 if high > 1 else 1
    while low < high:
        middle = (low + high) // 2
        if count(middle) >= parameters:
            high = middle
        else:
            low = middle + 1
    if low > 1 and abs(count(low - 1) - parameters) <= abs(count(low) - parameters):
        return low - 1
    return low


def run_one(task, cell, units, settings):
    """Trains and scores one model; returns its row (a failure is recorded, not raised)."""
    row = {"task": task.name, "length": task.length, "time_steps": task.steps, "cell": cell}
    try:
        keras.utils.set_random_seed(settings["seed"])
        model = task.build_model(cell, units)
        model.compile(
            optimizer=keras.optimizers.Adam(
                settings["learning_rate"], clipnorm=settings["clipnorm"]
            ),
            loss=task.loss,
        )
        epochs = settings["epochs"]
        batches = FreshBatches(
            task, settings["batch_size"], settings["steps"] // epochs, settings["seed"]
        )
        start = time.perf_counter()
        history = model.fit(batches, epochs=epochs, verbose=0)
        seconds = time.perf_counter() - start
        inputs, targets = task.examples(
            settings["test_examples"], seed=TEST_SEED_OFFSET + settings["seed"]
        )
        predictions = model.predict(inputs, batch_size=settings["test_examples"], verbose=0)
    except Exception as error:  # reported in the row and on stderr; the other runs go on
        traceback.print_exc()
        row["status"] = f"failed: {type(error).__name__}: {error}"
        return row
    row.update(
        status="ok",
        layer=type(model.get_layer("recurrent")).__name__,
        units=units,
        parameters=model.count_params(),
        metric=task.metric,
        threshold=task.threshold,
        **task.score(np.asarray(predictions), targets),
        train_loss=[float(value) for value in history.history["loss"]],
        train_seconds=seconds,
        execution_path=str(getattr(model.get_layer("recurrent"), "execution_path", "n/a")),
    )
    return row


def run_suite(args):
    """Every selected task x length x cell in this process; returns the results dictionary."""
    settings = {
        name: getattr(args, name)
        for name in (
            "steps",
            "epochs",
            "batch_size",
            "learning_rate",
            "clipnorm",
            "parameters",
            "units",
            "test_examples",
            "seed",
            "quick",
        )
    }
    rows = []
    for task_name in args.tasks:
        units = {}
        for cell in args.cells:
            sizing = Task(task_name, args.lengths[0])
            units[cell] = args.units or units_for_budget(sizing, cell, args.parameters)
        for length in args.lengths:
            task = Task(task_name, length)
            for cell in args.cells:
                row = run_one(task, cell, units[cell], settings)
                print(status_line(row), file=sys.stderr)
                rows.append(row)
    return {
        "machine": machine_info(),
        "settings": settings,
        "tasks": {name: TASK_DESCRIPTIONS[name] for name in args.tasks},
        "cells": list(args.cells),
        "lengths": list(args.lengths),
        "rows": rows,
    }


def status_line(row):
    text = f"{row['task']} length {row['length']} {row['cell']}: {row['status']}"
    if row["status"] == "ok":
        text += (
            f", {row['metric']} {row['test_metric']:.4g} (baseline {row['baseline']:.4g}), "
            f"{'solved' if row['solved'] else 'not solved'}, {row['train_seconds']:.1f} s"
        )
    return text


TASK_DESCRIPTIONS = {
    "adding": (
        f"adding problem, length = sequence length; metric: test MSE, solved below "
        f"{ADDING_THRESHOLD} (baseline: always 1, about 0.167)"
    ),
    "copy": (
        f"copy memory, length = delay T ({COPY_SEQUENCE_LENGTH} symbols of {COPY_SYMBOLS}, "
        f"T + {2 * COPY_SEQUENCE_LENGTH} steps); metric: accuracy on the recalled symbols, "
        f"solved at {COPY_THRESHOLD} or above (chance {1 / COPY_SYMBOLS}; memoryless "
        f"cross-entropy {COPY_SEQUENCE_LENGTH} log({COPY_SYMBOLS}) / (T + "
        f"{2 * COPY_SEQUENCE_LENGTH}))"
    ),
}


# ---------------------------------------------------------------- machine and report


def package_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info():
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "os_cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "backend": keras.backend.backend(),
        "versions": {name: package_version(name) for name in ("keras", "tensorflow", "jax")},
    }


def metric_cell(row):
    if row is None:
        return "-"
    if row["status"] != "ok":
        return "failed"
    text = f"{row['test_metric']:.4g}"
    return f"**{text} solved**" if row["solved"] else text


def task_table(results, task_name):
    """Cells x lengths: the test metric of each run, bold and "solved" where it passed."""
    runs = {(r["cell"], r["length"]): r for r in results["rows"] if r["task"] == task_name}
    lengths = results["lengths"]
    lines = [
        f"## {task_name}: {results['tasks'][task_name]}",
        "",
        "| cell | " + " | ".join(f"length {length}" for length in lengths) + " |",
        "|" + " --- |" * (len(lengths) + 1),
    ]
    for cell in results["cells"]:
        cells = [metric_cell(runs.get((cell, length))) for length in lengths]
        lines.append(f"| {cell} | " + " | ".join(cells) + " |")
    return lines


RUN_HEADER = (
    "task",
    "length",
    "cell",
    "units",
    "parameters",
    "metric",
    "test",
    "baseline",
    "solved",
    "test loss",
    "baseline loss",
    "final train loss",
    "train s",
)


def run_row(row):
    head = [row["task"], str(row["length"]), row["cell"]]
    if row["status"] != "ok":
        return head + [row["status"]] + ["-"] * (len(RUN_HEADER) - 4)
    return head + [
        str(row["units"]),
        str(row["parameters"]),
        row["metric"],
        f"{row['test_metric']:.4g}",
        f"{row['baseline']:.4g}",
        "yes" if row["solved"] else "no",
        f"{row['test_loss']:.4g}",
        f"{row['baseline_loss']:.4g}",
        f"{row['train_loss'][-1]:.4g}",
        f"{row['train_seconds']:.1f}",
    ]


def markdown_report(results):
    machine, settings = results["machine"], results["settings"]
    sizing = (
        f"{settings['units']} units for every cell"
        if settings["units"]
        else f"units chosen per cell for about {settings['parameters']} parameters"
    )
    lines = [
        "# Long-range tasks: which cells solve which lengths",
        "",
        f"{machine['date']}, backend {machine['backend']}, os.cpu_count() "
        f"{machine['os_cpu_count']}, "
        + ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
        + ".",
        f"Every run: Adam, learning rate {settings['learning_rate']}, gradient norm clipped to "
        f"{settings['clipnorm']}, batch {settings['batch_size']}, {settings['steps']} steps of "
        f"fresh data, seed {settings['seed']}; {sizing}; scored on "
        f"{settings['test_examples']} held-out sequences.",
        "",
    ]
    for task_name in results["tasks"]:
        lines += task_table(results, task_name) + [""]
    lines += ["## Every run", "", "| " + " | ".join(RUN_HEADER) + " |"]
    lines.append("|" + " --- |" * len(RUN_HEADER))
    lines += ["| " + " | ".join(run_row(row)) + " |" for row in results["rows"]]
    return "\n".join(lines) + "\n"


def write_results(results, out):
    out.mkdir(parents=True, exist_ok=True)
    report = markdown_report(results)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(report)
    return report


# ---------------------------------------------------------------- command line


def name_list(choices):
    def parse(text):
        names = [name.strip().lower() for name in text.split(",") if name.strip()]
        unknown = sorted(set(names) - set(choices))
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated subset of {','.join(choices)}; got {text!r}"
            )
        return list(dict.fromkeys(names))

    return parse


def positive_int_list(text):
    try:
        values = [int(value) for value in text.split(",") if value.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers; got {text!r}"
        )
    return list(dict.fromkeys(values))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    cells = toolkit.layers.available()
    parser.add_argument("--cells", type=name_list(cells), default=list(cells))
    parser.add_argument("--tasks", type=name_list(TASKS), default=list(TASKS))
    parser.add_argument("--lengths", type=positive_int_list, help="default 50,100,200")
    parser.add_argument("--steps", type=int, help="training steps per run (default 3000)")
    parser.add_argument("--epochs", type=int, help="slices of --steps (default 10)")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float, default=DEFAULTS["learning_rate"])
    parser.add_argument("--clipnorm", type=float, default=DEFAULTS["clipnorm"])
    parser.add_argument("--parameters", type=int, help="parameter budget (default 5000)")
    parser.add_argument("--units", type=int, help="fixed units for every cell instead")
    parser.add_argument("--test-examples", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    args = parser.parse_args(argv)
    defaults = {**DEFAULTS, **QUICK} if args.quick else DEFAULTS
    if args.units is None and args.parameters is None:
        args.units = defaults.get("units")
    for name in ("lengths", "steps", "epochs", "batch_size", "parameters", "test_examples"):
        if getattr(args, name) is None:
            setattr(args, name, defaults[name])
    for name in ("steps", "epochs", "batch_size", "parameters", "test_examples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer")
    if args.units is not None and args.units < 1:
        parser.error("--units must be a positive integer")
    if args.steps % args.epochs:
        parser.error(f"--epochs ({args.epochs}) must divide --steps ({args.steps})")
    if args.learning_rate <= 0 or args.clipnorm <= 0 or args.seed < 0:
        parser.error("--learning-rate and --clipnorm must be positive, --seed non-negative")
    return args


def main(argv=None):
    args = parse_args(argv)
    results = run_suite(args)
    print(write_results(results, args.out))
    return results


if __name__ == "__main__":
    main()
