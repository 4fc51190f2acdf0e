"""Speech corpora with time-aligned labels, and their train / dev / test splits.

`read_speech_corpus(root)` reads every utterance under a folder (any
nesting) in one of three formats - it finds which:

* `"phn"` (TIMIT): `<stem>.wav` with `<stem>.phn` beside it (suffixes in
  any case, `.WAV` / `.PHN` as TIMIT has them). The `.phn` positions are
  samples of the audio file.
* `"textgrid"` (Montreal Forced Aligner): `<stem>.wav` with
  `<stem>.TextGrid`; the interval tier `tier` (default `"phones"`) is read,
  times in seconds.
* `"npz"`: `<stem>.npz` holding `features` `(frames, channels)` and `labels`
  `(frames,)`, no audio.

Audio is RIFF WAV or NIST SPHERE 16-bit PCM (see `toolkit.data.audio`);
TIMIT copies that hold both `SA1.WAV` (SPHERE) and a converted
`SA1.WAV.wav` use the converted file. `load_speech_splits(root)` returns the
train / dev / test splits (given as folders, or carved out seeded: whole
speakers where they meet the fractions, else utterances within the speakers)
and a JSON-serializable record of where they came from.
"""

import collections
import dataclasses
import math
import os
import pathlib
import zipfile
import zlib

import numpy as np

from toolkit.data.alignments import check_label_map
from toolkit.data.alignments import fold_frame_labels
from toolkit.data.alignments import frame_count
from toolkit.data.alignments import frame_labels
from toolkit.data.alignments import label_frame_counts
from toolkit.data.alignments import prepare_segments
from toolkit.data.alignments import read_phn
from toolkit.data.alignments import read_textgrid_tier
from toolkit.data.alignments import textgrid_segments
from toolkit.data.audio import check_sample_rate
from toolkit.data.audio import conform_rate
from toolkit.data.audio import read_native
from toolkit.data.audio import rescale_sample
from toolkit.data.carving import carve
from toolkit.data.files import DataError
from toolkit.data.files import check_path
from toolkit.data.files import data_error
from toolkit.data.files import skipped_entry
from toolkit.data.splits import SPLITS
from toolkit.data.splits import _skipped_record
from toolkit.data.splits import _split_entries
from toolkit.data.splits import _to_carve
from toolkit.data.splits import check_split_arguments

SPEECH_FORMATS = ("phn", "textgrid", "npz")
_SUFFIX_KINDS = {".wav": "audio", ".phn": "phn", ".textgrid": "textgrid", ".npz": "npz"}


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


