"""`toolkit.models.TextClassifier`, its preprocessor and backbone.

References: token ids written out by hand; the same weights in a plain Keras
model (`keras.layers.Embedding` + `keras.layers.GRU` / `LSTM`, in
`keras.layers.Bidirectional`) followed by the pooling and the softmax head in
NumPy (`attention_references.attention_pooling`, a masked mean, Keras' own
final output); the softmax of the head's bias for texts without tokens.
"""

import json
import os
import subprocess
import sys

import attention_references
import keras
import numpy as np
import pytest

import toolkit

VOCABULARY = ["the", "film", "was", "good", "bad", "very", ",", "."]
TEXTS = [
    "The film was good.",
    "Bad, very bad film",
    "",
    "good",
    "The film was very, very good. The film was good.",
]
# The first few tokens of a text decide its class: separable at once.
TRAIN_TEXTS = [
    f"{word} {tail}"
    for word in ("good", "bad")
    for tail in ("film", "the film", "very film .", "film , film", "the film was", "was")
]
TRAIN_LABELS = [1] * 6 + [0] * 6
TINY = dict(units=3, embedding_dim=4, attention_units=3)


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def make_preprocessor(**kwargs):
    return toolkit.models.TextClassifierPreprocessor(vocabulary=VOCABULARY, **kwargs)


def randomize(model, seed=0):
    """Weights away from their initial values (biases included), as after training."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.8, 0.8, size=w.shape) for w in model.get_weights()])
    return model


def make_classifier(seed=0, **kwargs):
    arguments = dict(num_classes=3, preprocessor=make_preprocessor(), **TINY)
    arguments.update(kwargs)
    return randomize(toolkit.models.TextClassifier(**arguments), seed)


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


# === Preprocessor ===


def test_preprocessor_token_ids_by_hand():
    preprocessor = make_preprocessor(pad_to_multiple_of=4)
    # ids: "" 0, [UNK] 1, the 2, film 3, was 4, good 5, bad 6, very 7, "," 8, "." 9
    ids = to_numpy(preprocessor(["The film was good.", "Bad, ugly film", "", "   "]))
    assert ids.dtype == np.int32
    np.testing.assert_array_equal(
        ids,
        [[2, 3, 4, 5, 9, 0, 0, 0], [6, 8, 1, 3, 0, 0, 0, 0], [0] * 8, [0] * 8],
    )
    assert preprocessor.vocabulary_size() == 10
    assert preprocessor.get_vocabulary()[:3] == ["", "[UNK]", "the"]
    # Texts without tokens still give one (padding) step; no texts, no rows.
    assert to_numpy(preprocessor(["", " "])).shape == (2, 4)
    assert to_numpy(preprocessor([])).shape == (0, 4)
    cut = make_preprocessor(sequence_length=3, pad_to_multiple_of=None)
    np.testing.assert_array_equal(
        to_numpy(cut(["the film was good", "good"])), [[2, 3, 4], [5, 0, 0]]
    )
    # Labels and weights pass through unchanged; a tf.data map gives the same ids.
    ids, labels, weights = preprocessor(np.array(["good film"]), [1], [0.5])
    assert labels == [1] and weights == [0.5]
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((["good film", "the bad film ."], [1, 0]))
    ((mapped_ids, mapped_labels),) = list(dataset.batch(2).map(preprocessor).as_numpy_iterator())
    np.testing.assert_array_equal(mapped_ids, [[5, 3, 0, 0], [2, 6, 3, 9]])
    np.testing.assert_array_equal(mapped_labels, [1, 0])


def test_preprocessor_adapt_learns_lower_cased_words_and_punctuation():
    preprocessor = toolkit.models.TextClassifierPreprocessor(max_tokens=6)
    assert preprocessor.vocabulary_size() is None
    preprocessor.adapt(["A film, a FILM!!", "a film?", "A, a!"])
    # Most frequent first (a 5, film 3, "!" 3, "," 2, "?" 1), cut at max_tokens.
    vocabulary = preprocessor.get_vocabulary()
    assert vocabulary[:3] == ["", "[UNK]", "a"]
    assert sorted(vocabulary[3:5]) == ["!", "film"] and vocabulary[5] == ","
    cased = toolkit.models.TextClassifierPreprocessor(vocabulary=["Film"], lowercase=False)
    np.testing.assert_array_equal(to_numpy(cased(["Film film"]))[0, :2], [2, 1])


# === Output against an independent reference ===

REFERENCE_CASES = {
    "bigru_attention_2_heads": dict(cell="gru", pooling="attention", attention_heads=2),
    "bilstm_2_layers_last": dict(cell="lstm", pooling="last", num_layers=2),
    "gru_mean": dict(cell="gru", pooling="mean", bidirectional=False),
}


def keras_reference(classifier, token_ids):
    """Probabilities from `keras.layers` with the classifier's weights, pooled in NumPy."""
    backbone = classifier.backbone
    keras_layer = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[backbone.cell]
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(backbone.vocabulary_size, backbone.embedding_dim, mask_zero=True)(
        inputs
    )
    references = [backbone.get_layer("embedding")]
    for index in range(backbone.num_layers):
        last = index == backbone.num_layers - 1
        layer = keras_layer(
            backbone.units, return_sequences=not (last and backbone.pooling == "last")
        )
        if backbone.bidirectional:
            layer = keras.layers.Bidirectional(layer)
            references.append(backbone.get_layer(f"bidirectional_{index}"))
        else:
            references.append(backbone.get_layer(f"{backbone.cell}_{index}"))
        x = layer(x)
    reference = keras.Model(inputs, x)
    for keras_part, toolkit_part in zip(reference.layers[1:], references):
        keras_part.set_weights(toolkit_part.get_weights())
    features = to_numpy(reference(token_ids)).astype("float64")
    valid = token_ids != 0
    if backbone.pooling == "attention":
        features, _ = attention_references.attention_pooling(
            backbone.get_layer("attention_pooling"),
            features,
            valid,
            heads=backbone.attention_heads,
        )
    elif backbone.pooling == "mean":
        counts = np.maximum(valid.sum(axis=1, keepdims=True), 1)
        features = (features * valid[..., None]).sum(axis=1) / counts
    kernel, bias = classifier.get_layer("probabilities").get_weights()
    return softmax(features @ kernel + bias)


