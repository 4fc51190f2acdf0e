"""The robustness matrix (`benchmarks/robustness.py`) and its corpus generators.

The generators' corpora are read back with the toolkit's own loaders
(`load_text_splits`, `load_speech_splits`) and checked for the counts, labels
and speakers their shape asks for, and for byte-identical files under one
seed. The speech corpora need espeak-ng (`apt-get install espeak-ng
libespeak-ng1`); those tests skip without it. The benchmark's `--quick` mode
runs the text recipe end to end on a tiny corpus (a few seconds of training).
"""

import json
import pathlib

import pytest

from benchmarks import robustness
from benchmarks.corpora import speech
from benchmarks.corpora import text
from toolkit.data import load_speech_splits
from toolkit.data import load_text_splits

pytestmark = pytest.mark.no_keras_state

needs_espeak = pytest.mark.skipif(
    not speech.espeak_available(),
    reason="espeak-ng is not installed (apt-get install -y espeak-ng libespeak-ng1)",
)


def tree_bytes(folder):
    """{relative path: bytes} of every file under `folder`."""
    folder = pathlib.Path(folder)
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


# === Text ===


@pytest.mark.parametrize("layout", ["splits", "no-dev", "single"])
def test_text_corpus_loads_with_the_shapes_counts_and_labels(tmp_path, layout):
    shape = text.TextShape("tiny", classes=3, examples=(20, 12, 10), layout=layout)
    record = text.write_text_corpus(tmp_path, shape, seed=3)

    splits, data_record = load_text_splits(tmp_path / record["data"], seed=0)
    assert record["labels"] == ["numpy", "scipy", "sklearn"]  # PACKAGES order, all installed
    assert data_record["labels"] == record["labels"]
    totals = {
        label: sum(split.label_counts().get(label, 0) for split in splits.values())
        for label in record["labels"]
    }
    assert totals == {"numpy": 20, "scipy": 12, "sklearn": 10}
    written = {"splits": ["dev", "test", "train"], "no-dev": ["test", "train"]}
    assert record["files"] == [f"{name}.csv" for name in written.get(layout, ["data"])]
    for name, counts in record["counts"].items():
        if layout == "splits" or name == "test":  # read from its file, nothing carved out
            assert splits[name].label_counts() == counts
    if layout == "splits":
        assert record["counts"]["test"] == {"numpy": 4, "scipy": 2, "sklearn": 2}  # 20 %
        assert record["counts"]["dev"] == {"numpy": 2, "scipy": 1, "sklearn": 1}  # 10 %
    for example in splits["train"].texts:
        assert text.SHORT_WORDS[0] <= len(example.split()) <= text.SHORT_WORDS[1]


def test_text_corpus_of_long_texts_and_twenty_four_classes(tmp_path):
    long_record = text.write_text_corpus(
        tmp_path / "long", text.TextShape("long", classes=2, examples=10, length="long"), seed=0
    )
    assert long_record["words"]["min"] >= text.LONG_WORDS[0]
    assert long_record["words"]["max"] <= text.LONG_WORDS[1]

    many = text.write_text_corpus(
        tmp_path / "many", text.TextShape("many", classes=24, examples=10), seed=0
    )
    splits, _ = load_text_splits(tmp_path / "many")
    assert len(many["labels"]) == 24
    assert sorted(splits["train"].label_counts()) == many["labels"]
    assert set(splits["train"].label_counts().values()) == {7}
    # No text carries two labels.
    rows = [(t, label) for split in splits.values() for t, label in zip(split.texts, split.labels)]
    assert len({t for t, _ in rows}) == len(rows)


def test_text_corpus_is_deterministic_under_a_seed(tmp_path):
    shape = text.TextShape("tiny", classes=2, examples=15)
    text.write_text_corpus(tmp_path / "a", shape, seed=7)
    text.write_text_corpus(tmp_path / "b", shape, seed=7)
    text.write_text_corpus(tmp_path / "c", shape, seed=8)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert (tmp_path / "a" / "train.csv").read_bytes() != (
        tmp_path / "c" / "train.csv"
    ).read_bytes()
    # An earlier corpus is replaced, by the same files.
    text.write_text_corpus(tmp_path / "a", shape, seed=7)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


