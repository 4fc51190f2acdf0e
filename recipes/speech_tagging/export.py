"""Run folders: loading, the waveform SavedModel, tagging files.

A run folder holds `model.keras` (the tagger, front-end included),
`labels.txt` and `config.json`. `saved_model/` serves with TensorFlow alone:

* `tag(waveform, lengths)`: float32 `(batch, samples)` 16 kHz waveforms in
  [-1, 1] and int32 `(batch,)` valid samples ->
  framewise mode: `frame_labels` `(batch, frames)` strings (`""` past the
  end), `frame_ids` int32 (-1 past the end), `probabilities`
  `(batch, frames, labels)`, `frame_lengths` `(batch,)`, and the segments
  (runs of equal labels) `segment_starts` / `segment_ends` float32 seconds,
  `segment_labels` strings, all `(batch, segments)`, padded with the time
  the first frame starts at (`scoring.frame_timing`'s offset) and `""`, with
  `segment_counts` `(batch,)` (0 for a waveform shorter than one frame);
  CTC mode: `labels` `(batch, length)` strings (`""` padded), `label_ids`
  (-1 padded) and `label_counts`.
  For a corpus of precomputed features the inputs are `features`
  `(batch, frames, channels)` and `lengths` in frames.
* for a streamable tagger (`SpeechTaggingConfig.streamable`), also
  `stream_init(batch_size)` -> the initial state (`samples`, `skip`,
  `recurrent`) and `stream_step(chunk, samples, skip, recurrent)`: a chunk
  float32 `(batch, k * 160)` and the state -> `labels` strings, `label_ids`,
  `probabilities`, `valid` `(batch, k)` and the next state under the same
  three names (see `streaming.py`); a chunk of no samples (`k = 0`) answers
  empty outputs and hands the state back unchanged.
"""

import keras
import numpy as np

from recipes.runner.exporting import require_tensorflow_backend
from recipes.runner.exporting import write_run_saved_model
from recipes.runner.outputs import load_run_model
from recipes.runner.outputs import read_run_config
from recipes.speech_tagging.model import output_frame_lengths
from recipes.speech_tagging.model import takes_waveform
from recipes.speech_tagging.scoring import frame_timing
from recipes.speech_tagging.streaming import StreamingTagger

SIGNATURE = "tag"


def export_saved_model(tagger, labels, config, path):
    """Writes the SavedModel (TensorFlow backend); see the module docstring."""
    import tensorflow as tf

    names = tf.constant(list(labels), tf.string)
    archive = keras.export.ExportArchive()
    archive.track(tagger)
    waveform = takes_waveform(tagger)
    if waveform:
        signal_spec = tf.TensorSpec([None, None], tf.float32, name="waveform")
    else:
        channels = tagger.inputs[0].shape[-1]
        signal_spec = tf.TensorSpec([None, None, channels], tf.float32, name="features")
    lengths_layer = output_frame_lengths(tagger)
    seconds_per_frame, offset = frame_timing(config)

    def tag(signal, lengths):
        # A client's lengths: one per row (else a clear error), clipped to the samples sent.
        tf.debugging.assert_equal(
            tf.size(lengths),
            tf.shape(signal)[0],
            message="`lengths` expected one length per row of the signal batch",
        )
        lengths = tf.clip_by_value(lengths, 0, tf.shape(signal)[1])
        outputs = tagger([signal, lengths], training=False)
        frame_lengths = tf.cast(lengths_layer(lengths), tf.int32)
        if config.mode == "ctc":
            return _ctc_outputs(outputs, frame_lengths, names, config)
        return _frame_outputs(outputs, frame_lengths, names, seconds_per_frame, offset)

    archive.add_endpoint(
        SIGNATURE, tag, input_signature=[signal_spec, tf.TensorSpec([None], tf.int32, "lengths")]
    )
    if config.streamable and waveform:
        _add_streaming(archive, StreamingTagger(tagger, config), names)
    archive.write_out(str(path), verbose=False)


