"""The run folder's deployable forms, and prediction from a run folder.

* `model.keras`: the `toolkit.models.TextClassifier` (raw strings ->
  probabilities through `predict`); loading it needs `import toolkit` only.
* `saved_model/`: a TensorFlow SavedModel written by
  `toolkit.export.export_text_classifier`, whose `serve` signature takes a
  batch of raw strings `(batch,)` and returns `label` (strings `(batch,)`)
  and `probabilities` (float32 `(batch, classes)`, columns in the order of
  `labels.txt`). Loading and calling it needs only TensorFlow:
  `tf.saved_model.load(path).serve(tf.constant(["some text"]))`. A run
  trained with JAX, or with `saved_model: false`, gets it later from its
  `model.keras`: `KERAS_BACKEND=tensorflow python -m
  recipes.text_classification export RUN_DIR` (`export_run`).
  An empty batch answers `label` `(0,)` and `probabilities` `(0, classes)`;
  a text without tokens (`""`, only spaces) gets what `predict_texts` gives
  it, the answer of a fully masked text.

A run folder written before the recipe used `toolkit.models` holds a
functional `texts -> vectorizer -> classifier` model instead; `load_run`
turns it into the same `TextClassifier` (same layers, same weights), so
`predict` and `export` keep working on it.
"""

import numpy as np

from recipes.runner.errors import UsageError
from recipes.runner.exporting import require_tensorflow_backend
from recipes.runner.exporting import write_run_saved_model
from recipes.runner.outputs import check_run_folder
from recipes.runner.outputs import load_run_model
from recipes.runner.outputs import read_run_config
from recipes.text_classification.config import TextClassificationConfig
from recipes.text_classification.model import classifier_arguments
from toolkit.export import export_text_classifier
from toolkit.models import TextClassifier
from toolkit.models import TextClassifierPreprocessor

SIGNATURE = "serve"


def export_run(run_dir):
    """Writes `<run_dir>/saved_model/` from a finished run folder.

    Needs the TensorFlow backend (the SavedModel holds the preprocessor's
    `TextVectorization`, whose string ops are TensorFlow's); a run trained
    with JAX is exported this way, since `model.keras` loads on any backend.
    Returns the SavedModel's path.
    """
    require_tensorflow_backend("Exporting the raw-string SavedModel")
    model, class_names = load_run(run_dir)
    return write_run_saved_model(
        run_dir, lambda folder: export_text_classifier(model, folder, class_names, SIGNATURE)
    )


def load_run(run_dir):
    """`(model, class_names)` of a finished run folder (`model.keras`, `labels.txt`).

    Returns:
        The `toolkit.models.TextClassifier` and the class names in index order.
    """
    run_dir = check_run_folder(run_dir, ("model.keras", "labels.txt"))
    model = load_run_model(run_dir)
    if not isinstance(model, TextClassifier):
        model = _from_text_model(run_dir, model)
    class_names = (run_dir / "labels.txt").read_text(encoding="utf-8").splitlines()
    return model, class_names


def _from_text_model(run_dir, text_model):
    """The `TextClassifier` of a run written before the recipe used `toolkit.models`.

    Its `model.keras` is `texts -> vectorizer -> classifier`: a
    `TextVectorization` with the preprocessor's tokenization, and a
    functional model of token ids with the layers of the `TextClassifier` of
    the run's config, whose weights come in the same order.
    """
    try:
        vectorizer = text_model.get_layer("vectorizer")
        classifier = text_model.get_layer("classifier")
    except ValueError:
        raise UsageError(
            f"Argument `run_dir` expected a text-classification run folder. Received: "
            f"{str(run_dir)!r}, whose model.keras is neither a TextClassifier nor the "
            "recipe's earlier vectorizer + classifier model"
        ) from None
    _, config = read_run_config(run_dir, TextClassificationConfig, ("config.json",))
    preprocessor = TextClassifierPreprocessor(
        vocabulary=vectorizer.get_vocabulary(), max_tokens=config.max_tokens
    )
    model = TextClassifier(
        num_classes=classifier.output_shape[-1],
        preprocessor=preprocessor,
        **classifier_arguments(config),
    )
    model.set_weights(classifier.get_weights())
    return model


def predict_texts(run_dir, texts, batch_size=256):
    """Labels and probabilities of raw texts with the model of a run folder.

    Works on every backend (the preprocessor runs as TensorFlow ops in
    `tf.data`, the model on the active backend).

    Returns:
        `(labels, probabilities)`: a list of strings and a float32 array
        `(len(texts), classes)`.
    """
    model, class_names = load_run(run_dir)
    probabilities = model.predict(list(texts), batch_size=batch_size, verbose=0)
    labels = [class_names[index] for index in np.argmax(probabilities, axis=-1)]
    return labels, probabilities
