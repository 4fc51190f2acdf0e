"""Every recipe's exported signatures on edge inputs: empty batches, rows with nothing in them.

Issue 28: the text `serve` signature failed on a batch whose texts all have no
token (`Tried to stack elements of an empty list with non-fully-defined
element_shape`), while `model.keras` answered it. The cause was the toolkit's
recurrent layers, which could not run zero time steps (`tests/layers/
test_masking.py` checks them alone); the same failure reached the speech
tagger's `tag` signature (a waveform shorter than one frame) and its
`stream_step` (a chunk of no samples). Behind them, in the speech export, the
CTC decoder refused a batch of no rows or no frames, and a row without frames
got one `segment_ends` entry but no `segment_starts`.

Here each exported signature gets the edge inputs of its kind and must answer
results of the right dtype and rank; where the recipe's Python helper (the
`predict` / `translate` / `tag` commands' code, on `model.keras`) answers the
same input, the two must agree. The helpers must answer an empty input list
with an empty answer. The runs are as small as the recipes allow (one or two
epochs on a few examples), trained once for the module.
"""

import numpy as np
import pytest

from tests.recipes.test_speech_tagging import tiny as tiny_tagging
from tests.recipes.test_speech_tagging import write_tone_corpus
from tests.recipes.test_speech_tagging import write_wav
from tests.recipes.test_text_classification import sentences
from tests.recipes.test_text_classification import tiny_config as tiny_text
from tests.recipes.test_text_classification import write_csv
from tests.recipes.test_translation import TINY as TINY_TRANSLATION
from tests.recipes.test_translation import write_splits

# The SavedModels are written and served by the TensorFlow backend. The helpers'
# edge cases are the same NumPy and tf.data code on every backend, and the layers'
# zero-step batches run on JAX in tests/layers/test_masking.py.
HELPERS_ON_TENSORFLOW = pytest.mark.tensorflow_pass(
    reason="the serving helpers' edge cases are backend-independent code"
)
RATE = 16000


def decoded(strings):
    return [value.decode("utf-8") for value in strings.numpy().reshape(-1).tolist()]


def assert_spec(result, key, dtype, shape):
    """`result[key]` has `dtype` and `shape` (`None`: any size on that axis)."""
    value = result[key]
    assert value.dtype.name == dtype, (key, value.dtype)
    assert len(value.shape) == len(shape), (key, value.shape, shape)
    for size, expected in zip(value.shape, shape):
        assert expected is None or size == expected, (key, value.shape, shape)


# === Text classification ===


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    from recipes.text_classification import run

    root = tmp_path_factory.mktemp("text")
    data = write_csv(root / "topics.csv", sentences(60, seed=0))
    run(tiny_text(data, epochs=1, baseline=False, attention_examples=0), root / "run")
    return root / "run"


@pytest.fixture(scope="module")
def text_saved_model(text_run):
    import tensorflow as tf

    return tf.saved_model.load(str(text_run / "saved_model"))


@pytest.mark.tensorflow_only
def test_text_serve_answers_an_empty_batch(text_saved_model):
    import tensorflow as tf

    result = text_saved_model.serve(tf.constant([], tf.string))
    assert_spec(result, "label", "string", (0,))
    assert_spec(result, "probabilities", "float32", (0, 3))


@pytest.mark.tensorflow_only
@pytest.mark.parametrize(
    "texts",
    [["", "   "], [""], ["\t", "", " \n "], ["", "The goal of the team!", "   "]],
    ids=["all_empty", "one_empty", "whitespace", "empty_beside_text"],
)
def test_text_serve_answers_texts_without_tokens_as_model_keras(text_run, text_saved_model, texts):
    import tensorflow as tf

    from recipes.text_classification import predict_texts

    result = text_saved_model.serve(tf.constant(texts))
    labels, probabilities = predict_texts(text_run, texts)
    assert_spec(result, "probabilities", "float32", (len(texts), 3))
    assert decoded(result["label"]) == labels
    np.testing.assert_allclose(result["probabilities"].numpy(), probabilities, atol=1e-5)
    empty = [index for index, text in enumerate(texts) if not text.strip()]
    # No token at all: every empty text gets the same answer.
    np.testing.assert_allclose(
        probabilities[empty], np.broadcast_to(probabilities[empty[0]], (len(empty), 3)), atol=1e-6
    )


