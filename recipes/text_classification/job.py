"""One run of the recipe: load, train, evaluate, compare, report and export."""

import time

import keras
import numpy as np

from recipes.runner import config_to_dict
from recipes.runner import fit_callbacks
from recipes.runner import local_copy
from recipes.runner import make_optimizer
from recipes.runner import planned_epochs
from recipes.runner import prepare_model_for_strategy
from recipes.runner import restore_best
from recipes.runner import run_as_chief_or_worker
from recipes.runner import set_precision
from recipes.runner import staged_output
from recipes.runner import strategy_scope
from recipes.runner.errors import reading_data
from recipes.runner.exporting import saved_model_not_written
from recipes.runner.exporting import verified_ops
from recipes.runner.reports import Phases
from recipes.runner.reports import classification_metrics
from recipes.runner.reports import plot_confusion_matrix
from recipes.runner.reports import plot_token_weights
from recipes.runner.reports import plot_training_curves
from recipes.runner.reports import print_data_notes
from recipes.runner.reports import write_json
from recipes.runner.training import check_evaluation_splits
from recipes.runner.training import check_training_labels
from recipes.text_classification.baseline import tfidf_logistic_regression
from recipes.text_classification.export import SIGNATURE
from recipes.text_classification.export import export_saved_model
from recipes.text_classification.export import predict_texts
from recipes.text_classification.model import attention_model
from recipes.text_classification.model import build_classifier
from recipes.text_classification.model import build_text_model
from recipes.text_classification.model import build_vectorizer
from recipes.text_classification.model import encode
from recipes.text_classification.model import predict_probabilities
from recipes.text_classification.model import token_dataset
from recipes.text_classification.model import tokens_of
from toolkit.data import load_text_splits

RELOAD_TOLERANCE = 1e-5


def load_splits(config):
    """The train / dev / test splits, their class names and the split record."""
    splits, record = load_text_splits(
        config.data_path,
        text_column=config.text_column,
        label_column=config.label_column,
        format=config.format,
        encoding=config.encoding,
        dev_fraction=config.dev_fraction,
        test_fraction=config.test_fraction,
        seed=config.split_seed,
    )
    check_evaluation_splits(splits, config, config.data_path)
    class_names = sorted(splits["train"].label_counts())
    check_training_labels(class_names, config.data_path)
    return splits, class_names, record


def run(config, out_dir):
    """Trains, evaluates and exports one model; returns the metrics dict.

    Everything is written to a staging folder that becomes `out_dir` only
    when the whole run succeeded. Under `strategy="multiworker"` only the
    chief writes `out_dir`; the other workers train with it and discard
    their outputs.
    """
    return run_as_chief_or_worker(_run, config, out_dir)


