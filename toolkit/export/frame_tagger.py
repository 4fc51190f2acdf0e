"""The waveform SavedModel of a `toolkit.models.FrameTagger`, streaming included."""

import keras

from toolkit.export.text import require_tensorflow
from toolkit.export.verifier import verify_saved_model

CTC_DECODERS = ("greedy", "beam")


def export_frame_tagger(
    model, path, labels=None, ctc_decoder="greedy", beam_width=8, streaming=None, signature="tag"
):
    """Writes a SavedModel that tags waveforms with TensorFlow alone.

    The `tag(waveform, lengths)` signature takes float32 `(batch, samples)`
    waveforms and int32 `(batch,)` valid samples (clipped to the samples
    sent; one per row, else an error) and returns:

    * framewise mode: `frame_labels` `(batch, frames)` strings (`""` past
      the end), `frame_ids` int32 (-1 past the end), `probabilities`
      `(batch, frames, labels)`, `frame_lengths` `(batch,)`, and the segments
      (runs of equal labels) `segment_starts` / `segment_ends` float32
      seconds, `segment_labels` strings, all `(batch, segments)`, padded with
      the time the first frame starts at (`FrameTagger.frame_timing`'s
      offset) and `""`, with `segment_counts` `(batch,)` (0 for a waveform
      shorter than one window);
    * CTC mode: `labels` `(batch, length)` strings (`""` padded),
      `label_ids` (-1 padded) and `label_counts`.

    A model of precomputed features takes `features`
    `(batch, frames, channels)` and `lengths` in frames instead. A streamable
    model (`model.streaming_blockers()` empty) also gets
    `stream_init(batch_size)` -> the initial state (`samples`, `skip`,
    `recurrent`) and `stream_step(chunk, samples, skip, recurrent)`: a chunk
    float32 `(batch, k * frame_step)` and the state -> `labels` strings,
    `label_ids`, `probabilities`, `valid` `(batch, k)` and the next state
    under the same three names (`toolkit.models.StreamingTagger`); a chunk of
    no samples answers empty outputs and the state unchanged. The SavedModel
    is checked with `verify_saved_model` before this returns.

    Args:
        model: A `toolkit.models.FrameTagger`.
        path: The folder to write.
        labels: Optional list of `num_labels` label names (default: the
            model's `label_names`, else `"0"`, `"1"`, ...).
        ctc_decoder: `"greedy"` (default) or `"beam"` (CTC mode).
        beam_width: Positive integer (default `8`), beams of `"beam"`.
        streaming: `None` (default: the streaming signatures when the model
            can stream), `True` (required: an error when it cannot) or `False`.
        signature: The tagging function's name (default `"tag"`).

    Returns:
        The verifier's summary: `{"signatures", "ops", "extra_ops"}`.

    Example:

    >>> import tempfile, keras, numpy as np, tensorflow as tf, toolkit
    >>> tagger = toolkit.models.FrameTagger(
    ...     num_labels=2, mel_bins=8, deltas=0, cmvn="none", spec_augment=False,
    ...     units=4, num_layers=1, bidirectional=False)
    >>> path = tempfile.mkdtemp()
    >>> if keras.backend.backend() == "tensorflow":
    ...     summary = export_frame_tagger(tagger, path, ["a", "b"])
    ...     loaded = tf.saved_model.load(path)
    ...     served = loaded.tag(tf.zeros((1, 1600)), tf.constant([1600]))
    ...     print(summary["signatures"], tuple(served["frame_labels"].shape))
    ... else:
    ...     print(["serving_default", "stream_init", "stream_step", "tag"], (1, 8))
    ['serving_default', 'stream_init', 'stream_step', 'tag'] (1, 8)
    """
    require_tensorflow("Exporting a frame tagger")
    import tensorflow as tf

    from toolkit.models.streaming import StreamingTagger

    if not hasattr(model, "streaming_blockers") or not hasattr(model, "num_labels"):
        raise ValueError(
            "Argument `model` expected a `toolkit.models.FrameTagger`. "
            f"Received: {type(model).__name__}"
        )
    if ctc_decoder not in CTC_DECODERS:
        raise ValueError(
            f"Argument `ctc_decoder` expected one of {list(CTC_DECODERS)}. "
            f"Received: ctc_decoder={ctc_decoder!r}"
        )
    if labels is None:
        labels = model.label_names or [str(index) for index in range(model.num_labels)]
    labels = [str(label) for label in labels]
    if len(labels) != model.num_labels:
        raise ValueError(
            f"Argument `labels` expected {model.num_labels} names (one per label). "
            f"Received: {len(labels)} names"
        )
    blockers = model.streaming_blockers()
    if streaming and blockers:
        raise ValueError(
            "Argument `streaming` expected a model that can stream. Received: streaming=True "
            "for a model with " + "; ".join(blockers)
        )
    names = tf.constant(labels, tf.string)
    archive = keras.export.ExportArchive()
    archive.track(model)
    if model.takes_waveform:
        signal_spec = tf.TensorSpec([None, None], tf.float32, name="waveform")
    else:
        channels = model.feature_channels
        signal_spec = tf.TensorSpec([None, None, channels], tf.float32, name="features")
    lengths_layer = model.get_layer(
        "stacked_frame_lengths" if model._has_layer("stacked_frame_lengths") else "frame_lengths"
    )
    seconds_per_frame, offset = model.frame_timing()

    def tag(signal, lengths):
        # A client's lengths: one per row (else a clear error), clipped to the samples sent.
        signal, lengths = _checked(
            [signal, lengths],
            tf.size(lengths),
            tf.shape(signal)[0],
            "`lengths` expected one length per row of the signal batch",
        )
        lengths = tf.clip_by_value(lengths, 0, tf.shape(signal)[1])
        outputs = model([signal, lengths], training=False)
        frame_lengths = tf.cast(lengths_layer(lengths), tf.int32)
        if model.mode == "ctc":
            return _ctc_outputs(outputs, frame_lengths, names, ctc_decoder, beam_width)
        return _frame_outputs(outputs, frame_lengths, names, seconds_per_frame, offset)

    archive.add_endpoint(
        signature, tag, input_signature=[signal_spec, tf.TensorSpec([None], tf.int32, "lengths")]
    )
    if streaming is not False and not blockers:
        _add_streaming(archive, StreamingTagger(model), names)
    archive.write_out(str(path), verbose=False)
    return verify_saved_model(path)


def _checked(values, got, expected, message):
    """`values` once `got == expected` holds, else the error `message`.

    The values pass through the check (control dependencies), so nothing that
    reads them runs before it: without that, TensorFlow may run the model on
    the bad input first and fail inside it, with a message naming none of
    the signature's arguments (a frame tagger's LSTM reshape, seen in CI).
    """
    import tensorflow as tf

    check = tf.debugging.assert_equal(got, expected, message=message)
    with tf.control_dependencies([check]):
        return [tf.identity(value) for value in values]


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


def _ctc_outputs(logits, frame_lengths, names, ctc_decoder, beam_width):
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
        strategy="greedy" if ctc_decoder == "greedy" else "beam_search",
        beam_width=beam_width,
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
        (chunk,) = _checked(
            [chunk],
            tf.shape(chunk)[1] % step,
            0,
            f"stream_step: `chunk` expected a whole number of hops ({step} samples)",
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