@HELPERS_ON_TENSORFLOW
def test_predict_helper_and_command_answer_no_texts_with_nothing(text_run, tmp_path, capsys):
    from recipes.text_classification import predict_texts
    from recipes.text_classification.cli import main

    labels, probabilities = predict_texts(text_run, [])
    assert labels == [] and probabilities.shape == (0, 3) and probabilities.dtype == np.float32
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    capsys.readouterr()
    assert main(["predict", str(text_run), "--input", str(empty)]) == 0
    assert capsys.readouterr().out == ""


# === Translation ===


@pytest.fixture(scope="module")
def translation_run(tmp_path_factory):
    from recipes.translation import TranslationConfig
    from recipes.translation import run

    root = tmp_path_factory.mktemp("translation")
    options = {**TINY_TRANSLATION, "examples": 2, "attention_examples": 0}
    config = TranslationConfig(data=str(write_splits(root / "data")), epochs=2, **options)
    run(config, root / "run")
    return root / "run"


TRANSLATION_SOURCES = {
    "empty_batch": [],
    "one_empty": [""],
    "all_empty": ["", "  "],
    "whitespace": ["   ", "\t"],
    "empty_beside_text": ["", "the dog runs", " "],
}


@pytest.mark.tensorflow_only
def test_translate_signature_answers_empty_sources_as_model_keras(translation_run):
    """Against the `translate` command's code (`translate_texts`: `load_run`, then
    `translate_batches`), loaded and compiled once. One test for every batch: an
    in-process SentencePiece tokenizer loses its kernel resource to the session
    clearing between tests (`conftest`), so the tokenizers cannot be a fixture."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the SentencePiece ops the SavedModel holds)

    from recipes.translation.export import load_run
    from recipes.translation.export import search_options
    from recipes.translation.pipeline import translate_batches
    from recipes.translation.protection import SpanProtection

    saved_model = tf.saved_model.load(str(translation_run / "saved_model"))
    translator, config = load_run(translation_run)
    options = search_options(config)
    protection = SpanProtection.from_config(config)
    for name, sources in TRANSLATION_SOURCES.items():
        result = saved_model.translate(tf.constant(sources, tf.string))
        assert_spec(result, "translation", "string", (len(sources),))
        expected, _ = translate_batches(translator, sources, options, protection=protection)
        assert decoded(result["translation"]) == expected, name
        # Nothing to translate, nothing translated (it was up to 10 made-up tokens).
        blank = [i for i, source in enumerate(sources) if not source.strip()]
        assert [expected[i] for i in blank] == [""] * len(blank), name
        assert all(expected[i] for i in range(len(sources)) if i not in blank), name


@HELPERS_ON_TENSORFLOW
def test_translate_helper_and_command_answer_no_sources_with_nothing(
    translation_run, tmp_path, capsys
):
    from recipes.translation import translate_texts
    from recipes.translation.cli import main

    assert translate_texts(translation_run, []) == []
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    capsys.readouterr()
    assert main(["translate", str(translation_run), "--input", str(empty)]) == 0
    assert capsys.readouterr().out == ""


# === Speech tagging ===


@pytest.fixture(scope="module")
def tone_corpus(tmp_path_factory):
    return write_tone_corpus(tmp_path_factory.mktemp("tones"), sizes=(6, 2, 2))


def feature_corpus(root):
    """Precomputed 6-channel features whose labels are their centres (`.npz`)."""
    rng = np.random.default_rng(3)
    centres = {"sil": 0.0, "a": 2.0, "b": -2.0}
    for split, count in (("train", 6), ("dev", 2), ("test", 2)):
        for index in range(count):
            labels = np.repeat(["sil", "a", "b", "sil"], rng.integers(5, 15, size=4))
            features = np.stack([np.full(6, centres[label]) for label in labels])
            features = features + 0.3 * rng.standard_normal(features.shape)
            folder = root / split / f"s{index % 2}"
            folder.mkdir(parents=True, exist_ok=True)
            np.savez(folder / f"u{index}.npz", features=features.astype("float32"), labels=labels)
    return root


# The tagger kinds: a streamable framewise one (unidirectional, global CMVN: it
# exports `stream_init` / `stream_step` too), a bidirectional CTC one with
# per-utterance CMVN and beam search, and one of precomputed features.
TAGGERS = {
    "stream": dict(bidirectional=False, cmvn="global"),
    "ctc": dict(mode="ctc", ctc_decoder="beam"),
    "features": dict(cmvn="none", deltas=1),
}


@pytest.fixture(scope="module")
def taggers(tone_corpus, tmp_path_factory):
    """Per kind (trained on first use): `(run_dir, saved_model, (tagger, labels, config))`."""
    import tensorflow as tf

    from recipes.speech_tagging import run
    from recipes.speech_tagging.export import load_run

    root = tmp_path_factory.mktemp("taggers")
    done = {}

    def get(kind):
        if kind not in done:
            data = feature_corpus(root / "feature_corpus") if kind == "features" else tone_corpus
            config = tiny_tagging(data=str(data), epochs=2, baseline=False, **TAGGERS[kind])
            run(config, root / kind)
            saved_model = tf.saved_model.load(str(root / kind / "saved_model"))
            done[kind] = root / kind, saved_model, load_run(root / kind)
        return done[kind]

    return get


def tone(samples, frequency=1250.0):
    time = np.arange(samples) / RATE
    return (0.4 * np.sin(2 * np.pi * frequency * time)).astype("float32")


SIGNALS = {
    "one_zero_length": lambda: [tone(0)],
    "all_zero_length": lambda: [tone(0), tone(0), tone(0)],
    # 399 samples: shorter than one 400-sample frame, so no frame either.
    "zero_length_beside_real": lambda: [tone(0), tone(4000), tone(399), tone(2400, 440.0)],
    "empty_batch": lambda: [],
}


def padded(signals, kind):
    """The `tag` signature's inputs: the signals padded into one batch, and their lengths."""
    if kind == "features":  # a frame per 160 samples: that sample on all 6 channels
        signals = [np.repeat(s[: len(s) // 160 * 160 : 160, None], 6, axis=1) for s in signals]
    longest = max([len(signal) for signal in signals], default=0)
    shape = (len(signals), longest) + ((6,) if kind == "features" else ())
    batch = np.zeros(shape, "float32")
    for row, signal in enumerate(signals):
        batch[row, : len(signal)] = signal
    return signals, batch, np.array([len(signal) for signal in signals], "int32")


def served_tags(result, mode):
    """Per row, the segments (framewise) or labels (CTC) of the `tag` signature's result."""
    if mode == "ctc":
        labels = result["labels"].numpy()
        counts = result["label_counts"].numpy()
        return [
            [label.decode() for label in labels[row, :count]] for row, count in enumerate(counts)
        ]
    rows = []
    for row, count in enumerate(result["segment_counts"].numpy()):
        starts = result["segment_starts"].numpy()[row, :count]
        ends = result["segment_ends"].numpy()[row, :count]
        labels = [label.decode() for label in result["segment_labels"].numpy()[row, :count]]
        rows.append(list(zip(starts.tolist(), ends.tolist(), labels)))
    return rows


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("signals", list(SIGNALS))
@pytest.mark.parametrize("kind", list(TAGGERS))
def test_tag_signature_answers_signals_without_frames_as_model_keras(taggers, kind, signals):
    import tensorflow as tf

    from recipes.speech_tagging.export import tag_signals

    _, saved_model, (tagger, labels, config) = taggers(kind)
    signals, batch, lengths = padded(SIGNALS[signals](), kind)
    result = saved_model.tag(tf.constant(batch), tf.constant(lengths))
    rows = len(signals)
    if config.mode == "ctc":
        for key, dtype in (("labels", "string"), ("label_ids", "int32")):
            assert_spec(result, key, dtype, (rows, None))
        assert_spec(result, "label_counts", "int32", (rows,))
    else:
        frames = result["frame_ids"].shape[1]
        for key, dtype in (("frame_ids", "int32"), ("frame_labels", "string")):
            assert_spec(result, key, dtype, (rows, frames))
        assert_spec(result, "probabilities", "float32", (rows, frames, len(labels)))
        assert_spec(result, "frame_lengths", "int32", (rows,))
        assert_spec(result, "segment_counts", "int32", (rows,))
        segments = result["segment_starts"].shape[1]
        for key, dtype in (("segment_starts", "float32"), ("segment_ends", "float32")):
            assert_spec(result, key, dtype, (rows, segments))
        assert_spec(result, "segment_labels", "string", (rows, segments))
    expected = tag_signals(tagger, labels, config, signals)
    served = served_tags(result, config.mode)
    assert len(served) == len(expected) == rows
    for got, want, signal in zip(served, expected, signals):
        if len(signal) < (1 if kind == "features" else config.frame_length):
            assert got == want == []  # no frame: nothing to tag
        elif config.mode == "ctc":
            assert got == want
        else:
            assert [label for *_, label in got] == [label for *_, label in want]
            np.testing.assert_allclose([t[:2] for t in got], [t[:2] for t in want], atol=1e-5)


@pytest.mark.tensorflow_only
def test_stream_signatures_answer_an_empty_batch(taggers):
    import tensorflow as tf

    _, saved_model, (_, labels, _) = taggers("stream")
    state = saved_model.stream_init(tf.constant(0, tf.int32))
    sizes = {"samples": state["samples"].shape[1], "recurrent": state["recurrent"].shape[1]}
    assert_spec(state, "samples", "float32", (0, sizes["samples"]))
    assert_spec(state, "skip", "int32", (0,))
    assert_spec(state, "recurrent", "float32", (0, sizes["recurrent"]))
    for hops in (0, 5):
        out = saved_model.stream_step(
            tf.zeros((0, hops * 160)), state["samples"], state["skip"], state["recurrent"]
        )
        assert_spec(out, "labels", "string", (0, hops))
        assert_spec(out, "label_ids", "int32", (0, hops))
        assert_spec(out, "valid", "bool", (0, hops))
        assert_spec(out, "probabilities", "float32", (0, hops, len(labels)))
        for key in ("samples", "skip", "recurrent"):
            assert_spec(out, key, state[key].dtype.name, tuple(state[key].shape))


@pytest.mark.tensorflow_only
def test_stream_step_of_a_zero_length_chunk_changes_nothing(taggers):
    """A chunk of no samples has no frame: empty outputs, and the state handed back
    as it came, at the stream's start and part way."""
    import tensorflow as tf

    _, saved_model, (_, labels, _) = taggers("stream")
    audio = np.stack([tone(1600), tone(1600, 440.0)])
    state = saved_model.stream_init(tf.constant(2, tf.int32))
    for start in (0, 800, 1600):
        out = saved_model.stream_step(
            tf.zeros((2, 0)), state["samples"], state["skip"], state["recurrent"]
        )
        assert_spec(out, "labels", "string", (2, 0))
        assert_spec(out, "probabilities", "float32", (2, 0, len(labels)))
        assert_spec(out, "valid", "bool", (2, 0))
        for key in ("samples", "skip", "recurrent"):
            np.testing.assert_array_equal(out[key].numpy(), state[key].numpy())
        if start < 1600:
            chunk = tf.constant(audio[:, start : start + 800])
            state = saved_model.stream_step(
                chunk, state["samples"], state["skip"], state["recurrent"]
            )
            state = {key: state[key] for key in ("samples", "skip", "recurrent")}


@HELPERS_ON_TENSORFLOW
def test_tag_helpers_answer_no_files_with_nothing(taggers, tmp_path, capsys):
    from recipes.speech_tagging import cli
    from recipes.speech_tagging.export import tag_files
    from recipes.speech_tagging.export import tag_signals

    run_dir, _, loaded = taggers("stream")
    assert tag_files(run_dir, []) == []
    assert tag_signals(*loaded, []) == []
    short = tmp_path / "short.wav"
    write_wav(short, tone(399))  # shorter than one frame: nothing to tag
    assert tag_files(run_dir, [short]) == [[]]
    capsys.readouterr()
    assert cli.main(["tag", str(run_dir), str(short)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"# {short}"]


# === Any input a client may send ===

ODD_TEXTS = {
    "long": ["word " * 20000],
    "control_and_emoji": ["\x00\x01\t\n\r tab\u200b 😀 \U0010ffff", "ＦＵＬＬ-width ﬁ"],
    "punctuation_only": ["!!!", "...", "?"],
    "not_utf8_bytes": [b"\xff\xfe caf\xe9", b"\xc3"],
}


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("name", list(ODD_TEXTS))
def test_text_serve_answers_any_string(text_saved_model, name):
    """A client may send anything a `tf.string` holds; every row gets probabilities."""
    import tensorflow as tf

    texts = ODD_TEXTS[name]
    result = text_saved_model.serve(tf.constant(texts, tf.string))
    probabilities = result["probabilities"].numpy()
    assert probabilities.shape == (len(texts), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert len(result["label"].numpy()) == len(texts)


@pytest.mark.tensorflow_only
def test_text_serve_answers_generated_strings(text_saved_model):
    """Hypothesis: any batch of any Unicode text (surrogates aside) is answered."""
    import tensorflow as tf
    from hypothesis import HealthCheck
    from hypothesis import given
    from hypothesis import settings
    from hypothesis import strategies as st

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.lists(st.text(max_size=60), min_size=0, max_size=5))
    def check(texts):
        encoded = [text.encode("utf-8") for text in texts]
        result = text_saved_model.serve(tf.constant(encoded, tf.string, shape=[len(texts)]))
        probabilities = result["probabilities"].numpy()
        assert probabilities.shape == (len(texts), 3)
        assert np.all(np.isfinite(probabilities))

    check()


@pytest.mark.tensorflow_only
def test_translate_signature_answers_any_string(translation_run):
    """Long, control-character, punctuation-only and non-UTF-8 sources all get a string."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the SentencePiece ops the SavedModel holds)

    saved_model = tf.saved_model.load(str(translation_run / "saved_model"))
    for texts in ODD_TEXTS.values():
        result = saved_model.translate(tf.constant(texts, tf.string))
        assert_spec(result, "translation", "string", (len(texts),))


@pytest.mark.tensorflow_only
def test_tag_signature_clips_lengths_and_refuses_a_count_that_does_not_match(taggers):
    """Lengths past the samples sent, or below 0, are clipped to them; a lengths vector of
    another size than the batch is one clear error."""
    import tensorflow as tf

    _, saved_model, _ = taggers("stream")
    signals, batch, lengths = padded([tone(2400), tone(1600, 440.0)], "stream")
    reference = served_tags(saved_model.tag(tf.constant(batch), tf.constant(lengths)), "frame")
    odd = tf.constant([10**6, lengths[1]], tf.int32)
    assert served_tags(saved_model.tag(tf.constant(batch), odd), "frame")[0] == reference[0]
    negative = served_tags(saved_model.tag(tf.constant(batch), tf.constant([-5, 1600])), "frame")
    assert negative[0] == []
    with pytest.raises(tf.errors.InvalidArgumentError, match="one length per row"):
        saved_model.tag(tf.constant(batch), tf.constant([2400], tf.int32))


@pytest.mark.tensorflow_only
def test_every_recipe_saved_model_holds_core_tensorflow_ops_only(
    text_run, translation_run, taggers
):
    """The jobs verify their SavedModels' ops (`toolkit.export.verify_saved_model`) and
    record it; translation's SentencePiece ops are the one named exception."""
    import json

    runs = {"text": text_run, "translation": translation_run}
    runs.update({kind: taggers(kind)[0] for kind in TAGGERS})
    for name, run_dir in runs.items():
        report = json.loads((run_dir / "metrics.json").read_text())["export"]
        ops = report["saved_model_ops"]
        assert ops["distinct_ops"] > 10, name
        expected = ["SentencepieceOp", "SentencepieceTokenizeOp"] if name == "translation" else []
        assert ops["extra_ops"] == expected, name
