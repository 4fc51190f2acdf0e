"""The gated-RNN study, part A: the runner and report, claims 1 (vanishing), 3 (cost), 5 (gates).

The measurements are pinned to independent computations on hand-sized cases (a linear
1-unit RNN's gradient in closed form, a tanh RNN's by NumPy backpropagation through time,
the parameter formulas, gate statistics of hand-made traces); the experiments run in quick
mode and the command line writes a report on a subset, or nothing when an experiment fails.
"""

import json
import math

import keras
import numpy as np
import pytest

import toolkit
from recipes.runner.outputs import OUTPUT_MARKER
from recipes.study import cost
from recipes.study import gates
from recipes.study import report
from recipes.study import tasks
from recipes.study import vanishing
from recipes.study.__main__ import main
from recipes.study.findings import VERDICTS
from recipes.study.findings import Finding

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def rnn_model(units, features, activation, kernel, recurrent_kernel, bias, head):
    """A toolkit SimpleRNN with the given weights, its last output, then a bias-free Dense(1)."""
    inputs = keras.Input((None, features))
    layer = toolkit.layers.SimpleRNN(units, activation=activation, name="recurrent")
    dense = keras.layers.Dense(1, use_bias=False)
    model = keras.Model(inputs, dense(layer(inputs)))
    layer.set_weights([kernel, recurrent_kernel, bias])
    dense.set_weights([head])
    return model


# === Claim 1: the measurement ===


def test_gradient_norms_of_a_linear_rnn_are_powers_of_its_weight():
    # h_t = w x_t + u h_{t-1}, y = a h_T: d loss_b / d x_{b,t} = 2 (y_b - target_b) a w u^k,
    # k = T - 1 - t, so the curve by distance is exactly c u^k.
    w, u, a, steps = 0.7, 0.8, 1.5, 9
    model = rnn_model(
        1, 1, None, np.full((1, 1), w), np.full((1, 1), u), np.zeros(1), np.full((1, 1), a)
    )
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(4, steps, 1)).astype("float32")
    targets = rng.normal(size=(4, 1)).astype("float32")

    norms = vanishing.input_gradient_norms(model, inputs, targets)

    distance = steps - 1 - np.arange(steps)
    outputs = a * (w * inputs[:, :, 0] * u ** distance[None, :]).sum(axis=1)
    residual = outputs - targets[:, 0]
    expected = np.abs(2 * residual[:, None] * a * w * u ** distance[None, :])
    np.testing.assert_allclose(norms, expected, rtol=1e-5)
    curve = vanishing.norms_by_distance(norms)
    np.testing.assert_allclose(
        curve, np.abs(2 * residual).mean() * a * w * u ** np.arange(steps), rtol=1e-5
    )
    rate, fitted = vanishing.decay_rate(curve)
    assert rate == pytest.approx(-100 * math.log10(u), rel=1e-4) and fitted == steps


def test_gradient_norms_of_a_tanh_rnn_match_numpy_backpropagation():
    units, features, steps, batch = 3, 2, 7, 5
    rng = np.random.default_rng(1)
    kernel = rng.normal(scale=0.8, size=(features, units))
    recurrent_kernel = rng.normal(scale=0.8, size=(units, units))
    bias = rng.normal(scale=0.1, size=units)
    head = rng.normal(size=(units, 1))
    model = rnn_model(units, features, "tanh", kernel, recurrent_kernel, bias, head)
    inputs = rng.normal(size=(batch, steps, features)).astype("float32")
    targets = rng.normal(size=(batch, 1)).astype("float32")

    # Backpropagation through time by hand, float64.
    x = inputs.astype("float64")
    hidden = [np.zeros((batch, units))]
    for t in range(steps):
        hidden.append(np.tanh(x[:, t] @ kernel + hidden[-1] @ recurrent_kernel + bias))
    outputs = hidden[-1] @ head
    d_hidden = 2 * (outputs - targets) @ head.T
    expected = np.zeros((batch, steps))
    for t in reversed(range(steps)):
        d_pre = d_hidden * (1 - hidden[t + 1] ** 2)
        expected[:, t] = np.linalg.norm(d_pre @ kernel.T, axis=-1)
        d_hidden = d_pre @ recurrent_kernel.T

    norms = vanishing.input_gradient_norms(model, inputs, targets)
    np.testing.assert_allclose(norms, expected, rtol=2e-4, atol=1e-7)