def _frame_outputs(probabilities, frame_lengths, names, seconds_per_frame, offset):
    import tensorflow as tf

    ids = tf.cast(tf.argmax(probabilities, axis=-1), tf.int32)
    frames = tf.shape(ids)[1]
    positions = tf.range(frames)[None, :]
    valid = positions < frame_lengths[:, None]
    ids = tf.where(valid, ids, -1)
    previous = tf.pad(ids[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
    starts_here = valid & tf.not_equal(ids, previous)
    tiled = tf.broadcast_to(positions, tf.shape(ids))
    starts = tf.ragged.boolean_mask(tiled, starts_here)
    # A segment ends where the next starts, the last at the row's end; a row
    # without frames has no segment, so no end either (`segment_ends` has the
    # shape of `segment_starts`).
    last_end = tf.RaggedTensor.from_tensor(
        frame_lengths[:, None], lengths=tf.minimum(starts.row_lengths(), 1)
    )
    ends = tf.concat([starts[:, 1:], last_end], axis=1)
    segment_ids = tf.ragged.boolean_mask(ids, starts_here)
    to_seconds = lambda frame: offset + tf.cast(frame, tf.float32) * seconds_per_frame  # noqa: E731
    return {
        "frame_ids": ids,
        "frame_labels": tf.where(valid, tf.gather(names, tf.maximum(ids, 0)), ""),
        "frame_lengths": frame_lengths,
        "probabilities": probabilities,
        "segment_starts": to_seconds(starts).to_tensor(default_value=offset),
        "segment_ends": to_seconds(ends).to_tensor(default_value=offset),
        "segment_labels": tf.gather(names, segment_ids).to_tensor(default_value=""),
        "segment_counts": tf.cast(starts.row_lengths(), tf.int32),
    }


def _ctc_outputs(logits, frame_lengths, names, config):
    import tensorflow as tf

    # TensorFlow's CTC decoders refuse an empty input ("inputs must not be
    # empty"): a batch of no rows, or of no frames (every waveform shorter
    # than a frame). They get one frame and one row of length 0, which
    # decode to nothing, and the extra row is dropped.
    batch = tf.shape(logits)[0]
    logits = tf.pad(
        logits,
        [[0, tf.maximum(1 - batch, 0)], [0, tf.maximum(1 - tf.shape(logits)[1], 0)], [0, 0]],
    )
    frame_lengths = tf.pad(frame_lengths, [[0, tf.maximum(1 - batch, 0)]])
    decoded, _ = keras.ops.ctc_decode(
        logits,
        frame_lengths,
        strategy="greedy" if config.ctc_decoder == "greedy" else "beam_search",
        beam_width=config.beam_width,
        merge_repeated=True,
        mask_index=0,
    )
    classes = tf.cast(decoded[0], tf.int32)[:batch]
    ids = tf.where(classes > 0, classes - 1, -1)  # class 0 is the blank, -1 the padding
    counts = tf.reduce_sum(tf.cast(ids >= 0, tf.int32), axis=1)
    longest = tf.maximum(tf.reduce_max(counts), 0)
    ids = ids[:, :longest]
    return {
        "label_ids": ids,
        "labels": tf.where(ids >= 0, tf.gather(names, tf.maximum(ids, 0)), ""),
        "label_counts": counts,
    }


def _add_streaming(archive, streaming, names):
    import tensorflow as tf

    for layer in streaming.recurrent:
        archive.track(layer)
    step = streaming.frame_step

    def stream_init(batch_size):
        return streaming.initial_state(batch_size)

    def stream_step(chunk, samples, skip, recurrent):
        tf.debugging.assert_equal(
            tf.shape(chunk)[1] % step,
            0,
            message=f"stream_step: `chunk` expected a whole number of hops ({step} samples)",
        )
        outputs, state = streaming.step(
            chunk, {"samples": samples, "skip": skip, "recurrent": recurrent}
        )
        labels = tf.gather(names, outputs["labels"])
        return {**outputs, "label_ids": outputs["labels"], "labels": labels, **state}

    state = streaming.initial_state(1)
    archive.add_endpoint(
        "stream_init", stream_init, input_signature=[tf.TensorSpec([], tf.int32, "batch_size")]
    )
    archive.add_endpoint(
        "stream_step",
        stream_step,
        input_signature=[
            tf.TensorSpec([None, None], tf.float32, "chunk"),
            tf.TensorSpec([None, state["samples"].shape[1]], tf.float32, "samples"),
            tf.TensorSpec([None], tf.int32, "skip"),
            tf.TensorSpec([None, state["recurrent"].shape[1]], tf.float32, "recurrent"),
        ],
    )


def export_run(run_dir):
    """Writes `<run_dir>/saved_model/` from a finished run folder (TensorFlow backend).

    A run trained with JAX is exported this way (`KERAS_BACKEND=tensorflow
    python -m recipes.speech_tagging export RUN_DIR`): `model.keras` loads on
    any backend. Returns the SavedModel's path.
    """
    require_tensorflow_backend("Exporting the SavedModel")
    tagger, labels, config = load_run(run_dir)
    return write_run_saved_model(
        run_dir, lambda folder: export_saved_model(tagger, labels, config, folder)
    )


def load_run(run_dir):
    """`(tagger, labels, config)` of a finished run folder."""
    import toolkit  # noqa: F401  (registers the layers model.keras holds)
    from recipes.speech_tagging import model  # noqa: F401  (registers the recipe's layers)
    from recipes.speech_tagging.config import SpeechTaggingConfig

    needed = ["model.keras", "labels.txt", "config.json"]
    run_dir, config = read_run_config(run_dir, SpeechTaggingConfig, needed)
    tagger = load_run_model(run_dir, compile=False)
    labels = (run_dir / "labels.txt").read_text(encoding="utf-8").split("\n")[:-1]
    return tagger, labels, config


def tag_files(run_dir, paths):
    """Segments `(start, end, label)` (framewise) or labels (CTC) of each wav file.

    An empty list of paths answers an empty list (`tag_signals`).
    """
    from toolkit.data import read_waveform

    tagger, labels, config = load_run(run_dir)
    if not takes_waveform(tagger):
        raise ValueError(
            f"Argument `run_dir` holds a tagger of precomputed features ({run_dir}); "
            "`tag` reads wav files"
        )
    waveforms = [read_waveform(path, config.sample_rate, config.resample)[0] for path in paths]
    return tag_signals(tagger, labels, config, waveforms, ids=[str(path) for path in paths])


def tag_signals(tagger, labels, config, signals, ids=None):
    """What `tag_files` answers, for signals in memory and a loaded run (`load_run`).

    Args:
        tagger, labels, config: A run's `load_run()`.
        signals: A list of float32 waveforms `(samples,)`, or of features
            `(frames, channels)` for a tagger of precomputed features. A
            signal shorter than one frame (no samples at all included) has
            no frames, hence no segments or labels, as the SavedModel's `tag`
            signature answers it.
        ids: Optional names of the signals (default: their positions).

    Returns:
        Per signal, its segments `(start, end, label)` (framewise) or its
        labels (CTC); an empty list for no signals.
    """
    from recipes.speech_tagging.pipeline import Example
    from recipes.speech_tagging.pipeline import predict
    from recipes.speech_tagging.scoring import ctc_decode_outputs
    from recipes.speech_tagging.scoring import segments

    waveform = takes_waveform(tagger)
    ids = [str(index) for index in range(len(signals))] if ids is None else ids
    empty = np.zeros(0, dtype="int32")
    examples = []
    for name, signal in zip(ids, signals):
        signal = np.asarray(signal, dtype="float32")
        examples.append(Example(name, signal, len(signal), empty, [], empty))
    outputs = predict(tagger, examples, config, waveform=waveform)
    if config.mode == "ctc":
        decoded = ctc_decode_outputs(outputs, config.ctc_decoder, config.beam_width)
        return [[labels[i] for i in row] for row in decoded]
    seconds_per_frame, offset = frame_timing(config)
    return [
        segments([labels[i] for i in output.argmax(-1)], seconds_per_frame, offset)
        for output in outputs
    ]
