"""`toolkit.models.Translator` and `TranslatorPreprocessor`: against independent references."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import sentencepiece

import toolkit

SOURCES = ["a cat", "a dog", "the cat sat", "the dog sat", "a big cat", "the big dog"] * 3
TARGETS = ["un gato", "un perro", "el gato se sentó", "el perro se sentó"] * 3 + [
    "un gato grande",
    "el perro grande",
] * 3


@pytest.fixture
def preprocessor():
    return toolkit.models.TranslatorPreprocessor.from_texts(
        SOURCES, TARGETS, source_vocabulary_size=24, target_vocabulary_size=24
    )


def make_translator(preprocessor, **kwargs):
    # No `keras.utils.set_random_seed` here: TensorFlow's seeding clears the
    # eager kernel cache, which owns the preprocessor's SentencePiece
    # resources (tests/conftest.py seeds each test before its fixtures).
    options = dict(units=8, embedding_dim=6, dropout=0.0)
    return toolkit.models.Translator(preprocessor, **{**options, **kwargs})


def test_preprocessor_gives_teacher_forcing_ids_of_the_sentencepiece_models(preprocessor):
    processor = sentencepiece.SentencePieceProcessor(
        model_proto=preprocessor.target_tokenizer.proto
    )
    source_processor = sentencepiece.SentencePieceProcessor(
        model_proto=preprocessor.source_tokenizer.proto
    )
    (source_ids, decoder_inputs), targets = preprocessor(SOURCES[:3], TARGETS[:3])
    source_ids, decoder_inputs, targets = (
        keras.ops.convert_to_numpy(t) for t in (source_ids, decoder_inputs, targets)
    )
    assert source_ids.shape[1] % 8 == 0 and decoder_inputs.shape == targets.shape
    for row, (source, target) in enumerate(zip(SOURCES[:3], TARGETS[:3])):
        expected_source = source_processor.EncodeAsIds(source)
        expected = processor.EncodeAsIds(target)
        assert source_ids[row].tolist() == expected_source + [0] * (
            source_ids.shape[1] - len(expected_source)
        )
        padding = [0] * (targets.shape[1] - len(expected) - 1)
        assert decoder_inputs[row].tolist() == [2] + expected + padding
        assert targets[row].tolist() == expected + [3] + padding
    assert preprocessor.detokenize(targets) == TARGETS[:3]


def test_max_length_cuts_training_pairs(preprocessor):
    cut = toolkit.models.TranslatorPreprocessor(
        preprocessor.source_tokenizer,
        preprocessor.target_tokenizer,
        max_length=2,
        pad_to_multiple_of=1,
    )
    (source_ids, decoder_inputs), targets = cut(["the big dog"], ["el perro se sentó"])
    assert keras.ops.shape(source_ids) == (1, 2) and keras.ops.shape(targets) == (1, 2)
    assert keras.ops.convert_to_numpy(targets)[0, -1] == 3


def prefix_loop_greedy(model, source_ids, steps):
    """Greedy decoding by rerunning the teacher-forced graph on the growing prefix."""
    rows = []
    for source in source_ids:
        prefix = [2]
        for _ in range(steps):
            logits = model.predict_on_batch([source[None], np.array([prefix], "int32")])
            token = int(np.argmax(keras.ops.convert_to_numpy(logits)[0, -1]))
            prefix.append(token)
            if token == 3:
                break
        rows.append(prefix[1:])
    return rows


@pytest.mark.parametrize("attention", ["luong-general", "none"])
def test_greedy_generate_equals_an_argmax_loop_over_the_teacher_forced_model(
    preprocessor, attention
):
    model = make_translator(preprocessor, attention=attention)
    source_ids = keras.ops.convert_to_numpy(preprocessor(SOURCES[:2]))
    steps = 5
    result = model.generate(source_ids, beam_width=None, max_length=steps, max_length_ratio=100.0)
    tokens = keras.ops.convert_to_numpy(result["tokens"])
    lengths = keras.ops.convert_to_numpy(result["lengths"])
    expected = prefix_loop_greedy(model, source_ids, steps)
    assert [tokens[i, : lengths[i]].tolist() for i in range(2)] == expected
    # Beam width 1 is greedy search.
    one = model.generate(source_ids, beam_width=1, max_length=steps, max_length_ratio=100.0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(one["tokens"]), tokens)


def test_beam_search_returns_one_best_hypothesis_per_source(preprocessor):
    model = make_translator(preprocessor)
    source_ids = keras.ops.convert_to_numpy(preprocessor(SOURCES[:3]))
    result = model.generate(source_ids, beam_width=3, max_length=6, return_alignments=True)
    assert keras.ops.shape(result["tokens"]) == (3, 6)
    assert keras.ops.shape(result["alignments"])[:2] == (3, 6)


def test_fit_on_raw_strings_lowers_the_loss_and_translate_answers_every_row(preprocessor):
    model = make_translator(preprocessor, units=16, embedding_dim=16)
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    history = model.fit(SOURCES, TARGETS, batch_size=6, epochs=6, verbose=0).history["loss"]
    assert history[-1] < history[0] * 0.8
    before = model.evaluate(SOURCES, TARGETS, verbose=0)
    assert np.isfinite(before[0])
    translations = model.translate(["a cat", "", "  ", "the dog sat"], beam_width=2)
    assert len(translations) == 4 and translations[1:3] == ["", ""]
    assert model.translate([]) == []
    with pytest.raises(ValueError, match="translate"):
        model.predict(["a cat"])


def test_keras_file_and_preset_round_trips_translate_identically(preprocessor, tmp_path):
    model = make_translator(preprocessor)
    model.fit(SOURCES, TARGETS, batch_size=6, epochs=1, verbose=0)
    expected = model.translate(SOURCES[:4], beam_width=2)
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(reloaded) is toolkit.models.Translator
    assert reloaded.translate(SOURCES[:4], beam_width=2) == expected
    # A fresh interpreter needs nothing but `import toolkit` (the tokenizers'
    # models are in the file) to load and translate.
    script = (
        "import json, sys, keras, toolkit\n"
        "model = keras.models.load_model(sys.argv[1])\n"
        f"print(json.dumps(model.translate({SOURCES[:4]!r}, beam_width=2)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "model.keras")],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected
    model.save_to_preset(tmp_path / "preset")
    from_preset = toolkit.models.Translator.from_preset(tmp_path / "preset")
    assert from_preset.translate(SOURCES[:4], beam_width=2) == expected
    for a, b in zip(model.get_weights(), from_preset.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_model_of_token_ids_has_no_preprocessor():
    model = toolkit.models.Translator(
        source_vocabulary_size=10, target_vocabulary_size=12, units=4, embedding_dim=4
    )
    logits = model([np.array([[4, 5, 0]]), np.array([[2, 6, 7, 0]])])
    assert keras.ops.shape(logits) == (1, 4, 12)
    with pytest.raises(ValueError, match="preprocessor"):
        model.translate(["a"])


@pytest.mark.parametrize(
    "arguments, named",
    [
        (dict(cell="transformer"), "cell"),
        (dict(attention="nearest"), "nearest"),
        (dict(units=0), "units"),
        (dict(dropout=1.0), "dropout"),
        (dict(encoder_layers=-1), "encoder_layers"),
        (dict(target_vocabulary_size=5), "target_vocabulary_size"),
    ],
)
def test_bad_arguments_give_one_clear_error(preprocessor, arguments, named):
    with pytest.raises(ValueError, match=named):
        toolkit.models.Translator(preprocessor, **arguments)


def test_bad_search_and_preprocessor_arguments(preprocessor):
    model = make_translator(preprocessor)
    with pytest.raises(ValueError, match="beam_width"):
        model.translate(["a cat"], beam_width=0)
    with pytest.raises(ValueError, match="texts"):
        model.translate("a cat")
    with pytest.raises(ValueError, match="source_tokenizer"):
        toolkit.models.TranslatorPreprocessor("not a tokenizer", preprocessor.target_tokenizer)
    with pytest.raises(ValueError, match="max_length"):
        toolkit.models.TranslatorPreprocessor(
            preprocessor.source_tokenizer, preprocessor.target_tokenizer, max_length=1
        )


def reference_graph(source_vocabulary, target_vocabulary, cell, attention, units, embedding_dim):
    """The translation recipe's first model, as it built it: a plain functional graph.

    One encoder layer; dropout 0 (its layers are made all the same: they hold
    random seeds).
    """
    layer_class = toolkit.layers.get(cell)
    source_ids = keras.Input((None,), dtype="int32")
    decoder_ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(
        source_vocabulary, embedding_dim, mask_zero=True, name="source_embedding"
    )(source_ids)
    x = keras.layers.Dropout(0.0)(x)
    outputs = keras.layers.Bidirectional(
        layer_class(units, return_sequences=True, return_state=True), name="encoder_0"
    )(x)
    memory, final_states = outputs[0], outputs[1:]
    bridged = 2 if cell == "lstm" else 1
    total = len(layer_class.cell_class(1).state_size)
    initial_state = [
        keras.layers.Dense(units, activation="tanh", name=f"bridge_{i}")(
            keras.layers.Concatenate()([final_states[i], final_states[total + i]])
        )
        for i in range(bridged)
    ]
    y = keras.layers.Embedding(
        target_vocabulary, embedding_dim, mask_zero=True, name="target_embedding"
    )(decoder_ids)
    y = keras.layers.Dropout(0.0)(y)
    decoder_cell = layer_class.cell_class(units)
    if attention == "none":
        y = toolkit.layers.Recurrent(decoder_cell, return_sequences=True, name="decoder")(
            y, initial_state=initial_state
        )
    else:
        mechanism = toolkit.attention.get(attention, units, name="attention")
        y = toolkit.attention.AttentionDecoder(
            toolkit.attention.AttentionDecoderCell(
                decoder_cell, mechanism, attention_layer_size=units, input_feeding=True
            ),
            name="decoder",
        )(y, memory, initial_state=initial_state)
    y = keras.layers.Dropout(0.0)(y)
    logits = keras.layers.Dense(
        target_vocabulary, kernel_initializer="lecun_normal", dtype="float32", name="projection"
    )(y)
    return keras.Model([source_ids, decoder_ids], logits)


@pytest.mark.parametrize("cell, attention", [("gru", "luong-general"), ("lstm", "none")])
def test_same_seed_same_weights_and_logits_as_the_recipes_first_graph(cell, attention):
    """The layers are made in the recipe's order: its seed gives the same model."""
    sizes = dict(units=6, embedding_dim=4)
    keras.utils.set_random_seed(3)
    reference = reference_graph(11, 13, cell, attention, **sizes)
    keras.utils.set_random_seed(3)
    model = toolkit.models.Translator(
        None, 11, 13, cell=cell, attention=attention, dropout=0.0, **sizes
    )
    for layer in (layer for layer in reference.layers if layer.weights):
        for expected, got in zip(layer.get_weights(), model.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(got, expected)
    inputs = [np.array([[4, 5, 6, 0], [7, 8, 0, 0]]), np.array([[2, 9, 10], [2, 11, 0]])]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(inputs)),
        keras.ops.convert_to_numpy(reference(inputs)),
        atol=1e-6,
    )