@pytest.mark.no_keras_state
def test_decay_rate_leaves_out_underflow_and_needs_two_points():
    curve = 0.5 ** np.arange(10.0)
    curve[6:] = 0.0  # float32 underflow
    rate, fitted = vanishing.decay_rate(curve)
    assert rate == pytest.approx(100 * math.log10(2)) and fitted == 6
    rate, fitted = vanishing.decay_rate([1.0, 0.0, 0.0])
    assert math.isnan(rate) and fitted == 1


@pytest.mark.no_keras_state
def test_vanishing_verdict_follows_the_stated_criterion():
    def rates(untrained, trained):
        return {
            "untrained": {cell: [value] for cell, value in zip(vanishing.CELLS, untrained)},
            "trained": {cell: [value] for cell, value in zip(vanishing.CELLS, trained)},
        }

    # (simple, lstm, gru) decades per 100 steps.
    assert vanishing.judge(rates((10, 1, 2), (60, 0.1, 0.3)))[0] == "holds"
    verdict, comparisons = vanishing.judge(rates((3.8, 7.0, 19.2), (66.8, 0.02, 0.28)))
    assert verdict == "partly holds"
    assert comparisons["untrained"] == {
        "simple_vanishes": True,
        "faster_than_lstm": False,
        "faster_than_gru": False,
    }
    assert vanishing.judge(rates((1, 1, 1), (1.5, 1, 1)))[0] == "does not hold"
    # 2x but less than one decade per 100 steps apart is not "faster".
    assert vanishing.judge(rates((2.5, 1.3, 1.3), (2.5, 1.3, 1.3)))[0] == "does not hold"
    assert vanishing.table_distances(200) == [0, 1, 10, 50, 100, 150, 199]
    assert vanishing.table_distances(12) == [0, 1, 10, 11]


# === Claim 3: parameters and timing ===


@pytest.mark.parametrize("input_dim, units", [(1, 1), (2, 3), (7, 13), (32, 64)])
def test_parameter_formulas_match_the_built_layers(input_dim, units):
    for cell in ("lstm", "gru", "simple"):
        assert cost.recurrent_parameters(cell, input_dim, units) == cost.measured_parameters(
            cell, input_dim, units
        ), cell
    assert cost.recurrent_parameters(
        "gru", input_dim, units, reset_after=False
    ) == cost.measured_parameters("gru", input_dim, units, reset_after=False)


@pytest.mark.no_keras_state
def test_parameter_formulas_by_hand_and_equal_parameter_units():
    # m = 32, n = 64: LSTM 4 (2048 + 4096 + 64), GRU 3 (2048 + 4096 + 128), Elman 2048 + 4096 + 64.
    assert cost.recurrent_parameters("lstm", 32, 64) == 24832
    assert cost.recurrent_parameters("gru", 32, 64) == 18816
    assert cost.recurrent_parameters("gru", 32, 64, reset_after=False) == 18624
    assert cost.recurrent_parameters("simple", 32, 64) == 6208
    with pytest.raises(ValueError, match="cell"):
        cost.recurrent_parameters("transformer", 32, 64)
    for cell in ("gru", "simple"):
        for target in (24832, 500, 7):
            units = cost.units_for_parameters(cell, 32, target)
            gaps = [abs(cost.recurrent_parameters(cell, 32, n) - target) for n in range(1, 400)]
            assert abs(cost.recurrent_parameters(cell, 32, units) - target) == min(gaps)
            assert units == 1 + gaps.index(min(gaps))  # ties go to fewer units
    assert cost.units_for_parameters("gru", 32, 24832) == 76  # 25080 beats 75's 24525


@pytest.mark.no_keras_state
def test_paired_ratio_cancels_a_slow_round():
    # Two rounds of two calls; round 2 is twice as slow for both models.
    assert cost.paired_ratio([3, 3, 6, 6], [2, 2, 4, 4], calls=2) == pytest.approx(1.5)
    assert cost.paired_ratio([1, 3, 10, 10], [1, 1, 10, 10], calls=2) == pytest.approx(1.5)