def read_speech_corpus(
    path,
    *,
    sample_rate=16000,
    resample=True,
    tier="phones",
    silence_label="sil",
    label_map=None,
    format=None,
    end_tolerance=0.01,
    speaker_level=1,
):
    """Reads the utterances of a speech corpus folder with time-aligned labels.

    Walks `path` recursively (sorted; hidden files and folders ignored) and
    reads every utterance in one format (see the module docstring: `"phn"`
    = `.wav` + `.phn`, `"textgrid"` = `.wav` + `.TextGrid`, `"npz"` =
    features + frame labels); files with other suffixes (TIMIT's `.txt`,
    `.wrd`, ...) are recorded in `skipped`.

    Segments are checked (no negative start, none reversed or overlapping the
    previous one), converted to samples at `sample_rate` (`.phn` positions are
    rescaled with the audio, rounding half up; TextGrid times are
    `round(seconds * sample_rate)`), and made to cover the whole waveform:
    gaps (and a TextGrid's empty intervals) get `silence_label`. An end up to
    `end_tolerance` seconds past the last sample is clipped to it (a
    rounding slack of about one 10 ms frame step); further is an error.
    `label_map` folds labels: a deleted label's time merges into the previous
    segment (the next one at the start; for features, deleted frames take
    the previous frame's label). `silence_label` is a label after folding: it
    is not looked up in the map. MFA's `sil` / `sp` / `spn` are ordinary
    labels (fold them with the map if wanted).

    Args:
        path: Path (string or path-like) of the corpus folder.
        sample_rate: Positive integer (default `16000`), the sample rate in
            Hz of every returned waveform and segment.
        resample: Boolean (default `True`): resample audio at another rate
            with `scipy.signal.resample_poly`; when `False` such a file is an
            error naming its rate.
        tier: String (default `"phones"`), the TextGrid tier to read.
        silence_label: Non-empty string (default `"sil"`), the label of gaps
            and empty TextGrid intervals (and empty `.npz` labels).
        label_map: `None` (default), a dict `{from: to}` (`to` `None` or `"-"`
            deletes the label), or the path of a map file (`read_label_map`).
        format: `None` (default: found from the files), or one of `"phn"`,
            `"textgrid"`, `"npz"` to read only that format (the other label
            files are then recorded in `skipped`).
        end_tolerance: Non-negative float (default `0.01`), seconds a segment
            may end past the end of the audio before it is an error.
        speaker_level: Positive integer (default `1`), which folder above an
            utterance's files names its speaker: `1` the folder holding them
            (TIMIT's `DR1/FCJF0/SA1.WAV`), `2` that folder's parent
            (LibriSpeech's and MFA's `speaker/chapter/utterance`), and so on.
            Files less deep below `path` have no speaker.

    Returns:
        A `SpeechCorpus` with `source` set to `path`.

    Raises:
        DataError: a folder without recognized files; an audio file without
            its label file (or a label file without audio); several formats
            in one corpus (or for one stem, without `format`); a label file
            that does not decode or parse (naming the line); a negative,
            reversed, overlapping or too-long segment (naming the line);
            empty, cut, multi-channel, unreadable or (with `resample=False`)
            wrongly sampled audio (see `read_waveform`); a TextGrid without
            the tier (listing its tiers); an `.npz` that is no readable
            archive of arrays, without `features` / `labels`, with
            inconsistent shapes or labels that are not UTF-8 text. Each
            message names the file.
        ValueError: bad arguments (naming them).

    Example:

    >>> import os, shutil, tempfile, wave
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "spk1"))
    >>> with wave.open(os.path.join(root, "spk1", "u1.wav"), "wb") as file:
    ...     file.setnchannels(1)
    ...     file.setsampwidth(2)
    ...     file.setframerate(16000)
    ...     file.writeframes(bytes(2 * 1600))
    >>> with open(os.path.join(root, "spk1", "u1.phn"), "w") as file:
    ...     _ = file.write("0 400 h#\\n400 1000 aa\\n1200 1600 b\\n")
    >>> corpus = read_speech_corpus(root, label_map={"h#": "sil"})
    >>> corpus.format, corpus.ids
    ('phn', ['spk1/u1'])
    >>> corpus.utterances[0].segments
    [(0, 400, 'sil'), (400, 1000, 'aa'), (1000, 1200, 'sil'), (1200, 1600, 'b')]
    >>> corpus.utterances[0].labels_per_frame().tolist()
    ['sil', 'sil', 'aa', 'aa', 'aa', 'sil', 'sil', 'b']
    >>> corpus.notes
    ["filled 1 gap(s) between segments (200 samples) with the silence label 'sil'"]
    >>> shutil.rmtree(root)
    """
    options = _check_options(
        sample_rate, resample, tier, silence_label, label_map, format, end_tolerance, speaker_level
    )
    path = _check_folder(path)
    return _read_corpus(path, path, options)


