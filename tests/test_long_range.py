"""Smoke test of the long-range task runner (`benchmarks/long_range.py`).

Its tasks, sizing and scoring live in `recipes/study/long_range_tasks.py`; the pieces are
tested here through that module.

Runs its `--quick` mode in-process (two cells, both tasks, tiny sizes, a few steps) and
checks the structure of `results.json` and `results.md`, not whether anything is solved.
The rest pins the pieces the quick run cannot: the unit sizing against a parameter budget,
fresh seeded training batches, the solved rules, and the command-line checks.
"""

import json
import math

import numpy as np
import pytest

import toolkit
from benchmarks import long_range
from recipes.study import long_range_tasks
from recipes.study import tasks

CELLS = ("lstm", "gru")


@pytest.mark.slow
def test_quick_run_writes_results_for_two_cells(tmp_path, capsys):
    long_range.main(["--quick", "--cells", ",".join(CELLS), "--out", str(tmp_path)])

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["machine"]["backend"] in ("tensorflow", "jax")
    assert results["cells"] == list(CELLS) and results["lengths"] == [6]
    assert set(results["tasks"]) == {"adding", "copy"}
    rows = results["rows"]
    assert [(r["task"], r["cell"]) for r in rows] == [
        (task, cell) for task in ("adding", "copy") for cell in CELLS
    ]
    for row in rows:
        assert row["status"] == "ok", row["status"]
        task = long_range_tasks.Task(row["task"], row["length"])
        assert row["time_steps"] == (6 if row["task"] == "adding" else 26)
        assert row["units"] == 4
        assert row["parameters"] == task.build_model(row["cell"], 4).count_params()
        assert len(row["train_loss"]) == 1 and math.isfinite(row["train_loss"][0])
        assert row["train_seconds"] > 0
        assert row["solved"] in (True, False)
        if row["task"] == "adding":
            assert row["metric"] == "mse" and row["threshold"] == 0.01
            assert row["test_metric"] == row["test_loss"] >= 0
            assert 0.05 < row["baseline"] < 0.4  # ~1/6, from 8 test sequences
        else:
            assert row["metric"] == "recall_accuracy" and row["threshold"] == 0.99
            assert 0 <= row["test_metric"] <= 1 and row["test_loss"] > 0
            assert row["baseline"] == 1 / 8
            assert row["baseline_loss"] == pytest.approx(10 * math.log(8) / 26)

    table = (tmp_path / "results.md").read_text()
    assert table in capsys.readouterr().out
    lines = table.splitlines()
    for task in ("adding", "copy"):
        start = next(i for i, line in enumerate(lines) if line.startswith(f"## {task}:"))
        assert lines[start + 2] == "| cell | length 6 |"
        assert [line.split(" | ")[0] for line in lines[start + 4 : start + 6]] == [
            f"| {cell}" for cell in CELLS
        ]
    run_lines = lines[lines.index("## Every run") + 2 :]
    assert len(run_lines) == 2 + len(rows)  # header, rule, one per run
    assert run_lines[0].startswith("| task | length | cell | units | parameters |")


# === Pieces ===


def test_units_are_sized_to_the_closest_parameter_count(monkeypatch):
    counts = []

    def fake_count(task, cell, units):  # a GRU-like count: 3 u (u + 2) + 1 + u (head)
        counts.append(units)
        return 3 * units * (units + 2) + units + 1

    monkeypatch.setattr(long_range_tasks, "parameter_count", fake_count)
    task = long_range_tasks.Task("adding", 10)
    for budget in (1, 30, 5000, 5071, 123457):
        units = long_range_tasks.units_for_budget(task, "gru", budget)
        best = min(range(1, 1000), key=lambda u: (abs(fake_count(task, "gru", u) - budget), u))
        assert units == best, budget
    counts.clear()
    long_range_tasks.units_for_budget(task, "gru", 5000)
    assert max(counts) <= 64 and len(set(counts)) <= 14  # doubling stops at the budget


def test_parameter_count_matches_the_built_model():
    task = long_range_tasks.Task("copy", 3)
    assert (
        long_range_tasks.parameter_count(task, "gru", 3)
        == task.build_model("gru", 3).count_params()
    )


def test_training_batches_are_fresh_per_step_and_seeded():
    task = long_range_tasks.Task("adding", 5)
    batches = tasks.FreshBatches(task.examples, batch_size=3, steps_per_epoch=2, seed=1)
    first = [batches[0][0], batches[1][0]]
    batches.on_epoch_end()
    second = batches[0][0]
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[0], second)
    again = tasks.FreshBatches(task.examples, batch_size=3, steps_per_epoch=2, seed=1)
    np.testing.assert_array_equal(again[1][0], first[1])
    inputs, targets = long_range_tasks.Task("copy", 2).examples(2, seed=0)
    assert inputs.shape == (2, 22, 10) and inputs.dtype == np.float32  # one-hot tokens
    np.testing.assert_array_equal(inputs.sum(axis=-1), np.ones((2, 22)))
    assert targets.shape == (2, 22)


def test_scores_and_solved_rules():
    adding = long_range_tasks.Task("adding", 4)
    targets = np.array([[0.5], [1.5]], dtype="float32")
    score = adding.score(targets + 0.05, targets)
    assert score["test_metric"] == pytest.approx(0.0025) and score["solved"]
    assert score["baseline"] == pytest.approx(0.25)
    assert not adding.score(targets + 0.2, targets)["solved"]  # MSE 0.04

    copy = long_range_tasks.Task("copy", 2)
    _, targets = copy.examples(4, seed=3)
    perfect = np.eye(9)[targets] * 0.9 + 0.1 / 9
    score = copy.score(perfect, targets)
    assert score["test_metric"] == 1.0 and score["solved"]
    assert score["test_loss"] == pytest.approx(-math.log(0.9 + 0.1 / 9))
    wrong = perfect.copy()
    wrong[0, -1] = np.roll(wrong[0, -1], 1)  # one of the 40 recalled symbols wrong
    assert copy.score(wrong, targets)["test_metric"] == pytest.approx(39 / 40)
    assert not copy.score(wrong, targets)["solved"]


def test_cells_accept_every_registered_name_and_reject_others():
    names = toolkit.layers.available()
    args = long_range.parse_args(["--cells", ",".join(names)])
    assert args.cells == list(names) and args.units is None and args.parameters == 5000
    assert long_range.parse_args([]).cells == list(names)
    with pytest.raises(SystemExit):
        long_range.parse_args(["--cells", "lstm,transformer"])
    with pytest.raises(SystemExit):
        long_range.parse_args(["--steps", "10", "--epochs", "3"])
    with pytest.raises(SystemExit):
        long_range.parse_args(["--lengths", "10,0"])
    quick = long_range.parse_args(["--quick"])
    assert (quick.units, quick.steps, quick.lengths) == (4, 3, [6])
    sized = long_range.parse_args(["--quick", "--parameters", "300"])
    assert sized.units is None and sized.parameters == 300