@pytest.mark.no_keras_state
def test_cost_verdict_follows_the_stated_criterion():
    def rows(gru_ratio, lstm_accuracy, gru_accuracy):
        base = {"train_ms": (1, 1, 1), "infer_ms": (1, 1, 1)}
        return [
            {
                **base,
                "cell": "lstm",
                "comparison": "reference",
                "parameters": 400,
                "train_ratio": 1.0,
                "test_accuracy": lstm_accuracy,
            },
            {
                **base,
                "cell": "gru",
                "comparison": "equal units",
                "parameters": 303,
                "train_ratio": gru_ratio,
                "test_accuracy": gru_accuracy,
            },
            {
                **base,
                "cell": "gru",
                "comparison": "equal params",
                "parameters": 401,
                "train_ratio": 1.0,
                "test_accuracy": gru_accuracy,
            },
        ]

    assert cost.judge(rows(0.8, [0.80, 0.81, 0.79], [0.80, 0.80, 0.80]))[0] == "holds"
    assert cost.judge(rows(1.0, [0.80, 0.81, 0.79], [0.80, 0.80, 0.80]))[0] == "partly holds"
    assert cost.judge(rows(0.8, [0.90, 0.90, 0.90], [0.80, 0.80, 0.80]))[0] == "partly holds"
    verdict, checks = cost.judge(rows(1.2, [0.90, 0.91, 0.89], [0.80, 0.81, 0.79]))
    assert verdict == "does not hold" and not checks["faster"] and not checks["as_accurate"]
    difference, margin = cost.accuracy_gap(
        {"test_accuracy": [0.8, 0.82]}, {"test_accuracy": [0.8, 0.8]}
    )
    # standard error sqrt(0.0002 / 2 + 0) = 0.01, margin 2 x 0.01
    assert difference == pytest.approx(0.01) and margin == pytest.approx(0.02)


# === Claim 5: gate statistics ===


@pytest.mark.no_keras_state
def test_adding_gate_statistics_by_hand():
    # Two sequences of 6 steps, markers at (1, 4) and (0, 3); two units.
    inputs = np.zeros((2, 6, 2))
    inputs[:, :, 0] = [[0.1, 0.6, 0.2, 0.3, 0.4, 0.5], [0.9, 0.1, 0.1, 0.1, 0.1, 0.1]]
    inputs[0, [1, 4], 1] = 1
    inputs[1, [0, 3], 1] = 1
    marked = inputs[:, :, 1] > 0
    input_gate = np.where(marked[:, :, None], [0.9, 0.5], [0.1, 0.5])
    forget_gate = np.stack([np.full((2, 6), 0.95), np.full((2, 6), 0.5)], axis=-1)
    cell_state = np.zeros((2, 6, 2))
    cell_state[:, :, 0] = [[0.6] * 6, [0.9] * 6]  # unit 0 holds the first value
    cell_state[:, :, 1] = [[1.0] * 6, [0.0] * 6]  # unit 1 anti-correlates: -1

    statistics = gates.adding_unit_statistics(
        {"input_gate": input_gate, "forget_gate": forget_gate, "cell_state": cell_state}, inputs
    )
    np.testing.assert_allclose(statistics["input_marked"], [0.9, 0.5])
    np.testing.assert_allclose(statistics["input_unmarked"], [0.1, 0.5])
    np.testing.assert_allclose(statistics["input_gap"], [0.8, 0.0], atol=1e-12)
    np.testing.assert_allclose(statistics["forget_between"], [0.95, 0.5])
    np.testing.assert_allclose(statistics["retention"], [0.95**2, 0.5**2])  # 2 steps between
    np.testing.assert_allclose(statistics["memory_r"], [1.0, -1.0])
    first, second = gates.marker_positions(inputs)
    assert first.tolist() == [1, 0] and second.tolist() == [4, 3]

    verdict, counts = gates.judge_adding(statistics, test_mse=0.001)
    assert counts["memory_units"] == 2 and counts["open_and_hold_units"] == [0]
    assert counts["memory_units_retaining"] == 1
    assert verdict == "holds"  # one of two memory units does both: at least half
    assert gates.judge_adding(statistics, test_mse=0.1)[0] == "inconclusive"
    with pytest.raises(ValueError, match="inputs"):
        gates.marker_positions(np.zeros((1, 4, 2)))


