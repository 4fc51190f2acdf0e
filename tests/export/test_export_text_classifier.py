"""`export_text_classifier`: the raw-string SavedModel of a `TextClassifier`."""

import keras
import numpy as np
import pytest

import toolkit
from toolkit.export import export_text_classifier

TEXTS = ["a fine film", "a dull film", "fine acting, fine plot", "dull plot"] * 4
LABELS = [1, 0, 1, 0] * 4


def make_classifier():
    preprocessor = toolkit.models.TextClassifierPreprocessor()
    preprocessor.adapt(TEXTS)
    keras.utils.set_random_seed(0)
    return toolkit.models.TextClassifier(
        num_classes=2, preprocessor=preprocessor, units=8, embedding_dim=8, attention_units=8
    )


@pytest.mark.tensorflow_only
def test_served_strings_match_predict_and_the_ops_are_core(tmp_path):
    import tensorflow as tf

    model = make_classifier()
    summary = export_text_classifier(model, tmp_path / "sm", class_names=["dull", "fine"])
    assert summary["signatures"] == ["serve", "serving_default"] and summary["extra_ops"] == []
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    texts = ["a fine film", "dull", "", "   ", "never seen words"]
    served = loaded.serve(tf.constant(texts))
    expected = model.predict(texts, verbose=0)
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-6)
    names = [label.decode() for label in served["label"].numpy()]
    assert names == [["dull", "fine"][i] for i in expected.argmax(-1)]
    empty = loaded.serve(tf.constant([], tf.string))
    assert empty["probabilities"].shape == (0, 2) and empty["label"].shape == (0,)


@pytest.mark.tensorflow_only
def test_a_reloaded_model_exports_the_same(tmp_path):
    """The deployment path: `model.keras` (trained on any backend), loaded with
    `import toolkit` alone, then exported."""
    import tensorflow as tf

    model = make_classifier()
    model.fit(TEXTS, LABELS, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    export_text_classifier(reloaded, tmp_path / "sm")
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    served = loaded.serve(tf.constant(TEXTS[:4]))["probabilities"].numpy()
    np.testing.assert_allclose(served, model.predict(TEXTS[:4], verbose=0), atol=1e-6)


def test_bad_arguments_name_what_was_expected(tmp_path):
    model = make_classifier()
    if keras.backend.backend() != "tensorflow":
        with pytest.raises(ValueError, match="needs the TensorFlow backend"):
            export_text_classifier(model, tmp_path / "sm")
        return
    with pytest.raises(ValueError, match="`class_names` expected 2 names"):
        export_text_classifier(model, tmp_path / "sm", class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="`model` expected a `toolkit.models.TextClassifier`"):
        export_text_classifier(keras.Sequential([keras.layers.Dense(2)]), tmp_path / "sm")
