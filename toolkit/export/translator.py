"""The strings-to-strings SavedModel of a `toolkit.models.Translator`."""

import keras

from toolkit.export.text import require_tensorflow
from toolkit.export.verifier import SENTENCEPIECE_OPS
from toolkit.export.verifier import verify_saved_model
from toolkit.models.translator_preprocessor import detokenize_pieces


def export_translator(
    model,
    path,
    beam_width=5,
    length_penalty=1.0,
    max_length_ratio=2.0,
    max_length_offset=10,
    max_length=200,
    text_transform=None,
    signature="translate",
):
    """Writes a SavedModel that translates raw strings with TensorFlow alone.

    The serving function takes source strings `(batch,)` and returns
    `{"translation": (batch,) strings}`; tokenization (the source
    SentencePiece model), encoding, the search (`model.generate`) and
    detokenization (plain string ops over the target pieces) are in the
    graph. A blank source (empty or whitespace) translates to `""`; an empty
    batch gives an empty batch. Serving needs TensorFlow and the SentencePiece
    ops of tensorflow-text (`import tensorflow_text` before
    `tf.saved_model.load`; TensorFlow Serving builds hold them), nothing of
    Keras, keras-hub or this toolkit. The SavedModel is checked with
    `verify_saved_model(path, allowed_extra=SENTENCEPIECE_OPS)` before this
    returns.

    Args:
        model: A `toolkit.models.Translator` with its preprocessor.
        path: The folder to write (an existing SavedModel there is
            overwritten by TensorFlow).
        beam_width: `None` or `1` for greedy search, else the beam width
            (default `5`).
        length_penalty: Float (default `1.0`).
        max_length_ratio: Positive float (default `2.0`).
        max_length_offset: Integer (default `10`).
        max_length: Positive integer (default `200`).
        text_transform: Optional object with `mask_tensor(texts) ->
            (masked_texts, state)` and `unmask_tensor(translations, state) ->
            translations`, in TensorFlow ops (default `None`): the sources are
            masked before tokenization and the translations unmasked after
            (e.g. spans to copy verbatim, replaced by placeholders).
        signature: The serving function's name (default `"translate"`).

    Returns:
        The verifier's summary: `{"signatures", "ops", "extra_ops"}`.

    Example:

    >>> import tempfile, keras, tensorflow as tf, toolkit
    >>> sources = ["a cat", "a dog", "the cat sat", "the dog sat"] * 4
    >>> targets = ["un gato", "un perro", "el gato se sentó", "el perro se sentó"] * 4
    >>> preprocessor = toolkit.models.TranslatorPreprocessor.from_texts(
    ...     sources, targets, source_vocabulary_size=20, target_vocabulary_size=20)
    >>> model = toolkit.models.Translator(preprocessor, units=4, embedding_dim=4)
    >>> path = tempfile.mkdtemp()
    >>> if keras.backend.backend() == "tensorflow":
    ...     summary = export_translator(model, path, beam_width=2)
    ...     import tensorflow_text  # the SentencePiece ops
    ...     loaded = tf.saved_model.load(path)
    ...     served = loaded.translate(tf.constant(["a cat", " "]))["translation"]
    ...     print(summary["signatures"], served.shape, served.numpy()[1])
    ... else:
    ...     print(['serving_default', 'translate'], (2,), b'')
    ['serving_default', 'translate'] (2,) b''
    """
    require_tensorflow("Exporting a translator")
    import tensorflow as tf

    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is None or not hasattr(model, "generate"):
        raise ValueError(
            "Argument `model` expected a `toolkit.models.Translator` with a preprocessor. "
            f"Received: {type(model).__name__} (preprocessor={preprocessor!r})"
        )
    if text_transform is not None and not (
        callable(getattr(text_transform, "mask_tensor", None))
        and callable(getattr(text_transform, "unmask_tensor", None))
    ):
        raise ValueError(
            "Argument `text_transform` expected an object with `mask_tensor` and "
            f"`unmask_tensor` methods, or None. Received: {type(text_transform).__name__}"
        )
    options = dict(
        beam_width=beam_width,
        length_penalty=length_penalty,
        max_length_ratio=max_length_ratio,
        max_length_offset=max_length_offset,
        max_length=max_length,
    )
    source_tokenizer = preprocessor.source_tokenizer
    source_tokenizer.build(None)  # a tokenizer made from a proto is built on its first call
    pieces = preprocessor.target_pieces()

    def translate(texts):
        given = texts
        if text_transform is not None:
            texts, state = text_transform.mask_tensor(texts)
        result = model.generate(preprocessor.encode_sources(texts), **options)
        translations = detokenize_pieces(pieces, result["tokens"])
        if text_transform is not None:
            translations = text_transform.unmask_tensor(translations, state)
        # Nothing to translate, nothing translated (the model would make up a sentence).
        translations = tf.where(tf.strings.length(tf.strings.strip(given)) > 0, translations, "")
        return {"translation": translations}

    archive = keras.export.ExportArchive()
    archive.track(model)
    # Not the target tokenizer: a SavedModel holding two SentencePiece models
    # restores both with the first one's (tensorflow-text's kernel-owned
    # resources); detokenization uses the target pieces instead.
    archive.track(source_tokenizer)
    archive.add_endpoint(signature, translate, input_signature=[tf.TensorSpec([None], tf.string)])
    archive.write_out(str(path), verbose=False)
    return verify_saved_model(path, allowed_extra=SENTENCEPIECE_OPS)