@pytest.mark.no_keras_state
def test_text_gate_statistics_and_saturation_skip_padding():
    nan = np.nan
    forget_gate = np.array([[[0.95], [0.05], [0.5], [nan]], [[0.99], [0.92], [nan], [nan]]])
    left, right = gates.saturation(forget_gate)
    assert left.tolist() == [1 / 5] and right.tolist() == [3 / 5]

    cell_state = np.array([[[0.0], [0.0], [2.0], [nan]], [[0.0], [-2.0], [nan], [nan]]])
    gate_values = {
        "input_gate": np.full((2, 4, 1), 0.5),
        "forget_gate": forget_gate,
        "output_gate": np.full((2, 4, 1), 0.5),
        "cell_state": cell_state,
    }
    statistics = gates.text_unit_statistics(gate_values, lengths=[3, 2], labels=[1, 0])
    np.testing.assert_allclose(statistics["number_r"], [1.0])  # c at the last valid step
    np.testing.assert_allclose(statistics["forget_mean"], [(0.95 + 0.05 + 0.5 + 0.99 + 0.92) / 5])
    holds, number_units = gates.judge_text(statistics)
    assert holds and number_units == [{"unit": 0, "r": 1.0, "forget_above": 0.6}]
    assert gates.combine("holds", True) == "holds"
    assert gates.combine("holds", False) == "partly holds"
    assert gates.combine("inconclusive", False) == "inconclusive"
    assert gates.combine("does not hold", True) == "partly holds"
    assert gates.combine("does not hold", False) == "does not hold"


# === Shared tasks ===


@pytest.mark.no_keras_state
def test_number_agreement_prefixes_end_at_the_mask():
    assert tasks.mask_prefix("The dogs, I think, [MASK] barking.", max_length=40) == [
        "the",
        "dogs",
        ",",
        "i",
        "think",
        ",",
        "[mask]",
    ]
    assert tasks.mask_prefix("The dogs, I think, [MASK] barking.", max_length=3) == [
        "think",
        ",",
        "[mask]",
    ]
    with pytest.raises(ValueError, match="text"):
        tasks.mask_prefix("no mask here", max_length=5)

    data = tasks.load_number_agreement(max_length=12, max_tokens=50, train_examples=60)
    assert data.classes == ["plural", "singular"] and len(data.vocabulary) == 50
    assert data.record["train"] == 60 and data.record["test"] == 1692
    mask_id = data.vocabulary.index("[mask]")
    for ids, tokens in zip(data.train_ids, data.train_tokens):
        assert 1 <= len(ids) <= 12 and ids[-1] == mask_id and tokens[-1] == "[mask]"
        assert [data.vocabulary[i] if i > 1 else None for i in ids] == [
            token if token in data.vocabulary else None for token in tokens
        ]


@pytest.mark.no_keras_state
def test_token_batches_cover_every_example_once_per_epoch():
    rng = np.random.default_rng(0)
    sequences = [np.arange(1, rng.integers(2, 30), dtype="int32") for _ in range(300)]
    batches = tasks.TokenBatches(sequences, np.arange(300) % 2, batch_size=32, seed=3)
    orders = [batches.epoch_batches(epoch) for epoch in range(2)]
    for order in orders:
        assert len(order) == len(batches) == 10
        assert sorted(np.concatenate(order).tolist()) == list(range(300))
    assert [rows.tolist() for rows in orders[0]] != [rows.tolist() for rows in orders[1]]
    ids, labels = batches.batch(orders[0][0])
    assert ids.shape[1] % 8 == 0 and ids.shape[1] >= max(len(sequences[i]) for i in orders[0][0])
    for row, index in zip(ids, orders[0][0]):
        assert row[: len(sequences[index])].tolist() == sequences[index].tolist()
        assert not row[len(sequences[index]) :].any()
    assert labels.tolist() == [index % 2 for index in orders[0][0]]


# === The experiments in quick mode ===


