"""Claim 5: the gates learn interpretable behaviour.

Two LSTMs (toolkit `LSTM`, default options) are trained and their gates traced with the
toolkit's inspection API (`toolkit.inspect.trace_gates`, which replays each layer with
`return_gates=True`; `toolkit.inspect.plot_gates` draws a heatmap).

**Adding problem** (`recipes.study.tasks.adding_model`, trained by `train_adding` until its
training MSE is below `stop_below` or the step budget is spent). On test sequences, per unit:

* the mean input gate at the two marked steps and at the unmarked ones, and their gap;
* the mean forget gate on the steps strictly between the two markers, and the retention
  `prod f_t` over those steps (the share of the cell state that survives them; median over
  sequences);
* the correlation, over the test sequences, of the cell state just before the second marker
  with the first marked value: a unit with `|r| >= MEMORY_R` (0.7) is a *memory unit*, one
  that carries the value the task needs. The summary also counts the memory units with a
  retention of at least `RETAINED` (0.5), the ones that keep the value in their own cell
  state, and names the units that do what the claim says.

The claim as usually told - the input gate opens at the marked positions, the forget gate
holds the value between them - is checked on the memory units: a unit *opens* if its input
gate's gap (marked minus unmarked) is at least `OPEN_GAP` (0.2), it *holds* if its mean
forget gate between the markers is at least `HOLD_FORGET` (0.9). The adding part holds if
the LSTM solved the task (test MSE below 0.01) and most (at least half) of its memory units
both open and hold; it is inconclusive if the task was not solved or no memory unit exists;
partly holds if some memory units open or hold; does not hold otherwise.

**Text** (number agreement, the text-classification recipe's bundled data read up to the
masked verb, `recipes.study.tasks`): an LSTM classifier trained for a few epochs, traced on
test prefixes. Per unit: the correlation of its cell state at the last step (the `[mask]`)
with the label (a *number unit* has `|r| >= NUMBER_R`, 0.5), and Karpathy et al.'s (2015)
saturation statistics, the fraction of steps each gate is below 0.1 or above 0.9. The text
part holds if a number unit exists whose forget gate is above 0.9 on at least half of the
steps (it keeps the number across the prefix).

Verdict: holds if both parts hold; partly holds if one of them holds or the adding part
partly holds; inconclusive if the adding part is inconclusive and the text part does not
hold; does not hold otherwise. Figures: gate traces on one adding sequence with its markers,
the per-unit statistics, the toolkit's heatmap of the same sequence, gate traces over two
sentences, and the saturation plot.

Default sizes: 32 units for both; the adding problem at length 100 with at most 3000 steps
(batch 64, Adam 1e-2, gradient norm clipped to 1), traced on 512 test sequences; the text
LSTM trained 3 epochs, traced on 512 test prefixes. About 2 minutes on the 2-core CPU machine
(TensorFlow); `quick=True` takes seconds (and cannot solve the task: inconclusive).
"""

import pathlib
import time

import keras
import numpy as np

import toolkit
from recipes.study import tasks
from recipes.study.findings import Finding

KEY = "gates"
TITLE = "5. The gates learn interpretable behaviour"
CLAIM = (
    "An LSTM's gates do what their names say: on the adding problem the input gate opens "
    "at the marked positions and the forget gate holds the stored value until it is "
    "needed (Hochreiter & Schmidhuber 1997); on text, some units track interpretable "
    "properties and their gates switch on and off with them (Karpathy et al. 2015; "
    "Lakretz et al. 2019)."
)
MEMORY_R = 0.7  # |corr(cell state before the second marker, first value)| for a memory unit
OPEN_GAP = 0.2  # input gate, marked minus unmarked steps
HOLD_FORGET = 0.9  # mean forget gate between the markers
RETAINED = 0.5  # retention between the markers for a unit that keeps its own cell state
NUMBER_R = 0.5  # |corr(cell state at [mask], label)| for a number unit
SATURATED = 0.1  # a gate below this is left-saturated, above 1 - this right-saturated
TRACED_UNITS = 3  # units drawn in the trace figures
GATES = ("input_gate", "forget_gate", "output_gate")

