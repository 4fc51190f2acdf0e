"""load_text_splits: split detection, seeded stratified carving, the record, and errors."""

import json
import re

import numpy as np
import pytest

from toolkit.data import load_text_splits

# No Keras object is built here: skip the suite's per-test Keras reset.
pytestmark = pytest.mark.no_keras_state


def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def write_csv(path, rows):
    return write(path, "text,label\n" + "".join(f"{text},{label}\n" for text, label in rows))


def write_tree(root, rows):
    for index, (text, label) in enumerate(rows):
        write(root / label / f"{index:03d}.txt", text)
    return root


def labelled(count, labels=("a", "b", "c"), prefix="t"):
    return [(f"{prefix}{i}", labels[i % len(labels)]) for i in range(count)]


def pairs(split):
    return list(zip(split.texts, split.labels))


# === Split detection ===


def test_train_dev_test_files_are_used_as_given(tmp_path):
    write_csv(tmp_path / "train.csv", labelled(9))
    write_csv(tmp_path / "dev.csv", labelled(3, prefix="d"))
    write(tmp_path / "test.jsonl", '{"text": "q", "label": "b"}\n')
    write(tmp_path / "README.md", "about the data")
    splits, record = load_text_splits(tmp_path)
    assert pairs(splits["train"]) == labelled(9)
    assert pairs(splits["dev"]) == labelled(3, prefix="d")
    assert pairs(splits["test"]) == [("q", "b")]
    assert record["layout"] == "split files"
    assert record["stratified"] is None
    assert {name: s["source"] for name, s in record["splits"].items()} == {
        "train": str(tmp_path / "train.csv"),
        "dev": str(tmp_path / "dev.csv"),
        "test": str(tmp_path / "test.jsonl"),
    }
    assert any("README.md" in note for note in record["notes"])
    assert json.loads(json.dumps(record)) == record


def test_train_valid_test_folders(tmp_path):
    write_tree(tmp_path / "train", labelled(6, labels=("neg", "pos")))
    write_tree(tmp_path / "valid", [("v", "pos")])
    write_tree(tmp_path / "Test", [("t", "neg")])
    splits, record = load_text_splits(tmp_path, format="csv")  # folders stay class trees
    assert splits["train"].label_counts() == {"neg": 3, "pos": 3}
    assert pairs(splits["dev"]) == [("v", "pos")]
    assert pairs(splits["test"]) == [("t", "neg")]
    assert record["splits"]["dev"]["source"] == str(tmp_path / "valid")


def test_train_only_carves_dev_and_test_stratified_and_seeded(tmp_path):
    rows = labelled(60, labels=("a", "a", "b", "c"))  # a: 30, b: 15, c: 15
    write_csv(tmp_path / "train.csv", rows)
    splits, record = load_text_splits(tmp_path, dev_fraction=0.2, test_fraction=0.2, seed=3)
    sizes = {name: len(split) for name, split in splits.items()}
    assert sizes == {"train": 36, "dev": 12, "test": 12}
    for name in ("dev", "test"):
        assert splits[name].label_counts() == {"a": 6, "b": 3, "c": 3}  # stratified
        assert splits[name].source == f"split of {tmp_path / 'train.csv'}"
    all_pairs = [p for split in splits.values() for p in pairs(split)]
    assert sorted(all_pairs) == sorted(rows)  # union == all, no overlap
    assert len(set(all_pairs)) == len(rows)
    for split in splits.values():  # each split keeps file order
        assert pairs(split) == [p for p in rows if p in set(pairs(split))]
    again, _ = load_text_splits(tmp_path, dev_fraction=0.2, test_fraction=0.2, seed=3)
    assert {n: pairs(s) for n, s in again.items()} == {n: pairs(s) for n, s in splits.items()}
    other, _ = load_text_splits(tmp_path, dev_fraction=0.2, test_fraction=0.2, seed=4)
    assert pairs(other["test"]) != pairs(splits["test"])
    assert record["stratified"] is True
    assert record["seed"] == 3
    assert record["splits"]["test"] == {
        "source": f"split of {tmp_path / 'train.csv'}",
        "count": 12,
        "label_counts": {"a": 6, "b": 3, "c": 3},
        "fraction": 0.2,
    }
    assert record["splits"]["train"]["count"] == 36
    assert record["split_policy"] == {
        "dev": "stratified by label",
        "test": "stratified by label",
        "reason": "each label gives its share",
    }
    assert "dev and test carved stratified by label: each label gives its share" in record["notes"]
    assert json.loads(json.dumps(record)) == record


