"""Claim 2: LSTMs and GRUs capture long-range dependencies that simple RNNs do not.

What is run, for SimpleRNN, LSTM and GRU (`cells`: any names of `toolkit.layers.available()`):

* the adding problem (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015) and copy
  memory (Arjovsky et al. 2016) at lengths 50, 100, 200, 500 and 1000 (the adding problem's
  sequence length; the copy task's delay T, its sequences T + 20 steps long), with the
  tasks, models, sizing and scoring of `recipes.study.long_range_tasks` (also behind
  `python -m benchmarks.long_range`): one model per task x length x cell, sized to about
  5,000 parameters (head included), trained with one fixed budget - the same number of Adam
  steps on the same fresh seeded batches of 64 for every cell and length, gradient norm
  clipped to 1 - and scored on 1,000 held-out sequences. Solved: test MSE below 0.01
  (adding; the baseline "always predict 1" scores about 0.167) or recall accuracy of at
  least 0.99 on the copied symbols (copy; chance 1/8). A length not solved means *not
  solved within this budget*, not "cannot be learnt".
* sequential digits: scikit-learn's bundled 8x8 digits read one pixel per step (64 steps,
  1 feature; `recipes.study.sequential_digits`), a fixed 80/20 train/test split per seed,
  one classifier per cell at about 5,000 parameters, the same epochs and batch; test
  accuracy over three seeds (split, weights and shuffling).

A single learning rate does not serve every cell: on the digits a SimpleRNN reached 96% at
Adam 1e-3 and 46% at 1e-2 while the LSTM reached 75% and 91% (30 epochs, seed 0). So each
cell gets its own learning rate, chosen without the test set: for the synthetic tasks the
one of `LEARNING_RATES` with the lowest loss on 1,000 validation sequences (a seed apart
from training and test) after the same budget at the shortest length, then used at every
length; for the digits the one with the best accuracy on a validation fifth of the first
seed's training images.

Verdict. Per synthetic task, a cell's *reach* is the longest length it solved (0 if none);
the gated cells are *ahead* on a task when LSTM and GRU both reach further than the
SimpleRNN, the SimpleRNN is ahead when it reaches further than both, and "nothing solved"
when no cell solved any length. On the digits the gated cells are ahead when every seed of
LSTM and of GRU beats every seed of the SimpleRNN (and the reverse for the SimpleRNN). The
claim holds when the gated cells are ahead on both synthetic tasks and the SimpleRNN is not
ahead on the digits; it is inconclusive when nothing was solved on either synthetic task (the
budget is too small to tell); it does not hold when on no task even one gated cell is ahead
of the SimpleRNN; otherwise it partly holds.

Outputs: a table cells x lengths per task (the test metric, "solved" where it passed), a
table of the digits accuracies, a table of the sizes and learning rates, and
`long_range.png` (test metric against length per cell, log x; digits accuracy per cell).

Expected time (TensorFlow, the 2-core CPU machine): 30 minutes measured with the defaults
(1,500 steps, batch 64) while other jobs kept the load average at 2-3 - training 11 minutes on
the adding problem and 15.6 on copy memory (each with its learning-rate choice at length 50,
about a minute), the digits, compilation and scoring the rest; a run at length 1000 costs
0.06-0.15 s per step, the SimpleRNN's step loop the most. With 2,000 steps on a busier
machine (load 5-12) it took 76 minutes. `quick=True` (lengths 5 and 10, 4 steps, 4 units, a
slice of the digits) takes 25 s of CPU time.
"""

import pathlib
import sys
import time

import keras
import numpy as np

import toolkit
from recipes.study import long_range_tasks
from recipes.study import sequential_digits
from recipes.study.findings import Finding

