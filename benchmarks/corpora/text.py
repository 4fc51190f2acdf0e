"""Labelled text corpora of other shapes than the bundled one, from real docstrings.

Each example is a docstring of a function or class of an installed Python
package, labelled by its top-level package (`numpy`, `scipy`, `sklearn`,
`keras`, `matplotlib`, ...): short examples are a docstring's first sentence
(3-20 words), long ones its description, the paragraphs before the first
section (`Args:`, `Parameters`, `Returns`, `>>>`, ...), 40-200 words. The
sources are parsed with `ast`, never imported; vendored copies (`_vendor`,
`externals`, `third_party`, ...) and tests are skipped, and a text found in two
packages is dropped, so that no example carries two labels.

A `TextShape` sets the number of classes, the examples per class (one count,
or one per class for imbalance), short or long texts, and the layout:
`train.csv`, `dev.csv`, `test.csv` (`text,label` columns), the same without
`dev.csv` (the recipe carves dev out of train), or one `data.csv` (the recipe
carves dev and test). Test takes 20 % and dev 10 % of each class.

Deterministic: the seed orders the source files and picks the examples, so the
same shape, seed and installed packages give byte-identical files. Packages
are taken in `PACKAGES` order, skipping any that is not installed or has too
few docstrings of the wanted kind (the record lists both).

    python -m benchmarks.corpora.text --shape 24-classes --seed 0 --out /tmp/text-24
"""

import argparse
import ast
import csv
import dataclasses
import importlib.util
import json
import pathlib
import re

import numpy as np

from benchmarks.corpora.folders import clear_corpus_folder
from benchmarks.corpora.folders import write_corpus_record

# Preferred order: the project's own dependencies first (installed wherever it is), then
# packages of its test and notebook extras, then whatever else a venv may hold.
PACKAGES = (
    "numpy",
    "scipy",
    "sklearn",
    "matplotlib",
    "keras",
    "tensorflow",
    "keras_hub",
    "tensorboard",
    "jax",
    "setuptools",
    "pip",
    "fontTools",
    "PIL",
    "pygments",
    "h5py",
    "rich",
    "werkzeug",
    "markdown",
    "markdown_it",
    "joblib",
    "sacrebleu",
    "_pytest",
    "IPython",
    "tornado",
    "pandas",
    "huggingface_hub",
    "prompt_toolkit",
    "jedi",
    "debugpy",
    "narwhals",
    "fsspec",
    "urllib3",
    "jsonschema",
    "anyio",
)
SKIPPED_FOLDERS = {
    "_vendor",
    "vendor",
    "vendored",
    "externals",
    "_external",
    "third_party",
    "tests",
    "test",
    "testing",
    "examples",
}
TEST_FILE = re.compile(r"(^test_.*|.*_test)\.py$")
SHORT_WORDS = (3, 20)
LONG_WORDS = (40, 200)  # longer descriptions are cut at 200 words
PER_FILE = 4  # at most this many examples from one source file, for variety
TEST_FRACTION, DEV_FRACTION = 0.2, 0.1

SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Params|Returns?|Yields?|Raises|Examples?|Notes?|See Also|"
    r"References|Attributes|Call arguments|Input shape|Output shape|Usage|Warning|Warns|"
    r"Methods|Properties|Other Parameters|Keyword Arguments)\s*:?\s*$"
)
ROLE = re.compile(r":[a-z:]+:`~?([^`]*)`")  # :func:`name` -> name


