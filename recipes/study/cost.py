"""Claim 3: GRUs are cheaper than LSTMs, for about the same accuracy.

Models: a toolkit `LSTM`, `GRU` and, as the ungated baseline, `SimpleRNN`, each inside the
same number-agreement classifier (`recipes.study.tasks.text_model`: a 32-wide masked
embedding, the recurrent layer's last output, a softmax; the bundled data of the
text-classification recipe, read up to the masked verb as in Linzen et al. 2016). Compared
at equal units (`units`, default 64) and at an equal parameter count: the GRU's and the
SimpleRNN's units chosen so that their recurrent layer has the parameter count closest to the
LSTM's at `units` (the embedding and the softmax are the same for all and left out).

Measured:

* parameters of the recurrent layer, from the built layer (`count_params`), checked against
  the formulas with `m` inputs and `n` units: LSTM `4 (m n + n^2 + n)`; GRU `3 (m n + n^2 +
  2 n)` (the toolkit's default `reset_after=True` has separate input and recurrent biases;
  `3 (m n + n^2 + n)` without); SimpleRNN `m n + n^2 + n`. A mismatch fails the experiment;
* training time per step: `model.train_on_batch` (the fit's Adam) on one fixed batch of
  `batch_size` training prefixes padded to `max_length` steps, and inference
  (`predict_on_batch`) on it. The models timed are the first seed's, after their accuracy
  run (compiled already; weights do not change a step's cost). They are timed side by side
  in interleaved rounds in balanced orders (each round: a pause, one untimed call, then
  `calls` timed ones per model), after a warm-up. Reported: the median and interquartile
  range over all timed calls, and the ratio to the LSTM paired by round (the median over
  rounds of the two round means' ratio), which cancels a slow spell of a shared machine;
* accuracy: each model trained with the same budget (`epochs` over the training split in
  batches of `batch_size`, Adam 3e-3, gradient norm clipped to 1), `seeds` times with
  different initializations and batch orders, scored on the test split (1,692 sentences,
  balanced: chance is 0.5).

Verdict: the GRU is cheaper if at equal units its recurrent layer has less than 0.9 x the
LSTM's parameters and its training step takes at most 0.95 x the LSTM's (paired ratio); it
is as accurate if at equal parameters its mean test accuracy is at most `margin` below the
LSTM's, `margin = max(0.01, 2 x the standard error of the difference over seeds)`. The claim
holds when all three are true, does not hold when the GRU has not fewer parameters or is
neither faster nor as accurate, and partly holds otherwise.

Default sizes: 64 units, 3 epochs, 3 seeds for five models (15 trainings of 5-15 s), 30
timing rounds of 3 calls. About 3 minutes on the 2-core CPU machine (TensorFlow); timings on
a shared machine are noisy, so read the paired ratios of one run. `quick=True` takes under
half a minute.
"""

import functools
import pathlib
import time

import keras
import numpy as np

import toolkit
from recipes.study import tasks
from recipes.study.findings import Finding
from toolkit.runtime.timing import interleaved_timings

