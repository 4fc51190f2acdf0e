"""Time-aligned labels: TIMIT `.phn` files, Praat TextGrids, label maps, frame labels.

* `.phn` (TIMIT): one segment per line, `start_sample end_sample label`, in
  samples of the audio file beside it; blank lines are ignored.
* TextGrid (Praat, as the Montreal Forced Aligner writes it): both the long
  (`xmin = 0`, `intervals [1]:`, ...) and the short text layouts, UTF-8 or
  UTF-16 (with its byte-order mark). The file is read as Praat does: a stream
  of numbers, quoted strings (`""` is a quote) and `<flags>`, everything else
  (keys, `[1]` indices, `!` comments) being layout. One interval tier is read;
  times in seconds become samples (rounded). The parser is our own so that
  every error names the line (praatio reads both layouts too, but reports a
  truncated file as a bare `IndexError` without file or line).
* Label maps (`read_label_map`): lines `from to`; a line `from` or `from -`
  deletes the label.

Each file is read with `toolkit.data.files`: UTF-8 (a label map: its
`encoding`), or UTF-16 when it starts with a UTF-16 byte-order mark; bytes
that do not decode are a `DataError` naming the line and byte offset.

`frame_count` and `frame_labels` implement the framing shared with the
feature layers: a signal of `n` samples has
`0 if n < frame_length else 1 + (n - frame_length) // frame_step` frames,
frame `t` covers samples `[t * frame_step, t * frame_step + frame_length)`
and takes the label of the segment holding its centre sample
`t * frame_step + frame_length // 2`.

`prepare_segments` turns the raw segments of one file into the checked,
gap-filled, folded segments of an utterance (see `read_speech_corpus`).
"""

import bisect
import collections
import math
import numbers
import re

import numpy as np

from toolkit.data.files import LINE_BREAK
from toolkit.data.files import check_encoding
from toolkit.data.files import check_path
from toolkit.data.files import data_error
from toolkit.data.files import decode
from toolkit.data.files import read_bytes
from toolkit.data.files import read_lines
from toolkit.data.files import snippet

DELETE = "-"
_UTF8_FIX = "Save the file as UTF-8 (or UTF-16 with its byte-order mark)"
_TEXTGRID_TOKEN = re.compile(
    r'"(?P<string>(?:[^"]|"")*)"'
    r"|<(?P<flag>[^>\s]*)>"
    r"|(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])"
    r"|\[[^\]\n]*\]"
    r"|!.*"
    r"|[A-Za-z_][\w?]*"
    r"|(?P<quote>\")"
    r"|[^\s\"]"
)


# === Framing ===


def frame_count(num_samples, frame_length=400, frame_step=160):
    """Number of frames of a signal, as the feature layers cut it.

    `0 if num_samples < frame_length else 1 + (num_samples - frame_length) //
    frame_step`: only whole frames, no padding.

    Args:
        num_samples: Non-negative integer, the length of the signal.
        frame_length: Positive integer (default `400`, 25 ms at 16 kHz), the
            samples per frame.
        frame_step: Positive integer (default `160`, 10 ms at 16 kHz), the
            samples between the starts of two frames.

    Returns:
        The integer number of frames.

    Example:

    >>> frame_count(16000), frame_count(400), frame_count(399)
    (98, 1, 0)
    """
    num_samples = _check_count("num_samples", num_samples, minimum=0)
    frame_length, frame_step = _check_framing(frame_length, frame_step)
    if num_samples < frame_length:
        return 0
    return 1 + (num_samples - frame_length) // frame_step


