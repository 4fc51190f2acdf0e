"""Train / dev / test splits of labelled text, given on disk or carved out seeded.

`load_text_splits(path)` uses the splits a data directory already holds
(`train.csv`, `dev.csv`, `test.csv`, or `train/`, `valid/`, `test/`
class-folder trees, ...) and carves whatever is missing out of `train` with a
seeded stratified split; a single file or class-folder tree is split into all
three. It returns the splits and a JSON-serializable record of what it did.

The other loaders (`load_parallel_splits`, `load_speech_splits`) share its
pieces: `check_split_arguments`, `split_entries` (the `train` / `dev` /
`test` entries of a folder), `fractions_to_carve` and `skipped_record` (the
record's `skipped`).
"""

import collections
import numbers
import os

from toolkit.data.carving import carve
from toolkit.data.files import check_path
from toolkit.data.files import data_error
from toolkit.data.text import LabelledTexts
from toolkit.data.text import check_read_arguments
from toolkit.data.text import read_with_origins

SPLITS = ("train", "dev", "test")
SPLIT_NAMES = {"train": ("train",), "dev": ("dev", "valid", "validation"), "test": ("test",)}
_SKIPPED_IN_RECORD = 20


def load_text_splits(
    path,
    text_column="text",
    label_column="label",
    format=None,
    encoding="utf-8",
    dev_fraction=0.1,
    test_fraction=0.1,
    seed=0,
):
    """Loads the train, dev and test splits of a labelled-text data set.

    Where the splits come from:

    * `path` is a directory holding entries named `train`, `dev` (or
      `valid` / `validation`) and `test` - files with any suffix that
      `read_labelled_texts` reads (`train.csv`, `dev.jsonl`, ...) or
      class-folder trees (`train/<label>/*.txt`): each split is read from its
      entry. `train` is required; a missing `dev` and/or `test` is carved out
      of `train` (with `dev_fraction` / `test_fraction` of train's examples).
      Other entries of the directory are ignored and listed in the record's
      notes. The names are matched case-insensitively.
    * otherwise (`path` is one file, or one class-folder tree), `dev` and
      `test` are carved out of it and `train` keeps the rest.

    Carving follows the split policy of `toolkit.data.carving`: examples
    have labels and no groups, so it is a seeded split stratified by label
    (scikit-learn's `train_test_split` with `stratify`, first `test`, then
    `dev` from the rest), each split in file order. When a class is too rare
    to stratify, it is a seeded split by example instead; carved examples
    whose label would then be missing from `train` are moved back into
    `train`. The record's `split_policy` says which was done and why, and so
    does a line of its notes. A non-zero fraction carves at least one
    example. The same arguments give the same splits.

    Args:
        path: Path (string or path-like) of a data directory with split
            entries, of one data file, or of one class-folder tree.
        text_column: String (default `"text"`), the text column or JSON key.
        label_column: String (default `"label"`), the label column or JSON key.
        format: `None` (default: inferred per file), or one of `"csv"`,
            `"tsv"`, `"jsonl"`, `"directory"`; applies to the split files
            (split folders are always class-folder trees).
        encoding: String (default `"utf-8"`), the text encoding of the files.
        dev_fraction: Float in [0, 1) (default `0.1`), the fraction of the
            examples carved out as `dev` when no dev split is given.
        test_fraction: Float in [0, 1) (default `0.1`), the fraction carved
            out as `test` when no test split is given. The two fractions must
            sum to less than 1.
        seed: Non-negative integer (default `0`), the seed of the split.

    Returns:
        A tuple `(splits, record)`: `splits` is a dict `{"train", "dev",
        "test"}` of `LabelledTexts` (a carved split has
        `source="split of <path>"` and no skipped rows; the skipped rows of a
        source stay with the split read from it), and `record` a
        JSON-serializable dict: `source`, `layout` (`"split files"` or
        `"single source"`), `seed`, `dev_fraction`, `test_fraction`,
        `stratified` (`True` / `False`, `None` when nothing was carved),
        `split_policy` (`dev` and `test`: `"given"`, `"empty"`,
        `"stratified by label"` or `"by example"`; and the `reason`),
        `labels` (train's, sorted), `splits` (per split: `source`, `count`,
        `label_counts`, and `fraction` when carved), `skipped` (`count`,
        `by_reason`, `by_file`, the `first` 20 entries) and `notes`.

    Raises:
        DataError: a directory with `dev` / `test` but no `train` or with two
            entries for one split, a label in a given dev or test split that
            train never has (naming the file, line and label), too few
            examples to carve, and every data error of `read_labelled_texts`.
        ValueError: bad fractions or seed (naming the argument), and the
            argument errors of `read_labelled_texts`.

    Example:

    >>> import json, os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "reviews.jsonl")
    >>> with open(path, "w", encoding="utf-8") as file:
    ...     for i in range(20):
    ...         label = "pos" if i % 2 else "neg"
    ...         _ = file.write(json.dumps({"text": f"review {i}", "label": label}) + "\\n")
    >>> splits, record = load_text_splits(path, dev_fraction=0.2, test_fraction=0.2, seed=1)
    >>> {name: len(split) for name, split in splits.items()}
    {'train': 12, 'dev': 4, 'test': 4}
    >>> splits["test"].label_counts()
    {'neg': 2, 'pos': 2}
    >>> record["splits"]["dev"]["source"] == "split of " + path, record["stratified"]
    (True, True)
    >>> record["split_policy"]["dev"], record["notes"]
    ('stratified by label', ['dev and test carved stratified by label: each label gives its share'])
    >>> shutil.rmtree(folder)
    """
    dev_fraction, test_fraction, seed = check_split_arguments(dev_fraction, test_fraction, seed)
    check_read_arguments(text_column, label_column, format, encoding)
    path = check_path(path)

    def read(source, source_format):
        return read_with_origins(source, text_column, label_column, source_format, encoding)

    notes = []
    entries = split_entries(path, notes) if os.path.isdir(path) else None
    given, origins = {}, {}
    if entries:
        for name, entry in entries.items():
            given[name], origins[name] = read(
                entry, "directory" if os.path.isdir(entry) else format
            )
        for name in given:
            if name != "train":
                _check_known_labels(name, given[name], origins[name], given["train"])
    else:
        given["train"], _ = read(path, format)
    to_carve = fractions_to_carve(given, dev_fraction, test_fraction, notes)
    source = given.pop("train")
    carving = carve(
        len(source),
        to_carve,
        seed,
        source=source.source,
        item="example",
        strata=source.labels,
        stratum="label",
    )
    notes.extend(carving.notes)

    def select(indices, carved):
        origin = (f"split of {source.source}", []) if carved else (source.source, source.skipped)
        texts = [source.texts[i] for i in indices]
        return LabelledTexts(texts, [source.labels[i] for i in indices], *origin)

    splits = carving.splits(select, given)

    record = {
        "source": path,
        "layout": "split files" if entries else "single source",
        "seed": seed,
        "dev_fraction": dev_fraction,
        "test_fraction": test_fraction,
        "stratified": carving.stratified,
        "split_policy": carving.record(),
        "labels": sorted(splits["train"].label_counts()),
        "splits": {},
        "skipped": skipped_record(splits),
        "notes": notes,
    }
    for name, split in splits.items():
        entry = {"source": split.source, "count": len(split), "label_counts": split.label_counts()}
        if name in to_carve:
            entry["fraction"] = to_carve[name]
        record["splits"][name] = entry
    return splits, record


