"""The frame tagger: a waveform batch -> per-frame label probabilities (or CTC logits).

One functional `keras.Model`, front-end included, so `model.keras` and the
SavedModel take audio:

* inputs `waveform` `(batch, samples)` float32 and `lengths` `(batch,)` int32
  (valid samples; the rest is padding) - or, for a corpus of precomputed
  features, `features` `(batch, frames, channels)` and `lengths` in frames;
* the front-end of `toolkit.features`: log-mel or MFCC (25 ms windows, 10 ms
  hop), deltas, CMVN, SpecAugment (training only), frame stacking; the valid
  frame counts come from the lengths (`FrameLengths`) and every layer gets the
  frame mask explicitly (`FrameMask`), never through Keras mask propagation;
* `layers` (bidirectional) toolkit recurrent layers of the configured cell
  (LSTMP with `projection`), dropout, an optional self-attention head whose
  context is joined to each frame;
* `framewise` mode: a softmax per frame, `(batch, frames, labels)`, trained
  with sparse cross-entropy weighted by the frame mask; `ctc` mode: logits
  over the labels and the CTC blank (index 0), `(batch, frames, labels + 1)`,
  where padded frames are made certain blanks (`BlankPadding`) so the CTC
  loss over the padded length equals the loss over each utterance's own
  frames.
"""

import keras
import numpy as np
from keras import ops

import toolkit

BLANK = 0  # the CTC blank's index; label i is class i + 1 in ctc mode


@keras.saving.register_keras_serializable(package="recipes.speech_tagging")
class FrameLengths(keras.layers.Layer):
    """Valid frame counts `(batch,)` from valid sample (or frame) counts.

    Args:
        frame_length: Window in samples, or `None` when the lengths already
            count frames (precomputed features).
        frame_step: Hop in samples.
        stride: The frame stacking's stride: `ceil(frames / stride)`.
    """

    def __init__(self, frame_length=None, frame_step=None, stride=1, **kwargs):
        super().__init__(**kwargs)
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.stride = stride

    def call(self, lengths):
        lengths = ops.cast(lengths, "int32")
        if self.frame_length is not None:
            lengths = toolkit.features.frame_lengths(lengths, self.frame_length, self.frame_step)
        return (lengths + self.stride - 1) // self.stride

    def compute_output_shape(self, lengths_shape):
        return tuple(lengths_shape)

    def compute_output_spec(self, lengths):
        return keras.KerasTensor(lengths.shape, dtype="int32")

    def get_config(self):
        return {
            **super().get_config(),
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "stride": self.stride,
        }


@keras.saving.register_keras_serializable(package="recipes.speech_tagging")
class FrameMask(keras.layers.Layer):
    """`[frames (batch, time, ...), lengths (batch,)]` -> bool mask `(batch, time)`."""

    def compute_mask(self, inputs, previous_mask=None):
        return None  # the mask is this layer's output, not carried on it

    def call(self, inputs):
        frames, lengths = inputs
        positions = ops.arange(ops.shape(frames)[1], dtype="int32")
        return positions[None, :] < ops.cast(lengths, "int32")[:, None]

    def compute_output_spec(self, inputs):
        frames, _ = inputs
        return keras.KerasTensor(tuple(frames.shape[:2]), dtype="bool")


@keras.saving.register_keras_serializable(package="recipes.speech_tagging")
class BlankPadding(keras.layers.Layer):
    """CTC logits whose padded frames emit the blank with probability one.

    At a padded frame every path must then take the blank, so the CTC
    likelihood over the padded length equals the likelihood over the valid
    frames alone, and the loss needs no output lengths. The Keras mask ends
    here: the CTC loss is per utterance, not per frame.
    """

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def call(self, inputs):
        logits, mask = inputs
        classes = ops.shape(logits)[-1]
        blank = ops.where(ops.arange(classes) == BLANK, 0.0, -1e4)
        blank = ops.cast(blank, logits.dtype)
        return ops.where(mask[:, :, None], logits, blank[None, None, :])

    def compute_output_spec(self, inputs):
        logits, _ = inputs
        return keras.KerasTensor(logits.shape, dtype=logits.dtype)


@keras.saving.register_keras_serializable(package="recipes.speech_tagging")
class MaskedCTC(keras.losses.Loss):
    """CTC loss of label sequences padded with -1 (`keras.ops.ctc_loss`).

    `keras.losses.CTC` takes every target position as a label; here the
    target length of each row is its count of labels >= 0. Targets hold
    class indices (1..labels, 0 is the blank); the logits come from
    `BlankPadding`, so the full frame axis is the output length. Returns
    the negative log-likelihood per utterance.
    """

    def __init__(self, name="masked_ctc", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, targets, logits):
        targets = ops.cast(targets, "int32")
        target_lengths = ops.sum(ops.cast(targets >= 0, "int32"), axis=-1)
        batch, frames = ops.shape(logits)[0], ops.shape(logits)[1]
        output_lengths = ops.full((batch,), frames, dtype="int32")
        return ops.ctc_loss(
            ops.maximum(targets, 0),
            ops.cast(logits, "float32"),
            target_lengths,
            output_lengths,
            mask_index=BLANK,
        )


def attention_mechanism(name, units):
    if name == "luong":
        # Luong's general score maps the memory into the query space: no units of its own.
        return toolkit.attention.LuongAttention(score="general", name="attention")
    return toolkit.attention.BahdanauAttention(units, name="attention")


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
        frame_lengths = FrameLengths(name="frame_lengths")(lengths)
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
