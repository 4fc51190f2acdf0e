"""The frame tagger: a waveform batch -> per-frame label probabilities (or CTC logits).

One functional `keras.Model`, front-end included, so `model.keras` and the
SavedModel take audio:

* inputs `waveform` `(batch, samples)` float32 and `lengths` `(batch,)` int32
  (valid samples; the rest is padding) - or, for a corpus of precomputed
  features, `features` `(batch, frames, channels)` and `lengths` in frames;
* the front-end of `toolkit.features`: log-mel or MFCC (25 ms windows, 10 ms
  hop), deltas, CMVN, SpecAugment (training only), frame stacking; the valid
  frame counts come from the lengths (`toolkit.features.FrameLengths`) and
  every layer gets the frame mask explicitly (`toolkit.features.FrameMask`),
  never through Keras mask propagation;
* `layers` (bidirectional) toolkit recurrent layers of the configured cell
  (LSTMP with `projection`), dropout, an optional self-attention head whose
  context is joined to each frame;
* `framewise` mode: a softmax per frame, `(batch, frames, labels)`, trained
  with sparse cross-entropy weighted by the frame mask; `ctc` mode: logits
  over the labels and the CTC blank (index 0), `(batch, frames, labels + 1)`,
  where padded frames are made certain blanks (`toolkit.losses.BlankPadding`)
  so the CTC loss over the padded length (`toolkit.losses.MaskedCTC`) equals
  the loss over each utterance's own frames.
"""

import keras
import numpy as np

import toolkit
from toolkit.features import FrameLengths
from toolkit.features import FrameMask
from toolkit.losses import BlankPadding
from toolkit.losses import MaskedCTC

# Models saved before these classes moved into the library name them
# `recipes.speech_tagging>...`; those names still load (with this module imported).
LEGACY_NAMES = {
    f"recipes.speech_tagging>{cls.__name__}": cls
    for cls in (FrameLengths, FrameMask, BlankPadding, MaskedCTC)
}
keras.saving.get_custom_objects().update(LEGACY_NAMES)


def attention_mechanism(name, units):
    """The self-attention mechanism of a config name (`toolkit.attention.get`; not `"none"`).

    `units` is the depth of the mechanisms that have one; Luong's dot and
    general scores work in the frames' own space (`"luong"` is `"luong-general"`).
    """
    return toolkit.attention.get(name, units, name="attention")


