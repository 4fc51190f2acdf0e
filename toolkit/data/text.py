"""Labelled text from CSV, TSV and JSON Lines files and from class-folder trees.

`read_labelled_texts(path)` turns one source into a `LabelledTexts`: the
texts, their labels, and the rows it skipped (with file, line and reason).

* CSV / TSV (`.csv`, `.tsv`, `.tab`): read with Python's `csv` module, so a
  quoted field may hold the delimiter, line breaks and doubled quotes `""`
  (what `csv.writer` and `pandas.DataFrame.to_csv` write; TSV follows the same
  quoting rules with a tab as delimiter). The first record is the header;
  column names are matched after stripping surrounding whitespace. Blank
  lines are no records. Line numbers are those of the physical line where a
  record starts.
* JSON Lines (`.jsonl`, `.ndjson`, `.json`): one JSON object per line; blank
  lines are no records. Texts must be JSON strings; labels strings or
  integers (an integer label `3` becomes `"3"`).
* Directory (`root/<label>/*.txt`, the layout of
  `keras.utils.text_dataset_from_directory`): each non-hidden sub-folder of
  `root` is a class, each `.txt` file under it (recursively, case-insensitive
  suffix, in sorted order as Keras reads them) one example, the whole file
  being the text. Hidden files and folders (name starting with `.`) are
  ignored; any other file (not `.txt`, or lying in `root` itself) is recorded
  in `skipped`.

Labels have surrounding whitespace stripped; texts are kept verbatim. A row
whose text is empty or whitespace only, or whose label is empty, is skipped
and recorded in `skipped` - never dropped silently. Files are read as
`toolkit.data.files` reads every data file: a UTF-16 byte-order mark reads
the file as UTF-16 whatever `encoding` says, a leading byte-order mark is
removed, and undecodable bytes name the line and byte offset. Everything
else that is wrong in a file is a `DataError` (a `ValueError`) naming the
file, the line where it applies, and what was found there; a bad argument is
a plain `ValueError` naming the argument.
"""

import collections
import csv
import dataclasses
import io
import json
import os
import sys

from toolkit.data.files import check_encoding
from toolkit.data.files import check_path
from toolkit.data.files import data_error
from toolkit.data.files import read_text
from toolkit.data.files import skipped_entry
from toolkit.data.files import snippet

FORMATS = ("csv", "tsv", "jsonl", "directory")
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_DELIMITERS = {"csv": ",", "tsv": "\t"}
_FIELD_SIZE_LIMIT = min(sys.maxsize, 2**31 - 1)


@dataclasses.dataclass(frozen=True)
class LabelledTexts:
    """Texts with one string label each, and the rows skipped on the way.

    What `read_labelled_texts` returns, and each split of
    `load_text_splits`. `texts` and `labels` are stored as new lists.

    Attributes:
        texts: List of strings, the examples in file order.
        labels: List of strings, one label per text.
        source: String, where the examples come from: the path read, or
            `"split of <path>"` for a split carved out of another source.
        skipped: List of dicts `{"file": str, "line": int or None,
            "reason": str}`, one per row (or file, in a class-folder tree)
            that was not turned into an example; `line` is `None` for a whole
            file. Empty by default.

    Example:

    >>> examples = LabelledTexts(["good", "bad", "fine"], ["pos", "neg", "pos"], "reviews")
    >>> len(examples)
    3
    >>> examples.label_counts()
    {'neg': 1, 'pos': 2}
    >>> examples.skipped
    []
    """

    texts: list[str]
    labels: list[str]
    source: str
    skipped: list[dict] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        texts, labels, skipped = list(self.texts), list(self.labels), list(self.skipped)
        if len(texts) != len(labels):
            raise ValueError(
                "Arguments `texts` and `labels` expected the same length, one label per "
                f"text. Received: {len(texts)} texts and {len(labels)} labels"
            )
        object.__setattr__(self, "texts", texts)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "skipped", skipped)
        object.__setattr__(self, "source", str(self.source))

    def __len__(self):
        return len(self.texts)

    def label_counts(self):
        """Returns a dict label -> number of examples, sorted by label."""
        counts = collections.Counter(self.labels)
        return {label: counts[label] for label in sorted(counts)}


