"""The speech-tagging recipe's config: defaults, checks and presets."""

import dataclasses
import pathlib

import toolkit
from recipes.runner import ConfigError
from recipes.runner.config import check_training_values
from recipes.runner.config import check_values
from toolkit.data.speech import SPEECH_FORMATS

BUNDLED_DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "speech"
PRESETS = pathlib.Path(__file__).resolve().parent / "presets"
FEATURES = ("logmel", "mfcc")
CMVN_MODES = ("utterance", "global", "none")
MODES = ("framewise", "ctc")
# The self-attention head over the frames: the toolkit's mechanisms that need no
# previous alignments (`location` does: a decoder drives it), and `luong`, the
# earlier name of `luong-general` that `toolkit.attention.get` still accepts.
ATTENTIONS = ("none", "bahdanau", "luong-dot", "luong-general", "luong-concat", "luong")
CTC_DECODERS = ("greedy", "beam")


@dataclasses.dataclass
class SpeechTaggingConfig:
    """Every field can be set in a YAML preset or with `--set key=value`.

    The defaults are the framewise bidirectional-LSTM tagger of Graves &
    Schmidhuber (2005) at CPU size, tuned on the bundled corpus
    (`docs/datasets/speech.md`): 40 log-mel channels with deltas and
    delta-deltas (dev frame accuracy 0.827 against 0.791 without),
    per-utterance mean and variance normalization, SpecAugment, two
    bidirectional LSTM layers of 128 units, dropout 0.2 (0.3 scored lower),
    Adam 2e-3, early stopping on dev frame accuracy. `presets/streaming.yaml`
    is the unidirectional, streamable variant; `presets/ctc.yaml` trains from
    label sequences with CTC.
    """

    EPOCHS_WITHOUT_BUDGET = 60  # what `epochs: null` means without max_train_minutes

    # Data.
    data: str | None = None  # None: the bundled corpus
    sample_rate: int = 16000
    resample: bool = True  # False: a file at another rate is an error
    tier: str = "phones"  # the TextGrid tier to read
    data_format: str | None = None  # phn | textgrid | npz; None: found from the files
    label_map: str | None = None  # "from to" lines that fold labels (e.g. TIMIT 61 -> 39)
    silence_label: str = "sil"  # fills unlabelled gaps; left out of the phone error rate
    dev_fraction: float = 0.1  # used only when the data has no dev folder
    test_fraction: float = 0.1  # used only when the data has no test folder
    split_seed: int = 1234
    speaker_level: int = 1  # the folder naming the speaker: 1 holds the files, 2 is its parent
    # Front-end (in the model, so the exported model takes a waveform).
    features: str = "logmel"  # logmel | mfcc
    mel_bins: int = 40
    mfcc_coefficients: int = 13
    frame_length: int = 400  # samples: 25 ms at 16 kHz
    frame_step: int = 160  # samples: 10 ms at 16 kHz
    deltas: int = 2  # 0, 1 (deltas) or 2 (deltas and delta-deltas)
    cmvn: str = "utterance"  # utterance | global | none
    spec_augment: bool = True
    frequency_masks: int = 2
    frequency_mask_width: int = 6
    time_masks: int = 2
    time_mask_width: int = 10
    stack_left: int = 0  # frames stacked before each frame
    stack_right: int = 0  # frames stacked after each frame
    stride: int = 1  # keep every `stride`-th frame (labels too)
    # Model.
    mode: str = "framewise"  # framewise (softmax per frame) | ctc (label sequences)
    cell: str = "lstm"
    units: int = 128
    layers: int = 2
    bidirectional: bool = True
    projection: int | None = None  # LSTMP projection size (cell=lstm)
    attention: str = "none"  # none | bahdanau | luong-general | ...: self-attention over frames
    attention_units: int = 64
    dropout: float = 0.2
    ctc_decoder: str = "greedy"  # greedy | beam
    beam_width: int = 8
    # Training.
    seed: int = 1
    epochs: int | None = None  # None: 60 without a time budget; with one, until it ends
    batch_size: int = 8
    learning_rate: float = 2e-3  # the peak of the schedule
    lr_schedule: str = "stable-decay"  # warm-up, peak, decay over the last 30% | cosine | constant
    global_clipnorm: float | None = 1.0  # gradients clipped to this global norm; null: none
    patience: int | None = 6
    max_train_minutes: float | None = None
    mixed_precision: bool = False
    strategy: str = "default"
    verbose: int = 1
    # Reports.
    baseline: bool = True  # scikit-learn MLP on stacked frames, side by side
    baseline_context: int = 5  # frames stacked on each side for the baseline
    baseline_hidden: int = 256
    plot_utterance: int = 0  # index of the test utterance plotted
    saved_model: bool = True  # false: no SavedModel (sweeps); the `export` command writes it

    def __post_init__(self):
        check_training_values(self)
        check_values(
            self,
            choices={
                "features": FEATURES,
                "cmvn": CMVN_MODES,
                "mode": MODES,
                "attention": ATTENTIONS,
                "ctc_decoder": CTC_DECODERS,
                "cell": toolkit.layers.available(),
                "deltas": (0, 1, 2),
                "data_format": (None, *SPEECH_FORMATS),
            },
            positive=(
                "sample_rate mel_bins mfcc_coefficients frame_length frame_step stride units "
                "layers attention_units beam_width baseline_hidden projection speaker_level"
            ).split(),
            non_negative=(
                "frequency_masks frequency_mask_width time_masks time_mask_width stack_left "
                "stack_right baseline_context plot_utterance"
            ).split(),
        )
        if self.frame_step > self.frame_length:
            raise ConfigError(
                "Config key `frame_step` expected at most `frame_length` "
                f"({self.frame_length}). Received: {self.frame_step!r}"
            )
        if self.features == "mfcc" and self.mfcc_coefficients > self.mel_bins:
            raise ConfigError(
                f"Config key `mfcc_coefficients` expected at most `mel_bins` ({self.mel_bins}). "
                f"Received: {self.mfcc_coefficients!r}"
            )
        if self.projection is not None and self.cell != "lstm":
            raise ConfigError(
                "Config key `projection` (LSTMP) needs `cell: lstm`. "
                f"Received: cell={self.cell!r}, projection={self.projection!r}"
            )

    @property
    def data_path(self):
        """The data to read: `data`, or the bundled corpus when it is `None`."""
        return pathlib.Path(self.data) if self.data is not None else BUNDLED_DATA

    @property
    def streamable(self):
        """Whether the model can tag audio chunk by chunk (`streaming_blockers` is empty)."""
        return not self.streaming_blockers()

    def streaming_blockers(self):
        """Why this config cannot stream: each entry names a key and its value."""
        from toolkit.models.frame_tagger import streaming_blockers

        return streaming_blockers(
            feature_channels=None,  # a corpus of features is found when the data is read
            bidirectional=self.bidirectional,
            mode=self.mode,
            cmvn=self.cmvn,
            deltas=self.deltas,
            stack_left=self.stack_left,
            stack_right=self.stack_right,
            stride=self.stride,
            attention=self.attention,
        )
