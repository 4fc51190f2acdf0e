"""Labelled texts to a batched `tf.data.Dataset` for `model.fit`.

`without_autotuning(dataset)` turns off `tf.data`'s autotuning, whose
background thread otherwise stalls the start of each `fit` epoch.

`tf.data` feeds every Keras 3 backend (Keras converts the batches to the
backend's arrays), so the same pipeline trains on TensorFlow and on JAX.
String tensors stay TensorFlow tensors: on JAX, vectorize them in the
pipeline (`dataset.map(lambda x, y: (vectorizer(x), y))` with a
`keras.layers.TextVectorization`) rather than inside the model.
TensorFlow is imported when a dataset is built.
"""

import numbers

import numpy as np

from toolkit.arguments import check_positive_int


def text_dataset(
    texts, labels=None, label_vocabulary=None, batch_size=32, shuffle=False, seed=None
):
    """Builds a batched `tf.data.Dataset` of texts and label indices.

    Each batch is `(texts, label_indices)`: a string tensor `(batch,)` and
    an int32 tensor `(batch,)` holding each label's position in
    `label_vocabulary` (the targets of a `sparse_categorical_crossentropy`
    model). With `labels=None` (prediction) each batch is the string tensor
    alone. The last batch may be smaller.

    Args:
        texts: List (or tuple) of strings.
        labels: List of strings, one per text, or `None` (default) to yield
            texts only.
        label_vocabulary: List of distinct strings, the class names in index
            order (e.g. `sorted(train.label_counts())`). Required with
            `labels`; ignored without.
        batch_size: Positive integer (default `32`).
        shuffle: Boolean (default `False`). When `True` the examples are
            shuffled again at every pass over the dataset (every epoch).
            `model.fit` does not shuffle a dataset itself (pass it
            `shuffle=False` to silence its warning).
        seed: Integer or `None` (default), the shuffle seed.

    Returns:
        A `tf.data.Dataset`, without autotuning (`without_autotuning`).

    Raises:
        ValueError: a text or label that is not a string, `texts` and
            `labels` of different lengths, a label missing from
            `label_vocabulary` (named), or a vocabulary with repeats.

    Example:

    >>> dataset = text_dataset(
    ...     ["good film", "bad film", "fine"], ["pos", "neg", "pos"], ["neg", "pos"],
    ...     batch_size=2,
    ... )
    >>> [indices.numpy().tolist() for _, indices in dataset]
    [[1, 0], [1]]
    >>> texts, _ = next(iter(dataset))
    >>> [text.decode() for text in texts.numpy().tolist()]
    ['good film', 'bad film']
    >>> [batch.shape[0] for batch in text_dataset(["a", "b", "c"], batch_size=2)]
    [2, 1]
    """
    import tensorflow as tf

    texts = _check_strings("texts", texts)
    check_positive_int("batch_size", batch_size)
    if not isinstance(shuffle, bool):
        raise ValueError(f"Argument `shuffle` expected a boolean. Received: shuffle={shuffle!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"Argument `seed` expected an integer or None. Received: seed={seed!r}")
    text_tensor = tf.constant(texts, dtype=tf.string, shape=(len(texts),))
    if labels is None:
        dataset = tf.data.Dataset.from_tensor_slices(text_tensor)
    else:
        indices = _label_indices(labels, label_vocabulary, len(texts))
        dataset = tf.data.Dataset.from_tensor_slices((text_tensor, indices))
    if shuffle and texts:
        dataset = dataset.shuffle(
            len(texts), seed=None if seed is None else int(seed), reshuffle_each_iteration=True
        )
    return without_autotuning(dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE))


def without_autotuning(dataset):
    """`dataset` with `tf.data`'s autotuning turned off, so each new iterator starts at once.

    With autotuning on (`tf.data`'s default), every iterator runs a background
    thread that models and tunes the pipeline, and destroying the iterator
    waits for that thread to stop. `model.fit` makes a new iterator for every
    epoch and every validation pass, so the wait comes at each epoch start: on
    a busy 2-core CPU it measured 2.2-2.3 s (once almost 10 s) at the start of
    about half the epochs of the speech-tagging recipe, whose epoch of
    training takes 2.8 s. Without autotuning, `tf.data.AUTOTUNE` in `map` and
    `prefetch` falls back to fixed defaults, plenty for pipelines whose batches
    are cheap next to a training step; the batches are the same.

    Args:
        dataset: A `tf.data.Dataset`.

    Returns:
        The same dataset with `options.autotune.enabled = False`.

    Example:

    >>> import tensorflow as tf
    >>> data = without_autotuning(tf.data.Dataset.range(4).batch(2))
    >>> data.options().autotune.enabled
    False
    >>> [batch.numpy().tolist() for batch in data]
    [[0, 1], [2, 3]]
    """
    import tensorflow as tf

    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            f"Argument `dataset` expected a tf.data.Dataset. "
            f"Received: dataset of type {type(dataset).__name__}"
        )
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _check_strings(argument_name, values):
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise ValueError(
            f"Argument `{argument_name}` expected a list of strings. "
            f"Received: {argument_name} of type {type(values).__name__}"
        )
    for position, value in enumerate(values):
        if not isinstance(value, str):
            raise ValueError(
                f"Argument `{argument_name}` expected a list of strings. "
                f"Received: {argument_name}[{position}]={value!r}"
            )
    return list(values)


def _label_indices(labels, label_vocabulary, count):
    labels = _check_strings("labels", labels)
    if len(labels) != count:
        raise ValueError(
            "Arguments `texts` and `labels` expected the same length, one label per text. "
            f"Received: {count} texts and {len(labels)} labels"
        )
    if label_vocabulary is None:
        raise ValueError(
            "Argument `label_vocabulary` is required with `labels`: the class names in "
            "index order. Received: label_vocabulary=None"
        )
    vocabulary = _check_strings("label_vocabulary", label_vocabulary)
    index = {label: position for position, label in enumerate(vocabulary)}
    if len(index) != len(vocabulary):
        repeated = sorted({label for label in vocabulary if vocabulary.count(label) > 1})
        raise ValueError(
            f"Argument `label_vocabulary` expected distinct labels. Received: repeats of {repeated}"
        )
    for position, label in enumerate(labels):
        if label not in index:
            raise ValueError(
                f"Argument `labels` holds the label {label!r} (at position {position}), which "
                f"is not in `label_vocabulary`. Received: label_vocabulary={vocabulary}"
            )
    return np.asarray([index[label] for label in labels], dtype="int32")
