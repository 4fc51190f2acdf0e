"""Word-and-punctuation splitting for `keras.layers.TextVectorization`.

Punctuation carries syntax (a comma closes a clause, `?` marks inversion), so
the recipes keep it as tokens instead of stripping it as
`TextVectorization`'s default standardization does.
"""

import keras

PUNCTUATION = r"([\p{P}\p{S}])"


@keras.saving.register_keras_serializable(package="toolkit")
def split_words_and_punctuation(texts):
    """Splits strings into words and single punctuation / symbol tokens.

    Use it as the `split` of a `keras.layers.TextVectorization` (with
    `standardize="lower"`, say): each Unicode punctuation or symbol character
    (categories `P*` and `S*`) becomes a token of its own, the rest is split
    on whitespace. Letters of any script, digits and `_` stay inside words.
    Registered serializable, so a `.keras` model holding such a vectorizer
    loads again. It runs as TensorFlow string ops - inside a model on the
    TensorFlow backend, or in a `tf.data` pipeline on any backend.

    Args:
        texts: String tensor `(batch,)`.

    Returns:
        A `tf.RaggedTensor` of strings `(batch, None)`: the tokens of each
        text.

    Example:

    >>> import tensorflow as tf
    >>> tokens = split_words_and_punctuation(tf.constant(["Is it, naïve?", "the cat [MASK]"]))
    >>> [[t.decode() for t in row] for row in tokens.to_list()]
    [['Is', 'it', ',', 'naïve', '?'], ['the', 'cat', '[', 'MASK', ']']]
    >>> vectorizer = keras.layers.TextVectorization(
    ...     standardize="lower", split=split_words_and_punctuation)
    >>> vectorizer.adapt(["Were they here?", "It was."])
    >>> [str(token) for token in vectorizer.get_vocabulary()[:2]]
    ['', '[UNK]']
    >>> sorted(str(token) for token in vectorizer.get_vocabulary()[2:])
    ['.', '?', 'here', 'it', 'they', 'was', 'were']
    """
    import tensorflow as tf

    spaced = tf.strings.regex_replace(texts, PUNCTUATION, r" \1 ")
    return tf.strings.split(spaced)
