"""read_labelled_texts: each format, configurable columns, skipped rows, and every error."""

import csv
import json
import re

import pytest

from toolkit.data import LabelledTexts
from toolkit.data import read_labelled_texts

# No Keras object is built here: skip the suite's per-test Keras reset.
pytestmark = pytest.mark.no_keras_state


def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def write_jsonl(path, rows):
    return write(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def raises_at(path, line, *fragments):
    """`pytest.raises(ValueError)` whose message starts at `path` (and `line`)."""
    where = f"{path}, line {line}:" if line is not None else f"{path}:"
    pattern = re.escape(where) + ".*" + ".*".join(re.escape(f) for f in fragments)
    return pytest.raises(ValueError, match=re.compile(pattern, re.DOTALL))


# === Formats ===


def test_csv_with_quoted_delimiters_newlines_and_quotes(tmp_path):
    path = tmp_path / "reviews.csv"
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "text", "label"])
        writer.writerow([1, "Great, really great", "pos"])
        writer.writerow([2, 'Line one\nline "two", end', "neg"])
        writer.writerow([3, "tab\there", " pos "])
    examples = read_labelled_texts(path)
    assert examples.texts == ["Great, really great", 'Line one\nline "two", end', "tab\there"]
    assert examples.labels == ["pos", "neg", "pos"]  # label whitespace stripped
    assert examples.source == str(path)
    assert examples.skipped == []
    assert len(examples) == 3
    assert examples.label_counts() == {"neg": 1, "pos": 2}


def test_tsv_with_quoted_tabs_and_newlines(tmp_path):
    path = tmp_path / "data.tsv"
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, delimiter="\t")
        writer.writerow(["label", "text"])
        writer.writerow(["a", "one\ttab"])
        writer.writerow(["b", "two\nlines, and a comma"])
    examples = read_labelled_texts(path)
    assert examples.texts == ["one\ttab", "two\nlines, and a comma"]
    assert examples.labels == ["a", "b"]


def test_jsonl_with_unicode_integer_labels_and_blank_lines(tmp_path):
    path = write(
        tmp_path / "data.jsonl",
        '{"text": "Très bien \\u2603", "label": "pos"}\n'
        "\n"
        '{"text": "日本語\u2028テキスト", "label": 3}\r\n'
        "   \n"
        '{"label": "neg", "text": "emoji 🙂", "extra": [1, 2]}',
    )
    examples = read_labelled_texts(path)
    assert examples.texts == ["Très bien \u2603", "日本語\u2028テキスト", "emoji 🙂"]
    assert examples.labels == ["pos", "3", "neg"]


@pytest.mark.parametrize("suffix", [".ndjson", ".json"])
def test_json_lines_suffixes(tmp_path, suffix):
    path = write_jsonl(tmp_path / f"data{suffix}", [{"text": "x", "label": "a"}])
    assert read_labelled_texts(path).labels == ["a"]


def test_directory_tree_reads_txt_files_in_sorted_order(tmp_path):
    root = tmp_path / "tree"
    write(root / "pos" / "b.txt", "second pos")
    write(root / "pos" / "a.txt", "first pos")
    write(root / "pos" / "nested" / "c.TXT", "nested pos")
    write(root / "neg" / "z.txt", "a neg\nwith two lines\n")
    write(root / "neg" / "notes.md", "not an example")
    write(root / "neg" / ".hidden.txt", "ignored")
    write(root / ".cache" / "x.txt", "ignored")
    write(root / "README.txt", "not in a class folder")
    examples = read_labelled_texts(root)
    assert examples.labels == ["neg", "pos", "pos", "pos"]
    assert examples.texts == ["a neg\nwith two lines\n", "first pos", "second pos", "nested pos"]
    assert examples.skipped == [
        {"file": str(root / "README.txt"), "line": None, "reason": "not inside a class folder"},
        {"file": str(root / "neg" / "notes.md"), "line": None, "reason": "not a .txt file"},
    ]