def test_carving_is_scikit_learns_stratified_split_test_then_dev(tmp_path):
    """The documented rule, computed here with scikit-learn directly: test is carved from
    all rows, then dev from the rest, each with `stratify` and `random_state=seed`."""
    from sklearn.model_selection import train_test_split

    rows = labelled(50, labels=("a", "b", "b", "c", "c"))
    write_csv(tmp_path / "train.csv", rows)
    splits, _ = load_text_splits(tmp_path, dev_fraction=0.1, test_fraction=0.2, seed=11)
    labels = np.array([label for _, label in rows], dtype=object)
    rest, test = train_test_split(
        np.arange(50), test_size=10, random_state=11, shuffle=True, stratify=labels
    )
    rest, dev = train_test_split(rest, test_size=5, random_state=11, stratify=labels[rest])
    assert pairs(splits["test"]) == [rows[i] for i in sorted(test)]
    assert pairs(splits["dev"]) == [rows[i] for i in sorted(dev)]
    assert pairs(splits["train"]) == [rows[i] for i in sorted(rest)]


def test_only_the_missing_split_is_carved(tmp_path):
    write_csv(tmp_path / "train.csv", labelled(20, labels=("a", "b")))
    write_csv(tmp_path / "test.csv", [("x", "a")])
    splits, record = load_text_splits(tmp_path, dev_fraction=0.1, test_fraction=0.5)
    assert len(splits["train"]) == 18 and len(splits["dev"]) == 2
    assert pairs(splits["test"]) == [("x", "a")]
    assert "fraction" not in record["splits"]["test"]
    assert record["splits"]["dev"]["fraction"] == 0.1


@pytest.mark.parametrize("kind", ["csv", "jsonl", "tree"])
def test_single_source_makes_three_splits(tmp_path, kind):
    rows = labelled(30, labels=("x", "y"))
    if kind == "csv":
        path = write_csv(tmp_path / "all.csv", rows)
    elif kind == "jsonl":
        lines = "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows)
        path = write(tmp_path / "all.jsonl", lines)
    else:
        path = write_tree(tmp_path / "tree", rows)
    splits, record = load_text_splits(path, seed=0)
    assert [len(splits[name]) for name in ("train", "dev", "test")] == [24, 3, 3]
    assert sorted(p for s in splits.values() for p in pairs(s)) == sorted(rows)
    assert record["layout"] == "single source"
    assert record["source"] == str(path)
    assert record["splits"]["train"]["source"] == str(path)
    assert record["labels"] == ["x", "y"]


def test_zero_fraction_gives_an_empty_split(tmp_path):
    path = write_csv(tmp_path / "all.csv", labelled(10, labels=("a", "b")))
    splits, record = load_text_splits(path, dev_fraction=0.0, test_fraction=0.2)
    assert len(splits["dev"]) == 0 and len(splits["test"]) == 2
    assert record["splits"]["dev"]["count"] == 0


def test_rare_class_falls_back_to_a_non_stratified_split_and_says_so(tmp_path):
    rows = labelled(20, labels=("a", "b")) + [("lonely", "rare")]
    path = write_csv(tmp_path / "all.csv", rows)
    for seed in range(6):
        splits, record = load_text_splits(path, dev_fraction=0.2, test_fraction=0.2, seed=seed)
        assert record["stratified"] is False
        assert record["split_policy"]["dev"] == "by example"
        assert record["split_policy"]["reason"].startswith("not stratified by label (")
        assert any("not stratified" in note for note in record["notes"])
        assert "rare" in splits["train"].labels  # never only in dev/test
        for name in ("dev", "test"):
            assert set(splits[name].labels) <= set(splits["train"].labels)
        assert sorted(p for s in splits.values() for p in pairs(s)) == sorted(rows)


def test_skipped_rows_are_counted_in_the_record(tmp_path):
    write(tmp_path / "train.csv", "text,label\n" + "".join(f"t{i},a\n" for i in range(10)) + ",a\n")
    write(tmp_path / "dev.csv", "text,label\nx,\ny,a\n")
    write(tmp_path / "test.csv", "text,label\nz,a\n")
    splits, record = load_text_splits(tmp_path)
    assert splits["train"].skipped == [
        {"file": str(tmp_path / "train.csv"), "line": 12, "reason": "empty text"}
    ]
    assert record["skipped"] == {
        "count": 2,
        "by_reason": {"empty label": 1, "empty text": 1},
        "by_file": {str(tmp_path / "dev.csv"): 1, str(tmp_path / "train.csv"): 1},
        "first": [
            {"file": str(tmp_path / "train.csv"), "line": 12, "reason": "empty text"},
            {"file": str(tmp_path / "dev.csv"), "line": 2, "reason": "empty label"},
        ],
    }


