"""Parallel text (source / target sentence pairs) for translation.

Two on-disk layouts:

* TSV, one pair per line: `source<TAB>target`, extra columns ignored (the
  Anki / Tatoeba export layout); no header and no quoting (a `"` is text).
  Blank lines are no records.
* Aligned plain-text files, one sentence per line: `train.en` and
  `train.de`, the languages given as options; line `i` of one file
  translates line `i` of the other, so blank lines are records there (a pair
  with an empty side) and the two files must have as many lines.

`read_parallel_texts` reads one source; `load_parallel_splits` reads a data
folder with `train` / `dev` / `test` entries (carving a missing dev or test
out of train) or one source carved into three, seeded, pair by pair. A pair
with an empty side, or longer than `max_words` words on a side, is skipped
and counted, with its file and line (a source whose pairs were all skipped
is an error saying why); anything else wrong in the data is a `DataError`
(a `ValueError`) naming the file and line, and a bad argument a plain
`ValueError`.
"""

import collections
import dataclasses
import numbers
import os

from toolkit.data.carving import carve
from toolkit.data.files import check_encoding
from toolkit.data.files import check_path
from toolkit.data.files import data_error
from toolkit.data.files import read_text
from toolkit.data.files import skipped_entry
from toolkit.data.files import split_lines
from toolkit.data.splits import SPLIT_NAMES
from toolkit.data.splits import SPLITS
from toolkit.data.splits import check_split_arguments
from toolkit.data.splits import fractions_to_carve
from toolkit.data.splits import skipped_record

PARALLEL_FORMATS = ("tsv", "aligned")
TSV_SUFFIXES = (".tsv", ".tab", ".txt")


@dataclasses.dataclass(frozen=True)
class ParallelTexts:
    """Source sentences, their translations, and the pairs skipped on the way.

    What `read_parallel_texts` returns, and each split of
    `load_parallel_splits`.

    Attributes:
        sources: List of strings, the source sentences in file order.
        targets: List of strings, one translation per source.
        source: String, where the pairs come from (a path, two paths joined
            by ` + `, or `"split of <path>"`).
        skipped: List of dicts `{"file", "line", "reason"}`, one per pair
            that was not kept. Empty by default.

    Example:

    >>> pairs = ParallelTexts(["one", "two"], ["eins", "zwei"], "numbers.tsv")
    >>> len(pairs), pairs.targets[1]
    (2, 'zwei')
    """

    sources: list[str]
    targets: list[str]
    source: str
    skipped: list[dict] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        sources, targets = list(self.sources), list(self.targets)
        if len(sources) != len(targets):
            raise ValueError(
                "Arguments `sources` and `targets` expected the same length, one target per "
                f"source. Received: {len(sources)} sources and {len(targets)} targets"
            )
        object.__setattr__(self, "sources", sources)
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "skipped", list(self.skipped))
        object.__setattr__(self, "source", str(self.source))

    def __len__(self):
        return len(self.sources)


def read_parallel_texts(
    path,
    format=None,
    source_language=None,
    target_language=None,
    source_column=0,
    target_column=1,
    encoding="utf-8",
    max_words=None,
):
    """Reads sentence pairs from a TSV file or two aligned plain-text files.

    Args:
        path: A TSV file, or for aligned files their common prefix (`data/train`
            for `data/train.en` + `data/train.de`).
        format: `None` (default: `"aligned"` when `path.<source_language>`
            exists, else `"tsv"`), `"tsv"` or `"aligned"`.
        source_language: String suffix of the source file (`"en"`); required
            for aligned files.
        target_language: String suffix of the target file (`"de"`).
        source_column: Integer (default `0`), the TSV column of the source.
        target_column: Integer (default `1`), the TSV column of the target.
        encoding: String (default `"utf-8"`); a file starting with a UTF-16
            byte-order mark is read as UTF-16.
        max_words: Optional positive integer: a pair with more
            whitespace-separated words on either side is skipped (counted).

    Returns:
        A `ParallelTexts`; sentences have surrounding whitespace stripped.

    Raises:
        DataError: a TSV line with too few columns, one of two aligned files
            missing (naming it), aligned files with different line counts
            (both named, with counts), an empty file, undecodable bytes (file
            and line).
        ValueError: bad arguments, a path that does not exist (or neither
            aligned file).

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "pairs.tsv")
    >>> _ = open(path, "w").write("Hi.\\tHallo.\\tCC-BY\\n\\tleer\\nThanks!\\tDanke!\\n")
    >>> pairs = read_parallel_texts(path)
    >>> pairs.sources, pairs.targets
    (['Hi.', 'Thanks!'], ['Hallo.', 'Danke!'])
    >>> pairs.skipped[0]["line"], pairs.skipped[0]["reason"]
    (2, 'empty source')
    """
    _check_arguments(format, source_column, target_column, max_words)
    check_encoding(encoding)
    path = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(path, str):
        raise ValueError(f"Argument `path` expected a file path or prefix. Received: path={path!r}")
    format = _resolve_format(path, format, source_language, target_language)
    if format == "aligned":
        records, name = _aligned_records(path, source_language, target_language, encoding)
    else:
        if not os.path.exists(path) and _aligned_files_beside(path, path):
            raise data_error(path, None, "no such file. " + _aligned_hint(path, path))
        records, name = _tsv_records(check_path(path), source_column, target_column, encoding)
    sources, targets, skipped = [], [], []
    for file, line, source, target in records:
        source, target = source.strip(), target.strip()
        reason = None
        if not source or not target:
            reason = (
                "empty source and target"
                if not (source or target)
                else ("empty source" if not source else "empty target")
            )
        elif max_words is not None and max(len(source.split()), len(target.split())) > max_words:
            reason = f"longer than max_words={max_words}"
        if reason:
            skipped.append(skipped_entry(file, line, reason))
        else:
            sources.append(source)
            targets.append(target)
    return ParallelTexts(sources, targets, name, skipped)


