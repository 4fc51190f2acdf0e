"""Audio front-end: waveforms to features, and layers on feature sequences.

Waveforms are `(batch, samples)` float32 in [-1, 1]; features are
`(batch, frames, channels)`. Framing is Kaldi's and HTK's "snip edges" (no
centering): frame `t` covers samples `[t * frame_step, t * frame_step +
frame_length)` and `n` samples make `frame_lengths(n)` frames. Valid lengths
are explicit: `LogMelSpectrogram.output_lengths` / `frame_lengths` turn sample
counts into frame counts, `sequence_mask` turns those into the boolean
`mask` that `Deltas`, `CMVN`, `SpecAugment` and `FrameStacking` take, and
`FrameStacking.output_lengths` gives the counts after subsampling. Inside a
functional model, the layers `FrameLengths` and `FrameMask` do the same from a
`lengths` input. Padded frames never change a sequence's valid outputs, and
are zero in the outputs of the mask-aware layers.

Layers are written with `keras.ops` only: they run on every backend, under
`model.fit`, and export into a TensorFlow SavedModel.
"""

from toolkit.features.cmvn import CMVN
from toolkit.features.deltas import Deltas
from toolkit.features.frame_stacking import FrameStacking
from toolkit.features.length_layers import FrameLengths
from toolkit.features.length_layers import FrameMask
from toolkit.features.lengths import frame_lengths
from toolkit.features.lengths import sequence_mask
from toolkit.features.log_mel import LogMelSpectrogram
from toolkit.features.mel import mel_filterbank
from toolkit.features.mfcc import MFCC
from toolkit.features.spec_augment import SpecAugment

__all__ = [
    "LogMelSpectrogram",
    "MFCC",
    "Deltas",
    "CMVN",
    "SpecAugment",
    "FrameStacking",
    "FrameLengths",
    "FrameMask",
    "frame_lengths",
    "sequence_mask",
    "mel_filterbank",
]