def _run(config, out_dir, strategy):
    start = time.monotonic()
    keras.utils.set_random_seed(config.seed)
    policy = set_precision(config.mixed_precision)
    phases = Phases(config.verbose)
    with phases("reading data", str(config.data_path)):
        with reading_data():
            splits, class_names, data_record = load_splits(config)
    print_data_notes(data_record, config.verbose)
    with phases("vocabulary", f"learnt from {len(splits['train'])} training texts"):
        vectorizer = build_vectorizer(config, splits["train"].texts)
    vocabulary_size = vectorizer.vocabulary_size()

    with strategy_scope(strategy):
        classifier = build_classifier(config, vocabulary_size, len(class_names))
        classifier.compile(
            optimizer=make_optimizer(config),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        prepare_model_for_strategy(classifier, strategy)
    train_data = token_dataset(vectorizer, splits["train"], class_names, config, training=True)
    dev_data = token_dataset(vectorizer, splits["dev"], class_names, config, training=False)

    with staged_output(out_dir) as staging:
        epochs = planned_epochs(config)  # the schedule's budget, and fit's
        callbacks = fit_callbacks(
            staging / "logs",
            monitor="val_accuracy",
            mode="max",
            patience=config.patience,
            max_train_minutes=config.max_train_minutes,
            epochs=epochs,
            lr_schedule=config.lr_schedule,
        )
        history = classifier.fit(
            train_data,
            validation_data=dev_data,
            epochs=epochs,
            callbacks=callbacks,
            shuffle=False,  # the dataset shuffles itself, every epoch
            verbose=config.verbose,
        ).history
        training = restore_best(classifier, callbacks, history)
        classifier = local_copy(classifier, config.strategy)

        results, predictions = {}, {}
        with phases("evaluation", "classifying dev and test"):
            for name in ("dev", "test"):
                probabilities = predict_probabilities(vectorizer, classifier, splits[name].texts)
                targets = np.array([class_names.index(label) for label in splits[name].labels])
                predictions[name] = (targets, probabilities.argmax(-1))
                results[name] = classification_metrics(*predictions[name], class_names)
                results[name]["loss"] = _log_loss(probabilities, targets)

        metrics = {
            "split": "test",
            **{key: results["test"][key] for key in ("accuracy", "macro_f1", "loss")},
            "per_class": results["test"]["per_class"],
            "examples": results["test"]["examples"],
            "dev": results["dev"],
            "class_names": class_names,
            "training": training,
            "backend": keras.backend.backend(),
            "dtype_policy": policy,
            "strategy": config.strategy,
            "vocabulary_size": vocabulary_size,
            "parameters": classifier.count_params(),
        }
        if config.baseline:
            with phases("baseline", "TF-IDF + logistic regression, C tuned on dev"):
                baseline = tfidf_logistic_regression(splits, class_names)
            metrics["baseline"] = baseline
            metrics["comparison"] = {
                key: {
                    "recipe": results["test"][key],
                    "baseline": baseline["test"][key],
                    "gain": results["test"][key] - baseline["test"][key],
                    "recipe_beats_baseline": results["test"][key] > baseline["test"][key],
                }
                for key in ("accuracy", "macro_f1")
            }

        plot_training_curves(history, staging / "training_curves.png")
        plot_confusion_matrix(
            *predictions["test"],
            class_names,
            staging / "confusion_matrix.png",
            title=f"test, accuracy {results['test']['accuracy']:.3f}",
        )
        if config.attention_examples:
            _plot_attention(config, vectorizer, classifier, splits["test"], class_names, staging)

        text_model = build_text_model(vectorizer, classifier)
        text_model.save(staging / "model.keras")
        (staging / "labels.txt").write_text("\n".join(class_names) + "\n", encoding="utf-8")
        with phases("export", "model.keras, the SavedModel and their checks"):
            metrics["export"] = _check_exports(
                text_model, class_names, splits["test"].texts[:64], config, staging
            )
        metrics["phase_seconds"] = {"training": training.get("seconds"), **phases.seconds}
        metrics["seconds"] = round(time.monotonic() - start, 1)
        write_json(staging / "config.json", config_to_dict(config))
        write_json(staging / "data.json", data_record)
        write_json(staging / "metrics.json", metrics)
    return metrics


def _check_exports(text_model, class_names, texts, config, staging):
    """Reloads `model.keras` (and the SavedModel, when written) and compares predictions."""
    vectorizer = text_model.get_layer("vectorizer")
    classifier = text_model.get_layer("classifier")
    expected = predict_probabilities(vectorizer, classifier, texts)
    _, reloaded = predict_texts(staging, texts)
    report = {"keras_reload_max_abs_diff": float(np.max(np.abs(reloaded - expected)))}
    if not report["keras_reload_max_abs_diff"] <= RELOAD_TOLERANCE:  # NaN fails too
        raise RuntimeError(
            f"The reloaded model.keras differs from the trained model by "
            f"{report['keras_reload_max_abs_diff']} on test texts"
        )
    if not config.saved_model:
        report["saved_model"] = saved_model_not_written("recipes.text_classification")
        return report
    if keras.backend.backend() != "tensorflow":
        report["saved_model"] = saved_model_not_written(
            "recipes.text_classification",
            "the raw-string SavedModel holds TextVectorization, which runs inside a "
            "model only on the TensorFlow backend",
        )
        return report
    import tensorflow as tf

    export_saved_model(text_model, class_names, staging / "saved_model")
    loaded = tf.saved_model.load(str(staging / "saved_model"))
    served = getattr(loaded, SIGNATURE)(tf.constant(texts, tf.string))
    gap = float(np.max(np.abs(served["probabilities"].numpy() - expected)))
    labels = [label.decode() for label in served["label"].numpy().tolist()]
    if not gap <= RELOAD_TOLERANCE or labels != [class_names[i] for i in expected.argmax(-1)]:
        raise RuntimeError(f"The exported SavedModel differs from the trained model by {gap}")
    report["saved_model"] = "saved_model/"
    report["saved_model_ops"] = verified_ops(staging / "saved_model")
    report["saved_model_max_abs_diff"] = gap
    return report


def _plot_attention(config, vectorizer, classifier, split, class_names, staging):
    """attention.png: attention pooling weights over a few test texts."""
    weights_model = attention_model(classifier)
    if weights_model is None:
        return
    texts = split.texts[: config.attention_examples]
    ids = encode(vectorizer, texts).numpy()
    weights = np.asarray(weights_model.predict_on_batch(ids), dtype="float32")
    if weights.ndim == 3:  # several heads: their mean
        weights = weights.mean(axis=1)
    probabilities = np.asarray(classifier.predict_on_batch(ids))
    rows = []
    for index, text in enumerate(texts):
        predicted = int(probabilities[index].argmax())
        title = (
            f"true {split.labels[index]}, predicted {class_names[predicted]} "
            f"({probabilities[index, predicted]:.2f})"
        )
        rows.append((tokens_of(vectorizer, text), weights[index], title))
    plot_token_weights(rows, staging / "attention.png")


def _log_loss(probabilities, targets):
    picked = probabilities[np.arange(len(targets)), targets]
    return float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0)))) if len(targets) else float("nan")