def load_parallel_splits(
    path,
    format=None,
    source_language=None,
    target_language=None,
    source_column=0,
    target_column=1,
    encoding="utf-8",
    max_words=None,
    dev_fraction=0.1,
    test_fraction=0.1,
    seed=0,
):
    """Loads train, dev and test sentence pairs, carving missing splits seeded.

    `path` is either a folder holding split entries - `train.tsv`,
    `dev.tsv` (or `valid` / `validation`), `test.tsv` (suffix `.tsv`, `.tab`
    or `.txt`), or aligned pairs `train.<src>` + `train.<tgt>`, ... - or one
    source (a TSV file or an aligned prefix). `train` is required; a missing
    dev and/or test is carved out of train, and a single source is carved
    into all three.

    Carving follows the split policy of `toolkit.data.carving`: pairs have
    no groups and no labels, so it is a seeded split by pair (the pairs
    shuffled with `numpy.random.default_rng(seed)`, first test, then dev),
    each split in file order, holding `round(fraction * pairs)` pairs (at
    least one for a non-zero fraction). The record's `split_policy` and a
    line of its `notes` say so. The same arguments give the same splits.

    Args:
        path: Folder, TSV file or aligned prefix.
        format, source_language, target_language, source_column,
        target_column, encoding, max_words: As in `read_parallel_texts`.
        dev_fraction: Float in [0, 1) (default `0.1`), carved as dev when no
            dev split is given.
        test_fraction: Float in [0, 1) (default `0.1`), carved as test.
        seed: Non-negative integer (default `0`).

    Returns:
        `(splits, record)`: `splits` a dict `{"train", "dev", "test"}` of
        `ParallelTexts`; `record` a JSON-ready dict (`source`, `layout`,
        `seed`, fractions, `max_words`, `split_policy` (`dev` and `test`:
        `"given"`, `"empty"` or `"by pair"`; and the `reason`), per split
        `source` / `count` / `fraction`, `skipped` with counts by reason and
        file and the first entries, and `notes`).

    Raises:
        DataError: a folder without split entries (listing what it holds),
            with split entries but no train, or with two entries for one
            split; a source whose pairs were all skipped (with the count of
            each reason, e.g. every pair longer than `max_words`); too few
            pairs to carve the fractions and keep some for train; and every
            data error of `read_parallel_texts`.
        ValueError: bad arguments (naming them).

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "pairs.tsv")
    >>> with open(path, "w") as file:
    ...     _ = file.write("".join(f"s{i}\\tt{i}\\n" for i in range(20)))
    >>> splits, record = load_parallel_splits(path, seed=3)
    >>> {name: len(split) for name, split in splits.items()}
    {'train': 16, 'dev': 2, 'test': 2}
    >>> record["layout"], record["split_policy"]
    ('single source', {'dev': 'by pair', 'test': 'by pair', 'reason': 'pairs are not grouped'})
    """
    dev_fraction, test_fraction, seed = check_split_arguments(dev_fraction, test_fraction, seed)

    def read(entry, entry_format):
        pairs = read_parallel_texts(
            entry,
            entry_format,
            source_language,
            target_language,
            source_column,
            target_column,
            encoding,
            max_words,
        )
        _check_kept_pairs(pairs)
        return pairs

    entries = None
    if isinstance(path, (str, os.PathLike)) and os.path.isdir(path):
        _check_arguments(format, source_column, target_column, max_words)
        check_encoding(encoding)
        if format == "aligned":
            _check_languages(source_language, target_language)
        entries = _split_entries(os.fspath(path), format, source_language, target_language)
        aligned = isinstance(source_language, str) and os.path.isfile(f"{path}.{source_language}")
        if entries is None and not (aligned and format != "tsv"):  # not a prefix either
            root = os.fspath(path)
            names = sorted(name for name in os.listdir(root) if not name.startswith("."))
            wanted = "train.tsv (or .tab / .txt)"
            if isinstance(source_language, str) and format != "tsv":
                wanted += f", or train.{source_language} + train.{target_language}"
            elif format != "tsv":
                wanted += " (aligned files train.<xx> need `source_language` and `target_language`)"
            raise data_error(
                root,
                None,
                f"holds no split entries: expected {wanted}, with dev and test optional. "
                f"Received: {names[:20]}"
                + (f" and {len(names) - 20} more" if len(names) > 20 else ""),
            )
    given = {}
    if entries:
        given = {name: read(entry, entry_format) for name, (entry, entry_format) in entries.items()}
    else:
        given["train"] = read(path, format)
    to_carve = fractions_to_carve(given, dev_fraction, test_fraction)
    source = given.pop("train")
    carving = carve(len(source), to_carve, seed, source=source.source, item="pair")

    def select(indices, carved):
        origin = (f"split of {source.source}", []) if carved else (source.source, source.skipped)
        sources = [source.sources[i] for i in indices]
        return ParallelTexts(sources, [source.targets[i] for i in indices], *origin)

    splits = carving.splits(select, given)
    record = {
        "source": os.fspath(path),
        "layout": "split files" if entries else "single source",
        "seed": seed,
        "dev_fraction": dev_fraction,
        "test_fraction": test_fraction,
        "max_words": max_words,
        "split_policy": carving.record(),
        "splits": {},
        "skipped": skipped_record(splits),
        "notes": carving.notes,
    }
    for name, split in splits.items():
        record["splits"][name] = {"source": split.source, "count": len(split)}
        if name in to_carve:
            record["splits"][name]["fraction"] = to_carve[name]
    return splits, record