KEY = "cost"
TITLE = "3. GRUs are cheaper than LSTMs"
CLAIM = (
    "A GRU has three gate blocks to the LSTM's four, so it has about a quarter fewer "
    "parameters and trains faster at the same width, with accuracy comparable to the "
    "LSTM's (Cho et al. 2014; Chung et al. 2014; Jozefowicz et al. 2015)."
)
CELL_NAMES = {"simple": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
PARAMETER_RATIO = 0.9  # GRU / LSTM parameters at equal units below this: fewer
TIME_RATIO = 0.95  # GRU / LSTM median training step at most this: faster
ACCURACY_MARGIN = 0.01  # the smallest accuracy margin for "as accurate"

DEFAULTS = {
    "units": 64,
    "embedding_dim": 32,
    "epochs": 3,
    "seeds": 3,
    "batch_size": 64,
    "max_length": 40,
    "train_examples": None,
    "test_examples": None,
    "timing_rounds": 30,
    "timing_calls": 3,
    "timing_warmup": 3,
    "pad_multiple": 8,
}
QUICK = {
    "units": 4,
    "embedding_dim": 4,
    "epochs": 1,
    "seeds": 1,
    "batch_size": 32,
    "max_length": 16,
    "train_examples": 128,
    "test_examples": 64,
    "timing_rounds": 2,
    "timing_calls": 1,
    "timing_warmup": 1,
    "pad_multiple": 16,  # one shape: compiling dominates at this size
}


# === Parameter counts ===


def recurrent_parameters(cell, input_dim, units, reset_after=True):
    """The parameter count of a recurrent layer by formula (weights and biases).

    Args:
        cell: `"lstm"`, `"gru"` or `"simple"`.
        input_dim: Integer `m`, the input features.
        units: Integer `n`.
        reset_after: Boolean (default `True`), the GRU's bias layout.

    Returns:
        LSTM `4 (m n + n^2 + n)`, GRU `3 (m n + n^2 + 2 n)` (`reset_after=True`) or
        `3 (m n + n^2 + n)`, SimpleRNN `m n + n^2 + n`.

    Example:

    >>> recurrent_parameters("lstm", 32, 64), recurrent_parameters("gru", 32, 64)
    (24832, 18816)
    """
    m, n = input_dim, units
    if cell == "lstm":
        return 4 * (m * n + n * n + n)
    if cell == "gru":
        return 3 * (m * n + n * n + (2 if reset_after else 1) * n)
    if cell == "simple":
        return m * n + n * n + n
    raise ValueError(
        f"Argument `cell` expected one of ['lstm', 'gru', 'simple']. Received: cell={cell!r}"
    )


def measured_parameters(cell, input_dim, units, **layer_kwargs):
    """The parameter count of the built toolkit layer `toolkit.layers.get(cell)(units)`."""
    # Zero initializers: counting needs no random orthogonal matrices (seconds each on JAX).
    layer_kwargs.setdefault("kernel_initializer", "zeros")
    layer_kwargs.setdefault("recurrent_initializer", "zeros")
    layer = toolkit.layers.get(cell)(units, **layer_kwargs)
    layer.build((None, None, input_dim))
    return layer.count_params()


def units_for_parameters(cell, input_dim, parameters):
    """The units whose `recurrent_parameters` is closest to `parameters` (ties: fewer units).

    Example:

    >>> units_for_parameters("gru", 32, recurrent_parameters("lstm", 32, 64))
    76
    """
    return tasks.closest_units(
        lambda units: recurrent_parameters(cell, input_dim, units), parameters
    )


# === Timing ===


def time_steps(models, inputs, labels, rounds, calls, warmup):
    """Median training and inference times per step of several models, interleaved.

    Each model's training step and inference step take turns with the others'
    (`toolkit.runtime.timing.interleaved_timings`: each model after every other equally
    often; per round a pause, one untimed call, then `calls` timed ones).

    Args:
        models: Dict `{name: compiled keras.Model}`.
        inputs, labels: One batch, the same for every model.
        rounds: Integer, interleaved rounds.
        calls: Integer, timed calls per model, step and round (after one untimed call).
        warmup: Integer, untimed calls per model and step before the first round
            (compilation).

    Returns:
        `{name: {"train_ms": [...], "infer_ms": [...]}}`: every timed call, in milliseconds,
        round after round (`calls` per round).
    """
    functions = {}
    for name, model in models.items():
        functions[name, "train_ms"] = functools.partial(model.train_on_batch, inputs, labels)
        functions[name, "infer_ms"] = functools.partial(model.predict_on_batch, inputs)
    seconds, errors = interleaved_timings(functions, rounds * calls, warmup, calls)
    if errors:
        raise next(iter(errors.values()))
    timings = {name: {} for name in models}
    for (name, step), values in seconds.items():
        timings[name][step] = [1000 * value for value in values]
    return timings


def paired_ratio(times, reference_times, calls):
    """The median over rounds of `times`' round mean over `reference_times`' round mean.

    Both models ran in the same rounds, so a slow spell of a shared machine that hits one
    round hits both; the per-round ratio cancels it where the pooled medians would not.
    """
    rounds = len(times) // calls
    mine = np.asarray(times[: rounds * calls]).reshape(rounds, calls).mean(axis=1)
    theirs = np.asarray(reference_times[: rounds * calls]).reshape(rounds, calls).mean(axis=1)
    return float(np.median(mine / theirs))


def _quartiles(values):
    low, median, high = np.percentile(values, [25, 50, 75])
    return float(low), float(median), float(high)


# === The experiment ===


def run(out_dir: pathlib.Path, quick: bool = False, seed: int = 0) -> Finding:
    """Parameters, step times and accuracy of LSTM, GRU and SimpleRNN; see the module docstring."""
    start = time.perf_counter()
    out_dir = pathlib.Path(out_dir)
    settings = dict(QUICK if quick else DEFAULTS)
    units, input_dim = settings["units"], settings["embedding_dim"]

    # --- Parameter counts, formulas against the built layers.
    lstm_parameters = recurrent_parameters("lstm", input_dim, units)
    configs = [
        ("LSTM", "lstm", units, "reference"),
        ("GRU", "gru", units, "equal units"),
        ("GRU", "gru", units_for_parameters("gru", input_dim, lstm_parameters), "equal params"),
        ("SimpleRNN", "simple", units, "equal units"),
        (
            "SimpleRNN",
            "simple",
            units_for_parameters("simple", input_dim, lstm_parameters),
            "equal params",
        ),
    ]
    rows = []
    for name, cell, cell_units, comparison in configs:
        formula = recurrent_parameters(cell, input_dim, cell_units)
        measured = measured_parameters(cell, input_dim, cell_units)
        if formula != measured:
            raise RuntimeError(
                f"The {name} layer with {cell_units} units and {input_dim} inputs has "
                f"{measured} parameters; the formula gives {formula}."
            )
        rows.append(
            {
                "label": f"{name} {cell_units} ({comparison})",
                "cell": cell,
                "units": cell_units,
                "comparison": comparison,
                "parameters": measured,
                "formula": formula,
            }
        )
    keras.backend.clear_session(free_memory=False)

    data = tasks.load_number_agreement(
        max_length=settings["max_length"],
        train_examples=settings["train_examples"],
        test_examples=settings["test_examples"],
        seed=seed,
    )
    vocabulary_size = len(data.vocabulary)

    def build(row, model_seed):
        keras.utils.set_random_seed(model_seed)
        return tasks.text_model(row["cell"], row["units"], vocabulary_size, embedding_dim=input_dim)

    # --- Accuracy with the same budget. The first seed's model is kept for the timing:
    # its training function is compiled already, and weights do not change a step's cost.
    timed_models = {}
    for row in rows:
        row["test_accuracy"], row["fit_seconds"] = [], []
        for offset in range(settings["seeds"]):
            model_seed = seed * 1000 + offset
            model = build(row, model_seed)
            fit = tasks.train_text_model(
                model,
                data,
                settings["epochs"],
                batch_size=settings["batch_size"],
                seed=model_seed,
                pad_multiple=settings["pad_multiple"],
            )
            row["test_accuracy"].append(
                tasks.text_accuracy(
                    model, data.test_ids, data.test_labels, pad_multiple=settings["pad_multiple"]
                )
            )
            row["fit_seconds"].append(fit["seconds"])
            if offset == 0:
                timed_models[row["label"]] = model

    # --- Step times, side by side, on one batch of the longest padded shape.
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(data.train_ids), size=settings["batch_size"], replace=False)
    timing_inputs = tasks.pad_ids(
        [data.train_ids[i] for i in chosen], multiple=settings["max_length"]
    )
    timing_labels = data.train_labels[chosen]
    timings = time_steps(
        timed_models,
        timing_inputs,
        timing_labels,
        settings["timing_rounds"],
        settings["timing_calls"],
        settings["timing_warmup"],
    )
    reference = timings[rows[0]["label"]]
    for row in rows:
        times = timings[row["label"]]
        row["train_ms"] = _quartiles(times["train_ms"])
        row["infer_ms"] = _quartiles(times["infer_ms"])
        row["train_ratio"] = paired_ratio(
            times["train_ms"], reference["train_ms"], settings["timing_calls"]
        )
        row["infer_ratio"] = paired_ratio(
            times["infer_ms"], reference["infer_ms"], settings["timing_calls"]
        )
        row["execution_path"] = str(
            getattr(timed_models[row["label"]].get_layer("recurrent"), "execution_path", "")
        )
    del timed_models
    keras.backend.clear_session(free_memory=False)

    verdict, checks = judge(rows)
    figure_name = f"{KEY}_comparison.png"
    plot_comparison(rows, out_dir / figure_name)
    return Finding(
        key=KEY,
        title=TITLE,
        claim=CLAIM,
        verdict=verdict,
        summary=summarize(settings, data.record, rows, checks, timing_inputs.shape),
        tables=[comparison_table(rows), formula_table(input_dim, rows)],
        figures=[figure_name],
        data={
            "settings": settings,
            "seed": seed,
            "data": data.record,
            "timing_batch_shape": list(timing_inputs.shape),
            "models": rows,
            "checks": checks,
            "criterion": {
                "parameter_ratio_below": PARAMETER_RATIO,
                "time_ratio_at_most": TIME_RATIO,
                "accuracy_margin_at_least": ACCURACY_MARGIN,
            },
        },
        seconds=time.perf_counter() - start,
    )


