"""The study's claims 2 and 4 (`recipes/study/long_range.py`, `recipes/study/attention.py`).

Their quick modes run end to end at tiny size and must return valid `Finding`s with their
figures and tables. The pieces are pinned against hand-made cases and independent
references: the sequential-digits pipeline against the pixels of `load_digits` and a row
written out by hand, the BLEU of summed sentence statistics against sacreBLEU's corpus
BLEU, the length buckets and both verdicts on cases built by hand.
"""

import json

import numpy as np
import pytest

from recipes.study import attention
from recipes.study import long_range
from recipes.study import sequential_digits
from recipes.study.findings import VERDICTS
from recipes.study.findings import Finding


def check_finding(finding, key, out_dir):
    assert isinstance(finding, Finding)
    assert finding.key == key and finding.verdict in VERDICTS
    assert finding.title and finding.claim and finding.summary
    assert finding.seconds > 0
    for figure in finding.figures:
        assert (out_dir / figure).stat().st_size > 1000, figure
    for table in finding.tables:
        header, rule = table.splitlines()[:2]
        assert header.startswith("| ") and set(rule) <= set("| -"), table
        assert header.count("|") == rule.count("|")
    json.dumps(finding.data)  # JSON-serializable


# === Claim 2: sequential digits ===


@pytest.mark.no_keras_state
def test_sequential_digits_are_the_pixels_row_by_row_scaled_to_one():
    from sklearn.datasets import load_digits

    digits = load_digits()
    splits = sequential_digits.sequential_digits(seed=3)
    assert splits.train_inputs.shape == (1438, 64, 1) and splits.test_inputs.shape == (359, 64, 1)
    assert splits.train_inputs.dtype == np.float32
    both = np.concatenate([splits.train_indices, splits.test_indices])
    np.testing.assert_array_equal(np.sort(both), np.arange(1797))  # disjoint, complete
    for inputs, labels, indices in (
        (splits.train_inputs, splits.train_labels, splits.train_indices),
        (splits.test_inputs, splits.test_labels, splits.test_indices),
    ):
        np.testing.assert_array_equal(labels, digits.target[indices])
        for position in (0, 17, len(indices) - 1):
            image = digits.images[indices[position]]
            for row, column in ((0, 0), (2, 5), (7, 3), (4, 4)):
                assert inputs[position, 8 * row + column, 0] == np.float32(image[row, column] / 16)
    # The dataset's first image (a 0) starts with the row 0 0 5 13 9 1 0 0.
    where = np.flatnonzero(splits.train_indices == 0)
    inputs = splits.train_inputs[where[0]] if len(where) else None
    if inputs is None:
        inputs = splits.test_inputs[np.flatnonzero(splits.test_indices == 0)[0]]
    np.testing.assert_allclose(inputs[:8, 0], np.array([0, 0, 5, 13, 9, 1, 0, 0]) / 16)
    assert splits.train_inputs.min() == 0.0 and splits.train_inputs.max() == 1.0


@pytest.mark.no_keras_state
def test_sequential_digits_split_follows_the_seed_and_checks_arguments():
    first, again = sequential_digits.sequential_digits(0), sequential_digits.sequential_digits(0)
    np.testing.assert_array_equal(first.test_indices, again.test_indices)
    other = sequential_digits.sequential_digits(1)
    assert not np.array_equal(first.test_indices, other.test_indices)
    assert len(sequential_digits.sequential_digits(0, test_fraction=0.5).test_labels) == 898
    with pytest.raises(ValueError, match=r"`test_fraction`.*Received: test_fraction=1"):
        sequential_digits.sequential_digits(0, test_fraction=1)
    with pytest.raises(ValueError, match=r"`seed`.*Received: seed=-1"):
        sequential_digits.sequential_digits(-1)


def test_digits_model_has_the_parameters_of_the_formula():
    # SimpleRNN of u units on 1 feature: u (1 + u + 1); softmax head: 10 (u + 1).
    model = sequential_digits.DigitsTask().build_model("simple", 7)
    assert model.count_params() == 7 * 9 + 10 * 8
    assert model.output_shape == (None, 10)


# === Claim 2: verdict ===


DIGITS_CLOSE = {
    "simple": {"test_accuracy": [0.90, 0.93]},
    "lstm": {"test_accuracy": [0.91, 0.92]},
    "gru": {"test_accuracy": [0.92, 0.94]},
}


