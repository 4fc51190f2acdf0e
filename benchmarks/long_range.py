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

The tasks, the budget, the sizing and the scoring live in `recipes.study.long_range_tasks`
(the study's claim 2, `recipes.study.long_range`, runs them too); this module is their command
line and report:

* adding problem (Hochreiter & Schmidhuber, 1997; Le et al., 2015), model: last output, then
  `Dense(1)`, MSE. **Solved: test MSE below 0.01** (the baseline "always 1" is about 0.167).
* copy memory (Arjovsky et al., 2016), model: every output, then `Dense(9, softmax)`.
  **Solved: accuracy on the recalled symbols (the last 10 steps) of at least 0.99** (chance 1/8).

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
import pathlib
import sys

import toolkit
from benchmarks.reports import write_results
from recipes.study.long_range_tasks import TASK_DESCRIPTIONS
from recipes.study.long_range_tasks import TASKS
from recipes.study.long_range_tasks import Task
from recipes.study.long_range_tasks import run_one
from recipes.study.long_range_tasks import solved_table
from recipes.study.long_range_tasks import status_line
from recipes.study.long_range_tasks import units_for_budget
from toolkit.runtime.machine import machine_info

DEFAULT_OUT = pathlib.Path("runs/benchmarks/long_range")
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


# ---------------------------------------------------------------- runs


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
        "machine": machine_info(("keras", "tensorflow", "jax")),
        "settings": settings,
        "tasks": {name: TASK_DESCRIPTIONS[name] for name in args.tasks},
        "cells": list(args.cells),
        "lengths": list(args.lengths),
        "rows": rows,
    }


# ---------------------------------------------------------------- machine and report


def task_table(results, task_name):
    """Cells x lengths: the test metric of each run, bold and "solved" where it passed."""
    heading = [f"## {task_name}: {results['tasks'][task_name]}", ""]
    return heading + solved_table(results["rows"], task_name, results["cells"], results["lengths"])


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
    print(write_results(results, args.out, markdown_report))
    return results


if __name__ == "__main__":
    from recipes.runner.errors import run_command

    sys.exit(run_command(main, prog="python -m benchmarks.long_range"))
