"""Loaders for the common on-disk formats, to Python lists and `tf.data`.

Every reader raises `DataError` (a `ValueError` naming the file and line) for
a file it cannot read as asked.
`read_labelled_texts(path)` reads labelled text from a CSV, TSV or JSON Lines
file or a `root/<label>/*.txt` class-folder tree into a `LabelledTexts`
(texts, labels, and the skipped rows with file, line and reason);
`load_text_splits(path)` returns train / dev / test splits - the ones a data
directory holds, the missing ones carved out with a seeded stratified
split - and a JSON-serializable record of what it did; `text_dataset` batches
texts and label indices into a `tf.data.Dataset` for `model.fit` on any
backend, and `without_autotuning` keeps `tf.data`'s autotuning thread from
stalling each epoch's start; `split_words_and_punctuation` is the
`TextVectorization` split that keeps punctuation as tokens. For
translation, `read_parallel_texts` reads sentence pairs (TSV or two aligned
files) into a `ParallelTexts` and `load_parallel_splits` returns their
train / dev / test splits. For speech,
`read_speech_corpus` reads a folder of utterances with time-aligned labels
(`.wav` + TIMIT `.phn`, `.wav` + Praat / MFA `.TextGrid`, or `.npz` features
with frame labels) into a `SpeechCorpus` of `Utterance`s, resampling audio to
one rate and folding labels with a `read_label_map` map; `load_speech_splits`
returns its train / dev / test splits (given folders, or a seeded split by
speaker, or by utterance within speakers when there are too few) and a record
with the `label_inventory`;
`read_waveform` reads one WAV or SPHERE file; `frame_count` and
`frame_labels` cut a signal into labelled frames as the feature layers do.
For long-range memory, `adding_problem` and `copy_memory` generate the
classic synthetic tasks (with `copy_memory_baseline`, the memoryless loss).
"""

from toolkit.data.alignments import frame_count
from toolkit.data.alignments import frame_labels
from toolkit.data.alignments import read_label_map
from toolkit.data.audio import read_waveform
from toolkit.data.datasets import text_dataset
from toolkit.data.datasets import without_autotuning
from toolkit.data.files import DataError
from toolkit.data.parallel import ParallelTexts
from toolkit.data.parallel import load_parallel_splits
from toolkit.data.parallel import read_parallel_texts
from toolkit.data.speech import read_speech_corpus
from toolkit.data.speech_corpus import SpeechCorpus
from toolkit.data.speech_corpus import Utterance
from toolkit.data.speech_corpus import label_inventory
from toolkit.data.speech_splits import load_speech_splits
from toolkit.data.splits import load_text_splits
from toolkit.data.synthetic import adding_problem
from toolkit.data.synthetic import copy_memory
from toolkit.data.synthetic import copy_memory_baseline
from toolkit.data.text import LabelledTexts
from toolkit.data.text import read_labelled_texts
from toolkit.data.tokens import split_words_and_punctuation

__all__ = [
    "DataError",
    "LabelledTexts",
    "read_labelled_texts",
    "load_text_splits",
    "text_dataset",
    "without_autotuning",
    "split_words_and_punctuation",
    "ParallelTexts",
    "read_parallel_texts",
    "load_parallel_splits",
    "Utterance",
    "SpeechCorpus",
    "read_speech_corpus",
    "load_speech_splits",
    "label_inventory",
    "read_label_map",
    "read_waveform",
    "frame_count",
    "frame_labels",
    "adding_problem",
    "copy_memory",
    "copy_memory_baseline",
]