def test_record_keeps_only_the_first_twenty_skipped_rows(tmp_path):
    rows = "".join(f"t{i},a\n" for i in range(20)) + "".join(" ,a\n" for _ in range(25))
    path = write(tmp_path / "all.csv", "text,label\n" + rows)
    splits, record = load_text_splits(path)
    assert len(splits["train"].skipped) == 25
    assert record["skipped"]["count"] == 25 and len(record["skipped"]["first"]) == 20


# === Errors ===


def test_unknown_label_in_test_names_file_line_and_label(tmp_path):
    write_csv(tmp_path / "train.csv", labelled(6, labels=("neg", "pos")))
    write(tmp_path / "test.csv", 'text,label\nok,pos\n"two\nlines",neg\nodd,neutral\n')
    test_file = re.escape(str(tmp_path / "test.csv"))
    with pytest.raises(ValueError, match=rf"^{test_file}, line 5: the label 'neutral' of the test"):
        load_text_splits(tmp_path)


def test_unknown_label_in_a_dev_folder(tmp_path):
    write_tree(tmp_path / "train", [("a", "pos"), ("b", "neg")])
    write_tree(tmp_path / "dev", [("c", "maybe")])
    with pytest.raises(ValueError, match=r"000\.txt: the label 'maybe' of the dev split"):
        load_text_splits(tmp_path)


def test_split_layout_errors(tmp_path):
    write_csv(tmp_path / "a" / "dev.csv", labelled(3))
    write_csv(tmp_path / "a" / "test.csv", labelled(3))
    with pytest.raises(ValueError, match=r"holds the split\(s\) \['dev', 'test'\] but no train"):
        load_text_splits(tmp_path / "a")
    write_csv(tmp_path / "b" / "train.csv", labelled(3))
    write_csv(tmp_path / "b" / "valid.csv", labelled(3))
    write_csv(tmp_path / "b" / "dev.jsonl", labelled(3))
    with pytest.raises(ValueError, match=r"2 entries for the dev split.*dev\.jsonl.*valid\.csv"):
        load_text_splits(tmp_path / "b")


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"dev_fraction": -0.1}, "Argument `dev_fraction` expected a number in [0, 1)"),
        ({"test_fraction": 1.0}, "Argument `test_fraction` expected a number in [0, 1)"),
        ({"dev_fraction": "0.1"}, "Received: dev_fraction='0.1'"),
        ({"dev_fraction": True}, "Argument `dev_fraction`"),
        ({"dev_fraction": 0.5, "test_fraction": 0.5}, "`dev_fraction` and `test_fraction`"),
        ({"seed": -1}, "Argument `seed` expected a non-negative integer"),
        ({"seed": 1.5}, "Argument `seed`"),
    ],
)
def test_bad_arguments(tmp_path, arguments, message):
    path = write_csv(tmp_path / "all.csv", labelled(10))
    with pytest.raises(ValueError, match=re.escape(message)):
        load_text_splits(path, **arguments)


def test_too_few_examples_to_carve(tmp_path):
    path = write_csv(tmp_path / "all.csv", [("a", "x"), ("b", "y")])
    with pytest.raises(ValueError, match="holds 2 examples, too few to carve"):
        load_text_splits(path)
    splits, record = load_text_splits(path, test_fraction=0.0)
    # One example per class: the one carved into dev goes back to train.
    assert [len(splits[name]) for name in ("train", "dev", "test")] == [2, 0, 0]
    assert any("kept in train instead of dev" in note for note in record["notes"])
    path = write_csv(tmp_path / "same.csv", [("a", "x"), ("b", "x")])
    splits, record = load_text_splits(path, test_fraction=0.0)
    assert [len(splits[name]) for name in ("train", "dev", "test")] == [1, 1, 0]
    assert record["stratified"] is True


def test_reader_errors_pass_through(tmp_path):
    with pytest.raises(ValueError, match="Argument `path` expected an existing"):
        load_text_splits(tmp_path / "missing")
    write(tmp_path / "d" / "train.csv", "text,label\n")
    with pytest.raises(ValueError, match="holds a header"):
        load_text_splits(tmp_path / "d")