def read_labelled_texts(
    path, text_column="text", label_column="label", format=None, encoding="utf-8"
):
    """Reads labelled texts from a CSV, TSV or JSON Lines file or a class-folder tree.

    A CSV or TSV file needs a header row naming its columns; a JSON Lines
    file holds one object per line; a directory holds one folder per class,
    `root/<label>/*.txt`, each `.txt` file one example (the layout of
    `keras.utils.text_dataset_from_directory`). Quoted CSV fields may hold
    commas, tabs and line breaks. Labels are strings (surrounding whitespace
    stripped; integer JSON labels become strings); texts are kept verbatim.

    Rows with an empty (or whitespace-only) text or an empty label are
    skipped and recorded in `skipped` with their file, line and reason; so
    are non-`.txt` files of a class-folder tree. Hidden files are ignored.

    Args:
        path: Path (string or path-like) of a `.csv`, `.tsv` / `.tab`,
            `.jsonl` / `.ndjson` / `.json` (JSON Lines) file, or of a
            directory of class folders.
        text_column: String (default `"text"`), the column or JSON key that
            holds the text. Not used for a directory.
        label_column: String (default `"label"`), the column or JSON key that
            holds the label. Not used for a directory.
        format: `None` (default: from the suffix, or `"directory"` for a
            directory), or one of `"csv"`, `"tsv"`, `"jsonl"`, `"directory"`.
        encoding: String (default `"utf-8"`), the text encoding of the files
            (one starting with a UTF-16 byte-order mark is read as UTF-16).

    Returns:
        A `LabelledTexts` with `source` set to `path`.

    Raises:
        DataError: the format cannot be told from the suffix, the file is
            empty or holds a header but no rows, a column is missing (the
            message lists the columns found), a record is malformed (CSV
            quoting, field count, invalid JSON or JSON Python cannot hold, a
            JSON value that is not an object, a text that is not a string, a
            lone surrogate `\\ud800` in a text or label), bytes do not
            decode, a folder holds no class folders, or no row is usable. The
            message names the file and the line.
        ValueError: bad arguments (naming them), e.g. a path that does not
            exist or an unknown `encoding`.

    Example:

    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "reviews.csv")
    >>> with open(path, "w", encoding="utf-8") as file:
    ...     _ = file.write('text,label\\n"Great, really",pos\\nDull.,neg\\n" ",pos\\n')
    >>> examples = read_labelled_texts(path)
    >>> examples.texts, examples.labels
    (['Great, really', 'Dull.'], ['pos', 'neg'])
    >>> examples.skipped[0]["line"], examples.skipped[0]["reason"]
    (4, 'empty text')
    >>> os.makedirs(os.path.join(folder, "tree", "pos"))
    >>> with open(os.path.join(folder, "tree", "pos", "a.txt"), "w") as file:
    ...     _ = file.write("Loved it.")
    >>> read_labelled_texts(os.path.join(folder, "tree")).labels
    ['pos']
    >>> shutil.rmtree(folder)
    """
    examples, _ = read_with_origins(path, text_column, label_column, format, encoding)
    return examples


# === Arguments and format ===