def test_configurable_columns(tmp_path):
    csv_path = write(tmp_path / "a.csv", "sentence,category\nhello,greeting\n")
    examples = read_labelled_texts(csv_path, text_column="sentence", label_column="category")
    assert (examples.texts, examples.labels) == (["hello"], ["greeting"])
    jsonl_path = write_jsonl(tmp_path / "a.jsonl", [{"body": "bye", "y": "farewell"}])
    examples = read_labelled_texts(jsonl_path, text_column="body", label_column="y")
    assert (examples.texts, examples.labels) == (["bye"], ["farewell"])


def test_explicit_format_and_encoding(tmp_path):
    path = write(tmp_path / "data.txt", "text\tlabel\ncafé\tx\n".encode("latin-1"))
    examples = read_labelled_texts(path, format="tsv", encoding="latin-1")
    assert examples.texts == ["café"]


def test_byte_order_mark_and_header_whitespace(tmp_path):
    path = write(tmp_path / "excel.csv", "\ufefftext , label\r\nhi,a\r\n")
    assert read_labelled_texts(path).texts == ["hi"]


# === Skipped rows ===


def test_empty_rows_are_skipped_and_recorded(tmp_path):
    path = write(
        tmp_path / "d.csv",
        'text,label\nok,a\n"  ",a\nno label,\n" "," "\n"multi\nline",b\n,b\n',
    )
    examples = read_labelled_texts(path)
    assert examples.texts == ["ok", "multi\nline"]
    assert examples.skipped == [
        {"file": str(path), "line": 3, "reason": "empty text"},
        {"file": str(path), "line": 4, "reason": "empty label"},
        {"file": str(path), "line": 5, "reason": "empty text and label"},
        {"file": str(path), "line": 8, "reason": "empty text"},
    ]
    jsonl = write_jsonl(
        tmp_path / "d.jsonl", [{"text": "x", "label": "a"}, {"text": "", "label": 1}]
    )
    assert read_labelled_texts(jsonl).skipped == [
        {"file": str(jsonl), "line": 2, "reason": "empty text"}
    ]
    write(tmp_path / "tree" / "a" / "empty.txt", " \n")
    write(tmp_path / "tree" / "a" / "full.txt", "x")
    tree = read_labelled_texts(tmp_path / "tree")
    assert tree.skipped == [
        {"file": str(tmp_path / "tree" / "a" / "empty.txt"), "line": None, "reason": "empty text"}
    ]


def test_all_rows_skipped_is_an_error(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\n ,a\n")
    with raises_at(path, None, "no usable example", "1 entries were skipped"):
        read_labelled_texts(path)


# === Errors ===


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="Argument `path` expected an existing file.*nope.csv"):
        read_labelled_texts(tmp_path / "nope.csv")


@pytest.mark.parametrize("name", ["empty.csv", "empty.tsv", "empty.jsonl"])
@pytest.mark.parametrize("content", ["", "\n \n"])
def test_empty_file(tmp_path, name, content):
    path = write(tmp_path / name, content)
    with raises_at(path, None, "is empty"):
        read_labelled_texts(path)


def test_header_only(tmp_path):
    path = write(tmp_path / "h.csv", "text,label\n\n")
    with raises_at(path, None, "holds a header (line 1) but no rows", "['text', 'label']"):
        read_labelled_texts(path)


def test_missing_column_lists_the_columns_found(tmp_path):
    path = write(tmp_path / "m.csv", "sentence,label\nhi,a\n")
    with raises_at(path, 1, "no column 'text'", "text_column", "['sentence', 'label']"):
        read_labelled_texts(path)
    with raises_at(path, 1, "no column 'category'", "label_column"):
        read_labelled_texts(path, text_column="sentence", label_column="category")
    jsonl = write_jsonl(tmp_path / "m.jsonl", [{"text": "a", "label": "b"}, {"text": "c"}])
    with raises_at(jsonl, 2, "no key 'label'", "Keys found: ['text']"):
        read_labelled_texts(jsonl)


def test_wrong_field_count_names_the_record_start_line(tmp_path):
    path = write(tmp_path / "f.csv", 'text,label\n"a\nb",x\nunquoted, comma,y\n')
    with raises_at(path, 4, "expected 2 fields", "received 3"):
        read_labelled_texts(path)


