"""Parallel text: TSV and aligned files, bad files, splits given or carved."""

import json

import numpy as np
import pytest

from toolkit.data import DataError
from toolkit.data import ParallelTexts
from toolkit.data import load_parallel_splits
from toolkit.data import read_parallel_texts

pytestmark = pytest.mark.no_keras_state


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_tsv_keeps_two_columns_and_ignores_the_rest(tmp_path):
    path = write(
        tmp_path / "deu.tsv",
        "Go.\tGeh.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\n"
        "\n"
        'He said "hi".\tEr sagte „hallo“.\tCC-BY\r\n'
        "  Run!  \t Lauf! \n",
    )
    pairs = read_parallel_texts(path)
    assert pairs.sources == ["Go.", 'He said "hi".', "Run!"]
    assert pairs.targets == ["Geh.", "Er sagte „hallo“.", "Lauf!"]
    assert pairs.skipped == [] and pairs.source == str(path)


def test_tsv_other_columns(tmp_path):
    path = write(tmp_path / "pairs.tsv", "1\tGeh.\tGo.\n2\tLauf!\tRun!\n")
    pairs = read_parallel_texts(path, source_column=2, target_column=1)
    assert pairs.sources == ["Go.", "Run!"] and pairs.targets == ["Geh.", "Lauf!"]


def test_empty_sides_and_long_pairs_are_skipped_and_counted(tmp_path):
    path = write(
        tmp_path / "pairs.tsv",
        "a b c\tx y z\n\tnur Ziel\nonly source\t \none two three four\teins\n \t \n",
    )
    pairs = read_parallel_texts(path, max_words=3)
    assert pairs.sources == ["a b c"]
    assert [(entry["line"], entry["reason"]) for entry in pairs.skipped] == [
        (2, "empty source"),
        (3, "empty target"),
        (4, "longer than max_words=3"),
        (5, "empty source and target"),
    ]
    assert all(entry["file"] == str(path) for entry in pairs.skipped)


def test_tsv_line_without_a_tab_names_file_and_line(tmp_path):
    path = write(tmp_path / "pairs.tsv", "Go.\tGeh.\nno tab here\n")
    with pytest.raises(ValueError, match=r"pairs\.tsv, line 2: has 1 tab-separated column"):
        read_parallel_texts(path)


def test_undecodable_bytes_and_empty_files(tmp_path):
    path = write(tmp_path / "pairs.tsv", b"Go.\tGeh.\nbad \xff\tbyte\n")
    with pytest.raises(ValueError, match=r"pairs\.tsv, line 2: cannot decode"):
        read_parallel_texts(path)
    with pytest.raises(ValueError, match=r"empty\.tsv: is empty"):
        read_parallel_texts(write(tmp_path / "empty.tsv", "\n\n"))
    with pytest.raises(ValueError, match=r"Argument `path` expected an existing file"):
        read_parallel_texts(tmp_path / "missing.tsv")


def test_aligned_files(tmp_path):
    write(tmp_path / "train.en", "Hello.\nThank you.\n\nGood night.\n")
    write(tmp_path / "train.de", "Hallo.\nDanke.\nleer\nGute Nacht.\n")
    pairs = read_parallel_texts(tmp_path / "train", source_language="en", target_language="de")
    assert pairs.sources == ["Hello.", "Thank you.", "Good night."]
    assert pairs.targets == ["Hallo.", "Danke.", "Gute Nacht."]
    assert pairs.skipped == [
        {"file": str(tmp_path / "train.en"), "line": 3, "reason": "empty source"}
    ]
    reverse = read_parallel_texts(
        tmp_path / "train", format="aligned", source_language="de", target_language="en"
    )
    assert reverse.sources[0] == "Hallo."


def test_aligned_files_with_different_line_counts_are_an_error(tmp_path):
    write(tmp_path / "train.en", "a\nb\nc\n")
    write(tmp_path / "train.de", "x\ny\n")
    with pytest.raises(ValueError, match=r"train\.en: has 3 lines but .*train\.de has 2"):
        read_parallel_texts(tmp_path / "train", source_language="en", target_language="de")
    with pytest.raises(ValueError, match=r"expected .*train\.en and .*train\.fr"):
        read_parallel_texts(
            tmp_path / "train", format="aligned", source_language="en", target_language="fr"
        )
    with pytest.raises(ValueError, match=r"Argument `source_language` expected a language"):
        read_parallel_texts(tmp_path / "train", format="aligned")


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"format": "csv"}, r"Argument `format` expected None or one of \['tsv', 'aligned'\]"),
        ({"source_column": -1}, r"Argument `source_column` expected a non-negative integer"),
        ({"target_column": 0}, r"expected two different columns"),
        ({"max_words": 0}, r"Argument `max_words` expected a positive integer or None"),
    ],
)
def test_bad_arguments_are_named(tmp_path, arguments, message):
    path = write(tmp_path / "pairs.tsv", "a\tb\n")
    with pytest.raises(ValueError, match=message):
        read_parallel_texts(path, **arguments)