def frame_labels(segments, num_samples, frame_length=400, frame_step=160, silence_label="sil"):
    """The label of each frame: the label of the segment holding its centre sample.

    Frame `t` covers samples `[t * frame_step, t * frame_step + frame_length)`
    and takes the label of the segment `[start, end)` holding its centre
    sample `t * frame_step + frame_length // 2`; a centre that no segment
    holds gets `silence_label`. There are
    `frame_count(num_samples, frame_length, frame_step)` frames.

    Args:
        segments: Sequence of `(start_sample, end_sample, label)` with
            `0 <= start <= end`, not overlapping (e.g. `Utterance.segments`).
        num_samples: Non-negative integer, the length of the signal.
        frame_length: Positive integer (default `400`), samples per frame.
        frame_step: Positive integer (default `160`), samples between frames.
        silence_label: String (default `"sil"`), the label of a frame whose
            centre lies in no segment.

    Returns:
        A NumPy string array `(frames,)`.

    Raises:
        ValueError: bad framing arguments, or a segment that is not
            `(start, end, label)` with `0 <= start <= end`.

    Example:

    >>> segments = [(0, 5, "sil"), (5, 9, "aa"), (9, 12, "b")]
    >>> frame_labels(segments, 12, frame_length=4, frame_step=2).tolist()  # centres 2, 4, ..., 10
    ['sil', 'sil', 'aa', 'aa', 'b']
    """
    count = frame_count(num_samples, frame_length, frame_step)
    checked = []
    for index, segment in enumerate(segments):
        try:
            start, end, label = segment
        except (TypeError, ValueError):
            raise ValueError(
                "Argument `segments` expected (start_sample, end_sample, label) triples. "
                f"Received: segments[{index}]={segment!r}"
            ) from None
        if not (_is_integer(start) and _is_integer(end)) or not 0 <= start <= end:
            raise ValueError(
                "Argument `segments` expected integer samples with 0 <= start <= end. "
                f"Received: segments[{index}]={segment!r}"
            )
        checked.append((int(start), int(end), str(label)))
    checked.sort()
    labels = np.full(count, silence_label, dtype=object)
    if checked and count:
        starts = np.array([start for start, _, _ in checked])
        ends = np.array([end for _, end, _ in checked])
        names = np.array([label for _, _, label in checked], dtype=object)
        centres = np.arange(count) * frame_step + frame_length // 2
        index = np.searchsorted(starts, centres, side="right") - 1
        inside = (index >= 0) & (centres < ends[np.maximum(index, 0)])
        labels[inside] = names[index[inside]]
    return labels.astype(str) if count else np.array([], dtype=str)


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_count(name, value, minimum):
    if not _is_integer(value) or value < minimum:
        kind = "a positive" if minimum > 0 else "a non-negative"
        raise ValueError(f"Argument `{name}` expected {kind} integer. Received: {name}={value!r}")
    return int(value)


def _check_framing(frame_length, frame_step):
    return (
        _check_count("frame_length", frame_length, minimum=1),
        _check_count("frame_step", frame_step, minimum=1),
    )


# === Label maps ===


def read_label_map(path, encoding="utf-8"):
    """Reads a label folding map, e.g. TIMIT's 61 phones to 39.

    One mapping per line, `from to` (whitespace-separated), e.g. `ao aa`. A
    line with only `from`, or `from -`, deletes the label: when the map is
    applied, the time of a deleted segment merges into the previous segment
    (into the next one at the start of an utterance) - what the standard
    TIMIT folding does with the glottal stop `q`. Labels the map does not name
    are kept as they are. Blank lines and lines starting with `#` are skipped.

    Args:
        path: Path (string or path-like) of the map file.
        encoding: String (default `"utf-8"`), the text encoding of the file
            (one starting with a UTF-16 byte-order mark is read as UTF-16).

    Returns:
        A dict `{from_label: to_label}`, `to_label` being `None` for a deleted
        label, in file order.

    Raises:
        DataError: a line with more than two fields, a label mapped twice
            (naming both lines), an undecodable file or a map without any
            entry; the message names the file and the line.
        ValueError: a path that does not exist, an unknown `encoding`.

    Example:

    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "timit_61_39.txt")
    >>> with open(path, "w") as file:
    ...     _ = file.write("# TIMIT folding\\nao aa\\nax ah\\nq\\nh# sil\\n")
    >>> read_label_map(path)
    {'ao': 'aa', 'ax': 'ah', 'q': None, 'h#': 'sil'}
    >>> shutil.rmtree(folder)
    """
    path = check_path(path)
    check_encoding(encoding)
    mapping, lines = {}, {}
    for number, line in enumerate(read_lines(path, encoding), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) > 2:
            raise data_error(
                path,
                number,
                "expected `from to` (two labels) or `from` / `from -` (delete the label). "
                f"Received: {line.strip()!r} ({len(fields)} fields)",
            )
        source = fields[0]
        target = fields[1] if len(fields) == 2 and fields[1] != DELETE else None
        if source in mapping:
            raise data_error(
                path,
                number,
                f"maps the label {source!r} a second time (first on line {lines[source]}). "
                f"Received: {line.strip()!r}",
            )
        mapping[source], lines[source] = target, number
    if not mapping:
        raise data_error(path, None, "holds no mapping: expected lines `from to`")
    return mapping