def check_finding(finding, key, out_dir):
    assert isinstance(finding, Finding) and finding.key == key
    assert finding.verdict in VERDICTS and finding.summary and finding.claim
    assert finding.seconds > 0
    for figure in finding.figures:
        assert (out_dir / figure).read_bytes()[:8] == PNG_MAGIC, figure
    json.dumps(report.plain(finding.data), allow_nan=True)  # JSON-ready
    return [table.splitlines() for table in finding.tables]


def header(table_lines):
    return [cell.strip() for cell in table_lines[0].strip("|").split("|")]


@pytest.mark.slow
@pytest.mark.tensorflow_only  # 80 s on JAX; its pieces are backend-agnostic and tested above
def test_cost_quick_run(tmp_path):
    finding = cost.run(tmp_path, quick=True)
    comparison, formulas = check_finding(finding, "cost", tmp_path)
    assert finding.figures == ["cost_comparison.png"]
    assert header(comparison)[:5] == [
        "model",
        "recurrent parameters",
        "x LSTM",
        "train ms / step (median, IQR)",
        "x LSTM (paired by round)",
    ]
    assert "test accuracy (mean ± sd over seeds)" in header(comparison)
    assert [line.split(" | ")[0] for line in comparison[2:]] == [
        "| LSTM 4 (reference)",
        "| GRU 4 (equal units)",
        "| GRU 5 (equal params)",
        "| SimpleRNN 4 (equal units)",
        "| SimpleRNN 10 (equal params)",
    ]
    assert header(formulas)[-2:] == ["formula count", "built layer's count_params()"]
    models = finding.data["models"]
    assert all(row["parameters"] == row["formula"] for row in models)
    assert models[0]["train_ratio"] == 1.0
    assert all(0 <= accuracy <= 1 for row in models for accuracy in row["test_accuracy"])


# === The command line and the report ===


@pytest.fixture(scope="module")
def quick_study(tmp_path_factory):
    """`python -m recipes.study --experiments gates,vanishing --quick` into a fresh folder."""
    out = tmp_path_factory.mktemp("study") / "report"
    assert (
        main(["--experiments", "gates,vanishing", "--quick", "--seed", "2", "--out", str(out)]) == 0
    )
    return out


@pytest.mark.slow
def test_quick_study_writes_report_and_results(quick_study):
    results = json.loads((quick_study / "results.json").read_text())
    assert results["experiments"] == ["vanishing", "gates"]  # claim order
    assert results["quick"] is True and results["seed"] == 2
    assert results["command"] == (
        "python -m recipes.study --experiments gates,vanishing --quick --seed 2 --out "
        + str(quick_study)
    )
    assert results["machine"]["backend"] == keras.backend.backend()
    assert [entry["key"] for entry in results["findings"]] == ["vanishing", "gates"]

    text = (quick_study / "report.md").read_text()
    assert text.startswith("# The gated-RNN study")
    assert "Quick mode" in text and results["command"] in text
    for entry in results["findings"]:
        assert f"## {entry['title']}" in text
        assert f"**Verdict: {entry['verdict']}.**" in text
        assert entry["summary"] in text
        for table in entry["tables"]:
            assert table in text
        for figure in entry["figures"]:
            assert f"]({figure})" in text and (quick_study / figure).is_file()
    assert text.index("## 1. Simple RNNs") < text.index("## 5. The gates")
    assert sorted(path.name for path in quick_study.iterdir() if path.suffix != ".png") == [
        OUTPUT_MARKER,
        "report.md",
        "results.json",
    ]
    assert not [path for path in quick_study.parent.iterdir() if path.name.startswith(".")]


