"""The adding problem and copy memory as training runs: data, model, budget, score.

Shared by the study's long-range experiment (`recipes.study.long_range`) and the
command-line benchmark (`python -m benchmarks.long_range`).

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

The same budget for every cell (`run_one`): a fresh model, initialized with the same seed, is
trained by `model.fit` with Adam (gradient norm clipped per step), the same batch size and
number of steps, on fresh batches drawn for every step (seeded, so every cell sees the same
data; no example repeats), then scored on held-out sequences drawn from a seed that training
never uses. `units_for_budget` sizes each cell to the same parameter count.
"""

import dataclasses
import time
import traceback

import keras
import numpy as np

import toolkit
from recipes.study.tasks import ADDING_SOLVED_MSE
from recipes.study.tasks import TEST_SEED_OFFSET
from recipes.study.tasks import FreshBatches
from recipes.study.tasks import closest_units
from toolkit.data.synthetic import adding_problem
from toolkit.data.synthetic import copy_memory
from toolkit.data.synthetic import copy_memory_baseline

TASKS = ("adding", "copy")
COPY_SEQUENCE_LENGTH = 10
COPY_SYMBOLS = 8
ADDING_THRESHOLD = ADDING_SOLVED_MSE  # test MSE below this
COPY_THRESHOLD = 0.99  # recall accuracy at least this
MAX_UNITS = 4096
# Training batches use seeds `seed * tasks.TRAIN_SEED_STRIDE + step` (`FreshBatches`); the test
# set uses `TEST_SEED_OFFSET + seed` and a validation set `VALIDATION_SEED_OFFSET + seed`, far
# above any training seed and apart from each other.
VALIDATION_SEED_OFFSET = 2**39

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


# === Tasks ===


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


# === Sizing ===


def parameter_count(task, cell, units):
    """Parameters of `task.build_model(cell, units)`, from building its two layers alone.

    `task` is anything with `steps`, `features`, `recurrent_layer(cell, units)` and
    `head()`. No symbolic call of the model: on JAX tracing the time loop costs about a
    second.
    """
    input_shape = (None, task.steps, task.features)
    layer, head = task.recurrent_layer(cell, units), task.head()
    layer.build(input_shape)
    head.build(layer.compute_output_shape(input_shape))
    return layer.count_params() + head.count_params()


def units_for_budget(task, cell, parameters):
    """The units whose model has the parameter count closest to `parameters` (ties: fewer).

    `tasks.closest_units` over `parameter_count`; each count is computed once, and only
    models near the budget are built (a large orthogonal initialization costs seconds).
    """
    counts = {}

    def count(units):
        if units not in counts:
            counts[units] = parameter_count(task, cell, units)
        return counts[units]

    return closest_units(count, parameters, MAX_UNITS)


# === One run ===


def run_one(task, cell, units, settings, validation=False):
    """Trains and scores one model; returns its row (a failure is recorded, not raised).

    `settings` holds `seed`, `learning_rate`, `clipnorm`, `batch_size`, `steps`, `epochs`
    (slices of `steps`, one training-loss value each) and `test_examples` (how many
    sequences are scored). With `validation=True` the model is scored on validation
    sequences (seed `VALIDATION_SEED_OFFSET + seed`) instead of the test sequences, for
    choosing settings without looking at the test set.
    """
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
            task.examples, settings["batch_size"], settings["steps"] // epochs, settings["seed"]
        )
        start = time.perf_counter()
        history = model.fit(batches, epochs=epochs, verbose=0)
        seconds = time.perf_counter() - start
        offset = VALIDATION_SEED_OFFSET if validation else TEST_SEED_OFFSET
        inputs, targets = task.examples(settings["test_examples"], seed=offset + settings["seed"])
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
        learning_rate=settings["learning_rate"],
        scored_on="validation" if validation else "test",
        metric=task.metric,
        threshold=task.threshold,
        **task.score(np.asarray(predictions), targets),
        train_loss=[float(value) for value in history.history["loss"]],
        train_seconds=seconds,
        execution_path=str(getattr(model.get_layer("recurrent"), "execution_path", "n/a")),
    )
    return row


# === Reporting ===


def status_line(row):
    """One line of progress for a finished run."""
    text = f"{row['task']} length {row['length']} {row['cell']}: {row['status']}"
    if row["status"] == "ok":
        text += (
            f", {row['metric']} {row['test_metric']:.4g} (baseline {row['baseline']:.4g}), "
            f"{'solved' if row['solved'] else 'not solved'}, {row['train_seconds']:.1f} s"
        )
    return text


def metric_cell(row):
    """A table entry: the test metric, bold and "solved" where it passed; `-` if not run."""
    if row is None:
        return "-"
    if row["status"] != "ok":
        return "failed"
    text = f"{row['test_metric']:.4g}"
    return f"**{text} solved**" if row["solved"] else text


def solved_table(rows, task_name, cells, lengths, corner="cell"):
    """Markdown table lines, cells x lengths, of one task's runs (`metric_cell` entries)."""
    runs = {(r["cell"], r["length"]): r for r in rows if r["task"] == task_name}
    lines = [
        f"| {corner} | " + " | ".join(f"length {length}" for length in lengths) + " |",
        "|" + " --- |" * (len(lengths) + 1),
    ]
    for cell in cells:
        entries = [metric_cell(runs.get((cell, length))) for length in lengths]
        lines.append(f"| {cell} | " + " | ".join(entries) + " |")
    return lines
