"""`toolkit.export.export_frame_tagger`: the served outputs are the model's.

References: the model's own `predict` / `tag` (checked against Keras layers
and hand-made cases in tests/models/test_frame_tagger.py), frame counts by
hand, and `toolkit.models.StreamingTagger` step by step.
"""

import keras
import numpy as np
import pytest

import toolkit

TINY = dict(mel_bins=8, deltas=0, spec_augment=False, units=3, num_layers=1, dropout=0.0)
LABELS = ["sil", "a", "b"]


def randomized(**kwargs):
    model = toolkit.models.FrameTagger(num_labels=3, **{**TINY, **kwargs})
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(-0.8, 0.8, size=w.shape) for w in model.get_weights()])
    return model


def signals():
    rng = np.random.default_rng(1)
    return (0.3 * rng.normal(size=(3, 2000))).astype("float32"), np.array([2000, 900, 0], "int32")


@pytest.mark.tensorflow_only
def test_served_frames_and_segments_match_the_model(tmp_path):
    import tensorflow as tf

    model = randomized(bidirectional=True, label_names=LABELS)
    summary = toolkit.export.export_frame_tagger(model, tmp_path)
    assert summary["signatures"] == ["serving_default", "tag"]
    assert summary["extra_ops"] == []
    waveform, lengths = signals()
    loaded = tf.saved_model.load(str(tmp_path))
    served = {k: v.numpy() for k, v in loaded.tag(waveform, lengths).items()}
    probabilities = model.predict([waveform, lengths], verbose=0)
    tagged = model.tag(waveform, lengths)
    frames = model.output_lengths(lengths)
    assert served["frame_lengths"].tolist() == frames.tolist() == [11, 4, 0]
    for row, valid in enumerate(frames):
        np.testing.assert_allclose(
            served["probabilities"][row, :valid], probabilities[row, :valid], atol=1e-5
        )
        labels = [label.decode() for label in served["frame_labels"][row]]
        assert labels == tagged[row]["frame_labels"] + [""] * (11 - valid)
        assert (served["frame_ids"][row, valid:] == -1).all()
        count = served["segment_counts"][row]
        segments = tagged[row]["segments"]
        assert count == len(segments)
        np.testing.assert_allclose(served["segment_starts"][row, :count], [s[0] for s in segments])
        np.testing.assert_allclose(served["segment_ends"][row, :count], [s[1] for s in segments])
        assert [s.decode() for s in served["segment_labels"][row, :count]] == [
            s[2] for s in segments
        ]


@pytest.mark.tensorflow_only
def test_empty_batch_zero_length_and_lengths_checks(tmp_path):
    import tensorflow as tf

    toolkit.export.export_frame_tagger(randomized(), tmp_path)
    loaded = tf.saved_model.load(str(tmp_path))
    empty = loaded.tag(tf.zeros((0, 1000)), tf.zeros((0,), tf.int32))
    assert empty["frame_labels"].shape[0] == 0 and empty["segment_counts"].shape == (0,)
    short = loaded.tag(tf.zeros((2, 300)), tf.constant([300, 0]))
    assert short["segment_counts"].numpy().tolist() == [0, 0]
    assert short["frame_lengths"].numpy().tolist() == [0, 0]
    # Lengths past the samples sent are clipped to them.
    clipped = loaded.tag(tf.ones((1, 600)) * 0.1, tf.constant([10_000]))
    assert clipped["frame_lengths"].numpy().tolist() == [2]
    with pytest.raises(tf.errors.InvalidArgumentError, match="one length per row"):
        loaded.tag(tf.zeros((2, 1000)), tf.constant([1000]))


@pytest.mark.tensorflow_only
def test_the_lengths_check_runs_before_the_model(tmp_path):
    """Regression (a CI run): with the check beside the model rather than before it,
    TensorFlow may run the model on mismatched lengths first, which then failed inside
    an LSTM ("Input to reshape is a tensor with 4 values...") instead of naming
    `lengths`. The served function reads its inputs only for the check's own sizes
    and through identities that wait for the check."""
    import tensorflow as tf

    toolkit.export.export_frame_tagger(randomized(), tmp_path)
    graph = tf.saved_model.load(str(tmp_path)).tag.concrete_functions[0].graph
    inputs = [
        op
        for op in graph.get_operations()
        if op.type == "Placeholder" and op.name in ("waveform", "lengths")
    ]
    assert len(inputs) == 2
    for op in inputs:
        readers = op.outputs[0].consumers()
        waiting = [r for r in readers if r.type == "Identity"]
        assert waiting and all("Assert" in [c.type for c in r.control_inputs] for r in waiting)
        assert {r.type for r in readers} - {"Identity"} <= {"Shape", "Size"}


