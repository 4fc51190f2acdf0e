"""`toolkit.models.FrameTagger` and `toolkit.models.StreamingTagger`.

References: the same weights in plain Keras layers (`keras.layers.LSTM` /
`GRU`, in `keras.layers.Bidirectional`) over the model's own front-end frames,
the softmax head in NumPy, and the valid frames counted by hand
(`1 + (n - frame_length) // frame_step`); segments and CTC labels written out
by hand for hand-made outputs; CMVN statistics by NumPy; a stream of chunks
against the whole utterance.
"""

import keras
import numpy as np
import pytest

import toolkit

TINY = dict(mel_bins=8, deltas=0, spec_augment=False, units=3, num_layers=1, dropout=0.0)
RATE, WINDOW, HOP = 16000, 400, 160


def to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def randomize(model, seed=0):
    """Weights away from their initial values (biases included), as after training."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.8, 0.8, size=w.shape) for w in model.get_weights()])
    return model


def make_tagger(seed=0, **kwargs):
    arguments = dict(num_labels=3, **TINY)
    arguments.update(kwargs)
    return randomize(toolkit.models.FrameTagger(**arguments), seed)


def waveforms(count=3, samples=2000, seed=1):
    rng = np.random.default_rng(seed)
    return (0.3 * rng.normal(size=(count, samples))).astype("float32")


def frames_by_hand(samples):
    return 0 if samples < WINDOW else 1 + (samples - WINDOW) // HOP


def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)


# === Outputs against plain Keras layers ===


@pytest.mark.parametrize(
    "case",
    [dict(cell="lstm", bidirectional=True), dict(cell="gru", bidirectional=False)],
    ids=["blstm", "gru"],
)
def test_probabilities_match_keras_layers_with_the_same_weights(case):
    tagger = make_tagger(cmvn="none", **case)
    signals = waveforms()
    lengths = np.array([2000, 1200, 399], dtype="int32")
    probabilities = tagger.predict([signals, lengths], verbose=0)
    assert probabilities.shape == (3, frames_by_hand(2000), 3)

    frames = to_numpy(tagger.get_layer("features")(signals))
    keras_layer = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[case["cell"]]
    layer = keras_layer(3, return_sequences=True)
    if case["bidirectional"]:
        layer = keras.layers.Bidirectional(layer)
        source = tagger.get_layer("bidirectional_0")
    else:
        source = tagger.get_layer(f"{case['cell']}_0")
    layer.build(frames.shape)
    layer.set_weights(source.get_weights())
    kernel, bias = tagger.get_layer("probabilities").get_weights()
    for row, samples in enumerate(lengths):
        valid = frames_by_hand(int(samples))
        assert (tagger.output_lengths(lengths) == [frames_by_hand(int(n)) for n in lengths]).all()
        if not valid:
            continue
        features = to_numpy(layer(frames[row : row + 1, :valid]))[0]
        expected = softmax(features.astype("float64") @ kernel + bias)
        np.testing.assert_allclose(probabilities[row, :valid], expected, atol=1e-5)


def test_padding_never_changes_a_valid_frame():
    tagger = make_tagger(deltas=2, stack_left=1, stack_right=1, stride=2, attention="bahdanau")
    signals = waveforms(count=2)
    lengths = np.array([2000, 1500], dtype="int32")
    outputs = tagger.predict([signals, lengths], verbose=0)
    wider = np.pad(signals, [(0, 0), (0, 900)])
    again = tagger.predict([wider, lengths], verbose=0)
    for row, valid in enumerate(tagger.output_lengths(lengths)):
        np.testing.assert_allclose(again[row, :valid], outputs[row, :valid], atol=1e-5)


def test_ctc_mode_gives_logits_with_certain_blanks_past_the_end():
    tagger = make_tagger(mode="ctc")
    lengths = np.array([2000, 800, 0], dtype="int32")
    logits = tagger.predict([waveforms(), lengths], verbose=0)
    assert logits.shape == (3, frames_by_hand(2000), 4)
    padded = logits[1, frames_by_hand(800) :]
    assert (padded.argmax(-1) == 0).all()
    assert tagger.output_lengths(lengths).tolist() == [11, 3, 0]


# === tag(): segments and CTC labels by hand ===


def with_outputs(tagger, outputs):
    """The tagger answering fixed `outputs` (what `tag` post-processes)."""
    tagger.predict_on_batch = lambda inputs: outputs[: len(inputs[1])]
    return tagger


def test_tag_segments_by_hand():
    tagger = make_tagger(label_names=["sil", "a", "b"])
    # Frame labels of row 0: sil sil a a a b (6 frames of 1200 samples); row 1
    # has 2 frames (560 samples): b b; row 2 none (300 samples).
    best = np.array([[0, 0, 1, 1, 1, 2], [2, 2, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    outputs = np.eye(3, dtype="float32")[best]
    with_outputs(tagger, outputs)
    results = tagger.tag([np.zeros(1200, "float32"), np.zeros(560, "float32"), np.zeros(300)])
    step, offset = 0.01, 0.0125 - 0.005  # 10 ms hops, the 25 ms window's centre minus half a hop
    assert tagger.frame_timing() == pytest.approx((step, offset))
    assert results[0]["frame_labels"] == ["sil", "sil", "a", "a", "a", "b"]
    expected = [(offset, offset + 2 * step, "sil"), (offset + 2 * step, offset + 5 * step, "a")]
    expected.append((offset + 5 * step, offset + 6 * step, "b"))
    assert [s[2] for s in results[0]["segments"]] == [s[2] for s in expected]
    np.testing.assert_allclose(
        [s[:2] for s in results[0]["segments"]], [s[:2] for s in expected], atol=1e-12
    )
    assert results[1]["frame_labels"] == ["b", "b"]
    assert results[2] == {"frame_labels": [], "segments": []}


def test_tag_ctc_greedy_labels_by_hand():
    tagger = make_tagger(mode="ctc", label_names=["a", "b", "c"])
    # Best classes (0 = blank): a a _ a b b _ c | _ _ b  (8 and 3 valid frames).
    best = np.array([[1, 1, 0, 1, 2, 2, 0, 3], [0, 0, 2, 2, 2, 2, 2, 2]])
    logits = 5.0 * np.eye(4, dtype="float32")[best]
    with_outputs(tagger, logits)
    signals = np.zeros((2, 1520), "float32")  # 8 frames
    results = tagger.tag(signals, lengths=[1520, 720])
    assert results == [{"labels": ["a", "a", "b", "c"]}, {"labels": ["b"]}]
    # Keras' own greedy decoder agrees.
    decoded, _ = keras.ops.ctc_decode(
        logits, np.array([8, 3], "int32"), strategy="greedy", mask_index=0
    )
    rows = to_numpy(decoded)[0]
    assert [row[row > 0].tolist() for row in rows] == [[1, 1, 2, 3], [2]]


def test_tag_without_label_names_answers_indices_and_real_outputs_agree_with_predict():
    tagger = make_tagger()
    signals = waveforms()
    lengths = np.array([2000, 1000, 10], dtype="int32")
    results = tagger.tag(signals, lengths, batch_size=2)
    probabilities = tagger.predict([signals, lengths], verbose=0)
    for row, valid in enumerate(tagger.output_lengths(lengths)):
        assert results[row]["frame_labels"] == probabilities[row, :valid].argmax(-1).tolist()
    assert tagger.tag([]) == []


# === Training, CMVN ===


def test_fit_with_the_frame_mask_reduces_the_loss():
    keras.utils.set_random_seed(3)
    tagger = toolkit.models.FrameTagger(num_labels=2, **TINY)
    signals = waveforms(count=4, samples=1600)
    signals[2:] *= 8.0  # loud utterances are label 1
    lengths = np.array([1600, 1200, 1600, 1000], dtype="int32")
    frames = frames_by_hand(1600)
    targets = np.repeat(np.array([0, 0, 1, 1])[:, None], frames, axis=1)
    mask = (np.arange(frames)[None] < tagger.output_lengths(lengths)[:, None]).astype("float32")
    tagger.compile(optimizer=keras.optimizers.Adam(0.05))
    history = tagger.fit(
        [signals, lengths], targets, sample_weight=mask, epochs=8, batch_size=4, verbose=0
    ).history
    assert history["loss"][-1] < history["loss"][0]
    assert "accuracy" in history


def test_ctc_fit_runs_with_the_default_loss():
    tagger = make_tagger(mode="ctc")
    assert isinstance(tagger.loss, toolkit.losses.MaskedCTC)
    targets = np.array([[1, 2, -1], [3, -1, -1]], dtype="int32")
    history = tagger.fit(
        [waveforms(count=2), np.array([2000, 1500], "int32")], targets, epochs=1, verbose=0
    ).history
    assert np.isfinite(history["loss"][0])


def test_adapt_cmvn_sets_the_statistics_of_the_valid_frames():
    tagger = make_tagger(cmvn="global")
    signals = [waveforms(count=1, samples=n, seed=n)[0] for n in (2000, 1000, 600)]
    tagger.adapt_cmvn(signals)
    frames = [to_numpy(tagger.get_layer("features")(s[None]))[0] for s in signals]
    every = np.concatenate(frames).astype("float64")
    cmvn = tagger.get_layer("cmvn")
    normalized = to_numpy(cmvn(keras.ops.convert_to_tensor(every[None], "float32")))[0]
    np.testing.assert_allclose(normalized.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(normalized.std(axis=0), 1.0, atol=1e-2)
    with pytest.raises(ValueError, match="cmvn='global'"):
        make_tagger(cmvn="utterance").adapt_cmvn(signals)


# === Saving ===


def test_keras_round_trip_gives_identical_outputs(tmp_path):
    tagger = make_tagger(label_names=["x", "y", "z"], cmvn="global", projection=2)
    tagger.adapt_cmvn([waveforms(count=1)[0]])
    inputs = [waveforms(), np.array([2000, 900, 450], "int32")]
    expected = tagger.predict(inputs, verbose=0)
    tagger.save(tmp_path / "tagger.keras")
    reloaded = keras.models.load_model(tmp_path / "tagger.keras")
    assert isinstance(reloaded, toolkit.models.FrameTagger)
    assert reloaded.get_config() == tagger.get_config()
    np.testing.assert_array_equal(reloaded.predict(inputs, verbose=0), expected)
    assert reloaded.tag(*inputs) == tagger.tag(*inputs)


def test_preset_round_trip(tmp_path):
    tagger = make_tagger(mode="ctc", features="mfcc", mfcc_coefficients=5)
    inputs = [waveforms(), np.array([2000, 900, 450], "int32")]
    tagger.save_to_preset(tmp_path / "preset")
    assert {p.name for p in (tmp_path / "preset").iterdir()} >= {
        "task.json",
        "task.weights.h5",
        "metadata.json",
    }
    loaded = toolkit.models.FrameTagger.from_preset(tmp_path / "preset")
    np.testing.assert_array_equal(
        loaded.predict(inputs, verbose=0), tagger.predict(inputs, verbose=0)
    )
    renamed = toolkit.models.FrameTagger.from_preset(
        tmp_path / "preset", label_names=["p", "q", "r"]
    )
    assert renamed.tag(*inputs)[0]["labels"] == ["pqr"[i] for i in tagger.tag(*inputs)[0]["labels"]]
    new_head = toolkit.models.FrameTagger.from_preset(tmp_path / "preset", num_labels=5)
    assert new_head.predict(inputs, verbose=0).shape[-1] == 6
    with pytest.raises(ValueError, match="task.json"):
        toolkit.models.FrameTagger.from_preset(tmp_path / "missing")


def test_a_functional_copy_of_the_graph_loads_as_a_frame_tagger(tmp_path):
    """Run folders written before the class: a functional `frame_tagger` of the same layers."""
    from recipes.speech_tagging.config import SpeechTaggingConfig
    from recipes.speech_tagging.model import as_frame_tagger
    from recipes.speech_tagging.model import tagger_arguments

    config = SpeechTaggingConfig(units=3, layers=2, mel_bins=8, spec_augment=True)
    arguments = tagger_arguments(config, 3)
    tagger = randomize(toolkit.models.FrameTagger(**arguments))
    legacy = keras.Model(tagger.inputs, tagger.outputs, name="frame_tagger")
    legacy.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded).__name__ == "Functional"
    converted = as_frame_tagger(loaded, config, ["a", "b", "c"])
    assert isinstance(converted, toolkit.models.FrameTagger)
    assert converted.label_names == ["a", "b", "c"]
    inputs = [waveforms(), np.array([2000, 900, 450], "int32")]
    np.testing.assert_array_equal(
        converted.predict(inputs, verbose=0), tagger.predict(inputs, verbose=0)
    )


# === Arguments ===

BAD_ARGUMENTS = {
    "num_labels": dict(num_labels=0),
    "label_names": dict(label_names=["a", "b"]),
    "mode": dict(mode="viterbi"),
    "features": dict(features="spectrogram"),
    "frame_step": dict(frame_step=500),
    "mfcc_coefficients": dict(features="mfcc", mfcc_coefficients=20),
    "deltas": dict(deltas=3),
    "cmvn": dict(cmvn="speaker"),
    "cell": dict(cell="transformer"),
    "units": dict(units=0),
    "num_layers": dict(num_layers=-1),
    "projection": dict(cell="gru", projection=2),
    "attention": dict(attention="location"),
    "dropout": dict(dropout=1.0),
    "stride": dict(stride=0),
    "stack_left": dict(stack_left=-1),
    "feature_channels": dict(feature_channels=0),
    "bidirectional": dict(bidirectional="yes"),
    "seed": dict(seed=1.5),
}


@pytest.mark.parametrize("argument", BAD_ARGUMENTS)
def test_bad_arguments_name_the_argument(argument):
    arguments = dict(num_labels=3, **TINY)
    arguments.update(BAD_ARGUMENTS[argument])
    with pytest.raises(ValueError, match=f"Argument `{argument}` expected"):
        toolkit.models.FrameTagger(**arguments)


def test_tag_checks_the_lengths_count():
    tagger = make_tagger()
    with pytest.raises(ValueError, match="Argument `lengths` expected one length per row"):
        tagger.tag(waveforms(), lengths=[100, 200])


def test_precomputed_features_model():
    tagger = make_tagger(feature_channels=5, cmvn="utterance")
    features = np.random.default_rng(0).normal(size=(2, 7, 5)).astype("float32")
    lengths = np.array([7, 4], "int32")
    assert tagger.predict([features, lengths], verbose=0).shape == (2, 7, 3)
    assert tagger.output_lengths(lengths).tolist() == [7, 4]
    assert [len(r["frame_labels"]) for r in tagger.tag(list(features[:1]) + [features[1, :4]])] == [
        7,
        4,
    ]
    assert "feature_channels" in " ".join(tagger.streaming_blockers())


# === Streaming ===


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_streaming_equals_the_whole_utterance_on_valid_frames(cell):
    from toolkit.models.streaming import stream

    tagger = make_tagger(cell=cell, cmvn="global", bidirectional=False, num_layers=2)
    tagger.adapt_cmvn([waveforms(count=1)[0]])
    signal = waveforms(count=1, samples=3000)
    offline = tagger.predict([signal, np.array([3000], "int32")], verbose=0)[0]
    streaming = toolkit.models.StreamingTagger(tagger)
    assert streaming.history == 2
    streamed = stream(streaming, signal, chunk_hops=3)[0]
    np.testing.assert_allclose(streamed[: len(offline)], offline, atol=1e-5)


def test_streaming_refuses_a_model_with_look_ahead():
    with pytest.raises(ValueError, match="bidirectional=True"):
        toolkit.models.StreamingTagger(make_tagger())
    with pytest.raises(ValueError, match="Argument `tagger` expected"):
        toolkit.models.StreamingTagger(keras.Sequential([keras.layers.Dense(2)]))
