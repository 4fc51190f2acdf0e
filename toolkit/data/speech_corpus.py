"""The types of a speech corpus: `Utterance`, `SpeechCorpus`, and `label_inventory`.

An `Utterance` holds audio with time-aligned segments (`.phn` / TextGrid
corpora) or features with one label per frame (`.npz` corpora); a
`SpeechCorpus` holds the utterances of a corpus or of one split, and how
they were read. `read_speech_corpus` (`toolkit.data.speech`) makes them,
`load_speech_splits` (`toolkit.data.speech_splits`) splits them, and
`label_inventory` lists the labels of the splits.
"""

import dataclasses

import numpy as np

from toolkit.data.alignments import frame_count
from toolkit.data.alignments import frame_labels
from toolkit.data.alignments import label_frame_counts


@dataclasses.dataclass(frozen=True, eq=False)
class Utterance:
    """One utterance of a speech corpus: audio and aligned labels, or features and frame labels.

    Attributes:
        id: String, the path of the utterance relative to the corpus root,
            without suffix, with `/` separators (e.g. `"train/dr1/fcjf0/sa1"`).
        path: String, the file read: the audio file, or the `.npz` file.
        sample_rate: Integer sample rate in Hz of `waveform` and `segments`
            (`None` for features).
        waveform: Float32 NumPy array `(samples,)` in [-1, 1] (resampled
            audio may overshoot slightly), or `None` for features.
        segments: List of `(start_sample, end_sample, label)` tuples in time
            order, covering `[0, samples)` without gap or overlap (gaps in the
            label file are filled with the silence label); empty for features.
        features: Float32 NumPy array `(frames, channels)`, or `None` for audio.
        frame_labels: NumPy string array `(frames,)` with the label of each
            feature frame, or `None` for audio (see `labels_per_frame`).
        label_path: String, the label file (`.phn`, `.TextGrid`, or the
            `.npz` itself), or `None`.
        speaker: String, the name of the folder holding the utterance (the
            speaker folder of TIMIT-like corpora; with the readers'
            `speaker_level`, of a folder further up), or `None` for a file
            lying directly in the folder read.

    Example:

    >>> import numpy as np
    >>> utterance = Utterance(
    ...     id="s1/a", path="s1/a.wav", sample_rate=16000,
    ...     waveform=np.zeros(1200, "float32"),
    ...     segments=[(0, 500, "sil"), (500, 1200, "aa")], speaker="s1")
    >>> utterance.num_samples, utterance.num_frames(400, 160), utterance.seconds
    (1200, 6, 0.075)
    >>> utterance.labels_per_frame(400, 160).tolist()  # centre samples 200, 360, 520, ...
    ['sil', 'sil', 'aa', 'aa', 'aa', 'aa']
    """

    id: str
    path: str
    sample_rate: int | None
    waveform: np.ndarray | None
    segments: list = dataclasses.field(default_factory=list)
    features: np.ndarray | None = None
    frame_labels: np.ndarray | None = None
    label_path: str | None = None
    speaker: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "segments", [tuple(segment) for segment in self.segments])

    @property
    def num_samples(self):
        """Number of audio samples, or `None` for features."""
        return None if self.waveform is None else int(self.waveform.shape[0])

    @property
    def seconds(self):
        """Duration in seconds, or `None` for features."""
        if self.waveform is None or not self.sample_rate:
            return None
        return self.num_samples / self.sample_rate

    def num_frames(self, frame_length=400, frame_step=160):
        """Number of frames: `frame_count` of the audio, or the feature frames."""
        if self.frame_labels is not None:
            return int(self.frame_labels.shape[0])
        return frame_count(self.num_samples, frame_length, frame_step)

    def labels_per_frame(self, frame_length=400, frame_step=160):
        """Label per frame: `frame_labels` of the segments, or the stored feature labels."""
        if self.frame_labels is not None:
            return self.frame_labels
        return frame_labels(self.segments, self.num_samples, frame_length, frame_step)


@dataclasses.dataclass(frozen=True, eq=False)
class SpeechCorpus:
    """The utterances of a speech corpus (or of one split), and how they were read.

    What `read_speech_corpus` returns, and each split of `load_speech_splits`.

    Attributes:
        utterances: List of `Utterance`, sorted by id.
        source: String, the folder read, or `"split of <folder>"` for a split
            carved out of another source.
        format: String, the format found: `"phn"`, `"textgrid"` or `"npz"`.
        sample_rate: Integer sample rate in Hz of every waveform, or `None`
            for features.
        skipped: List of dicts `{"file": str, "line": None, "reason": str}`,
            one per file that was not read (not a recognized suffix, or not
            used by the chosen format). Empty by default.
        notes: List of strings, what reading changed: resampled files, gaps
            filled with the silence label (with their number of samples),
            clipped or dropped segments, labels deleted by the label map.
            Empty by default.

    Example:

    >>> import numpy as np
    >>> utterance = Utterance("a", "a.npz", None, None, features=np.zeros((3, 2), "float32"),
    ...                       frame_labels=np.array(["x", "y", "x"]))
    >>> corpus = SpeechCorpus([utterance], "corpus", "npz", None)
    >>> len(corpus), corpus.ids, corpus.label_counts()
    (1, ['a'], {'x': 2, 'y': 1})
    """

    utterances: list
    source: str
    format: str
    sample_rate: int | None
    skipped: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        object.__setattr__(self, "utterances", list(self.utterances))
        object.__setattr__(self, "skipped", list(self.skipped))
        object.__setattr__(self, "notes", list(self.notes))
        object.__setattr__(self, "source", str(self.source))

    def __len__(self):
        return len(self.utterances)

    @property
    def ids(self):
        """List of the utterance ids, in order."""
        return [utterance.id for utterance in self.utterances]

    def label_counts(self, frame_length=400, frame_step=160):
        """Dict label -> number of frames with that label, sorted by label."""
        return label_frame_counts(
            label
            for utterance in self.utterances
            for label in utterance.labels_per_frame(frame_length, frame_step).tolist()
        )


def label_inventory(splits, frame_length=400, frame_step=160):
    """The labels of the train split with their frame counts, and the ones train lacks.

    Args:
        splits: Dict of split name -> `SpeechCorpus` (as `load_speech_splits`
            returns), holding `"train"`.
        frame_length: Positive integer (default `400`), samples per frame.
        frame_step: Positive integer (default `160`), samples between frames.

    Returns:
        A dict: `labels` (train's labels, sorted), `label_counts` (label ->
        number of train frames) and `unseen_labels` (per other split, a dict
        label -> frames of the labels train never has; empty when none).

    Example:

    >>> import numpy as np
    >>> def corpus(*labels):
    ...     utterance = Utterance("u", "u.npz", None, None, frame_labels=np.array(labels))
    ...     return SpeechCorpus([utterance], "c", "npz", None)
    >>> label_inventory({"train": corpus("a", "b", "a"), "test": corpus("a", "c")})
    {'labels': ['a', 'b'], 'label_counts': {'a': 2, 'b': 1}, 'unseen_labels': {'test': {'c': 1}}}
    """
    if not isinstance(splits, dict) or "train" not in splits:
        raise ValueError(
            "Argument `splits` expected a dict of SpeechCorpus holding 'train'. "
            f"Received: {splits!r:.200}"
        )
    counts = splits["train"].label_counts(frame_length, frame_step)
    unseen = {}
    for name, split in splits.items():
        if name != "train":
            other = split.label_counts(frame_length, frame_step)
            unseen[name] = {label: count for label, count in other.items() if label not in counts}
    return {"labels": sorted(counts), "label_counts": counts, "unseen_labels": unseen}
