"""Reading a speech corpus folder: `read_speech_corpus`, and finding its format.

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
`SA1.WAV.wav` use the converted file. This module walks the folder, groups
the files by stem, finds each stem's format (and says what is missing or
mixed), and hands each utterance to its reader (`toolkit.data.speech_readers`);
the corpus types are in `toolkit.data.speech_corpus`, the train / dev / test
splits (`load_speech_splits`) in `toolkit.data.speech_splits`, which reads
its folders with `check_options`, `check_folder` and `read_corpus` from here.
"""

import collections
import math
import os
import pathlib

from toolkit.data.alignments import check_label_map
from toolkit.data.audio import check_sample_rate
from toolkit.data.files import check_path
from toolkit.data.files import data_error
from toolkit.data.files import skipped_entry
from toolkit.data.speech_corpus import SpeechCorpus
from toolkit.data.speech_readers import read_audio_utterance
from toolkit.data.speech_readers import read_npz_utterance

SPEECH_FORMATS = ("phn", "textgrid", "npz")
_SUFFIX_KINDS = {".wav": "audio", ".phn": "phn", ".textgrid": "textgrid", ".npz": "npz"}


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
    options = check_options(
        sample_rate, resample, tier, silence_label, label_map, format, end_tolerance, speaker_level
    )
    path = check_folder(path)
    return read_corpus(path, path, options)


# === Arguments ===


def check_options(
    sample_rate, resample, tier, silence_label, label_map, format, end_tolerance, speaker_level
):
    """The checked reading options of `read_speech_corpus` as a dict (a map file read
    once, the end tolerance in samples); a `ValueError` naming a bad argument."""
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


def check_folder(path):
    """`path` as a string, checked to be a folder."""
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


def read_corpus(root, id_root, options):
    """The `SpeechCorpus` of the folder `root` read with the checked `options`, utterance
    ids relative to `id_root` (the corpus root above a split folder)."""
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
            utterances.append(
                read_npz_utterance(unit["npz"][0], identifier, speaker, options, stats)
            )
        else:
            label_path = unit[unit_format][0]
            utterances.append(
                read_audio_utterance(
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
    check_channels(utterances)
    return SpeechCorpus(
        utterances,
        root,
        corpus_format,
        None if corpus_format == "npz" else options["sample_rate"],
        skipped,
        _notes(stats, rates, options),
    )


def check_channels(utterances):
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