DEFAULTS = {
    "units": 32,
    "length": 100,
    "train_steps": 3000,
    "stop_below": 0.001,
    "batch_size": 64,
    "learning_rate": 1e-2,
    "test_examples": 512,
    "text_units": 32,
    "text_epochs": 3,
    "text_train_examples": None,
    "text_traced": 512,
    "max_length": 40,
}
QUICK = {
    "units": 4,
    "length": 10,
    "train_steps": 4,
    "stop_below": 0.001,
    "batch_size": 8,
    "learning_rate": 1e-2,
    "test_examples": 32,
    "text_units": 4,
    "text_epochs": 1,
    "text_train_examples": 128,
    "text_traced": 32,
    "max_length": 16,
}


# === Statistics ===


def marker_positions(inputs):
    """`(first, second)` marked steps of adding-problem inputs, each an int array `(batch,)`."""
    markers = np.asarray(inputs)[:, :, 1] > 0.5
    if not np.all(markers.sum(axis=1) == 2):
        raise ValueError(
            "Argument `inputs` expected adding-problem sequences with exactly two marked "
            f"steps each. Received: marker counts {sorted(set(markers.sum(axis=1).tolist()))}"
        )
    first = markers.argmax(axis=1)
    second = markers.shape[1] - 1 - markers[:, ::-1].argmax(axis=1)
    return first, second


