"""One run of the recipe, top to bottom: data, model, training, evaluation, report, export.

The model is `toolkit.models.TextClassifier`: a preprocessor (raw strings ->
token ids, its vocabulary learnt from the training texts), a bidirectional
recurrent backbone with attention pooling, and a softmax head. `fit` trains it
on length-sorted batches of token ids; `predict` takes raw texts on every
backend; `model.keras` is the classifier itself, and `saved_model/` serves raw
strings with TensorFlow alone.
"""

import time

import keras
import numpy as np

import toolkit
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
from recipes.runner.exporting import ops_report
from recipes.runner.exporting import saved_model_not_written
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
from recipes.text_classification.export import predict_texts
from recipes.text_classification.model import classifier_arguments
from recipes.text_classification.model import token_dataset
from toolkit.data import load_text_splits
from toolkit.export import export_text_classifier

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

    # === Data ===
    with phases("reading data", str(config.data_path)):
        with reading_data():
            splits, class_names, data_record = load_splits(config)
    print_data_notes(data_record, config.verbose)

    # === Model ===
    # The preprocessor turns raw strings into token ids (words and punctuation,
    # lower-cased); it learns its vocabulary from the training texts.
    with phases("vocabulary", f"learnt from {len(splits['train'])} training texts"):
        preprocessor = toolkit.models.TextClassifierPreprocessor(max_tokens=config.max_tokens)
        preprocessor.adapt(splits["train"].texts, batch_size=1024)
    with strategy_scope(strategy):
        model = toolkit.models.TextClassifier(
            num_classes=len(class_names),
            preprocessor=preprocessor,
            **classifier_arguments(config),  # cell, units, layers, pooling, dropout, ...
        )
        # The task's loss and accuracy; the recipe's Adam (peak rate, clipping).
        model.compile(optimizer=make_optimizer(config))
        prepare_model_for_strategy(model, strategy)

    # === Training ===
    # `fit` could take the raw texts; the recipe hands it token ids instead, in
    # length-sorted batches of training texts cut to `max_length` tokens.
    train_data = token_dataset(preprocessor, splits["train"], class_names, config, training=True)
    dev_data = token_dataset(preprocessor, splits["dev"], class_names, config, training=False)
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
        history = model.fit(
            train_data,
            validation_data=dev_data,
            epochs=epochs,
            callbacks=callbacks,
            shuffle=False,  # the dataset shuffles itself, every epoch
            verbose=config.verbose,
        ).history
        training = restore_best(model, callbacks, history)  # the best dev epoch's weights
        model = local_copy(model, config.strategy)  # for evaluation and export

        # === Evaluation ===
        results, predictions = {}, {}
        with phases("evaluation", "classifying dev and test"):
            for name in ("dev", "test"):
                probabilities = model.predict(splits[name].texts, batch_size=256, verbose=0)
                targets = np.array([class_names.index(label) for label in splits[name].labels])
                predictions[name] = (targets, probabilities.argmax(-1))
                results[name] = classification_metrics(*predictions[name], class_names)
                results[name]["loss"] = _log_loss(probabilities, targets)

        # === Report ===
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
            "vocabulary_size": preprocessor.vocabulary_size(),
            "parameters": model.count_params(),
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
        if config.attention_examples and model.backbone.pooling == "attention":
            _plot_attention(model, splits["test"], class_names, config, staging)

        # === Export ===
        model.save(staging / "model.keras")
        (staging / "labels.txt").write_text("\n".join(class_names) + "\n", encoding="utf-8")
        with phases("export", "model.keras, the SavedModel and their checks"):
            metrics["export"] = _check_exports(
                model, class_names, splits["test"].texts[:64], config, staging
            )
        metrics["phase_seconds"] = {"training": training.get("seconds"), **phases.seconds}
        metrics["seconds"] = round(time.monotonic() - start, 1)
        write_json(staging / "config.json", config_to_dict(config))
        write_json(staging / "data.json", data_record)
        write_json(staging / "metrics.json", metrics)
    return metrics


def _check_exports(model, class_names, texts, config, staging):
    """Reloads `model.keras` (and the SavedModel, when written) and compares predictions."""
    expected = model.predict(texts, batch_size=len(texts), verbose=0)
    _, reloaded = predict_texts(staging, texts, batch_size=len(texts))
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

    summary = export_text_classifier(model, staging / "saved_model", class_names, SIGNATURE)
    loaded = tf.saved_model.load(str(staging / "saved_model"))
    served = getattr(loaded, SIGNATURE)(tf.constant(texts, tf.string))
    gap = float(np.max(np.abs(served["probabilities"].numpy() - expected)))
    labels = [label.decode() for label in served["label"].numpy().tolist()]
    if not gap <= RELOAD_TOLERANCE or labels != [class_names[i] for i in expected.argmax(-1)]:
        raise RuntimeError(f"The exported SavedModel differs from the trained model by {gap}")
    report["saved_model"] = "saved_model/"
    report["saved_model_ops"] = ops_report(summary)
    report["saved_model_max_abs_diff"] = gap
    return report


def _plot_attention(model, split, class_names, config, staging):
    """attention.png: the attention pooling weights over a few test texts."""
    backbone = model.backbone
    pooling = backbone.get_layer("attention_pooling")
    weights_model = keras.Model(backbone.inputs, pooling.output[1])  # (batch, [heads,] time)
    texts = split.texts[: config.attention_examples]
    token_ids = model.preprocessor(texts)
    weights = np.asarray(weights_model.predict_on_batch(token_ids), dtype="float32")
    if weights.ndim == 3:  # several heads: their mean
        weights = weights.mean(axis=1)
    probabilities = np.asarray(model.predict_on_batch(token_ids))
    vocabulary = model.preprocessor.get_vocabulary()
    rows = []
    for index, ids in enumerate(keras.ops.convert_to_numpy(token_ids)):
        predicted = int(probabilities[index].argmax())
        title = (
            f"true {split.labels[index]}, predicted {class_names[predicted]} "
            f"({probabilities[index, predicted]:.2f})"
        )
        tokens = [vocabulary[i] for i in ids if i != 0]  # padding is on the right
        rows.append((tokens, weights[index], title))
    plot_token_weights(rows, staging / "attention.png")


def _log_loss(probabilities, targets):
    picked = probabilities[np.arange(len(targets)), targets]
    return float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0)))) if len(targets) else float("nan")