@dataclasses.dataclass(frozen=True)
class TextShape:
    """The shape of a labelled text corpus.

    Args:
        name: String, the shape's name (a folder name in the benchmark).
        classes: Integer >= 2 (default `2`), the number of labels.
        examples: Positive integer (default `300`), examples per class, or a
            tuple of `classes` positive integers, one per class in `PACKAGES`
            order (imbalanced classes).
        length: `"short"` (default: first sentences, 3-20 words) or `"long"`
            (descriptions, 40-200 words).
        layout: `"splits"` (default: `train.csv`, `dev.csv`, `test.csv`),
            `"no-dev"` (`train.csv`, `test.csv`) or `"single"` (`data.csv`).
        packages: Tuple of package names (default `PACKAGES`), the labels in
            order of preference.
    """

    name: str
    classes: int = 2
    examples: int | tuple = 300
    length: str = "short"
    layout: str = "splits"
    packages: tuple = PACKAGES

    def __post_init__(self):
        if not isinstance(self.classes, int) or self.classes < 2:
            raise ValueError(
                f"Argument `classes` expected an integer >= 2. Received: classes={self.classes!r}"
            )
        counts = self.examples if isinstance(self.examples, (tuple, list)) else None
        if counts is not None:
            object.__setattr__(self, "examples", tuple(counts))
        if (counts is not None and len(counts) != self.classes) or any(
            not isinstance(n, int) or n < 1 for n in (counts or [self.examples])
        ):
            raise ValueError(
                "Argument `examples` expected a positive integer or one per class "
                f"({self.classes}). Received: examples={self.examples!r}"
            )
        if self.length not in ("short", "long"):
            raise ValueError(
                f'Argument `length` expected "short" or "long". Received: length={self.length!r}'
            )
        if self.layout not in ("splits", "no-dev", "single"):
            raise ValueError(
                'Argument `layout` expected "splits", "no-dev" or "single". '
                f"Received: layout={self.layout!r}"
            )
        object.__setattr__(self, "packages", tuple(self.packages))

    def counts(self):
        """Examples per class, a list of `classes` integers."""
        if isinstance(self.examples, tuple):
            return list(self.examples)
        return [self.examples] * self.classes

    def quick(self):
        """The same shape at a tenth of the examples (at least 10 per class), up to 4 classes."""
        classes = min(self.classes, 4)
        counts = [max(10, n // 10) for n in self.counts()[:classes]]
        imbalanced = isinstance(self.examples, tuple)
        return dataclasses.replace(
            self, classes=classes, examples=tuple(counts) if imbalanced else counts[0]
        )


SHAPES = {
    shape.name: shape
    for shape in (
        TextShape("2-classes", classes=2, examples=300, packages=("numpy", "matplotlib")),
        TextShape("24-classes", classes=24, examples=80),
        TextShape("long-texts", classes=6, examples=120, length="long"),
        TextShape("imbalanced", classes=6, examples=(600, 300, 150, 75, 40, 20)),
        TextShape("no-dev", classes=8, examples=100, layout="no-dev"),
        TextShape("single-file", classes=8, examples=100, layout="single"),
    )
}


# === Docstrings ===


def package_folder(package):
    """The source folder of an installed package, or `None` when it is not installed."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def source_files(folder):
    """The package's `.py` files, sorted, without vendored copies and tests."""
    return sorted(
        path
        for path in folder.rglob("*.py")
        if not SKIPPED_FOLDERS & set(path.relative_to(folder).parts[:-1])
        and not TEST_FILE.match(path.name)
    )


def clean(text):
    """RST roles and markup removed, whitespace collapsed."""
    text = ROLE.sub(r"\1", text)
    text = text.replace("``", "").replace("`", "").replace("**", "")
    return " ".join(text.split())


def description(docstring):
    """The docstring's paragraphs before its first section, code example or directive."""
    lines = docstring.splitlines()
    kept = []
    for index, line in enumerate(lines):
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        stripped = line.strip()
        if (
            SECTION.match(line)
            or re.fullmatch(r"[-=~]{3,}", following)
            or stripped.startswith((">>>", "..", "```", "|"))
        ):
            break
        kept.append(line)
    return clean("\n".join(kept))


def first_sentence(docstring):
    """The first sentence of the docstring's first paragraph."""
    paragraph = clean(docstring.strip().split("\n\n")[0])
    match = re.match(r"(.+?[.!?])(\s+[A-Z(]|$)", paragraph)
    return match.group(1) if match else paragraph


def example_text(docstring, length):
    """The docstring's short or long example text, or `None` when it does not qualify."""
    if length == "short":
        text, (low, high) = first_sentence(docstring), SHORT_WORDS
    else:
        text, (low, high) = description(docstring), LONG_WORDS
    words = text.split()
    if len(words) < low or (length == "short" and len(words) > high):
        return None
    if not re.search(r"[A-Za-z]{3}", text) or "\ufffd" in text:
        return None
    return " ".join(words[:high])


def file_docstrings(path):
    """The docstrings of the functions and classes of one file, in source order."""
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, UnicodeDecodeError):
        return []
    nodes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    found = [ast.get_docstring(node) for node in ast.walk(tree) if isinstance(node, nodes)]
    return [docstring for docstring in found if docstring]


def candidates(package, length, wanted, seed):
    """Up to `wanted` distinct example texts of `package`, at most PER_FILE per file.

    The files are visited in an order shuffled by `seed` and `package`, so a
    small corpus reads a few files, not the whole package.
    """
    folder = package_folder(package)
    if folder is None:
        return []
    files = source_files(folder)
    key = [seed, *package.encode()]
    order = np.random.default_rng(key).permutation(len(files))
    texts, seen = [], set()
    for index in order:
        found = []
        for docstring in file_docstrings(files[index]):
            text = example_text(docstring, length)
            if text is not None and text not in seen:
                seen.add(text)
                found.append(text)
        if len(found) > PER_FILE:
            picks = np.random.default_rng([*key, int(index)]).choice(len(found), PER_FILE, False)
            found = [found[i] for i in sorted(picks)]
        texts.extend(found)
        if len(texts) >= wanted:
            break
    return texts[:wanted]


# === Corpus ===


def make_examples(shape, seed):
    """-> ({label: [texts]}, notes) for the shape's classes, `counts()` texts each.

    Packages are read in the shape's order until enough of them have enough
    texts that no other package read has too.
    """
    counts = shape.counts()
    pools, notes = {}, []
    for package in shape.packages:
        chosen, _ = assign_examples(pools, counts, seed)
        if len(chosen) == shape.classes:
            break
        # Twice what the next class needs (and 20 more), so that the texts dropped as shared
        # with another package rarely leave it short.
        wanted = 2 * max(counts[len(chosen) :]) + 20
        texts = candidates(package, shape.length, wanted, seed)
        if texts:
            pools[package] = texts
        else:
            notes.append(f"{package}: not installed, or no {shape.length} docstrings")
    chosen, short = assign_examples(pools, counts, seed)
    notes += short
    if len(chosen) < shape.classes:
        raise ValueError(
            f"Shape {shape.name!r} needs {shape.classes} packages with enough {shape.length} "
            f"docstrings; found {len(chosen)} ({sorted(chosen)}). Notes: {notes}"
        )
    return chosen, notes


def assign_examples(pools, counts, seed):
    """Gives the pools' packages, in order, their classes' counts of texts that no other pool
    holds; a package with too few is skipped. -> ({label: [texts]}, notes)."""
    owners = {}
    for package, texts in pools.items():
        for text in texts:
            owners.setdefault(text, set()).add(package)
    chosen, notes = {}, []
    for package, texts in pools.items():
        if len(chosen) == len(counts):
            break
        need = counts[len(chosen)]
        unique = [text for text in texts if len(owners[text]) == 1]
        if len(unique) < need:
            notes.append(f"{package}: {len(unique)} docstrings of the kind, {need} needed")
            continue
        rng = np.random.default_rng([seed, *package.encode(), 1])
        chosen[package] = [unique[i] for i in sorted(rng.choice(len(unique), need, False))]
    return chosen, notes


def split_examples(chosen, seed):
    """Per class: test 20 %, dev 10 %, train the rest (at least one each); rows shuffled."""
    rng = np.random.default_rng([seed, 2])
    splits = {"train": [], "dev": [], "test": []}
    for label, texts in chosen.items():
        order = rng.permutation(len(texts))
        test = max(1, round(TEST_FRACTION * len(texts)))
        dev = max(1, round(DEV_FRACTION * len(texts)))
        if test + dev >= len(texts):
            raise ValueError(f"Class {label!r} has {len(texts)} examples; at least 3 are needed")
        parts = {
            "test": order[:test],
            "dev": order[test : test + dev],
            "train": order[test + dev :],
        }
        for name, indices in parts.items():
            splits[name].extend((texts[i], label) for i in sorted(indices))
    return {name: shuffled(rows, rng) for name, rows in splits.items()}


def shuffled(rows, rng):
    return [rows[i] for i in rng.permutation(len(rows))]


def write_rows(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def write_text_corpus(out_dir, shape, seed=0):
    """Writes a corpus of `shape` into `out_dir`.

    Args:
        out_dir: Path of a new or empty folder, or of an earlier generated
            corpus (which is replaced).
        shape: A `TextShape`, or the name of one of `SHAPES`.
        seed: Non-negative integer (default `0`).

    Returns:
        The corpus' `corpus.json` record, a dict: `shape`, `seed`, `data` (what
        to give the recipe's `--data`, relative to `out_dir`: `.` or `data.csv`),
        `files`, `labels`, `counts` (per split and label, for the files
        written; a split the recipe carves is absent), `words` (min / median
        / max per text) and `notes` (packages skipped).

    Raises:
        ValueError: too few installed packages with enough docstrings.
    """
    shape = SHAPES[shape] if isinstance(shape, str) else shape
    out_dir = clear_corpus_folder(out_dir)
    chosen, notes = make_examples(shape, seed)
    splits = split_examples(chosen, seed)
    # Joined splits are shuffled again, so that no file lists one split after another.
    rng = np.random.default_rng([seed, 3])
    if shape.layout == "single":
        files = {"data": shuffled(splits["train"] + splits["dev"] + splits["test"], rng)}
    elif shape.layout == "no-dev":
        files = {"train": shuffled(splits["train"] + splits["dev"], rng), "test": splits["test"]}
    else:
        files = splits
    for name, rows in files.items():
        write_rows(out_dir / f"{name}.csv", rows)

    words = [len(text.split()) for texts in chosen.values() for text in texts]
    record = {
        "generator": "benchmarks.corpora.text",
        "shape": dataclasses.asdict(shape),
        "seed": seed,
        "data": "data.csv" if shape.layout == "single" else ".",
        "files": sorted(f"{name}.csv" for name in files),
        "labels": sorted(chosen),
        "counts": {
            name: {label: sum(1 for _, lab in rows if lab == label) for label in sorted(chosen)}
            for name, rows in files.items()
        },
        "words": {"min": min(words), "median": float(np.median(words)), "max": max(words)},
        "notes": notes,
    }
    write_corpus_record(out_dir, record)
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.corpora.text", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", required=True, help="corpus folder (new, or a generated one)")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="2-classes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a tenth of the examples")
    args = parser.parse_args(argv)
    shape = SHAPES[args.shape].quick() if args.quick else SHAPES[args.shape]
    record = write_text_corpus(args.out, shape, args.seed)
    print(json.dumps({key: record[key] for key in ("labels", "counts", "words", "notes")}))


if __name__ == "__main__":
    main()