def load_speech_splits(
    path,
    *,
    seed=0,
    dev_fraction=0.1,
    test_fraction=0.1,
    group_by_speaker=True,
    sample_rate=16000,
    resample=True,
    tier="phones",
    silence_label="sil",
    label_map=None,
    format=None,
    end_tolerance=0.01,
    speaker_level=1,
    frame_length=400,
    frame_step=160,
):
    """Loads the train, dev and test splits of a speech corpus.

    Where the splits come from:

    * `path` holds sub-folders named `train`, `dev` (or `valid` /
      `validation`) and `test`, matched case-insensitively (TIMIT has
      `TRAIN` and `TEST`): each is read with `read_speech_corpus` (utterance
      ids keep the folder, e.g. `TRAIN/DR1/FCJF0/SA1`). `train` is required;
      a missing `dev` and/or `test` is carved out of `train`. Other entries
      of `path` are ignored (listed in the record's notes).
    * otherwise the whole folder is read and `test`, then `dev`, are carved
      out of it.

    Carving follows the split policy of `toolkit.data.carving`, seeded. With
    `group_by_speaker=True` (default) the utterances are grouped by speaker -
    the name of the folder holding them, or of the folder `speaker_level`
    levels up; an utterance with no speaker folder (lying directly in the
    folder read) is a group of its own. Whole speakers are carved, so that no
    speaker is in two splits, when they can meet the fractions closely: the
    speakers are shuffled with `numpy.random.default_rng(seed)` and each
    carved split (test, then dev) takes them in that order, never going over
    1.5 times its `round(fraction * utterances)` utterances; the draw is kept
    when every carved split holds at least 2/3 of its utterances and train
    keeps at least 2 speakers and 2/3 of the utterances left to it.
    Otherwise (few speakers, or speakers large against the fraction, e.g. 3
    speakers where one is 40% of train for a `dev_fraction` of 0.1) every
    carved split is carved by utterance within the speakers: each speaker
    gives about the fraction of its own utterances (a split stratified by
    speaker), so dev and test hold train's speakers. With
    `group_by_speaker=False`, or no speaker folders, utterances are carved
    one by one. The record's `split_policy` says which was done and why, and
    so does a line of its notes. The same arguments give the same splits. A
    split that ends up empty is an error.

    Args:
        path: Path (string or path-like) of the corpus folder.
        seed: Non-negative integer (default `0`), the seed of the split.
        dev_fraction: Float in [0, 1) (default `0.1`), the fraction of the
            utterances carved out as `dev` when no dev folder is given.
        test_fraction: Float in [0, 1) (default `0.1`), the fraction carved
            out as `test` when no test folder is given.
        group_by_speaker: Boolean (default `True`): carve whole speaker
            folders where they meet the fractions, else utterances within
            the speakers; `False` carves single utterances.
        sample_rate, resample, tier, silence_label, label_map, format,
            end_tolerance, speaker_level: as for `read_speech_corpus` (a map
            file is read once, for all splits).
        frame_length: Positive integer (default `400`), the frame length of
            the frame counts in the record (audio formats).
        frame_step: Positive integer (default `160`), their frame step.

    Returns:
        A tuple `(splits, record)`: `splits` is a dict `{"train", "dev",
        "test"}` of `SpeechCorpus` (a carved split has
        `source="split of <path>"`, no skipped files and no notes), and
        `record` a JSON-serializable dict: `source`, `layout`
        (`"split folders"` or `"single source"`), `format`, `sample_rate`,
        `seed`, `dev_fraction`, `test_fraction`, `group_by_speaker`,
        `grouped_by` (`"speaker"` for whole speakers, `"utterance"`, or
        `None` when nothing was carved), `split_policy` (`dev` and `test`:
        `"given"`, `"empty"`, `"by speaker"`, `"by utterance within
        speakers"` or `"by utterance"`; and the `reason`), `tier` (`None`
        unless TextGrid), `silence_label`,
        `label_map` (`None` or `{"source", "size", "deleted"}`),
        `frame_length`, `frame_step`, then what `label_inventory` returns
        (`labels`, `label_counts`, `unseen_labels`), `splits` (per split:
        `source`, `utterances`, `speakers`, `frames`, `seconds` (`None` for
        features), and `fraction` when carved), `skipped` (`count`,
        `by_reason`, the `first` 20 entries) and `notes`.

    Raises:
        DataError: dev / test folders without a train folder, or two folders
            for one split; splits in different formats; too few utterances
            or speakers to carve a split; an empty split; and every data
            error of `read_speech_corpus`.
        ValueError: bad arguments (naming them).

    Example:

    >>> import os, shutil, tempfile, wave
    >>> root = tempfile.mkdtemp()
    >>> for speaker in ["s1", "s2", "s3", "s4", "s5"]:
    ...     os.makedirs(os.path.join(root, speaker))
    ...     for name in ["a", "b"]:
    ...         stem = os.path.join(root, speaker, name)
    ...         with wave.open(stem + ".wav", "wb") as file:
    ...             file.setnchannels(1)
    ...             file.setsampwidth(2)
    ...             file.setframerate(16000)
    ...             file.writeframes(bytes(2 * 800))
    ...         with open(stem + ".phn", "w") as file:
    ...             _ = file.write("0 400 sil\\n400 800 " + name + "\\n")
    >>> splits, record = load_speech_splits(root, dev_fraction=0.2, test_fraction=0.2)
    >>> {name: len(split) for name, split in splits.items()}
    {'train': 6, 'dev': 2, 'test': 2}
    >>> record["layout"], record["grouped_by"], record["labels"]
    ('single source', 'speaker', ['a', 'b', 'sil'])
    >>> record["split_policy"]["dev"], record["notes"][0].split(":")[0]
    ('by speaker', 'dev and test carved by speaker')
    >>> record["splits"]["dev"]["speakers"], record["unseen_labels"]
    (1, {'dev': {}, 'test': {}})
    >>> shutil.rmtree(root)
    """
    dev_fraction, test_fraction, seed = check_split_arguments(dev_fraction, test_fraction, seed)
    if not isinstance(group_by_speaker, bool):
        raise ValueError(
            "Argument `group_by_speaker` expected a boolean. "
            f"Received: group_by_speaker={group_by_speaker!r}"
        )
    options = _check_options(
        sample_rate, resample, tier, silence_label, label_map, format, end_tolerance, speaker_level
    )
    frame_count(0, frame_length, frame_step)  # checks the framing arguments
    path = _check_folder(path)

    notes = []
    folders = _split_entries(path, notes, folders_only=True)
    given = {}
    if folders:
        for name, folder in folders.items():
            given[name] = _read_corpus(folder, path, options)
        formats = {name: corpus.format for name, corpus in given.items()}
        if len(set(formats.values())) > 1:
            raise data_error(
                path,
                None,
                f"holds splits in different formats: {formats}. Expected one format for "
                "the whole corpus",
            )
        _check_channels([u for corpus in given.values() for u in corpus.utterances])
    else:
        given["train"] = _read_corpus(path, path, options)
    to_carve = _to_carve(given, dev_fraction, test_fraction, notes)
    source = given.pop("train")
    carving = carve(
        len(source),
        to_carve,
        seed,
        source=source.source,
        item="utterance",
        groups=[u.speaker for u in source.utterances] if group_by_speaker else None,
        group="speaker",
    )
    notes.extend(carving.notes)

    def select(indices, carved):
        utterances = [source.utterances[i] for i in indices]
        if not carved:  # train keeps the source's skipped files and notes
            return dataclasses.replace(source, utterances=utterances)
        return SpeechCorpus(
            utterances, f"split of {source.source}", source.format, source.sample_rate
        )

    splits = carving.splits(select)
    splits.update(given)
    splits = {name: splits[name] for name in SPLITS}
    for name, split in splits.items():
        if not split.utterances:
            raise data_error(
                path,
                None,
                f"the {name} split is empty: give a {name} folder or a non-zero "
                f"{name}_fraction. Received: {name}_fraction="
                f"{dev_fraction if name == 'dev' else test_fraction}",
            )
    for corpus in [source, *given.values()]:
        notes.extend(f"{corpus.source}: {note}" for note in corpus.notes)

    mapping, map_source = options["label_map"]
    record = {
        "source": path,
        "layout": "split folders" if folders else "single source",
        "format": source.format,
        "sample_rate": source.sample_rate,
        "seed": seed,
        "dev_fraction": dev_fraction,
        "test_fraction": test_fraction,
        "group_by_speaker": group_by_speaker,
        "speaker_level": speaker_level,
        "grouped_by": carving.unit,
        "split_policy": carving.record(),
        "tier": tier if source.format == "textgrid" else None,
        "silence_label": silence_label,
        "label_map": None
        if mapping is None
        else {
            "source": map_source,
            "size": len(mapping),
            "deleted": sorted(key for key, value in mapping.items() if value is None),
        },
        "frame_length": frame_length,
        "frame_step": frame_step,
        **label_inventory(splits, frame_length, frame_step),
        "splits": {},
        "skipped": _skipped_record(splits, by_file=False),
        "notes": notes,
    }
    for name, unseen in record["unseen_labels"].items():
        if unseen:
            notes.append(
                f"the {name} split has labels train never has (frames): {unseen}; a tagger "
                "trained on train cannot output them"
            )
    for name, split in splits.items():
        seconds = [utterance.seconds for utterance in split.utterances]
        record["splits"][name] = {
            "source": split.source,
            "utterances": len(split),
            "speakers": len({u.speaker for u in split.utterances if u.speaker is not None}),
            "frames": sum(u.num_frames(frame_length, frame_step) for u in split.utterances),
            "seconds": None if None in seconds else round(sum(seconds), 3),
        }
        if name in to_carve:
            record["splits"][name]["fraction"] = to_carve[name]
    return splits, record


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