def test_generators_refuse_a_folder_they_did_not_write(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds other files"):
        text.write_text_corpus(tmp_path, "2-classes", seed=0)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_shape_arguments_are_checked():
    with pytest.raises(ValueError, match="expected an integer >= 2. Received: classes=1"):
        text.TextShape("bad", classes=1)
    with pytest.raises(ValueError, match="one per class"):
        text.TextShape("bad", classes=3, examples=(10, 5))
    with pytest.raises(ValueError, match="expected a positive integer. Received: train_voices=0"):
        speech.SpeechShape("bad", train_voices=0)
    with pytest.raises(ValueError, match="test_voices_seen=True"):
        speech.SpeechShape("bad", train_voices=2, test_voices=3, test_voices_seen=True)
    assert text.SHAPES["24-classes"].classes >= 20
    assert speech.SHAPES["10-voices"].train_voices >= 10
    assert speech.SHAPES["3-voices"].train_voices == 3


# === Speech ===


@needs_espeak
def test_speech_corpus_loads_with_its_voices_and_is_deterministic(tmp_path):
    shape = speech.SpeechShape(
        "tiny", train_voices=2, dev_voices=1, test_voices=1, train_utterances=2, eval_utterances=1
    )
    record = speech.write_speech_corpus(tmp_path / "a", shape, seed=5)
    speech.write_speech_corpus(tmp_path / "b", shape, seed=5)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")

    splits, data_record = load_speech_splits(tmp_path / "a")
    assert data_record["layout"] == "split folders"
    assert {name: len(split) for name, split in splits.items()} == {
        "train": 4,
        "dev": 1,
        "test": 1,
    }
    speakers = {name: {u.speaker for u in split.utterances} for name, split in splits.items()}
    assert speakers == {name: set(voices) for name, voices in record["voices"].items()}
    assert not speakers["train"] & (speakers["dev"] | speakers["test"])  # unseen voices
    assert "sil" in data_record["labels"]
    assert set(data_record["labels"]) <= set(record["labels"])
    for utterance in splits["train"].utterances:
        assert utterance.sample_rate == 16000
        assert utterance.segments[0][0] == 0
        assert utterance.segments[-1][1] == utterance.num_samples


@needs_espeak
def test_speech_corpus_with_seen_test_voices_and_no_dev_folder(tmp_path):
    shape = speech.SpeechShape(
        "seen",
        train_voices=2,
        dev_voices=0,
        test_voices=2,
        train_utterances=2,
        eval_utterances=1,
        test_voices_seen=True,
        rate_wpm=(280, 300),
    )
    record = speech.write_speech_corpus(tmp_path, shape, seed=0)
    assert not (tmp_path / "dev").exists()
    assert record["utterances"] == {"train": 4, "test": 2}

    splits, data_record = load_speech_splits(tmp_path, dev_fraction=0.1)
    assert "fraction" in data_record["splits"]["dev"]  # carved out of train, by speaker
    test_speakers = {u.speaker for u in splits["test"].utterances}
    assert test_speakers == set(record["voices"]["train"])
    train_rows = {u.id.split("/")[-1] for u in splits["train"].utterances}
    assert not train_rows & {u.id.split("/")[-1] for u in splits["test"].utterances}


# === The benchmark ===


def test_shape_selection_and_stop_reasons():
    args, pairs = robustness.parse_arguments(
        ["--recipes", "text,speech", "--shapes", "2-classes,speech:no-dev"]
    )
    assert [(recipe.name, name) for recipe, name, _ in pairs] == [
        ("text", "2-classes"),
        ("speech", "no-dev"),
    ]
    with pytest.raises(SystemExit):
        robustness.parse_arguments(["--recipes", "text", "--shapes", "3-voices"])
    with pytest.raises(SystemExit):
        robustness.parse_arguments(["--recipes", "text", "--minutes-scale", "0"])
    config = {"epochs": 15, "patience": 2, "max_train_minutes": 2.0}
    assert robustness.stop_reason({"stopped_by_time_budget": True}, config).startswith("time")
    assert robustness.stop_reason({"epochs_run": 6}, config) == "early stopping (patience 2)"
    assert robustness.stop_reason({"epochs_run": 15}, config) == "epoch limit (15)"
    written = {"epochs_run": 9, "stopped_because": "no dev gain for 3 epochs"}
    assert robustness.stop_reason(written, config) == "no dev gain for 3 epochs"


@pytest.mark.slow
@pytest.mark.tensorflow_pass(reason="the recipe runs in a subprocess; one backend is enough")
def test_quick_matrix_runs_the_text_recipe_end_to_end(tmp_path):
    rows = robustness.main(
        ["--recipes", "text", "--shapes", "2-classes", "--quick", "--out", str(tmp_path)]
    )

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["quick"] is True
    assert [row["status"] for row in results["rows"]] == ["ok"] == [row["status"] for row in rows]
    row = results["rows"][0]
    assert (row["recipe"], row["shape"], row["metric"]) == ("text", "2-classes", "macro_f1")
    assert row["verdict"] == ("beats" if row["recipe_score"] > row["baseline_score"] else "loses")
    assert 0 <= row["recipe_score"] <= 1 and 0 <= row["baseline_score"] <= 1
    assert row["training_seconds"] > 0 and row["epochs_run"] >= 1
    assert row["stopped_by"]
    assert "--max-train-minutes 0.1" in row["command"]
    assert (tmp_path / "runs" / "text-2-classes" / "metrics.json").exists()
    table = (tmp_path / "results.md").read_text()
    assert "| text | 2-classes |" in table and f"**{row['verdict']}**" in table
