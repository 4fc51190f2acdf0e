"""text_dataset: batches, label indices, shuffling, errors, and `model.fit` on it;
without_autotuning."""

import re

import keras
import numpy as np
import pytest

from toolkit.data import text_dataset
from toolkit.data import without_autotuning

TEXTS = ["good film", "bad film", "great acting", "awful plot", "fine", "dull"]
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg"]
VOCABULARY = ["neg", "pos"]


def as_lists(dataset):
    batches = []
    for texts, labels in dataset:
        batches.append(
            ([t.decode() for t in texts.numpy().tolist()], labels.numpy().tolist(), labels.dtype)
        )
    return batches


def test_batches_hold_texts_and_label_indices():
    batches = as_lists(text_dataset(TEXTS, LABELS, VOCABULARY, batch_size=4))
    assert [b[0] for b in batches] == [TEXTS[:4], TEXTS[4:]]
    assert [b[1] for b in batches] == [[1, 0, 1, 0], [1, 0]]
    assert all(b[2].name == "int32" for b in batches)


def test_vocabulary_order_sets_the_indices():
    (batch,) = as_lists(text_dataset(TEXTS[:2], LABELS[:2], ["pos", "neg", "other"]))
    assert batch[1] == [0, 1]


def test_texts_only_for_prediction():
    batches = list(text_dataset(["é", "b", "c"], batch_size=2))
    assert [b.numpy().tolist() for b in batches] == [["é".encode(), b"b"], [b"c"]]
    assert batches[0].dtype.name == "string" and batches[0].shape == (2,)


def test_shuffle_is_seeded_and_reshuffles_each_epoch():
    dataset = text_dataset(TEXTS, LABELS, VOCABULARY, batch_size=6, shuffle=True, seed=5)
    first, second = as_lists(dataset)[0], as_lists(dataset)[0]
    assert sorted(zip(first[0], first[1])) == sorted(
        zip(TEXTS, [VOCABULARY.index(label) for label in LABELS])
    )  # pairs stay together
    assert first[0] != second[0]
    again = as_lists(text_dataset(TEXTS, LABELS, VOCABULARY, batch_size=6, shuffle=True, seed=5))
    assert again[0][0] == first[0]


def test_empty_texts():
    assert list(text_dataset([], [], VOCABULARY)) == []


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"labels": ["pos", "meh"]}, "holds the label 'meh' (at position 1)"),
        ({"labels": ["pos"]}, "2 texts and 1 labels"),
        ({"label_vocabulary": None}, "`label_vocabulary` is required"),
        ({"label_vocabulary": ["neg", "pos", "neg"]}, "repeats of ['neg']"),
        ({"texts": "good film"}, "Argument `texts` expected a list of strings"),
        ({"texts": ["a", 3]}, "texts[1]=3"),
        ({"labels": ["pos", 1]}, "labels[1]=1"),
        ({"batch_size": 0}, "Argument `batch_size`"),
        ({"shuffle": 1}, "Argument `shuffle`"),
        ({"seed": "1"}, "Argument `seed`"),
    ],
)
def test_bad_arguments(arguments, message):
    kwargs = {"texts": ["a", "b"], "labels": ["pos", "neg"], "label_vocabulary": VOCABULARY}
    kwargs.update(arguments)
    with pytest.raises(ValueError, match=re.escape(message)):
        text_dataset(**kwargs)


def make_vectorizer():
    vectorizer = keras.layers.TextVectorization(max_tokens=50, output_sequence_length=4)
    vectorizer.adapt(TEXTS)
    return vectorizer


def classifier(inputs, outputs_from):
    x = keras.layers.Embedding(50, 8)(outputs_from)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))


def test_model_fits_with_vectorization_in_the_pipeline():
    """Every backend: strings are vectorized by tf.data, the model sees int ids."""
    vectorizer = make_vectorizer()
    dataset = text_dataset(TEXTS, LABELS, VOCABULARY, batch_size=4, shuffle=True, seed=0)
    dataset = dataset.map(lambda texts, labels: (vectorizer(texts), labels))
    inputs = keras.Input((4,), dtype="int32")
    model = classifier(inputs, inputs)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(dataset, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    predictions = model.predict(text_dataset(TEXTS, batch_size=4).map(vectorizer), verbose=0)
    assert predictions.shape == (6, 2)


@pytest.mark.tensorflow_only
def test_model_fits_on_strings_with_vectorization_inside():
    """TextVectorization as a model layer takes string tensors, which only the
    TensorFlow backend has (JAX arrays hold no strings)."""
    inputs = keras.Input((), dtype="string")
    model = classifier(inputs, make_vectorizer()(inputs))
    model.compile("adam", "sparse_categorical_crossentropy")
    dataset = text_dataset(TEXTS, LABELS, VOCABULARY, batch_size=4)
    history = model.fit(dataset, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(text_dataset(TEXTS, batch_size=4), verbose=0).shape == (6, 2)


def test_without_autotuning_turns_it_off_and_keeps_the_batches():
    import tensorflow as tf

    dataset = tf.data.Dataset.range(7).shuffle(7, seed=3, reshuffle_each_iteration=False).batch(3)
    assert dataset.options().autotune.enabled is not False  # tf.data's default: on
    quiet = without_autotuning(dataset)
    assert quiet.options().autotune.enabled is False
    # The option holds through later transformations, and the batches are unchanged.
    assert quiet.map(lambda x: x * 2).prefetch(2).options().autotune.enabled is False
    expected = [batch.numpy().tolist() for batch in dataset]
    assert [batch.numpy().tolist() for batch in quiet] == expected


def test_text_dataset_runs_without_autotuning():
    assert text_dataset(TEXTS, LABELS, VOCABULARY).options().autotune.enabled is False


def test_without_autotuning_rejects_what_is_not_a_dataset():
    with pytest.raises(
        ValueError,
        match=r"Argument `dataset` expected a tf.data.Dataset\. "
        r"Received: dataset of type list",
    ):
        without_autotuning([1, 2])