# === Layout ===


def _check_arguments(format, source_column, target_column, max_words):
    if format is not None and format not in PARALLEL_FORMATS:
        raise ValueError(
            f"Argument `format` expected None or one of {list(PARALLEL_FORMATS)}. "
            f"Received: format={format!r}"
        )
    for name, value in (("source_column", source_column), ("target_column", target_column)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(
                f"Argument `{name}` expected a non-negative integer. Received: {name}={value!r}"
            )
    if source_column == target_column:
        raise ValueError(
            "Arguments `source_column` and `target_column` expected two different columns. "
            f"Received: source_column={source_column!r}, target_column={target_column!r}"
        )
    if max_words is not None and (
        isinstance(max_words, bool) or not isinstance(max_words, numbers.Integral) or max_words < 1
    ):
        raise ValueError(
            "Argument `max_words` expected a positive integer or None. "
            f"Received: max_words={max_words!r}"
        )


def _check_kept_pairs(pairs):
    """Raises a `DataError` when every pair of `pairs` was skipped, saying why (a
    `max_words` below every pair's length read as "too few pairs to carve")."""
    if pairs.sources or not pairs.skipped:
        return
    reasons = collections.Counter(entry["reason"] for entry in pairs.skipped)
    received = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    count = len(pairs.skipped)
    skipped = "its only pair was" if count == 1 else f"all {count} pairs were"
    raise data_error(
        pairs.source,
        None,
        f"{skipped} skipped, expected at least one pair kept. Received: {received}",
    )


def _check_languages(source_language, target_language):
    for name, value in (("source_language", source_language), ("target_language", target_language)):
        if not isinstance(value, str) or not value.strip() or os.sep in value:
            raise ValueError(
                f"Argument `{name}` expected a language suffix such as 'en' for aligned "
                f"files. Received: {name}={value!r}"
            )
    if source_language == target_language:
        raise ValueError(
            "Arguments `source_language` and `target_language` expected two different "
            f"suffixes. Received: {source_language!r} twice"
        )


def _resolve_format(path, format, source_language, target_language):
    if format is None:
        aligned = isinstance(source_language, str) and os.path.isfile(f"{path}.{source_language}")
        format = "aligned" if aligned else "tsv"
    if format == "aligned":
        _check_languages(source_language, target_language)
    elif os.path.isdir(path):
        raise ValueError(
            f"Argument `path` expected a TSV file or an aligned prefix, not a folder, for "
            f"format {format!r}. Received: path={path!r}"
        )
    return format


def _split_entries(root, format, source_language, target_language):
    """`{split: (path, format)}` of a data folder, or `None` when it has none."""
    found = {}
    names = sorted(os.listdir(root))
    for split, aliases in SPLIT_NAMES.items():
        for alias in aliases:
            for name in names:
                stem, suffix = os.path.splitext(name)
                if stem.lower() != alias:
                    continue
                if (
                    format != "tsv"
                    and isinstance(source_language, str)
                    and suffix == f".{source_language}"
                ):
                    entry = (os.path.join(root, stem), "aligned")
                elif format != "aligned" and suffix.lower() in TSV_SUFFIXES:
                    entry = (os.path.join(root, name), "tsv")
                else:
                    continue
                if split in found and found[split] != entry:
                    raise data_error(
                        root,
                        None,
                        f"holds two entries for the {split} split, expected one. Received: "
                        f"{os.path.basename(found[split][0])} and {os.path.basename(entry[0])}",
                    )
                found[split] = entry
    if not found:
        return None
    if "train" not in found:
        raise data_error(
            root,
            None,
            f"holds the split(s) {[s for s in SPLITS if s in found]} but no train split "
            "(train.tsv, or train.<source_language> + train.<target_language>)",
        )
    return found


# === Records ===


def _lines(path, encoding):
    content = read_text(path, encoding)
    if not content.strip():
        raise data_error(path, None, "is empty")
    return split_lines(content)


def _aligned_files_beside(path, prefix):
    """The files `<prefix>.<suffix>` other than `path` (aligned files, perhaps)."""
    folder, stem = os.path.split(prefix)
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    found = [os.path.join(folder, name) for name in sorted(names) if name.startswith(stem + ".")]
    return [name for name in found if os.path.isfile(name) and name != os.fspath(path)]


def _aligned_hint(path, prefix, lead=""):
    """Says how to read `<prefix>.<lang>` files as aligned files, when there are some."""
    beside = _aligned_files_beside(path, prefix)
    if not beside or (os.path.exists(path) and not os.path.splitext(path)[1]):
        return ""
    found = [os.path.basename(name) for name in beside[:4]]
    if os.path.exists(path):
        found.insert(0, os.path.basename(path))
    languages = [os.path.splitext(name)[1].lstrip(".") for name in found[:2]]
    return (
        f"{lead}For aligned files ({', '.join(found)}), pass their common prefix {prefix!r} "
        f"with source_language={languages[0]!r} and target_language={languages[-1]!r} "
        f"(a recipe: --set source_language={languages[0]} --set target_language={languages[-1]})"
    )


def _tsv_records(path, source_column, target_column, encoding):
    needed = max(source_column, target_column) + 1
    records = []
    for number, line in enumerate(_lines(path, encoding), start=1):
        if not line.strip() and "\t" not in line:
            continue  # a blank line; a line of tabs is a pair with empty sides
        fields = line.split("\t")
        if len(fields) < needed:
            raise data_error(
                path,
                number,
                f"has {len(fields)} tab-separated column(s), expected at least {needed} "
                f"(source_column={source_column}, target_column={target_column}). "
                f"Received: {line[:80]!r}" + _aligned_hint(path, os.path.splitext(path)[0], ". "),
            )
        records.append((path, number, fields[source_column], fields[target_column]))
    return records, path


def _aligned_records(prefix, source_language, target_language, encoding):
    paths = [f"{prefix}.{source_language}", f"{prefix}.{target_language}"]
    missing = [path for path in paths if not os.path.isfile(path)]
    if len(missing) == 2:
        raise ValueError(
            f"Argument `path` expected the prefix of aligned files {paths[0]} and {paths[1]}. "
            f"Received: path={prefix!r} (neither file exists)"
        )
    if missing:
        raise data_error(
            missing[0],
            None,
            f"does not exist: aligned files expected {paths[0]} and {paths[1]}, one line per "
            f"sentence in each. Received: path={prefix!r}",
        )
    source_lines, target_lines = (_lines(path, encoding) for path in paths)
    if len(source_lines) != len(target_lines):
        raise data_error(
            paths[0],
            None,
            f"has {len(source_lines)} lines but {paths[1]} has {len(target_lines)}; aligned "
            "files need one line per sentence on both sides",
        )
    records = [
        (paths[0], number, source, target)
        for number, (source, target) in enumerate(zip(source_lines, target_lines), start=1)
    ]
    return records, f"{paths[0]} + {paths[1]}"
