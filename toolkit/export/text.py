"""The raw-string SavedModel of a `toolkit.models.TextClassifier`."""

import keras

from toolkit.export.verifier import verify_saved_model


def require_tensorflow(what):
    """A `ValueError` unless Keras runs on TensorFlow: a SavedModel is a TensorFlow graph."""
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"{what} needs the TensorFlow backend (a SavedModel is a TensorFlow graph). "
            f"Received: KERAS_BACKEND={keras.backend.backend()!r}; save the model "
            "(`model.save('model.keras')`), then load and export it with KERAS_BACKEND=tensorflow"
        )


def export_text_classifier(model, path, class_names=None, signature="serve"):
    """Writes a SavedModel that classifies raw strings with TensorFlow alone.

    The serving function takes a string batch `(batch,)` and returns
    `probabilities`, float32 `(batch, num_classes)`, and `label`, the string
    name of each row's most probable class. It holds the model's
    preprocessor (tokenization and vocabulary lookup), so a client sends
    text. An empty batch answers with empty results; a text of no tokens gets
    the probabilities of an empty text. The SavedModel is checked with
    `verify_saved_model` (core TensorFlow ops only) before this returns.

    Args:
        model: A `toolkit.models.TextClassifier` with its preprocessor.
        path: The folder to write (created; an existing SavedModel there is
            overwritten by TensorFlow).
        class_names: Optional list of `num_classes` strings for `label`;
            default `"0"`, `"1"`, ...
        signature: The serving function's name. Defaults to `"serve"` (also
            exported as `serving_default`).

    Returns:
        The verifier's summary: `{"signatures", "ops", "extra_ops"}`.

    Example:

    >>> import tempfile, keras, tensorflow as tf, toolkit
    >>> texts = ["good film", "bad film", "good plot", "bad plot"]
    >>> preprocessor = toolkit.models.TextClassifierPreprocessor()
    >>> preprocessor.adapt(texts)
    >>> model = toolkit.models.TextClassifier(
    ...     num_classes=2, preprocessor=preprocessor, units=4, embedding_dim=4,
    ...     attention_units=4)
    >>> path = tempfile.mkdtemp()
    >>> if keras.backend.backend() == "tensorflow":
    ...     summary = export_text_classifier(model, path, ["bad", "good"])
    ...     loaded = tf.saved_model.load(path)  # keep it: it owns the variables
    ...     served = loaded.serve(tf.constant(["good film", ""]))
    ...     print(summary["signatures"], tuple(served["probabilities"].shape))
    ... else:
    ...     print(["serve", "serving_default"], (2, 2))
    ['serve', 'serving_default'] (2, 2)
    """
    require_tensorflow("Exporting a text classifier")
    import tensorflow as tf

    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is None or not hasattr(model, "num_classes"):
        raise ValueError(
            "Argument `model` expected a `toolkit.models.TextClassifier` with a preprocessor. "
            f"Received: {type(model).__name__} (preprocessor={preprocessor!r})"
        )
    count = model.num_classes
    if class_names is None:
        class_names = [str(index) for index in range(count)]
    class_names = [str(name) for name in class_names]
    if len(class_names) != count:
        raise ValueError(
            f"Argument `class_names` expected {count} names (one per class). "
            f"Received: {len(class_names)} names"
        )
    names = tf.constant(class_names, tf.string)

    def serve(texts):
        probabilities = tf.cast(model(preprocessor(texts), training=False), tf.float32)
        label = tf.gather(names, tf.argmax(probabilities, axis=-1))
        return {"probabilities": probabilities, "label": label}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(preprocessor)
    archive.add_endpoint(signature, serve, input_signature=[tf.TensorSpec([None], tf.string)])
    archive.write_out(str(path), verbose=False)
    return verify_saved_model(path)
