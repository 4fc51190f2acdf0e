"""The text classifier: vectorizer, token-id model, raw-text model, input pipeline.

Three pieces, so the same weights serve every backend:

* the vectorizer, a `keras.layers.TextVectorization` learnt from the training
  split (lower-cased words, punctuation kept as tokens, id 0 = padding,
  id 1 = `[UNK]`);
* the classifier, token ids `(batch, time)` -> class probabilities
  `(batch, classes)`: embedding (`mask_zero`), one or more (bidirectional)
  toolkit recurrent layers of the configured cell, attention pooling (or the
  final state), dropout, softmax. It trains with `model.fit`
  on any backend;
* the text model, raw strings `(batch,)` -> probabilities: the vectorizer
  followed by the classifier. It is what `model.keras` and the SavedModel
  hold; it runs on the TensorFlow backend (TextVectorization is a TensorFlow
  layer), and on other backends its two parts are called one after the other.
"""

import keras
import numpy as np

import toolkit
from recipes.runner.batching import length_sorted_batches
from recipes.runner.batching import pad_to_multiple
from toolkit.data import split_words_and_punctuation
from toolkit.data import text_dataset

PAD_MULTIPLE = 16  # pad batches to a multiple of this length: few shapes to compile
SORT_CHUNK = 32  # batches per chunk sorted by length before batching


def build_vectorizer(config, train_texts):
    """A `TextVectorization` adapted on the training texts."""
    vectorizer = keras.layers.TextVectorization(
        max_tokens=config.max_tokens,
        standardize="lower",
        split=split_words_and_punctuation,
        output_mode="int",
        name="vectorizer",
    )
    vectorizer.adapt(list(train_texts), batch_size=1024)
    return vectorizer


def build_classifier(config, vocabulary_size, class_count):
    """Token ids `(batch, time)` -> probabilities `(batch, class_count)`."""
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(
        vocabulary_size, config.embedding_dim, mask_zero=True, name="embedding"
    )(token_ids)
    x = keras.layers.Dropout(config.dropout, name="embedding_dropout")(x)
    layer_class = toolkit.layers.get(config.cell)
    for index in range(config.layers):
        last = index == config.layers - 1
        recurrent = layer_class(
            config.units,
            return_sequences=not (last and config.pooling == "final"),
            name=f"{config.cell}_{index}",
        )
        if config.bidirectional:
            recurrent = keras.layers.Bidirectional(recurrent, name=f"bidirectional_{index}")
        x = recurrent(x)
    if config.pooling == "attention":
        x, _ = toolkit.attention.AttentionPooling(
            config.attention_units, heads=config.attention_heads, name="attention_pooling"
        )(x)
    x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    probabilities = keras.layers.Dense(
        class_count, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(token_ids, probabilities, name="classifier")


def build_text_model(vectorizer, classifier):
    """Raw strings `(batch,)` -> probabilities: vectorizer, then classifier."""
    texts = keras.Input((), dtype="string", name="texts")
    return keras.Model(texts, classifier(vectorizer(texts)), name="text_classifier")


def attention_model(classifier):
    """Token ids -> attention pooling weights, or `None` without attention."""
    try:
        pooling = classifier.get_layer("attention_pooling")
    except ValueError:
        return None
    return keras.Model(classifier.inputs, pooling.output[1], name="attention_weights")


def encode(vectorizer, texts, max_length=None):
    """Token ids of a string batch: int32 `(batch, time)`, padded with 0.

    `time` is the longest text of the batch (cut to `max_length`), rounded up
    to a multiple of `PAD_MULTIPLE`; the padding is masked in the model, so
    it changes no result. TensorFlow ops: call it in `tf.data` or eagerly.
    """
    ids = vectorizer(texts)
    if max_length is not None:
        ids = ids[:, :max_length]
    return pad_to_multiple(ids, PAD_MULTIPLE)


def token_dataset(vectorizer, split, class_names, config, training):
    """`(token_ids, label_index)` batches of a split for `fit` / `evaluate`.

    Training batches are shuffled every epoch and length-sorted within
    chunks of `SORT_CHUNK` batches (then the batches are shuffled), so a
    batch holds texts of similar length and little padding; their texts are
    cut to `config.max_length` tokens. Evaluation batches keep the split's
    order and full texts.
    """
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    if not training:
        dataset = text_dataset(split.texts, split.labels, class_names, config.batch_size)
        return dataset.map(lambda t, y: (encode(vectorizer, t), y), num_parallel_calls=autotune)

    chunk = config.batch_size * SORT_CHUNK
    chunks = text_dataset(
        split.texts, split.labels, class_names, chunk, shuffle=True, seed=config.seed
    )
    dataset = length_sorted_batches(
        chunks,
        len(split.texts),
        config.batch_size,
        SORT_CHUNK,
        lambda texts, labels: tf.strings.length(texts),
        config.seed,
    )
    dataset = dataset.map(
        lambda t, y: (encode(vectorizer, t, config.max_length), y), num_parallel_calls=autotune
    )
    return dataset.prefetch(autotune)  # without autotuning, as `text_dataset` made it


def predict_probabilities(vectorizer, classifier, texts, batch_size=256):
    """Class probabilities `(len(texts), classes)` of raw strings, any backend."""
    import tensorflow as tf

    texts = list(texts)
    if not texts:
        return np.zeros((0, classifier.output_shape[-1]), dtype="float32")
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string)).batch(batch_size)
    dataset = dataset.map(lambda t: encode(vectorizer, t))
    return np.concatenate(
        [np.asarray(classifier.predict_on_batch(ids.numpy())) for ids in dataset], axis=0
    )


def tokens_of(vectorizer, text):
    """The vocabulary tokens of one text, as the model sees them."""
    vocabulary = vectorizer.get_vocabulary()
    ids = np.asarray(vectorizer([text]))[0]
    return [str(vocabulary[i]) for i in ids if i != 0]