@pytest.mark.parametrize("case", REFERENCE_CASES)
def test_probabilities_match_keras_layers_and_numpy_pooling(case):
    classifier = make_classifier(**REFERENCE_CASES[case])
    probabilities = classifier.predict(TEXTS, verbose=0)
    assert probabilities.shape == (len(TEXTS), 3) and probabilities.dtype == np.float32
    token_ids = to_numpy(classifier.preprocessor(TEXTS))
    np.testing.assert_allclose(probabilities, keras_reference(classifier, token_ids), atol=1e-5)
    # Calling the model on the token ids gives the same.
    np.testing.assert_allclose(to_numpy(classifier(token_ids)), probabilities, atol=1e-6)


# === Padding and empty texts ===


def left_padded(token_ids, extra):
    """Each row's tokens moved to the end of a row `extra` steps wider."""
    rows = np.zeros((len(token_ids), token_ids.shape[1] + extra), token_ids.dtype)
    for row, ids in enumerate(token_ids):
        tokens = ids[ids != 0]
        if len(tokens):
            rows[row, -len(tokens) :] = tokens
    return rows


@pytest.mark.parametrize("pooling", ["attention", "last", "mean"])
def test_padding_never_changes_a_result(pooling):
    classifier = make_classifier(pooling=pooling, num_layers=2)
    token_ids = to_numpy(classifier.preprocessor(TEXTS))
    assert token_ids.shape[1] % 16 == 0  # rounded up: every row has padding
    batch = to_numpy(classifier(token_ids))
    more_right = np.pad(token_ids, [(0, 0), (0, 23)])
    np.testing.assert_allclose(to_numpy(classifier(more_right)), batch, atol=1e-6)
    np.testing.assert_allclose(to_numpy(classifier(left_padded(token_ids, 7))), batch, atol=1e-6)
    # Alone, without padding: the row does not depend on its batch-mates either.
    longest = int(np.argmax((token_ids != 0).sum(axis=1)))
    length = int((token_ids[longest] != 0).sum())
    alone = to_numpy(classifier(token_ids[longest : longest + 1, :length]))
    np.testing.assert_allclose(alone[0], batch[longest], atol=1e-6)