@pytest.mark.tensorflow_only
def test_ctc_labels_match_greedy_tag(tmp_path):
    import tensorflow as tf

    model = randomized(mode="ctc", label_names=LABELS)
    toolkit.export.export_frame_tagger(model, tmp_path)
    waveform, lengths = signals()
    loaded = tf.saved_model.load(str(tmp_path))
    served = loaded.tag(waveform, lengths)
    counts = served["label_counts"].numpy()
    for row, result in enumerate(model.tag(waveform, lengths)):
        labels = [label.decode() for label in served["labels"].numpy()[row, : counts[row]]]
        assert labels == result["labels"]
    empty = loaded.tag(tf.zeros((0, 500)), tf.zeros((0,), tf.int32))
    assert empty["label_counts"].shape == (0,)


@pytest.mark.tensorflow_only
def test_streaming_signatures_match_the_streaming_tagger(tmp_path):
    import tensorflow as tf

    model = randomized(bidirectional=False, cmvn="global", num_layers=2)
    model.adapt_cmvn([signals()[0][0]])
    summary = toolkit.export.export_frame_tagger(model, tmp_path, LABELS)
    assert summary["signatures"] == ["serving_default", "stream_init", "stream_step", "tag"]
    loaded = tf.saved_model.load(str(tmp_path))
    streaming = toolkit.models.StreamingTagger(model)
    state = loaded.stream_init(tf.constant(1))
    local = streaming.initial_state(1)
    chunk_signal = signals()[0][:1, :1600]
    for start in range(0, 1600, 480):
        chunk = chunk_signal[:, start : start + 480]
        chunk = chunk[:, : chunk.shape[1] // 160 * 160]
        served = loaded.stream_step(chunk, state["samples"], state["skip"], state["recurrent"])
        outputs, local = streaming.step(keras.ops.convert_to_tensor(chunk), local)
        np.testing.assert_allclose(
            served["probabilities"].numpy(),
            np.asarray(keras.ops.convert_to_numpy(outputs["probabilities"])),
            atol=1e-5,
        )
        assert [label.decode() for label in served["labels"].numpy()[0]] == [
            LABELS[i] for i in served["label_ids"].numpy()[0]
        ]
        state = served
    nothing = loaded.stream_step(
        tf.zeros((1, 0)), state["samples"], state["skip"], state["recurrent"]
    )
    assert nothing["labels"].shape == (1, 0)
    np.testing.assert_array_equal(nothing["recurrent"].numpy(), state["recurrent"].numpy())


@pytest.mark.tensorflow_only
def test_streaming_choice_and_bad_arguments(tmp_path):
    model = randomized()  # bidirectional: cannot stream
    summary = toolkit.export.export_frame_tagger(model, tmp_path / "a")
    assert "stream_step" not in summary["signatures"]
    with pytest.raises(ValueError, match="Argument `streaming` expected"):
        toolkit.export.export_frame_tagger(model, tmp_path / "b", streaming=True)
    with pytest.raises(ValueError, match="Argument `labels` expected 3 names"):
        toolkit.export.export_frame_tagger(model, tmp_path / "c", ["x"])
    with pytest.raises(ValueError, match="Argument `ctc_decoder` expected"):
        toolkit.export.export_frame_tagger(model, tmp_path / "d", ctc_decoder="viterbi")
    with pytest.raises(ValueError, match="Argument `model` expected"):
        toolkit.export.export_frame_tagger(keras.Sequential([keras.layers.Dense(1)]), tmp_path)
    unidirectional = randomized(bidirectional=False, cmvn="none")
    summary = toolkit.export.export_frame_tagger(unidirectional, tmp_path / "e", streaming=False)
    assert "stream_step" not in summary["signatures"]


def test_other_backends_are_told_to_use_tensorflow(tmp_path):
    if keras.backend.backend() == "tensorflow":
        pytest.skip("the TensorFlow backend exports")
    with pytest.raises(ValueError, match="needs the TensorFlow backend"):
        toolkit.export.export_frame_tagger(randomized(), tmp_path)