@pytest.mark.slow
def test_quick_vanishing_and_gates_findings(quick_study):
    findings = report.load_results(quick_study)["findings"]
    norms, training = check_finding(findings[0], "vanishing", quick_study)
    assert header(norms)[:6] == ["condition", "cell", "k = 0", "k = 1", "k = 10", "k = 11"]
    assert header(norms)[-3:] == ["decay (decades / 100 steps)", "per-step factor", "underflowed"]
    assert [tuple(line.split(" | ")[:2]) for line in norms[2:]] == [
        (f"| {condition}", name)
        for condition in ("untrained", "trained")
        for name in ("SimpleRNN", "LSTM", "GRU")
    ]
    assert header(training)[:3] == ["cell", "recurrent parameters", "training steps"]
    curves = findings[0].data["mean_curves"]["untrained"]
    assert all(len(curve) == 12 and min(curve) > 0 for curve in curves.values())

    adding_summary, adding_units, text = check_finding(findings[1], "gates", quick_study)
    assert findings[1].figures == [
        "gates_adding_trace.png",
        "gates_adding_units.png",
        "gates_adding_heatmap.png",
        "gates_text_trace.png",
        "gates_saturation.png",
    ]
    assert header(adding_summary)[:3] == ["units", "count", "input gate, marked steps"]
    assert header(adding_units)[:2] == ["unit", "r (cell state, first value)"]
    assert header(text)[1] == "r (cell state at [mask], label)"
    assert len(findings[1].data["adding"]["units"]["input_gap"]) == 4


@pytest.mark.no_keras_state
def test_unknown_experiment_is_rejected(tmp_path, capsys):
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as raised:
        main(["--experiments", "vanishing,attnetion", "--quick", "--out", str(out)])
    assert raised.value.code == 2
    message = capsys.readouterr().err
    assert "--experiments" in message and "attnetion" in message
    assert not out.exists()
    for text in ("", "cost,cost", " , "):
        with pytest.raises(ValueError, match="--experiments"):
            report.parse_experiments(text)
    assert report.parse_experiments("all") == list(report.EXPERIMENTS)
    assert list(report.EXPERIMENTS) == ["vanishing", "long_range", "cost", "attention", "gates"]


class FakeExperiment:
    """An experiment module stand-in: writes one figure, or fails as told."""

    def __init__(self, key, failure=None, figure_written=True):
        self.KEY = key
        self.failure = failure
        self.figure_written = figure_written

    def run(self, out_dir, quick=False, seed=0):
        if self.failure:
            raise self.failure
        figure = f"{self.KEY}.png"
        if self.figure_written:
            (out_dir / figure).write_bytes(PNG_MAGIC)
        return Finding(
            key=self.KEY,
            title=self.KEY,
            claim="c",
            verdict="holds",
            summary="s",
            tables=["| a |\n| --- |\n| 1 |"],
            figures=[figure],
            data={"value": np.float32(0.5), "array": np.arange(2)},
        )


@pytest.mark.no_keras_state
@pytest.mark.parametrize(
    "second",
    [
        FakeExperiment("cost", failure=RuntimeError("out of memory")),
        FakeExperiment("cost", figure_written=False),
    ],
    ids=["raises", "missing figure"],
)
def test_a_failing_experiment_leaves_no_report(tmp_path, monkeypatch, second):
    fakes = {"vanishing": FakeExperiment("vanishing"), "cost": second}
    monkeypatch.setattr(report, "experiment_module", fakes.__getitem__)
    out = tmp_path / "report"
    with pytest.raises(RuntimeError, match="out of memory|did not write"):
        report.run_study(["vanishing", "cost"], out, quick=True, command="test")
    assert list(tmp_path.iterdir()) == []

    # A complete run writes the folder; a later failing run leaves it as it was.
    fakes["cost"] = FakeExperiment("cost")
    report.run_study(["vanishing", "cost"], out, quick=True, command="first")
    before = (out / "report.md").read_text()
    assert json.loads((out / "results.json").read_text())["findings"][0]["data"] == {
        "value": 0.5,
        "array": [0, 1],
    }
    fakes["cost"] = second
    with pytest.raises(RuntimeError):
        report.run_study(["vanishing", "cost"], out, quick=True, command="second")
    assert (out / "report.md").read_text() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report"]


@pytest.mark.no_keras_state
def test_experiment_modules_are_checked(monkeypatch):
    with pytest.raises(ValueError, match="key"):
        report.experiment_module("bogus")
    module = report.experiment_module("vanishing")
    assert module is vanishing and module.KEY == "vanishing"
    monkeypatch.setattr(cost, "KEY", "costs")
    with pytest.raises(RuntimeError, match="KEY"):
        report.experiment_module("cost")
    with pytest.raises(RuntimeError, match="key='costs'"):
        report.check_finding(
            Finding(key="costs", title="t", claim="c", verdict="holds", summary="s"), "cost", "."
        )