@pytest.mark.parametrize("pooling", ["attention", "last", "mean"])
def test_texts_without_tokens_give_the_softmax_of_the_head_bias(pooling):
    classifier = make_classifier(pooling=pooling)
    _, bias = classifier.get_layer("probabilities").get_weights()
    probabilities = classifier.predict(["", "   ", "\t\n"], verbose=0)
    np.testing.assert_allclose(probabilities, np.tile(softmax(bias), (3, 1)), atol=1e-6)
    mixed = classifier.predict(["", "the film was good"], verbose=0)
    np.testing.assert_allclose(mixed[0], softmax(bias), atol=1e-6)
    alone = classifier.predict(["the film was good"], verbose=0)
    np.testing.assert_allclose(mixed[1], alone[0], atol=1e-6)


def test_no_texts_give_no_rows():
    classifier = make_classifier()
    for answer in (
        classifier.predict([], verbose=0),
        classifier.predict(np.array([], dtype=str), verbose=0),
        classifier.predict_on_batch([]),
    ):
        assert answer.shape == (0, 3) and answer.dtype == np.float32


# === Training ===


def test_fit_on_strings_reduces_the_loss_of_a_separable_task():
    classifier = toolkit.models.TextClassifier(
        num_classes=2, preprocessor=make_preprocessor(), dropout=0.0, **TINY
    )
    classifier.compile(optimizer=keras.optimizers.Adam(0.05))
    history = classifier.fit(
        TRAIN_TEXTS,
        TRAIN_LABELS,
        batch_size=4,
        epochs=8,
        validation_data=(["good film", "bad film"], [1, 0]),
        verbose=0,
    ).history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert "val_loss" in history and "val_accuracy" in history
    results = classifier.evaluate(TRAIN_TEXTS, TRAIN_LABELS, verbose=0, return_dict=True)
    assert results["accuracy"] == 1.0
    np.testing.assert_array_equal(
        classifier.predict(["good", "bad the film"], verbose=0).argmax(-1), [1, 0]
    )
    # `fit` jit-compiles on JAX: the preprocessor (TextVectorization, no XLA)
    # is held by the model but is not one of its layers.
    assert classifier.jit_compile == (keras.backend.backend() == "jax")
    assert all(layer is not classifier.preprocessor for layer in classifier.layers)


def test_fit_evaluate_predict_on_datasets_of_strings():
    import tensorflow as tf

    classifier = toolkit.models.TextClassifier(
        num_classes=2, preprocessor=make_preprocessor(), dropout=0.0, **TINY
    )
    classifier.compile(optimizer=keras.optimizers.Adam(0.05))
    dataset = tf.data.Dataset.from_tensor_slices((TRAIN_TEXTS, TRAIN_LABELS)).shuffle(12, seed=1)
    history = classifier.fit(dataset.batch(4), epochs=8, verbose=0).history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    texts = tf.data.Dataset.from_tensor_slices(TRAIN_TEXTS).batch(5)
    np.testing.assert_allclose(
        classifier.predict(texts, verbose=0), classifier.predict(TRAIN_TEXTS, verbose=0), atol=1e-6
    )
    loss, accuracy = classifier.evaluate(dataset.batch(3), verbose=0)
    assert accuracy == 1.0
    # Token ids (already preprocessed) go to Keras unchanged.
    token_ids = to_numpy(classifier.preprocessor(TRAIN_TEXTS))
    np.testing.assert_allclose(
        classifier.predict(token_ids, verbose=0),
        classifier.predict(TRAIN_TEXTS, verbose=0),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match=r"batched tf.data.Dataset.*\.batch"):
        classifier.fit(dataset, epochs=1, verbose=0)