def test_single_source_is_carved_seeded_and_disjoint(tmp_path):
    path = write(tmp_path / "pairs.tsv", "".join(f"s{i}\tt{i}\n" for i in range(50)) + "\tx\n")
    splits, record = load_parallel_splits(path, dev_fraction=0.2, test_fraction=0.1, seed=4)
    assert {name: len(split) for name, split in splits.items()} == {
        "train": 35,
        "dev": 10,
        "test": 5,
    }
    everything = [s for split in splits.values() for s in split.sources]
    assert sorted(everything) == sorted(f"s{i}" for i in range(50))
    for split in splits.values():
        assert [f"t{s[1:]}" for s in split.sources] == split.targets
    again, _ = load_parallel_splits(path, dev_fraction=0.2, test_fraction=0.1, seed=4)
    assert again == splits
    other, _ = load_parallel_splits(path, dev_fraction=0.2, test_fraction=0.1, seed=5)
    assert other["test"].sources != splits["test"].sources
    assert record["layout"] == "single source"
    assert record["skipped"]["count"] == 1
    assert record["splits"]["dev"] == {"source": f"split of {path}", "count": 10, "fraction": 0.2}
    # The pairs shuffled with default_rng(seed): test takes the first 5, dev the next 10.
    order = np.random.default_rng(4).permutation(50).tolist()
    assert splits["test"].sources == [f"s{i}" for i in sorted(order[:5])]
    assert splits["dev"].sources == [f"s{i}" for i in sorted(order[5:15])]
    assert record["split_policy"] == {
        "dev": "by pair",
        "test": "by pair",
        "reason": "pairs are not grouped",
    }
    assert record["notes"] == ["dev and test carved by pair: pairs are not grouped"]
    assert json.loads(json.dumps(record)) == record


def test_split_files_are_used_and_missing_ones_carved(tmp_path):
    write(tmp_path / "train.tsv", "".join(f"s{i}\tt{i}\n" for i in range(20)))
    write(tmp_path / "test.tsv", "q\tr\n")
    write(tmp_path / "README", "not a split")
    splits, record = load_parallel_splits(tmp_path, dev_fraction=0.1)
    assert splits["test"].sources == ["q"]
    assert len(splits["dev"]) == 2 and len(splits["train"]) == 18
    assert record["layout"] == "split files"
    assert "fraction" not in record["splits"]["test"]


def test_aligned_split_files(tmp_path):
    for split, count in (("train", 12), ("valid", 3), ("test", 2)):
        write(tmp_path / f"{split}.en", "".join(f"e{i}\n" for i in range(count)))
        write(tmp_path / f"{split}.de", "".join(f"d{i}\n" for i in range(count)))
    splits, record = load_parallel_splits(tmp_path, source_language="en", target_language="de")
    assert {name: len(split) for name, split in splits.items()} == {
        "train": 12,
        "dev": 3,
        "test": 2,
    }
    assert splits["dev"].source == f"{tmp_path / 'valid.en'} + {tmp_path / 'valid.de'}"


def test_folder_without_train_and_too_small_sources(tmp_path):
    write(tmp_path / "dev.tsv", "a\tb\n")
    with pytest.raises(ValueError, match=r"no train split"):
        load_parallel_splits(tmp_path)
    tiny = write(tmp_path / "tiny.tsv", "a\tb\n")
    with pytest.raises(ValueError, match=r"tiny\.tsv: holds 1 pairs, too few"):
        load_parallel_splits(tiny)
    with pytest.raises(ValueError, match=r"Arguments `dev_fraction` and `test_fraction`"):
        load_parallel_splits(tiny, dev_fraction=0.5, test_fraction=0.5)


def test_a_source_whose_pairs_were_all_skipped_says_so(tmp_path):
    """Every pair longer than max_words read as "holds 0 pairs, too few to carve"."""
    path = write(tmp_path / "long.tsv", "a b c\tx y z\n\tleer\none two three\teins\n")
    message = (
        r"long\.tsv: all 3 pairs were skipped, expected at least one pair kept\. "
        r"Received: 1 empty source, 2 longer than max_words=2$"
    )
    with pytest.raises(ValueError, match=message):
        load_parallel_splits(path, max_words=2)
    assert len(load_parallel_splits(path, max_words=3, test_fraction=0.0)[0]["train"]) == 1
    write(tmp_path / "train.tsv", "".join(f"s{i}\tt{i}\n" for i in range(20)))
    write(tmp_path / "test.tsv", "one two three four\tx\n")
    with pytest.raises(
        ValueError,
        match=r"test\.tsv: its only pair was skipped.*Received: 1 longer than max_words=3",
    ):
        load_parallel_splits(tmp_path, max_words=3)
    splits, record = load_parallel_splits(tmp_path)
    assert record["split_policy"] == {
        "dev": "by pair",
        "test": "given",
        "reason": "pairs are not grouped",
    }


def test_parallel_texts_checks_lengths():
    with pytest.raises(ValueError, match=r"Received: 2 sources and 1 targets"):
        ParallelTexts(["a", "b"], ["x"], "here")


def test_aligned_files_read_without_languages_say_how_to_read_them(tmp_path):
    """`--data data/m` (or `data/m.en`) for m.en + m.de named no way to read them."""
    (tmp_path / "m.en").write_text("hello\nthanks\n")
    (tmp_path / "m.de").write_text("hallo\ndanke\n")
    hint = "pass their common prefix"
    with pytest.raises(DataError, match=f"m: no such file. For aligned files .*{hint}"):
        read_parallel_texts(tmp_path / "m")
    with pytest.raises(DataError, match=f"1 tab-separated column.*{hint}.*source_language='en'"):
        read_parallel_texts(tmp_path / "m.en")
    pairs = read_parallel_texts(tmp_path / "m", source_language="en", target_language="de")
    assert pairs.sources == ["hello", "thanks"]


def test_an_unknown_encoding_is_an_argument_error(tmp_path):
    """`encoding` was never checked: a raw `LookupError` from `bytes.decode`."""
    (tmp_path / "pairs.tsv").write_text("hello\thallo\n")
    for read in (read_parallel_texts, load_parallel_splits):
        with pytest.raises(ValueError, match="Argument `encoding` expected"):
            read(tmp_path / "pairs.tsv", encoding="nope")
