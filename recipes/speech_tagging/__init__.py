"""Speech-feature tagging: label every frame of speech from a waveform.

`python -m recipes.speech_tagging` trains a bidirectional-LSTM framewise
tagger (Graves & Schmidhuber, 2005), a `toolkit.models.FrameTagger` with the
audio front-end inside the model, on the bundled corpus
(`recipes/data/speech`, espeak-ng speech with the synthesizer's phone
alignments; `docs/datasets/speech.md`) or on `--data` (a TIMIT-style tree of
`.wav` + `.phn`, `.wav` + Praat `.TextGrid` alignments, or `.npz`
precomputed features), scores frame accuracy and the phone error rate on the
test split beside a scikit-learn MLP on stacked frames, and writes
`metrics.json`, `confusion_matrix.png`, `utterance.png`,
`training_curves.png`, `model.keras`, `labels.txt` and `saved_model/`
(`toolkit.export.export_frame_tagger`: waveforms in; frame labels and
segments out; streaming signatures for unidirectional taggers). `--set
mode=ctc` trains from label sequences with CTC instead. `python -m
recipes.speech_tagging tag RUN_DIR FILE.wav...` prints the segments of wav
files.
"""

from recipes.speech_tagging.config import SpeechTaggingConfig
from recipes.speech_tagging.export import tag_files
from recipes.speech_tagging.job import run

__all__ = ["SpeechTaggingConfig", "run", "tag_files"]