# === Saving ===


def test_keras_round_trip_gives_identical_predictions(tmp_path):
    classifier = make_classifier(cell="lstm", pooling="attention")
    classifier.fit(TRAIN_TEXTS, TRAIN_LABELS, epochs=1, verbose=0)
    expected = classifier.predict(TEXTS, verbose=0)
    path = tmp_path / "classifier.keras"
    classifier.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is toolkit.models.TextClassifier
    np.testing.assert_array_equal(loaded.predict(TEXTS, verbose=0), expected)
    assert loaded.get_config() == classifier.get_config()
    assert loaded.preprocessor.get_vocabulary() == classifier.preprocessor.get_vocabulary()
    # Compiled as saved, with the optimizer's state.
    assert int(to_numpy(loaded.optimizer.iterations)) == int(
        to_numpy(classifier.optimizer.iterations)
    )
    # A fresh interpreter needs nothing but `import toolkit` to load it.
    script = (
        "import sys, numpy as np, keras, toolkit\n"
        "model = keras.models.load_model(sys.argv[1])\n"
        f"print(repr(model.predict({TEXTS!r}, verbose=0).tolist()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer = np.array(eval(result.stdout.strip().splitlines()[-1]), dtype="float32")
    np.testing.assert_allclose(answer, expected, atol=1e-6)


def test_preset_round_trip(tmp_path):
    classifier = make_classifier(pooling="mean", bidirectional=False)
    expected = classifier.predict(TEXTS, verbose=0)
    classifier.save_to_preset(tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted(
        [
            "config.json",
            "model.weights.h5",
            "task.json",
            "task.weights.h5",
            "preprocessor.json",
            "metadata.json",
            "assets",
        ]
    )
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["class"] == "toolkit>TextClassifier"
    assert metadata["parameter_count"] == classifier.count_params()
    loaded = toolkit.models.TextClassifier.from_preset(tmp_path)
    np.testing.assert_array_equal(loaded.predict(TEXTS, verbose=0), expected)
    # A new head: the backbone's weights, a fresh classification layer.
    five = toolkit.models.TextClassifier.from_preset(tmp_path, num_classes=5)
    assert five.predict(TEXTS, verbose=0).shape == (len(TEXTS), 5)
    token_ids = to_numpy(classifier.preprocessor(TEXTS))
    features = to_numpy(classifier.backbone(token_ids))
    np.testing.assert_array_equal(to_numpy(five.backbone(token_ids)), features)
    backbone = toolkit.models.RecurrentTextBackbone.from_preset(tmp_path)
    np.testing.assert_array_equal(to_numpy(backbone(token_ids)), features)
    preprocessor = toolkit.models.TextClassifierPreprocessor.from_preset(tmp_path)
    np.testing.assert_array_equal(to_numpy(preprocessor(TEXTS)), token_ids)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "config.json").write_text((tmp_path / "task.json").read_text())
    with pytest.raises(ValueError, match="holds a 'toolkit>TextClassifier', not a Recurrent"):
        toolkit.models.RecurrentTextBackbone.from_preset(wrong)
    os.remove(tmp_path / "task.json")
    with pytest.raises(ValueError, match=r"preset folder holding task.json"):
        toolkit.models.TextClassifier.from_preset(tmp_path)


# Keras' own warning for a model saved before training (no optimizer state yet).
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_keras_hub_tokenizer_as_the_preprocessor(tmp_path):
    keras_hub = pytest.importorskip("keras_hub")
    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=["[PAD]", "[UNK]", *VOCABULARY], lowercase=True, dtype="int32"
    )
    preprocessor = toolkit.models.TextClassifierPreprocessor(
        tokenizer=tokenizer, pad_to_multiple_of=8
    )
    assert preprocessor.vocabulary_size() == 10
    np.testing.assert_array_equal(
        to_numpy(preprocessor(["The film was good.", ""])),
        [[2, 3, 4, 5, 9, 0, 0, 0], [0] * 8],
    )
    classifier = make_classifier(preprocessor=preprocessor)
    expected = classifier.predict(TEXTS, verbose=0)
    # Same ids as the built-in vocabulary here, so the same probabilities.
    builtin = make_classifier()
    np.testing.assert_allclose(expected, builtin.predict(TEXTS, verbose=0), atol=1e-6)
    # The WordPiece vocabulary is an asset, not config: both formats keep it.
    classifier.save(tmp_path / "classifier.keras")
    loaded = keras.models.load_model(tmp_path / "classifier.keras")
    np.testing.assert_array_equal(loaded.predict(TEXTS, verbose=0), expected)
    classifier.save_to_preset(tmp_path / "preset")
    from_preset = toolkit.models.TextClassifier.from_preset(tmp_path / "preset")
    np.testing.assert_array_equal(from_preset.predict(TEXTS, verbose=0), expected)