def check_read_arguments(text_column, label_column, format, encoding):
    for name, value in (("text_column", text_column), ("label_column", label_column)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(
                f"Argument `{name}` expected a non-empty string. Received: {name}={value!r}"
            )
    if text_column.strip() == label_column.strip():
        raise ValueError(
            "Arguments `text_column` and `label_column` expected two different columns. "
            f"Received: text_column={text_column!r}, label_column={label_column!r}"
        )
    if format is not None and format not in FORMATS:
        raise ValueError(
            f"Argument `format` expected None or one of {list(FORMATS)}. "
            f"Received: format={format!r}"
        )
    check_encoding(encoding)


def resolve_format(path, format):
    """The format of `path`: `format` checked against the path, or inferred."""
    is_directory = os.path.isdir(path)
    if format is None:
        if is_directory:
            return "directory"
        suffix = os.path.splitext(path)[1].lower()
        if suffix not in SUFFIX_FORMATS:
            raise data_error(
                path,
                None,
                f"cannot tell the format from the suffix {suffix!r}: known suffixes are "
                f"{sorted(SUFFIX_FORMATS)}. Pass `format` (one of {list(FORMATS)}). "
                "Received: format=None",
            )
        return SUFFIX_FORMATS[suffix]
    if format == "directory" and not is_directory:
        raise ValueError(
            "Argument `format` is 'directory', but `path` is not a directory. "
            f"Received: path={path!r}, format={format!r}"
        )
    if format != "directory" and is_directory:
        raise ValueError(
            f"Argument `format` is {format!r}, a file format, but `path` is a directory. "
            f"Pass format=None or 'directory' for a class-folder tree. "
            f"Received: path={path!r}, format={format!r}"
        )
    return format


# === Records: (file, line, text, label) before the empty checks ===


def _delimited_records(path, content, format, text_column, label_column):
    delimiter = _DELIMITERS[format]
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True)
    header, header_line, records = None, None, []
    previous_limit = csv.field_size_limit(_FIELD_SIZE_LIMIT)
    try:
        while True:
            start = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                raise data_error(
                    path, start, f"malformed {format.upper()} record starting here ({error})"
                ) from None
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # a blank line is no record
            if header is None:
                header, header_line = [name.strip() for name in record], start
                indices = _column_indices(path, start, header, text_column, label_column)
                continue
            if len(record) != len(header):
                raise data_error(
                    path,
                    start,
                    f"expected {len(header)} fields (the header's, line {header_line}), "
                    f"received {len(record)}: {snippet(delimiter.join(record))}. "
                    "Quote fields that hold the delimiter",
                )
            records.append((path, start, record[indices[0]], record[indices[1]]))
    finally:
        csv.field_size_limit(previous_limit)
    if header is None:
        raise data_error(path, None, "is empty: expected a header row naming the columns")
    if not records:
        raise data_error(
            path, None, f"holds a header (line {header_line}) but no rows. Received: {header}"
        )
    return records


def _column_indices(path, line, header, text_column, label_column):
    indices = []
    for argument, column in (("text_column", text_column), ("label_column", label_column)):
        column = column.strip()
        found = [index for index, name in enumerate(header) if name == column]
        if len(found) > 1:
            raise data_error(
                path, line, f"the header names the column {column!r} {len(found)} times"
            )
        if not found:
            raise data_error(
                path,
                line,
                f"no column {column!r} (argument `{argument}`) in the header. "
                f"Columns found: {header}. The first row of the file is read as the "
                f"header; pass `{argument}` to name another column",
            )
        indices.append(found[0])
    return indices


def _jsonl_records(path, content, text_column, label_column):
    records, objects = [], 0
    # JSON Lines splits on "\n" only: U+2028 and friends may appear unescaped
    # inside JSON strings and are not line breaks here.
    for number, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue  # a blank line is no record
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            hint = ""
            if objects == 0 and line.lstrip().startswith("["):
                hint = " (the file looks like one JSON array; write one object per line)"
            raise data_error(
                path,
                number,
                f"invalid JSON ({error.msg} at column {error.colno}){hint}. "
                f"Received: {snippet(line.rstrip())}",
            ) from None
        except (ValueError, RecursionError) as error:
            # Valid JSON that Python will not hold: an integer of more than 4300 digits
            # (ValueError), arrays or objects nested deeper than the recursion limit.
            reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
            raise data_error(
                path,
                number,
                f"JSON that cannot be read ({reason}). Received: {snippet(line.rstrip())}",
            ) from None
        objects += 1
        if not isinstance(value, dict):
            raise data_error(
                path,
                number,
                "expected a JSON object with the text and label keys, one per line. "
                f"Received: a JSON {type(value).__name__} {snippet(line.strip())}",
            )
        for argument, key in (("text_column", text_column), ("label_column", label_column)):
            if key not in value:
                raise data_error(
                    path,
                    number,
                    f"no key {key!r} (argument `{argument}`) in the object. "
                    f"Keys found: {list(value)}",
                )
        text, label = value[text_column], value[label_column]
        if not isinstance(text, str):
            raise data_error(
                path,
                number,
                f"expected the text {text_column!r} to be a JSON string. Received: {text!r}",
            )
        if isinstance(label, bool) or not isinstance(label, (str, int)):
            raise data_error(
                path,
                number,
                f"expected the label {label_column!r} to be a JSON string or integer. "
                f"Received: {label!r}",
            )
        for what, value in (("text", text), ("label", label)):
            _check_unicode(path, number, what, value)
        records.append((path, number, text, str(label)))
    if not objects:
        raise data_error(path, None, "is empty: expected one JSON object per line")
    return records