@pytest.mark.no_keras_state
@pytest.mark.parametrize(
    "adding, copy, verdict",
    [
        ({"simple": 50, "lstm": 200, "gru": 500}, {"simple": 0, "lstm": 50, "gru": 100}, "holds"),
        ({"simple": 0, "lstm": 0, "gru": 0}, {"simple": 0, "lstm": 0, "gru": 0}, "inconclusive"),
        (
            {"simple": 0, "lstm": 200, "gru": 500},
            {"simple": 0, "lstm": 0, "gru": 0},
            "partly holds",
        ),
        (
            {"simple": 100, "lstm": 200, "gru": 50},
            {"simple": 0, "lstm": 0, "gru": 0},
            "partly holds",
        ),
        (
            {"simple": 200, "lstm": 100, "gru": 100},
            {"simple": 0, "lstm": 0, "gru": 0},
            "does not hold",
        ),
        (  # a tie: no gated cell reaches further
            {"simple": 100, "lstm": 100, "gru": 50},
            {"simple": 50, "lstm": 50, "gru": 50},
            "does not hold",
        ),
    ],
)
def test_long_range_verdict_on_hand_made_reaches(adding, copy, verdict):
    outcome, outcomes = long_range.judge(
        {"adding": adding, "copy": copy}, DIGITS_CLOSE, ["simple", "lstm", "gru"]
    )
    assert outcome == verdict
    assert outcomes["digits"] == "no clear difference"


@pytest.mark.no_keras_state
def test_long_range_digits_outcome_needs_seed_ranges_apart():
    cells = ["simple", "lstm", "gru"]
    ahead = {**DIGITS_CLOSE, "simple": {"test_accuracy": [0.80, 0.905]}}
    assert long_range.digits_outcome(ahead, cells) == "gated ahead"
    behind = {**DIGITS_CLOSE, "simple": {"test_accuracy": [0.95, 0.97]}}
    assert long_range.digits_outcome(behind, cells) == "simple ahead"
    reach = {"adding": {"simple": 50, "lstm": 100, "gru": 100}}
    reach["copy"] = reach["adding"]
    assert long_range.judge(reach, behind, cells)[0] == "partly holds"  # digits disagree
    assert long_range.judge(reach, ahead, ["lstm", "gru"])[0] == "inconclusive"  # no simple


@pytest.mark.no_keras_state
def test_long_range_reach_is_the_longest_solved_length():
    rows = [
        {"task": "adding", "cell": "lstm", "length": 50, "solved": True},
        {"task": "adding", "cell": "lstm", "length": 100, "solved": False},
        {"task": "adding", "cell": "lstm", "length": 200, "solved": True},
        {"task": "copy", "cell": "lstm", "length": 500, "solved": True},
        {"task": "adding", "cell": "gru", "length": 50, "status": "failed"},
    ]
    assert long_range.reach_of(rows, "adding", "lstm") == 200
    assert long_range.reach_of(rows, "adding", "gru") == 0


@pytest.mark.no_keras_state
def test_copy_recall_above_chance_by_five_standard_errors():
    # 1000 test sequences x 10 symbols: SE of a 1/8 recall = sqrt(1/8 * 7/8 / 10000) = 0.00331,
    # so the threshold is 0.125 + 5 * 0.00331 = 0.1415.
    recalls = {
        ("gru", 50): 0.34,
        ("gru", 500): 0.1866,
        ("gru", 1000): 0.13,
        ("lstm", 50): 0.1749,
        ("lstm", 100): 0.1288,
        ("simple", 50): 0.1295,
        ("simple", 100): 0.1416,
    }
    rows = [
        {"task": "copy", "cell": cell, "length": length, "status": "ok", "test_metric": value}
        for (cell, length), value in recalls.items()
    ]
    rows.append(
        {"task": "adding", "cell": "simple", "length": 200, "status": "ok", "test_metric": 1}
    )
    reach = long_range.chance_reach(rows, ["simple", "lstm", "gru"], test_examples=1000)
    assert reach == {"simple": 100, "lstm": 50, "gru": 500}
    rows[-2]["test_metric"] = 0.1414  # just under the threshold
    assert long_range.chance_reach(rows, ["simple"], test_examples=1000) == {"simple": 0}


@pytest.mark.no_keras_state
def test_long_range_rejects_unknown_cells_and_bad_lengths(tmp_path):
    with pytest.raises(ValueError, match=r"`cells`.*Received: cells=\['lstm', 'transformer'\]"):
        long_range.run(tmp_path, quick=True, cells=["lstm", "transformer"])
    with pytest.raises(ValueError, match=r"`lengths`.*Received: lengths=\[1, 10\]"):
        long_range.run(tmp_path, quick=True, lengths=[1, 10])