def _row(rows, cell, comparison):
    return next(row for row in rows if row["cell"] == cell and row["comparison"] == comparison)


def accuracy_gap(row, reference):
    """`(mean difference row - reference, margin)`: margin = max(0.01, 2 x its standard error)."""
    a, b = np.asarray(row["test_accuracy"]), np.asarray(reference["test_accuracy"])
    standard_error = 0.0
    if len(a) > 1 and len(b) > 1:
        standard_error = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))
    return float(a.mean() - b.mean()), max(ACCURACY_MARGIN, 2 * standard_error)


def judge(rows):
    """The verdict and the three checks (fewer parameters, faster, as accurate)."""
    lstm = _row(rows, "lstm", "reference")
    gru_units = _row(rows, "gru", "equal units")
    gru_parameters = _row(rows, "gru", "equal params")
    parameter_ratio = gru_units["parameters"] / lstm["parameters"]
    time_ratio = gru_units["train_ratio"]
    difference, margin = accuracy_gap(gru_parameters, lstm)
    checks = {
        "parameter_ratio_equal_units": parameter_ratio,
        "fewer_parameters": bool(parameter_ratio < PARAMETER_RATIO),
        "train_time_ratio_equal_units": time_ratio,
        "train_time_ratio_equal_params": gru_parameters["train_ratio"],
        "faster": bool(time_ratio <= TIME_RATIO),
        "accuracy_difference_equal_params": difference,
        "accuracy_difference_equal_units": accuracy_gap(gru_units, lstm)[0],
        "accuracy_margin": margin,
        "as_accurate": bool(difference >= -margin),
    }
    if checks["fewer_parameters"] and checks["faster"] and checks["as_accurate"]:
        verdict = "holds"
    elif not checks["fewer_parameters"] or not (checks["faster"] or checks["as_accurate"]):
        verdict = "does not hold"
    else:
        verdict = "partly holds"
    return verdict, checks