def _check_unicode(path, line, what, value):
    """A `DataError` when the string `value` holds a lone surrogate (`"\\ud800"` in JSON):
    valid JSON, but no Unicode text - TensorFlow refuses it far from the file."""
    if not isinstance(value, str):
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise data_error(
            path,
            line,
            f"the {what} holds the lone surrogate {value[error.start]!r} (a \\u escape of half "
            f"a UTF-16 pair), which is no Unicode text. Received: {snippet(value)}",
        ) from None


def _directory_records(root, encoding):
    records, skipped = [], []
    entries = sorted(
        (entry for entry in os.scandir(root) if not entry.name.startswith(".")),
        key=lambda entry: entry.name,
    )
    class_folders = [entry for entry in entries if entry.is_dir()]
    for entry in entries:
        if not entry.is_dir():
            skipped.append(skipped_entry(entry.path, None, "not inside a class folder"))
    if not class_folders:
        raise data_error(
            root,
            None,
            "holds no class folders: expected the layout root/<label>/*.txt. "
            f"Received: {[entry.name for entry in entries]}",
        )
    for folder in class_folders:
        walked = []
        for directory, subdirectories, files in os.walk(folder.path):
            subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
            walked.append((directory, sorted(name for name in files if not name.startswith("."))))
        for directory, files in sorted(walked, key=lambda item: item[0]):
            for name in files:
                file = os.path.join(directory, name)
                if not name.lower().endswith(".txt"):
                    skipped.append(skipped_entry(file, None, "not a .txt file"))
                    continue
                text = read_text(file, encoding)
                records.append((file, None, text, folder.name))
    return records, skipped


# === Records to examples ===


def read_with_origins(
    path, text_column="text", label_column="label", format=None, encoding="utf-8"
):
    """`read_labelled_texts`, also returning each example's `(file, line)`.

    `line` is `None` for examples of a class-folder tree (one file each).
    """
    check_read_arguments(text_column, label_column, format, encoding)
    path = check_path(path)
    format = resolve_format(path, format)
    if format == "directory":
        records, skipped = _directory_records(path, encoding)
    else:
        content = read_text(path, encoding)
        if not content.strip():
            raise data_error(path, None, f"is empty (format {format!r})")
        if format == "jsonl":
            records = _jsonl_records(path, content, text_column, label_column)
        else:
            records = _delimited_records(path, content, format, text_column, label_column)
        skipped = []
    texts, labels, origins = [], [], []
    for file, line, text, label in records:
        label = label.strip()
        empty_text, empty_label = not text.strip(), not label
        if empty_text or empty_label:
            reason = (
                "empty text and label"
                if empty_text and empty_label
                else ("empty text" if empty_text else "empty label")
            )
            skipped.append(skipped_entry(file, line, reason))
            continue
        texts.append(text)
        labels.append(label)
        origins.append((file, line))
    if not texts and skipped:
        raise data_error(
            path,
            None,
            f"holds no usable example: all {len(skipped)} entries were skipped. "
            f"First: {skipped[0]}",
        )
    if not texts:
        raise data_error(path, None, "holds no examples: expected root/<label>/*.txt files")
    return LabelledTexts(texts, labels, path, skipped), origins
