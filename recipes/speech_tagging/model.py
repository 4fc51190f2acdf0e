"""The recipe's tagger: `toolkit.models.FrameTagger` with the config's arguments.

The model itself (front-end, recurrent layers, head, its frames and CMVN
statistics) is the library's; this module maps a `SpeechTaggingConfig` to its
constructor arguments and turns the functional `frame_tagger` models of run
folders written before it into a `FrameTagger` with the same weights.
"""

import keras

from toolkit.features import FrameLengths
from toolkit.features import FrameMask
from toolkit.losses import BlankPadding
from toolkit.losses import MaskedCTC
from toolkit.models import FrameTagger

# Models saved before these classes moved into the library name them
# `recipes.speech_tagging>...`; those names still load (with this module imported).
LEGACY_NAMES = {
    f"recipes.speech_tagging>{cls.__name__}": cls
    for cls in (FrameLengths, FrameMask, BlankPadding, MaskedCTC)
}
keras.saving.get_custom_objects().update(LEGACY_NAMES)


def tagger_arguments(config, label_count, feature_channels=None, label_names=None):
    """`FrameTagger`'s constructor arguments of a `SpeechTaggingConfig`."""
    return dict(
        num_labels=label_count,
        label_names=label_names,
        mode=config.mode,
        features=config.features,
        sample_rate=config.sample_rate,
        frame_length=config.frame_length,
        frame_step=config.frame_step,
        mel_bins=config.mel_bins,
        mfcc_coefficients=config.mfcc_coefficients,
        deltas=config.deltas,
        cmvn=config.cmvn,
        spec_augment=config.spec_augment,
        frequency_masks=config.frequency_masks,
        frequency_mask_width=config.frequency_mask_width,
        time_masks=config.time_masks,
        time_mask_width=config.time_mask_width,
        seed=config.seed,
        stack_left=config.stack_left,
        stack_right=config.stack_right,
        stride=config.stride,
        feature_channels=feature_channels,
        cell=config.cell,
        units=config.units,
        num_layers=config.layers,
        bidirectional=config.bidirectional,
        projection=config.projection,
        attention=config.attention,
        attention_units=config.attention_units,
        dropout=config.dropout,
    )


def build_tagger(config, label_count, feature_channels=None, label_names=None):
    """The `FrameTagger` of `config`.

    Args:
        config: A `SpeechTaggingConfig`.
        label_count: Number of labels (frame classes without the blank).
        feature_channels: `None` for waveform input; the channel count of
            precomputed features otherwise.
        label_names: Optional list of the labels' names.

    `cmvn: global` statistics start at zero mean and unit variance; set
    them with `FrameTagger.adapt_cmvn` before training.
    """
    return FrameTagger(**tagger_arguments(config, label_count, feature_channels, label_names))


def as_frame_tagger(model, config, labels):
    """A run folder's model as a `FrameTagger`.

    Runs written before the recipe used `toolkit.models.FrameTagger` saved a
    functional model named `frame_tagger` of the same layers: a tagger of
    the config gets its weights (in the same order).
    """
    if isinstance(model, FrameTagger):
        return model
    channels = None if model.inputs[0].name == "waveform" else model.inputs[0].shape[-1]
    tagger = build_tagger(config, len(labels), channels, label_names=list(labels))
    tagger.set_weights(model.get_weights())
    return tagger
