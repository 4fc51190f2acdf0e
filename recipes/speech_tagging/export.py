"""Run folders: loading, the waveform SavedModel, tagging files.

A run folder holds `model.keras` (the tagger, front-end included),
`labels.txt` and `config.json`. `saved_model/`, written by
`toolkit.export.export_frame_tagger`, serves with TensorFlow alone:

* `tag(waveform, lengths)`: float32 `(batch, samples)` 16 kHz waveforms in
  [-1, 1] and int32 `(batch,)` valid samples ->
  framewise mode: `frame_labels` `(batch, frames)` strings (`""` past the
  end), `frame_ids` int32 (-1 past the end), `probabilities`
  `(batch, frames, labels)`, `frame_lengths` `(batch,)`, and the segments
  (runs of equal labels) `segment_starts` / `segment_ends` float32 seconds,
  `segment_labels` strings, all `(batch, segments)`, padded with the time
  the first frame starts at (`FrameTagger.frame_timing`'s offset) and `""`,
  with `segment_counts` `(batch,)` (0 for a waveform shorter than one frame);
  CTC mode: `labels` `(batch, length)` strings (`""` padded), `label_ids`
  (-1 padded) and `label_counts`.
  For a corpus of precomputed features the inputs are `features`
  `(batch, frames, channels)` and `lengths` in frames.
* for a streamable tagger (`SpeechTaggingConfig.streamable`), also
  `stream_init(batch_size)` -> the initial state (`samples`, `skip`,
  `recurrent`) and `stream_step(chunk, samples, skip, recurrent)`: a chunk
  float32 `(batch, k * 160)` and the state -> `labels` strings, `label_ids`,
  `probabilities`, `valid` `(batch, k)` and the next state under the same
  three names (`toolkit.models.StreamingTagger`); a chunk of no samples
  (`k = 0`) answers empty outputs and hands the state back unchanged.
"""

import warnings

import numpy as np

from recipes.runner.exporting import require_tensorflow_backend
from recipes.runner.exporting import write_run_saved_model
from recipes.runner.outputs import load_run_model
from recipes.runner.outputs import read_run_config
from recipes.speech_tagging.model import as_frame_tagger
from recipes.speech_tagging.scoring import frame_timing
from toolkit.export import export_frame_tagger

SIGNATURE = "tag"


def export_saved_model(tagger, labels, config, path):
    """Writes the SavedModel (TensorFlow backend); returns the verifier's summary.

    `toolkit.export.export_frame_tagger` with the config's CTC decoder; the
    streaming signatures come with a streamable tagger.
    """
    return export_frame_tagger(
        tagger,
        path,
        labels,
        ctc_decoder=config.ctc_decoder,
        beam_width=config.beam_width,
        signature=SIGNATURE,
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
    """`(tagger, labels, config)` of a finished run folder; the tagger is a `FrameTagger`."""
    from recipes.speech_tagging.config import SpeechTaggingConfig

    needed = ["model.keras", "labels.txt", "config.json"]
    run_dir, config = read_run_config(run_dir, SpeechTaggingConfig, needed)
    with warnings.catch_warnings():
        # A `FrameTagger` is built compiled (a fresh optimizer); the trained
        # optimizer's state in model.keras is not needed to tag or export.
        warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
        model = load_run_model(run_dir, compile=False)
    labels = (run_dir / "labels.txt").read_text(encoding="utf-8").split("\n")[:-1]
    # A run written before the recipe built `toolkit.models.FrameTagger` holds
    # a functional model of the same layers: it becomes one.
    return as_frame_tagger(model, config, labels), labels, config


def tag_files(run_dir, paths):
    """Segments `(start, end, label)` (framewise) or labels (CTC) of each wav file.

    An empty list of paths answers an empty list (`tag_signals`).
    """
    from toolkit.data import read_waveform

    tagger, labels, config = load_run(run_dir)
    if not tagger.takes_waveform:
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
    from toolkit.models.frame_tagger import segments

    waveform = tagger.takes_waveform
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