@pytest.mark.tensorflow_only
def test_raw_string_model_exports_with_its_preprocessor(tmp_path):
    import tensorflow as tf

    classifier = make_classifier()
    texts = keras.Input(shape=(), dtype="string", name="texts")
    text_model = keras.Model(texts, classifier(classifier.preprocessor(texts)))
    np.testing.assert_allclose(
        to_numpy(text_model(tf.constant(TEXTS))), classifier.predict(TEXTS, verbose=0), atol=1e-6
    )
    archive = keras.export.ExportArchive()
    archive.track(text_model)
    archive.add_endpoint(
        "serve",
        lambda strings: text_model(strings, training=False),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    archive.write_out(str(tmp_path / "saved_model"), verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "saved_model"))  # kept: it owns the variables
    served = loaded.serve(tf.constant(TEXTS))
    np.testing.assert_allclose(served.numpy(), classifier.predict(TEXTS, verbose=0), atol=1e-6)
    # The classifier itself does not track its preprocessor (not one of its
    # layers): an archive of the classifier tracks it explicitly.
    archive = keras.export.ExportArchive()
    archive.track(classifier)
    archive.track(classifier.preprocessor)
    archive.add_endpoint(
        "serve",
        lambda strings: classifier(classifier.preprocessor(strings), training=False),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    archive.write_out(str(tmp_path / "classifier_saved_model"), verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "classifier_saved_model"))
    np.testing.assert_allclose(loaded.serve(tf.constant(TEXTS)).numpy(), served.numpy(), atol=1e-6)


# === Errors ===