# === Arguments and layout ===


def check_split_arguments(dev_fraction, test_fraction, seed):
    """The checked `(dev_fraction, test_fraction, seed)` of a split."""
    dev_fraction = _check_fraction("dev_fraction", dev_fraction)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    if dev_fraction + test_fraction >= 1.0:
        raise ValueError(
            "Arguments `dev_fraction` and `test_fraction` expected a sum below 1 (train "
            f"keeps the rest). Received: dev_fraction={dev_fraction!r}, "
            f"test_fraction={test_fraction!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(
            f"Argument `seed` expected a non-negative integer. Received: seed={seed!r}"
        )
    return dev_fraction, test_fraction, int(seed)


def _check_fraction(argument_name, value):
    valid = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not valid or not 0.0 <= value < 1.0:
        raise ValueError(
            f"Argument `{argument_name}` expected a number in [0, 1). "
            f"Received: {argument_name}={value!r}"
        )
    return float(value)


def split_entries(root, notes, folders_only=False):
    """`{split: path}` of the split entries of `root`, or `None` when it has none.

    An entry is a file or folder whose name (a file's without its suffix) is
    one of `SPLIT_NAMES`, in any case; with `folders_only` only sub-folders
    count (a file is then an other entry). Other entries are listed in
    `notes`. Two entries for one split, or split entries without `train`,
    are errors worded after what was looked for (entries or folders).
    """
    found, others = collections.defaultdict(list), []
    for entry in sorted(os.scandir(root), key=lambda entry: entry.name):
        if entry.name.startswith("."):
            continue
        split = None
        if entry.is_dir() or not folders_only:
            stem = entry.name if entry.is_dir() else os.path.splitext(entry.name)[0]
            split = next((s for s, names in SPLIT_NAMES.items() if stem.lower() in names), None)
        if split is None:
            others.append(entry.name)
        else:
            found[split].append(entry.path)
    if not found:
        return None
    for split, paths in found.items():
        if len(paths) > 1:
            raise data_error(
                root,
                None,
                f"holds {len(paths)} {'folders' if folders_only else 'entries'} for the "
                f"{split} split, expected one. "
                f"Received: {sorted(os.path.basename(p) for p in paths)}",
            )
    if "train" not in found:
        if folders_only:
            held = [os.path.basename(found[s][0]) for s in SPLITS if s in found]
            message = f"holds the split folder(s) {held} but no train folder (`train`, any case)"
        else:
            received = sorted(os.path.basename(p[0]) for p in found.values()) + others
            message = (
                f"holds the split(s) {[s for s in SPLITS if s in found]} but no train split "
                "(a `train` file or folder, e.g. train.csv or train/<label>/*.txt). "
                f"Received: {received}"
            )
        raise data_error(root, None, message)
    if others:
        notes.append(f"ignored entries of {root} that name no split: {others}")
    return {split: found[split][0] for split in SPLITS if split in found}