@pytest.mark.slow
@pytest.mark.tensorflow_pass
def test_long_range_quick_run(tmp_path):
    finding = long_range.run(tmp_path, quick=True, seed=0)
    check_finding(finding, "long_range", tmp_path)
    assert finding.figures == ["long_range.png"]
    adding, copy, digits, setup = (table.splitlines() for table in finding.tables)
    assert adding[0] == "| adding problem: test MSE (solved < 0.01) | length 5 | length 10 |"
    assert copy[0].startswith("| copy memory: recall accuracy (solved >= 0.99) | length 5 |")
    for table in (adding, copy, digits, setup):
        assert [line.split(" | ")[0] for line in table[2:]] == [
            "| SimpleRNN",
            "| LSTM",
            "| GRU",
        ]
    rows = finding.data["rows"]
    assert [(r["task"], r["length"], r["cell"]) for r in rows] == [
        (task, length, cell)
        for task in ("adding", "copy")
        for length in (5, 10)
        for cell in ("simple", "lstm", "gru")
    ]
    for row in rows:
        assert row["status"] == "ok" and row["units"] == 4 and row["scored_on"] == "test"
        assert row["solved"] == (
            row["test_metric"] < 0.01 if row["task"] == "adding" else row["test_metric"] >= 0.99
        )
    for task in ("adding", "copy"):
        for cell in ("simple", "lstm", "gru"):
            assert finding.data["reach"][task][cell] == long_range.reach_of(rows, task, cell)
    for entry in finding.data["digits"].values():
        assert len(entry["test_accuracy"]) == 1 and 0 <= entry["test_accuracy"][0] <= 1
        assert (entry["train_count"], entry["test_count"]) == (64, 32)
    assert "not solved within this budget" in finding.summary


# === Claim 4: buckets, BLEU statistics, verdict ===


@pytest.mark.no_keras_state
def test_length_buckets_on_a_hand_made_case():
    sources = [" ".join(["w"] * count) for count in (3, 10, 11, 15, 16, 20, 21, 25, 12)]
    groups = attention.bucket_indices(sources)
    assert list(groups) == ["1-10", "11-15", "16-20", ">20"]
    assert {name: list(indices) for name, indices in groups.items()} == {
        "1-10": [0, 1],
        "11-15": [2, 3, 8],
        "16-20": [4, 5],
        ">20": [6, 7],
    }
    groups = attention.bucket_indices(["a b", "a b c d e"], buckets=(3,))
    assert {name: list(indices) for name, indices in groups.items()} == {"1-3": [0], ">3": [1]}
    assert list(attention.bucket_indices(["a b"], buckets=(3, 6))["4-6"]) == []


HYPOTHESES = [
    "the cat sat on the mat .",
    "a dog ran across the road quickly",
    "hello",
    "it is raining today in the city",
    "nothing matches here at all",
]
REFERENCES = [
    "the cat sat on the mat .",
    "the dog ran across the road",
    "hello there",
    "today it is raining in the city",
    "completely different words",
]


@pytest.mark.no_keras_state
def test_bleu_of_summed_sentence_statistics_is_sacrebleu_corpus_bleu():
    import sacrebleu

    statistics = attention.sentence_statistics(HYPOTHESES, REFERENCES)
    assert statistics.shape == (5, 10)
    assert list(statistics[0]) == [7, 7, 7, 6, 5, 4, 7, 6, 5, 4]  # a perfect 7-token match
    for chosen in ([0, 1, 2, 3, 4], [1, 3], [2, 4], [0, 0, 1]):  # [0, 0, 1]: a resample
        expected = sacrebleu.corpus_bleu(
            [HYPOTHESES[i] for i in chosen], [[REFERENCES[i] for i in chosen]]
        ).score
        assert attention.bleu_of(statistics[chosen].sum(axis=0)) == pytest.approx(expected)
    assert attention.bleu_of(statistics[[0]].sum(axis=0)) == pytest.approx(100.0)


def _comparison(better_long, worse_long, samples=200):
    """Long (>20 words) and short sentences; each model either copies the reference or not."""
    short = [f"short sentence number {i} here" for i in range(12)]
    long = [" ".join(f"word{i}_{j}" for j in range(22)) for i in range(12)]
    sources = references = short + long
    garbage = ["zz yy xx"] * 12
    with_attention = short + (long if better_long else garbage)
    without_attention = short + (long if worse_long else garbage)
    groups = attention.bucket_indices(sources)
    return attention.bootstrap_comparison(
        attention.sentence_statistics(with_attention, references),
        attention.sentence_statistics(without_attention, references),
        groups,
        samples,
        seed=0,
    )


