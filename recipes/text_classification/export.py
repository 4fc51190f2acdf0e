"""The run folder's deployable forms, and prediction from a run folder.

* `model.keras`: the text model (raw strings -> probabilities); loading it
  needs `import toolkit` (its layers are the toolkit's).
* `saved_model/`: a TensorFlow SavedModel whose `serve` signature takes a
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
"""

import keras
import numpy as np

from recipes.runner.exporting import require_tensorflow_backend
from recipes.runner.exporting import write_run_saved_model
from recipes.runner.outputs import check_run_folder
from recipes.runner.outputs import load_run_model
from recipes.text_classification.model import predict_probabilities

SIGNATURE = "serve"


def export_saved_model(text_model, class_names, path):
    """Writes the raw-string SavedModel (TensorFlow backend only)."""
    import tensorflow as tf

    names = tf.constant(list(class_names), dtype=tf.string)
    archive = keras.export.ExportArchive()
    archive.track(text_model)

    def serve(texts):
        # A batch whose texts have no token (or no text at all) is vectorized
        # to zero time steps, which `predict_texts` never sends: its `encode`
        # pads to at least `PAD_MULTIPLE` steps. Nothing is padded here: the
        # toolkit's recurrent layers failed on zero steps themselves, and now
        # answer them as fully masked steps (`Recurrent._run_maybe_empty`),
        # which is what `predict_texts` answers for such texts. Padding here
        # would have mended this one signature and left the layers failing
        # for every other caller.
        probabilities = text_model(texts, training=False)
        return {
            "label": tf.gather(names, tf.argmax(probabilities, axis=-1)),
            "probabilities": probabilities,
        }

    archive.add_endpoint(SIGNATURE, serve, input_signature=[tf.TensorSpec([None], tf.string)])
    archive.write_out(str(path), verbose=False)


def export_run(run_dir):
    """Writes `<run_dir>/saved_model/` from a finished run folder.

    Needs the TensorFlow backend (the SavedModel holds the
    `TextVectorization`, whose string ops are TensorFlow's); a run trained
    with JAX is exported this way, since `model.keras` loads on any backend.
    Returns the SavedModel's path.
    """
    require_tensorflow_backend("Exporting the raw-string SavedModel")
    text_model, class_names = load_text_model(run_dir)
    return write_run_saved_model(
        run_dir, lambda folder: export_saved_model(text_model, class_names, folder)
    )


def load_text_model(run_dir):
    """`(text_model, class_names)` of a finished run folder (`model.keras`, `labels.txt`)."""
    import toolkit  # noqa: F401  (registers the layers model.keras holds)

    run_dir = check_run_folder(run_dir, ("model.keras", "labels.txt"))
    text_model = load_run_model(run_dir)
    labels_path = run_dir / "labels.txt"
    return text_model, labels_path.read_text(encoding="utf-8").splitlines()


def load_run(run_dir):
    """The vectorizer, classifier and class names of a finished run folder."""
    text_model, class_names = load_text_model(run_dir)
    return text_model.get_layer("vectorizer"), text_model.get_layer("classifier"), class_names


def predict_texts(run_dir, texts, batch_size=256):
    """Labels and probabilities of raw texts with the model of a run folder.

    Works on every backend (the vectorizer runs as TensorFlow ops, the
    classifier on the active backend).

    Returns:
        `(labels, probabilities)`: a list of strings and a float32 array
        `(len(texts), classes)`.
    """
    vectorizer, classifier, class_names = load_run(run_dir)
    probabilities = predict_probabilities(vectorizer, classifier, texts, batch_size)
    labels = [class_names[index] for index in np.argmax(probabilities, axis=-1)]
    return labels, probabilities