def test_unterminated_quote(tmp_path):
    path = write(tmp_path / "q.csv", 'text,label\nok,a\n"never closed,b\nmore,c\n')
    with raises_at(path, 3, "malformed CSV record"):
        read_labelled_texts(path)


def test_malformed_json_names_the_line(tmp_path):
    path = write(
        tmp_path / "bad.jsonl", '{"text": "a", "label": "x"}\n\n{"text": "b", "label": }\n'
    )
    with raises_at(path, 3, "invalid JSON", "column 24", '"label": }'):
        read_labelled_texts(path)
    array = write(tmp_path / "array.json", '[\n  {"text": "a", "label": "x"}\n]\n')
    with raises_at(array, 1, "invalid JSON", "one JSON array"):
        read_labelled_texts(array)


@pytest.mark.parametrize(
    "line, fragment",
    [
        ('["text", "label"]', "a JSON list"),
        ('{"text": 5, "label": "x"}', "text 'text' to be a JSON string. Received: 5"),
        ('{"text": null, "label": "x"}', "Received: None"),
        ('{"text": "a", "label": 1.5}', "JSON string or integer. Received: 1.5"),
        ('{"text": "a", "label": true}', "Received: True"),
        ('{"text": "a", "label": null}', "Received: None"),
    ],
)
def test_json_values_of_the_wrong_type(tmp_path, line, fragment):
    path = write(tmp_path / "t.jsonl", '{"text": "ok", "label": "x"}\n' + line + "\n")
    with raises_at(path, 2, fragment):
        read_labelled_texts(path)


@pytest.mark.parametrize("name", ["bytes.csv", "bytes.jsonl"])
def test_undecodable_bytes_name_the_line(tmp_path, name):
    if name.endswith(".csv"):
        content = b'text,label\r\n"two\nlines",a\nbad \xff byte,b\n'  # \xff: line 4
        line = 4
    else:
        content = b'{"text": "a", "label": "x"}\n\n{"text": "\xff", "label": "y"}\n'
        line = 3
    path = write(tmp_path / name, content)
    with raises_at(path, line, "cannot decode the bytes b'\\xff' as utf-8", "encoding"):
        read_labelled_texts(path)


def test_undecodable_bytes_in_a_tree(tmp_path):
    path = write(tmp_path / "tree" / "a" / "x.txt", b"fine\nfine\n\xc3(\n")
    with raises_at(path, 3, "cannot decode"):
        read_labelled_texts(tmp_path / "tree")


def test_unknown_format_and_suffix(tmp_path):
    path = write(tmp_path / "data.parquet", "x")
    with raises_at(path, None, "cannot tell the format", "'.parquet'", "format"):
        read_labelled_texts(path)
    with pytest.raises(ValueError, match="Argument `format` expected None or one of"):
        read_labelled_texts(path, format="xml")
    with pytest.raises(ValueError, match="`format` is 'directory'.*not a directory"):
        read_labelled_texts(path, format="directory")
    with pytest.raises(ValueError, match="`format` is 'csv'.*is a directory"):
        read_labelled_texts(tmp_path, format="csv")


def test_bad_arguments(tmp_path):
    path = write(tmp_path / "a.csv", "text,label\nx,y\n")
    with pytest.raises(ValueError, match="Argument `encoding` expected a known.*utf-99"):
        read_labelled_texts(path, encoding="utf-99")
    with pytest.raises(ValueError, match="Argument `text_column` expected a non-empty string"):
        read_labelled_texts(path, text_column="")
    with pytest.raises(ValueError, match="two different columns"):
        read_labelled_texts(path, text_column="label")


def test_directory_without_class_folders(tmp_path):
    write(tmp_path / "root" / "reviews.csv", "text,label\nx,y\n")
    with raises_at(tmp_path / "root", None, "holds no class folders", "['reviews.csv']"):
        read_labelled_texts(tmp_path / "root")


def test_labelled_texts_checks_lengths_and_copies():
    texts = ["a", "b"]
    examples = LabelledTexts(texts, ("x", "y"), "src")
    texts.append("c")
    assert examples.texts == ["a", "b"] and examples.labels == ["x", "y"]
    with pytest.raises(ValueError, match="2 texts and 1 labels"):
        LabelledTexts(["a", "b"], ["x"], "src")