def fractions_to_carve(given, dev_fraction, test_fraction, notes=None):
    """`{split: fraction}` of the splits `given` lacks, in carving order (test, then dev).

    When none is left to carve, says in `notes` (if not `None`) that the
    fractions went unused.
    """
    fractions = {"test": test_fraction, "dev": dev_fraction}
    to_carve = {name: fraction for name, fraction in fractions.items() if name not in given}
    if not to_carve and notes is not None:
        notes.append("dev_fraction and test_fraction unused: every split is given")
    return to_carve


def _check_known_labels(split_name, split, origins, train):
    known = set(train.labels)
    for label, (file, line) in zip(split.labels, origins):
        if label not in known:
            raise data_error(
                file,
                line,
                f"the label {label!r} of the {split_name} split never appears in train "
                f"({train.source}, labels {sorted(known)}). Received: label={label!r}",
            )


def skipped_record(splits, by_file=True):
    """The record's `skipped`: `count`, `by_reason`, `by_file` (unless not wanted) and `first`."""
    entries = [entry for split in splits.values() for entry in split.skipped]
    record = {
        "count": len(entries),
        "by_reason": dict(sorted(collections.Counter(e["reason"] for e in entries).items())),
    }
    if by_file:
        record["by_file"] = dict(sorted(collections.Counter(e["file"] for e in entries).items()))
    record["first"] = [dict(entry) for entry in entries[:_SKIPPED_IN_RECORD]]
    return record