BAD_ARGUMENTS = {
    "cell": (
        dict(cell="nope"),
        r"Argument `cell` expected one of \[.*'gru'.*\]\. Received: cell='nope'",
    ),
    "pooling": (
        dict(pooling="max"),
        r"Argument `pooling` expected one of \['attention', 'last', 'mean'\]\. "
        r"Received: pooling='max'",
    ),
    "num_classes": (
        dict(num_classes=1),
        r"Argument `num_classes` expected an integer of at least 2\. Received: num_classes=1",
    ),
    "num_classes_bool": (dict(num_classes=True), r"Received: num_classes=True"),
    "units": (dict(units=0), r"Argument `units` expected a positive integer\. Received: units=0"),
    "num_layers": (dict(num_layers=1.5), r"Received: num_layers=1\.5"),
    "dropout": (dict(dropout=1.0), r"Argument `dropout` expected a float in \[0, 1\)"),
    "bidirectional": (dict(bidirectional="yes"), r"Received: bidirectional='yes'"),
    "vocabulary_size": (
        dict(vocabulary_size=7),
        r"Argument `vocabulary_size` expected the preprocessor's vocabulary size, 10\. "
        r"Received: vocabulary_size=7",
    ),
    "no_vocabulary": (
        dict(preprocessor=None),
        r"Argument `vocabulary_size` expected a positive integer when there is no "
        r"`preprocessor`\. Received: vocabulary_size=None",
    ),
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS)
def test_bad_arguments_name_the_argument_and_the_value(case):
    overrides, message = BAD_ARGUMENTS[case]
    arguments = dict(num_classes=2, preprocessor=make_preprocessor(), **TINY)
    arguments.update(overrides)
    with pytest.raises(ValueError, match=message):
        toolkit.models.TextClassifier(**arguments)


def test_bad_preprocessor_arguments_and_inputs():
    Preprocessor = toolkit.models.TextClassifierPreprocessor
    with pytest.raises(ValueError, match=r"`preprocessor` expected a preprocessor with a vocab"):
        toolkit.models.TextClassifier(num_classes=2, preprocessor=Preprocessor())
    with pytest.raises(ValueError, match=r"Received: pad_to_multiple_of=0"):
        Preprocessor(vocabulary=VOCABULARY, pad_to_multiple_of=0)
    with pytest.raises(ValueError, match=r"Arguments `vocabulary` and `tokenizer`"):
        Preprocessor(vocabulary=VOCABULARY, tokenizer=Preprocessor(vocabulary=VOCABULARY))
    with pytest.raises(ValueError, match=r"Argument `vocabulary` expected at least one token"):
        Preprocessor(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match=r"Argument `vocabulary` expected at least one token"):
        Preprocessor(vocabulary=["", "[UNK]"])
    with pytest.raises(ValueError, match=r"Argument `data` expected texts with at least one"):
        Preprocessor().adapt(["", "  "])
    with pytest.raises(ValueError, match=r"has no vocabulary yet: call `adapt"):
        Preprocessor()(["a text"])
    preprocessor = make_preprocessor()
    with pytest.raises(ValueError, match=r"the single string 'good'; wrap it in a list"):
        preprocessor("good")
    with pytest.raises(ValueError, match=r"Argument `x` expected strings\. Received: x\[1\]=3"):
        preprocessor(["good", 3])
    with pytest.raises(ValueError, match=r"expected strings\. Received: an array of dtype int"):
        preprocessor(np.array([1, 2]))
    classifier = make_classifier()
    with pytest.raises(ValueError, match=r"x\[1\]=3 of type int"):
        classifier.predict(["good", 3], verbose=0)
    with pytest.raises(ValueError, match=r"called on strings.*predict\(texts\)"):
        classifier(["good film"])
    with pytest.raises(ValueError, match=r"Argument `validation_split` leaves no training"):
        classifier.fit(["good"], [1], validation_split=0.5, verbose=0)


def test_token_id_training_with_raw_text_validation():
    """`fit` on token ids (a recipe's own batches) passed raw-text `validation_data`
    to the model as strings."""
    preprocessor = make_preprocessor()
    classifier = toolkit.models.TextClassifier(
        num_classes=2, preprocessor=preprocessor, dropout=0.0, **TINY
    )
    ids = keras.ops.convert_to_numpy(preprocessor(TRAIN_TEXTS))
    texts, labels = ["good film", "bad film"], [1, 0]
    history = classifier.fit(
        ids,
        np.array(TRAIN_LABELS),
        batch_size=4,
        epochs=1,
        validation_data=(texts, labels),
        verbose=0,
    ).history
    expected = classifier.evaluate(texts, labels, verbose=0, return_dict=True)
    np.testing.assert_allclose(history["val_loss"][-1], expected["loss"], rtol=1e-5)