# === Arguments ===


def _check_options(
    sample_rate, resample, tier, silence_label, label_map, format, end_tolerance, speaker_level
):
    sample_rate = check_sample_rate(sample_rate)
    if not isinstance(resample, bool):
        raise ValueError(f"Argument `resample` expected a boolean. Received: resample={resample!r}")
    for name, value in (("tier", tier), ("silence_label", silence_label)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(
                f"Argument `{name}` expected a non-empty string. Received: {name}={value!r}"
            )
    if format is not None and format not in SPEECH_FORMATS:
        raise ValueError(
            f"Argument `format` expected None or one of {list(SPEECH_FORMATS)}. "
            f"Received: format={format!r}"
        )
    valid = isinstance(end_tolerance, (int, float)) and not isinstance(end_tolerance, bool)
    if not valid or not end_tolerance >= 0 or math.isinf(end_tolerance):
        raise ValueError(
            "Argument `end_tolerance` expected a non-negative number of seconds. "
            f"Received: end_tolerance={end_tolerance!r}"
        )
    return {
        "sample_rate": sample_rate,
        "resample": resample,
        "tier": tier,
        "silence_label": silence_label,
        "label_map": check_label_map(label_map),
        "format": format,
        "tolerance": int(math.floor(end_tolerance * sample_rate + 0.5)),
        "speaker_level": _check_speaker_level(speaker_level),
    }


def _check_speaker_level(speaker_level):
    if isinstance(speaker_level, bool) or not isinstance(speaker_level, int) or speaker_level < 1:
        raise ValueError(
            "Argument `speaker_level` expected a positive integer (1: the folder holding an "
            f"utterance names its speaker). Received: speaker_level={speaker_level!r}"
        )
    return speaker_level


def _speaker(folder, root, level):
    """The name of the folder `level` levels above an utterance's files (1: the folder
    holding them), or `None` when that is `root` or above it."""
    parts = pathlib.PurePath(os.path.relpath(folder, root)).parts
    if parts in ((), (".",)) or len(parts) < level:
        return None
    return parts[len(parts) - level]


def _check_folder(path):
    path = check_path(path)
    if not os.path.isdir(path):
        raise ValueError(
            "Argument `path` expected the folder of a speech corpus. "
            f"Received: path={path!r} (a file)"
        )
    return path


# === Files to utterances ===


def _collect(root, format):
    """`(units, skipped)`: `units` maps `(folder, stem)` -> {kind: [files]}."""
    units = collections.defaultdict(lambda: collections.defaultdict(list))
    skipped = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            file = os.path.join(folder, name)
            stem, suffix = os.path.splitext(name)
            kind = _SUFFIX_KINDS.get(suffix.lower())
            if kind is None:
                skipped.append(
                    skipped_entry(file, None, f"not a recognized file (suffix {suffix.lower()!r})")
                )
                continue
            if kind == "audio" and stem.lower().endswith(".wav"):
                stem, kind = stem[:-4], "converted audio"  # TIMIT's SA1.WAV.wav beside SA1.WAV
            units[(folder, stem)][kind].append(file)
    return units, skipped


def _unit_format(root, unit, format, skipped):
    """The format of one stem's files (or `None` when it has nothing to read)."""
    converted = unit.pop("converted audio", [])
    if converted:
        plain = unit.get("audio", [])
        if len(converted) == 1 and len(plain) <= 1:
            skipped.extend(
                skipped_entry(file, None, f"audio also given as {converted[0]}") for file in plain
            )
            unit["audio"] = converted
        else:
            unit["audio"] = converted + plain  # several audio files: an error below
    present = {kind for kind, files in unit.items() if files}
    for kind in present:
        if len(unit[kind]) > 1:
            raise data_error(
                root,
                None,
                f"holds {len(unit[kind])} {kind} files for one utterance, expected one. "
                f"Received: {sorted(unit[kind])}",
            )
    labels = present & {"phn", "textgrid"}
    if format is not None:
        for kind in sorted(present - {format, "audio" if format != "npz" else None}):
            skipped.append(skipped_entry(unit[kind][0], None, f"not used: format={format!r}"))
        if format == "npz":
            return "npz" if "npz" in present else None
        present, labels = present & {"audio", format}, labels & {format}
    elif "npz" in present:
        if present != {"npz"}:
            others = sorted(unit[kind][0] for kind in present if kind != "npz")
            raise data_error(
                unit["npz"][0],
                None,
                f"features (.npz) and audio / label files for one utterance: {others}. Pass "
                "`format` ('npz', 'phn' or 'textgrid') to say which to read",
            )
        return "npz"
    if len(labels) > 1:
        raise data_error(
            unit["audio"][0] if "audio" in present else unit["phn"][0],
            None,
            f"has both a .phn and a .TextGrid file: {sorted(unit['phn'] + unit['textgrid'])}. "
            "Pass `format` ('phn' or 'textgrid') to say which to read",
        )
    if "audio" not in present:
        if labels:
            label_file = unit[next(iter(labels))][0]
            raise data_error(label_file, None, "is a label file without its audio (.wav) beside it")
        return None
    if not labels:
        wanted = {"phn": "a .phn file", "textgrid": "a .TextGrid file"}.get(
            format, "a .phn or .TextGrid file"
        )
        raise data_error(
            unit["audio"][0],
            None,
            f"has no label file: expected {wanted} with the same stem beside it",
        )
    return next(iter(labels))


def _read_corpus(root, id_root, options):
    format = options["format"]
    units, skipped = _collect(root, format)
    found = {}
    for key in sorted(units):
        unit_format = _unit_format(root, units[key], format, skipped)
        if unit_format is not None:
            found[key] = unit_format
    if not found:
        names = sorted(entry.name for entry in os.scandir(root) if not entry.name.startswith("."))
        raise data_error(
            root,
            None,
            "holds no recognized speech files: expected .wav files with a .phn or .TextGrid "
            f"file beside them, or .npz feature files. Received: {names[:20]}"
            + (f" and {len(names) - 20} more" if len(names) > 20 else ""),
        )
    formats = sorted(set(found.values()))
    if len(formats) > 1:
        examples = {
            f: next(next(_main_file(units[k])) for k, v in found.items() if v == f) for f in formats
        }
        raise data_error(
            root,
            None,
            f"mixes the formats {formats}: expected one format for the whole corpus. "
            f"Received e.g. {examples}. Pass `format` to read only one",
        )
    corpus_format = formats[0]
    stats = collections.Counter()
    rates = collections.Counter()
    utterances = []
    for (folder, stem), unit_format in found.items():
        unit = units[(folder, stem)]
        relative = os.path.relpath(os.path.join(folder, stem), id_root)
        speaker = _speaker(folder, root, options["speaker_level"])
        identifier = relative.replace(os.sep, "/")
        if unit_format == "npz":
            utterances.append(_read_npz(unit["npz"][0], identifier, speaker, options, stats))
        else:
            label_path = unit[unit_format][0]
            utterances.append(
                _read_audio_utterance(
                    unit["audio"][0],
                    label_path,
                    unit_format,
                    identifier,
                    speaker,
                    options,
                    stats,
                    rates,
                )
            )
    utterances.sort(key=lambda utterance: utterance.id)
    _check_channels(utterances)
    return SpeechCorpus(
        utterances,
        root,
        corpus_format,
        None if corpus_format == "npz" else options["sample_rate"],
        skipped,
        _notes(stats, rates, options),
    )


def _check_channels(utterances):
    """Raises a `DataError` naming the first `.npz` file whose feature channels differ
    from the first file's (a model takes one feature width)."""
    first = None
    for utterance in utterances:
        if utterance.features is None:
            continue
        if first is None:
            first = utterance
        elif utterance.features.shape[1] != first.features.shape[1]:
            raise data_error(
                utterance.path,
                None,
                f"holds features of {utterance.features.shape[1]} channels, expected "
                f"{first.features.shape[1]} as in {first.path} (one width for the corpus)",
            )


def _main_file(unit):
    for kind in ("audio", "npz", "phn", "textgrid"):
        if unit.get(kind):
            yield unit[kind][0]


def _read_audio_utterance(
    audio_path, label_path, format, identifier, speaker, options, stats, rates
):
    sample_rate = options["sample_rate"]
    waveform, rate = read_native(audio_path)
    waveform = conform_rate(audio_path, waveform, rate, sample_rate, options["resample"])
    if rate != sample_rate:
        rates[rate] += 1
    if format == "phn":
        raw = read_phn(label_path)
        if rate != sample_rate:
            raw = [
                (
                    rescale_sample(s, rate, sample_rate),
                    rescale_sample(e, rate, sample_rate),
                    label,
                    line,
                )
                if s >= 0 and e >= 0
                else (s, e, label, line)
                for s, e, label, line in raw
            ]
    else:
        entries = read_textgrid_tier(label_path, options["tier"])
        raw = textgrid_segments(entries, sample_rate, label_path)
    mapping, _ = options["label_map"]
    segments = prepare_segments(
        label_path,
        raw,
        int(waveform.shape[0]),
        options["silence_label"],
        mapping,
        options["tolerance"],
        stats,
    )
    return Utterance(
        id=identifier,
        path=audio_path,
        sample_rate=sample_rate,
        waveform=waveform,
        segments=segments,
        label_path=label_path,
        speaker=speaker,
    )


def _read_npz(path, identifier, speaker, options, stats):
    if not zipfile.is_zipfile(path):
        raise data_error(path, None, "is not a readable .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = sorted(data.files)
            missing = [key for key in ("features", "labels") if key not in keys]
            if missing:
                raise data_error(
                    path,
                    None,
                    f"has no array {missing[0]!r}: expected 'features' (frames, channels) and "
                    f"'labels' (frames,). Arrays found: {keys}",
                )
            features, labels = data["features"], data["labels"]
    except DataError:
        raise
    except (
        OSError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
        NotImplementedError,  # a compression method zipfile does not know
        RuntimeError,  # an encrypted member
        MemoryError,  # an array header giving a shape too large to allocate
    ) as error:
        raise data_error(path, None, f"is not a readable .npz file ({error})") from None
    except ValueError as error:
        if "pickle" not in str(error):
            raise data_error(path, None, f"holds an array NumPy cannot read ({error})") from None
        raise data_error(
            path,
            None,
            f"cannot be read without pickle ({error}): save 'features' as a float array and "
            "'labels' as a string or integer array",
        ) from None
    for key, value in (("features", features), ("labels", labels)):
        if not isinstance(value, np.ndarray):  # a member without the .npy header
            raise data_error(
                path,
                None,
                f"holds {key!r} as raw bytes, not as a NumPy array (.npy): save it with "
                "numpy.savez",
            )
    if (
        features.ndim != 2
        or features.dtype.kind not in "fiu"
        or features.shape[0] == 0
        or features.shape[1] == 0
    ):
        raise data_error(
            path,
            None,
            "expected 'features' to be a non-empty numeric array (frames, channels), with at "
            f"least one channel. Received: shape {features.shape}, dtype {features.dtype}",
        )
    if labels.ndim != 1 or labels.dtype.kind not in "USiu":
        raise data_error(
            path,
            None,
            "expected 'labels' to be a 1-D array of strings or integers (frames,). "
            f"Received: shape {labels.shape}, dtype {labels.dtype}",
        )
    if labels.shape[0] != features.shape[0]:
        raise data_error(
            path,
            None,
            "expected one label per feature frame. Received: "
            f"{features.shape[0]} frames of features and {labels.shape[0]} labels",
        )
    features = features.astype(np.float32)
    if not np.all(np.isfinite(features)):
        bad = int(np.sum(~np.isfinite(features)))
        raise data_error(path, None, f"holds {bad} non-finite feature values (NaN or inf)")
    labels = [_npz_label(path, frame, label) for frame, label in enumerate(labels.tolist())]
    labels = [label.strip() or options["silence_label"] for label in labels]
    mapping, _ = options["label_map"]
    labels = fold_frame_labels(path, labels, mapping, stats)
    return Utterance(
        id=identifier,
        path=path,
        sample_rate=None,
        waveform=None,
        features=features,
        frame_labels=np.array(labels, dtype=str),
        label_path=path,
        speaker=speaker,
    )


def _npz_label(path, frame, label):
    """One frame label of an `.npz` file as text: bytes must be UTF-8, text no lone
    surrogate (TensorFlow refuses both, far from the file)."""
    try:
        if isinstance(label, bytes):
            return label.decode("utf-8")
        label = str(label)
        label.encode("utf-8")
        return label
    except UnicodeError as error:
        raise data_error(
            path,
            None,
            f"holds 'labels' that are not UTF-8 text: frame {frame} is {label!r} ({error.reason})",
        ) from None


def _notes(stats, rates, options):
    notes = []
    if rates:
        notes.append(
            f"resampled {sum(rates.values())} audio file(s) to {options['sample_rate']} Hz "
            f"(from: {dict(sorted(rates.items()))})"
        )
    if stats["gaps"]:
        notes.append(
            f"filled {stats['gaps']} gap(s) between segments ({stats['gap_samples']} samples) "
            f"with the silence label {options['silence_label']!r}"
        )
    if stats["clipped"]:
        notes.append(
            f"clipped {stats['clipped']} segment end(s) at most {options['tolerance']} samples "
            "past the end of the audio"
        )
    if stats["empty"]:
        notes.append(f"dropped {stats['empty']} empty segment(s) (start == end in samples)")
    if stats["deleted"]:
        notes.append(
            f"merged {stats['deleted']} segment(s) whose label the label map deletes into the "
            "previous segment"
        )
    if stats["deleted_frames"]:
        notes.append(
            f"gave {stats['deleted_frames']} frame(s) whose label the label map deletes the "
            "previous frame's label"
        )
    return notes