def build_tagger(config, label_count, feature_channels=None):
    """The tagger model of `config` (see the module docstring).

    Args:
        config: A `SpeechTaggingConfig`.
        label_count: Number of labels (frame classes without the blank).
        feature_channels: `None` for waveform input; the channel count of
            precomputed features otherwise.

    `cmvn: global` statistics start at zero mean and unit variance; set
    them with `adapt_global_cmvn` before training.
    """
    lengths = keras.Input((), dtype="int32", name="lengths")
    if feature_channels is None:
        signal = keras.Input((None,), dtype="float32", name="waveform")
        x = frontend(config)(signal)
        frame_lengths = FrameLengths(config.frame_length, config.frame_step, name="frame_lengths")(
            lengths
        )
    else:
        signal = keras.Input((None, feature_channels), dtype="float32", name="features")
        x = signal
        frame_lengths = FrameLengths(None, name="frame_lengths")(lengths)  # counts frames
    mask = FrameMask(name="frame_mask")([x, frame_lengths])
    if config.deltas:
        x = toolkit.features.Deltas(order=config.deltas, name="deltas")(x, mask=mask)
    if config.cmvn != "none":
        x = toolkit.features.CMVN(mode=config.cmvn, name="cmvn")(x, mask=mask)
    if config.spec_augment:
        x = toolkit.features.SpecAugment(
            frequency_masks=config.frequency_masks,
            frequency_mask_width=config.frequency_mask_width,
            time_masks=config.time_masks,
            time_mask_width=config.time_mask_width,
            seed=config.seed,
            name="spec_augment",
        )(x, mask=mask)
    if config.stack_left or config.stack_right or config.stride > 1:
        x = toolkit.features.FrameStacking(
            left_context=config.stack_left,
            right_context=config.stack_right,
            stride=config.stride,
            name="frame_stacking",
        )(x, mask=mask)
        frame_lengths = FrameLengths(
            config.frame_length if feature_channels is None else None,
            config.frame_step,
            stride=config.stride,
            name="stacked_frame_lengths",
        )(lengths)
        mask = FrameMask(name="stacked_frame_mask")([x, frame_lengths])

    layer_class = toolkit.layers.get(config.cell)
    options = {"projection": config.projection} if config.projection else {}
    for index in range(config.layers):
        recurrent = layer_class(
            config.units, return_sequences=True, name=f"{config.cell}_{index}", **options
        )
        if config.bidirectional:
            recurrent = keras.layers.Bidirectional(recurrent, name=f"bidirectional_{index}")
        x = recurrent(x, mask=mask)
        x = keras.layers.Dropout(config.dropout, name=f"dropout_{index}")(x)
    if config.attention != "none":
        context, _ = attention_mechanism(config.attention, config.attention_units)(
            x, x, memory_mask=mask
        )
        x = keras.layers.Concatenate(name="with_context")([x, context])
        x = keras.layers.Dense(config.attention_units, activation="tanh", name="attention_layer")(x)
    if config.mode == "ctc":
        logits = keras.layers.Dense(label_count + 1, dtype="float32", name="logits")(x)
        outputs = BlankPadding(dtype="float32", name="blank_padding")([logits, mask])
    else:
        outputs = keras.layers.Dense(
            label_count, activation="softmax", dtype="float32", name="probabilities"
        )(x)
    return keras.Model([signal, lengths], outputs, name="frame_tagger")


def frontend(config):
    """The feature layer of `config`: waveform `(batch, samples)` -> `(batch, frames, channels)`."""
    common = {
        "sample_rate": config.sample_rate,
        "frame_length": config.frame_length,
        "frame_step": config.frame_step,
        "name": "features",
    }
    if config.features == "mfcc":
        return toolkit.features.MFCC(
            num_coefficients=config.mfcc_coefficients, num_mel_bins=config.mel_bins, **common
        )
    return toolkit.features.LogMelSpectrogram(num_mel_bins=config.mel_bins, **common)


def feature_model(tagger, before_cmvn=False):
    """`[signal, lengths]` -> `[features, mask]`: the tagger's front-end frames.

    The frames the recurrent layers see before SpecAugment and stacking (the
    baseline and the plots read these); with `before_cmvn`, the frames the
    CMVN layer normalizes (global CMVN adapts to these).
    """
    names = [layer.name for layer in tagger.layers]
    order = ("deltas", "features") if before_cmvn else ("cmvn", "deltas", "features")
    last = next(name for name in order if name in names)
    outputs = [tagger.get_layer(last).output, tagger.get_layer("frame_mask").output]
    return keras.Model(tagger.inputs, outputs, name="feature_model")


def takes_waveform(tagger):
    """Whether the tagger reads waveforms (else precomputed features)."""
    return tagger.inputs[0].name == "waveform"


def output_frame_lengths(tagger):
    """The tagger's layer giving valid output frames `(batch,)` from its `lengths` input."""
    names = {layer.name for layer in tagger.layers}
    return tagger.get_layer(
        "stacked_frame_lengths" if "stacked_frame_lengths" in names else "frame_lengths"
    )


def adapt_global_cmvn(tagger, batches):
    """Sets a `cmvn: global` tagger's statistics from `(inputs, ...)` training batches."""
    features = feature_model(tagger, before_cmvn=True)
    frames = []
    for inputs, *_ in batches:
        values, mask = features.predict_on_batch(inputs)
        frames.append(np.asarray(values)[np.asarray(mask)])
    tagger.get_layer("cmvn").adapt(np.concatenate(frames))