def _correlations(values, target):
    """Pearson correlation of each column of `values` `(n, units)` with `target` `(n,)`."""
    values = np.asarray(values, "float64")
    target = np.asarray(target, "float64")
    centred = values - values.mean(axis=0)
    target = target - target.mean()
    denominator = np.sqrt((centred**2).sum(axis=0) * (target**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, centred.T @ target / denominator, 0.0)


def adding_unit_statistics(gates, inputs):
    """Per-unit gate statistics of an LSTM on adding-problem inputs.

    Args:
        gates: Dict with `input_gate`, `forget_gate` and `cell_state`, each `(batch, time,
            units)` (a `GateTrace.gates`).
        inputs: The traced adding-problem inputs `(batch, time, 2)`.

    Returns:
        A dict of float arrays `(units,)`: `input_marked`, `input_unmarked`, `input_gap`,
        `forget_between`, `retention` (median over sequences of the product of the forget
        gate between the markers; 1 where no step lies between them), `memory_r` (see the
        module docstring).
    """
    inputs = np.asarray(inputs)
    input_gate = np.asarray(gates["input_gate"], "float64")
    forget_gate = np.asarray(gates["forget_gate"], "float64")
    cell_state = np.asarray(gates["cell_state"], "float64")
    batch, steps = inputs.shape[:2]
    first, second = marker_positions(inputs)
    marked = inputs[:, :, 1] > 0.5
    positions = np.arange(steps)[None, :]
    between = (positions > first[:, None]) & (positions < second[:, None])
    rows = np.arange(batch)
    log_forget = np.log(np.maximum(forget_gate, 1e-30))
    retention = np.exp((log_forget * between[:, :, None]).sum(axis=1))  # (batch, units)
    forget_between = (
        (forget_gate * between[:, :, None]).sum(axis=(0, 1)) / between.sum()
        if between.any()
        else np.full(forget_gate.shape[-1], np.nan)
    )
    return {
        "input_marked": input_gate[marked].mean(axis=0),
        "input_unmarked": input_gate[~marked].mean(axis=0),
        "input_gap": input_gate[marked].mean(axis=0) - input_gate[~marked].mean(axis=0),
        "forget_between": forget_between,
        "retention": np.median(retention, axis=0),
        "memory_r": _correlations(cell_state[rows, second - 1], inputs[rows, first, 0]),
    }


def saturation(gate):
    """Fractions of valid steps where a gate is below `SATURATED` / above `1 - SATURATED`.

    Args:
        gate: Float array `(batch, time, units)`, NaN at masked steps.

    Returns:
        `(left, right)`, float arrays `(units,)`.
    """
    gate = np.asarray(gate, "float64")
    valid = ~np.isnan(gate)
    count = valid.sum(axis=(0, 1))
    left = np.where(valid, gate < SATURATED, False).sum(axis=(0, 1)) / count
    right = np.where(valid, gate > 1 - SATURATED, False).sum(axis=(0, 1)) / count
    return left, right


def text_unit_statistics(gates, lengths, labels):
    """Per-unit statistics of an LSTM traced on padded prefixes.

    Args:
        gates: A `GateTrace.gates` dict (NaN at padded steps).
        lengths: Int array `(batch,)`, each prefix's valid steps.
        labels: Int array `(batch,)`, the class indices.

    Returns:
        A dict of float arrays `(units,)`: `number_r` (correlation of the cell state at the
        last valid step with the label), `forget_mean`, `forget_above` (fraction of valid
        steps with a forget gate above `1 - SATURATED`), and `left` / `right` saturation of
        `input_gate`, `forget_gate`, `output_gate` (keys `<gate>_left`, `<gate>_right`).
    """
    lengths = np.asarray(lengths)
    rows = np.arange(len(lengths))
    cell_state = np.asarray(gates["cell_state"], "float64")
    statistics = {
        "number_r": _correlations(cell_state[rows, lengths - 1], labels),
        "forget_mean": np.nanmean(np.asarray(gates["forget_gate"], "float64"), axis=(0, 1)),
    }
    for name in GATES:
        left, right = saturation(gates[name])
        statistics[f"{name}_left"], statistics[f"{name}_right"] = left, right
    statistics["forget_above"] = statistics["forget_gate_right"]
    return statistics


# === The experiment ===


def run(out_dir: pathlib.Path, quick: bool = False, seed: int = 0) -> Finding:
    """Trains and traces the two LSTMs; see the module docstring."""
    start = time.perf_counter()
    out_dir = pathlib.Path(out_dir)
    settings = dict(QUICK if quick else DEFAULTS)

    # --- The adding problem.
    keras.utils.set_random_seed(seed)
    model = tasks.adding_model("lstm", settings["units"])
    fit = tasks.train_adding(
        model,
        settings["length"],
        settings["train_steps"],
        batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"],
        seed=seed,
        stop_below=settings["stop_below"],
    )
    inputs, targets = tasks.adding_test_set(settings["test_examples"], settings["length"], seed)
    test_mse = tasks.adding_mse(model, inputs, targets)
    trace = toolkit.inspect.trace_gates(model, inputs)["recurrent"]
    adding = adding_unit_statistics(trace.gates, inputs)
    adding_verdict, adding_counts = judge_adding(adding, test_mse)
    figures = [f"{KEY}_adding_trace.png", f"{KEY}_adding_units.png", f"{KEY}_adding_heatmap.png"]
    memory_order = np.argsort(-np.abs(adding["memory_r"]))
    plot_adding_trace(trace.gates, inputs, memory_order[:TRACED_UNITS], out_dir / figures[0])
    plot_adding_units(adding, out_dir / figures[1])
    heatmap = toolkit.inspect.plot_gates(
        trace,
        sequence=0,
        gates=["input_gate", "forget_gate", "cell_state"],
        title="LSTM on the adding problem, test sequence 0 (markers at steps "
        + ", ".join(str(p) for p in np.flatnonzero(inputs[0, :, 1] > 0.5))
        + ")",
    )
    heatmap.savefig(out_dir / figures[2], dpi=100)
    adding_saturation = {name: saturation(trace.gates[name]) for name in GATES}
    keras.backend.clear_session(free_memory=False)

    # --- Text.
    data = tasks.load_number_agreement(
        max_length=settings["max_length"],
        train_examples=settings["text_train_examples"],
        seed=seed,
    )
    keras.utils.set_random_seed(seed)
    text_model = tasks.text_model("lstm", settings["text_units"], len(data.vocabulary))
    text_fit = tasks.train_text_model(text_model, data, settings["text_epochs"], seed=seed)
    text_accuracy = tasks.text_accuracy(text_model, data.test_ids, data.test_labels)
    traced = list(range(min(settings["text_traced"], len(data.test_ids))))
    lengths = np.array([len(data.test_ids[i]) for i in traced])
    text_trace = toolkit.inspect.trace_gates(
        text_model, tasks.pad_ids([data.test_ids[i] for i in traced])
    )["recurrent"]
    labels = data.test_labels[traced]
    text = text_unit_statistics(text_trace.gates, lengths, labels)
    text_holds, number_units = judge_text(text)
    number_order = np.argsort(-np.abs(text["number_r"]))
    figures += [f"{KEY}_text_trace.png", f"{KEY}_saturation.png"]
    plot_text_trace(
        text_trace.gates,
        [data.test_tokens[i] for i in traced],
        labels,
        data.classes,
        number_order[:TRACED_UNITS],
        text["number_r"],
        out_dir / figures[3],
    )
    plot_saturation(
        {"adding problem": adding_saturation, "number agreement": text_saturation(text)},
        out_dir / figures[4],
    )
    keras.backend.clear_session(free_memory=False)

    verdict = combine(adding_verdict, text_holds)
    adding_record = {
        "test_mse": test_mse,
        "solved": bool(test_mse < tasks.ADDING_SOLVED_MSE),
        "fit": fit,
        "counts": adding_counts,
        "units": {name: values.tolist() for name, values in adding.items()},
        "verdict": adding_verdict,
    }
    text_record = {
        "test_accuracy": text_accuracy,
        "fit": text_fit,
        "traced_prefixes": len(traced),
        "number_units": number_units,
        "holds": text_holds,
        "units": {name: values.tolist() for name, values in text.items()},
        "data": data.record,
    }
    return Finding(
        key=KEY,
        title=TITLE,
        claim=CLAIM,
        verdict=verdict,
        summary=summarize(settings, adding_record, text_record, adding, text),
        tables=[
            adding_summary_table(adding, adding_counts),
            adding_units_table(adding, memory_order),
            text_table(text, number_order, text_accuracy),
        ],
        figures=figures,
        data={
            "settings": settings,
            "seed": seed,
            "adding": adding_record,
            "text": text_record,
            "criterion": {
                "memory_r": MEMORY_R,
                "open_gap": OPEN_GAP,
                "hold_forget": HOLD_FORGET,
                "number_r": NUMBER_R,
                "saturated": SATURATED,
            },
        },
        seconds=time.perf_counter() - start,
    )


def judge_adding(statistics, test_mse):
    """The adding part's verdict and its counts of memory units that open / hold."""
    memory = np.abs(statistics["memory_r"]) >= MEMORY_R
    opens = statistics["input_gap"] >= OPEN_GAP
    holds = statistics["forget_between"] >= HOLD_FORGET
    counts = {
        "units": int(len(memory)),
        "memory_units": int(memory.sum()),
        "memory_units_open": int((memory & opens).sum()),
        "memory_units_hold": int((memory & holds).sum()),
        "memory_units_open_and_hold": int((memory & opens & holds).sum()),
        "units_open": int(opens.sum()),
        "units_hold": int(holds.sum()),
        "memory_units_retaining": int((memory & (statistics["retention"] >= RETAINED)).sum()),
        "open_and_hold_units": [int(unit) for unit in np.flatnonzero(memory & opens & holds)],
    }
    if test_mse >= tasks.ADDING_SOLVED_MSE or not counts["memory_units"]:
        return "inconclusive", counts
    if 2 * counts["memory_units_open_and_hold"] >= counts["memory_units"]:
        return "holds", counts
    if counts["memory_units_open"] or counts["memory_units_hold"]:
        return "partly holds", counts
    return "does not hold", counts


def judge_text(statistics):
    """Whether a number unit keeps its forget gate above 0.9 on half of the steps or more.

    Returns:
        `(holds, number_units)`: `number_units` lists `{unit, r, forget_above}` for every
        unit with `|r| >= NUMBER_R`, strongest first.
    """
    order = np.argsort(-np.abs(statistics["number_r"]))
    number_units = [
        {
            "unit": int(unit),
            "r": float(statistics["number_r"][unit]),
            "forget_above": float(statistics["forget_above"][unit]),
        }
        for unit in order
        if abs(statistics["number_r"][unit]) >= NUMBER_R
    ]
    holds = any(unit["forget_above"] >= 0.5 for unit in number_units)
    return bool(holds), number_units


def combine(adding_verdict, text_holds):
    """The claim's verdict from the adding part's verdict and the text part's."""
    if adding_verdict == "holds":
        return "holds" if text_holds else "partly holds"
    if adding_verdict == "partly holds" or text_holds:
        return "partly holds"
    if adding_verdict == "inconclusive":
        return "inconclusive"
    return "does not hold"


def text_saturation(statistics):
    return {name: (statistics[f"{name}_left"], statistics[f"{name}_right"]) for name in GATES}


# === Report ===


def adding_summary_table(statistics, counts):
    memory = np.abs(statistics["memory_r"]) >= MEMORY_R
    lines = [
        "| units | count | input gate, marked steps | input gate, unmarked | gap | "
        f"opening (gap >= {OPEN_GAP}) | forget gate between markers | "
        f"holding (>= {HOLD_FORGET}) | retention between markers (median) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    groups = (("all", np.ones_like(memory)), (f"memory (abs r >= {MEMORY_R})", memory))
    for name, selected in groups:
        if not selected.any():
            lines.append(f"| {name} | 0 | - | - | - | - | - | - | - |")
            continue
        lines.append(
            f"| {name} | {int(selected.sum())} | "
            f"{statistics['input_marked'][selected].mean():.3f} | "
            f"{statistics['input_unmarked'][selected].mean():.3f} | "
            f"{statistics['input_gap'][selected].mean():+.3f} | "
            f"{int((statistics['input_gap'][selected] >= OPEN_GAP).sum())} | "
            f"{np.nanmean(statistics['forget_between'][selected]):.3f} | "
            f"{int((statistics['forget_between'][selected] >= HOLD_FORGET).sum())} | "
            f"{np.median(statistics['retention'][selected]):.3f} |"
        )
    return "\n".join(lines)


def adding_units_table(statistics, order, rows=8):
    lines = [
        "| unit | r (cell state, first value) | input gate marked | unmarked | gap | "
        "forget between markers | retention |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for unit in order[:rows]:
        lines.append(
            f"| {unit} | {statistics['memory_r'][unit]:+.3f} | "
            f"{statistics['input_marked'][unit]:.3f} | {statistics['input_unmarked'][unit]:.3f} | "
            f"{statistics['input_gap'][unit]:+.3f} | {statistics['forget_between'][unit]:.3f} | "
            f"{statistics['retention'][unit]:.3f} |"
        )
    return "\n".join(lines)


def text_table(statistics, order, accuracy, rows=5):
    lines = [
        f"| text unit (test accuracy {accuracy:.3f}) | r (cell state at [mask], label) | "
        "forget gate mean | forget > 0.9 | forget < 0.1 | input > 0.9 | input < 0.1 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for unit in order[:rows]:
        lines.append(
            f"| {unit} | {statistics['number_r'][unit]:+.3f} | "
            f"{statistics['forget_mean'][unit]:.3f} | "
            f"{statistics['forget_gate_right'][unit]:.2f} | "
            f"{statistics['forget_gate_left'][unit]:.2f} | "
            f"{statistics['input_gate_right'][unit]:.2f} | "
            f"{statistics['input_gate_left'][unit]:.2f} |"
        )
    lines.append(
        f"| all units (mean) | - | {np.mean(statistics['forget_mean']):.3f} | "
        f"{np.mean(statistics['forget_gate_right']):.2f} | "
        f"{np.mean(statistics['forget_gate_left']):.2f} | "
        f"{np.mean(statistics['input_gate_right']):.2f} | "
        f"{np.mean(statistics['input_gate_left']):.2f} |"
    )
    return "\n".join(lines)


def summarize(settings, adding_record, text_record, adding, text):
    counts = adding_record["counts"]
    fit = adding_record["fit"]
    parts = [
        f"A {settings['units']}-unit LSTM trained on the adding problem at length "
        f"{settings['length']} ({fit['steps']} steps, {fit['seconds']:.0f} s) reached a test "
        f"MSE of {adding_record['test_mse']:.4f} "
        f"({'solved' if adding_record['solved'] else 'not solved'}; the baseline is "
        f"{tasks.ADDING_BASELINE_MSE:.3f}).",
        f"Traced on {settings['test_examples']} test sequences: {counts['memory_units']} of "
        f"{counts['units']} units carry the first marked value to the second marker "
        f"(|r| >= {MEMORY_R}); of these, {counts['memory_units_open']} open their input gate "
        f"at the markers (gap >= {OPEN_GAP}), {counts['memory_units_hold']} hold their forget "
        f"gate at or above {HOLD_FORGET} between them, {counts['memory_units_open_and_hold']} "
        f"do both (adding part: {adding_record['verdict']}). Over all units the input gate "
        f"averages {adding['input_marked'].mean():.3f} at marked steps and "
        f"{adding['input_unmarked'].mean():.3f} elsewhere; {counts['units_hold']} units keep "
        f"the forget gate at or above {HOLD_FORGET} between the markers.",
    ]
    for unit in counts["open_and_hold_units"]:
        parts.append(
            f"Unit {unit} does what the claim says: input gate {adding['input_marked'][unit]:.3f} "
            f"at the markers and {adding['input_unmarked'][unit]:.3f} elsewhere, forget gate "
            f"{adding['forget_between'][unit]:.3f} between them (retention "
            f"{adding['retention'][unit]:.3f}), r = {adding['memory_r'][unit]:+.3f}."
        )
    others = counts["memory_units"] - counts["memory_units_retaining"]
    if counts["memory_units"] and others:
        parts.append(
            f"{others} of the {counts['memory_units']} memory units keep less than "
            f"{RETAINED:g} of their own cell state across the gap (median retention below "
            f"{RETAINED:g}): they carry the value without holding it, so it must reach them "
            "again at every step through the recurrent weights."
        )
    number_units = text_record["number_units"]
    strongest = int(np.argmax(np.abs(text["number_r"])))
    parts.append(
        f"Text: a {settings['text_units']}-unit LSTM on number agreement reached a test "
        f"accuracy of {text_record['test_accuracy']:.3f} (chance 0.5); traced on "
        f"{text_record['traced_prefixes']} test prefixes, {len(number_units)} unit(s) have a "
        f"cell state at [mask] correlated with the label at |r| >= {NUMBER_R} (strongest: unit "
        f"{strongest}, r = {text['number_r'][strongest]:+.3f}, forget gate above 0.9 on "
        f"{text['forget_above'][strongest]:.0%} of the steps); text part "
        f"{'holds' if text_record['holds'] else 'does not hold'}. Saturation (Karpathy et al. "
        f"2015): on average a unit's forget gate is above 0.9 on "
        f"{np.mean(text['forget_gate_right']):.0%} of the steps and below 0.1 on "
        f"{np.mean(text['forget_gate_left']):.0%}."
    )
    parts.append(
        "Criterion: adding part holds if the task is solved and at least half of the memory "
        "units both open and hold; text part holds if a number unit keeps its forget gate "
        "above 0.9 on at least half of the steps; the claim holds if both parts hold."
    )
    return " ".join(parts)


def plot_adding_trace(gates, inputs, units, path, sequence=0):
    """Writes one adding sequence: its inputs, then three gates of the chosen units, to a PNG."""
    from matplotlib.figure import Figure

    steps = np.arange(inputs.shape[1])
    marks = np.flatnonzero(inputs[sequence, :, 1] > 0.5)
    figure = Figure(figsize=(11, 8), layout="constrained")
    axes = figure.subplots(4, 1, sharex=True)
    axes[0].bar(steps, inputs[sequence, :, 0], color="lightgrey", width=1.0)
    axes[0].bar(marks, inputs[sequence, marks, 0], color="tab:red", width=1.0, label="marked")
    axes[0].set_title("input values (marked steps in red)", loc="left", fontsize="medium")
    axes[0].legend(loc="upper right")
    for ax, name in zip(axes[1:], ("input_gate", "forget_gate", "cell_state")):
        for unit in units:
            ax.plot(steps, gates[name][sequence, :, unit], label=f"unit {unit}")
        ax.set_title(name.replace("_", " "), loc="left", fontsize="medium")
        ax.legend(loc="upper right", fontsize="small")
    for ax in axes:
        for mark in marks:
            ax.axvline(mark, color="tab:red", linestyle="--", linewidth=0.8)
    axes[-1].set_xlabel("time step")
    figure.suptitle("LSTM on the adding problem: the units that carry the first marked value")
    figure.savefig(path, dpi=100)


def plot_adding_units(statistics, path):
    """Writes the per-unit input-gate gap against the forget gate between markers to a PNG."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.5, 5), layout="constrained")
    ax = figure.subplots()
    points = ax.scatter(
        statistics["input_gap"],
        statistics["forget_between"],
        c=np.abs(statistics["memory_r"]),
        cmap="viridis",
        vmin=0,
        vmax=1,
        edgecolors="black",
    )
    figure.colorbar(points, ax=ax, label="|r| (cell state before 2nd marker, 1st value)")
    ax.axvline(OPEN_GAP, color="grey", linestyle=":")
    ax.axhline(HOLD_FORGET, color="grey", linestyle=":")
    ax.set_xlabel("input gate: marked minus unmarked steps")
    ax.set_ylabel("mean forget gate between the markers")
    ax.set_title("one point per unit (top right: opens at markers and holds)")
    figure.savefig(path, dpi=100)


def plot_text_trace(gates, tokens, labels, classes, units, number_r, path):
    """Writes the gates of the chosen units over one sentence of each class to a PNG."""
    from matplotlib.figure import Figure

    examples = []
    for label in range(len(classes)):
        candidates = [i for i in range(len(tokens)) if labels[i] == label]
        if candidates:
            examples.append(max(candidates[:50], key=lambda i: min(len(tokens[i]), 25)))
    figure = Figure(figsize=(7 * max(len(examples), 1), 7.5), layout="constrained")
    axes = figure.subplots(3, max(len(examples), 1), squeeze=False)
    for column, index in enumerate(examples):
        words = tokens[index]
        steps = np.arange(len(words))
        for row, name in enumerate(("input_gate", "forget_gate", "cell_state")):
            ax = axes[row, column]
            for unit in units:
                ax.plot(
                    steps,
                    gates[name][index, : len(words), unit],
                    marker="o",
                    markersize=3,
                    label=f"unit {unit} (r = {number_r[unit]:+.2f})",
                )
            ax.set_title(
                f"{name.replace('_', ' ')} - {classes[labels[index]]} example",
                loc="left",
                fontsize="medium",
            )
            ax.set_xticks(steps, words, rotation=70, fontsize=7)
        axes[0, column].legend(fontsize="small")
    figure.suptitle("LSTM on number agreement: the units most correlated with the verb's number")
    figure.savefig(path, dpi=100)


def plot_saturation(saturations, path):
    """Writes Karpathy et al.'s saturation plot: per unit, left vs right saturation per gate."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 4.2), layout="constrained")
    axes = figure.subplots(1, len(GATES))
    markers = ["o", "^", "s"]
    for ax, gate in zip(axes, GATES):
        for (task, values), marker in zip(saturations.items(), markers):
            left, right = values[gate]
            ax.scatter(left, right, marker=marker, alpha=0.7, label=task)
        ax.plot([0, 1], [1, 0], color="grey", linestyle=":", linewidth=0.8)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"fraction of steps below {SATURATED}")
        ax.set_ylabel(f"fraction of steps above {1 - SATURATED:g}")
        ax.set_title(gate.replace("_", " "))
        ax.legend(fontsize="small")
    figure.suptitle("Gate saturation per unit (Karpathy et al. 2015, figure 3)")
    figure.savefig(path, dpi=100)