# === Report ===


def _accuracy_text(values):
    values = np.asarray(values)
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"


def comparison_table(rows):
    lstm = _row(rows, "lstm", "reference")
    lines = [
        "| model | recurrent parameters | x LSTM | train ms / step (median, IQR) | "
        "x LSTM (paired by round) | inference ms (median) | x LSTM (paired) | "
        "test accuracy (mean ± sd over seeds) | fit seconds (mean) | execution path |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        low, median, high = row["train_ms"]
        lines.append(
            f"| {row['label']} | {row['parameters']} | "
            f"{row['parameters'] / lstm['parameters']:.2f} | {median:.2f} ({low:.2f}-{high:.2f}) "
            f"| {row['train_ratio']:.2f} | {row['infer_ms'][1]:.2f} | {row['infer_ratio']:.2f} | "
            f"{_accuracy_text(row['test_accuracy'])} | {np.mean(row['fit_seconds']):.1f} | "
            f"{row['execution_path']} |"
        )
    return "\n".join(lines)


def formula_table(input_dim, rows):
    lines = [
        f"| cell | units | formula (m = {input_dim} inputs, n units) | formula count | "
        "built layer's count_params() |",
        "| --- | --- | --- | --- | --- |",
    ]
    formulas = {
        "lstm": "4 (m n + n^2 + n)",
        "gru": "3 (m n + n^2 + 2 n), reset_after=True",
        "simple": "m n + n^2 + n",
    }
    for row in rows:
        lines.append(
            f"| {CELL_NAMES[row['cell']]} | {row['units']} | {formulas[row['cell']]} | "
            f"{row['formula']} | {row['parameters']} |"
        )
    return "\n".join(lines)


def summarize(settings, record, rows, checks, timing_shape):
    lstm = _row(rows, "lstm", "reference")
    gru_units = _row(rows, "gru", "equal units")
    gru_parameters = _row(rows, "gru", "equal params")
    simple_units = _row(rows, "simple", "equal units")
    parts = [
        f"Number agreement (the text-classification recipe's data, {record['train']} training "
        f"and {record['test']} test prefixes up to the masked verb, at most "
        f"{record['max_length']} tokens, median {record['median_prefix_length']:g}): "
        f"embedding {settings['embedding_dim']} -> recurrent layer -> softmax, each model "
        f"trained {settings['epochs']} epoch(s) with {settings['seeds']} seed(s). Step times: "
        f"a fixed batch of shape {tuple(timing_shape)}, {settings['timing_rounds']} "
        "interleaved rounds.",
        f"At {lstm['units']} units the GRU has {gru_units['parameters']} recurrent parameters "
        f"to the LSTM's {lstm['parameters']} ({checks['parameter_ratio_equal_units']:.2f}x, "
        "the formulas' 3/4 up to the GRU's second bias) and its median training step takes "
        f"{gru_units['train_ms'][1]:.2f} ms to the LSTM's {lstm['train_ms'][1]:.2f} ms "
        f"(paired by round: {checks['train_time_ratio_equal_units']:.2f}x); the SimpleRNN's "
        f"takes {simple_units['train_ms'][1]:.2f} ms ({simple_units['train_ratio']:.2f}x).",
        f"At equal parameters (GRU {gru_parameters['units']} units, "
        f"{gru_parameters['parameters']} parameters) the GRU's step takes "
        f"{checks['train_time_ratio_equal_params']:.2f}x the LSTM's.",
        f"Test accuracy: LSTM {_accuracy_text(lstm['test_accuracy'])}, GRU at equal units "
        f"{_accuracy_text(gru_units['test_accuracy'])}, GRU at equal parameters "
        f"{_accuracy_text(gru_parameters['test_accuracy'])} (difference to the LSTM "
        f"{checks['accuracy_difference_equal_params']:+.4f}, margin "
        f"{checks['accuracy_margin']:.4f}), SimpleRNN at equal units "
        f"{_accuracy_text(simple_units['test_accuracy'])}.",
    ]
    if not checks["faster"]:
        parts.append(
            "The GRU is not faster per training step here by the criterion: the toolkit runs "
            "both gated cells in fused loops whose cost is not just the matmul widths."
        )
    if not checks["as_accurate"]:
        parts.append("At equal parameters the GRU is less accurate than the LSTM by the margin.")
    parts.append(
        f"Criterion: fewer parameters = GRU / LSTM below {PARAMETER_RATIO} at equal units; "
        f"faster = median training step at most {TIME_RATIO}x the LSTM's at equal units; "
        "as accurate = mean test accuracy at equal parameters no more than max(0.01, 2 "
        "standard errors) below the LSTM's; holds = all three."
    )
    return " ".join(parts)


def plot_comparison(rows, path):
    """Writes bar charts of parameters, training-step time and test accuracy to a PNG."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 4), layout="constrained")
    axes = figure.subplots(1, 3)
    labels = [row["label"].replace(" (", "\n(") for row in rows]
    colors = [
        {"lstm": "tab:blue", "gru": "tab:green", "simple": "tab:red"}[r["cell"]] for r in rows
    ]
    positions = np.arange(len(rows))

    axes[0].bar(positions, [row["parameters"] for row in rows], color=colors)
    axes[0].set_title("recurrent parameters")

    medians = np.array([row["train_ms"][1] for row in rows])
    errors = np.array(
        [
            [row["train_ms"][1] - row["train_ms"][0], row["train_ms"][2] - row["train_ms"][1]]
            for row in rows
        ]
    ).T
    axes[1].bar(positions, medians, yerr=errors, color=colors, capsize=3)
    axes[1].set_title("training step, ms (median, IQR)")

    for position, row, color in zip(positions, rows, colors):
        values = row["test_accuracy"]
        axes[2].scatter([position] * len(values), values, color=color, alpha=0.6)
        axes[2].errorbar(
            position, np.mean(values), yerr=np.std(values), fmt="_", color="black", capsize=4
        )
    axes[2].axhline(0.5, color="grey", linestyle=":", label="chance")
    axes[2].set_title("test accuracy (seeds, mean ± sd)")
    axes[2].legend()
    for ax in axes:
        ax.set_xticks(positions, labels, fontsize=7)
    figure.savefig(path, dpi=100)
