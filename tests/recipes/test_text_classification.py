"""The text-classification recipe end to end at tiny size (seconds per run).

Each run trains a tiny model on a small three-class data set written by the
test (the class is given by which of three word groups a sentence uses), so
every file the recipe writes, the exported SavedModel, `predict`, the time
budget, the config errors and the all-or-nothing output folder are checked
without the bundled data.
"""

import csv
import io
import json
import random
import shutil

import keras
import numpy as np
import pytest

from recipes.runner import ConfigError
from recipes.runner import load_config
from recipes.runner.outputs import OUTPUT_MARKER
from recipes.text_classification import TextClassificationConfig
from recipes.text_classification import predict_texts
from recipes.text_classification import run
from recipes.text_classification.cli import main
from tests.recipes.run_folders import export_a_copy
from tests.serving import serve_without_toolkit

GROUPS = {
    "sport": ["match", "goal", "team", "coach", "score", "league"],
    "weather": ["rain", "storm", "sunny", "wind", "cloud", "snow"],
    "music": ["song", "band", "guitar", "album", "concert", "singer"],
}
FILLER = ["the", "a", "was", "very", "today", "and", "it", "we", "saw", "new"]
TINY = dict(
    units=6,
    embedding_dim=8,
    attention_units=6,
    max_tokens=200,
    epochs=2,
    batch_size=16,
    patience=None,
    attention_examples=2,
    verbose=0,
)


def sentences(count, seed):
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        label = sorted(GROUPS)[index % len(GROUPS)]
        words = rng.sample(GROUPS[label], 2) + rng.sample(FILLER, rng.randint(2, 6))
        rng.shuffle(words)
        rows.append((" ".join(words).capitalize() + rng.choice([".", "!", "?"]), label))
    return rows


