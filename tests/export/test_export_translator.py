"""`export_translator`: the strings-to-strings SavedModel of a `Translator`."""

import keras
import pytest

import toolkit
from toolkit.export import export_translator

SOURCES = ["a cat", "a dog", "the cat sat", "the dog sat"] * 4
TARGETS = ["un gato", "un perro", "el gato se sentó", "el perro se sentó"] * 4


def make_translator():
    # Seeded first: TensorFlow's seeding clears the eager kernel cache, which
    # owns the SentencePiece resources.
    keras.utils.set_random_seed(0)
    preprocessor = toolkit.models.TranslatorPreprocessor.from_texts(
        SOURCES, TARGETS, source_vocabulary_size=20, target_vocabulary_size=20
    )
    model = toolkit.models.Translator(preprocessor, units=8, embedding_dim=8, dropout=0.0)
    model.fit(SOURCES, TARGETS, batch_size=4, epochs=2, verbose=0)
    return model


def served(path, texts):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the SentencePiece ops)

    loaded = tf.saved_model.load(str(path))
    values = loaded.translate(tf.constant(texts, tf.string))["translation"].numpy()
    return [value.decode("utf-8") for value in values.tolist()]


class Uppercase:
    """A `text_transform`: lower-cases the sources, upper-cases the translations."""

    def mask_tensor(self, texts):
        import tensorflow as tf

        return tf.strings.lower(texts), None

    def unmask_tensor(self, translations, state):
        import tensorflow as tf

        return tf.strings.upper(translations)


@pytest.mark.tensorflow_only
def test_served_translations_equal_translate_and_the_ops_are_verified(tmp_path):
    model = make_translator()
    summary = export_translator(model, tmp_path / "sm", beam_width=2)
    assert "translate" in summary["signatures"]
    assert sorted(summary["extra_ops"]) == ["SentencepieceOp", "SentencepieceTokenizeOp"]
    texts = ["a cat", "", "   ", "the dog sat", "unseen words here"]
    assert served(tmp_path / "sm", texts) == model.translate(texts, beam_width=2)
    assert served(tmp_path / "sm", texts)[1:3] == ["", ""]
    assert served(tmp_path / "sm", []) == []


@pytest.mark.tensorflow_only
def test_a_reloaded_model_and_a_text_transform(tmp_path):
    model = make_translator()
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    export_translator(reloaded, tmp_path / "sm", beam_width=None, text_transform=Uppercase())
    expected = [t.upper() for t in model.translate(["a cat", "the dog"], beam_width=None)]
    assert served(tmp_path / "sm", ["A CAT", "The Dog"]) == expected


def test_bad_arguments_name_what_was_expected(tmp_path):
    model = make_translator()
    if keras.backend.backend() != "tensorflow":
        with pytest.raises(ValueError, match="needs the TensorFlow backend"):
            export_translator(model, tmp_path / "sm")
        return
    with pytest.raises(ValueError, match="text_transform"):
        export_translator(model, tmp_path / "sm", text_transform=str.lower)
    with pytest.raises(ValueError, match="Translator"):
        export_translator(object(), tmp_path / "sm")