@pytest.mark.no_keras_state
def test_attention_verdict_on_hand_made_translations():
    comparison = _comparison(better_long=True, worse_long=False)
    buckets = comparison["buckets"]
    assert list(buckets) == ["1-10", "11-15", "16-20", ">20"]
    assert buckets["1-10"]["pairs"] == 12 and buckets[">20"]["pairs"] == 12
    assert buckets["11-15"] == {"pairs": 0, "attention": None, "none": None, "difference": None}
    assert buckets[">20"]["attention"]["bleu"] == pytest.approx(100.0)
    assert buckets[">20"]["attention"]["interval"] == pytest.approx([100.0, 100.0])
    assert buckets[">20"]["none"]["bleu"] == pytest.approx(0.0)
    assert buckets["1-10"]["difference"]["bleu"] == pytest.approx(0.0)
    assert buckets["1-10"]["difference"]["interval"] == pytest.approx([0.0, 0.0])
    assert comparison["all"]["pairs"] == 24
    assert comparison["growth"]["from"] == "1-10" and comparison["growth"]["to"] == ">20"
    assert comparison["growth"]["interval"][0] > 50
    retention = comparison["retention"]  # BLEU on >20 words over BLEU on 1-10 words
    assert retention["attention"]["ratio"] == pytest.approx(1.0)
    assert retention["none"]["ratio"] == pytest.approx(0.0)
    assert retention["difference"]["ratio"] == pytest.approx(1.0)
    verdict, checks = attention.judge(comparison)
    assert verdict == "holds" and checks["longest_bucket"] == ">20"
    table = attention.bucket_table(comparison, "bahdanau").splitlines()
    assert table[-2].startswith("| gap growth (>20 minus 1-10) | - | - | - | +100.0 [")
    assert table[-1].startswith("| BLEU kept (>20 / 1-10) | - | 1.00 [1.00, 1.00] | 0.00 [")

    assert attention.judge(_comparison(better_long=False, worse_long=True))[0] == "does not hold"
    same = _comparison(better_long=True, worse_long=True)
    assert same["all"]["difference"]["interval"] == pytest.approx([0.0, 0.0])
    assert attention.judge(same)[0] == "inconclusive"


@pytest.mark.no_keras_state
def test_attention_rejects_no_attention(tmp_path):
    with pytest.raises(ValueError, match=r"`attention`.*Received: attention='none'"):
        attention.run(tmp_path, quick=True, attention="none")


@pytest.mark.slow
@pytest.mark.tensorflow_pass(
    reason="each recipe run exports its SavedModel through a TensorFlow subprocess on other "
    "backends (a minute or more per run); the translation recipe's own tests cover JAX"
)
def test_attention_quick_run(tmp_path):
    finding = attention.run(tmp_path, quick=True, seed=0)
    check_finding(finding, "attention", tmp_path)
    assert finding.figures == ["attention_bleu_by_length.png"]
    buckets, runs = (table.splitlines() for table in finding.tables)
    assert [line.split(" | ")[0] for line in buckets[2:]] == [
        "| 1-10",
        "| 11-15",
        "| 16-20",
        "| >20",
        "| all",
        "| gap growth (>20 minus 1-10)",
        "| BLEU kept (>20 / 1-10)",
    ]
    assert [line.split(" | ")[0] for line in runs[2:]] == [
        "| attention (bahdanau)",
        "| no attention",
    ]
    comparison = finding.data["buckets"]
    test_pairs = finding.data["runs"]["attention"]["pairs"]
    assert comparison["all"]["pairs"] == test_pairs == 30  # 5% of 600
    assert list(comparison["buckets"]) == ["1-10", "11-15", "16-20", ">20"]
    assert sum(entry["pairs"] for entry in comparison["buckets"].values()) == 30
    # The bootstrap's point BLEU per bucket is the recipe's own `bleu_by_source_length`.
    for model in ("attention", "none"):
        recipe = finding.data["recipe_bleu_by_source_length"][model]
        for name, entry in recipe.items():
            assert entry["pairs"] == comparison["buckets"][name]["pairs"]
            if entry["pairs"]:
                assert comparison["buckets"][name][model]["bleu"] == pytest.approx(entry["bleu"])
        kept = tmp_path / "attention_runs" / model
        assert (kept / "metrics.json").exists() and (kept / "translations.txt").exists()
        assert not (kept / "model.keras").exists()  # the models are not kept
    assert (
        finding.data["runs"]["none"]["parameters"] < finding.data["runs"]["attention"]["parameters"]
    )