def write_csv(path, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def write_jsonl(path, rows, text_key="sentence", label_key="topic"):
    lines = [json.dumps({text_key: text, label_key: label}) for text, label in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tiny_config(data, **overrides):
    return TextClassificationConfig(data=str(data), **{**TINY, **overrides})


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One default-shaped run (BiGRU + attention) shared by the read-only checks."""
    root = tmp_path_factory.mktemp("text_classification")
    data = write_csv(root / "topics.csv", sentences(150, seed=0))
    out = root / "run"
    keras.config.set_dtype_policy("float32")
    metrics = run(tiny_config(data), out)
    return out, metrics, data


def test_training_and_evaluation_batches_run_without_tf_data_autotuning():
    """Autotuning's thread held the start of `fit` epochs by seconds (`without_autotuning`)."""
    import types

    from recipes.text_classification.model import token_dataset
    from toolkit.models import TextClassifierPreprocessor

    config = TextClassificationConfig(batch_size=2, max_length=2)
    split = types.SimpleNamespace(
        texts=["a good film", "a bad film", "good", "bad plot here"], labels=["p", "n", "p", "n"]
    )
    preprocessor = TextClassifierPreprocessor(pad_to_multiple_of=None)
    preprocessor.adapt(split.texts)
    lengths = {}
    for training in (True, False):
        batches = token_dataset(preprocessor, split, ["n", "p"], config, training)
        assert batches.options().autotune.enabled is False
        assert sum(len(labels) for _, labels in batches) == 4
        lengths[training] = max(ids.shape[1] for ids, _ in batches)
    # Training texts are cut to `max_length` tokens; evaluation sees whole texts.
    assert lengths == {True: 2, False: 3}
    assert preprocessor.sequence_length is None  # the cut is a copy's


def test_run_writes_every_output(finished_run):
    out, metrics, _ = finished_run
    expected = {
        "attention.png",
        "config.json",
        "confusion_matrix.png",
        "data.json",
        "labels.txt",
        "logs",
        "metrics.json",
        "model.keras",
        "training_curves.png",
        OUTPUT_MARKER,
    }
    if keras.backend.backend() == "tensorflow":
        expected.add("saved_model")
    assert {path.name for path in out.iterdir()} == expected
    for name in ("attention.png", "confusion_matrix.png", "training_curves.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "labels.txt").read_text().splitlines() == ["music", "sport", "weather"]
    assert (out / "logs" / "training_log.csv").read_text().count("\n") == 3  # header + 2 epochs
    assert (out / "logs" / "tensorboard").is_dir()
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(metrics))


def test_metrics_match_scikit_learn_on_the_reloaded_model(finished_run):
    from sklearn.metrics import accuracy_score
    from sklearn.metrics import f1_score
    from sklearn.metrics import precision_recall_fscore_support

    from toolkit.data import load_text_splits

    out, metrics, data = finished_run
    config = json.loads((out / "config.json").read_text())
    splits, _ = load_text_splits(data, seed=config["split_seed"])
    test = splits["test"]
    labels, probabilities = predict_texts(out, test.texts)
    assert metrics["examples"] == len(test) == 15
    assert metrics["accuracy"] == pytest.approx(accuracy_score(test.labels, labels))
    assert metrics["macro_f1"] == pytest.approx(f1_score(test.labels, labels, average="macro"))
    precision, recall, f1, support = precision_recall_fscore_support(
        test.labels, labels, labels=["music", "sport", "weather"], zero_division=0
    )
    for index, name in enumerate(["music", "sport", "weather"]):
        assert metrics["per_class"][name] == pytest.approx(
            {
                "precision": precision[index],
                "recall": recall[index],
                "f1": f1[index],
                "support": support[index],
            }
        )
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    assert 0.0 <= metrics["dev"]["accuracy"] <= 1.0
    assert metrics["export"]["keras_reload_max_abs_diff"] <= 1e-5


def test_baseline_is_reported_beside_the_recipe(finished_run):
    _, metrics, _ = finished_run
    baseline = metrics["baseline"]
    assert baseline["name"] == "tfidf_1-2gram_logistic_regression"
    assert str(baseline["C"]) in baseline["dev_accuracy_by_C"]
    # The word groups decide the class, so the bag-of-words baseline is perfect here.
    assert baseline["test"]["accuracy"] == 1.0
    for key in ("accuracy", "macro_f1"):
        row = metrics["comparison"][key]
        assert row["recipe"] == metrics[key]
        assert row["baseline"] == baseline["test"][key]
        assert row["gain"] == pytest.approx(row["recipe"] - row["baseline"])
        assert row["recipe_beats_baseline"] == (row["recipe"] > row["baseline"])


def test_config_and_data_record_are_written(finished_run):
    out, _, data = finished_run
    config = json.loads((out / "config.json").read_text())
    assert config == {**json.loads(json.dumps(config)), "data": str(data)}
    assert config["cell"] == "gru" and config["units"] == 6
    record = json.loads((out / "data.json").read_text())
    assert record["layout"] == "single source"
    assert {name: split["count"] for name, split in record["splits"].items()} == {
        "train": 120,
        "dev": 15,
        "test": 15,
    }


@pytest.mark.tensorflow_only
def test_saved_model_serves_raw_strings_without_the_project(finished_run, tmp_path):
    out, _, data = finished_run
    texts = [text for text, _ in sentences(20, seed=5)] + ["", "zzz unknown words only"]
    labels, probabilities = predict_texts(out, texts)
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    serve_without_toolkit(
        tmp_path,
        """
        texts = json.load(open("texts.json"))
        model = tf.saved_model.load(sys.argv[2])
        result = model.serve(tf.constant(texts))
        json.dump({"label": [l.decode() for l in result["label"].numpy().tolist()],
                   "probabilities": result["probabilities"].numpy().tolist()},
                  open("served.json", "w"))
        """,
        str(out / "saved_model"),
    )
    served = json.loads((tmp_path / "served.json").read_text())
    assert served["label"] == labels
    np.testing.assert_allclose(served["probabilities"], probabilities, atol=1e-5)


def test_predict_reads_a_file_or_stdin_and_prints_labels(
    finished_run, tmp_path, capsys, monkeypatch
):
    out, _, _ = finished_run
    texts = ["The goal of the team was new!", "Rain and wind today.", "", "A guitar song"]
    labels, probabilities = predict_texts(out, texts)
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    calls = []
    monkeypatch.setattr("recipes.runner.cli.reuse_freed_memory", lambda: calls.append(1))
    assert main(["predict", str(out), "--input", str(path)]) == 0
    assert calls == [1]  # as the other recipes' serving commands (`subcommand_main`)
    printed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in printed] == labels
    np.testing.assert_allclose(
        [float(line.split("\t")[1]) for line in printed], probabilities.max(-1), atol=1e-4
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(texts[:2])))
    assert main(["predict", str(out)]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == labels[:2]


def test_export_command_writes_the_saved_model_of_a_run_folder(finished_run, tmp_path, capsys):
    out, metrics, _ = finished_run
    run_dir = export_a_copy(main, out, tmp_path, capsys)
    if run_dir is None:  # a JAX run says how to get its SavedModel
        assert metrics["export"]["saved_model"] == (
            "not written: the raw-string SavedModel holds TextVectorization, which runs "
            "inside a model only on the TensorFlow backend; "
            "`KERAS_BACKEND=tensorflow python -m recipes.text_classification export RUN_DIR` "
            "writes it"
        )
        return
    import tensorflow as tf

    texts = [text for text, _ in sentences(6, seed=7)]
    labels, probabilities = predict_texts(run_dir, texts)
    loaded = tf.saved_model.load(str(run_dir / "saved_model"))  # kept: it owns the variables
    served = loaded.serve(tf.constant(texts))
    assert [label.decode() for label in served["label"].numpy().tolist()] == labels
    np.testing.assert_allclose(served["probabilities"].numpy(), probabilities, atol=1e-5)


def test_model_keras_is_the_toolkit_text_classifier(finished_run):
    import toolkit

    out, _, _ = finished_run
    model = keras.models.load_model(out / "model.keras")
    assert isinstance(model, toolkit.models.TextClassifier)
    assert model.backbone.cell == "gru" and model.backbone.units == 6
    texts = ["The goal of the team was new!", "Rain and wind today.", ""]
    _, probabilities = predict_texts(out, texts)
    np.testing.assert_array_equal(model.predict(texts, verbose=0), probabilities)


def test_the_local_copy_of_a_distributed_run_is_still_the_text_classifier(finished_run):
    """`keras.models.clone_model` (the runner's `local_copy`) gave a plain functional model."""
    import toolkit
    from recipes.runner import local_copy

    out, _, _ = finished_run
    model = keras.models.load_model(out / "model.keras")
    assert local_copy(model, "default") is model
    copy = local_copy(model, "mirrored")
    assert isinstance(copy, toolkit.models.TextClassifier) and copy is not model
    texts = ["The goal of the team was new!", ""]
    np.testing.assert_array_equal(copy.predict(texts, verbose=0), model.predict(texts, verbose=0))


def write_earlier_model_keras(model, path):
    """`model.keras` as the recipe wrote it before `toolkit.models` (issue 29).

    A functional `texts -> vectorizer -> classifier` model: a `TextVectorization`
    named `vectorizer` and a flat functional `classifier` of token ids, built
    here as the recipe's `build_classifier` built it, with `model`'s weights.
    """
    import toolkit

    backbone = model.backbone
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(
        backbone.vocabulary_size, backbone.embedding_dim, mask_zero=True, name="embedding"
    )(token_ids)
    x = keras.layers.Dropout(0.3, name="embedding_dropout")(x)
    gru = toolkit.layers.GRU(backbone.units, return_sequences=True, name="gru_0")
    x = keras.layers.Bidirectional(gru, name="bidirectional_0")(x)
    x, _ = toolkit.attention.AttentionPooling(
        backbone.attention_units, heads=1, name="attention_pooling"
    )(x)
    x = keras.layers.Dropout(0.3, name="dropout")(x)
    probabilities = keras.layers.Dense(
        model.num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    classifier = keras.Model(token_ids, probabilities, name="classifier")
    classifier.set_weights(model.get_weights())
    vectorizer = keras.layers.TextVectorization(
        standardize="lower",
        split=toolkit.data.split_words_and_punctuation,
        vocabulary=model.preprocessor.get_vocabulary()[2:],
        name="vectorizer",
    )
    texts = keras.Input((), dtype="string", name="texts")
    keras.Model(texts, classifier(vectorizer(texts)), name="text_classifier").save(path)


def test_predict_and_export_read_run_folders_written_before_toolkit_models(
    finished_run, tmp_path, capsys
):
    out, _, _ = finished_run
    earlier = tmp_path / "earlier"
    shutil.copytree(out, earlier, ignore=shutil.ignore_patterns("saved_model"))
    write_earlier_model_keras(keras.models.load_model(out / "model.keras"), earlier / "model.keras")
    texts = [text for text, _ in sentences(12, seed=8)] + ["", "zzz unknown words only"]
    labels, probabilities = predict_texts(out, texts)
    earlier_labels, earlier_probabilities = predict_texts(earlier, texts)
    assert earlier_labels == labels
    np.testing.assert_allclose(earlier_probabilities, probabilities, atol=1e-6)
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    assert main(["export", str(earlier)]) == 0
    loaded = tf.saved_model.load(str(earlier / "saved_model"))  # kept: it owns the variables
    served = loaded.serve(tf.constant(texts))
    assert [label.decode() for label in served["label"].numpy().tolist()] == labels
    np.testing.assert_allclose(served["probabilities"].numpy(), probabilities, atol=1e-5)


def test_predict_on_a_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"Argument `run_dir` expected a finished run folder"):
        predict_texts(tmp_path, ["text"])


@pytest.mark.tensorflow_pass(reason="a data-layout and cell variation")
def test_split_files_other_columns_other_cells_and_the_time_budget(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_jsonl(data / "train.jsonl", sentences(90, seed=1))
    write_jsonl(data / "dev.jsonl", sentences(12, seed=2))
    write_jsonl(data / "test.jsonl", sentences(12, seed=3))
    out = tmp_path / "run"
    metrics = run(
        tiny_config(
            data,
            text_column="sentence",
            label_column="topic",
            cell="lstm",
            bidirectional=False,
            pooling="final",
            layers=2,
            baseline=False,
            max_train_minutes=1e-9,  # stops after the first batch
            saved_model=False,
        ),
        out,
    )
    assert metrics["training"]["stopped_by_time_budget"] is True
    assert metrics["training"]["epochs_run"] == 1
    assert metrics["examples"] == 12
    assert "baseline" not in metrics and "comparison" not in metrics
    assert not (out / "attention.png").exists()  # no attention pooling to draw
    record = json.loads((out / "data.json").read_text())
    assert record["layout"] == "split files"
    assert (out / "model.keras").is_file()
    # `saved_model: false`: model.keras is written and checked, the SavedModel left for later.
    assert metrics["export"]["keras_reload_max_abs_diff"] <= 1e-5
    assert metrics["export"]["saved_model"].startswith("not written: saved_model=false")
    assert "saved_model_max_abs_diff" not in metrics["export"]
    assert not (out / "saved_model").exists()


@pytest.mark.tensorflow_pass(
    reason="a recipe variation; the layers' mixed precision runs on JAX in their contract tests"
)
def test_mixed_precision_and_the_simple_cell(tmp_path):
    data = write_csv(tmp_path / "topics.csv", sentences(60, seed=4))
    metrics = run(
        tiny_config(data, cell="simple", mixed_precision=True, baseline=False, saved_model=False),
        tmp_path / "run",
    )
    assert metrics["dtype_policy"] in ("mixed_bfloat16", "mixed_float16")
    assert np.isfinite(metrics["loss"])


def test_bad_data_fails_cleanly_and_leaves_no_output(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "train.csv", sentences(30, seed=1))
    write_csv(data / "test.csv", [("a new label appears", "politics")])
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"test\.csv.*line 2.*politics"):
        run(tiny_config(data), out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [data]


@pytest.mark.tensorflow_pass(reason="the staging of outputs is the same code on every backend")
def test_failure_part_way_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    data = write_csv(tmp_path / "topics.csv", sentences(45, seed=6))
    out = tmp_path / "run"
    out.mkdir()
    (out / OUTPUT_MARKER).write_text("")
    (out / "old.txt").write_text("an older run")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("recipes.text_classification.job.write_json", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run(tiny_config(data, baseline=False, attention_examples=0), out)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run", "topics.csv"]
    assert sorted(path.name for path in out.iterdir()) == [OUTPUT_MARKER, "old.txt"]


@pytest.mark.no_keras_state
@pytest.mark.parametrize(
    "overrides, message",
    [
        (["cell=transformer"], r"`cell` expected one of \['simple', 'lstm', 'gru'"),
        (["pooling=max"], r"`pooling` expected one of"),
        (["units=0"], r"`units` expected a positive integer"),
        (["dropout=1.5"], r"`dropout` expected a number in \[0, 1\)"),
        (["epochs=two"], r"`epochs` expected an integer"),
        (["colour=red"], r"Unknown config key `colour`"),
        (["strategy=tpu"], r"`strategy` expected one of"),
        (["max_train_minutes=0"], r"`max_train_minutes` expected a positive number"),
    ],
)
def test_config_errors_name_the_key_and_value(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(TextClassificationConfig, None, overrides)


@pytest.mark.no_keras_state
def test_command_line_flags_become_config_and_errors_exit(capsys):
    with pytest.raises(ConfigError, match="`cell` expected one of"):
        main(["--set", "cell=transformer"])
    with pytest.raises(SystemExit):
        main(["--strategy", "tpu"])
    assert "invalid choice: 'tpu'" in capsys.readouterr().err


@pytest.mark.no_keras_state
def test_presets_load():
    from recipes.text_classification.config import PRESETS

    names = sorted(path.name for path in PRESETS.glob("*.yaml"))
    assert names == ["default.yaml", "lstm.yaml", "tiny.yaml"]
    assert load_config(TextClassificationConfig, PRESETS / "default.yaml") == (
        TextClassificationConfig()
    )
    assert load_config(TextClassificationConfig, PRESETS / "lstm.yaml", ["units=32"]).cell == "lstm"
    assert load_config(TextClassificationConfig, PRESETS / "tiny.yaml").epochs == 2


@pytest.mark.tensorflow_only  # the main job's backend; JAX runs the tiny end-to-end tests
def test_bundled_data_beats_the_tfidf_baseline(tmp_path):
    """The README's main job: default config, bundled data (about 40 s on 2 cores)."""
    metrics = run(TextClassificationConfig(verbose=0, attention_examples=2), tmp_path / "run")
    assert metrics["examples"] == 1692
    for key in ("accuracy", "macro_f1"):
        assert metrics["comparison"][key]["recipe_beats_baseline"], metrics["comparison"]
    assert metrics["accuracy"] > 0.81