def check_label_map(label_map):
    """`(mapping, source)` of a `label_map` argument: `None`, a dict or a map file path."""
    if label_map is None:
        return None, None
    if isinstance(label_map, dict):
        for key, value in label_map.items():
            if not isinstance(key, str) or not (value is None or isinstance(value, str)):
                raise ValueError(
                    "Argument `label_map` expected a dict of string labels to string labels "
                    f"(or None to delete one). Received: {key!r}: {value!r}"
                )
        return {key: (None if value == DELETE else value) for key, value in label_map.items()}, (
            "dict"
        )
    try:
        return read_label_map(label_map), str(label_map)
    except ValueError as error:
        if "Argument `path`" in str(error):
            raise ValueError(
                "Argument `label_map` expected None, a dict, or the path of a map file. "
                f"Received: label_map={label_map!r}"
            ) from None
        raise


# === Label files ===


def read_phn(path):
    """Raw segments `[(start, end, label, line)]` of a TIMIT `.phn` file, in file samples."""
    segments = []
    for number, line in enumerate(read_lines(path, "utf-8", _UTF8_FIX), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise data_error(
                path,
                number,
                "expected `start_sample end_sample label`. "
                f"Received: {line.strip()!r} ({len(fields)} fields)",
            )
        try:
            start, end = int(fields[0]), int(fields[1])
        except ValueError:
            raise data_error(
                path,
                number,
                "expected integer sample positions `start_sample end_sample label`. "
                f"Received: {line.strip()!r}",
            ) from None
        segments.append((start, end, fields[2], number))
    if not segments:
        raise data_error(path, None, "holds no segments: expected lines `start end label`")
    return segments


def read_textgrid_tier(path, tier="phones"):
    """Intervals `[(start_s, end_s, text, line)]` of the interval tier `tier` of a TextGrid."""
    data = read_bytes(path)
    if data.startswith(b"ooBinaryFile"):
        raise data_error(path, None, "is a binary Praat file: save the TextGrid as a text file")
    tokens = _Tokens(path, decode(path, data, "utf-8", _UTF8_FIX))
    file_type = tokens.take("string", 'the file type "ooTextFile"')
    object_class = tokens.take("string", 'the object class "TextGrid"')
    if not file_type.startswith("ooTextFile") or object_class != "TextGrid":
        raise data_error(
            path,
            1,
            'is not a Praat TextGrid text file: expected the file type "ooTextFile" and the '
            f'object class "TextGrid". Received: {file_type!r}, {object_class!r}',
        )
    tokens.take("number", "the TextGrid's xmin")
    tokens.take("number", "the TextGrid's xmax")
    exists = tokens.take("flag", "<exists> or <absent> (tiers?)")
    tiers = []
    if exists == "exists":
        size = tokens.take_count("the number of tiers")
        for index in range(1, size + 1):
            where = f"tier {index}"
            tier_class = tokens.take("string", f'the class of {where} ("IntervalTier")')
            name = tokens.take("string", f"the name of {where}")
            line = tokens.line
            tokens.take("number", f"the xmin of {where}")
            tokens.take("number", f"the xmax of {where}")
            count = tokens.take_count(f"the number of entries of {where} ({name!r})")
            entries = []
            for entry in range(1, count + 1):
                what = f"{where} ({name!r}), entry {entry}"
                if tier_class == "IntervalTier":
                    entry_line = tokens.line
                    start = tokens.take("number", f"the xmin of {what}")
                    end = tokens.take("number", f"the xmax of {what}")
                    text = tokens.take("string", f"the text of {what}")
                    entries.append((start, end, text, entry_line))
                elif tier_class == "TextTier":
                    tokens.take("number", f"the time of {what}")
                    tokens.take("string", f"the mark of {what}")
                else:
                    raise data_error(
                        path,
                        line,
                        f'{where} has the class {tier_class!r}, expected "IntervalTier" or '
                        '"TextTier"',
                    )
            tiers.append((tier_class, name, line, entries))
    tokens.expect_end()
    matches = [item for item in tiers if item[1] == tier]
    names = [item[1] for item in tiers]
    if not matches:
        raise data_error(
            path,
            None,
            f"has no tier named {tier!r} (argument `tier`). Tiers found: {names}",
        )
    if len(matches) > 1:
        raise data_error(path, None, f"has {len(matches)} tiers named {tier!r}. Tiers: {names}")
    tier_class, _, line, entries = matches[0]
    if tier_class != "IntervalTier":
        raise data_error(
            path, line, f"the tier {tier!r} is a point tier ({tier_class}), expected intervals"
        )
    if not entries:
        raise data_error(path, line, f"the tier {tier!r} holds no intervals")
    return entries


class _Tokens:
    """The numbers, strings and flags of a Praat text file, with their lines."""

    def __init__(self, path, text):
        self.path = path
        starts = [0] + [match.end() for match in LINE_BREAK.finditer(text)]
        self.items = []
        for match in _TEXTGRID_TOKEN.finditer(text):
            line = bisect.bisect_right(starts, match.start())
            if match.group("quote") is not None:
                raise data_error(path, line, 'holds a string that is never closed (a lone `"`)')
            for kind in ("string", "flag", "number"):
                value = match.group(kind)
                if value is not None:
                    if kind == "string":
                        value = value.replace('""', '"')
                    self.items.append((kind, value, line))
                    break
        self.position = 0
        self.last_line = len(starts)

    @property
    def line(self):
        if self.position < len(self.items):
            return self.items[self.position][2]
        return self.last_line

    def take(self, kind, what):
        if self.position >= len(self.items):
            raise data_error(self.path, self.last_line, f"ends early: expected {what}")
        found, value, line = self.items[self.position]
        if found != kind:
            shown = (
                snippet(value)
                if found == "string"
                else (f"<{value}>" if found == "flag" else value)
            )
            raise data_error(
                self.path, line, f"expected {what} (a {kind}). Received: the {found} {shown}"
            )
        self.position += 1
        if kind == "number":
            number = float(value)
            if not math.isfinite(number):
                raise data_error(
                    self.path, line, f"expected {what} (a finite number). Received: {value}"
                )
            return number
        return value

    def take_count(self, what):
        line = self.line
        value = self.take("number", what)
        if value != int(value) or value < 0:
            raise data_error(
                self.path, line, f"expected {what} (a non-negative integer). Received: {value!r}"
            )
        return int(value)

    def expect_end(self):
        if self.position < len(self.items):
            kind, value, line = self.items[self.position]
            raise data_error(
                self.path,
                line,
                f"holds more than its tiers announce. Received: the {kind} {snippet(value)} "
                "after the last tier",
            )


def textgrid_segments(entries, sample_rate, path=None):
    """TextGrid intervals in seconds as raw segments in samples; empty texts become `None`.

    A time too large to be a sample position (beyond the float range once
    multiplied by `sample_rate`) is a `DataError` naming `path` and the line.
    """
    segments = []
    for start, end, text, line in entries:
        label = text.strip() or None
        samples = []
        for seconds in (start, end):
            position = seconds * sample_rate + 0.5
            if not math.isfinite(position):
                raise data_error(
                    path,
                    line,
                    f"the interval time {seconds!r} s is too large to be a sample position at "
                    f"{sample_rate} Hz. Received: xmin={start!r}, xmax={end!r}",
                )
            samples.append(int(math.floor(position)))
        segments.append((samples[0], samples[1], label, line))
    return segments


# === Raw segments to utterance segments ===


def prepare_segments(file, raw, num_samples, silence_label, label_map, tolerance, stats):
    """The segments of an utterance from the raw segments of its label file.

    `raw` holds `(start, end, label, line)` in samples of the utterance
    (`label` `None` for a TextGrid's empty interval). Checks them (no
    negative start, no reversed or overlapping segment, no end more than
    `tolerance` samples past `num_samples`), clips ends within the tolerance,
    drops empty segments, folds the labels with `label_map`, fills the gaps
    with `silence_label` and merges deleted labels into the previous segment
    (the next one at the start). Counts what it did in `stats` (a Counter).
    Returns `[(start, end, label)]` covering `[0, num_samples)`.
    """
    kept, previous = [], None
    for start, end, label, line in raw:
        received = f"Received: start={start}, end={end}, label={label!r}"
        if start < 0:
            raise data_error(file, line, f"the segment starts before sample 0. {received}")
        if end < start:
            raise data_error(file, line, f"the segment ends before it starts. {received}")
        if previous is not None and start < previous[1]:
            raise data_error(
                file,
                line,
                f"the segment overlaps the previous one (line {previous[3]}, ending at sample "
                f"{previous[1]}): segments must be in time order and not overlap. {received}",
            )
        if end > num_samples + tolerance:
            raise data_error(
                file,
                line,
                f"the segment ends past the end of the audio ({num_samples} samples, tolerance "
                f"{tolerance} samples). {received}",
            )
        previous = (start, end, label, line)
        if end > num_samples:
            end = num_samples
            stats["clipped"] += 1
        if start >= end:
            stats["empty"] += 1
            continue
        if label is None:
            label, deleted = silence_label, False
        elif label_map is not None and label in label_map:
            target = label_map[label]
            label, deleted = (target, False) if target is not None else (label, True)
        else:
            deleted = False
        kept.append([start, end, label, deleted])
    if not kept:
        raise data_error(file, None, "holds no segment inside the audio")
    filled, position = [], 0
    for segment in kept + [[num_samples, num_samples, None, False]]:
        if segment[0] > position:
            filled.append([position, segment[0], silence_label, False])
            stats["gaps"] += 1
            stats["gap_samples"] += segment[0] - position
        if segment[2] is not None:
            filled.append(segment)
        position = segment[1]
    if all(deleted for _, _, _, deleted in filled):
        raise data_error(
            file,
            None,
            "holds only labels the label map deletes. "
            f"Received: {sorted({label for _, _, label, _ in filled})}",
        )
    segments = []
    pending_start = None  # deleted segments at the start merge into the next segment
    for start, end, label, deleted in filled:
        if deleted:
            stats["deleted"] += 1
            if segments:
                segments[-1] = (segments[-1][0], end, segments[-1][2])
            elif pending_start is None:
                pending_start = start
            continue
        if pending_start is not None:
            start, pending_start = pending_start, None
        segments.append((start, end, label))
    return segments


def fold_frame_labels(file, labels, label_map, stats):
    """Frame labels folded with `label_map`; deleted frames take the previous frame's label."""
    if label_map is None:
        return labels
    folded = [label_map.get(label, label) for label in labels]
    deleted = [label in label_map and label_map[label] is None for label in labels]
    if all(deleted):
        raise data_error(
            file,
            None,
            f"holds only labels the label map deletes. Received: {sorted(set(labels))}",
        )
    first = deleted.index(False)
    result, current = [], folded[first]
    for label, is_deleted in zip(folded, deleted):
        if is_deleted:
            stats["deleted_frames"] += 1
            result.append(current)
        else:
            current = label
            result.append(label)
    return np.array(result, dtype=str)


def label_frame_counts(labels):
    """A dict label -> count of an iterable of labels, sorted by label."""
    counts = collections.Counter(labels)
    return {label: counts[label] for label in sorted(counts)}