KEY = "long_range"
TITLE = "2. LSTMs and GRUs capture long-range dependencies"
CLAIM = (
    "Gated cells carry information across hundreds of steps where simple RNNs fail: LSTMs "
    "solve the adding problem at long lengths (Hochreiter & Schmidhuber 1997), and gated "
    "cells beat simple RNNs on copy memory (Arjovsky et al. 2016) and on pixel-by-pixel "
    "digits (Le et al. 2015)."
)
CELLS = ("simple", "lstm", "gru")
GATED = ("lstm", "gru")
CELL_NAMES = {"simple": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
TASK_NAMES = {"adding": "adding problem", "copy": "copy memory"}
LEARNING_RATES = (1e-3, 1e-2)
DIGITS_LEARNING_RATES = (1e-3, 3e-3, 1e-2)
DIGITS_VALIDATION_FRACTION = 0.2
CHANCE_MARGIN_SE = 5  # copy recall "above chance": this many standard errors over 1/8

DEFAULTS = {
    "lengths": [50, 100, 200, 500, 1000],
    "steps": 1500,
    "epochs": 10,  # slices of `steps`, one training-loss value each
    "batch_size": 64,
    "clipnorm": 1.0,
    "parameters": 5000,
    "units": None,  # None: sized to `parameters`
    "test_examples": 1000,
    "learning_rates": list(LEARNING_RATES),
    "digits": {
        "parameters": 5000,
        "units": None,
        "epochs": 30,
        "batch_size": 32,
        "clipnorm": 1.0,
        "seeds": 3,
        "learning_rates": list(DIGITS_LEARNING_RATES),
        "limit": None,  # None: every image of the split
    },
}
QUICK = {
    "lengths": [5, 10],
    "steps": 4,
    "epochs": 1,
    "batch_size": 4,
    "clipnorm": 1.0,
    "parameters": None,
    "units": 4,  # fixed: sizing builds a dozen models, seconds each on JAX
    "test_examples": 8,
    "learning_rates": [1e-2],
    "digits": {
        "parameters": None,
        "units": 4,
        "epochs": 1,
        "batch_size": 32,
        "clipnorm": 1.0,
        "seeds": 1,
        "learning_rates": [1e-2],
        "limit": 64,
    },
}


# === The experiment ===


def run(
    out_dir: pathlib.Path, quick: bool = False, seed: int = 0, cells=CELLS, lengths=None
) -> Finding:
    """Runs the long-range tasks and sequential digits; see the module docstring.

    Args:
        out_dir: Folder that receives the figure.
        quick: Tiny sizes, a smoke test (default `False`).
        seed: Non-negative integer (default `0`): weights, training data, splits.
        cells: Names of `toolkit.layers.available()` (default SimpleRNN, LSTM, GRU). The
            verdict compares LSTM and GRU with SimpleRNN; other cells are reported beside.
        lengths: Positive integers, the lengths of the synthetic tasks (default
            50, 100, 200, 500, 1000; quick: 5, 10).

    Returns:
        A `Finding`.
    """
    start = time.perf_counter()
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cells = check_cells(cells)
    settings = {**(QUICK if quick else DEFAULTS)}
    if lengths is not None:
        settings["lengths"] = check_lengths(lengths)
    settings["seed"] = seed

    learning_rates, searches = {}, []
    rows = []
    for task_name in long_range_tasks.TASKS:
        units = {cell: task_units(task_name, cell, settings) for cell in cells}
        learning_rates[task_name], search = choose_learning_rates(task_name, cells, units, settings)
        searches += search
        for length in settings["lengths"]:
            task = long_range_tasks.Task(task_name, length)
            for cell in cells:
                run_settings = {**settings, "learning_rate": learning_rates[task_name][cell]}
                row = long_range_tasks.run_one(task, cell, units[cell], run_settings)
                print(long_range_tasks.status_line(row), file=sys.stderr, flush=True)
                rows.append(row)
                keras.backend.clear_session()

    digits = digits_runs(cells, settings["digits"], seed)
    reach = {
        task_name: {cell: reach_of(rows, task_name, cell) for cell in cells}
        for task_name in long_range_tasks.TASKS
    }
    verdict, outcomes = judge(reach, digits, cells)

    figure_name = f"{KEY}.png"
    plot_results(rows, digits, cells, settings["lengths"], out_dir / figure_name)
    tables = [
        task_table(rows, task_name, cells, settings["lengths"])
        for task_name in long_range_tasks.TASKS
    ]
    tables += [digits_table(digits, cells), setup_table(rows, digits, learning_rates, cells)]
    return Finding(
        key=KEY,
        title=TITLE,
        claim=CLAIM,
        verdict=verdict,
        summary=summarize(settings, cells, rows, reach, digits, outcomes, verdict),
        tables=tables,
        figures=[figure_name],
        data={
            "settings": settings,
            "cells": list(cells),
            "rows": rows,
            "learning_rate_search": searches,
            "learning_rates": learning_rates,
            "reach": reach,
            "copy_above_chance_reach": chance_reach(rows, cells, settings["test_examples"]),
            "digits": digits,
            "outcomes": outcomes,
            "backend": keras.backend.backend(),
        },
        seconds=time.perf_counter() - start,
    )


def check_cells(cells):
    names = toolkit.layers.available()
    cells = [cells] if isinstance(cells, str) else list(cells)
    unknown = [cell for cell in cells if cell not in names]
    if not cells or unknown:
        raise ValueError(
            f"Argument `cells` expected a non-empty list of names of {list(names)}. "
            f"Received: cells={cells!r}"
        )
    return list(dict.fromkeys(cells))


def check_lengths(lengths):
    lengths = list(lengths)
    if not lengths or not all(isinstance(n, int) and n >= 2 for n in lengths):
        raise ValueError(
            "Argument `lengths` expected a non-empty list of integers of at least 2. "
            f"Received: lengths={lengths!r}"
        )
    return sorted(set(lengths))


def task_units(task_name, cell, settings):
    """The cell's units: fixed by `settings["units"]`, or sized to `settings["parameters"]`."""
    if settings["units"]:
        return settings["units"]
    sizing = long_range_tasks.Task(task_name, settings["lengths"][0])
    return long_range_tasks.units_for_budget(sizing, cell, settings["parameters"])


def choose_learning_rates(task_name, cells, units, settings):
    """Each cell's learning rate: the lowest validation loss at the shortest length.

    Returns:
        `({cell: learning rate}, rows of the search)`. With one candidate nothing is run.
    """
    candidates = settings["learning_rates"]
    if len(candidates) == 1:
        return {cell: candidates[0] for cell in cells}, []
    task = long_range_tasks.Task(task_name, settings["lengths"][0])
    chosen, rows = {}, []
    for cell in cells:
        losses = {}
        for learning_rate in candidates:
            run_settings = {**settings, "learning_rate": learning_rate}
            row = long_range_tasks.run_one(task, cell, units[cell], run_settings, validation=True)
            keras.backend.clear_session()
            print("choosing: " + long_range_tasks.status_line(row), file=sys.stderr, flush=True)
            rows.append(row)
            if row["status"] == "ok" and np.isfinite(row["test_loss"]):
                losses[learning_rate] = row["test_loss"]
        # A cell whose every candidate failed keeps the first; its runs will report it.
        chosen[cell] = min(losses, key=losses.get) if losses else candidates[0]
    return chosen, rows


def reach_of(rows, task_name, cell):
    """The longest length the cell solved on the task (0 if none)."""
    solved = [
        row["length"]
        for row in rows
        if row["task"] == task_name and row["cell"] == cell and row.get("solved")
    ]
    return max(solved, default=0)


def chance_reach(rows, cells, test_examples):
    """Per cell, the longest copy delay whose recall beats chance by `CHANCE_MARGIN_SE` SEs.

    The standard error is that of a recall of 1/8 over the `test_examples x 10` scored
    symbols (treated as independent).
    """
    chance = 1 / long_range_tasks.COPY_SYMBOLS
    symbols = test_examples * long_range_tasks.COPY_SEQUENCE_LENGTH
    threshold = chance + CHANCE_MARGIN_SE * np.sqrt(chance * (1 - chance) / symbols)
    return {
        cell: max(
            (
                row["length"]
                for row in rows
                if row["task"] == "copy"
                and row["cell"] == cell
                and row["status"] == "ok"
                and row["test_metric"] > threshold
            ),
            default=0,
        )
        for cell in cells
    }


# === Sequential digits ===


def digits_units(cell, settings):
    if settings["units"]:
        return settings["units"]
    return long_range_tasks.units_for_budget(
        sequential_digits.DigitsTask(), cell, settings["parameters"]
    )


def _limited(splits, limit):
    """The first `limit` training and `limit // 2` test images (quick mode), or all."""
    if limit is None:
        return splits
    return sequential_digits.DigitSplits(
        splits.train_inputs[:limit],
        splits.train_labels[:limit],
        splits.test_inputs[: limit // 2],
        splits.test_labels[: limit // 2],
        splits.train_indices[:limit],
        splits.test_indices[: limit // 2],
    )


def digits_validation_splits(splits, seed):
    """Training images re-split: the last `DIGITS_VALIDATION_FRACTION` become the test part."""
    count = len(splits.train_labels)
    held_out = max(1, int(round(DIGITS_VALIDATION_FRACTION * count)))
    order = np.random.default_rng(seed).permutation(count)
    fit, check = order[held_out:], order[:held_out]
    return sequential_digits.DigitSplits(
        splits.train_inputs[fit],
        splits.train_labels[fit],
        splits.train_inputs[check],
        splits.train_labels[check],
        splits.train_indices[fit],
        splits.train_indices[check],
    )


def digits_runs(cells, settings, seed):
    """Per cell: the learning rate chosen on validation, then test accuracy per seed."""
    seeds = [seed + offset for offset in range(settings["seeds"])]
    first = _limited(sequential_digits.sequential_digits(seeds[0]), settings["limit"])
    validation = digits_validation_splits(first, seeds[0])
    results = {}
    for cell in cells:
        units = digits_units(cell, settings)
        search = {}
        if len(settings["learning_rates"]) > 1:
            for learning_rate in settings["learning_rates"]:
                run_settings = {**settings, "seed": seeds[0], "learning_rate": learning_rate}
                row = sequential_digits.train_digits(cell, units, validation, run_settings)
                keras.backend.clear_session()
                search[learning_rate] = row["test_accuracy"]
                print(
                    f"choosing: digits {cell} learning rate {learning_rate:g}: validation "
                    f"accuracy {row['test_accuracy']:.4f}",
                    file=sys.stderr,
                    flush=True,
                )
            learning_rate = max(search, key=search.get)
        else:
            learning_rate = settings["learning_rates"][0]
        runs = []
        for run_seed in seeds:
            splits = (
                first if run_seed == seeds[0] else sequential_digits.sequential_digits(run_seed)
            )
            splits = _limited(splits, settings["limit"])
            run_settings = {**settings, "seed": run_seed, "learning_rate": learning_rate}
            row = sequential_digits.train_digits(cell, units, splits, run_settings)
            keras.backend.clear_session()
            row["seed"] = run_seed
            runs.append(row)
            print(
                f"digits {cell} seed {run_seed}: test accuracy {row['test_accuracy']:.4f}, "
                f"{row['train_seconds']:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        accuracies = [row["test_accuracy"] for row in runs]
        results[cell] = {
            "units": units,
            "parameters": runs[0]["parameters"],
            "learning_rate": learning_rate,
            "validation_accuracy": {f"{rate:g}": value for rate, value in search.items()},
            "test_accuracy": accuracies,
            "mean_test_accuracy": float(np.mean(accuracies)),
            "train_accuracy": [row["train_accuracy"] for row in runs],
            "train_seconds": [row["train_seconds"] for row in runs],
            "train_count": len(first.train_labels),
            "test_count": len(first.test_labels),
        }
    return results


# === Verdict ===


def task_outcome(reach, cells):
    """How far the gated cells reach against the SimpleRNN on one task.

    `"nothing solved"` (no cell solved any length), `"gated ahead"` (LSTM and GRU both
    reach further), `"simple ahead"` (the SimpleRNN reaches further than both), `"mixed"`
    (one gated cell reaches further, the other not) or `"tie"` (none reaches further).
    """
    gated = [cell for cell in GATED if cell in cells]
    if not any(reach[cell] for cell in cells):
        return "nothing solved"
    simple = reach["simple"]
    if all(reach[cell] > simple for cell in gated):
        return "gated ahead"
    if all(simple > reach[cell] for cell in gated):
        return "simple ahead"
    if any(reach[cell] > simple for cell in gated):
        return "mixed"
    return "tie"


def digits_outcome(digits, cells):
    """`"gated ahead"`, `"simple ahead"` or `"no clear difference"` (seed ranges overlap)."""
    gated = [cell for cell in GATED if cell in cells]
    simple = digits["simple"]["test_accuracy"]
    if all(min(digits[cell]["test_accuracy"]) > max(simple) for cell in gated):
        return "gated ahead"
    if all(min(simple) > max(digits[cell]["test_accuracy"]) for cell in gated):
        return "simple ahead"
    return "no clear difference"


def judge(reach, digits, cells):
    """The verdict from the reach per task and the digits accuracies (module docstring).

    Returns:
        `(verdict, outcomes)`, `outcomes` a dict task -> outcome (`"adding"`, `"copy"`,
        `"digits"`).
    """
    if "simple" not in cells or not any(cell in cells for cell in GATED):
        return "inconclusive", {"note": "needs simple and at least one of lstm, gru"}
    outcomes = {task_name: task_outcome(reach[task_name], cells) for task_name in reach}
    outcomes["digits"] = digits_outcome(digits, cells)
    synthetic = [outcomes[task_name] for task_name in reach]
    if all(outcome == "nothing solved" for outcome in synthetic):
        return "inconclusive", outcomes
    if all(outcome == "gated ahead" for outcome in synthetic):
        if outcomes["digits"] != "simple ahead":
            return "holds", outcomes
    if not {"gated ahead", "mixed"} & set(outcomes.values()):
        return "does not hold", outcomes
    return "partly holds", outcomes


# === Report ===


def _cell_name(cell):
    return CELL_NAMES.get(cell, cell)


def task_table(rows, task_name, cells, lengths):
    task = long_range_tasks.Task(task_name, lengths[0])
    metric = "test MSE" if task.metric == "mse" else "recall accuracy"
    rule = f"< {task.threshold:g}" if task.metric == "mse" else f">= {task.threshold:g}"
    renamed = [{**row, "cell": _cell_name(row["cell"])} for row in rows]
    lines = long_range_tasks.solved_table(
        renamed,
        task_name,
        [_cell_name(cell) for cell in cells],
        lengths,
        corner=f"{TASK_NAMES[task_name]}: {metric} (solved {rule})",
    )
    return "\n".join(lines)


def _percent(value):
    return f"{100 * value:.1f}%"


def digits_table(digits, cells):
    seeds = len(digits[cells[0]]["test_accuracy"])
    lines = [
        "| sequential digits | units | parameters | learning rate | test accuracy, mean "
        f"(per seed, {seeds}) | train accuracy, mean | training s per run |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for cell in cells:
        entry = digits[cell]
        per_seed = ", ".join(_percent(value) for value in entry["test_accuracy"])
        lines.append(
            f"| {_cell_name(cell)} | {entry['units']} | {entry['parameters']} | "
            f"{entry['learning_rate']:g} | {_percent(entry['mean_test_accuracy'])} "
            f"({per_seed}) | {_percent(float(np.mean(entry['train_accuracy'])))} | "
            f"{float(np.mean(entry['train_seconds'])):.1f} |"
        )
    return "\n".join(lines)


def setup_table(rows, digits, learning_rates, cells):
    lines = [
        "| cell | units (adding / copy / digits) | parameters (adding / copy / digits) | "
        "learning rate (adding / copy / digits) | training minutes (adding / copy) | "
        "execution path |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for cell in cells:
        done = {
            task_name: [
                row
                for row in rows
                if row["cell"] == cell and row["task"] == task_name and row["status"] == "ok"
            ]
            for task_name in long_range_tasks.TASKS
        }
        units = [str(runs[0]["units"]) if runs else "-" for runs in done.values()]
        parameters = [str(runs[0]["parameters"]) if runs else "-" for runs in done.values()]
        minutes = [f"{sum(r['train_seconds'] for r in runs) / 60:.1f}" for runs in done.values()]
        paths = {row["execution_path"] for runs in done.values() for row in runs}
        rates = [f"{learning_rates[task_name][cell]:g}" for task_name in long_range_tasks.TASKS]
        lines.append(
            f"| {_cell_name(cell)} | {' / '.join(units + [str(digits[cell]['units'])])} | "
            f"{' / '.join(parameters + [str(digits[cell]['parameters'])])} | "
            f"{' / '.join(rates + [format(digits[cell]['learning_rate'], 'g')])} | "
            f"{' / '.join(minutes)} | {'; '.join(sorted(paths)) or '-'} |"
        )
    return "\n".join(lines)


def _reach_text(reach, cells):
    parts = []
    for cell in cells:
        value = reach[cell]
        parts.append(f"{_cell_name(cell)} {value}" if value else f"{_cell_name(cell)} no length")
    return ", ".join(parts)


def summarize(settings, cells, rows, reach, digits, outcomes, verdict):
    lengths = settings["lengths"]
    sizing = (
        f"{settings['units']} units each"
        if settings["units"]
        else f"sized to about {settings['parameters']} parameters each"
    )
    digit_settings = settings["digits"]
    parts = [
        f"{', '.join(_cell_name(cell) for cell in cells)} ({sizing}) were trained on the "
        f"adding problem and copy memory at lengths {', '.join(map(str, lengths))} with one "
        f"budget for every cell and length: {settings['steps']} Adam steps of "
        f"{settings['batch_size']} fresh sequences (gradient norm clipped to "
        f"{settings['clipnorm']:g}), each cell at its own learning rate (of "
        f"{', '.join(format(rate, 'g') for rate in settings['learning_rates'])}: the one with "
        f"the lowest validation loss at length {lengths[0]}), seed {settings['seed']}, "
        "scored on "
        f"{settings['test_examples']} held-out sequences. Unsolved at a length means not "
        "solved within this budget.",
        f"Longest length solved - adding problem: {_reach_text(reach['adding'], cells)}"
        f"; copy memory: {_reach_text(reach['copy'], cells)}.",
    ]
    copy_rows = [row for row in rows if row["task"] == "copy" and row["status"] == "ok"]
    if copy_rows and not any(row["solved"] for row in copy_rows):
        best = max(copy_rows, key=lambda row: row["test_metric"])
        parts.append(
            "No cell solved copy memory at any length; the best recall was "
            f"{_percent(best['test_metric'])} ({_cell_name(best['cell'])}, delay "
            f"{best['length']}; chance 12.5%), in line with Arjovsky et al., whose LSTM "
            "stayed at the memoryless baseline at T = 100 and more."
        )
    if copy_rows:
        chance = chance_reach(rows, cells, settings["test_examples"])
        parts.append(
            "Short of solving it, the longest delay recalled above chance (by more than "
            f"{CHANCE_MARGIN_SE:g} standard errors, descriptive, not used by the verdict): "
            + _reach_text(chance, cells)
            + "."
        )
    failed = [row for row in rows if row["status"] != "ok"]
    if failed:
        parts.append(f"{len(failed)} run(s) failed (shown as 'failed' in the tables).")
    accuracy = ", ".join(
        f"{_cell_name(cell)} {_percent(digits[cell]['mean_test_accuracy'])} "
        f"(lr {digits[cell]['learning_rate']:g})"
        for cell in cells
    )
    best = max(cells, key=lambda cell: digits[cell]["mean_test_accuracy"])
    parts.append(
        f"Sequential digits ({digits[cells[0]]['train_count']} training, "
        f"{digits[cells[0]]['test_count']} test images, {digit_settings['epochs']} epochs of "
        f"batch {digit_settings['batch_size']}, mean test accuracy over "
        f"{digit_settings['seeds']} seed(s), each cell at the learning rate of "
        f"{', '.join(format(rate, 'g') for rate in digit_settings['learning_rates'])} best on "
        f"validation images): {accuracy}; best in mean: {_cell_name(best)}; "
        f"{outcomes.get('digits', 'not compared')} by the seed ranges."
        + (
            " At 64 steps the digits are within a SimpleRNN's reach at a suitable learning rate."
            if best == "simple"
            else ""
        )
    )
    parts.append(
        "Outcomes: "
        + "; ".join(f"{name} - {outcome}" for name, outcome in outcomes.items())
        + f". Verdict: {verdict}. Criterion: holds when LSTM and GRU both reach further than "
        "the SimpleRNN on both synthetic tasks and the SimpleRNN is not ahead on the digits; "
        "inconclusive when no cell solved any length of either task; does not hold when on no "
        "task even one gated cell is ahead of the SimpleRNN; partly holds otherwise."
    )
    return " ".join(parts)


def plot_results(rows, digits, cells, lengths, path):
    """Test metric against length per cell (log x), one panel per task, and the digits."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(14, 4.2), layout="constrained")
    axes = figure.subplots(1, 3)
    palette = {"simple": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
    for ax, task_name in zip(axes[:2], long_range_tasks.TASKS):
        task = long_range_tasks.Task(task_name, lengths[0])
        for index, cell in enumerate(cells):
            runs = {
                row["length"]: row
                for row in rows
                if row["task"] == task_name and row["cell"] == cell and row["status"] == "ok"
            }
            xs = [length for length in lengths if length in runs]
            ys = [runs[length]["test_metric"] for length in xs]
            color = palette.get(cell, f"C{index + 3}")
            ax.plot(xs, ys, marker="o", color=color, label=_cell_name(cell))
            solved = [(x, y) for x, y in zip(xs, ys) if runs[x]["solved"]]
            if solved:
                ax.scatter(*zip(*solved), s=120, facecolors="none", edgecolors=color)
        ax.axhline(task.threshold, color="black", linestyle="--", linewidth=1, label="solved at")
        if task.metric == "mse":
            ax.axhline(2 / 12, color="gray", linestyle=":", linewidth=1, label="baseline 1/6")
            ax.set_yscale("log")
            ax.set_ylabel("test MSE (lower is better)")
        else:
            ax.axhline(1 / 8, color="gray", linestyle=":", linewidth=1, label="chance 1/8")
            ax.set_ylim(0, 1.02)
            ax.set_ylabel("recall accuracy (higher is better)")
        ax.set_xscale("log")
        ax.set_xticks(lengths, [str(length) for length in lengths])
        ax.minorticks_off()
        ax.set_xlabel("sequence length" if task_name == "adding" else "delay T")
        ax.set_title(f"{TASK_NAMES[task_name]} (circled: solved)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    ax = axes[2]
    for index, cell in enumerate(cells):
        values = digits[cell]["test_accuracy"]
        color = palette.get(cell, f"C{index + 3}")
        ax.bar(index, np.mean(values), color=color, alpha=0.6)
        ax.scatter([index] * len(values), values, color="black", s=12, zorder=3)
    ax.set_xticks(range(len(cells)), [_cell_name(cell) for cell in cells])
    ax.set_ylim(0, 1)
    ax.set_ylabel("test accuracy (bars: mean; dots: seeds)")
    ax.set_title("sequential digits (64 steps)")
    ax.grid(True, axis="y", alpha=0.3)
    figure.savefig(path, dpi=100)
